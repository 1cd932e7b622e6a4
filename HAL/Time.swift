// Time as the firmware sees it: a monotonic point in time and an interval, different types.
// Both count microseconds in 64 bits, so neither wraps within the life of a pack (±292,000 years).
// The firmware never reads a clock to get them: `ControlLoop.tick(now:)` is handed an `Instant`.

/// A point on the board's monotonic clock, in microseconds since an arbitrary origin (usually boot).
public struct Instant: Comparable, Sendable {
    public var microsecondsSinceOrigin: Int64
    @inline(__always) public init(microsecondsSinceOrigin: Int64) { self.microsecondsSinceOrigin = microsecondsSinceOrigin }
    /// The clock's origin.
    public static let origin = Instant(microsecondsSinceOrigin: 0)
    @inline(__always) public static func < (a: Instant, b: Instant) -> Bool { a.microsecondsSinceOrigin < b.microsecondsSinceOrigin }
    @inline(__always) public static func + (a: Instant, b: Microseconds) -> Instant {
        Instant(microsecondsSinceOrigin: a.microsecondsSinceOrigin + b.rawValue)
    }
    @inline(__always) public static func - (a: Instant, b: Microseconds) -> Instant {
        Instant(microsecondsSinceOrigin: a.microsecondsSinceOrigin - b.rawValue)
    }
    /// The interval from `b` to `a` (negative when `a` is earlier).
    @inline(__always) public static func - (a: Instant, b: Instant) -> Microseconds {
        Microseconds(a.microsecondsSinceOrigin - b.microsecondsSinceOrigin)
    }
}

/// An interval of time in microseconds (negative intervals are allowed and mean "earlier").
public struct Microseconds: Comparable, Sendable {
    public var rawValue: Int64
    @inline(__always) public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public static let zero = Microseconds(0)
    @inline(__always) public static func microseconds(_ us: Int32) -> Microseconds { Microseconds(Int64(widening: us)) }
    @inline(__always) public static func milliseconds(_ ms: Int32) -> Microseconds { Microseconds(Int64(widening: ms) &* 1_000) }
    @inline(__always) public static func seconds(_ s: Int32) -> Microseconds { Microseconds(Int64(widening: s) &* 1_000_000) }
    @inline(__always) public static func < (a: Microseconds, b: Microseconds) -> Bool { a.rawValue < b.rawValue }
    @inline(__always) public static func + (a: Microseconds, b: Microseconds) -> Microseconds { Microseconds(a.rawValue + b.rawValue) }
    @inline(__always) public static func - (a: Microseconds, b: Microseconds) -> Microseconds { Microseconds(a.rawValue - b.rawValue) }
    /// The interval as a 32-bit count of microseconds, saturated at ±2,147 s (for per-tick arithmetic).
    @inline(__always) public var saturatedInt32: Int32 { Int32(saturating: rawValue) }
}
