// Requests from outside (vehicle controller, charger; decoded from CAN) are queued and drained
// by the tick, like interrupt-driven inputs; every request gets an answer.
import HAL

/// Who asked. Raw values are stable (they go on CAN as BMS_RequestAnswer.RequestSource).
public enum RequestSource: UInt8, Sendable {
    /// The vehicle controller (VCU_Request).
    case vehicleController = 0
    /// The charger (CHARGER_Request).
    case charger = 1
    /// The BMS itself (standby after a lost request stream), or a caller of `ControlLoop.submit`.
    case local = 2
}

/// A request and the answer the state machine gave it.
public struct AnsweredRequest: Equatable, Sendable {
    public var request: BMSRequest
    public var answer: RequestAnswer
    public var source: RequestSource
    /// Counts answers, so a reader can tell a new answer from the previous one.
    public var sequence: UInt32
}

/// A queued request and who sent it.
struct QueuedRequest: Sendable {
    var request: BMSRequest
    var source: RequestSource
}

/// At most a few requests between two ticks; more are refused at the door.
struct RequestQueue: Sendable {
    var pending = FixedList<4, QueuedRequest>(filler: QueuedRequest(request: .standby, source: .local))

    /// Queues `request`; false when the queue is full.
    mutating func submit(_ request: BMSRequest, from source: RequestSource = .local) -> Bool {
        pending.append(QueuedRequest(request: request, source: source))
    }
}
