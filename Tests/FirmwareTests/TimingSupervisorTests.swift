// The loop's own timing: missed ticks, overruns, a clock that does not advance.
import Firmware
import HAL
import Testing

@Suite struct TimingSupervisorTests {
    static func harness() throws -> LoopHarness { try LoopHarness(board: TestBoard(cellVoltages: [3_700, 3_700, 3_700, 3_700])) }

    @Test(arguments: [(1_000, 0), (1_499, 0), (1_500, 1), (3_000, 2), (10_000, 9)] as [(Int32, UInt64)])
    func missedTicksFromTheGapBetweenTickStarts(gapMicroseconds: Int32, missed: UInt64) throws {
        var h = try Self.harness()
        h.tick()
        h.tick(after: .microseconds(gapMicroseconds))
        #expect(h.loop.timing.missedTicks == missed)
    }

    @Test(arguments: [(1_000, 0), (1_001, 1)] as [(Int32, UInt64)])
    func anOverrunIsATickLongerThanOnePeriod(executionMicroseconds: Int32, overruns: UInt64) throws {
        var h = try Self.harness()
        h.loop.board.executionTime = .microseconds(executionMicroseconds)
        h.tick()
        #expect(h.loop.timing.overruns == overruns)
        #expect(h.loop.timing.longestTick == .microseconds(executionMicroseconds))
        #expect(h.loop.board.watchdog.feeds == 1)   // an overrun tick still completed
    }

    @Test func aClockThatDoesNotAdvanceIsAFaultAndIntegratesNothing() throws {
        var h = try Self.harness()
        h.loop.board.currentSensor.current = Milliamperes(5_000)
        h.tick()
        h.tick(after: .zero)
        h.tick(after: Microseconds(-500))
        #expect(h.loop.timing.clockFaults == 2)
        #expect(h.loop.coulombCounter.netChargeNanocoulombs == 0)
        h.tick(after: .microseconds(1_500))     // 1 ms after the last good tick start
        #expect(h.loop.coulombCounter.netChargeNanocoulombs == 5_000_000)
    }

    @Test func theOneSecondWindowReportsItsLongestTick() throws {
        var h = try Self.harness()
        h.tick()                                  // tick 0 closes an empty window
        h.loop.board.executionTime = .microseconds(700)
        h.tick()
        h.loop.board.executionTime = .microseconds(200)
        for _ in 0..<998 { h.tick() }             // up to tick 999
        #expect(h.loop.timing.longestTickLastSecond == .zero)
        h.tick()                                  // tick 1000 closes the window
        #expect(h.loop.timing.longestTickLastSecond == .microseconds(700))
        #expect(h.loop.timing.longestTick == .microseconds(700))
    }
}
