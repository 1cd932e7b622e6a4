// The virtual pack's side of the BMS, one millisecond at a time: the pack, its sensors as built,
// the load or charger, the contactors' mechanics, the scheduled faults, and the vehicle
// controller that asks the BMS for a mode. The firmware meets it through a VirtualBoard in one
// process (`simulate`) or over a CAN bus (`pack --can`, PackRig); both drive it the same way.
import Firmware
import HAL

/// What the pack's side sees of the BMS: the limits its load obeys, the SOC the rider sees,
/// the state its vehicle controller reacts to (read from the loop in `simulate`, from the BMS's
/// CAN frames in a HIL rig).
public struct BMSOutputs: Sendable {
    public var limits: PowerLimits
    public var displayedStateOfCharge: Float?
    public var state: BMSStateMachine.State
    public init(limits: PowerLimits, displayedStateOfCharge: Float?, state: BMSStateMachine.State) {
        self.limits = limits
        self.displayedStateOfCharge = displayedStateOfCharge
        self.state = state
    }
}

/// Faults of the peripherals themselves (not of the cells), as the board must show them.
public struct PeripheralFaults: Equatable, Sendable {
    /// The cell monitor stops answering.
    public var frontEndTimedOut = false
    /// The current sensor stops answering.
    public var currentSensorTimedOut = false
    /// Contacts that ignore their coil, with feedback showing it (welded closed, never closing).
    public var forced = ContactorFeedback()
    /// Contacts welded closed behind a feedback contact that still follows the coil.
    public var weldedBehindFeedback = ContactorFeedback()
}

/// The pack, sensors, load and vehicle controller of a scenario (see the file comment).
public struct PackWorld {
    public private(set) var scenario: Scenario
    public private(set) var pack: VirtualPack
    public private(set) var sensors: PackSensors
    public private(set) var now = Instant.origin
    public private(set) var load: LoadController
    /// The peripheral faults active now (refreshed with the pack's slow state, every 100 ms).
    public private(set) var peripheralFaults = PeripheralFaults()
    /// The balancing command the pack's bleed resistors follow.
    var bleeding = BalancingCommand.off
    /// Ticks since the vehicle controller last looked at the BMS state (it does every 100 ms).
    var sinceRequestCheck = 0
    /// The pack resistance a charger would estimate (Ω): Σ(R0 + R1) at 25 °C, 50 % SOC.
    let packResistance: Double
    var sinceSlowStep: Int64 = 0
    /// The vehicle controller's E2E counter for VCU_Request.
    var requestCounter: UInt8 = 0
    /// How hard the rider rides: the delivery profile's currents (C-rates of the pack) times this
    /// (1 = the profile as described; the fleet benchmark varies it per pack).
    public let riderIntensity: Double
    /// The scenario's CAN faults active now: the fraction of frames to the BMS lost, corrupted.
    var busLoss = 0.0, busCorruption = 0.0
    /// Draws for the CAN faults (their own stream: other draws never shift).
    var busRandom: SplitMix64

    /// Random streams, so that adding draws to one never shifts another.
    enum Stream: UInt64 { case packSpread = 1, load = 2, sensors = 3, bus = 4 }

    /// The scenario's pack as built (the same cells for the same seed, with or without firmware).
    public static func makePack(_ scenario: Scenario) -> VirtualPack {
        var spread = SplitMix64(seed: scenario.seed).derived(stream: Stream.packSpread.rawValue)
        return VirtualPack(design: scenario.pack, faults: scenario.faults, random: &spread)
    }

    public init(scenario: Scenario, riderIntensity: Double = 1) {
        self.scenario = scenario
        self.riderIntensity = riderIntensity
        let root = SplitMix64(seed: scenario.seed)
        pack = PackWorld.makePack(scenario)
        var sensorRandom = root.derived(stream: Stream.sensors.rawValue)
        sensors = PackSensors(design: scenario.pack.sensors, pack: scenario.pack, random: &sensorRandom)
        let model = scenario.pack.cellModel
        let packCapacityAh = model.ratedCapacityAh * Double(scenario.pack.parallelCount)
        load = scenario.load.makeController(packCapacityAh: packCapacityAh * riderIntensity, random: root.derived(stream: Stream.load.rawValue))
        busRandom = root.derived(stream: Stream.bus.rawValue)
        packResistance = Double(scenario.pack.seriesCount) / Double(scenario.pack.parallelCount)
            * (model.seriesResistance.value(stateOfCharge: 0.5, temperatureCelsius: 25) + model.r1.value(stateOfCharge: 0.5, temperatureCelsius: 25))
        refreshFaults()
    }

    /// Replaces the load from now on (see `Simulation.switchLoad`).
    public mutating func switchLoad(to profile: LoadProfile, obeysLimits: Bool) {
        scenario.load = profile
        scenario.loadObeysLimits = obeysLimits
        let packCapacityAh = scenario.pack.cellModel.ratedCapacityAh * Double(scenario.pack.parallelCount)
        load = profile.makeController(packCapacityAh: packCapacityAh * riderIntensity, random: SplitMix64(seed: scenario.seed).derived(stream: Stream.load.rawValue))
    }

    /// One step, a millisecond by default (the control loop's tick): the contacts move, the load
    /// draws what the contactors and the BMS's limits let it, the pack advances, and every 100 ms
    /// the temperatures, sensor faults and peripheral faults are refreshed. Returns true when the
    /// peripheral faults were refreshed (the caller shows them on its board). The fleet benchmark
    /// steps 1 s at a time (the load then holds its current for the whole step; the pack's circuit
    /// is exact for a constant current, its thermal step runs with the step).
    public mutating func advance(contactors: inout VirtualContactorDriver, bms: BMSOutputs,
                                 step period: Microseconds = ControlLoopTiming.tickPeriod) -> Bool {
        contactors.advance(to: now)
        let limits = bms.limits
        let path = PackWorld.linkPath(contactors.positions)
        let context = LoadContext(time: now, packVoltage: pack.packVoltage, seriesCount: scenario.pack.seriesCount,
                                  packResistance: packResistance, displayedStateOfCharge: bms.displayedStateOfCharge.map(Double.init),
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
        guard sinceSlowStep >= 100_000 else { return false }
        sensors.followTemperatures(pack, seconds: Double(sinceSlowStep) * 1e-6)
        refreshFaults()
        sinceSlowStep = 0
        return true
    }

    /// How the load side is connected: through both mains, through the precharge path (main
    /// negative and precharge), or not at all.
    static func linkPath(_ p: ContactorFeedback) -> VirtualPack.LinkPath {
        guard p.mainNegative == .closed else { return .open }
        if p.mainPositive == .closed { return .closed }
        return p.precharge == .closed ? .precharging : .open
    }

    /// The sensor faults and the peripheral faults active now.
    mutating func refreshFaults() {
        sensors.refreshFaults(scenario.faults, at: now)
        var faults = PeripheralFaults(frontEndTimedOut: sensors.frontEndTimedOut)
        busLoss = 0
        busCorruption = 0
        for fault in scenario.faults where fault.severity(at: now) > 0 {
            switch fault.kind {
            case .canLoss(let fraction): busLoss = fraction * fault.severity(at: now)
            case .canCorruption(let fraction): busCorruption = fraction * fault.severity(at: now)
            case .contactorWeldedBehindFeedback(let c): faults.weldedBehindFeedback[c] = .closed
            case .currentSensorTimeout: faults.currentSensorTimedOut = true
            case .contactorWelded(let c): faults.forced[c] = .closed
            case .contactorFailsToClose(let c): faults.forced[c] = .open
            default: break
            }
        }
        peripheralFaults = faults
    }

    /// What the front end measures now (into `cells`) and what the current sensor measures.
    public mutating func sense(cells: inout CellMonitorReadings) -> PackSensorReadings {
        sensors.senseCells(pack.hot, into: &cells)
        return sensors.sensePack(current: pack.current, packVoltage: pack.packVoltage, linkVoltage: pack.linkVoltage)
    }

    /// The vehicle controller (or charger) side of the CAN protocol, every 100 ms: a VCU_Request
    /// frame asking for the mode the load needs, through standby when it changes, and no request
    /// otherwise; nil on the other ticks. It never requests a reset: a latched fault keeps the
    /// pack open for the rest of the run, as it would on the road.
    public mutating func vehicleRequest(bmsState: BMSStateMachine.State) -> CANFrame? {
        sinceRequestCheck += 1
        guard sinceRequestCheck >= 100 else { return nil }
        sinceRequestCheck = 0
        let wanted = load.wantedMode
        var request = CANMatrix.StateRequest.noRequest
        switch (bmsState, wanted) {
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
        return frame.encode()
    }

    /// A frame on its way to the BMS through the scenario's CAN faults: nil when it is lost, one
    /// bit flipped when it is corrupted (the receiver's E2E check must catch it).
    public mutating func throughBus(_ frame: CANFrame) -> CANFrame? {
        guard busLoss > 0 || busCorruption > 0 else { return frame }
        if busLoss > 0 && busRandom.unit() < busLoss { return nil }
        guard busCorruption > 0, busRandom.unit() < busCorruption, frame.length > 0 else { return frame }
        var corrupted = frame
        let bit = Int(busRandom.next() % UInt64(frame.length * 8))
        corrupted[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
        return corrupted
    }

    /// The bleed resistors follow the BMS's balancing switches.
    public mutating func follow(balancing command: BalancingCommand) {
        guard command != bleeding else { return }
        bleeding = command
        pack.setBleed(cells: command.cells, ohms: VirtualCellMonitor.bleedResistance)
    }
}
