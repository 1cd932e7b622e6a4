// A scripted board for firmware tests: readings set by the test, every peripheral call logged
// in order, failures injected on demand.
import Firmware
import HAL

/// The order in which the loop touched the board, shared by all test peripherals.
final class CallLog: @unchecked Sendable {
    var calls: [String] = []
}

struct TestFailure: HALFailure, Equatable {
    var kind: HALErrorKind
}

struct TestCellMonitor: CellMonitor {
    let log: CallLog
    /// Per cell: a voltage (valid), or nil to leave the channel unmeasured.
    var cellVoltages: [Millivolts?]
    var temperatures: [DeciCelsius?]
    /// Channel statuses the front end reports instead of `.valid` (e.g. `.openWire`).
    var channelStatus: [Int: ReadingStatus] = [:]
    var failure: TestFailure? = nil
    var balancingCapability: BalancingCapability { .passive(maximumChannels: 4, bleedCurrent: Milliamperes(50)) }

    mutating func measure(into readings: inout CellMonitorReadings) throws(TestFailure) {
        log.calls.append("cellMonitor.measure")
        if let failure { throw failure }
        for i in readings.cellVoltages.indices where i < cellVoltages.count {
            if let v = cellVoltages[i] { readings.cellVoltages[i] = Reading(v, status: channelStatus[i] ?? .valid) }
        }
        for i in readings.temperatures.indices where i < temperatures.count {
            if let t = temperatures[i] { readings.temperatures[i] = Reading(t) }
        }
    }
    mutating func setBalancing(_ command: BalancingCommand) throws(TestFailure) { log.calls.append("cellMonitor.setBalancing") }
}

struct TestCurrentSensor: CurrentSensor {
    let log: CallLog
    var current: Milliamperes? = .zero
    /// Pack and link voltages (nil: not measured).
    var packVoltage: Millivolts? = nil
    var linkVoltage: Millivolts? = nil
    var failure: TestFailure? = nil
    mutating func measure() throws(TestFailure) -> PackSensorReadings {
        log.calls.append("currentSensor.measure")
        if let failure { throw failure }
        func reading(_ v: Millivolts?) -> Reading<Millivolts> { v.map { Reading($0) } ?? Reading(.zero, status: .notMeasured) }
        guard let current else {
            return PackSensorReadings(current: Reading(.zero, status: .notMeasured), packVoltage: reading(packVoltage),
                                      linkVoltage: reading(linkVoltage))
        }
        return PackSensorReadings(current: Reading(current), packVoltage: reading(packVoltage), linkVoltage: reading(linkVoltage))
    }
}

/// Contactors whose feedback follows the last command at once, unless forced.
struct TestContactors: ContactorDriver {
    let log: CallLog
    var position = ContactorFeedback(mainPositive: .open, mainNegative: .open, precharge: .open)
    var forced = ContactorFeedback()
    var commands: [ContactorCommand] = []
    mutating func command(_ contactor: Contactor, closed: Bool) throws(TestFailure) {
        log.calls.append("contactors.command")
        commands.append(ContactorCommand(contactor, closed: closed))
        position[contactor] = closed ? .closed : .open
    }
    mutating func feedback() throws(TestFailure) -> ContactorFeedback {
        log.calls.append("contactors.feedback")
        var result = position
        for c in [Contactor.mainPositive, .mainNegative, .precharge] where forced[c] != .unknown { result[c] = forced[c] }
        return result
    }
}

/// A bus whose incoming frames the test queues and whose sent frames it inspects; `sendFailure`
/// makes every send fail (a full mailbox, bus off).
struct TestCANBus: CANBus {
    let log: CallLog
    var incoming: [CANFrame] = []
    var sent: [CANFrame] = []
    var sendFailure: TestFailure? = nil
    mutating func send(_ frame: CANFrame) throws(TestFailure) {
        log.calls.append("canBus.send")
        if let sendFailure { throw sendFailure }
        sent.append(frame)
    }
    mutating func receive() throws(TestFailure) -> CANFrame? {
        log.calls.append("canBus.receive")
        return incoming.isEmpty ? nil : incoming.removeFirst()
    }
}

struct TestStore: NonVolatileStore {
    let log: CallLog
    var geometry: StoreGeometry { StoreGeometry(pageCount: 1, wordsPerPage: 1) }
    mutating func erase(page: Int) throws(TestFailure) { log.calls.append("store.erase") }
    mutating func write(page: Int, word: Int, value: UInt32) throws(TestFailure) { log.calls.append("store.write") }
    mutating func read(page: Int, word: Int) throws(TestFailure) -> UInt32 { log.calls.append("store.read"); return 0 }
}

struct TestWatchdog: Watchdog {
    let log: CallLog
    var feeds = 0
    mutating func feed() { log.calls.append("watchdog.feed"); feeds += 1 }
}

struct TestBoard: BMSBoard {
    let log = CallLog()
    var cellMonitor: TestCellMonitor
    var currentSensor: TestCurrentSensor
    var contactors: TestContactors
    var canBus: TestCANBus
    var store: TestStore
    var watchdog: TestWatchdog
    /// What `timestamp()` returns: the tick's start plus `executionTime`.
    var tickStart = Instant.origin
    var executionTime = Microseconds.zero

    init(cellVoltages: [Int32], temperatures: [Int16] = [250, 251]) {
        cellMonitor = TestCellMonitor(log: log, cellVoltages: cellVoltages.map { Millivolts($0) },
                                      temperatures: temperatures.map { DeciCelsius($0) })
        currentSensor = TestCurrentSensor(log: log)
        contactors = TestContactors(log: log)
        canBus = TestCANBus(log: log)
        store = TestStore(log: log)
        watchdog = TestWatchdog(log: log)
    }

    mutating func timestamp() -> Instant {
        log.calls.append("timestamp")
        return tickStart + executionTime
    }
}

/// A 5 Ah NMC cell's datasheet: 4.2 V / 2.5 V, 1C charge, 3C continuous, 4C peak discharge.
func testRatings(capacitymAh: Int32 = 5_000) -> ElementRatings {
    ElementRatings(maximumVoltage: Millivolts(4_200), minimumVoltage: Millivolts(2_500), capacitymAh: capacitymAh,
                   continuousCharge: Milliamperes(capacitymAh), continuousDischarge: Milliamperes(3 * capacitymAh),
                   peakDischarge: Milliamperes(4 * capacitymAh), r0Milliohms: 20, r1Milliohms: 8, tau1Seconds: 5, r2Milliohms: 8,
                   tau2Seconds: 200, resistanceRisePerKelvinBelow25: 0.03,
        heatCapacity: 70, thermalConductance: 0.35)
}

/// A configuration as a datasheet would give it (NMC cell, 5 Ah), for `cellCount` cells, with
/// the standard policy.
func testConfiguration(cellCount: Int = 4, temperatureSensors: Int = 2, capacitymAh: Int32 = 5_000) -> PackConfiguration {
    var ocv = OCVCurve()
    ocv.append(socPermille: 0, voltage: Millivolts(3_000))
    ocv.append(socPermille: 500, voltage: Millivolts(3_700))
    ocv.append(socPermille: 1_000, voltage: Millivolts(4_200))
    return PackConfiguration(
        cellCount: cellCount, temperatureSensorCount: temperatureSensors, ratedCapacity: .milliampereHours(capacitymAh),
        plausibleCellVoltage: Millivolts(500)...Millivolts(5_000),
        plausibleTemperature: DeciCelsius(-400)...DeciCelsius(1_200),
        plausibleCurrent: Milliamperes(-500_000)...Milliamperes(500_000),
        measurementTimeout: .milliseconds(100), openCircuitVoltage: ocv, restCurrent: Milliamperes(250),
        protection: StandardPolicy.protection(testRatings(capacitymAh: capacitymAh)),
        contactors: StandardPolicy.contactors(testRatings(capacitymAh: capacitymAh), breakCurrent: Milliamperes(150_000)),
        powerLimits: StandardPolicy.powerLimits(testRatings(capacitymAh: capacitymAh)),
        balancing: StandardPolicy.balancing(testRatings(capacitymAh: capacitymAh)))
}

/// A loop over a test board, ticked at exact 1 ms steps from t = 1 ms.
struct LoopHarness {
    var loop: ControlLoop<TestBoard>
    var now = Instant.origin

    init(board: TestBoard, configuration: PackConfiguration = testConfiguration(), estimation: StateEstimationConfiguration? = nil) throws {
        loop = try ControlLoop(board: board, configuration: configuration, estimation: estimation)
    }

    mutating func tick(after interval: Microseconds = ControlLoopTiming.tickPeriod) {
        now = now + interval
        loop.board.tickStart = now
        loop.tick(now: now)
    }
}
