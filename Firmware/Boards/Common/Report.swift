// Prints a bench summary as `key=value` lines (Output.swift).
import Firmware

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
    keyValue("can_frames_sent", s.framesSent)
    keyValue("can_checksum", s.framesChecksum)
    keyValue("store_records_written", s.storeRecordsWritten)
    keyValue("store_words_written", s.storeWordsWritten)
    keyValue("last_checkpoint_reason", s.lastCheckpointReason)
    // The loop's whole state (measurements, estimators, supervision) plus the bench board's, in
    // static storage (StaticLoop.swift).
    keyValue("loop_state_bytes", MemoryLayout<ControlLoop<BenchBoard>>.size)
    keyValue("bench_board_bytes", MemoryLayout<BenchBoard>.size)
}
