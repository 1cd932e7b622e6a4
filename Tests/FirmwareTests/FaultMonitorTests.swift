// Fault detection through the control loop: tier boundaries, debounce, temperature windows, trips, plausibility, stuck cells, rise rate.
import Firmware
import HAL
import Testing

@Suite struct FaultMonitorTests {
    /// A loop over a test board (4 cells at 3.7 V, two sensors at 25 °C, no current) and the few
    /// moves these tests make. The loop ticks at exact 1 ms steps from t = 1 ms.
    struct Rig {
        var h: LoopHarness
        /// Alternates the "moving" cells' readings for the stuck-channel tests.
        var toggle = false

        init(configuration: PackConfiguration = testConfiguration(), cells: [Int32] = [3_700, 3_700, 3_700, 3_700],
             temperatures: [Int16] = [250, 251], current: Int32? = 0, packVoltage: Int32? = nil, warmUp: Int = 5) throws {
            var board = TestBoard(cellVoltages: cells, temperatures: temperatures)
            board.currentSensor.current = current.map { Milliamperes($0) }
            board.currentSensor.packVoltage = packVoltage.map { Millivolts($0) }
            h = try LoopHarness(board: board, configuration: configuration)
            tick(warmUp)
        }

        var status: FaultStatus { h.loop.faultMonitor.status }
        var latched: FaultSet { h.loop.stateMachine.latched }
        var isInError: Bool { h.loop.stateMachine.state == .error }

        /// The set a confirmed tier is reported in.
        func reported(_ tier: Tier) -> FaultSet {
            switch tier {
            case .maximumOperating: return status.warnings
            case .recommendedSafety: return status.derating
            case .maximumSafety: return status.safety
            }
        }

        mutating func tick(_ n: Int = 1) { for _ in 0..<n { h.tick() } }

        /// Ticks until `condition` holds, at most `limit` ticks: how many ticks it took (nil: never).
        mutating func ticks(until condition: (Rig) -> Bool, atMost limit: Int) -> Int? {
            for n in 1...limit {
                h.tick()
                if condition(self) { return n }
            }
            return nil
        }

        mutating func setCell(_ cell: Int, _ millivolts: Int32?) {
            h.loop.board.cellMonitor.cellVoltages[cell] = millivolts.map { Millivolts($0) }
        }

        mutating func setCurrent(_ milliamperes: Int32?) { h.loop.board.currentSensor.current = milliamperes.map { Milliamperes($0) } }

        /// Changes a sensor's temperature so that the fault checks of the *next* tick are the first
        /// to see it: the temperature statistics are refreshed on every 100th tick, after the checks.
        mutating func setTemperature(_ sensor: Int, _ value: Int16) {
            while !h.loop.schedule.due.every100ms { h.tick() }
            h.loop.board.cellMonitor.temperatures[sensor] = DeciCelsius(value)
            h.tick()
        }

        /// Ticks up to and including the next 1 s slot, with sensor 0 at `value` for its rise sample.
        mutating func nextRiseSample(sensor0 value: Int16) {
            while !h.loop.schedule.due.every1s { h.tick() }
            h.loop.board.cellMonitor.temperatures[0] = DeciCelsius(value)
            h.tick()
        }

        /// Ticks `n` times; before every stuck-channel check (each 100 ms) the cells not in `frozen`
        /// change their reading by 1 mV, the frozen ones keep theirs.
        mutating func tickMovingCells(_ n: Int, frozen: Set<Int> = [0]) {
            for _ in 0..<n {
                if h.loop.schedule.due.every100ms {
                    toggle.toggle()
                    for cell in 0..<4 where !frozen.contains(cell) { setCell(cell, toggle ? 3_701 : 3_700) }
                }
                h.tick()
            }
        }
    }

    /// The tiered limits checked every 1 ms, and how each one's quantity is put on the test board.
    enum Limit: String, CaseIterable, Sendable {
        case cellOvervoltage, cellUndervoltage
        case overtemperatureCharge, overtemperatureDischarge, undertemperatureCharge, undertemperatureDischarge
        case overcurrentCharge, overcurrentDischarge

        var id: FaultID {
            switch self {
            case .cellOvervoltage: .cellOvervoltage
            case .cellUndervoltage: .cellUndervoltage
            case .overtemperatureCharge: .overtemperatureCharge
            case .overtemperatureDischarge: .overtemperatureDischarge
            case .undertemperatureCharge: .undertemperatureCharge
            case .undertemperatureDischarge: .undertemperatureDischarge
            case .overcurrentCharge: .overcurrentCharge
            case .overcurrentDischarge: .overcurrentDischarge
            }
        }

        /// The standard policy's limit (5 Ah NMC: 4.20 V / 2.5 V, 1C charge, 4C peak discharge).
        var table: TieredLimit { testConfiguration().protection.limit(id)! }

        /// +1 where a violation lies above the threshold, −1 where it lies below.
        var outward: Int32 { table.direction == .above ? 1 : -1 }

        /// The pack current during the test: it selects the temperature window (charging means
        /// above the 250 mA rest current).
        var current: Int32 {
            switch self {
            case .overtemperatureCharge, .undertemperatureCharge: 1_000
            case .overtemperatureDischarge, .undertemperatureDischarge: -1_000
            case .cellOvervoltage, .cellUndervoltage, .overcurrentCharge, .overcurrentDischarge: 0
            }
        }

        /// Puts `value` (the limit's raw unit) on the board; the next tick's checks see it first.
        func present(_ value: Int32, on rig: inout Rig) {
            switch self {
            case .cellOvervoltage, .cellUndervoltage: rig.setCell(1, value)
            case .overtemperatureCharge, .overtemperatureDischarge, .undertemperatureCharge, .undertemperatureDischarge:
                rig.setTemperature(1, Int16(value))
            case .overcurrentCharge, .overcurrentDischarge: rig.setCurrent(value)
            }
        }
    }

    static let tiers: [Tier] = [.maximumOperating, .recommendedSafety, .maximumSafety]

    /// An interval in 1 ms ticks.
    static func ticks(_ interval: Microseconds) -> Int { Int(interval.rawValue / 1_000) }

    // MARK: Tiered limits

    @Test func theStandardPolicyThresholdsAreTheDatasheetValues() {
        let p = testConfiguration().protection
        #expect((p.cellOvervoltage.maximumOperating, p.cellOvervoltage.recommendedSafety, p.cellOvervoltage.maximumSafety) == (4_200, 4_220, 4_250))
        #expect((p.cellUndervoltage.maximumOperating, p.cellUndervoltage.recommendedSafety, p.cellUndervoltage.maximumSafety) == (3_000, 2_800, 2_500))
        #expect((p.overcurrentCharge.maximumOperating, p.overcurrentCharge.recommendedSafety, p.overcurrentCharge.maximumSafety) == (5_000, 6_250, 7_500))
        #expect((p.overcurrentDischarge.maximumOperating, p.overcurrentDischarge.recommendedSafety, p.overcurrentDischarge.maximumSafety)
            == (-20_000, -23_333, -26_666))
        #expect((p.overtemperatureCharge.maximumSafety, p.overtemperatureDischarge.maximumSafety) == (550, 650))
        #expect((p.undertemperatureCharge.maximumSafety, p.undertemperatureDischarge.maximumSafety) == (0, -300))
    }

    @Test(arguments: Limit.allCases, tiers)
    func aValueExactlyOnAThresholdDoesNotViolateIt(_ limit: Limit, _ tier: Tier) throws {
        let table = limit.table
        var rig = try Rig(current: limit.current)
        limit.present(table.threshold(tier), on: &rig)
        rig.tick(Self.ticks(table.debounce(tier)) + 50)
        #expect(!rig.reported(tier).contains(limit.id), "\(limit) on its \(tier) threshold \(table.threshold(tier))")
        #expect(rig.latched.isEmpty)
    }

    @Test(arguments: Limit.allCases, tiers)
    func oneUnitBeyondAThresholdConfirmsExactlyThatTierAfterExactlyItsDebounce(_ limit: Limit, _ tier: Tier) throws {
        let table = limit.table, debounce = Self.ticks(table.debounce(tier))
        var rig = try Rig(current: limit.current)
        limit.present(table.threshold(tier) + limit.outward, on: &rig)
        // Every 1 ms sample beyond counts 1 ms: the debounce-th sample confirms, not one earlier.
        let confirmedAfter = rig.ticks(until: { $0.reported(tier).contains(limit.id) }, atMost: debounce + 50)
        #expect(confirmedAfter == debounce, "\(limit) beyond its \(tier) threshold")
        let s = rig.status
        #expect(s.warnings.bits == 1 << UInt32(limit.id.rawValue), "only this fault, and always as a warning")
        #expect(s.derating.contains(limit.id) == (tier >= .recommendedSafety))
        #expect(s.safety.contains(limit.id) == (tier == .maximumSafety))
        #expect(s.derating.bits & ~s.warnings.bits == 0 && s.safety.bits & ~s.derating.bits == 0, "warnings ⊇ derating ⊇ safety")
        #expect(s.tripped.isEmpty, "the reaction delay has not run yet")
    }

    @Test(arguments: Limit.allCases)
    func aConfirmedTierClearsOnlyOnceBackInsideByTheHysteresis(_ limit: Limit) throws {
        let table = limit.table, threshold = table.recommendedSafety, out = limit.outward
        var rig = try Rig(current: limit.current)
        limit.present(threshold + out, on: &rig)
        rig.tick(Self.ticks(table.debounceRecommended))
        #expect(rig.status.derating.contains(limit.id))
        limit.present(threshold - out * (table.hysteresis - 1), on: &rig)      // inside, but not by the hysteresis
        rig.tick(150)
        #expect(rig.status.derating.contains(limit.id), "\(limit) back inside by less than the hysteresis \(table.hysteresis)")
        limit.present(threshold - out * table.hysteresis, on: &rig)
        rig.tick()
        #expect(!rig.status.derating.contains(limit.id), "\(limit) back inside by the hysteresis")
    }

    @Test(arguments: Limit.allCases)
    func theMaximumSafetyTierTripsOnlyAfterTheReactionDelayAndLatches(_ limit: Limit) throws {
        let table = limit.table, delay = Self.ticks(table.reactionDelay)
        var rig = try Rig(current: limit.current)
        limit.present(table.maximumSafety + limit.outward, on: &rig)
        rig.tick(Self.ticks(table.debounceSafety))
        #expect(rig.status.safety.contains(limit.id))
        let trippedAfter = rig.ticks(until: { !$0.status.tripped.isEmpty || !$0.latched.isEmpty || $0.isInError }, atMost: delay + 50)
        #expect(trippedAfter == delay, "\(limit): reaction delay \(delay) ms")
        #expect(rig.status.tripped.contains(limit.id))
        #expect(rig.latched.contains(limit.id))
        #expect(rig.isInError)
    }

    @Test func aConfirmedSafetyViolationTripsEvenIfTheValueRecoversDuringTheReactionDelayAndStaysLatchedUntilReset() throws {
        var rig = try Rig()
        rig.setCell(1, 4_251)
        rig.tick(30)
        #expect(rig.status.safety.contains(.cellOvervoltage))
        rig.setCell(1, 3_700)
        rig.tick(49)
        #expect(!rig.status.safety.contains(.cellOvervoltage))
        #expect(rig.latched.isEmpty)
        rig.tick()                                                    // 50 ms after the confirmation
        #expect(rig.status.tripped.contains(.cellOvervoltage))
        #expect(rig.latched.contains(.cellOvervoltage))
        rig.tick()
        #expect(rig.status.tripped.isEmpty, "a trip is acted on once")
        rig.tick(1_000)
        #expect(rig.latched.contains(.cellOvervoltage), "the latch holds without a reset")
        #expect(rig.isInError)
        let queued = rig.h.loop.submit(.reset)
        #expect(queued)
        rig.tick()
        #expect(rig.h.loop.lastAnswer?.answer == .accepted)
        #expect(rig.latched.isEmpty)
        #expect(rig.h.loop.stateMachine.state == .standby)
    }

    // Regression (found by this test): re-confirming used to restart the reaction delay, so a
    // reading beyond the 4.25 V maximum-safety limit three samples out of four, with one noisy
    // sample inside by the hysteresis, never tripped. The delay now runs from the first confirmation.
    @Test func aRepeatedlyReconfirmedSafetyViolationStillTripsAfterTheReactionDelay() throws {
        var rig = try Rig()
        var firstConfirmed: Int? = nil, latchedAt: Int? = nil
        for n in 1...400 {
            rig.setCell(1, n % 4 == 0 ? 4_229 : 4_260)
            rig.tick()
            if firstConfirmed == nil && rig.status.safety.contains(.cellOvervoltage) { firstConfirmed = n }
            if latchedAt == nil && rig.latched.contains(.cellOvervoltage) { latchedAt = n }
        }
        let confirmed = try #require(firstConfirmed)
        #expect(confirmed == 58, "net 2 ms beyond per 4 samples")
        #expect(latchedAt.map { $0 <= confirmed + 50 } == true, "confirmed at sample \(confirmed), latched at \(String(describing: latchedAt))")
    }

    // MARK: Up/down debounce

    @Test func aSingleSampleBackInsideDoesNotRestartASlowCrossing() throws {
        var rig = try Rig()
        rig.setCell(1, 4_251)
        rig.tick(20)
        rig.setCell(1, 4_250)                                         // on the threshold: inside, counts 1 ms down
        rig.tick()
        rig.setCell(1, 4_251)
        // 20 − 1 = 19 ms counted: 11 more samples reach the 30 ms debounce (a restart would need 30).
        #expect(rig.ticks(until: { $0.status.safety.contains(.cellOvervoltage) }, atMost: 40) == 11)
    }

    @Test func spikesShorterThanTheDebounceNeverConfirm() throws {
        var rig = try Rig()
        var everConfirmed = false
        for _ in 0..<5 {
            rig.setCell(1, 4_400)
            for _ in 0..<29 { rig.tick(); everConfirmed = everConfirmed || rig.status.safety.contains(.cellOvervoltage) }
            rig.setCell(1, 3_700)                                     // as long inside: the count is back at zero
            for _ in 0..<29 { rig.tick(); everConfirmed = everConfirmed || rig.status.safety.contains(.cellOvervoltage) }
        }
        #expect(!everConfirmed)
        #expect(rig.status.warnings.isEmpty)
        #expect(rig.latched.isEmpty)
        // The count goes down only as fast as it went up: a 29 ms spike, 1 ms inside, then 2 ms
        // beyond add up to the 30 ms debounce.
        rig.setCell(1, 4_400)
        rig.tick(29)
        rig.setCell(1, 3_700)
        rig.tick()
        rig.setCell(1, 4_400)
        #expect(rig.ticks(until: { $0.status.safety.contains(.cellOvervoltage) }, atMost: 10) == 2)
    }

    // MARK: Charge and discharge temperature windows

    @Test(arguments: [-1_000, 0, 250, 251, 1_000] as [Int32], [-10, 560] as [Int16])
    func theChargeTemperatureWindowAppliesOnlyAboveTheRestCurrent(current: Int32, temperature: Int16) throws {
        // −1 °C and 56 °C are beyond the charge window's maximum-safety limits (0 °C, 55 °C) but
        // not beyond the discharge window's (−30 °C, 65 °C).
        let charging = current > 250
        let id: FaultID = temperature < 0 ? .undertemperatureCharge : .overtemperatureCharge
        var rig = try Rig(current: current)
        rig.setTemperature(0, temperature)
        let confirmed = rig.ticks(until: { !$0.status.safety.isEmpty }, atMost: 400)
        #expect(confirmed == (charging ? 300 : nil), "\(current) mA at \(temperature) deci-°C")
        if charging {
            #expect(rig.status.safety.bits == 1 << UInt32(id.rawValue))
        } else {
            #expect(!rig.status.warnings.contains(id))
            #expect(rig.latched.isEmpty)
        }
    }

    @Test func switchingToDischargeDropsAChargeWindowFaultAndItComesBackWhenChargingResumes() throws {
        var rig = try Rig(current: 1_000)
        rig.setTemperature(0, 501)              // beyond the charge window's 50 °C recommended limit; fine for discharge
        #expect(rig.ticks(until: { $0.status.derating.contains(.overtemperatureCharge) }, atMost: 600) == 500)
        rig.setCurrent(-1_000)
        rig.tick()
        #expect(rig.status.warnings.isEmpty)
        rig.tick(600)
        #expect(rig.status.warnings.isEmpty)
        rig.setCurrent(251)
        #expect(rig.ticks(until: { $0.status.derating.contains(.overtemperatureCharge) }, atMost: 600) == 500)
        #expect(!rig.status.warnings.contains(.overtemperatureDischarge))
    }

    // Regression (found by this test): a sample outside the charge window (current at the rest
    // current) used to wipe the charge-window count, so charging at 56 °C (beyond the 55 °C
    // maximum-safety limit) with one 1 ms sample at the rest current every 100 ms never tripped.
    // Such a sample now counts down like a sample inside.
    @Test func aOneSampleDipToTheRestCurrentDoesNotRestartTheChargeWindowDebounce() throws {
        var rig = try Rig(current: 1_000)
        rig.setTemperature(0, 560)
        var confirmedAt: Int? = nil
        for n in 1...1_000 {
            rig.setCurrent(n % 100 == 0 ? 250 : 1_000)
            rig.tick()
            if rig.status.safety.contains(.overtemperatureCharge) { confirmedAt = n; break }
        }
        // 300 ms beyond, less at most 1 ms per dip: confirmed by about the 306th sample.
        #expect(confirmedAt.map { $0 <= 310 } == true, "confirmed at \(String(describing: confirmedAt))")
        rig.setCurrent(1_000)
        rig.tick(200)
        #expect(rig.latched.contains(.overtemperatureCharge))
    }

    // MARK: Plausibility

    enum ChannelProblem: String, CaseIterable, Sendable {
        case openWire, channelFault, aboveThePlausibleRange, belowThePlausibleRange
    }

    @Test(arguments: ChannelProblem.allCases)
    func aBadCellChannelConfirmsCellVoltageImplausibleAfterItsDebounceAndTrips(_ problem: ChannelProblem) throws {
        var rig = try Rig()
        switch problem {
        case .openWire: rig.h.loop.board.cellMonitor.channelStatus = [2: .openWire]
        case .channelFault: rig.h.loop.board.cellMonitor.channelStatus = [2: .channelFault]
        case .aboveThePlausibleRange: rig.setCell(2, 5_001)
        case .belowThePlausibleRange: rig.setCell(2, 499)
        }
        // Seen at the first sample; confirmed 100 ms later; the contactors open 100 ms after that.
        #expect(rig.ticks(until: { $0.status.warnings.contains(.cellVoltageImplausible) }, atMost: 150) == 101)
        #expect(rig.status.derating.contains(.cellVoltageImplausible) && rig.status.safety.contains(.cellVoltageImplausible))
        #expect(!rig.status.warnings.contains(.cellVoltageStale))
        #expect(rig.ticks(until: { !$0.latched.isEmpty }, atMost: 150) == 100)
        #expect(rig.latched.bits == 1 << UInt32(FaultID.cellVoltageImplausible.rawValue))
    }

    @Test func cellDataMissingBeyondTheMeasurementTimeoutConfirmsCellVoltageStale() throws {
        var rig = try Rig()
        rig.setCell(3, nil)                                           // the front end stops delivering cell 3
        // The last good value stands in for 100 ms (stale at the 101st sample), then the rule's
        // 100 ms debounce, then 100 ms reaction delay.
        #expect(rig.ticks(until: { $0.status.warnings.contains(.cellVoltageStale) }, atMost: 300) == 201)
        #expect(rig.status.safety.contains(.cellVoltageStale))
        #expect(!rig.status.warnings.contains(.cellVoltageImplausible))
        #expect(rig.ticks(until: { !$0.latched.isEmpty }, atMost: 150) == 100)
        #expect(rig.latched.contains(.cellVoltageStale))
    }

    /// The temperature-sensor rule confirms on the sample after its debounce (plausibility rules
    /// count from the first bad sample).
    static let sensorDebounceSamples = Int(testConfiguration().protection.temperatureSensorFault.debounce.rawValue / 1_000) + 1

    @Test(arguments: [-401, 1_201] as [Int16])
    func oneTemperatureSensorOutOfRangeDeratesWithoutTripping(value: Int16) throws {
        var rig = try Rig()
        rig.h.loop.board.cellMonitor.temperatures[1] = DeciCelsius(value)
        #expect(rig.ticks(until: { $0.status.warnings.contains(.temperatureSensorFault) }, atMost: 600) == Self.sensorDebounceSamples)
        #expect(rig.status.derating.contains(.temperatureSensorFault))
        #expect(!rig.status.safety.contains(.temperatureSensorFault))
        rig.tick(300)                                                 // well past the reaction delay
        #expect(rig.status.tripped.isEmpty)
        #expect(rig.latched.isEmpty)
        #expect(!rig.isInError)
    }

    @Test(arguments: [-400, 1_200] as [Int16])
    func aTemperatureOnThePlausibleBoundIsNoSensorFault(value: Int16) throws {
        var rig = try Rig()
        rig.h.loop.board.cellMonitor.temperatures[1] = DeciCelsius(value)
        rig.tick(600)
        #expect(!rig.status.warnings.contains(.temperatureSensorFault))
    }

    @Test(arguments: [(2, 1, false), (2, 2, true), (3, 1, false), (3, 2, true), (4, 2, false), (4, 3, true)] as [(Int, Int, Bool)])
    func moreThanHalfTheTemperatureSensorsBadTrips(sensors: Int, bad: Int, trips: Bool) throws {
        var rig = try Rig(configuration: testConfiguration(temperatureSensors: sensors),
                          temperatures: Array(repeating: 250, count: sensors))
        for i in 0..<bad { rig.h.loop.board.cellMonitor.temperatures[i] = DeciCelsius(1_500) }
        #expect(rig.ticks(until: { $0.status.derating.contains(.temperatureSensorFault) }, atMost: 600) == Self.sensorDebounceSamples)
        #expect(rig.status.safety.contains(.temperatureSensorFault) == trips, "\(bad) of \(sensors) bad")
        let latchedAfter = rig.ticks(until: { !$0.latched.isEmpty }, atMost: 200)
        #expect(latchedAfter == (trips ? 100 : nil), "\(bad) of \(sensors) bad")
        if trips { #expect(rig.latched.contains(.temperatureSensorFault)) }
    }

    @Test func aMissingCurrentConfirmsCurrentMeasurementFaultAfterTheTimeoutAndTrips() throws {
        var rig = try Rig(current: -2_000)
        rig.setCurrent(nil)
        // Held for the 100 ms measurement timeout, then the rule's 100 ms debounce and 100 ms delay.
        #expect(rig.ticks(until: { $0.status.warnings.contains(.currentMeasurementFault) }, atMost: 300) == 201)
        #expect(rig.status.safety.contains(.currentMeasurementFault))
        #expect(rig.ticks(until: { !$0.latched.isEmpty }, atMost: 150) == 100)
        #expect(rig.latched.contains(.currentMeasurementFault))
    }

    @Test func aFailingCurrentSensorConfirmsCurrentMeasurementFault() throws {
        var rig = try Rig()
        rig.h.loop.board.currentSensor.failure = TestFailure(kind: .timeout)
        #expect(rig.ticks(until: { $0.status.safety.contains(.currentMeasurementFault) }, atMost: 300) == 201)
    }

    @Test func anImplausibleCurrentConfirmsCurrentMeasurementFaultAtOnce() throws {
        var rig = try Rig()
        rig.setCurrent(-500_001)
        #expect(rig.ticks(until: { $0.status.safety.contains(.currentMeasurementFault) }, atMost: 200) == 101)
    }

    /// Cells 4 × 3.7 V = 14.8 V; tolerance 1.5 V plus 5 mV per whole ampere.
    @Test(arguments: [
        (13_300, 0, false), (13_299, 0, true), (16_300, 0, false), (16_301, 0, true),
        (13_250, -10_000, false), (13_249, -10_000, true), (16_350, -10_000, false), (16_351, -10_000, true),
        (16_325, 5_000, false), (16_326, 5_000, true),
    ] as [(Int32, Int32, Bool)])
    func theSumOfCellsMustMatchThePackVoltageWithinTheTolerance(packVoltage: Int32, current: Int32, mismatch: Bool) throws {
        var rig = try Rig(current: current, packVoltage: 14_800)
        #expect(rig.status.warnings.isEmpty)
        rig.h.loop.board.currentSensor.packVoltage = Millivolts(packVoltage)
        let confirmed = rig.ticks(until: { $0.status.warnings.contains(.sumOfCellsMismatch) }, atMost: 350)
        #expect(confirmed == (mismatch ? 301 : nil), "pack \(packVoltage) mV at \(current) mA")
        if mismatch {
            #expect(rig.status.safety.contains(.sumOfCellsMismatch))
            #expect(rig.ticks(until: { !$0.latched.isEmpty }, atMost: 150) == 100)
            #expect(rig.latched.contains(.sumOfCellsMismatch))
        }
    }

    // MARK: Stuck channels (stuck time shortened from the standard 30 s to 1 s to keep the tests fast)

    static func quickStuckConfiguration() -> PackConfiguration {
        var configuration = testConfiguration()
        configuration.protection.stuckTime = .seconds(1)
        return configuration
    }

    @Test(arguments: [(1_000, true), (-1_000, true), (999, false), (-999, false)] as [(Int32, Bool)])
    func aFrozenCellBecomesSuspectAfterTheStuckTimeOnlyWhileTheStuckCurrentFlows(current: Int32, stuck: Bool) throws {
        #expect(testConfiguration().protection.stuckCurrent == Milliamperes(1_000))
        var rig = try Rig(configuration: Self.quickStuckConfiguration(), current: current, warmUp: 0)
        // Checks every 100 ms from t = 1 ms; cell 0 frozen from the first, current from the first.
        rig.tickMovingCells(1_000)
        #expect(rig.h.loop.faultMonitor.suspectCells.isEmpty)
        rig.tickMovingCells(1)                                        // t = 1001 ms: unchanged for 1 s
        #expect(rig.h.loop.faultMonitor.suspectCells == (stuck ? CellSet(bits: 1) : CellSet()), "\(current) mA")
        rig.tickMovingCells(1)                                        // the status follows at the next 1 ms checks
        #expect(rig.status.warnings.contains(.stuckCellVoltage) == stuck)
        #expect(rig.status.derating.contains(.stuckCellVoltage) == stuck)
        #expect(!rig.status.safety.contains(.stuckCellVoltage))
        rig.tickMovingCells(1_000)
        #expect(rig.h.loop.faultMonitor.suspectCells == (stuck ? CellSet(bits: 1) : CellSet()))
        #expect(rig.latched.isEmpty, "a stuck channel derates, it does not trip")
    }

    @Test func aSuspectCellLeavesTheSetWhenItsReadingMoves() throws {
        var rig = try Rig(configuration: Self.quickStuckConfiguration(), current: 2_000, warmUp: 0)
        rig.tickMovingCells(1_002)
        #expect(rig.h.loop.faultMonitor.suspectCells == CellSet(bits: 1))
        #expect(rig.status.derating.contains(.stuckCellVoltage))
        rig.setCell(0, 3_702)
        rig.tickMovingCells(98)
        #expect(rig.h.loop.faultMonitor.suspectCells == CellSet(bits: 1))
        rig.tickMovingCells(1)                                        // the next check (t = 1101 ms) sees it moved
        #expect(rig.h.loop.faultMonitor.suspectCells.isEmpty)
        rig.tickMovingCells(1)
        #expect(!rig.status.warnings.contains(.stuckCellVoltage))
    }

    @Test func theStuckTimeCountsFromWhenTheCurrentStartedFlowing() throws {
        var rig = try Rig(configuration: Self.quickStuckConfiguration(), current: 0, warmUp: 0)
        rig.tickMovingCells(1_500)                                    // frozen at rest: not suspect
        rig.setCurrent(1_000)                                         // flowing from the check at t = 1501 ms
        rig.tickMovingCells(1_000)
        #expect(rig.h.loop.faultMonitor.suspectCells.isEmpty)
        rig.tickMovingCells(1)                                        // t = 2501 ms
        #expect(rig.h.loop.faultMonitor.suspectCells == CellSet(bits: 1))
    }

    // MARK: Temperature rate of rise

    @Test func theRiseIsTheFastestSensorsChangeOverTheWindowPerMinute() throws {
        var rig = try Rig(warmUp: 0)                                  // standard 10 s window
        for k in 0...10 {
            rig.h.loop.board.cellMonitor.temperatures[1] = DeciCelsius(251 + Int16(k / 2))   // 3 K/min
            rig.nextRiseSample(sensor0: 250 + Int16(k))                                        // 6 K/min
            if k < 10 { #expect(rig.h.loop.faultMonitor.fastestRise == 0, "window not yet full at sample \(k)") }
        }
        #expect(rig.h.loop.faultMonitor.fastestRise == 60)
    }

    /// A 3 s window makes the standard thresholds reachable exactly: a step of Δ deci-K every 3 s
    /// is a steady rise of 20·Δ deci-K per minute.
    static func riseConfiguration() -> PackConfiguration {
        var configuration = testConfiguration()
        configuration.protection.riseWindow = .seconds(3)
        return configuration
    }

    @Test func aRiseExactlyOnTheSafetyThresholdDeratesButNeverTrips() throws {
        var rig = try Rig(configuration: Self.riseConfiguration(), warmUp: 0)
        for k in 0...8 {
            rig.nextRiseSample(sensor0: 250 + 5 * Int16(k / 3))      // 10 K/min
            if k >= 3 { #expect(rig.h.loop.faultMonitor.fastestRise == 100) }
        }
        #expect(rig.status.derating.contains(.temperatureRiseRate))
        #expect(!rig.status.safety.contains(.temperatureRiseRate))
        #expect(rig.latched.isEmpty)
    }

    // Regression (found by this test): the rise tracker is fed once a second but a sample used to
    // stand for at most 100 ms, stretching every rise debounce tenfold (2 s took 20 s).
    @Test func aRiseBeyondTheSafetyThresholdTripsAfterItsTwoSecondDebounce() throws {
        var rig = try Rig(configuration: Self.riseConfiguration(), warmUp: 0)
        for k in 0...5 {
            rig.nextRiseSample(sensor0: 250 + 6 * Int16(k / 3))      // 12 K/min from sample 3 on
            if k == 3 {
                #expect(rig.h.loop.faultMonitor.fastestRise == 120)
                #expect(!rig.status.safety.contains(.temperatureRiseRate), "one sample cannot confirm a 2 s debounce")
            }
        }
        // 2 s after the first sample beyond: every tier confirmed, and no reaction delay.
        #expect(rig.status.warnings.contains(.temperatureRiseRate))
        #expect(rig.status.derating.contains(.temperatureRiseRate))
        #expect(rig.status.safety.contains(.temperatureRiseRate))
        #expect(rig.latched.contains(.temperatureRiseRate))
    }
}
