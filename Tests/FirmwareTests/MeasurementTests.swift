// Validation of every reading: plausibility, channel faults, failed reads, staleness.
import Firmware
import HAL
import Testing

@Suite struct MeasurementTests {
    static func harness(_ volts: [Int32] = [3_700, 3_700, 3_700, 3_700]) throws -> LoopHarness {
        try LoopHarness(board: TestBoard(cellVoltages: volts))
    }

    @Test(arguments: [(499, ReadingStatus.implausible), (500, .valid), (5_000, .valid), (5_001, .implausible)] as [(Int32, ReadingStatus)])
    func plausibilityBoundaries(millivolts: Int32, status: ReadingStatus) throws {
        var h = try Self.harness([3_700, millivolts, 3_700, 3_700])
        h.tick()
        #expect(h.loop.measurements.cells.cellVoltages[1].status == status)
        #expect(h.loop.cellStatistics?.validCount == (status == .valid ? 4 : 3))
    }

    @Test func channelFaultsFromTheFrontEndAreKeptAndExcluded() throws {
        var h = try Self.harness()
        h.loop.board.cellMonitor.channelStatus = [2: .openWire]
        h.tick()
        #expect(h.loop.measurements.cells.cellVoltages[2].status == .openWire)
        #expect(h.loop.cellStatistics?.invalidCount == 1)
    }

    @Test func aFailedReadHoldsTheLastGoodValueUntilTheTimeoutThenGoesStale() throws {
        var h = try Self.harness([3_700, 3_710, 3_720, 3_730])
        h.tick()                                              // t = 1 ms, good
        h.loop.board.cellMonitor.failure = TestFailure(kind: .checksum)
        h.loop.board.cellMonitor.cellVoltages[0] = Millivolts(4_000)   // not delivered
        for _ in 0..<100 { h.tick() }                         // t = 101 ms: age exactly 100 ms
        #expect(h.loop.measurements.cells.cellVoltages[0] == Reading(Millivolts(3_700)))
        #expect(h.loop.cellStatistics?.validCount == 4)
        h.tick()                                              // t = 102 ms: older than the timeout
        #expect(h.loop.measurements.cells.cellVoltages[0].status == .stale)
        #expect(h.loop.cellStatistics == nil)
        #expect(h.loop.measurements.cellMonitorFailures.count == 101)
        #expect(h.loop.measurements.cellMonitorFailures.lastKind == .checksum)
        h.loop.board.cellMonitor.failure = nil                // recovers at once
        h.tick()
        #expect(h.loop.measurements.cells.cellVoltages[0] == Reading(Millivolts(4_000)))
    }

    @Test func anUnmeasuredChannelGoesStaleAlone() throws {
        var h = try Self.harness()
        h.tick()
        h.loop.board.cellMonitor.cellVoltages[3] = nil
        for _ in 0..<101 { h.tick() }
        #expect(h.loop.measurements.cells.cellVoltages[3].status == .stale)
        #expect(h.loop.cellStatistics?.validCount == 3)
        #expect(h.loop.measurements.cellMonitorFailures.count == 0)
    }

    @Test func aChannelNeverMeasuredIsNotValid() throws {
        var h = try Self.harness([3_700, 3_700, 3_700])   // the configuration has 4 cells
        h.tick()
        #expect(h.loop.measurements.cells.cellVoltages[3].status == .notMeasured)
    }

    @Test func currentSensorFailureStopsCountingAfterTheTimeout() throws {
        var h = try Self.harness()
        h.loop.board.currentSensor.current = Milliamperes(-1_000)
        h.tick()
        h.loop.board.currentSensor.failure = TestFailure(kind: .timeout)
        for _ in 0..<150 { h.tick() }
        // The held -1 A is counted for 100 ms after the last good sample, then nothing.
        #expect(h.loop.measurements.pack.current.status == .stale)
        #expect(h.loop.coulombCounter.netChargeNanocoulombs == -100_000_000)
        #expect(h.loop.measurements.currentSensorFailures.lastKind == .timeout)
        #expect(h.loop.coulombCounter.uncountedTime == .milliseconds(50))
    }

    @Test func implausibleCurrentIsNotCounted() throws {
        var h = try Self.harness()
        h.loop.board.currentSensor.current = Milliamperes(-500_001)
        for _ in 0..<10 { h.tick() }
        #expect(h.loop.measurements.pack.current.status == .implausible)
        #expect(h.loop.coulombCounter.netChargeNanocoulombs == 0)
    }
}
