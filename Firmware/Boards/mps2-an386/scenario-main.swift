// Entry point of the Cortex-M4F scenario image (`make scenario`), called from startup.c: the
// on-chip scenario (Common/Scenario.swift), its digest and final state over semihosting; the
// return value (0: it ended as it must) becomes QEMU's exit status. A separate image, so that
// the bench image `make firmware-budget` measures holds one loop, not two.

@c(bms_main)
func bmsMain(_ argument: UInt32) -> Int32 {
    guard let result = runScenario() else { return 2 }
    report(result)
    return result.passed ? 0 : 1
}
