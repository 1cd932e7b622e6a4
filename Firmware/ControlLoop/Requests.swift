// Requests from outside (vehicle controller, charger; decoded from CAN) are queued and drained
// by the tick, like interrupt-driven inputs; every request gets an answer.
import HAL

/// A request and the answer the state machine gave it.
public struct AnsweredRequest: Equatable, Sendable {
    public var request: BMSRequest
    public var answer: RequestAnswer
    /// Counts answers, so a reader can tell a new answer from the previous one.
    public var sequence: UInt32
}

/// At most a few requests between two ticks; more are refused at the door.
struct RequestQueue: Sendable {
    var pending = FixedList<4, BMSRequest>(filler: .standby)

    /// Queues `request`; false when the queue is full.
    mutating func submit(_ request: BMSRequest) -> Bool { pending.append(request) }
}
