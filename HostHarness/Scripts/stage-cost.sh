#!/usr/bin/env bash
# What one firmware feature costs on the Cortex-M4F (make stage-cost; Docs/early-warning.md):
# runs the budget's bench (60,000 ticks) under QEMU with the counting plugin's per-address
# profile, maps the addresses to the ELF's functions and prints the instructions spent in the
# functions whose demangled names match PATTERN — in total, per second of the bench and per
# tick on average — with the ten largest contributors.
# Use: stage-cost.sh ELF PLUGIN NM DEMANGLE TICKS PATTERN
set -euo pipefail
elf=$1 plugin=$2 nm=$3 demangle=$4 ticks=$5 pattern=$6
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
begin=$("$nm" "$elf" | awk '$3 == "bms_tick_begin" { print $1 }')
end=$("$nm" "$elf" | awk '$3 == "bms_tick_end" { print $1 }')
timeout 600 qemu-system-arm -M mps2-an386 -cpu cortex-m4 -display none -monitor none -serial none -icount shift=0 \
  -chardev stdio,id=semihosting -semihosting-config enable=on,target=native,chardev=semihosting \
  -plugin "$plugin,begin=0x$begin,end=0x$end,outfile=$work/insns.txt,profile=$work/profile.txt" \
  -kernel "$elf" -append "$ticks" > "$work/run.txt"
"$nm" --print-size --radix=x "$elf" | awk 'NF == 4 && ($3 == "t" || $3 == "T") { print $1, $2, $4 }' | sort > "$work/syms.txt"
awk '{ print $3 }' "$work/syms.txt" | "$demangle" --simplified > "$work/names.txt"
paste -d' ' <(awk '{ print $1, $2 }' "$work/syms.txt") "$work/names.txt" > "$work/table.txt"
awk -v ticks="$ticks" -v pattern="$pattern" '
  function hex(s,   i, c, v) { v = 0; s = tolower(s); for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; v = v * 16 + c }; return v }
  NR == FNR { n++; start[n] = hex($1); start[n] -= start[n] % 2; size[n] = hex($2); $1 = ""; $2 = ""; name[n] = substr($0, 3); next }
  NF == 2 {
    a = hex($1); lo = 1; hi = n
    while (lo < hi) { mid = int((lo + hi + 1) / 2); if (start[mid] <= a) lo = mid; else hi = mid - 1 }
    if (start[lo] <= a && a < start[lo] + size[lo] && name[lo] ~ pattern) { spent[name[lo]] += $2; total += $2 }
  }
  END {
    seconds = ticks / 1000
    printf "stage_insns_total=%d\nstage_insns_per_second=%.0f\nstage_insns_per_tick_avg=%.1f\n", total, total / seconds, total / ticks
    for (k in spent) printf "  %10d  %8.0f per second  %s\n", spent[k], spent[k] / seconds, k | "sort -rn | head -10"
  }' "$work/table.txt" "$work/profile.txt"
