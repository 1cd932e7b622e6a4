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
}

/// The firmware running against a virtual pack.
public struct Simulation {
    public private(set) var scenario: Scenario
    public private(set) var pack: VirtualPack
    public private(set) var sensors: PackSensors
    public var loop: ControlLoop<VirtualBoard>
    public private(set) var now = Instant.origin
    public private(set) var load: LoadController
    /// The balancing command the pack's bleed resistors follow.
    var bleeding = BalancingCommand.off
    /// Ticks since the vehicle controller last looked at the BMS state (it does every 100 ms).
    var sinceRequestCheck = 0
    /// The pack resistance a charger would estimate (Ω): Σ(R0 + R1) at 25 °C, 50 % SOC.
    let packResistance: Double
    var sinceSlowStep: Int64 = 0
    /// The vehicle controller's E2E counter for VCU_Request.
    var requestCounter: UInt8 = 0
    /// Where the bus traffic goes (`simulate --can-log`): every frame in both directions, in
    /// candump format, timestamped with simulated time. Nil: not logged (the frames are dropped).
    public var canLog: CANTrafficLog? = nil

    /// Random streams, so that adding draws to one never shifts another.
    enum Stream: UInt64 { case packSpread = 1, load = 2, sensors = 3 }

    /// The scenario's pack as built (the same cells for the same seed, with or without firmware).
    public static func makePack(_ scenario: Scenario) -> VirtualPack {
        var spread = SplitMix64(seed: scenario.seed).derived(stream: Stream.packSpread.rawValue)
        return VirtualPack(design: scenario.pack, faults: scenario.faults, random: &spread)
    }

    public init(scenario: Scenario) throws(HarnessError) {
        self.scenario = scenario
        let root = SplitMix64(seed: scenario.seed)
        pack = Simulation.makePack(scenario)
        var sensorRandom = root.derived(stream: Stream.sensors.rawValue)
        sensors = PackSensors(design: scenario.pack.sensors, pack: scenario.pack, random: &sensorRandom)
        let model = scenario.pack.cellModel
        let packCapacityAh = model.ratedCapacityAh * Double(scenario.pack.parallelCount)
        load = scenario.load.makeController(packCapacityAh: packCapacityAh, random: root.derived(stream: Stream.load.rawValue))
        packResistance = Double(scenario.pack.seriesCount) / Double(scenario.pack.parallelCount)
            * (model.seriesResistance.value(stateOfCharge: 0.5, temperatureCelsius: 25) + model.r1.value(stateOfCharge: 0.5, temperatureCelsius: 25))
        let configuration = try FirmwareSetup.configuration(for: scenario.pack)
        let board = VirtualBoard(cellCount: scenario.pack.seriesCount, temperatureSensorCount: scenario.pack.temperatureSensorCells.count)
        do {
            loop = try ControlLoop(board: board, configuration: configuration, estimation: FirmwareSetup.estimation(for: scenario.pack))
        } catch {
            throw HarnessError("the firmware rejected the configuration: \(error.explanation)")
        }
        sensors.refreshFaults(scenario.faults, at: now)
        applyBoardFaults()
        sense()
    }

    /// Replaces the load from now on: a benchmark forks a simulation (it is a value: a copy is a
    /// second, independent world) and drives the copy differently.
    public mutating func switchLoad(to profile: LoadProfile, obeysLimits: Bool) {
        scenario.load = profile
        scenario.loadObeysLimits = obeysLimits
        let packCapacityAh = scenario.pack.cellModel.ratedCapacityAh * Double(scenario.pack.parallelCount)
        load = profile.makeController(packCapacityAh: packCapacityAh, random: SplitMix64(seed: scenario.seed).derived(stream: Stream.load.rawValue))
    }

    /// Runs one tick: the contacts move, the load draws what the contactors and the BMS's limits
    /// let it for 1 ms, the sensors latch what the pack shows, then the firmware ticks at the end
    /// of that millisecond.
    public mutating func step() {
        let period = ControlLoopTiming.tickPeriod
        loop.board.contactors.advance(to: now)
        let limits = loop.powerLimits
        let path = linkPath(loop.board.contactors.positions)
        let context = LoadContext(time: now, packVoltage: pack.packVoltage, seriesCount: scenario.pack.seriesCount,
                                  packResistance: packResistance, displayedStateOfCharge: loop.stateOfCharge.map(Double.init),
                                  chargeLimit: scenario.loadObeysLimits ? Double(limits.charge2s.rawValue) / 1_000 : nil)
        let demand = load.current(context)
        let current: Double
        switch path {
        case .closed:
            // The load and the charger obey the 2 s limits (a rogue one, in fault scenarios, does not).
            current = scenario.loadObeysLimits
                ? min(Double(limits.charge2s.rawValue) / 1_000, max(-Double(limits.discharge2s.rawValue) / 1_000, demand))
                : demand
        case .precharging: current = pack.prechargeCurrent
        case .open: current = 0
        }
        pack.advance(current: current, dt: period, linkCurrentPath: path)
        now = now + period
        sinceSlowStep += period.rawValue
        if sinceSlowStep >= 100_000 {
            sensors.followTemperatures(pack, seconds: Double(sinceSlowStep) * 1e-6)
            sensors.refreshFaults(scenario.faults, at: now)
            applyBoardFaults()
            sinceSlowStep = 0
        }
        sense()
        loop.board.clock = now
        sinceRequestCheck += 1
        if sinceRequestCheck >= 100 {
            sinceRequestCheck = 0
            requestWhatTheLoadNeeds()
        }
        loop.tick(now: now)
        if !loop.board.canBus.sent.isEmpty {
            if canLog != nil { for frame in loop.board.canBus.sent { canLog!.record(frame, at: now) } }
            loop.board.canBus.clearSent()
        }
        if loop.board.cellMonitor.balancing != bleeding {
            bleeding = loop.board.cellMonitor.balancing
            pack.setBleed(cells: bleeding.cells, ohms: VirtualCellMonitor.bleedResistance)
        }
    }

    /// How the load side is connected: through both mains, through the precharge path (main
    /// negative and precharge), or not at all.
    func linkPath(_ p: ContactorFeedback) -> VirtualPack.LinkPath {
        guard p.mainNegative == .closed else { return .open }
        if p.mainPositive == .closed { return .closed }
        return p.precharge == .closed ? .precharging : .open
    }

    /// The vehicle controller (or charger) side of the CAN protocol, every 100 ms: a VCU_Request
    /// frame asking for the mode the load needs, through standby when it changes, and no request
    /// otherwise. It never requests a reset: a latched fault keeps the pack open for the rest of
    /// the run, as it would on the road.
    mutating func requestWhatTheLoadNeeds() {
        let wanted = load.wantedMode
        var request = CANMatrix.StateRequest.noRequest
        switch (loop.stateMachine.state, wanted) {
        case (.standby, .some(let mode)):
            request = mode == .drive ? .drive : .charge
        case (.connecting(let mode), _), (.connected(let mode), _):
            if wanted != mode { request = .standby }
        case (.standby, nil), (.disconnecting, _), (.error, _):
            break
        }
        var frame = CANMatrix.VCURequest()
        frame.stateRequest = request.rawValue
        frame.counter = requestCounter
        requestCounter = requestCounter == 14 ? 0 : requestCounter + 1
        let encoded = frame.encode()
        loop.board.canBus.deliver(encoded)
        canLog?.record(encoded, at: now)
    }

    mutating func sense() {
        sensors.senseCells(pack.hot, into: &loop.board.cellMonitor.latched)
        loop.board.currentSensor.latched = sensors.sensePack(current: pack.current, packVoltage: pack.packVoltage,
                                                             linkVoltage: pack.linkVoltage)
    }

    /// Peripheral faults the board itself shows: a silent front end, welded or stuck contactors.
    mutating func applyBoardFaults() {
        loop.board.cellMonitor.failure = sensors.frontEndTimedOut ? VirtualFailure(kind: .timeout) : nil
        loop.board.currentSensor.failure = nil
        var forced = ContactorFeedback(), hidden = ContactorFeedback()
        for fault in scenario.faults where fault.severity(at: now) > 0 {
            switch fault.kind {
            case .contactorWeldedBehindFeedback(let c): hidden[c] = .closed
            case .currentSensorTimeout: loop.board.currentSensor.failure = VirtualFailure(kind: .timeout)
            case .contactorWelded(let c): forced[c] = .closed
            case .contactorFailsToClose(let c): forced[c] = .open
            default: break
            }
        }
        loop.board.contactors.forced = forced
        loop.board.contactors.weldedBehindFeedback = hidden
    }

    /// What the pack and the firmware show now.
    public var sample: SimulationSample {
        SimulationSample(time: now, current: pack.current, trueStateOfCharge: pack.displayStateOfCharge,
                         estimatedStateOfCharge: loop.stateOfCharge, cellStatistics: loop.cellStatistics,
                         temperatureStatistics: loop.temperatureStatistics, ambient: pack.ambientTemperature,
                         hottestCell: pack.elements.map(\.temperature).max() ?? 0, activity: load.activity.rawValue,
                         bmsState: loop.stateMachine.state.name, dischargeLimit: Double(loop.powerLimits.discharge2s.rawValue) / 1_000,
                         chargeLimit: Double(loop.powerLimits.charge2s.rawValue) / 1_000, balancingCells: loop.balancer.active.count,
                         faults: loop.faultMonitor.status.warnings.names)
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
