// Entry point of the Cortex-M4F scenario image (`make scenario`), called from startup.c: the
// on-chip scenario (Common/Scenario.swift), its digest and final state over semihosting; the
// return value (0: it ended as it must) becomes QEMU's exit status. A separate image, so that
// the bench image `make firmware-budget` measures holds one loop, not two. The store startup.c
// hands over is not used: the scenario has its own (too small for checkpoints, as the scenario
// was recorded).

@c(bms_main)
func bmsMain(_ argument: UInt32, _ store: UnsafeMutablePointer<UInt32>, _ storeWords: UInt32) -> Int32 {
    guard let result = runScenario() else { return 2 }
    report(result)
    return result.passed ? 0 : 1
}
