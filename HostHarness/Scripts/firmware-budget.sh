#!/usr/bin/env bash
# The Cortex-M4F image's resource budget (make firmware-budget; Docs/firmware-budget.md).
#
# Prints, one per line as name=value: flash_bytes (vectors + text + rodata + exidx + .data's
# initial values), ram_bytes (.data + .bss), stack_bytes (the stack's peak over the whole run,
# painted and scanned on the chip by startup.c), insns_per_tick_avg and insns_per_tick_worst
# (guest instructions of ControlLoop.tick counted exactly under QEMU by the TCG plugin; the worst
# over every tick but the first, whose estimator start-up is reported apart), then details.
# Fails when a figure exceeds the issue's targets, or grows by more than 10 % over BASELINE
# (update the baseline in the same change when the growth is meant: --update). With
# --report-targets a missed target is printed (MISS) but only the baseline check fails the run
# (to measure another build; `make test` runs the full check).
#
# Usage: firmware-budget.sh ELF PLUGIN OBJDUMP NM BASELINE TICKS [--update | --report-targets]
set -euo pipefail
elf=$1 plugin=$2 objdump=$3 nm=$4 baseline=$5 ticks=$6 update=${7:-}
work=$(dirname "$elf")/budget
mkdir -p "$work"

# Flash and RAM from the section headers; apart, the non-volatile store's pages (.flash_emulation:
# flash sectors set aside for data on a real board, NOLOAD here; neither code flash nor RAM).
read -r flash ram store < <("$objdump" --section-headers "$elf" | awk '
  function hex(s,   i, n) { n = 0; for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; return n }
  $2 ~ /^\.(isr_vector|text|rodata|ARM\.exidx|data)$/ { flash += hex($3) }
  $2 ~ /^\.(data|bss)$/ { ram += hex($3) }
  $2 == ".flash_emulation" { store += hex($3) }
  END { print flash + 0, ram + 0, store + 0 }')

# The tick markers the bench calls around ControlLoop.tick.
begin=$("$nm" "$elf" | awk '$3 == "bms_tick_begin" { print $1 }')
end=$("$nm" "$elf" | awk '$3 == "bms_tick_end" { print $1 }')
[ -n "$begin" ] && [ -n "$end" ] || { echo "firmware-budget: no bms_tick_begin/bms_tick_end in $elf" >&2; exit 1; }

# One run: the bench for TICKS ms under QEMU with the counting plugin (-icount shift=0 keeps
# emulated time deterministic); the image's exit status says whether the bench passed.
status=0
timeout 600 qemu-system-arm -M mps2-an386 -cpu cortex-m4 -display none -monitor none -serial none -icount shift=0 \
  -chardev stdio,id=semihosting -semihosting-config enable=on,target=native,chardev=semihosting \
  -plugin "$plugin,begin=0x$begin,end=0x$end,outfile=$work/insns.txt" \
  -kernel "$elf" -append "$ticks" > "$work/run.txt" || status=$?
if [ "$status" != 0 ]; then
  cat "$work/run.txt"
  echo "firmware-budget: the image failed its bench run (exit status $status)" >&2
  exit 1
fi
value() { awk -F= -v k="$1" '$1 == k { print $2 }' "$2"; }
stack=$(value stack_peak_bytes "$work/run.txt")
counted=$(value ticks "$work/insns.txt")
[ "$counted" = "$ticks" ] || { echo "firmware-budget: the plugin counted $counted ticks of $ticks" >&2; exit 1; }
sum=$(value tick_insns_sum "$work/insns.txt")
avg=$(( (sum + ticks / 2) / ticks ))
worst=$(value tick_insns_worst "$work/insns.txt")

{
  echo "flash_bytes=$flash"
  echo "ram_bytes=$ram"
  echo "stack_bytes=$stack"
  echo "insns_per_tick_avg=$avg"
  echo "insns_per_tick_worst=$worst"
} > "$work/figures.txt"
cat "$work/figures.txt"
# Not a budget figure (flash set aside for data, outside flash_bytes and ram_bytes): reported apart.
echo "store_bytes=$store"
# Details: which tick was the worst, the first tick, and the mean per slot class (a tick of class
# 10ms runs the 1 ms and 10 ms slots, and so on; 1s: every slot).
echo "  worst tick: $(value tick_insns_worst_index "$work/insns.txt") (0-based; the 1 s slot runs on multiples of 1000)"
echo "  first tick (estimator start-up, every slot): $(value tick_insns_first "$work/insns.txt")"
echo "  store: $(value store_records_written "$work/run.txt") records, $(value store_words_written "$work/run.txt") words written (last checkpoint reason $(value last_checkpoint_reason "$work/run.txt"))"
for c in 1ms 10ms 100ms 1s; do
  n=$(value "slots_${c}_ticks" "$work/insns.txt"); s=$(value "slots_${c}_sum" "$work/insns.txt")
  echo "  ticks of class $c: $n, mean $(( n > 0 ? (s + n / 2) / n : 0 )), max $(value "slots_${c}_max" "$work/insns.txt")"
done

if [ "$update" = --update ]; then
  { echo "# make firmware-budget figures (Docs/firmware-budget.md): a figure may grow by at most 10 %"
    echo "# over this baseline unless the baseline is updated in the same change (make firmware-budget-baseline)."
    cat "$work/figures.txt"; } > "$baseline"
  echo "firmware-budget: baseline written to $baseline"
  exit 0
fi

# The issue's targets (16-cell pack, every feature) and the baseline.
failed=0
check_target() {   # name value limit
  [ "$2" -gt "$3" ] || return 0
  if [ "$update" = --report-targets ]; then echo "MISS: $1=$2 exceeds the target $3 (by $(( $2 - $3 )))"
  else echo "FAIL: $1=$2 exceeds the target $3 (by $(( $2 - $3 )))"; failed=1; fi
}
check_target flash_bytes "$flash" 65536
check_target ram_bytes "$ram" 16384
check_target stack_bytes "$stack" 4096
check_target insns_per_tick_avg "$avg" 3000
check_target insns_per_tick_worst "$worst" 30000
[ -f "$baseline" ] || { echo "FAIL: no baseline $baseline (make firmware-budget-baseline)"; exit 1; }
while IFS== read -r name now; do
  was=$(awk -F= -v k="$name" '$1 == k { print $2 }' "$baseline")
  if [ -z "$was" ]; then echo "FAIL: $name is not in $baseline"; failed=1; continue; fi
  # More than 10 % above the baseline: now * 10 > was * 11.
  if [ $(( now * 10 )) -gt $(( was * 11 )) ]; then
    echo "FAIL: $name=$now grew by more than 10 % over the baseline $was (update $baseline in the same change if that is meant)"
    failed=1
  fi
done < "$work/figures.txt"
if [ "$failed" = 0 ]; then
  if [ "$update" = --report-targets ]; then echo "firmware budget: no figure grew over the baseline $baseline"
  else echo "firmware budget OK (targets and baseline $baseline)"; fi
fi
exit "$failed"
