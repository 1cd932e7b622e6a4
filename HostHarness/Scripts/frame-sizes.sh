#!/bin/sh
# Stack frame of every function in an ARM Thumb-2 object or image, largest first: the bytes its
# prologue reserves (push ×4, vpush ×8, sub sp by immediates or by a movw/movt constant).
# A function's frame is what it adds to the stack on top of its callers'.
#   frame-sizes.sh OBJDUMP FILE [COUNT]     e.g. frame-sizes.sh llvm-objdump firmware.o 20
set -eu
objdump=$1 file=$2 count=${3:-25}
demangle=$(dirname "$objdump")/swift-demangle
[ -x "$demangle" ] || demangle=cat
"$objdump" -d --no-show-raw-insn "$file" | awk '
  function flush() { if (name != "") printf "%7d  %s\n", frame, name }
  function regs(s,   n, i, parts, r) {            # "{r4, r5-r7, lr}" -> register count
    gsub(/[{}]/, "", s); n = 0
    split(s, parts, /, */)
    for (i in parts) {
      r = parts[i]
      if (r ~ /-/) { split(r, ab, "-"); gsub(/[^0-9]/, "", ab[1]); gsub(/[^0-9]/, "", ab[2]); n += ab[2] - ab[1] + 1 }
      else n++
    }
    return n
  }
  function imm(s,   i, n) {                       # "#0x5380" or "#12" -> number
    sub(/^#/, "", s)
    if (s !~ /^0x/) return s + 0
    n = 0
    for (i = 3; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
    return n
  }
  /^[0-9a-f]+ <.*>:$/ { flush(); name = $2; gsub(/^<|>:$/, "", name); frame = 0; line = 0; delete k; next }
  name == "" { next }
  { line++ }
  line > 24 { next }
  $2 ~ /^push/  { frame += 4 * regs(substr($0, index($0, "{"))) }
  $2 ~ /^vpush/ { frame += 8 * regs(substr($0, index($0, "{"))) }
  $2 ~ /^movw/  { r = $3; sub(/,$/, "", r); k[r] = imm($4) }
  $2 ~ /^movt/  { r = $3; sub(/,$/, "", r); k[r] += imm($4) * 65536 }
  $2 ~ /^sub/ && $3 ~ /^sp,/ {
    last = $NF
    if (last ~ /^#/) frame += imm(last)
    else if (last in k) frame += k[last]
  }
  END { flush() }
' | sort -rn | head -n "$count" | "$demangle" --simplified 2>/dev/null || true
