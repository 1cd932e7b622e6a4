// Entry point of the Embedded Swift build for the Linux host (x86_64): the same firmware modules
// and flags as the microcontroller image, linked against libc only. `CommandLine` does not exist
// in Embedded Swift, so this is C's `main`:  firmware-host [TICKS] (0: the on-chip scenario)

@c(main)
func hostMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    var ticks: UInt32 = 60_000
    if argc > 1, var p = argv[1] {
        ticks = 0
        while p.pointee >= 48 && p.pointee <= 57 {   // '0'...'9'
            ticks = ticks &* 10 &+ UInt32(p.pointee - 48)
            p += 1
        }
    }
    if ticks == 0 {                                  // 0: the on-chip scenario (Scenario.swift)
        guard let result = runScenario() else {
            print("scenario configuration rejected")
            return 2
        }
        report(result)
        return result.passed ? 0 : 1
    }
    guard let summary = runBench(ticks: ticks) else {
        print("bench configuration rejected")
        return 2
    }
    report(summary)
    return summary.passed(ticks: ticks) ? 0 : 1
}
