// Coulomb counting against exact integrals: the counter must equal the integral of the
// piecewise-linear current through its samples, to the nanocoulomb.
import Firmware
import HAL
import Testing

@Suite struct CoulombCounterTests {
    static let step = Microseconds.milliseconds(1)
    static let timeout = Microseconds.milliseconds(100)

    /// Feeds samples of `current(t)` taken every `step` over `duration`, starting at t = 0.
    static func count(duration: Microseconds, step: Microseconds = step, _ current: (Int64) -> Int32) -> CoulombCounter {
        var counter = CoulombCounter()
        var t: Int64 = 0
        counter.integrate(current: Milliamperes(current(0)), dt: .zero, maximumStep: timeout)
        while t < duration.rawValue {
            t += step.rawValue
            counter.integrate(current: Milliamperes(current(t)), dt: step, maximumStep: timeout)
        }
        return counter
    }

    @Test func constantCurrentForAnHour() {
        // 2.5 A charging for 3,600 s = 9,000 As = 9e12 nC (2.5 Ah).
        let counter = Self.count(duration: .seconds(3_600)) { _ in 2_500 }
        #expect(counter.netChargeNanocoulombs == 9_000_000_000_000)
        #expect(counter.doubledChargeIn == 18_000_000_000_000 && counter.doubledChargeOut == 0)
    }

    @Test func linearRampIsIntegratedExactly() {
        // 0 -> 20 A discharge over 2 s, 10 mA per ms: ∫ = -(20 A · 2 s) / 2 = -20 As = -2e10 nC.
        let counter = Self.count(duration: .seconds(2)) { t in Int32(-(t / 1_000) * 10) }
        #expect(counter.netChargeNanocoulombs == -20_000_000_000)
        #expect(counter.doubledChargeOut == 40_000_000_000)
    }

    @Test func signChangeSplitsThroughputExactly() {
        // -1 A -> +1 A over 2 s: net 0; 0.5 As out, then 0.5 As in.
        let counter = Self.count(duration: .seconds(2)) { t in Int32(-1_000 + t / 1_000) }
        #expect(counter.netChargeNanocoulombs == 0)
        #expect(counter.doubledChargeOut == 1_000_000_000 && counter.doubledChargeIn == 1_000_000_000)
    }

    @Test func jitteredTickTimesAreStillExact() {
        // Ticks alternate 900 µs and 1,100 µs; a constant -3 A over 2 s (1,000 pairs) is -6 As.
        var counter = CoulombCounter()
        counter.integrate(current: Milliamperes(-3_000), dt: .zero, maximumStep: Self.timeout)
        for i in 0..<2_000 {
            counter.integrate(current: Milliamperes(-3_000), dt: .microseconds(i % 2 == 0 ? 900 : 1_100), maximumStep: Self.timeout)
        }
        #expect(counter.netChargeNanocoulombs == -6_000_000_000)
    }

    @Test func anOddDoubledChargeRoundsTowardsMinusInfinity() {
        // (1 + 2) mA · 1 µs = 3 doubled units = 1.5 nC -> 1 nC; negative -> -2 nC.
        var up = CoulombCounter(), down = CoulombCounter()
        up.integrate(current: Milliamperes(1), dt: .zero, maximumStep: Self.timeout)
        up.integrate(current: Milliamperes(2), dt: .microseconds(1), maximumStep: Self.timeout)
        down.integrate(current: Milliamperes(-1), dt: .zero, maximumStep: Self.timeout)
        down.integrate(current: Milliamperes(-2), dt: .microseconds(1), maximumStep: Self.timeout)
        #expect(up.netChargeNanocoulombs == 1 && down.netChargeNanocoulombs == -2)
    }

    @Test func missingCurrentAndLongGapsAreNotIntegratedButAccounted() {
        var counter = CoulombCounter()
        counter.integrate(current: Milliamperes(1_000), dt: .zero, maximumStep: Self.timeout)
        counter.integrate(current: Milliamperes(1_000), dt: Self.step, maximumStep: Self.timeout)   // +1 mAs
        counter.integrate(current: nil, dt: Self.step, maximumStep: Self.timeout)                   // no current: 1 ms uncounted
        counter.integrate(current: Milliamperes(1_000), dt: Self.step, maximumStep: Self.timeout)   // restarts the chain
        counter.integrate(current: Milliamperes(1_000), dt: Self.step, maximumStep: Self.timeout)   // +1 mAs
        counter.integrate(current: Milliamperes(1_000), dt: .milliseconds(101), maximumStep: Self.timeout) // gap: uncounted
        counter.integrate(current: Milliamperes(1_000), dt: Self.timeout, maximumStep: Self.timeout) // exactly the limit: +100 mAs
        #expect(counter.netChargeNanocoulombs == 102_000_000)
        #expect(counter.uncountedTime == .microseconds(102_000))
    }

    @Test func theLoopCountsWhatTheSensorMeasured() throws {
        var h = try LoopHarness(board: TestBoard(cellVoltages: [3_700, 3_700, 3_700, 3_700]))
        h.loop.board.currentSensor.current = Milliamperes(-10_000)
        for _ in 0..<1_001 { h.tick() }
        // 1,000 intervals of 1 ms at -10 A = -10 As.
        #expect(h.loop.coulombCounter.netChargeNanocoulombs == -10_000_000_000)
    }
}
