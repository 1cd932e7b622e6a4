// The in-place set-up a board with the loop in static storage uses (ControlLoop.setUp) must give
// the loop `init` gives: same behaviour tick by tick, from storage that held another loop before.
import Testing
@testable import Firmware
import HAL

@Suite struct InPlaceSetUpTests {
    /// A deep, field-by-field text of a value (every stored property, recursively; `dump` does
    /// not show what an `InlineArray` holds, so lists are compared element by element, and
    /// tables as bytes, below).
    static func text<T>(_ value: T) -> String {
        var s = ""
        dump(value, to: &s)
        return s
    }

    /// The bytes of a cell model (its tables are `InlineArray`s of Floats: no padding).
    static func bytes(_ model: CellModelTable) -> [UInt8] { withUnsafeBytes(of: model) { Array($0) } }

    /// Every part of two loops' state that a set-up defines, compared as text.
    static func differences(_ a: inout ControlLoop<TestBoard>, _ b: inout ControlLoop<TestBoard>) -> [String] {
        var found: [String] = []
        func check(_ name: String, _ x: String, _ y: String) { if x != y { found.append(name) } }
        check("configuration", text(a.configuration), text(b.configuration))
        check("estimation", text(a.estimator.configuration), text(b.estimator.configuration))
        check("cell model", "\(bytes(a.estimator.configuration.cellModel))", "\(bytes(b.estimator.configuration.cellModel))")
        check("measurements", text(a.measurements), text(b.measurements))
        for i in 0..<min(a.measurements.cells.cellVoltages.count, b.measurements.cells.cellVoltages.count) {
            check("cell \(i)", text(a.measurements.cells.cellVoltages[i]), text(b.measurements.cells.cellVoltages[i]))
        }
        check("fault monitor", text(a.faultMonitor), text(b.faultMonitor))
        check("estimator", text(a.estimator.elements.count) + text(a.estimator.stateOfCharge) + text(a.estimator.bound)
                + text(a.estimator.heldCelsius) + text(a.estimator.isStarted) + text(a.estimator.turn) + text(a.estimator.trend)
                + text(a.estimator.equivalentFullCycles) + text(a.estimator.lastChargeNanocoulombs)
                + text(a.estimator.lowestStateOfCharge) + text(a.estimator.highestStateOfCharge)
                + text(a.estimator.surveyedUsableCharge) + text(a.estimator.survey) + text(a.estimator.surveyStarted),
              text(b.estimator.elements.count) + text(b.estimator.stateOfCharge) + text(b.estimator.bound)
                + text(b.estimator.heldCelsius) + text(b.estimator.isStarted) + text(b.estimator.turn) + text(b.estimator.trend)
                + text(b.estimator.equivalentFullCycles) + text(b.estimator.lastChargeNanocoulombs)
                + text(b.estimator.lowestStateOfCharge) + text(b.estimator.highestStateOfCharge)
                + text(b.estimator.surveyedUsableCharge) + text(b.estimator.survey) + text(b.estimator.surveyStarted))
        for i in 0..<min(a.estimator.elements.count, b.estimator.elements.count) {
            check("element \(i)", text(a.estimator.elements[i]), text(b.estimator.elements[i]))
        }
        check("CAN", text(a.can), text(b.can))
        check("rest", text(a.schedule) + text(a.cellStatistics) + text(a.temperatureStatistics) + text(a.coulombCounter)
                + text(a.chargeBasedSOC) + text(a.timing) + text(a.lastTickStages) + text(a.stateMachine) + text(a.sequencer)
                + text(a.powerLimiter.limits) + text(a.powerLimiter.available) + text(a.powerLimiter.hottestExcess)
                + text(a.balancer.active) + text(a.balancer.bledTotal) + text(a.requests.pending.count) + text(a.lastAnswer)
                + text(a.answers) + text(a.contactorFeedback) + text(a.feedbackReadAt) + text(a.contactorFailures)
                + text(a.balancingFailures),
              text(b.schedule) + text(b.cellStatistics) + text(b.temperatureStatistics) + text(b.coulombCounter)
                + text(b.chargeBasedSOC) + text(b.timing) + text(b.lastTickStages) + text(b.stateMachine) + text(b.sequencer)
                + text(b.powerLimiter.limits) + text(b.powerLimiter.available) + text(b.powerLimiter.hottestExcess)
                + text(b.balancer.active) + text(b.balancer.bledTotal) + text(b.requests.pending.count) + text(b.lastAnswer)
                + text(b.answers) + text(b.contactorFeedback) + text(b.feedbackReadAt) + text(b.contactorFailures)
                + text(b.balancingFailures))
        return found
    }

    static func curve() -> OCVCurve {
        var ocv = OCVCurve()
        ocv.append(socPermille: 0, voltage: Millivolts(3_000))
        ocv.append(socPermille: 500, voltage: Millivolts(3_700))
        ocv.append(socPermille: 1_000, voltage: Millivolts(4_200))
        return ocv
    }

    /// What a tick leaves to be seen from outside, as text.
    static func observed(_ loop: inout ControlLoop<TestBoard>) -> String {
        let sent = loop.board.canBus.sent.map { frame in "\(frame.id.rawValue):\((0..<frame.length).map { frame[$0] })" }
        return "\(sent) \(loop.stateOfChargeInPlace().map { $0.bitPattern } as Any) \(text(loop.powerLimits)) "
            + "\(loop.stateMachine.state) \(loop.stateMachine.latched.bits) \(text(loop.faultMonitor.status)) \(loop.balancer.active.bits) "
            + "\(loop.estimator.bound.map { $0.bitPattern } as Any) \(text(loop.cellStatistics)) \(text(loop.temperatureStatistics)) "
            + "\(loop.lastTickStages.bits) \(loop.contactorFeedback) \(text(loop.coulombCounter)) \(text(loop.lastAnswer))"
    }

    /// Drives `loop` for `ticks` ms from `start`: a drive request, a load that changes every
    /// 300 ms, and from 4 s on one cell creeping above its overvoltage limit (a trip).
    static func drive(_ loop: inout ControlLoop<TestBoard>, from start: Int, ticks: Int, record: (inout ControlLoop<TestBoard>, Int) -> Void) {
        for k in start..<(start + ticks) {
            if k == start + 5 { _ = loop.submit(.drive) }
            let p = loop.board.contactors.position
            let closed = p.mainPositive == .closed && p.mainNegative == .closed
            loop.board.currentSensor.current = closed ? Milliamperes(Int32(truncatingIfNeeded: -((k / 300) % 5) * 4_000)) : .zero
            if k - start > 4_000 { loop.board.cellMonitor.cellVoltages[2] = Millivolts(Int32(truncatingIfNeeded: 3_700 + (k - start - 4_000))) }
            loop.board.canBus.sent.removeAll()
            let now = Instant.origin + .milliseconds(Int32(truncatingIfNeeded: k + 1))
            loop.board.tickStart = now
            loop.tick(now: now)
            record(&loop, k)
        }
    }

    @Test(arguments: [true, false])
    func setUpInPlaceBehavesLikeInit(withCellModel: Bool) throws {
        let configuration = testConfiguration(cellCount: 4, temperatureSensors: 2)
        let ratings = testRatings()
        func board() -> TestBoard { TestBoard(cellVoltages: [3_650, 3_660, 3_640, 3_655], temperatures: [250, 252]) }
        var fresh = try ControlLoop(board: board(), configuration: configuration,
                                    estimation: withCellModel ? StandardPolicy.estimation(ratings, openCircuitVoltage: Self.curve()) : nil)

        // The storage first holds another loop (another pack, another tuning) that has run.
        var other = StandardPolicy.estimation(testRatings(capacitymAh: 3_000), openCircuitVoltage: Self.curve())
        other.relaxation = 60
        other.tuning.voltageNoise = 0.05
        other.sensorElements.append(1)
        var reused = try ControlLoop(board: TestBoard(cellVoltages: [3_900, 3_950, 3_800, 3_700, 3_900, 3_910], temperatures: [310]),
                                     configuration: testConfiguration(cellCount: 6, temperatureSensors: 1, capacitymAh: 3_000),
                                     estimation: other)
        Self.drive(&reused, from: 0, ticks: 6_000) { _, _ in }
        #expect(reused.stateMachine.latched.bits != 0)       // it did trip: its state is far from new

        if withCellModel {
            try reused.setUp(board: board(), configuration: { $0 = configuration },
                             estimation: { StandardPolicy.estimation(ratings, openCircuitVoltage: Self.curve(), into: &$0) })
        } else {
            try reused.setUp(board: board(), configuration: { $0 = configuration })
        }
        #expect(Self.differences(&reused, &fresh) == [])
        #expect(reused.estimator.isEnabled == withCellModel)

        var expected: [String] = []
        Self.drive(&fresh, from: 0, ticks: 8_000) { loop, _ in expected.append(Self.observed(&loop)) }
        var differences = 0
        Self.drive(&reused, from: 0, ticks: 8_000) { loop, k in
            if Self.observed(&loop) != expected[k] { differences += 1 }
        }
        #expect(differences == 0)
        #expect(fresh.stateMachine.latched.bits != 0)        // the run reached the trip
    }

    @Test func estimationDefaultsInPlaceMatchInit() {
        var c = StandardPolicy.estimation(testRatings(capacitymAh: 3_000), openCircuitVoltage: Self.curve())
        c.relaxation = 1
        c.capacityTemperatureWindow = 0...1
        c.tuning.anchorRest = 5
        c.sensorElements.append(3)
        c.thermal = ThermalChain(heatCapacityJoulesPerKelvin: 70, neighbourConductanceWattsPerKelvin: 0.15,
                                 ambientConductanceWattsPerKelvin: 0.05, sensorLagSeconds: 10)
        c.setIdle()
        let idle = StateEstimationConfiguration.idle()
        #expect(Self.text(c) == Self.text(idle))
        #expect(Self.bytes(c.cellModel) == Self.bytes(idle.cellModel))
    }

    @Test func configurationRejectedInPlaceAsByInit() {
        var loop = try? ControlLoop(board: TestBoard(cellVoltages: [3_700]), configuration: testConfiguration(cellCount: 1))
        #expect(loop != nil)
        #expect(throws: ConfigurationError.cellCountOutOfRange) {
            try loop?.setUp(board: TestBoard(cellVoltages: [3_700]), configuration: { $0 = testConfiguration(cellCount: 0) })
        }
    }
}
