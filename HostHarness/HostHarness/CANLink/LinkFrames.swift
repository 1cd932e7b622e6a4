// The measurement and command frames of the SBC and HIL deployments (Fixtures/bms.dbc:
// AFE_CellVoltages, AFE_Temperatures, SHUNT_Current, SHUNT_Voltages, IO_ContactorFeedback,
// BMS_IOCommand): HAL readings and commands to frames and back. Both ends of the link use them —
// the firmware's CANLinkedBoard and the virtual pack's PackRig — and `simulate --can-log` writes
// the frames a rig would have sent, so that `replay` can run a simulated log.
import Firmware
import HAL

public enum LinkFrames {
    // MARK: - cell monitor (AFE)

    /// AFE_CellVoltages for `readings` (cells beyond the pack: SNA).
    public static func cellVoltages(_ readings: CellMonitorReadings, counter: UInt8) -> CANFrame {
        var m = CANMatrix.AFECellVoltages()
        m.counter = counter
        for i in 0..<min(readings.cellVoltages.count, 32) {
            let r = readings.cellVoltages[i]
            switch r.status {
            case .valid: m.voltage[i] = UInt16(truncatingIfNeeded: max(0, min(r.value.rawValue, 16_380)))
            case .openWire: m.voltage[i] = CANMatrix.AFECellVoltages.voltageOpenWire
            case .channelFault: m.voltage[i] = CANMatrix.AFECellVoltages.voltageChannelFault
            case .notMeasured, .implausible, .stale: m.voltage[i] = CANMatrix.AFECellVoltages.voltageSNA
            }
        }
        return m.encode()
    }

    /// The cell voltages of `m` into the first `readings.cellVoltages.count` channels.
    public static func read(_ m: CANMatrix.AFECellVoltages, into readings: inout CellMonitorReadings) {
        for i in 0..<min(readings.cellVoltages.count, 32) {
            let raw = m.voltage[i]
            switch raw {
            case CANMatrix.AFECellVoltages.voltageSNA: readings.cellVoltages[i] = Reading(.zero, status: .notMeasured)
            case CANMatrix.AFECellVoltages.voltageOpenWire: readings.cellVoltages[i] = Reading(.zero, status: .openWire)
            case CANMatrix.AFECellVoltages.voltageChannelFault: readings.cellVoltages[i] = Reading(.zero, status: .channelFault)
            default: readings.cellVoltages[i] = Reading(Millivolts(Int32(raw)))
            }
        }
    }

    /// AFE_Temperatures for `readings` (a sensor fault for open wire or channel fault).
    public static func temperatures(_ readings: CellMonitorReadings, counter: UInt8) -> CANFrame {
        var m = CANMatrix.AFETemperatures()
        m.counter = counter
        for i in 0..<min(readings.temperatures.count, 16) {
            let r = readings.temperatures[i]
            switch r.status {
            case .valid: m.temperature[i] = min(r.value.rawValue, CANMatrix.AFETemperatures.temperatureSensorFault - 1)
            case .openWire, .channelFault: m.temperature[i] = CANMatrix.AFETemperatures.temperatureSensorFault
            case .notMeasured, .implausible, .stale: m.temperature[i] = CANMatrix.AFETemperatures.temperatureSNA
            }
        }
        return m.encode()
    }

    /// The temperatures of `m` into the first `readings.temperatures.count` sensors.
    public static func read(_ m: CANMatrix.AFETemperatures, into readings: inout CellMonitorReadings) {
        for i in 0..<min(readings.temperatures.count, 16) {
            let raw = m.temperature[i]
            switch raw {
            case CANMatrix.AFETemperatures.temperatureSNA: readings.temperatures[i] = Reading(DeciCelsius(0), status: .notMeasured)
            case CANMatrix.AFETemperatures.temperatureSensorFault: readings.temperatures[i] = Reading(DeciCelsius(0), status: .channelFault)
            default: readings.temperatures[i] = Reading(DeciCelsius(raw))
            }
        }
    }

    // MARK: - current sensor (SHUNT)

    /// SHUNT_Current for the sensor's current.
    public static func current(_ readings: PackSensorReadings, counter: UInt8) -> CANFrame {
        var m = CANMatrix.SHUNTCurrent()
        m.counter = counter
        if let current = readings.current.validValue { m.current = min(current.rawValue, CANMatrix.SHUNTCurrent.currentSNA - 1) }
        return m.encode()
    }

    /// SHUNT_Voltages for the sensor's pack and link voltages (negative readings as 0 V).
    public static func voltages(_ readings: PackSensorReadings, counter: UInt8) -> CANFrame {
        var m = CANMatrix.SHUNTVoltages()
        m.counter = counter
        func raw(_ r: Reading<Millivolts>) -> UInt32 {
            guard let v = r.validValue else { return CANMatrix.SHUNTVoltages.packVoltageSNA }
            return UInt32(max(0, min(v.rawValue, Int32(CANMatrix.SHUNTVoltages.packVoltageSNA - 1))))
        }
        m.packVoltage = raw(readings.packVoltage)
        m.linkVoltage = raw(readings.linkVoltage)
        return m.encode()
    }

    /// The current of a SHUNT_Current frame.
    public static func current(_ m: CANMatrix.SHUNTCurrent) -> Reading<Milliamperes> {
        m.current == CANMatrix.SHUNTCurrent.currentSNA ? Reading(.zero, status: .notMeasured) : Reading(Milliamperes(m.current))
    }

    /// The pack and link voltages of a SHUNT_Voltages frame.
    public static func voltages(_ m: CANMatrix.SHUNTVoltages) -> (pack: Reading<Millivolts>, link: Reading<Millivolts>) {
        func reading(_ raw: UInt32) -> Reading<Millivolts> {
            raw == CANMatrix.SHUNTVoltages.packVoltageSNA ? Reading(.zero, status: .notMeasured) : Reading(Millivolts(Int32(raw)))
        }
        return (reading(m.packVoltage), reading(m.linkVoltage))
    }

    // MARK: - contactors (IO)

    /// IO_ContactorFeedback for `feedback`.
    public static func contactorFeedback(_ feedback: ContactorFeedback, counter: UInt8) -> CANFrame {
        var m = CANMatrix.IOContactorFeedback()
        m.counter = counter
        m.mainPositiveFeedback = feedback.mainPositive.rawValue
        m.mainNegativeFeedback = feedback.mainNegative.rawValue
        m.prechargeFeedback = feedback.precharge.rawValue
        return m.encode()
    }

    /// The feedback of an IO_ContactorFeedback frame (SNA as unknown).
    public static func contactorFeedback(_ m: CANMatrix.IOContactorFeedback) -> ContactorFeedback {
        func position(_ raw: UInt8) -> ContactorPosition { ContactorPosition(rawValue: raw) ?? .unknown }
        return ContactorFeedback(mainPositive: position(m.mainPositiveFeedback), mainNegative: position(m.mainNegativeFeedback),
                                 precharge: position(m.prechargeFeedback))
    }

    /// BMS_IOCommand for the coils (`.closed` = energised) and the bleed switches.
    public static func ioCommand(coils: ContactorFeedback, balancing: BalancingCommand, counter: UInt8) -> CANFrame {
        var m = CANMatrix.BMSIOCommand()
        m.counter = counter
        m.mainPositiveCoil = coils.mainPositive == .closed ? 1 : 0
        m.mainNegativeCoil = coils.mainNegative == .closed ? 1 : 0
        m.prechargeCoil = coils.precharge == .closed ? 1 : 0
        m.balancingMask = balancing.cells.bits
        return m.encode()
    }

    /// The coils and bleed switches of a BMS_IOCommand frame.
    public static func ioCommand(_ m: CANMatrix.BMSIOCommand) -> (coils: ContactorFeedback, balancing: BalancingCommand) {
        let coils = ContactorFeedback(mainPositive: m.mainPositiveCoil == 1 ? .closed : .open,
                                      mainNegative: m.mainNegativeCoil == 1 ? .closed : .open,
                                      precharge: m.prechargeCoil == 1 ? .closed : .open)
        return (coils, BalancingCommand(cells: CellSet(bits: m.balancingMask)))
    }

    /// Counters of the link's senders: profile 1 counts 0...14, profile 5 0...255.
    public struct Counters: Sendable {
        var values = InlineArray<6, UInt8>(repeating: 0)
        public init() {}
        /// The next counter for message slot `slot`, wrapping at `limit` (14 or 255).
        public mutating func next(_ slot: Slot) -> UInt8 {
            let c = values[slot.rawValue]
            values[slot.rawValue] = c >= slot.limit ? 0 : c + 1
            return c
        }
        public enum Slot: Int, Sendable {
            case cellVoltages = 0, temperatures, current, voltages, contactorFeedback, ioCommand
            var limit: UInt8 { self == .cellVoltages || self == .temperatures ? 255 : 14 }
        }
    }
}

/// When the firmware side sends BMS_IOCommand: at once when the coils or bleed switches change,
/// and every 10 ms (`GenMsgSendType` OnChangeAndCyclic) — one rule for the CAN-linked board and
/// for `simulate --can-log`.
public struct IOCommandSchedule: Sendable {
    var last: (coils: ContactorFeedback, balancing: BalancingCommand)? = nil
    var lastSent = Instant.origin
    public var counters = LinkFrames.Counters()
    public init() {}

    /// The frame to send at `now` for these commands, or nil.
    public mutating func frame(coils: ContactorFeedback, balancing: BalancingCommand, now: Instant) -> CANFrame? {
        let changed = last.map { $0.coils != coils || $0.balancing != balancing } ?? true
        let due = now - lastSent >= .milliseconds(Int32(CANMatrix.BMSIOCommand.cycleTimeMilliseconds))
        guard changed || due else { return nil }
        last = (coils, balancing)
        lastSent = now
        return LinkFrames.ioCommand(coils: coils, balancing: balancing, counter: counters.next(.ioCommand))
    }

    /// The last frame did not get out: send again on the next call.
    public mutating func forceResend() { last = nil }
}

/// What the measurement nodes (AFE, SHUNT, IO) send each millisecond: cell voltages, current,
/// voltages and contactor feedback every 1 ms, temperatures every 10th ms; a node whose
/// peripheral fault silences it sends nothing. One rule for PackRig and `simulate --can-log`.
public struct MeasurementTransmitter: Sendable {
    var counters = LinkFrames.Counters()
    /// Milliseconds sent so far (temperatures go with every 10th, from the first).
    public private(set) var milliseconds: UInt64 = 0
    public init() {}

    /// Hands this millisecond's frames to `send`, in a fixed order.
    public mutating func send(cells: CellMonitorReadings, pack: PackSensorReadings, feedback: ContactorFeedback,
                              faults: PeripheralFaults, to send: (CANFrame) -> Void) {
        if !faults.frontEndTimedOut {
            send(LinkFrames.cellVoltages(cells, counter: counters.next(.cellVoltages)))
            if milliseconds % 10 == 0 { send(LinkFrames.temperatures(cells, counter: counters.next(.temperatures))) }
        }
        if !faults.currentSensorTimedOut {
            send(LinkFrames.current(pack, counter: counters.next(.current)))
            send(LinkFrames.voltages(pack, counter: counters.next(.voltages)))
        }
        send(LinkFrames.contactorFeedback(feedback, counter: counters.next(.contactorFeedback)))
        milliseconds += 1
    }
}
