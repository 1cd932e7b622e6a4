// A simulation run: the firmware's control loop against the virtual pack, one 1 ms tick at a
// time, in simulated time only. The same scenario and seed give the same bytes.
import Firmware
import HAL

/// One row of the firmware-side time series (once per simulated second).
public struct SimulationSample: Equatable, Sendable {
    public var time: Instant
    /// Pack current (A, positive = charging), true.
    public var current: Double
    /// Mean true SOC of the series elements, and the firmware's pack SOC (nil before it knows).
    public var trueStateOfCharge: Double
    public var estimatedStateOfCharge: Float?
    /// The firmware's cell statistics at that tick.
    public var cellStatistics: PackStatistics<Millivolts>?
    /// The firmware's temperature statistics, and the true ambient and hottest cell (°C).
    public var temperatureStatistics: PackStatistics<DeciCelsius>?
    public var ambient: Double
    public var hottestCell: Double
    /// What the load was doing (delivery day: resting, riding, charging).
    public var activity: String
    /// The BMS state, its 2 s discharge and charge limits (A), the cells bleeding, and the faults
    /// at the warning tier or above.
    public var bmsState: String
    public var dischargeLimit: Double
    public var chargeLimit: Double
    public var balancingCells: Int
    public var faults: String
    /// The early warning: the highest alert level, and the top-ranked cell as
    /// "cell:reason:score" (empty when no cell has a score).
    public var alert: String
    public var topRisk: String
}

/// The firmware running against a virtual pack, in one process: the pack's world on one side
/// of a VirtualBoard, the control loop on the other.
public struct Simulation {
    public private(set) var world: PackWorld
    public var loop: ControlLoop<VirtualBoard>
    /// Where the bus traffic goes (`simulate --can-log`): every frame in both directions, in
    /// candump format, timestamped with simulated time. Nil: not logged (the frames are dropped).
    public var canLog: CANTrafficLog? = nil
    /// For the log: what the measurement nodes and the BMS's I/O command would carry if the
    /// pack and the firmware met over CAN (what `replay` needs to run the log again).
    var rigFrames = (measurements: MeasurementTransmitter(), io: IOCommandSchedule())

    public var scenario: Scenario { world.scenario }
    public var pack: VirtualPack { world.pack }
    public var sensors: PackSensors { world.sensors }
    public var now: Instant { world.now }
    public var load: LoadController { world.load }

    /// The scenario's pack as built (the same cells for the same seed, with or without firmware).
    public static func makePack(_ scenario: Scenario) -> VirtualPack { PackWorld.makePack(scenario) }

    public init(scenario: Scenario) throws(HarnessError) {
        world = PackWorld(scenario: scenario)
        let configuration = try FirmwareSetup.configuration(for: scenario.pack)
        let board = VirtualBoard(cellCount: scenario.pack.seriesCount, temperatureSensorCount: scenario.pack.temperatureSensorCells.count)
        do {
            loop = try ControlLoop(board: board, configuration: configuration, estimation: FirmwareSetup.estimation(for: scenario.pack))
        } catch {
            throw HarnessError("the firmware rejected the configuration: \(error.explanation)")
        }
        applyPeripheralFaults()
        sense()
    }

    /// Replaces the load from now on: a benchmark forks a simulation (it is a value: a copy is a
    /// second, independent world) and drives the copy differently.
    public mutating func switchLoad(to profile: LoadProfile, obeysLimits: Bool) {
        world.switchLoad(to: profile, obeysLimits: obeysLimits)
    }

    /// What the world sees of the firmware.
    var bmsOutputs: BMSOutputs {
        BMSOutputs(limits: loop.powerLimits, displayedStateOfCharge: loop.stateOfCharge, state: loop.stateMachine.state)
    }

    /// Runs one tick: the contacts move, the load draws what the contactors and the BMS's limits
    /// let it for 1 ms, the sensors latch what the pack shows, then the firmware ticks at the end
    /// of that millisecond.
    public mutating func step() {
        if world.advance(contactors: &loop.board.contactors, bms: bmsOutputs) { applyPeripheralFaults() }
        sense()
        let now = world.now
        loop.board.clock = now
        if canLog != nil { logMeasurementFrames() }
        if let request = world.vehicleRequest(bmsState: loop.stateMachine.state), let arriving = world.throughBus(request) {
            loop.board.canBus.deliver(arriving)
            canLog?.record(arriving, at: now)
        }
        loop.tick(now: now)
        if !loop.board.canBus.sent.isEmpty {
            if canLog != nil { for frame in loop.board.canBus.sent { canLog!.record(frame, at: now) } }
            loop.board.canBus.clearSent()
        }
        if canLog != nil, let frame = rigFrames.io.frame(coils: loop.board.contactors.commanded,
                                                         balancing: loop.board.cellMonitor.balancing, now: now) {
            canLog!.record(frame, at: now)
        }
        world.follow(balancing: loop.board.cellMonitor.balancing)
    }

    /// Logs this millisecond's measurement frames as the nodes would send them.
    mutating func logMeasurementFrames() {
        let now = world.now
        var log = canLog!
        canLog = nil   // one owner of the buffer while it grows
        rigFrames.measurements.send(cells: loop.board.cellMonitor.latched, pack: loop.board.currentSensor.latched,
                                     feedback: loop.board.contactors.reported, faults: world.peripheralFaults) { frame in
            log.record(frame, at: now)
        }
        canLog = log
    }

    /// Puts a frame from another node (a service tool, a test) on the firmware's bus now; it is
    /// received on the next tick (and logged).
    public mutating func deliver(_ frame: CANFrame) {
        let time = now
        loop.board.canBus.deliver(frame)
        canLog?.record(frame, at: time)
    }

    // MARK: - power cycles of the BMS (Docs/persistence.md)

    /// What happens to the BMS in a power cycle.
    public enum PowerCycle: Sendable {
        /// The vehicle asks for Shutdown, waits (up to `wait`) for StateSaved, then cuts the power.
        case orderly(wait: Microseconds = .seconds(2))
        /// The power goes without warning (the last checkpoint is what survives).
        case unplanned
    }

    /// Power-cycles the BMS: everything in its RAM is lost, its store is kept; for `off` the pack
    /// goes on without it (the contactors drop open, the load gets nothing); then a new firmware
    /// starts on the same board and restores from the store. Returns what it restored.
    @discardableResult
    public mutating func restartBMS(_ cycle: PowerCycle, off: Microseconds) throws(HarnessError) -> RestoreOutcome {
        if case .orderly(let wait) = cycle {
            var shutdown = CANMatrix.VCURequest()
            shutdown.stateRequest = CANMatrix.StateRequest.shutdown.rawValue
            shutdown.counter = world.requestCounter
            world.requestCounter = world.requestCounter == 14 ? 0 : world.requestCounter + 1
            deliver(shutdown.encode())
            let end = now + wait
            while now < end && !loop.persistence.stateSaved { step() }
        }
        // Power off: the coils drop, the front end stops, the firmware's RAM is gone.
        var board = loop.board
        for c in [Contactor.mainPositive, .mainNegative, .precharge] { try? board.contactors.command(c, closed: false) }
        board.canBus = InMemoryCANBus()
        let dark = BMSOutputs(limits: .zero, displayedStateOfCharge: nil, state: .standby)
        let end = now + off
        while now < end {
            _ = world.advance(contactors: &board.contactors, bms: dark)
            world.follow(balancing: .off)
        }
        try? board.cellMonitor.setBalancing(.off)
        board.clock = now
        let configuration = try FirmwareSetup.configuration(for: scenario.pack)
        do {
            loop = try ControlLoop(board: board, configuration: configuration, estimation: FirmwareSetup.estimation(for: scenario.pack))
        } catch {
            throw HarnessError("the firmware rejected the configuration: \(error.explanation)")
        }
        applyPeripheralFaults()
        sense()
        return loop.persistence.restoreOutcome
    }

    mutating func sense() {
        loop.board.currentSensor.latched = world.sense(cells: &loop.board.cellMonitor.latched)
    }

    /// Peripheral faults the board itself shows: a silent front end or current sensor, welded or
    /// stuck contactors.
    mutating func applyPeripheralFaults() {
        let faults = world.peripheralFaults
        loop.board.cellMonitor.failure = faults.frontEndTimedOut ? VirtualFailure(kind: .timeout) : nil
        loop.board.currentSensor.failure = faults.currentSensorTimedOut ? VirtualFailure(kind: .timeout) : nil
        loop.board.contactors.forced = faults.forced
        loop.board.contactors.weldedBehindFeedback = faults.weldedBehindFeedback
    }

    /// What the pack and the firmware show now.
    public var sample: SimulationSample {
        SimulationSample(time: now, current: pack.current, trueStateOfCharge: pack.displayStateOfCharge,
                         estimatedStateOfCharge: loop.stateOfCharge, cellStatistics: loop.cellStatistics,
                         temperatureStatistics: loop.temperatureStatistics, ambient: pack.ambientTemperature,
                         hottestCell: pack.elements.map(\.temperature).max() ?? 0, activity: load.activity.rawValue,
                         bmsState: loop.stateMachine.state.name, dischargeLimit: Double(loop.powerLimits.discharge2s.rawValue) / 1_000,
                         chargeLimit: Double(loop.powerLimits.charge2s.rawValue) / 1_000, balancingCells: loop.balancer.active.count,
                         faults: loop.faultMonitor.status.warnings.names,
                         alert: loop.health.highestLevel.name, topRisk: Simulation.topRisk(loop.health))
    }

    /// "6:thermal-anomaly:72": the top-ranked cell (1-based), its reason and score.
    static func topRisk(_ h: CellHealthMonitor) -> String {
        guard h.ranked.count > 0 else { return "" }
        let i = Int(h.ranked[0])
        return "\(i + 1):\(h.cells[i].reason.name):\(Int(h.cells[i].score))"
    }

    /// Runs until `duration` of simulated time has passed, calling `record` once per simulated
    /// second and `truth` every `truthInterval` (after that tick).
    public mutating func run(for duration: Microseconds, truthInterval: Microseconds? = nil,
                             record: (SimulationSample) -> Void, truth: (VirtualPack) -> Void = { _ in }) {
        let end = now + duration
        let ticksPerRecord = Int(ControlLoopTiming.ticksPerSecond)
        let ticksPerTruth = truthInterval.map { Int($0.rawValue / ControlLoopTiming.tickPeriod.rawValue) } ?? 0
        var tick = 0, truthTick = 0
        while now < end {
            step()
            tick += 1
            if tick == ticksPerRecord {
                tick = 0
                record(sample)
            }
            if ticksPerTruth > 0 {
                truthTick += 1
                if truthTick == ticksPerTruth { truthTick = 0; truth(pack) }
            }
        }
    }
}
