// State-of-power limiter tests, driven through the control loop with a connected test pack.
import Foundation
@testable import Firmware
import HAL
import Testing

@Suite struct PowerLimiterTests {
    static let configuration = testConfiguration()
    static var p: PowerLimitConfiguration { configuration.powerLimits }
    /// Recommended-safety voltages: the limiter's headroom is measured to these.
    static var minimumVoltage: Int32 { configuration.protection.cellUndervoltage.recommendedSafety }
    static var maximumVoltage: Int32 { configuration.protection.cellOvervoltage.recommendedSafety }

    // MARK: Helpers

    /// The configured cell's resistance over a horizon of `seconds` (mΩ):
    /// r0 + r1(1 − e^(−t/τ1)) + r2(1 − e^(−t/τ2)), times the cold rise `warmth`.
    static func resistance(_ seconds: Double, warmth: Double = 1) -> Double {
        let p = self.p
        return (Double(p.r0Milliohms) + Double(p.r1Milliohms) * (1 - exp(-seconds / Double(p.tau1Seconds)))
            + Double(p.r2Milliohms) * (1 - exp(-seconds / Double(p.tau2Seconds)))) * warmth
    }

    /// The cold resistance factor for the coldest sensor (deci-°C).
    static func warmth(coldest: Int16) -> Double {
        let celsius = Double(coldest) / 10
        return 1 + Double(p.resistanceRisePerKelvinBelow25) * max(0, 25 - celsius)
    }

    /// room/R·1000 + sign·current, scaled and capped: what the limiter should allow (mA).
    static func expected(room: Int32, seconds: Double, current: Int32 = 0, sign: Double, factor: Double = 1,
                         warmth: Double = 1, ceiling: Milliamperes) -> Double {
        let unscaled = max(0, Double(room) / resistance(seconds, warmth: warmth) * 1_000 + sign * Double(current))
        return min(unscaled * factor, Double(ceiling.rawValue))
    }

    static func close(_ actual: Milliamperes, _ expected: Double, within tolerance: Double = 2) -> Bool {
        abs(Double(actual.rawValue) - expected) <= tolerance
    }

    /// Sets the cell voltages, and the pack and link voltages to their sum (so the sum-of-cells
    /// check is quiet and a precharge completes).
    static func setCells(_ h: inout LoopHarness, _ cells: [Int32]) {
        h.loop.board.cellMonitor.cellVoltages = cells.map { Millivolts($0) }
        let sum = Millivolts(cells.reduce(0, +))
        h.loop.board.currentSensor.packVoltage = sum
        h.loop.board.currentSensor.linkVoltage = sum
    }

    /// A pack at rest with `cells`, connected for `mode` (drive or charge).
    static func connected(_ mode: OperatingMode, cells: [Int32], temperatures: [Int16] = [250, 251],
                          configuration: PackConfiguration = PowerLimiterTests.configuration) throws -> LoopHarness {
        var h = try LoopHarness(board: TestBoard(cellVoltages: cells, temperatures: temperatures), configuration: configuration)
        setCells(&h, cells)
        let submitted = h.loop.submit(mode == .drive ? .drive : .charge)
        #expect(submitted)
        for _ in 0..<100 {
            h.tick()
            if h.loop.stateMachine.state == .connected(mode) { break }
        }
        try #require(h.loop.stateMachine.state == .connected(mode))
        return h
    }

    /// Ticks until a tick has run the 10 ms power-limit stage (at most 10 ticks).
    static func untilLimitUpdate(_ h: inout LoopHarness) {
        repeat { h.tick() } while !h.loop.lastTickStages.contains(.powerLimits)
    }

    static func ticks(_ h: inout LoopHarness, _ n: Int) { for _ in 0..<n { h.tick() } }

    // MARK: Connection and mode

    @Test func everyLimitIsZeroWhileTheContactorsAreOpen() throws {
        var h = try LoopHarness(board: TestBoard(cellVoltages: [3_700, 3_700, 3_700, 3_700]))
        Self.setCells(&h, [3_700, 3_700, 3_700, 3_700])
        for _ in 0..<500 {
            h.tick()
            #expect(h.loop.powerLimits == .zero)
            #expect(h.loop.powerLimiter.available == .zero)
        }
        #expect(h.loop.stateMachine.state == .standby)
    }

    @Test func aConfirmedMaximumSafetyFaultZeroesTheLimitsAtOnceAndTheErrorStateKeepsThemZero() throws {
        var h = try Self.connected(.drive, cells: [3_700, 3_700, 3_700, 3_700])
        Self.ticks(&h, 500)
        try #require(h.loop.powerLimits.discharge2s > .zero)
        // Beyond the 4.25 V maximum-safety limit: confirmed after 30 ms, trips 50 ms later.
        Self.setCells(&h, [4_300, 3_700, 3_700, 3_700])
        for _ in 0..<200 where h.loop.faultMonitor.status.safety.isEmpty { h.tick() }
        try #require(h.loop.faultMonitor.status.safety.contains(.cellOvervoltage))
        Self.untilLimitUpdate(&h)
        // Still connected (the reaction delay is running) but nothing may be drawn any more.
        #expect(h.loop.stateMachine.state == .connected(.drive))
        #expect(h.loop.powerLimiter.available == .zero)
        #expect(h.loop.powerLimits == .zero)
        for _ in 0..<300 {
            h.tick()
            #expect(h.loop.powerLimits == .zero)
        }
        #expect(h.loop.stateMachine.state == .error)
        // A drive request in error is refused; the limits stay zero.
        let submitted = h.loop.submit(.drive)
        #expect(submitted)
        for _ in 0..<200 {
            h.tick()
            #expect(h.loop.powerLimits == .zero)
            #expect(h.loop.powerLimiter.available == .zero)
        }
        #expect(h.loop.stateMachine.state == .error)
    }

    @Test func driveModeAllowsDischargeAndRegenerativeCharge() throws {
        var h = try Self.connected(.drive, cells: [3_700, 3_700, 3_700, 3_700])
        Self.ticks(&h, 1_500)
        let a = h.loop.powerLimiter.available, l = h.loop.powerLimits
        for value in [a.discharge2s, a.discharge10s, a.discharge30s, a.charge2s, a.charge10s, a.charge30s,
                      l.discharge2s, l.discharge10s, l.discharge30s, l.charge2s, l.charge10s, l.charge30s] {
            #expect(value > .zero)
        }
    }

    @Test func chargeModeAllowsChargeButNoDischarge() throws {
        var h = try Self.connected(.charge, cells: [3_700, 3_700, 3_700, 3_700])
        for _ in 0..<1_500 {
            h.tick()
            let a = h.loop.powerLimiter.available, l = h.loop.powerLimits
            #expect(a.discharge2s == .zero && a.discharge10s == .zero && a.discharge30s == .zero)
            #expect(l.discharge2s == .zero && l.discharge10s == .zero && l.discharge30s == .zero)
        }
        let a = h.loop.powerLimiter.available, l = h.loop.powerLimits
        for value in [a.charge2s, a.charge10s, a.charge30s, l.charge2s, l.charge10s, l.charge30s] { #expect(value > .zero) }
    }

    @Test func leavingTheConnectedStateZeroesTheLimitsAtOnce() throws {
        var h = try Self.connected(.drive, cells: [3_700, 3_700, 3_700, 3_700])
        Self.ticks(&h, 500)
        try #require(h.loop.powerLimits.discharge2s > .zero)
        let submitted = h.loop.submit(.standby)
        #expect(submitted)
        h.tick()
        #expect(h.loop.stateMachine.state != .connected(.drive))
        Self.untilLimitUpdate(&h)
        #expect(h.loop.powerLimits == .zero)
    }

    // MARK: The weakest cell and the formula

    @Test func theLowestCellSetsTheDischargeLimitAndTheHighestTheChargeLimit() throws {
        let c = Self.configuration.powerLimits
        var h = try Self.connected(.drive, cells: [3_200, 3_200, 3_200, 3_200])
        Self.ticks(&h, 200)
        let before = h.loop.powerLimiter.available
        #expect(Self.close(before.discharge2s, Self.expected(room: 3_200 - Self.minimumVoltage, seconds: 2, sign: -1,
                                                              ceiling: c.maximumDischarge.0)))
        #expect(before.charge2s == c.maximumCharge.0)

        // One cell lower: less discharge headroom; the charge limit does not change.
        Self.setCells(&h, [3_200, 3_200, 3_100, 3_200])
        Self.untilLimitUpdate(&h)
        let lowered = h.loop.powerLimiter.available
        #expect(lowered.discharge2s < before.discharge2s)
        #expect(lowered.discharge10s < before.discharge10s)
        #expect(lowered.discharge30s < before.discharge30s)
        #expect(Self.close(lowered.discharge2s, Self.expected(room: 3_100 - Self.minimumVoltage, seconds: 2, sign: -1,
                                                               ceiling: c.maximumDischarge.0)))
        #expect(lowered.charge2s == before.charge2s)

        // One cell higher (near full): less charge headroom; the discharge limit does not change.
        Self.setCells(&h, [3_200, 4_150, 3_100, 3_200])
        Self.untilLimitUpdate(&h)
        let raised = h.loop.powerLimiter.available
        #expect(raised.charge2s < lowered.charge2s)
        #expect(raised.charge30s < lowered.charge30s)
        #expect(Self.close(raised.charge2s, Self.expected(room: Self.maximumVoltage - 4_150, seconds: 2, sign: 1,
                                                           ceiling: c.maximumCharge.0)))
        #expect(raised.discharge2s == lowered.discharge2s)
    }

    /// |I'| ≤ room/R·1000 ∓ I: the present current's drop is already in the measured voltage.
    @Test(arguments: [-1_000, 0, 1_000] as [Int32])
    func eachHorizonAllowsTheRoomOverItsResistanceCorrectedByThePresentCurrent(_ current: Int32) throws {
        let c = Self.configuration.powerLimits
        let cells: [Int32] = [3_700, 4_150, 3_150, 3_700]
        var h = try Self.connected(.drive, cells: cells)
        h.loop.board.currentSensor.current = Milliamperes(current)
        Self.ticks(&h, 100)
        let a = h.loop.powerLimiter.available
        let dischargeRoom = 3_150 - Self.minimumVoltage, chargeRoom = Self.maximumVoltage - 4_150
        // Expected resistance for the 2 s horizon from the configuration: r0 + r1(1−e^(−2/τ1)) + r2(1−e^(−2/τ2)).
        let r2s = Double(c.r0Milliohms) + Double(c.r1Milliohms) * (1 - exp(-2 / Double(c.tau1Seconds)))
            + Double(c.r2Milliohms) * (1 - exp(-2 / Double(c.tau2Seconds)))
        #expect(abs(Double(a.discharge2s.rawValue) - (Double(dischargeRoom) / r2s * 1_000 - Double(current))) <= 2,
                "discharge 2 s: \(a.discharge2s.rawValue) mA")
        #expect(abs(Double(a.charge2s.rawValue) - (Double(chargeRoom) / r2s * 1_000 + Double(current))) <= 2,
                "charge 2 s: \(a.charge2s.rawValue) mA")
        #expect(Self.close(a.discharge10s, Self.expected(room: dischargeRoom, seconds: 10, current: current, sign: -1,
                                                          ceiling: c.maximumDischarge.1)))
        #expect(Self.close(a.discharge30s, Self.expected(room: dischargeRoom, seconds: 30, current: current, sign: -1,
                                                          ceiling: c.maximumDischarge.2)))
        #expect(Self.close(a.charge10s, Self.expected(room: chargeRoom, seconds: 10, current: current, sign: 1,
                                                       ceiling: c.maximumCharge.1)))
        #expect(Self.close(a.charge30s, Self.expected(room: chargeRoom, seconds: 30, current: current, sign: 1,
                                                       ceiling: c.maximumCharge.2)))
    }

    @Test(arguments: [
        [3_700, 3_700, 3_700, 3_700],          // every horizon at its ceiling
        [3_100, 3_100, 3_100, 3_100],          // discharge below the ceilings
        [3_200, 3_200, 3_200, 4_150],          // charge and discharge below the ceilings
        [3_700, 4_150, 3_150, 3_700],
        [3_400, 3_400, 3_400, 4_100],
    ] as [[Int32]])
    func shorterHorizonsAllowAtLeastAsMuchAsLongerOnes(_ cells: [Int32]) throws {
        var h = try Self.connected(.drive, cells: cells)
        for k in 0..<1_500 {
            if k == 700 { h.loop.board.currentSensor.current = Milliamperes(-2_000) }
            h.tick()
            for l in [h.loop.powerLimiter.available, h.loop.powerLimits] {
                #expect(l.discharge2s >= l.discharge10s && l.discharge10s >= l.discharge30s, "\(cells): \(l)")
                #expect(l.charge2s >= l.charge10s && l.charge10s >= l.charge30s, "\(cells): \(l)")
            }
        }
    }

    @Test func theConfiguredCeilingsAreNeverExceeded() throws {
        let c = Self.configuration.powerLimits
        // Plenty of headroom both ways: every unscaled limit is far above its ceiling.
        var h = try Self.connected(.drive, cells: [3_700, 3_700, 3_700, 3_700])
        for _ in 0..<4_600 {
            h.tick()
            for l in [h.loop.powerLimiter.available, h.loop.powerLimits] {
                #expect(l.charge2s <= c.maximumCharge.0 && l.charge10s <= c.maximumCharge.1 && l.charge30s <= c.maximumCharge.2)
                #expect(l.discharge2s <= c.maximumDischarge.0 && l.discharge10s <= c.maximumDischarge.1
                        && l.discharge30s <= c.maximumDischarge.2)
            }
        }
        // Ramped all the way up: exactly the ceilings.
        let l = h.loop.powerLimits
        #expect(l.charge2s == c.maximumCharge.0 && l.charge10s == c.maximumCharge.1 && l.charge30s == c.maximumCharge.2)
        #expect(l.discharge2s == c.maximumDischarge.0 && l.discharge10s == c.maximumDischarge.1
                && l.discharge30s == c.maximumDischarge.2)
    }

    // MARK: Derating

    struct TemperatureCase: Sendable, CustomTestStringConvertible {
        var hottest: Int16, coldest: Int16, chargeFactor: Double, dischargeFactor: Double
        var testDescription: String { "sensors \(hottest)/\(coldest) d°C → charge ×\(chargeFactor), discharge ×\(dischargeFactor)" }
    }

    /// Standard windows: charge 45 → 50 °C hot and 5 → 2 °C cold; discharge 55 → 60 °C and −20 → −25 °C.
    @Test(arguments: [
        TemperatureCase(hottest: 450, coldest: 250, chargeFactor: 1, dischargeFactor: 1),     // at the charge maximum-operating
        TemperatureCase(hottest: 475, coldest: 250, chargeFactor: 0.5, dischargeFactor: 1),   // half-way
        TemperatureCase(hottest: 500, coldest: 250, chargeFactor: 0, dischargeFactor: 1),     // at the recommended-safety
        TemperatureCase(hottest: 520, coldest: 250, chargeFactor: 0, dischargeFactor: 1),
        TemperatureCase(hottest: 550, coldest: 250, chargeFactor: 0, dischargeFactor: 1),     // discharge maximum-operating
        TemperatureCase(hottest: 575, coldest: 250, chargeFactor: 0, dischargeFactor: 0.5),
        TemperatureCase(hottest: 600, coldest: 250, chargeFactor: 0, dischargeFactor: 0),
        TemperatureCase(hottest: 620, coldest: 250, chargeFactor: 0, dischargeFactor: 0),
        TemperatureCase(hottest: 250, coldest: 50, chargeFactor: 1, dischargeFactor: 1),      // cold charge maximum-operating
        TemperatureCase(hottest: 250, coldest: 35, chargeFactor: 0.5, dischargeFactor: 1),
        TemperatureCase(hottest: 250, coldest: 20, chargeFactor: 0, dischargeFactor: 1),
        TemperatureCase(hottest: 250, coldest: 10, chargeFactor: 0, dischargeFactor: 1),
        TemperatureCase(hottest: 250, coldest: -200, chargeFactor: 0, dischargeFactor: 1),    // cold discharge maximum-operating
        TemperatureCase(hottest: 250, coldest: -225, chargeFactor: 0, dischargeFactor: 0.5),
        TemperatureCase(hottest: 250, coldest: -250, chargeFactor: 0, dischargeFactor: 0),
        TemperatureCase(hottest: 250, coldest: -270, chargeFactor: 0, dischargeFactor: 0),
    ])
    func temperatureDeratesLinearlyFromMaximumOperatingToRecommendedSafety(_ t: TemperatureCase) throws {
        let c = Self.configuration.powerLimits
        // Both limits below their ceilings at 25 °C, so a factor shows in full.
        var h = try Self.connected(.drive, cells: [3_200, 3_200, 3_200, 4_150], temperatures: [t.hottest, t.coldest])
        Self.ticks(&h, 300)            // temperature statistics in; shorter than any derating debounce
        let a = h.loop.powerLimiter.available
        let warmth = Self.warmth(coldest: min(t.hottest, t.coldest))
        let discharge = Self.expected(room: 3_200 - Self.minimumVoltage, seconds: 2, sign: -1, factor: t.dischargeFactor,
                                      warmth: warmth, ceiling: c.maximumDischarge.0)
        let charge = Self.expected(room: Self.maximumVoltage - 4_150, seconds: 2, sign: 1, factor: t.chargeFactor,
                                   warmth: warmth, ceiling: c.maximumCharge.0)
        #expect(Self.close(a.discharge2s, discharge), "discharge 2 s \(a.discharge2s.rawValue) mA, expected \(discharge)")
        #expect(Self.close(a.charge2s, charge), "charge 2 s \(a.charge2s.rawValue) mA, expected \(charge)")
        let discharge30 = Self.expected(room: 3_200 - Self.minimumVoltage, seconds: 30, sign: -1, factor: t.dischargeFactor,
                                        warmth: warmth, ceiling: c.maximumDischarge.2)
        #expect(Self.close(a.discharge30s, discharge30), "discharge 30 s \(a.discharge30s.rawValue) mA, expected \(discharge30)")
        if t.dischargeFactor == 0 { #expect(a.discharge2s == .zero && a.discharge10s == .zero && a.discharge30s == .zero) }
        if t.chargeFactor == 0 { #expect(a.charge2s == .zero && a.charge10s == .zero && a.charge30s == .zero) }
    }

    struct SOCCase: Sendable, CustomTestStringConvertible {
        var cell: Int32, stateOfCharge: Float, chargeFactor: Double, dischargeFactor: Double
        var testDescription: String { "\(cell) mV (SOC \(stateOfCharge)) → charge ×\(chargeFactor), discharge ×\(dischargeFactor)" }
    }

    /// Discharge derates linearly below 5 % SOC, charge above 95 % (test OCV: 3.0 V 0 %, 3.7 V 50 %, 4.2 V 100 %).
    @Test(arguments: [
        SOCCase(cell: 3_000, stateOfCharge: 0, chargeFactor: 1, dischargeFactor: 0),
        SOCCase(cell: 3_035, stateOfCharge: 0.025, chargeFactor: 1, dischargeFactor: 0.5),
        SOCCase(cell: 3_070, stateOfCharge: 0.05, chargeFactor: 1, dischargeFactor: 1),
        SOCCase(cell: 3_700, stateOfCharge: 0.5, chargeFactor: 1, dischargeFactor: 1),
        SOCCase(cell: 4_150, stateOfCharge: 0.95, chargeFactor: 1, dischargeFactor: 1),
        SOCCase(cell: 4_175, stateOfCharge: 0.975, chargeFactor: 0.5, dischargeFactor: 1),
        SOCCase(cell: 4_200, stateOfCharge: 1, chargeFactor: 0, dischargeFactor: 1),
    ])
    func stateOfChargeDeratesDischargeNearEmptyAndChargeNearFull(_ s: SOCCase) throws {
        let c = Self.configuration.powerLimits
        var h = try Self.connected(.drive, cells: [s.cell, s.cell, s.cell, s.cell])
        Self.ticks(&h, 200)
        let soc = try #require(h.loop.stateOfCharge)
        #expect(abs(soc - s.stateOfCharge) < 0.001)
        let a = h.loop.powerLimiter.available
        let discharge = Self.expected(room: s.cell - Self.minimumVoltage, seconds: 2, sign: -1, factor: s.dischargeFactor,
                                      ceiling: c.maximumDischarge.0)
        let charge = Self.expected(room: Self.maximumVoltage - s.cell, seconds: 2, sign: 1, factor: s.chargeFactor,
                                   ceiling: c.maximumCharge.0)
        #expect(Self.close(a.discharge2s, discharge), "discharge 2 s \(a.discharge2s.rawValue) mA, expected \(discharge)")
        #expect(Self.close(a.charge2s, charge), "charge 2 s \(a.charge2s.rawValue) mA, expected \(charge)")
    }

    @Test func dischargeDeratesByTheWeakestElementAndChargeByTheStrongest() {
        // Derating 5 % / 95 %: the weakest element at 2.5 % halves discharge, the strongest at
        // 97.5 % halves charge; without a separate charging SOC both follow the one given.
        let p = Self.configuration.powerLimits
        let split = PowerLimiter.socFactors(0.025, p, charging: 0.975)
        #expect(abs(split.discharge - 0.5) < 1e-5 && abs(split.charge - 0.5) < 1e-5)
        let one = PowerLimiter.socFactors(0.025, p)
        #expect(abs(one.discharge - 0.5) < 1e-5 && one.charge == 1)
        let unknown = PowerLimiter.socFactors(nil, p)
        #expect(unknown.discharge == 1 && unknown.charge == 1)
    }

    @Test func aRecommendedSafetyFaultHalvesEveryLimitAtOnce() throws {
        let c = Self.configuration.powerLimits
        var h = try Self.connected(.drive, cells: [3_200, 3_200, 3_200, 4_150])
        Self.ticks(&h, 4_000)              // ramped up to what the pack can do (17.6 A at 5 A/s)
        let before = h.loop.powerLimiter.available
        #expect(h.loop.powerLimits == before)
        #expect(Self.close(before.discharge2s, Self.expected(room: 3_200 - Self.minimumVoltage, seconds: 2, sign: -1,
                                                              ceiling: c.maximumDischarge.0)))
        // A temperature sensor is lost: a recommended-safety fault after its 500 ms debounce.
        h.loop.board.cellMonitor.temperatures[1] = nil
        for _ in 0..<2_000 where !h.loop.faultMonitor.status.derating.contains(.temperatureSensorFault) { h.tick() }
        try #require(h.loop.faultMonitor.status.derating.contains(.temperatureSensorFault))
        #expect(h.loop.faultMonitor.status.safety.isEmpty)
        Self.untilLimitUpdate(&h)
        let after = h.loop.powerLimiter.available
        let factor = Double(c.recommendedSafetyFactor)
        #expect(factor == 0.5)
        #expect(Self.close(after.discharge2s, Self.expected(room: 3_200 - Self.minimumVoltage, seconds: 2, sign: -1, factor: factor,
                                                             ceiling: c.maximumDischarge.0)))
        #expect(Self.close(after.discharge30s, Self.expected(room: 3_200 - Self.minimumVoltage, seconds: 30, sign: -1,
                                                              factor: factor, ceiling: c.maximumDischarge.2)))
        #expect(Self.close(after.charge2s, Self.expected(room: Self.maximumVoltage - 4_150, seconds: 2, sign: 1, factor: factor,
                                                          ceiling: c.maximumCharge.0)))
        // Falling is immediate: the ramped limits follow in the same update.
        #expect(h.loop.powerLimits == after)
        #expect(h.loop.stateMachine.state == .connected(.drive))
    }

    // MARK: Ramp

    @Test func limitsRiseNoFasterThanTheRampRateAfterConnecting() throws {
        let step = Self.configuration.powerLimits.rampRate.rawValue / 100          // per 10 ms update
        var h = try Self.connected(.drive, cells: [3_100, 3_100, 3_100, 3_100])
        // The tick that completed the connection may already have run one update.
        var updates: Int32 = h.loop.lastTickStages.contains(.powerLimits) ? 1 : 0
        var previous = h.loop.powerLimits
        #expect(previous.discharge2s.rawValue == step * updates)
        for _ in 0..<3_000 {
            h.tick()
            guard h.loop.lastTickStages.contains(.powerLimits) else {
                #expect(h.loop.powerLimits == previous)
                continue
            }
            updates += 1
            let a = h.loop.powerLimiter.available, l = h.loop.powerLimits
            let pairs: [(Milliamperes, Milliamperes, Milliamperes)] = [
                (l.charge2s, a.charge2s, previous.charge2s), (l.charge10s, a.charge10s, previous.charge10s),
                (l.charge30s, a.charge30s, previous.charge30s), (l.discharge2s, a.discharge2s, previous.discharge2s),
                (l.discharge10s, a.discharge10s, previous.discharge10s), (l.discharge30s, a.discharge30s, previous.discharge30s),
            ]
            for (limit, available, before) in pairs {
                #expect(limit.rawValue - before.rawValue <= step)
                #expect(limit.rawValue == min(available.rawValue, step * updates), "update \(updates)")
            }
            previous = l
        }
        // 13 A of discharge headroom takes 2.6 s at 5 A/s: reached.
        #expect(h.loop.powerLimits == h.loop.powerLimiter.available)
        #expect(h.loop.powerLimits.discharge2s.rawValue > 13_000)
    }

    @Test func limitsFallAtOnceWhenACellNearsItsLimit() throws {
        var h = try Self.connected(.drive, cells: [3_100, 3_100, 3_100, 3_100])
        Self.ticks(&h, 3_000)
        let full = h.loop.powerLimits
        try #require(full == h.loop.powerLimiter.available && full.discharge2s.rawValue > 13_000)
        // 20 mV above the recommended-safety minimum.
        Self.setCells(&h, [2_820, 3_100, 3_100, 3_100])
        Self.untilLimitUpdate(&h)
        let l = h.loop.powerLimits
        #expect(l == h.loop.powerLimiter.available)
        #expect(Self.close(l.discharge2s, Self.expected(room: 20, seconds: 2, sign: -1,
                                                         ceiling: Self.configuration.powerLimits.maximumDischarge.0)))
        #expect(l.discharge2s.rawValue < 1_000 && l.discharge30s.rawValue < 1_000)
        #expect(l.charge2s == full.charge2s)
    }

    // MARK: Estimated excess heating

    @Test func aCellBelowTheMeanUnderDischargeHeatsAndDeratesThenCoolsAtRest() throws {
        let c = Self.configuration.powerLimits
        let capacity = Double(c.elementHeatCapacity), conductance = Double(c.elementConductance)
        // Hottest sensor exactly at the discharge maximum-operating temperature: any excess derates.
        let cells: [Int32] = [3_700, 3_700, 3_700, 2_900]
        var h = try Self.connected(.drive, cells: cells, temperatures: [550, 250])
        Self.ticks(&h, 200)
        for i in 0..<4 { #expect(h.loop.powerLimiter.excessHeating[i] == 0) }
        let current: Int32 = -15_000
        let noExcess = Self.expected(room: 2_900 - Self.minimumVoltage, seconds: 2, current: current, sign: -1,
                                     ceiling: c.maximumDischarge.0)
        h.loop.board.currentSensor.current = Milliamperes(current)
        // Cell 3 sits 0.6 V below the 3.5 V mean: 15 A × 0.6 V = 9 W of extra heat.
        let watts = 15.0 * 0.6
        var model = 0.0
        var previous: Float = 0
        for _ in 0..<5_000 {
            h.tick()
            guard h.loop.lastTickStages.contains(.powerLimits) else { continue }
            model += (watts - conductance * model) * 0.01 / capacity
            let excess = h.loop.powerLimiter.excessHeating[3]
            #expect(excess > previous)
            previous = excess
        }
        let excess = h.loop.powerLimiter.excessHeating[3]
        #expect(abs(Double(excess) - model) <= model * 0.01, "excess \(excess) K, model \(model) K")
        #expect(excess > 0.5)
        for i in 0..<3 { #expect(h.loop.powerLimiter.excessHeating[i] == 0) }
        #expect(h.loop.powerLimiter.hottestExcess == excess)
        // The effective hottest temperature is the sensor plus the excess: discharge derates.
        let deciKelvin = Double(Int32(h.loop.powerLimiter.hottestExcess * 10))
        #expect(deciKelvin >= 5)
        let factor = 1 - deciKelvin / 50                    // 55 → 60 °C window
        let a = h.loop.powerLimiter.available
        #expect(Self.close(a.discharge2s, Self.expected(room: 2_900 - Self.minimumVoltage, seconds: 2, current: current, sign: -1,
                                                         factor: factor, ceiling: c.maximumDischarge.0)),
                "discharge 2 s \(a.discharge2s.rawValue) mA")
        #expect(Double(a.discharge2s.rawValue) < noExcess - 1_000)

        // At rest it decays (first order, towards zero).
        h.loop.board.currentSensor.current = .zero
        var cooling = Double(excess)
        previous = excess
        for _ in 0..<2_000 {
            h.tick()
            guard h.loop.lastTickStages.contains(.powerLimits) else { continue }
            cooling -= conductance * cooling * 0.01 / capacity
            let now = h.loop.powerLimiter.excessHeating[3]
            #expect(now < previous)
            previous = now
        }
        #expect(abs(Double(previous) - cooling) <= cooling * 0.01)
        #expect(h.loop.powerLimiter.hottestExcess == previous)
    }

    @Test func noCellHeatsAtRestAndUnderChargeTheCellAboveTheMeanDoes() throws {
        var h = try Self.connected(.charge, cells: [3_700, 3_700, 3_700, 4_100])
        Self.ticks(&h, 1_000)
        for i in 0..<4 { #expect(h.loop.powerLimiter.excessHeating[i] == 0) }
        #expect(h.loop.powerLimiter.hottestExcess == 0)
        h.loop.board.currentSensor.current = Milliamperes(4_000)
        Self.ticks(&h, 1_000)
        #expect(h.loop.powerLimiter.excessHeating[3] > 0)
        for i in 0..<3 { #expect(h.loop.powerLimiter.excessHeating[i] == 0) }
        #expect(h.loop.powerLimiter.hottestExcess == h.loop.powerLimiter.excessHeating[3])
    }
}
