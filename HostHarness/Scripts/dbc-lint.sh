#!/usr/bin/env bash
# Lints the CAN matrix: loads it with cantools in strict mode, then checks the project's DBC
# conventions that cantools does not (can-tooling.md §7.3, §8.3). Prints one OK line, or one
# line per violation (file:line: what) and exits 1.
# Usage: dbc-lint.sh [DBC]   (default Fixtures/bms.dbc, relative to the package root)
#
# cantools lives in a venv under .build-tools/venv, made on first use (CI starts from a fresh
# Debian machine: python3 and python3-venv come from apt-get when missing, cantools from PyPI).
set -euo pipefail
cd "$(dirname "$0")/../.."
DBC="${1:-Fixtures/bms.dbc}"
VENV=.build-tools/venv
CANTOOLS_VERSION=45.1.0   # the version can-tooling.md's findings were checked with

apt_install() {
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "dbc-lint: need root or sudo to install $*" >&2; exit 1; }
        sudo=(sudo)
    fi
    echo "dbc-lint: installing $* with apt-get" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive timeout 900 flock /tmp/apt.lock \
        apt-get -q -y -o DPkg::Lock::Timeout=300 update >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive timeout 900 flock /tmp/apt.lock \
        apt-get -q -y -o DPkg::Lock::Timeout=300 install --no-install-recommends "$@" >&2
}

if ! "$VENV/bin/python" -c "import cantools; assert cantools.__version__ == '$CANTOOLS_VERSION'" >/dev/null 2>&1; then
    echo "dbc-lint: setting up $VENV (cantools $CANTOOLS_VERSION from PyPI)" >&2
    command -v python3 >/dev/null || apt_install python3 python3-venv
    rm -rf "$VENV"
    # Debian's python3 has no ensurepip without python3-venv: `-m venv` fails, so install it.
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        rm -rf "$VENV"
        apt_install python3-venv
        python3 -m venv "$VENV" >&2
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "cantools==$CANTOOLS_VERSION" >&2
fi

exec "$VENV/bin/python" - "$DBC" <<'PY'
import re
import sys

import cantools

path = sys.argv[1]
text = open(path, encoding="utf-8").read()
lines = text.split("\n")
problems = []


def line_of(pattern, after=0):
    """1-based number of the first line at or after `after` (0-based) matching `pattern`."""
    rx = re.compile(pattern)
    for i in range(after, len(lines)):
        if rx.search(lines[i]):
            return i + 1
    return None


def message_line(m):
    raw_id = m.frame_id | (0x80000000 if m.is_extended_frame else 0)
    return line_of(r"^BO_\s+%d\s" % raw_id)


def signal_line(m, s):
    start = message_line(m)
    found = line_of(r"^\s*SG_\s+%s\s" % re.escape(s.name), start or 0) if start else None
    return found or start


def report(line, what):
    problems.append("%s:%s: %s" % (path, line if line is not None else "?", what))


try:
    db = cantools.database.load_file(path, strict=True)
except Exception as error:  # cantools raises several types; all mean "does not load strictly"
    print("dbc-lint: %s: cantools strict mode refuses it: %s" % (path, error))
    sys.exit(1)

definitions = db.dbc.attribute_definitions


def attribute(obj, name):
    """(present explicitly, value): an ENUM's index is turned into its label; default if absent."""
    attrs = obj.dbc.attributes if obj.dbc is not None else {}
    definition = definitions.get(name)
    if name in attrs:
        value = attrs[name].value
        present = True
    elif definition is not None:
        value, present = definition.default_value, False
    else:
        return False, None
    if definition is not None and definition.type_name == "ENUM" and isinstance(value, int):
        value = definition.choices[value]
    return present, value


nodes = {n.name for n in db.nodes}
fd_lengths = {0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64}

# 1. No duplicate identifiers or names (cantools only warns about ids).
seen_ids, seen_names = {}, {}
for m in db.messages:
    key = (m.frame_id, m.is_extended_frame)
    if key in seen_ids:
        report(message_line(m), "%s: duplicate frame id 0x%X (also %s)" % (m.name, m.frame_id, seen_ids[key]))
    seen_ids[key] = m.name
    if m.name in seen_names:
        report(message_line(m), "%s: duplicate message name" % m.name)
    seen_names[m.name] = True

# 2. FD messages: the attributes that say so, and FD lengths.
if any(m.is_fd for m in db.messages):
    for name in ("BusType", "VFrameFormat", "CANFD_BRS"):
        if name not in definitions:
            report(None, "CAN FD messages but no BA_DEF_ for %s" % name)
    if "VFrameFormat" in definitions and definitions["VFrameFormat"].default_value is None:
        report(None, "VFrameFormat has no BA_DEF_DEF_")

byte_orders = {}
signal_count = 0
for m in db.messages:
    mline = message_line(m)
    # 6. Names at most 32 characters (CANdb++ short names).
    if len(m.name) > 32:
        report(mline, "%s: message name is %d characters (at most 32)" % (m.name, len(m.name)))
    # 3. A transmitter that is a node.
    if not m.senders:
        report(mline, "%s: no transmitter" % m.name)
    for sender in m.senders:
        if sender not in nodes:
            report(mline, "%s: transmitter %s is not a node in BU_" % (m.name, sender))
    # 3. GenMsgCycleTime set; 0 only for event messages.
    present, cycle = attribute(m, "GenMsgCycleTime")
    _, send_type = attribute(m, "GenMsgSendType")
    if not present:
        report(mline, "%s: no GenMsgCycleTime" % m.name)
    elif cycle == 0 and send_type != "OnEvent":
        report(mline, "%s: GenMsgCycleTime 0 needs GenMsgSendType OnEvent (it is %s)" % (m.name, send_type))
    elif cycle != 0 and send_type == "OnEvent":
        report(mline, "%s: GenMsgSendType OnEvent with GenMsgCycleTime %s" % (m.name, cycle))
    # 2. Lengths.
    if m.is_fd and m.length not in fd_lengths:
        report(mline, "%s: length %d is not a CAN FD length" % (m.name, m.length))
    if not m.is_fd and m.length > 8:
        report(mline, "%s: classic frame of %d bytes (at most 8)" % (m.name, m.length))
    # 9. E2E: *_CRC / *_Counter signals in the profile's layout (§8.3), Data ID set.
    _, profile = attribute(m, "E2E_Profile")
    crc = [s for s in m.signals if s.name.endswith("_CRC")]
    counter = [s for s in m.signals if s.name.endswith("_Counter")]
    if profile in ("P01", "P05"):
        crc_layout, counter_layout = ((0, 8), (8, 4)) if profile == "P01" else ((0, 16), (16, 8))
        for kind, found, layout in (("CRC", crc, crc_layout), ("Counter", counter, counter_layout)):
            if len(found) != 1:
                report(mline, "%s: E2E %s needs exactly one *_%s signal (has %d)" % (m.name, profile, kind, len(found)))
            elif (found[0].start, found[0].length) != layout or found[0].is_signed or found[0].byte_order != "little_endian":
                report(signal_line(m, found[0]), "%s.%s: E2E %s puts the %s at %d|%d@1+, not %d|%d@%s%s" % (
                    m.name, found[0].name, profile, kind, layout[0], layout[1], found[0].start, found[0].length,
                    "1" if found[0].byte_order == "little_endian" else "0", "-" if found[0].is_signed else "+"))
        if profile == "P01" and (m.length != 8 or m.is_fd):
            report(mline, "%s: E2E P01 is for 8-byte classic frames" % m.name)
        if not attribute(m, "E2E_DataID")[0]:
            report(mline, "%s: E2E %s without E2E_DataID" % (m.name, profile))
    elif crc or counter:
        report(mline, "%s: *_CRC/*_Counter signals without an E2E_Profile" % m.name)
    e2e_names = {s.name for s in crc + counter} if profile in ("P01", "P05") else set()

    for s in m.signals:
        signal_count += 1
        sline = signal_line(m, s)
        where = "%s.%s" % (m.name, s.name)
        byte_orders.setdefault(s.byte_order, where)
        if len(s.name) > 32:
            report(sline, "%s: signal name is %d characters (at most 32)" % (where, len(s.name)))
        unit = s.unit or ""
        if unit and not all(32 <= ord(c) < 127 for c in unit):
            report(sline, "%s: unit %r is not plain ASCII" % (where, unit))
        # Every signal has a unit or a value table; the E2E fields and the multiplexer switch are
        # protocol fields and need neither.
        if not unit and not s.choices and s.name not in e2e_names and not s.is_multiplexer:
            report(sline, "%s: neither a unit nor a value table (VAL_)" % where)
        # 4. [min|max] representable by the raw field.
        raw_min = -(1 << (s.length - 1)) if s.is_signed else 0
        raw_max = (1 << (s.length - 1)) - 1 if s.is_signed else (1 << s.length) - 1
        ends = sorted((raw_min * s.scale + s.offset, raw_max * s.scale + s.offset))
        tolerance = abs(s.scale) * 1e-6
        if s.minimum is not None and s.maximum is not None and (s.minimum < ends[0] - tolerance or s.maximum > ends[1] + tolerance):
            report(sline, "%s: [%s|%s] does not fit %d-bit %s raw values (%s...%s)" % (
                where, s.minimum, s.maximum, s.length, "signed" if s.is_signed else "unsigned", ends[0], ends[1]))
        # 5. A measured signal (one with a unit) has SNA at the top raw value and starts there.
        if unit:
            if (s.minimum, s.maximum) in ((None, None), (0, 0)):
                report(sline, "%s: measured signal without [min|max]" % where)
            choices = {int(k): str(v) for k, v in (s.choices or {}).items()}
            if choices.get(raw_max) != "SNA":
                report(sline, "%s: measured signal without VAL_ %d \"SNA\" (its top raw value)" % (where, raw_max))
            present, start = attribute(s, "GenSigStartValue")
            if not present:
                report(sline, "%s: measured signal without GenSigStartValue (should be SNA, %d)" % (where, raw_max))
            elif start != raw_max:
                report(sline, "%s: GenSigStartValue %s is not SNA (%d)" % (where, start, raw_max))

# 7. One byte order in the file.
if len(byte_orders) > 1:
    report(None, "mixed byte orders: %s" % ", ".join("%s (first %s)" % kv for kv in sorted(byte_orders.items())))

# 8. Comments on one line (SavvyCAN's loader drops multi-line ones).
for i, line in enumerate(lines):
    if line.startswith("CM_") and not line.rstrip().endswith(";"):
        report(i + 1, "comment spans lines (keep CM_ ... \"...\"; on one line)")

if problems:
    for p in problems:
        print(p)
    print("dbc-lint: %s: %d violation%s (%d messages, %d signals, cantools strict)" % (
        path, len(problems), "" if len(problems) == 1 else "s", len(db.messages), signal_count))
    sys.exit(1)
print("dbc-lint: %s OK (%d messages, %d signals, cantools strict)" % (path, len(db.messages), signal_count))
PY
