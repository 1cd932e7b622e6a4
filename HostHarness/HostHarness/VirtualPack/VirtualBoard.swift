// The board the firmware runs on in simulation: every HAL peripheral, backed by values the
// simulation writes before each tick (like registers a real front end would have filled) and
// reads after it (the commands the firmware gave).
import Firmware
import HAL

/// The failure every virtual peripheral can be told to report.
public struct VirtualFailure: HALFailure, Equatable {
    public var kind: HALErrorKind
    public init(kind: HALErrorKind) { self.kind = kind }
}

/// The virtual front end: hands out the latched readings, or fails when told to.
public struct VirtualCellMonitor: CellMonitor {
    /// What the next `measure` delivers.
    public var latched: CellMonitorReadings
    /// When set, `measure` throws this instead.
    public var failure: VirtualFailure? = nil
    /// The last balancing command received.
    public private(set) var balancing = BalancingCommand.off
    /// Passive balancing: 8 channels at once, a 39 Ω bleed resistor per cell (95 mA at 3.7 V).
    public static let bleedResistance = 39.0
    public static let capability = BalancingCapability.passive(maximumChannels: 8, bleedCurrent: Milliamperes(95))
    public var balancingCapability: BalancingCapability { VirtualCellMonitor.capability }

    public init(cellCount: Int, temperatureSensorCount: Int) {
        latched = CellMonitorReadings(cellCount: cellCount, temperatureSensorCount: temperatureSensorCount)
    }

    public mutating func measure(into readings: inout CellMonitorReadings) throws(VirtualFailure) {
        if let failure { throw failure }
        if readings.cellVoltages.count == latched.cellVoltages.count && readings.temperatures.count == latched.temperatures.count {
            readings = latched
            return
        }
        for i in 0..<min(readings.cellVoltages.count, latched.cellVoltages.count) {
            let reading = latched.cellVoltages[i]
            readings.cellVoltages[i] = reading
        }
        for i in 0..<min(readings.temperatures.count, latched.temperatures.count) {
            let reading = latched.temperatures[i]
            readings.temperatures[i] = reading
        }
    }

    public mutating func setBalancing(_ command: BalancingCommand) throws(VirtualFailure) {
        if let failure { throw failure }
        balancing = command
    }
}

/// The virtual current sensor.
public struct VirtualCurrentSensor: CurrentSensor {
    public var latched = PackSensorReadings(current: Reading(.zero, status: .notMeasured))
    public var failure: VirtualFailure? = nil
    public init() {}
    public mutating func measure() throws(VirtualFailure) -> PackSensorReadings {
        if let failure { throw failure }
        return latched
    }
}

/// Virtual contactors with mechanical delays: a contact moves `closeTime` or `openTime` after
/// its coil command (typical small DC contactors: 15 ms to close, 8 ms to open including the
/// arc), unless it is forced (welded, or never closing). Feedback reports the contact.
public struct VirtualContactorDriver: ContactorDriver {
    /// Coil states as commanded.
    public private(set) var commanded = ContactorFeedback(mainPositive: .open, mainNegative: .open, precharge: .open)
    /// Where the contacts are (before forcing).
    var contacts = ContactorFeedback(mainPositive: .open, mainNegative: .open, precharge: .open)
    /// When each contact reaches its commanded position (after a command that changed it).
    var arrival: (Instant, Instant, Instant) = (.origin, .origin, .origin)
    /// Positions that ignore the coil (a welded contact stays `.closed`); its feedback shows it.
    public var forced = ContactorFeedback() { didSet { noteForcing() } }
    /// Contacts welded closed whose auxiliary (feedback) contact still follows the coil: the
    /// feedback lies, only the voltages tell.
    public var weldedBehindFeedback = ContactorFeedback() { didSet { noteForcing() } }
    /// Whether any contact is forced or welded behind its feedback (without, both views are the
    /// contacts themselves: the common case, asked several times a tick).
    var anyForcing = false
    public var closeTime = Microseconds.milliseconds(15)
    public var openTime = Microseconds.milliseconds(8)
    /// The simulation's time (set before each tick).
    public var now = Instant.origin

    public init() {}

    public mutating func command(_ contactor: Contactor, closed: Bool) throws(VirtualFailure) {
        let position: ContactorPosition = closed ? .closed : .open
        guard commanded[contactor] != position else { return }
        commanded[contactor] = position
        let at = now + (closed ? closeTime : openTime)
        switch contactor {
        case .mainPositive: arrival.0 = at
        case .mainNegative: arrival.1 = at
        case .precharge: arrival.2 = at
        }
    }

    /// Moves the contacts whose travel time is up (call once per tick, after setting `now`).
    public mutating func advance(to time: Instant) {
        now = time
        if contacts.mainPositive != commanded.mainPositive && time >= arrival.0 { contacts.mainPositive = commanded.mainPositive }
        if contacts.mainNegative != commanded.mainNegative && time >= arrival.1 { contacts.mainNegative = commanded.mainNegative }
        if contacts.precharge != commanded.precharge && time >= arrival.2 { contacts.precharge = commanded.precharge }
    }

    /// Keeps `anyForcing` in step with `forced` and `weldedBehindFeedback`.
    mutating func noteForcing() {
        anyForcing = forced != ContactorFeedback() || weldedBehindFeedback != ContactorFeedback()
    }

    /// What the feedback contacts report (forced positions included).
    public var reported: ContactorFeedback {
        guard anyForcing else { return contacts }
        var result = contacts
        if forced.mainPositive != .unknown { result.mainPositive = forced.mainPositive }
        if forced.mainNegative != .unknown { result.mainNegative = forced.mainNegative }
        if forced.precharge != .unknown { result.precharge = forced.precharge }
        return result
    }

    /// Where the contacts physically are: what is reported, plus welds hidden behind the feedback.
    public var positions: ContactorFeedback {
        guard anyForcing else { return contacts }
        var result = reported
        if weldedBehindFeedback.mainPositive == .closed { result.mainPositive = .closed }
        if weldedBehindFeedback.mainNegative == .closed { result.mainNegative = .closed }
        if weldedBehindFeedback.precharge == .closed { result.precharge = .closed }
        return result
    }

    public mutating func feedback() throws(VirtualFailure) -> ContactorFeedback { reported }
}

/// A CAN bus in memory: the frames the firmware sent since the owner last took them, and a
/// queue of frames for it to receive.
public struct InMemoryCANBus: CANBus {
    public private(set) var sent: [CANFrame] = []
    var incoming: [CANFrame] = []
    var nextIncoming = 0
    /// When set, every send fails with it (a full mailbox, bus off).
    public var sendFailure: VirtualFailure? = nil
    public init() {}
    /// Queues `frame` for the firmware to receive.
    public mutating func deliver(_ frame: CANFrame) {
        if nextIncoming == incoming.count { incoming.removeAll(keepingCapacity: true); nextIncoming = 0 }
        incoming.append(frame)
    }
    /// Frames queued but not yet received.
    public var pendingCount: Int { incoming.count - nextIncoming }
    /// Forgets what was sent (after the owner has logged or checked it), keeping the storage.
    public mutating func clearSent() { sent.removeAll(keepingCapacity: true) }
    public mutating func send(_ frame: CANFrame) throws(VirtualFailure) {
        if let sendFailure { throw sendFailure }
        sent.append(frame)
    }
    public mutating func receive() throws(VirtualFailure) -> CANFrame? {
        guard nextIncoming < incoming.count else { return nil }
        defer { nextIncoming += 1 }
        return incoming[nextIncoming]
    }
}

extension StoreGeometry {
    /// The harness's store: 16 sectors of 4 KB (1,024 words), 64 KB of a microcontroller's flash
    /// as a BMS would give its non-volatile data (Docs/persistence.md has the wear figures).
    public static let hostDefault = StoreGeometry(pageCount: 16, wordsPerPage: 1_024)
}

/// Flash-like memory in RAM, with erase-before-write semantics; with a `file`, every erase and
/// write also goes to it (the SBC deployment's `run --state FILE`).
public struct InMemoryStore: NonVolatileStore {
    public let geometry: StoreGeometry
    public private(set) var words: [UInt32]
    public private(set) var file: StoreFile? = nil

    /// A store kept in the state file at `path` (created erased when missing).
    public init(geometry: StoreGeometry = StoreGeometry.hostDefault, path: String) throws(HarnessError) {
        self.geometry = geometry
        (file, words) = try StoreFile.open(path: path, geometry: geometry)
    }
    public init(geometry: StoreGeometry = StoreGeometry.hostDefault) {
        self.geometry = geometry
        words = Array(repeating: 0xFFFF_FFFF, count: geometry.pageCount * geometry.wordsPerPage)
    }
    /// A store holding `words` (page after page), e.g. one read back over CAN.
    public init(geometry: StoreGeometry, words: [UInt32]) {
        precondition(words.count == geometry.pageCount * geometry.wordsPerPage, "InMemoryStore: words do not fill the geometry")
        self.geometry = geometry
        self.words = words
    }
    func index(_ page: Int, _ word: Int) throws(VirtualFailure) -> Int {
        guard page >= 0, page < geometry.pageCount, word >= 0, word < geometry.wordsPerPage else {
            throw VirtualFailure(kind: .invalidRequest)
        }
        return page * geometry.wordsPerPage + word
    }
    public mutating func erase(page: Int) throws(VirtualFailure) {
        let first = try index(page, 0)
        for i in first..<first + geometry.wordsPerPage { words[i] = 0xFFFF_FFFF }
        if let file, !file.write(words[first..<first + geometry.wordsPerPage], at: first, sync: false) { throw VirtualFailure(kind: .other) }
    }
    public mutating func write(page: Int, word: Int, value: UInt32) throws(VirtualFailure) {
        let i = try index(page, word)
        guard words[i] == 0xFFFF_FFFF else { throw VirtualFailure(kind: .invalidRequest) }
        words[i] = value
        // A record's commit word makes it durable: sync then (StoreFile).
        if let file, !file.write(words[i...i], at: i, sync: value == JournalRecordFormat.commit) { throw VirtualFailure(kind: .other) }
    }
    public mutating func read(page: Int, word: Int) throws(VirtualFailure) -> UInt32 { words[try index(page, word)] }
    /// Flips one bit of word `word` (counted over the whole store): a retention error, for tests.
    public mutating func flipBit(word: Int, bit: Int) { words[word] ^= UInt32(1) << UInt32(bit) }
}

/// A watchdog that counts its feeds.
public struct CountingWatchdog: Watchdog {
    public private(set) var feeds: UInt64 = 0
    public init() {}
    public mutating func feed() { feeds += 1 }
}

/// The simulated board. Its clock is the simulation's: `timestamp()` returns the tick's start
/// plus `simulatedExecutionTime`, so a tick takes exactly that long in simulated time (zero by
/// default; tests set it to exercise overrun detection).
public struct VirtualBoard: BMSBoard {
    public var cellMonitor: VirtualCellMonitor
    public var currentSensor = VirtualCurrentSensor()
    public var contactors = VirtualContactorDriver()
    public var canBus = InMemoryCANBus()
    public var store = InMemoryStore()
    public var watchdog = CountingWatchdog()
    /// The start of the tick being run (set by the simulation before each tick).
    public var clock = Instant.origin
    public var simulatedExecutionTime = Microseconds.zero

    public init(cellCount: Int, temperatureSensorCount: Int) {
        cellMonitor = VirtualCellMonitor(cellCount: cellCount, temperatureSensorCount: temperatureSensorCount)
    }

    public mutating func timestamp() -> Instant { clock + simulatedExecutionTime }
}
