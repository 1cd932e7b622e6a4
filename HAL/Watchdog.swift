// The independent watchdog: resets the board unless it is fed in time.

/// A hardware watchdog. The control loop feeds it once per completed tick, as its last step.
public protocol Watchdog {
    mutating func feed()
}
