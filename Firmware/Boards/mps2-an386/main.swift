// Entry point of the Cortex-M4F image for QEMU's mps2-an386 board, called from startup.c.
// Runs the bench for the number of ticks given on the semihosting command line, with its store in
// the `.flash_emulation` section startup.c hands over, and prints the summary over semihosting;
// the return value becomes QEMU's exit status.

@c(bms_main)
func bmsMain(_ ticks: UInt32, _ store: UnsafeMutablePointer<UInt32>, _ storeWords: UInt32) -> Int32 {
    guard let summary = runBench(ticks: ticks, store: store, storeWords: Int(storeWords)) else { return 2 }
    report(summary)
    return summary.passed(ticks: ticks) ? 0 : 1
}
