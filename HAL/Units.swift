// Physical quantities as integer-backed types: the unit is in the type, the raw integer is `rawValue`.
//
// Sign convention, stated once for the whole project: a current is POSITIVE when it flows INTO
// the pack (charging) and negative when the pack is discharged. The same holds for charge.

/// An electric potential in millivolts (cell voltages at 1 mV resolution; pack voltages up to ±2,147 kV).
public struct Millivolts: Comparable, Sendable {
    public var rawValue: Int32
    @inline(__always) public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public static let zero = Millivolts(0)
    @inline(__always) public static func < (a: Millivolts, b: Millivolts) -> Bool { a.rawValue < b.rawValue }
    @inline(__always) public static func + (a: Millivolts, b: Millivolts) -> Millivolts { Millivolts(a.rawValue + b.rawValue) }
    @inline(__always) public static func - (a: Millivolts, b: Millivolts) -> Millivolts { Millivolts(a.rawValue - b.rawValue) }
}

/// An electric current in milliamperes; positive = charging (into the pack). Range ±2,147 kA.
public struct Milliamperes: Comparable, Sendable {
    public var rawValue: Int32
    @inline(__always) public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public static let zero = Milliamperes(0)
    @inline(__always) public static func < (a: Milliamperes, b: Milliamperes) -> Bool { a.rawValue < b.rawValue }
    @inline(__always) public static func + (a: Milliamperes, b: Milliamperes) -> Milliamperes { Milliamperes(a.rawValue + b.rawValue) }
    @inline(__always) public static func - (a: Milliamperes, b: Milliamperes) -> Milliamperes { Milliamperes(a.rawValue - b.rawValue) }
    /// The magnitude, for comparisons with thresholds that apply in both directions.
    @inline(__always) public var magnitude: Milliamperes {
        Milliamperes(rawValue >= 0 ? rawValue : (rawValue == Int32.min ? Int32.max : -rawValue))
    }
}

/// A temperature in tenths of a degree Celsius (−3276.8 °C ... 3276.7 °C).
public struct DeciCelsius: Comparable, Sendable {
    public var rawValue: Int16
    @inline(__always) public init(_ rawValue: Int16) { self.rawValue = rawValue }
    @inline(__always) public static func < (a: DeciCelsius, b: DeciCelsius) -> Bool { a.rawValue < b.rawValue }
}

/// An electric charge in milliampere-seconds (1 mAh = 3,600 mAs); positive = charge into the pack.
/// 64-bit, so a pack's lifetime throughput never overflows it.
public struct MilliampereSeconds: Comparable, Sendable {
    public var rawValue: Int64
    @inline(__always) public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public static let zero = MilliampereSeconds(0)
    /// A charge given in milliampere-hours (rated capacities are quoted this way).
    @inline(__always) public static func milliampereHours(_ mAh: Int32) -> MilliampereSeconds {
        MilliampereSeconds(Int64(widening: mAh) &* 3_600)
    }
    @inline(__always) public static func < (a: MilliampereSeconds, b: MilliampereSeconds) -> Bool { a.rawValue < b.rawValue }
    @inline(__always) public static func + (a: MilliampereSeconds, b: MilliampereSeconds) -> MilliampereSeconds {
        MilliampereSeconds(a.rawValue + b.rawValue)
    }
    @inline(__always) public static func - (a: MilliampereSeconds, b: MilliampereSeconds) -> MilliampereSeconds {
        MilliampereSeconds(a.rawValue - b.rawValue)
    }
}
