// The on-chip scenario: the firmware against a compact, Embedded-clean pack model for a fixed
// 10 simulated minutes at 1 ms ticks, with a fault that opens the contactors, and a digest of
// every CAN frame the firmware sent. The same code runs in the Cortex-M4F image (under QEMU), in
// the Embedded x86_64 image and in a SwiftPM test (Tests/FirmwareTests/Scenario.swift is a link
// to this file); each prints or checks the same digest (Fixtures/scenario-digest.txt).
// Integer arithmetic only in the model, so every platform computes the same pack.
import Firmware
import HAL

/// FNV-1a, 32 bits.
struct FNV1a: Sendable {
    var value: UInt32 = 0x811C_9DC5
    mutating func add(_ byte: UInt8) { value = (value ^ UInt32(byte)) &* 0x0100_0193 }
    mutating func add(_ word: UInt32) {
        for k in 0..<4 { add(UInt8(truncatingIfNeeded: word &>> UInt32(truncatingIfNeeded: 8 * k))) }
    }
}

/// The one failure a scenario peripheral can report (none does).
struct ScenarioFailure: HALFailure {
    var kind: HALErrorKind
}

/// A 16-cell string of 5 Ah NMC cells: OCV from the charge, a 2 mΩ series resistance and one
/// RC branch (1.5 mΩ, 20 s) per cell, per-cell charge offsets, passive balancing bleeding 100 mA.
/// Current is positive when charging.
struct ScenarioPack: Sendable {
    static let cellCount = 16
    static let capacitymAs: Int32 = 5_000 * 3_600
    static let ocvTable: InlineArray<11, Int32> = [3_000, 3_300, 3_450, 3_550, 3_620, 3_680, 3_750, 3_850, 3_950, 4_050, 4_180]
    /// Each cell's charge at the start (mAs): 70 % plus a manufacturing offset.
    static let startOffset: InlineArray<16, Int32> = [0, 72_000, -36_000, 144_000, 18_000, -108_000, 216_000, 54_000,
                                                      -18_000, 126_000, -72_000, 90_000, 0, 180_000, -126_000, 36_000]

    var chargemAs = InlineArray<16, Int32>(repeating: 0)
    var remaindermAms = InlineArray<16, Int32>(repeating: 0)    // sub-mAs remainder of each cell's integral (mA·ms)
    var rcMicrovolts = InlineArray<16, Int32>(repeating: 0)      // the RC branch's voltage (µV)
    /// The pack current of the present millisecond (mA), as the load draws it.
    var current: Int32 = 0

    init() {
        for i in 0..<ScenarioPack.cellCount { chargemAs[i] = 12_600_000 + ScenarioPack.startOffset[i] }
    }

    /// The OCV (mV) at a charge (mAs): the table, linear between its points.
    static func ocv(_ chargemAs: Int32) -> Int32 {
        let permille = max(0, min(1_000, chargemAs / (capacitymAs / 1_000)))
        let index = Int(permille / 100), fraction = permille % 100
        if index >= 10 { return ocvTable[10] }
        return ocvTable[index] + (ocvTable[index + 1] - ocvTable[index]) * fraction / 100
    }

    /// Cell `i`'s terminal voltage (mV) at the present current.
    func cellVoltage(_ i: Int) -> Int32 {
        ScenarioPack.ocv(chargemAs[i]) + current * 2 / 1_000 + rcMicrovolts[i] / 1_000
    }

    /// One millisecond of `current` (mA) through the string; cells in `bleeding` lose 100 mA more.
    mutating func advance(current: Int32, bleeding: CellSet) {
        self.current = current
        for i in 0..<ScenarioPack.cellCount {
            let cellmA = bleeding.contains(i) ? current - 100 : current
            remaindermAms[i] += cellmA
            chargemAs[i] += remaindermAms[i] / 1_000
            remaindermAms[i] %= 1_000
            // dv/dt = (I·R1 − v)/τ with R1 = 1.5 mΩ (µV per mA), τ = 20,000 ms.
            rcMicrovolts[i] += (cellmA * 3 / 2 - rcMicrovolts[i]) / 20_000
        }
    }
}

/// The front end: registers latched before each tick; from `openWireAt` on, cell 7's sense
/// wire is open.
struct ScenarioCellMonitor: CellMonitor {
    var latched = InlineArray<16, Int32>(repeating: 0)
    var openWire = false
    var balancing = BalancingCommand.off
    var balancingCapability: BalancingCapability { .passive(maximumChannels: 8, bleedCurrent: Milliamperes(100)) }
    mutating func measure(into readings: inout CellMonitorReadings) throws(ScenarioFailure) {
        for i in readings.cellVoltages.indices {
            readings.cellVoltages[i] = openWire && i == 6 ? Reading(.zero, status: .openWire) : Reading(Millivolts(latched[i]))
        }
        for i in readings.temperatures.indices { readings.temperatures[i] = Reading(DeciCelsius(250 + Int16(i))) }
    }
    mutating func setBalancing(_ command: BalancingCommand) throws(ScenarioFailure) { balancing = command }
}

struct ScenarioCurrentSensor: CurrentSensor {
    var current = Milliamperes.zero
    var packVoltage = Millivolts.zero
    var linkVoltage = Millivolts.zero
    mutating func measure() throws(ScenarioFailure) -> PackSensorReadings {
        PackSensorReadings(current: Reading(current), packVoltage: Reading(packVoltage), linkVoltage: Reading(linkVoltage))
    }
}

struct ScenarioContactors: ContactorDriver {
    var position = ContactorFeedback(mainPositive: .open, mainNegative: .open, precharge: .open)
    mutating func command(_ contactor: Contactor, closed: Bool) throws(ScenarioFailure) {
        position[contactor] = closed ? .closed : .open
    }
    mutating func feedback() throws(ScenarioFailure) -> ContactorFeedback { position }
}

/// Folds every frame sent into the digest: identifier (4 bytes, little-endian), length, payload.
struct ScenarioCANBus: CANBus {
    var digest = FNV1a()
    var framesSent: UInt32 = 0
    mutating func send(_ frame: CANFrame) throws(ScenarioFailure) {
        framesSent &+= 1
        var copy = frame        // at an address, so reading its bytes does not copy it per byte
        ScenarioCANBus.fold(&digest, &copy)
    }
    static func fold(_ digest: inout FNV1a, _ frame: inout CANFrame) {
        digest.add(frame.id.rawValue)
        digest.add(UInt8(truncatingIfNeeded: frame.length))
        for i in 0..<frame.length { digest.add(frame[i]) }
    }
    mutating func receive() throws(ScenarioFailure) -> CANFrame? { nil }
}

struct ScenarioStore: NonVolatileStore {
    var geometry: StoreGeometry { StoreGeometry(pageCount: 1, wordsPerPage: 1) }
    mutating func erase(page: Int) throws(ScenarioFailure) {}
    mutating func write(page: Int, word: Int, value: UInt32) throws(ScenarioFailure) {}
    mutating func read(page: Int, word: Int) throws(ScenarioFailure) -> UInt32 { 0xFFFF_FFFF }
}

struct ScenarioWatchdog: Watchdog {
    var feeds: UInt32 = 0
    mutating func feed() { feeds &+= 1 }
}

struct ScenarioBoard: BMSBoard {
    var cellMonitor = ScenarioCellMonitor()
    var currentSensor = ScenarioCurrentSensor()
    var contactors = ScenarioContactors()
    var canBus = ScenarioCANBus()
    var store = ScenarioStore()
    var watchdog = ScenarioWatchdog()
    var pack = ScenarioPack()
    /// Simulated time: the clock does not advance during a tick.
    var clock = Instant.origin
    mutating func timestamp() -> Instant { clock }
}

/// The scenario.
enum Scenario {
    /// 10 simulated minutes at 1 ms.
    static let ticks = 600_000
    /// Cell 7's sense wire opens at 8 min: implausible, maximum safety, the contactors open.
    static let openWireAt = 480_000
    /// The vehicle asks for standby at 5 min and to drive again 2 s later.
    static let standbyAt = 300_000, driveAgainAt = 302_000

    /// The load (mA, negative when discharging) at millisecond `t`: a 120 s cycle of a 20 A
    /// launch, 8 A driving, 4 A regeneration, 12 A and a rest.
    static func load(_ t: Int) -> Int32 {
        switch t % 120_000 {
        case 0..<5_000: return -20_000
        case 5_000..<70_000: return -8_000
        case 70_000..<80_000: return 4_000
        case 80_000..<90_000: return -12_000
        default: return 0
        }
    }

    /// The pack's configuration, written in place, every field (the bench's policy for this cell).
    static func configuration(into c: inout PackConfiguration) {
        let r = ratings()
        var ocv = OCVCurve()
        for i in 0..<11 { ocv.append(socPermille: Int32(truncatingIfNeeded: i) * 100, voltage: Millivolts(ScenarioPack.ocvTable[i])) }
        c.cellCount = ScenarioPack.cellCount
        c.temperatureSensorCount = 4
        c.ratedCapacity = .milliampereHours(5_000)
        c.plausibleCellVoltage = Millivolts(500)...Millivolts(5_000)
        c.plausibleTemperature = DeciCelsius(-400)...DeciCelsius(1_200)
        c.plausibleCurrent = Milliamperes(-500_000)...Milliamperes(500_000)
        c.measurementTimeout = .milliseconds(100)
        c.openCircuitVoltage = ocv
        c.restCurrent = Milliamperes(500)
        c.protection = StandardPolicy.protection(r)
        c.contactors = StandardPolicy.contactors(r, breakCurrent: Milliamperes(150_000))
        c.powerLimits = StandardPolicy.powerLimits(r)
        c.balancing = StandardPolicy.balancing(r)
    }

    /// The estimation: the model's own circuit on the OCV curve, written in place.
    static func estimation(into c: inout StateEstimationConfiguration) {
        var circuit = ratings()
        circuit.r0Milliohms = 2
        circuit.r1Milliohms = 1.5
        circuit.tau1Seconds = 20
        circuit.r2Milliohms = 0
        circuit.resistanceRisePerKelvinBelow25 = 0
        var ocv = OCVCurve()
        for i in 0..<11 { ocv.append(socPermille: Int32(truncatingIfNeeded: i) * 100, voltage: Millivolts(ScenarioPack.ocvTable[i])) }
        StandardPolicy.estimation(circuit, openCircuitVoltage: ocv, into: &c)
    }

    static func ratings() -> ElementRatings {
        ElementRatings(
            maximumVoltage: Millivolts(4_200), minimumVoltage: Millivolts(2_500), capacitymAh: 5_000,
            continuousCharge: Milliamperes(5_000), continuousDischarge: Milliamperes(15_000), peakDischarge: Milliamperes(20_000),
            r0Milliohms: 20, r1Milliohms: 8, tau1Seconds: 5, r2Milliohms: 8, tau2Seconds: 200, resistanceRisePerKelvinBelow25: 0.03,
            heatCapacity: 70, thermalConductance: 0.35)
    }

    /// Sets `loop` up in place for the scenario.
    static func setUp(_ loop: inout ControlLoop<ScenarioBoard>) throws(ConfigurationError) {
        try loop.setUp(board: ScenarioBoard(), configuration: { configuration(into: &$0) }, estimation: { estimation(into: &$0) })
    }

    /// One millisecond: the vehicle's requests, the load through the closed mains, the sensors
    /// latch, the loop ticks.
    static func step(_ loop: inout ControlLoop<ScenarioBoard>, _ t: Int) {
        if t == 0 || t == driveAgainAt { _ = loop.submit(.drive) }
        if t == standbyAt { _ = loop.submit(.standby) }
        let f = loop.board.contactors.position
        let mains = f.mainPositive == .closed && f.mainNegative == .closed
        let current = mains ? load(t) : 0
        loop.board.pack.advance(current: current, bleeding: loop.board.cellMonitor.balancing.cells)
        var packmV: Int32 = 0
        for i in 0..<ScenarioPack.cellCount {
            let v = loop.board.pack.cellVoltage(i)
            loop.board.cellMonitor.latched[i] = v
            packmV &+= v
        }
        loop.board.cellMonitor.openWire = t >= openWireAt
        loop.board.currentSensor.current = Milliamperes(current)
        loop.board.currentSensor.packVoltage = Millivolts(packmV)
        loop.board.currentSensor.linkVoltage = f.mainNegative == .closed && (mains || f.precharge == .closed) ? Millivolts(packmV) : .zero
        loop.board.clock = loop.board.clock + ControlLoopTiming.tickPeriod
        loop.tick(now: loop.board.clock)
    }

    /// What the scenario ends with.
    struct Result: Equatable, Sendable {
        var digest: UInt32 = 0
        var framesSent: UInt32 = 0
        /// BMS_Status's BmsState (0 standby … 4 error), the latched faults (FaultSet bits), the
        /// contactors (bit 0 main +, 1 main −, 2 precharge closed), the estimated SOC (permille, −1 unknown).
        var state: UInt8 = 0
        var latched: UInt32 = 0
        var contactors: UInt8 = 0
        var socPermille: Int32 = -1
        var watchdogFeeds: UInt32 = 0

        /// What the scenario must end in: every tick run, the open wire latched, the contactors open.
        var passed: Bool {
            watchdogFeeds == UInt32(Scenario.ticks) && state == 4 && latched & (1 << UInt32(FaultID.cellVoltageImplausible.rawValue)) != 0
                && contactors == 0
        }
    }

    /// Runs the whole scenario on a loop that `setUp` prepared.
    static func run(_ loop: inout ControlLoop<ScenarioBoard>) -> Result {
        for t in 0..<ticks { step(&loop, t) }
        var r = Result()
        r.digest = loop.board.canBus.digest.value
        r.framesSent = loop.board.canBus.framesSent
        switch loop.stateMachine.state {
        case .standby: r.state = 0
        case .connecting: r.state = 1
        case .connected: r.state = 2
        case .disconnecting: r.state = 3
        case .error: r.state = 4
        }
        r.latched = loop.stateMachine.latched.bits
        let f = loop.board.contactors.position
        r.contactors = (f.mainPositive == .closed ? 1 : 0) | (f.mainNegative == .closed ? 2 : 0) | (f.precharge == .closed ? 4 : 0)
        if let soc = loop.stateOfChargeInPlace() { r.socPermille = Int32(soc * 1_000) }
        r.watchdogFeeds = loop.board.watchdog.feeds
        return r
    }
}
