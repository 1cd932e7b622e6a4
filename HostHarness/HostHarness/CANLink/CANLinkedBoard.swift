// The firmware's board when every peripheral is a node on one CAN bus (the SBC deployment,
// `replay`, and the firmware half of a HIL rig): the cell monitor, current sensor and contactor
// feedback arrive as AFE_/SHUNT_/IO_ frames, the coils and bleed switches leave as BMS_IOCommand,
// and the firmware's own protocol frames share the bus.
import Firmware
import HAL

/// A peripheral reached over CAN reports nothing itself: lost or corrupt frames show as readings
/// that are not measured (the firmware's staleness rules diagnose them). Only the bus fails.
public struct LinkFailure: HALFailure, Equatable {
    public var kind: HALErrorKind
    public init(kind: HALErrorKind) { self.kind = kind }
}

/// The cell monitor on the bus: the latest AFE frames, each delivered to the firmware once.
public struct LinkedCellMonitor: CellMonitor {
    var latest: CellMonitorReadings
    var voltagesFresh = false, temperaturesFresh = false
    /// The last balancing command (BMS_IOCommand carries it).
    public private(set) var balancing = BalancingCommand.off
    /// The same bleed hardware as the virtual pack's front end (8 channels of 39 Ω).
    public var balancingCapability: BalancingCapability { VirtualCellMonitor.capability }

    init(cellCount: Int, temperatureSensorCount: Int) {
        latest = CellMonitorReadings(cellCount: cellCount, temperatureSensorCount: temperatureSensorCount)
    }

    public mutating func measure(into readings: inout CellMonitorReadings) throws(LinkFailure) {
        if voltagesFresh {
            for i in 0..<min(readings.cellVoltages.count, latest.cellVoltages.count) {
                let r = latest.cellVoltages[i]
                readings.cellVoltages[i] = r
            }
            voltagesFresh = false
        }
        if temperaturesFresh {
            for i in 0..<min(readings.temperatures.count, latest.temperatures.count) {
                let r = latest.temperatures[i]
                readings.temperatures[i] = r
            }
            temperaturesFresh = false
        }
    }

    public mutating func setBalancing(_ command: BalancingCommand) throws(LinkFailure) { balancing = command }
}

/// The current sensor on the bus: the latest SHUNT frames, each delivered once.
public struct LinkedCurrentSensor: CurrentSensor {
    var latest = PackSensorReadings(current: Reading(.zero, status: .notMeasured))
    var currentFresh = false, voltagesFresh = false

    public mutating func measure() throws(LinkFailure) -> PackSensorReadings {
        var result = PackSensorReadings(current: Reading(.zero, status: .notMeasured))
        if currentFresh { result.current = latest.current }
        if voltagesFresh {
            result.packVoltage = latest.packVoltage
            result.linkVoltage = latest.linkVoltage
        }
        currentFresh = false
        voltagesFresh = false
        return result
    }
}

/// The contactor driver on the bus: coils go out in BMS_IOCommand, feedback comes in
/// IO_ContactorFeedback and counts as unknown once it is older than the frame's timeout.
public struct LinkedContactorDriver: ContactorDriver {
    /// The coils as the firmware commands them (`.closed` = energised).
    public private(set) var coils = ContactorFeedback(mainPositive: .open, mainNegative: .open, precharge: .open)
    var latest = ContactorFeedback()
    var latestAt: Instant? = nil
    var now = Instant.origin
    static let timeout = Microseconds.milliseconds(Int32(CANMatrix.IOContactorFeedback.timeoutMilliseconds))

    public mutating func command(_ contactor: Contactor, closed: Bool) throws(LinkFailure) {
        coils[contactor] = closed ? .closed : .open
    }

    public mutating func feedback() throws(LinkFailure) -> ContactorFeedback {
        guard let at = latestAt, now - at <= LinkedContactorDriver.timeout else { return ContactorFeedback() }
        return latest
    }
}

/// The firmware's view of the bus: its protocol frames only (the board takes the measurement
/// frames out first). Sent frames go straight to the link; `sent` keeps them when `recordsSent`.
public struct LinkedBus<Link: CANBus>: CANBus {
    public var link: Link
    /// Frames for the firmware, oldest first.
    var inbox: [CANFrame] = []
    var inboxStart = 0
    /// A failure of the link seen while pumping, handed to the firmware's next receive.
    var pendingFailure: Link.Failure? = nil
    /// Whether sent frames are kept in `sent` (for logs); the owner clears it.
    public var recordsSent = false
    public private(set) var sent: [CANFrame] = []
    /// Frames for the firmware dropped because it had not taken the earlier ones.
    public private(set) var inboxOverflows = 0
    static var inboxCapacity: Int { 256 }

    init(link: Link) { self.link = link }

    mutating func deliver(_ frame: CANFrame) {
        if inboxStart == inbox.count { inbox.removeAll(keepingCapacity: true); inboxStart = 0 }
        guard inbox.count - inboxStart < LinkedBus.inboxCapacity else { inboxOverflows += 1; return }
        inbox.append(frame)
    }

    public mutating func clearSent() { sent.removeAll(keepingCapacity: true) }

    public mutating func send(_ frame: CANFrame) throws(Link.Failure) {
        try link.send(frame)
        if recordsSent { sent.append(frame) }
    }

    public mutating func receive() throws(Link.Failure) -> CANFrame? {
        if let failure = pendingFailure {
            pendingFailure = nil
            throw failure
        }
        guard inboxStart < inbox.count else { return nil }
        defer { inboxStart += 1 }
        return inbox[inboxStart]
    }
}

/// Where the board's clock comes from.
public enum BoardClock: Sendable {
    /// The tick's `now` plus nothing: a tick takes no time (replay, deterministic).
    case simulated
    /// CLOCK_MONOTONIC (the SBC deployment: overruns are real).
    case monotonic
}

/// The board (see the file comment). Call `pump(now:)` before each tick and `sendCommands(now:)`
/// after it.
public struct CANLinkedBoard<Link: CANBus>: BMSBoard {
    public var cellMonitor: LinkedCellMonitor
    public var currentSensor = LinkedCurrentSensor()
    public var contactors = LinkedContactorDriver()
    public var canBus: LinkedBus<Link>
    public var store = InMemoryStore()
    public var watchdog = CountingWatchdog()
    public let clockSource: BoardClock
    var tickStart = Instant.origin
    var io = IOCommandSchedule()
    /// Measurement frames refused: wrong length or format, CRC, counter range, or a repeated
    /// counter (a sender that froze).
    public private(set) var refusedFrames = 0
    /// The last counter of each measurement stream (AFE voltages, AFE temperatures, current,
    /// voltages, feedback), to refuse repeats.
    var lastCounters = InlineArray<5, UInt16>(repeating: 0xFFFF)
    /// The most frames taken from the link per tick (more wait for the next tick).
    public static var pumpBudget: Int { 512 }

    public init(link: Link, cellCount: Int, temperatureSensorCount: Int, clock: BoardClock, store: InMemoryStore = InMemoryStore()) {
        cellMonitor = LinkedCellMonitor(cellCount: cellCount, temperatureSensorCount: temperatureSensorCount)
        canBus = LinkedBus(link: link)
        clockSource = clock
        self.store = store
    }

    public mutating func timestamp() -> Instant {
        switch clockSource {
        case .simulated: return tickStart
        case .monotonic: return MonotonicClock().now()
        }
    }

    /// Takes what the link holds: measurement frames update the peripherals, the rest waits for
    /// the firmware's CAN stage. `now` is the coming tick's.
    public mutating func pump(now: Instant) {
        tickStart = now
        contactors.now = now
        for _ in 0..<CANLinkedBoard.pumpBudget {
            let frame: CANFrame?
            do { frame = try canBus.link.receive() } catch {
                canBus.pendingFailure = error
                return
            }
            guard let frame else { return }
            take(frame)
        }
    }

    /// One received frame: into a peripheral when it is a measurement, else to the firmware.
    public mutating func take(_ frame: CANFrame) {
        guard !frame.id.isExtended else { canBus.deliver(frame); return }
        do throws(CANDecodeError) {
            switch frame.id.rawValue {
            case CANMatrix.AFECellVoltages.identifier:
                let m = try CANMatrix.AFECellVoltages.decode(frame)
                guard fresh(0, m.counter) else { return }
                LinkFrames.read(m, into: &cellMonitor.latest)
                cellMonitor.voltagesFresh = true
            case CANMatrix.AFETemperatures.identifier:
                let m = try CANMatrix.AFETemperatures.decode(frame)
                guard fresh(1, m.counter) else { return }
                LinkFrames.read(m, into: &cellMonitor.latest)
                cellMonitor.temperaturesFresh = true
            case CANMatrix.SHUNTCurrent.identifier:
                let m = try CANMatrix.SHUNTCurrent.decode(frame)
                guard fresh(2, m.counter) else { return }
                currentSensor.latest.current = LinkFrames.current(m)
                currentSensor.currentFresh = true
            case CANMatrix.SHUNTVoltages.identifier:
                let m = try CANMatrix.SHUNTVoltages.decode(frame)
                guard fresh(3, m.counter) else { return }
                (currentSensor.latest.packVoltage, currentSensor.latest.linkVoltage) = LinkFrames.voltages(m)
                currentSensor.voltagesFresh = true
            case CANMatrix.IOContactorFeedback.identifier:
                let m = try CANMatrix.IOContactorFeedback.decode(frame)
                guard fresh(4, m.counter) else { return }
                contactors.latest = LinkFrames.contactorFeedback(m)
                contactors.latestAt = contactors.now
            default:
                canBus.deliver(frame)
            }
        } catch {
            refusedFrames += 1
        }
    }

    /// Whether `counter` differs from the stream's last one (a repeat is refused).
    mutating func fresh(_ stream: Int, _ counter: UInt8) -> Bool {
        guard lastCounters[stream] != UInt16(counter) else {
            refusedFrames += 1
            return false
        }
        lastCounters[stream] = UInt16(counter)
        return true
    }

    /// Whether the cell monitor, the current sensor and the contactor feedback have each sent a
    /// frame that was not taken yet (the SBC deployment waits for them before its first tick).
    public var measurementNodesHeard: Bool {
        cellMonitor.voltagesFresh && currentSensor.currentFresh && contactors.latestAt != nil
    }

    /// After the tick: BMS_IOCommand when the coils or bleed switches changed or 10 ms passed.
    public mutating func sendCommands(now: Instant) {
        guard let frame = io.frame(coils: contactors.coils, balancing: cellMonitor.balancing, now: now) else { return }
        do { try canBus.send(frame) } catch {
            // The firmware's own frames count bus failures; a lost command is repeated in 10 ms.
            io.forceResend()
        }
    }
}
