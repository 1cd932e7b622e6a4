// Passive-balancing controller tests, driven through the control loop on the test board.
import Firmware
import HAL
import Testing

@Suite struct BalancingControllerTests {
    // MARK: Helpers

    /// The test configuration with voltage mode at rest from the first decision (the standard
    /// policy waits a minute of rest; `restForVoltageMode` has its own test).
    static func configuration(cellCount: Int = 4) -> PackConfiguration {
        var c = testConfiguration(cellCount: cellCount)
        c.balancing.restForVoltageMode = .zero
        return c
    }

    /// A pack at rest (contactors open) with `cells`, sensors at `temperatures`, current `current`.
    static func harness(cells: [Int32], temperatures: [Int16] = [250, 251], current: Int32 = 0,
                        configuration: PackConfiguration = configuration()) throws -> LoopHarness {
        var h = try LoopHarness(board: TestBoard(cellVoltages: cells, temperatures: temperatures), configuration: configuration)
        h.loop.board.currentSensor.current = Milliamperes(current)
        return h
    }

    /// Runs `n` balancing decisions (one every 100 ticks, the first on the first tick).
    static func stages(_ h: inout LoopHarness, _ n: Int) {
        for _ in 0..<(100 * n) { h.tick() }
    }

    static func set(_ cells: Int...) -> CellSet {
        var s = CellSet()
        for i in cells { s.insert(i) }
        return s
    }

    static func setCells(_ h: inout LoopHarness, _ cells: [Int32]) {
        h.loop.board.cellMonitor.cellVoltages = cells.map { Millivolts($0) }
    }

    // MARK: Voltage mode

    @Test func aCellMoreThanTheStartThresholdAboveTheLowestBleedsAndOneAtExactlyTheThresholdDoesNot() throws {
        // Start threshold 15 mV: cell 1 is 16 mV above the lowest, cell 2 exactly 15 mV.
        var h = try Self.harness(cells: [3_700, 3_716, 3_715, 3_700])
        Self.stages(&h, 3)
        #expect(h.loop.balancer.active == Self.set(1))
        // No charge targets in voltage mode.
        for i in 0..<4 { #expect(h.loop.balancer.remaining[i] == 0) }
    }

    @Test func aBleedingCellKeepsBleedingUntilWithinTheStopThreshold() throws {
        var h = try Self.harness(cells: [3_700, 3_720, 3_700, 3_700])
        Self.stages(&h, 2)
        #expect(h.loop.balancer.active == Self.set(1))
        // Below the start threshold but above the 5 mV stop threshold: keeps bleeding.
        for above: Int32 in [10, 6] {
            Self.setCells(&h, [3_700, 3_700 + above, 3_700, 3_700])
            Self.stages(&h, 2)
            #expect(h.loop.balancer.active == Self.set(1), "\(above) mV above the lowest")
        }
        // Within the stop threshold: stops.
        Self.setCells(&h, [3_700, 3_705, 3_700, 3_700])
        Self.stages(&h, 2)
        #expect(h.loop.balancer.active.isEmpty)
        // Back to 10 mV: below the start threshold, does not restart.
        Self.setCells(&h, [3_700, 3_710, 3_700, 3_700])
        Self.stages(&h, 2)
        #expect(h.loop.balancer.active.isEmpty)
        Self.setCells(&h, [3_700, 3_716, 3_700, 3_700])
        Self.stages(&h, 2)
        #expect(h.loop.balancer.active == Self.set(1))
    }

    struct CurrentCase: Sendable, CustomTestStringConvertible {
        var current: Int32, bleeds: Bool
        var testDescription: String { "\(current) mA → \(bleeds ? "bleeds" : "does not bleed")" }
    }

    /// Rest current 250 mA; C/10 of the 5 Ah cell = 500 mA.
    @Test(arguments: [
        CurrentCase(current: 0, bleeds: true),
        CurrentCase(current: 250, bleeds: true),            // at rest
        CurrentCase(current: -250, bleeds: true),           // at rest
        CurrentCase(current: -251, bleeds: false),          // discharging
        CurrentCase(current: -5_000, bleeds: false),
        CurrentCase(current: 400, bleeds: true),            // charging at C/10 or less: voltages tell charge
        CurrentCase(current: 500, bleeds: true),
        CurrentCase(current: 501, bleeds: false),           // charging above C/10
        CurrentCase(current: 3_000, bleeds: false),
    ])
    func voltageModeBleedsOnlyAtRestOrWhileChargingAtTenthCOrLess(_ c: CurrentCase) throws {
        var h = try Self.harness(cells: [3_700, 3_750, 3_700, 3_700], current: c.current)
        for _ in 0..<500 {
            h.tick()
            if !c.bleeds { #expect(h.loop.balancer.active.isEmpty) }
        }
        #expect(h.loop.balancer.active == (c.bleeds ? Self.set(1) : CellSet()))
    }

    @Test func atRestVoltageModeWaitsForTheConfiguredRestButAWeakChargeDoesNot() throws {
        var c = testConfiguration()
        c.balancing.restForVoltageMode = .seconds(2)
        var h = try Self.harness(cells: [3_700, 3_750, 3_700, 3_700], configuration: c)
        // Rest begins at the first decision (t = 1 ms): voltage mode from t = 2.001 s.
        while h.now.microsecondsSinceOrigin < 2_000_000 {
            h.tick()
            #expect(h.loop.balancer.active.isEmpty, "t = \(h.now.microsecondsSinceOrigin) µs")
        }
        Self.stages(&h, 1)
        #expect(h.loop.balancer.active == Self.set(1))
        // A discharge ends the rest; after it the wait starts again.
        h.loop.board.currentSensor.current = Milliamperes(-2_000)
        Self.stages(&h, 1)
        #expect(h.loop.balancer.active.isEmpty)
        h.loop.board.currentSensor.current = .zero
        for _ in 0..<1_900 {
            h.tick()
            #expect(h.loop.balancer.active.isEmpty)
        }
        Self.stages(&h, 2)
        #expect(h.loop.balancer.active == Self.set(1))
        // Charging at C/10 or less the voltages tell charge at once.
        var charging = try Self.harness(cells: [3_700, 3_750, 3_700, 3_700], current: 400, configuration: c)
        Self.stages(&charging, 2)
        #expect(charging.loop.balancer.active == Self.set(1))
    }

    @Test func balancingStopsAsSoonAsDischargeStarts() throws {
        var h = try Self.harness(cells: [3_700, 3_750, 3_700, 3_700])
        Self.stages(&h, 2)
        try #require(h.loop.balancer.active == Self.set(1))
        h.loop.board.currentSensor.current = Milliamperes(-2_000)
        Self.stages(&h, 1)
        #expect(h.loop.balancer.active.isEmpty)
    }

    // MARK: When balancing may run

    /// Minimum cell voltage: 3.5 V (cut-off + 1 V), every cell at or above it.
    @Test(arguments: [(3_499, false), (3_500, true)] as [(Int32, Bool)])
    func balancingNeedsEveryCellAtOrAboveTheMinimumVoltage(_ lowest: Int32, _ allowed: Bool) throws {
        var h = try Self.harness(cells: [lowest, lowest + 50, lowest, lowest])
        for _ in 0..<500 {
            h.tick()
            if !allowed { #expect(h.loop.balancer.active.isEmpty) }
        }
        #expect(h.loop.balancer.active == (allowed ? Self.set(1) : CellSet()))
    }

    /// Maximum temperature: 45.0 °C, no sensor above it.
    @Test(arguments: [(451, false), (450, true)] as [(Int16, Bool)])
    func balancingNeedsNoSensorAboveTheMaximumTemperature(_ hottest: Int16, _ allowed: Bool) throws {
        var h = try Self.harness(cells: [3_700, 3_750, 3_700, 3_700], temperatures: [250, hottest])
        for _ in 0..<500 {
            h.tick()
            if !allowed { #expect(h.loop.balancer.active.isEmpty) }
        }
        #expect(h.loop.balancer.active == (allowed ? Self.set(1) : CellSet()))
    }

    @Test func aSensorGettingHotStopsBalancing() throws {
        var h = try Self.harness(cells: [3_700, 3_750, 3_700, 3_700])
        Self.stages(&h, 2)
        try #require(h.loop.balancer.active == Self.set(1))
        h.loop.board.cellMonitor.temperatures[0] = DeciCelsius(460)
        Self.stages(&h, 1)
        #expect(h.loop.balancer.active.isEmpty)
    }

    @Test func aRecommendedSafetyFaultStopsBalancing() throws {
        var h = try Self.harness(cells: [3_700, 3_750, 3_700, 3_700])
        Self.stages(&h, 2)
        try #require(h.loop.balancer.active == Self.set(1))
        // A lost temperature sensor: a recommended-safety (derating) fault after 500 ms.
        h.loop.board.cellMonitor.temperatures[1] = nil
        for _ in 0..<2_000 where !h.loop.faultMonitor.status.derating.contains(.temperatureSensorFault) { h.tick() }
        try #require(h.loop.faultMonitor.status.derating.contains(.temperatureSensorFault))
        Self.stages(&h, 2)
        #expect(h.loop.balancer.active.isEmpty)
    }

    // MARK: Channels and heat

    /// Six cells, needs 50, 40, 30, 20 and 60 mV above the lowest (cell 0).
    static let sixCells: [Int32] = [3_700, 3_750, 3_740, 3_730, 3_720, 3_760]

    @Test func atMostTheFrontEndsChannelsBleedAtOnceNeediestFirst() throws {
        // The test front end has 4 channels; the standard policy allows every channel.
        var h = try Self.harness(cells: Self.sixCells, configuration: Self.configuration(cellCount: 6))
        Self.stages(&h, 3)
        #expect(h.loop.balancer.active == Self.set(5, 1, 2, 3))
    }

    @Test func theConfiguredMaximumChannelsLimitsTheCountBelowTheFrontEnds() throws {
        var c = Self.configuration(cellCount: 6)
        c.balancing.maximumChannels = 2
        var h = try Self.harness(cells: Self.sixCells, configuration: c)
        Self.stages(&h, 3)
        #expect(h.loop.balancer.active == Self.set(5, 1))
    }

    /// 50 mA bleed: cell 5 (3.76 V) dissipates 188 mW, cells 1 and 2 187 mW each.
    @Test(arguments: [
        (3_000, 4), (561, 2), (562, 3), (375, 2), (374, 1), (188, 1), (187, 0), (0, 0),
    ] as [(Int32, Int)])
    func theHeatBudgetLimitsTheChannelCount(_ budget: Int32, _ count: Int) throws {
        var c = Self.configuration(cellCount: 6)
        c.balancing.heatBudgetMilliwatts = budget
        var h = try Self.harness(cells: Self.sixCells, configuration: c)
        Self.stages(&h, 3)
        let neediest = [5, 1, 2, 3]
        var expected = CellSet()
        for i in neediest.prefix(count) { expected.insert(i) }
        #expect(h.loop.balancer.active == expected, "budget \(budget) mW")
        // The bleeding cells' power stays within the budget.
        var power: Int32 = 0
        for i in 0..<6 where h.loop.balancer.active.contains(i) { power += Self.sixCells[i] * 50 / 1_000 }
        #expect(power <= budget)
    }

    // MARK: Charge targets and accounting

    /// A configuration whose charge targets are taken after 2 s of rest instead of 30 min.
    static func shortRest(minimumTarget: MilliampereSeconds? = nil) -> PackConfiguration {
        var c = Self.configuration()
        c.balancing.restForTargets = .seconds(2)
        if let minimumTarget { c.balancing.minimumTarget = minimumTarget }
        return c
    }

    /// Ticks until the balancer holds a charge target (at most `limit` ticks); returns whether it does.
    static func untilTargets(_ h: inout LoopHarness, limit: Int = 3_000) -> Bool {
        for _ in 0..<limit {
            h.tick()
            for i in 0..<h.loop.configuration.cellCount where h.loop.balancer.remaining[i] > 0 { return true }
        }
        return false
    }

    /// The excess charge of a cell resting at `voltage` over one resting at `lowest` (mAs).
    static func excessCharge(_ voltage: Int32, over lowest: Int32, _ c: PackConfiguration) -> Double {
        let ocv = c.openCircuitVoltage
        return Double(ocv.stateOfCharge(atRestVoltage: Millivolts(voltage)) - ocv.stateOfCharge(atRestVoltage: Millivolts(lowest)))
            * Double(c.ratedCapacity.rawValue)
    }

    @Test func afterTheConfiguredRestEachCellGetsItsExcessChargeOverTheEmptiestAsTarget() throws {
        let c = Self.shortRest()
        let cells: [Int32] = [3_700, 3_710, 3_720, 3_700]
        var h = try Self.harness(cells: cells, configuration: c)
        // Voltage mode first: only cell 2 (20 mV above) bleeds; cell 1 (10 mV) is below the start threshold.
        Self.stages(&h, 2)
        #expect(h.loop.balancer.active == Self.set(2))
        try #require(Self.untilTargets(&h))
        // Rest began at the first decision (t = 1 ms): targets at the first decision 2 s after it.
        #expect(h.now.microsecondsSinceOrigin == 2_001_000)
        for i in 0..<4 {
            let expected = Self.excessCharge(cells[i], over: 3_700, c)
            #expect(abs(Double(h.loop.balancer.remaining[i]) - expected) <= 2,
                    "cell \(i): \(h.loop.balancer.remaining[i]) mAs, expected \(expected)")
        }
        // 10 mV on this curve is 1 % SOC of 5 Ah: 180 As.
        #expect(abs(h.loop.balancer.remaining[1] - 180_000) <= 2)
        // With targets every cell with one bleeds, cell 1 included.
        #expect(h.loop.balancer.active == Self.set(1, 2))
    }

    @Test func targetsAreNotTakenBeforeTheConfiguredRest() throws {
        var h = try Self.harness(cells: [3_700, 3_710, 3_720, 3_700], configuration: Self.shortRest())
        // Interrupt the rest after 1.5 s with a discharge; rest again.
        for _ in 0..<1_500 { h.tick() }
        h.loop.board.currentSensor.current = Milliamperes(-2_000)
        for _ in 0..<300 { h.tick() }
        h.loop.board.currentSensor.current = .zero
        for _ in 0..<1_800 {
            h.tick()
            for i in 0..<4 { #expect(h.loop.balancer.remaining[i] == 0) }
        }
        // 2 s after the rest resumed they are taken.
        #expect(Self.untilTargets(&h, limit: 400))
    }

    @Test func aTargetBelowTheMinimumIsNotBled() throws {
        // Minimum 60 mAh = 216 As: cell 1's 180 As is dropped, cell 2's 360 As kept.
        let c = Self.shortRest(minimumTarget: .milliampereHours(60))
        var h = try Self.harness(cells: [3_700, 3_710, 3_720, 3_700], configuration: c)
        try #require(Self.untilTargets(&h))
        #expect(h.loop.balancer.remaining[1] == 0)
        #expect(abs(Double(h.loop.balancer.remaining[2]) - Self.excessCharge(3_720, over: 3_700, c)) <= 2)
        Self.stages(&h, 2)
        #expect(h.loop.balancer.active == Self.set(2))
    }

    @Test func remainingChargeFallsByTheBleedCurrentTimesTimeAndBledTotalAccumulates() throws {
        var h = try Self.harness(cells: [3_700, 3_710, 3_720, 3_700], configuration: Self.shortRest())
        try #require(Self.untilTargets(&h))
        let remaining = (h.loop.balancer.remaining[1], h.loop.balancer.remaining[2])
        let bled = (h.loop.balancer.bled[1], h.loop.balancer.bled[2])
        let total = h.loop.balancer.bledTotal
        try #require(h.loop.balancer.active == Self.set(1, 2))
        // Ten decisions of 100 ms at 50 mA: 50 mAs per bleeding cell.
        Self.stages(&h, 10)
        #expect(h.loop.balancer.remaining[1] == remaining.0 - 50)
        #expect(h.loop.balancer.remaining[2] == remaining.1 - 50)
        #expect(h.loop.balancer.bled[1] == bled.0 + 50)
        #expect(h.loop.balancer.bled[2] == bled.1 + 50)
        #expect(h.loop.balancer.bledTotal == total + MilliampereSeconds(100))
        #expect(h.loop.balancer.remaining[0] == 0 && h.loop.balancer.remaining[3] == 0)
        #expect(h.loop.balancer.bled[0] == 0 && h.loop.balancer.bled[3] == 0)
    }

    @Test func bledChargeIsCountedInVoltageModeToo() throws {
        var h = try Self.harness(cells: [3_700, 3_750, 3_700, 3_700])
        Self.stages(&h, 1)
        try #require(h.loop.balancer.active == Self.set(1))
        let total = h.loop.balancer.bledTotal, bled = h.loop.balancer.bled[1]
        Self.stages(&h, 20)
        #expect(h.loop.balancer.bledTotal == total + MilliampereSeconds(100))
        #expect(h.loop.balancer.bled[1] == bled + 100)
        #expect(h.loop.balancer.remaining[1] == 0)
    }

    @Test func targetsKeepBleedingWhileChargingButNotWhileDischarging() throws {
        var h = try Self.harness(cells: [3_700, 3_710, 3_720, 3_700], configuration: Self.shortRest())
        try #require(Self.untilTargets(&h))
        Self.stages(&h, 1)
        try #require(h.loop.balancer.active == Self.set(1, 2))
        // Above C/10 the voltages say nothing, but the targets still hold.
        h.loop.board.currentSensor.current = Milliamperes(2_000)
        Self.stages(&h, 2)
        #expect(h.loop.balancer.active == Self.set(1, 2))
        h.loop.board.currentSensor.current = Milliamperes(-2_000)
        Self.stages(&h, 1)
        #expect(h.loop.balancer.active.isEmpty)
    }

    // MARK: Suspect readings

    @Test func aCellWithAnOpenWireIsNeverSelected() throws {
        var h = try Self.harness(cells: [3_700, 3_750, 3_740, 3_700])
        Self.stages(&h, 2)
        try #require(h.loop.balancer.active == Self.set(1, 2))
        h.loop.board.cellMonitor.channelStatus[1] = .openWire
        for _ in 0..<1_000 {
            h.tick()
            if h.loop.lastTickStages.contains(.balancing) { #expect(!h.loop.balancer.active.contains(1)) }
        }
        #expect(!h.loop.balancer.active.contains(1))
    }

    @Test func aCellWithAnOpenWireFromTheStartIsNeverSelected() throws {
        var h = try Self.harness(cells: [3_700, 3_800, 3_740, 3_700])
        h.loop.board.cellMonitor.channelStatus[1] = .openWire
        for _ in 0..<1_000 {
            h.tick()
            #expect(!h.loop.balancer.active.contains(1))
        }
    }

    @Test func aStuckChannelIsNeverSelectedEvenWhenNeediest() throws {
        var c = Self.configuration()
        c.protection.stuckTime = .seconds(1)
        // Current flows (≥ the stuck-detection current); cells 0, 2, 3 move, cell 1 is frozen.
        var h = try Self.harness(cells: [3_700, 3_800, 3_700, 3_700], current: -2_000, configuration: c)
        var k: Int32 = 0
        while h.loop.faultMonitor.suspectCells.isEmpty && k < 3_000 {
            let drift = k / 100
            Self.setCells(&h, [3_700 + drift, 3_800, 3_700 + drift, 3_700 + drift])
            h.tick()
            k += 1
        }
        try #require(h.loop.faultMonitor.suspectCells == Self.set(1))
        // At rest: cell 1 would be the neediest (100 mV above), cell 3 needs 60 mV.
        h.loop.board.currentSensor.current = .zero
        Self.setCells(&h, [3_700, 3_800, 3_700, 3_760])
        for _ in 0..<1_000 {
            h.tick()
            #expect(!h.loop.balancer.active.contains(1))
        }
        try #require(h.loop.faultMonitor.suspectCells.contains(1))       // still frozen, still suspect
        #expect(h.loop.balancer.active == Self.set(3))
    }

    // MARK: Failed commands

    /// Regression (found by this test): a failed "switch off" (one checksum error) used to leave
    /// the bleed resistors on for good — here with a sensor above the balancing temperature limit —
    /// because a command was only sent when the decision changed. A refused command is now
    /// repeated: the front end ends up with the balancer's decision once it answers again.
    @Test func aFailedBalancingCommandIsRepeatedUntilTheFrontEndHasIt() throws {
        var rig = try BalancingFlakyRig(cells: [3_700, 3_750, 3_700, 3_700])
        rig.ticks(200)
        try #require(rig.loop.balancer.active == Self.set(1))
        try #require(rig.loop.board.cellMonitor.applied == Self.set(1))
        // Balancing must stop (a sensor above 45 °C), but the command is lost once.
        rig.loop.board.cellMonitor.failBalancing = true
        rig.loop.board.cellMonitor.inner.temperatures[0] = DeciCelsius(460)
        rig.ticks(100)
        #expect(rig.loop.balancer.active.isEmpty)
        #expect(rig.loop.balancingFailures.count >= 1)
        // The front end answers again: within a few decisions its switches match the decision.
        rig.loop.board.cellMonitor.failBalancing = false
        rig.ticks(500)
        #expect(rig.loop.board.cellMonitor.applied == rig.loop.balancer.active,
                "front end still bleeding \(rig.loop.board.cellMonitor.applied.bits), balancer says \(rig.loop.balancer.active.bits)")
    }
}

/// A cell monitor whose balancing command can be made to fail; records the switches the front
/// end actually has.
struct BalancingFlakyMonitor: CellMonitor {
    var inner: TestCellMonitor
    var failBalancing = false
    var applied = CellSet()
    var balancingCapability: BalancingCapability { inner.balancingCapability }
    mutating func measure(into readings: inout CellMonitorReadings) throws(TestFailure) { try inner.measure(into: &readings) }
    mutating func setBalancing(_ command: BalancingCommand) throws(TestFailure) {
        if failBalancing { throw TestFailure(kind: .checksum) }
        applied = command.cells
    }
}

/// The test board's peripherals with `BalancingFlakyMonitor` as the front end.
struct BalancingFlakyBoard: BMSBoard {
    var cellMonitor: BalancingFlakyMonitor
    var currentSensor: TestCurrentSensor
    var contactors: TestContactors
    var canBus: TestCANBus
    var store: TestStore
    var watchdog: TestWatchdog
    var clock = Instant.origin
    mutating func timestamp() -> Instant { clock }
}

/// A loop over `BalancingFlakyBoard`, ticked at exact 1 ms steps from t = 1 ms.
struct BalancingFlakyRig {
    var loop: ControlLoop<BalancingFlakyBoard>
    var now = Instant.origin

    init(cells: [Int32]) throws {
        let base = TestBoard(cellVoltages: cells)
        let board = BalancingFlakyBoard(cellMonitor: BalancingFlakyMonitor(inner: base.cellMonitor), currentSensor: base.currentSensor,
                                        contactors: base.contactors, canBus: base.canBus, store: base.store, watchdog: base.watchdog)
        loop = try ControlLoop(board: board, configuration: BalancingControllerTests.configuration())
    }

    mutating func ticks(_ n: Int) {
        for _ in 0..<n {
            now = now + ControlLoopTiming.tickPeriod
            loop.board.clock = now
            loop.tick(now: now)
        }
    }
}
