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
    let stored = withUnsafeMutablePointer(to: &hostStore) {
        UnsafeMutableRawPointer($0).bindMemory(to: UInt32.self, capacity: BenchStore.words)
    }
    guard let summary = runBench(ticks: ticks, store: stored, storeWords: BenchStore.words) else {
        print("bench configuration rejected")
        return 2
    }
    report(summary)
    return summary.passed(ticks: ticks) ? 0 : 1
}

/// The bench's store on the host (the M4F image keeps it in link.ld's `.flash_emulation`).
nonisolated(unsafe) var hostStore = InlineArray<1024, UInt32>(repeating: 0xFFFF_FFFF)
