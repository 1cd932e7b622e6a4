// The virtual pack as a HIL rig on a CAN bus (`pack --can`): the pack's world speaks for the
// cell monitor, current sensor and contactor feedback (the measurement frames), obeys the coils,
// bleed switches and current limits the BMS sends, and its vehicle controller asks for a mode
// by VCU_Request from the BMS_Status it hears.
import Firmware
import HAL

public struct PackRig<Bus: CANBus> {
    public private(set) var world: PackWorld
    public var bus: Bus
    var contactors = VirtualContactorDriver()
    var cells: CellMonitorReadings
    var transmitter = MeasurementTransmitter()
    /// What the rig has heard of the BMS (standby and no current until it speaks).
    public private(set) var bms = BMSOutputs(limits: .zero, displayedStateOfCharge: nil, state: .standby)
    /// The last BMS_Status heard (nil before the first).
    public private(set) var lastStatus: CANMatrix.BMSStatus? = nil
    /// The last BMS_StateOfCharge heard.
    public private(set) var lastStateOfCharge: CANMatrix.BMSStateOfCharge? = nil
    /// Frames from the BMS taken, and those refused (E2E, length).
    public private(set) var receivedFrames = 0, refusedFrames = 0
    /// Frames the bus would not take now (dropped: the next millisecond sends fresh ones).
    public private(set) var sendFailures = 0

    public init(scenario: Scenario, bus: Bus) {
        world = PackWorld(scenario: scenario)
        self.bus = bus
        cells = CellMonitorReadings(cellCount: scenario.pack.seriesCount, temperatureSensorCount: scenario.pack.temperatureSensorCells.count)
        applyPeripheralFaults()
    }

    /// The world's simulated time (one millisecond per step).
    public var now: Instant { world.now }

    /// One millisecond: take what the BMS sent, advance the pack, send the measurements (and,
    /// every 100 ms, the vehicle controller's request).
    public mutating func step() {
        receive()
        if world.advance(contactors: &contactors, bms: bms) { applyPeripheralFaults() }
        let sensed = world.sense(cells: &cells)
        var outgoing: [CANFrame] = []
        transmitter.send(cells: cells, pack: sensed, feedback: contactors.reported, faults: world.peripheralFaults) { outgoing.append($0) }
        if let request = world.vehicleRequest(bmsState: bms.state) { outgoing.append(request) }
        for frame in outgoing {
            guard let arriving = world.throughBus(frame) else { continue }
            do { try bus.send(arriving) } catch { sendFailures += 1 }
        }
    }

    /// Drains the bus: coils and bleed switches, limits, SOC and state from the BMS's frames.
    mutating func receive() {
        while true {
            let received: CANFrame?
            do { received = try bus.receive() } catch { refusedFrames += 1; continue }
            guard let frame = received else { return }
            guard !frame.id.isExtended, CANMatrix.isSentByBMS(frame.id) else { continue }
            receivedFrames += 1
            do throws(CANDecodeError) {
                switch frame.id.rawValue {
                case CANMatrix.BMSIOCommand.identifier:
                    let command = LinkFrames.ioCommand(try CANMatrix.BMSIOCommand.decode(frame))
                    for c in [Contactor.mainPositive, .mainNegative, .precharge] {
                        try? contactors.command(c, closed: command.coils[c] == .closed)
                    }
                    world.follow(balancing: command.balancing)
                case CANMatrix.BMSCurrentLimits.identifier:
                    let m = try CANMatrix.BMSCurrentLimits.decode(frame)
                    var limits = PowerLimits()
                    limits.charge2s = PackRig.milliamperes(m.maxChargeCurrent, sna: CANMatrix.BMSCurrentLimits.maxChargeCurrentSNA)
                    limits.discharge2s = PackRig.milliamperes(m.maxDischargeCurrent, sna: CANMatrix.BMSCurrentLimits.maxDischargeCurrentSNA)
                    limits.charge30s = PackRig.milliamperes(m.maxChargeCurrentContinuous, sna: CANMatrix.BMSCurrentLimits.maxChargeCurrentContinuousSNA)
                    limits.discharge30s = PackRig.milliamperes(m.maxDischargeCurrentContinuous, sna: CANMatrix.BMSCurrentLimits.maxDischargeCurrentContinuousSNA)
                    bms.limits = limits
                case CANMatrix.BMSStateOfCharge.identifier:
                    let m = try CANMatrix.BMSStateOfCharge.decode(frame)
                    lastStateOfCharge = m
                    bms.displayedStateOfCharge = m.soc <= 1_000 ? Float(m.soc) / 1_000 : nil
                case CANMatrix.BMSStatus.identifier:
                    let m = try CANMatrix.BMSStatus.decode(frame)
                    lastStatus = m
                    bms.state = PackRig.state(m)
                default:
                    break
                }
            } catch {
                refusedFrames += 1
            }
        }
    }

    /// A limit in 100 mA steps as mA (SNA: nothing allowed).
    static func milliamperes(_ raw: UInt16, sna: UInt16) -> Milliamperes {
        raw == sna ? .zero : Milliamperes(Int32(raw) * 100)
    }

    /// The BMS state a BMS_Status frame reports.
    static func state(_ m: CANMatrix.BMSStatus) -> BMSStateMachine.State {
        let mode = OperatingMode(rawValue: m.operatingMode) ?? .drive
        switch CANMatrix.BmsState(rawValue: m.bmsState) {
        case .connecting: return .connecting(mode)
        case .connected: return .connected(mode)
        case .disconnecting: return .disconnecting(toError: false)
        case .error: return .error
        case .standby, .sna, nil: return .standby
        }
    }

    /// Peripheral faults the rig shows: forced and hidden welds on its contactors (a silent front
    /// end or current sensor stops its frames in the transmitter).
    mutating func applyPeripheralFaults() {
        contactors.forced = world.peripheralFaults.forced
        contactors.weldedBehindFeedback = world.peripheralFaults.weldedBehindFeedback
    }
}
