// The firmware's side of the CAN matrix (Fixtures/bms.dbc): the bounded transmit queue, E2E
// counters for what it sends, and the receive checks for the state requests it takes (CRC,
// counter sequence, timeout, range and authorisation). Composing the messages from the loop's
// state is in ControlLoop+CAN.swift.
import HAL

/// What the protocol needs to know about the firmware it speaks for (BMS_Identity).
public struct CANProtocolConfiguration: Sendable {
    public var firmwareMajor: UInt8
    public var firmwareMinor: UInt8
    public var firmwarePatch: UInt8
    /// Counter steps accepted between two received frames (1 = none lost; 3 = up to two lost).
    public var maximumCounterStep: UInt8
    public init(firmwareMajor: UInt8 = 0, firmwareMinor: UInt8 = 6, firmwarePatch: UInt8 = 0, maximumCounterStep: UInt8 = 3) {
        self.firmwareMajor = firmwareMajor
        self.firmwareMinor = firmwareMinor
        self.firmwarePatch = firmwarePatch
        self.maximumCounterStep = maximumCounterStep
    }
}

/// A ring of frames waiting for the bus: full, it refuses (and counts) the newest frame.
public struct TransmitQueue: Sendable {
    public static let capacity = 12
    var frames = InlineArray<12, CANFrame>(repeating: CANFrame(id: CANIdentifier(standard: 0)!, length: 0)!)
    var head = 0
    public private(set) var count = 0
    /// Frames refused because the queue was full.
    public private(set) var overflows: UInt32 = 0

    public init() {}

    /// Empties the queue in place, as `init` leaves it (the frames' slots are never read before
    /// they are written).
    mutating func reset() {
        head = 0
        count = 0
        overflows = 0
    }

    /// Queues `frame`; false (and counted) when full.
    @discardableResult
    public mutating func push(_ frame: CANFrame) -> Bool {
        guard count < TransmitQueue.capacity else {
            if overflows < UInt32.max { overflows += 1 }
            return false
        }
        var tail = head + count
        if tail >= TransmitQueue.capacity { tail -= TransmitQueue.capacity }
        frames[tail] = frame
        count += 1
        return true
    }

    /// The oldest frame, without removing it.
    public var first: CANFrame? {
        var copy = self
        return copy.firstInPlace()
    }

    /// `first`, read in place: the getter copied the whole ring (12 frames, 912 B on the M4F) to
    /// read one frame — for every frame the loop's transmit flush sent (Docs/firmware-budget.md).
    mutating func firstInPlace() -> CANFrame? { count == 0 ? nil : frames[head] }

    /// Removes the oldest frame.
    public mutating func removeFirst() {
        guard count > 0 else { return }
        head = head + 1 == TransmitQueue.capacity ? 0 : head + 1
        count -= 1
    }
}

/// The receive side of one E2E-protected request stream (VCU_Request or CHARGER_Request).
public struct RequestStream: Sendable {
    /// The counter of the last accepted frame (nil before the first, and after a timeout).
    public private(set) var lastCounter: UInt8? = nil
    /// When the last accepted frame arrived.
    public private(set) var lastAccepted: Instant? = nil
    /// The stream stopped arriving for longer than its timeout (cleared by the next good frame).
    public private(set) var timedOut = false

    public init() {}

    /// Checks a profile-1 counter (0...14, wraps to 0): a repeat is dropped, a step of 1...
    /// `maximumStep` is accepted, anything else is a sequence error (and resynchronises).
    mutating func accept(counter: UInt8, now: Instant, maximumStep: UInt8) -> CounterCheck {
        defer { lastCounter = counter }
        guard let last = lastCounter else {
            lastAccepted = now
            timedOut = false
            return .accepted
        }
        let step = counter >= last ? counter - last : counter + 15 - last
        if step == 0 { return .repeated }
        guard step <= maximumStep else { return .wrongSequence }
        lastAccepted = now
        timedOut = false
        return .accepted
    }

    /// Marks the stream timed out when nothing good arrived for `timeout`; true on the tick it
    /// times out.
    mutating func checkTimeout(now: Instant, timeout: Microseconds) -> Bool {
        guard !timedOut, let last = lastAccepted, now - last > timeout else { return false }
        timedOut = true
        lastCounter = nil
        return true
    }

    enum CounterCheck { case accepted, repeated, wrongSequence }
}

/// The protocol's state: counters, rotation, receive streams, and what it has refused.
public struct CANProtocol: Sendable {
    public private(set) var configuration: CANProtocolConfiguration
    public internal(set) var queue = TransmitQueue()
    /// Frames the bus refused (would block, bus off) — they stay queued — by kind.
    public internal(set) var sendFailures = FailureCount()
    public internal(set) var receiveFailures = FailureCount()
    /// Received frames refused: wrong length or format, CRC, counter, out-of-range values.
    public internal(set) var integrityErrors: UInt32 = 0
    /// Frames received whose identifier the BMS does not take (other nodes' traffic), ignored.
    public internal(set) var ignoredFrames: UInt32 = 0
    public internal(set) var vehicleController = RequestStream()
    public internal(set) var charger = RequestStream()
    /// The source whose request connected the pack: its stream's timeout opens it.
    public internal(set) var connectionOwner: RequestSource? = nil
    /// The owner's stream timed out while connected and the BMS went to standby (cleared when
    /// that stream returns).
    public internal(set) var requestTimeout = false
    /// The last answer sent to each source (request, answer raw values), so a request repeated
    /// every 100 ms is answered once until the answer changes.
    var lastAnswerSent = InlineArray<3, UInt16>(repeating: 0xFFFF)
    var answerSequence: UInt8 = 0
    /// Profile-1 counters of the messages the BMS sends (index: `OutgoingCounter`).
    var counters = InlineArray<8, UInt8>(repeating: 0)
    var cellVoltageGroup: UInt8 = 0
    var temperatureGroup: UInt8 = 0
    /// Timing-supervisor totals at the previous second (for per-second figures).
    var overrunsAtLastSecond: UInt64 = 0
    var missedAtLastSecond: UInt64 = 0
    var overrunsLastSecond: UInt64 = 0
    var missedLastSecond: UInt64 = 0

    public init(configuration: CANProtocolConfiguration = CANProtocolConfiguration()) {
        self.configuration = configuration
    }

    /// Sets the protocol up in place as `init` does (for a loop in static storage).
    mutating func reset(configuration: CANProtocolConfiguration) {
        self.configuration = configuration
        queue.reset()
        sendFailures = FailureCount()
        receiveFailures = FailureCount()
        integrityErrors = 0
        ignoredFrames = 0
        vehicleController = RequestStream()
        charger = RequestStream()
        connectionOwner = nil
        requestTimeout = false
        lastAnswerSent = InlineArray(repeating: 0xFFFF)
        answerSequence = 0
        counters = InlineArray(repeating: 0)
        cellVoltageGroup = 0
        temperatureGroup = 0
        overrunsAtLastSecond = 0
        missedAtLastSecond = 0
        overrunsLastSecond = 0
        missedLastSecond = 0
    }

    /// The E2E-protected messages the BMS sends, each with its own counter.
    enum OutgoingCounter: Int {
        case packFast = 0, currentLimits, requestAnswer, status, faultTiers, faultLatches
    }

    /// The next counter value (0...14) for `message`.
    mutating func nextCounter(_ message: OutgoingCounter) -> UInt8 {
        let c = counters[message.rawValue]
        counters[message.rawValue] = c >= 14 ? 0 : c + 1
        return c
    }

    mutating func countIntegrityError() {
        if integrityErrors < UInt32.max { integrityErrors += 1 }
    }

    /// What a source may ask for: the vehicle controller anything, the charger standby and charge.
    static func isAuthorised(_ request: BMSRequest, from source: RequestSource) -> Bool {
        switch (source, request) {
        case (.vehicleController, _), (.local, _): return true
        case (.charger, .standby), (.charger, .charge): return true
        case (.charger, .drive), (.charger, .reset): return false
        }
    }

    /// Queues a BMS_RequestAnswer when the answer to `source` differs from the last one sent.
    mutating func answer(_ request: UInt8, from source: RequestSource, with answer: CANMatrix.Answer) {
        let key = UInt16(truncatingIfNeeded: request) &<< 8 | UInt16(answer.rawValue)
        let index = Int(source.rawValue)
        guard lastAnswerSent[index] != key else { return }
        lastAnswerSent[index] = key
        var m = CANMatrix.BMSRequestAnswer()
        m.counter = nextCounter(.requestAnswer)
        m.answeredRequest = request
        m.requestSource = source.rawValue
        m.answer = answer.rawValue
        m.answerSequence = answerSequence
        answerSequence &+= 1
        queue.push(m.encode())
    }

    /// The CAN value of a state-machine answer.
    static func canAnswer(_ answer: RequestAnswer) -> CANMatrix.Answer {
        switch answer {
        case .accepted: return .accepted
        case .pending: return .pending
        case .illegal(.latchedFault): return .latchedFault
        case .illegal(.faultPersists): return .faultPersists
        case .illegal(.busy): return .busy
        case .illegal(.modeChangeNeedsStandby): return .modeChangeNeedsStandby
        }
    }
}
