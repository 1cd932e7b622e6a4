#!/bin/sh
# Prints the state estimator's cost in instructions (callgrind) on the Embedded x86_64 image:
# per 10 ms call of PackStateEstimator.update (a tenth of the elements), per filter step, and per
# 1 ms tick on average, next to the whole tick's. (An element's whole turn is inlined into
# `update`, so it has no figure of its own.) A benchmark, not a test.  Usage: estimator-cost.sh IMAGE TICKS
set -eu
image=$1
ticks=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" "$image" "$ticks" > /dev/null 2>&1
callgrind_annotate --inclusive=yes "$out" 2>/dev/null | awk -v ticks="$ticks" '
  function n(s) { gsub(",", "", s); return s + 0 }
  /ControlLoopV4tick3now/                         { tick = n($1) }
  /PackStateEstimatorV6update12measurements/      { update = n($1) }
  /CellEstimatorV4step7current/                   { step = n($1) }
  END {
    calls = ticks / 10; turns = ticks / 100 * 16      # every 10 ms; 16 elements every 100 ms
    printf "bench: %d ticks of 1 ms, 16 elements (Embedded x86_64 image, instructions from callgrind)\n", ticks
    printf "  whole tick (average)              %8.0f instructions\n", tick / ticks
    printf "  estimation per tick (average)     %8.0f\n", update / ticks
    printf "  estimation per 10 ms call         %8.0f  (1.6 elements on average, at most 2)\n", update / calls
    printf "  per filter step                   %8.0f\n", step / turns
  }'
