// A CAN controller: non-blocking send and receive of classic and FD frames.

/// One CAN interface. Neither call blocks.
public protocol CANBus {
    associatedtype Failure: HALFailure

    /// Queues `frame` for transmission; throws a `.wouldBlock` failure when the controller's
    /// transmit queue is full and `.busOff` when the controller is off the bus.
    mutating func send(_ frame: CANFrame) throws(Failure)

    /// The next received frame, or nil when none is pending.
    mutating func receive() throws(Failure) -> CANFrame?
}
