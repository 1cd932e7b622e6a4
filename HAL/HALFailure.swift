// How peripherals report expected I/O failures: a typed error per peripheral with a small,
// stable kind the firmware can count and report (in the spirit of embedded-hal's Error::kind()).
// A safety fault is never one of these: it is detected by the firmware from the readings.

/// What went wrong in a peripheral operation, coarsely. Raw values are stable (CAN, storage).
public enum HALErrorKind: UInt8, Sendable {
    /// The device did not answer in time.
    case timeout = 1
    /// A transfer arrived corrupted (CRC/PEC mismatch).
    case checksum = 2
    /// The operation cannot complete now without blocking (e.g. transmit mailbox full).
    case wouldBlock = 3
    /// The CAN controller is bus-off.
    case busOff = 4
    /// The device reported an internal fault.
    case deviceFault = 5
    /// The request is not valid for this device (address out of range, unsupported mode).
    case invalidRequest = 6
    /// Anything else.
    case other = 7
}

/// The error type every peripheral's `Failure` conforms to.
public protocol HALFailure: Error {
    var kind: HALErrorKind { get }
}
