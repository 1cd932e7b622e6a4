#!/usr/bin/env bash
# Proves that the Embedded build rejects heap allocation in Firmware: copies the Firmware
# sources, adds one function that appends to an Array, and expects the -no-allocations
# module build to fail with "cannot use allocating type". Exit 0 = the guard works.
# Usage: prove-no-allocations.sh SWIFTC "EMBEDDED FLAGS" HAL_MODULE_DIR WORK_DIR
set -euo pipefail
swiftc=$1; flags=$2; hal_dir=$3; work=$4
rm -rf "$work" && mkdir -p "$work/src"
find Firmware -name '*.swift' -not -path 'Firmware/Boards/*' -exec cp {} "$work/src/" \;
cat > "$work/src/InjectedAllocation.swift" <<'SWIFT'
import HAL
extension TimingSupervisor {
    /// Injected by prove-no-allocations.sh: keeps a growing history of tick times.
    public mutating func injectedHistory(now: Instant) -> Int {
        var history: [Instant] = []
        history.append(now)
        return history.count
    }
}
SWIFT
# shellcheck disable=SC2086
if "$swiftc" $flags -parse-as-library -I "$hal_dir" -module-name Firmware "$work"/src/*.swift \
     -emit-module -emit-module-path "$work/Firmware.swiftmodule" > "$work/log" 2>&1; then
    echo "FAIL: an allocating function compiled in Embedded mode; -no-allocations is not in effect" >&2
    exit 1
fi
if ! grep -q "cannot use allocating type" "$work/log"; then
    echo "FAIL: the build failed, but not because of the allocation:" >&2
    cat "$work/log" >&2
    exit 1
fi
echo "no-allocation guard OK: an injected Array in Firmware is rejected:"
grep -m1 -E "InjectedAllocation.swift:[0-9]+:[0-9]+: error: cannot use allocating type" "$work/log" \
    || grep -m1 "error: cannot use allocating type" "$work/log"
