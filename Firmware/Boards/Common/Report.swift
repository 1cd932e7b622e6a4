// Prints a bench summary as `key=value` lines with StaticString and integers only (no String,
// no heap), for the Embedded host executable and the bare-metal image alike.
import Firmware

func keyValue<T: FixedWidthInteger>(_ key: StaticString, _ value: T) {
    print(key, terminator: "=")
    print(value)
}

func report(_ s: BenchSummary) {
    keyValue("ticks", s.ticks)
    keyValue("min_cell_mV", s.minimumCell)
    keyValue("min_cell_index", s.minimumCellIndex)
    keyValue("max_cell_mV", s.maximumCell)
    keyValue("max_cell_index", s.maximumCellIndex)
    keyValue("soc_true_permille", s.socPermilleTrue)
    keyValue("soc_est_permille", s.socPermilleEstimated)
    keyValue("watchdog_feeds", s.watchdogFeeds)
    keyValue("overruns", s.overruns)
    keyValue("missed_ticks", s.missedTicks)
    keyValue("connected_drive", s.connected)
    keyValue("latched_faults", s.latchedFaults)
    keyValue("discharge_limit_2s_mA", s.dischargeLimit)
    // The loop's whole state (measurements, estimators, supervision) plus the bench board's;
    // this image keeps it on the stack, so it is not in the ELF's static RAM figure.
    keyValue("loop_state_bytes", MemoryLayout<ControlLoop<BenchBoard>>.size)
    keyValue("bench_board_bytes", MemoryLayout<BenchBoard>.size)
}
