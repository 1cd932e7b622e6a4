// Coulomb counting: the exact integral of the measured current over time, in integers.
import HAL

/// Integrates the pack current with the trapezoid rule, exactly: every tick adds
/// (I_previous + I_now) · dt in mA·µs (twice the charge, in nanocoulombs), in 64 bits. No
/// rounding happens until a value is read, so the count equals the integral of the
/// piecewise-linear current through the samples, to the nanocoulomb.
///
/// Positive current (charging) adds charge. Intervals longer than the measurement timeout, and
/// ticks without a valid current, are not integrated; their duration is added to `uncountedTime`
/// so that estimators can widen their error bounds.
public struct CoulombCounter: Sendable {
    /// Twice the net charge since start, in mA·µs (= 2 nC).
    public private(set) var doubledNetCharge: Int64 = 0
    /// Twice the charge that flowed in (charging), in mA·µs.
    public private(set) var doubledChargeIn: Int64 = 0
    /// Twice the charge that flowed out (discharging), as a positive number, in mA·µs.
    public private(set) var doubledChargeOut: Int64 = 0
    /// Time during which no valid current was available, or gaps too long to integrate across.
    public private(set) var uncountedTime: Microseconds = .zero
    /// The previous valid sample, the start of the next trapezoid.
    var previousCurrent: Milliamperes? = nil

    public init() {}

    /// Adds the interval that ended now. `current` is nil when no valid current was measured;
    /// `dt` is the time since the previous tick; `maximumStep` the longest interval integrated.
    public mutating func integrate(current: Milliamperes?, dt: Microseconds, maximumStep: Microseconds) {
        guard let current else {
            if dt > .zero { uncountedTime = uncountedTime + dt }
            previousCurrent = nil
            return
        }
        guard let previous = previousCurrent, dt > .zero, dt <= maximumStep else {
            // First sample, or after a gap: start a new trapezoid chain here.
            if dt > .zero && previousCurrent != nil { uncountedTime = uncountedTime + dt }
            previousCurrent = current
            return
        }
        let dtMicroseconds = Int64(widening: dt.saturatedInt32)
        // |I| ≤ 2^31 mA and dt ≤ 2^31 µs keep the product below 2^63 (wrapping ops avoid the
        // overflow-checked 64-bit multiply helper on 32-bit targets).
        let area = (Int64(widening: previous.rawValue) &+ Int64(widening: current.rawValue)) &* dtMicroseconds
        doubledNetCharge &+= area
        if area >= 0 { doubledChargeIn &+= area } else { doubledChargeOut &-= area }
        previousCurrent = current
    }

    /// The net charge since start in nanocoulombs (mA·µs), rounded towards minus infinity.
    public var netChargeNanocoulombs: Int64 { doubledNetCharge &>> 1 }
}
