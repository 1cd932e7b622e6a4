// Pack-level statistics over the valid readings: minimum and maximum with their indices, mean
// and spread. Computed every tick for cell voltages and every 100 ms for temperatures.
import HAL

/// An integer-backed quantity that statistics can be taken over.
public protocol IntegerQuantity: Comparable, Sendable {
    var integerValue: Int32 { get }
    init(integerValue: Int32)
}

extension Millivolts: IntegerQuantity {
    @inline(__always) public var integerValue: Int32 { rawValue }
    @inline(__always) public init(integerValue: Int32) { self.init(integerValue) }
}

extension DeciCelsius: IntegerQuantity {
    @inline(__always) public var integerValue: Int32 { Int32(rawValue) }
    @inline(__always) public init(integerValue: Int32) { self.init(Int16(truncatingIfNeeded: integerValue)) }
}

/// Minimum, maximum, mean and spread of a set of readings, over the valid ones only.
public struct PackStatistics<Value: IntegerQuantity>: Equatable, Sendable {
    public var minimum: Value
    /// Index of the (first) reading with the minimum value.
    public var minimumIndex: Int
    public var maximum: Value
    /// Index of the (first) reading with the maximum value.
    public var maximumIndex: Int
    /// The arithmetic mean, rounded to the nearest unit (halves away from zero).
    public var mean: Value
    /// Sum of the valid values (for cell voltages: the sum-of-cells voltage).
    public var sum: Int32
    /// Readings that took part.
    public var validCount: Int
    /// Readings left out because they were not valid.
    public var invalidCount: Int

    /// Maximum minus minimum.
    public var spread: Int32 { maximum.integerValue - minimum.integerValue }

    public init(minimum: Value, minimumIndex: Int, maximum: Value, maximumIndex: Int, mean: Value, sum: Int32,
                validCount: Int, invalidCount: Int) {
        self.minimum = minimum
        self.minimumIndex = minimumIndex
        self.maximum = maximum
        self.maximumIndex = maximumIndex
        self.mean = mean
        self.sum = sum
        self.validCount = validCount
        self.invalidCount = invalidCount
    }

    /// Statistics over the valid readings, or nil when none is valid. Values must be validated
    /// (within the configured plausible ranges), which keeps the sums far from overflow.
    public init?<let capacity: Int>(of readings: FixedList<capacity, Reading<Value>>) {
        var list = readings
        guard let statistics = PackStatistics.over(&list) else { return nil }
        self = statistics
    }

    /// The same over `readings` in place (`inout` only so that the list is read where it is:
    /// reading the elements of a borrowed list copies it whole on the Cortex-M; the loop's
    /// stages call this through `Measurements`; Docs/firmware-budget.md).
    static func over<let capacity: Int>(_ readings: inout FixedList<capacity, Reading<Value>>) -> PackStatistics? {
        var minimumIndex = -1, maximumIndex = -1
        var minimum = Int32.max, maximum = Int32.min
        var sum: Int32 = 0
        var valid = 0
        for i in readings.indices {
            let reading = readings[i]
            guard reading.status == .valid else { continue }
            let v = reading.value.integerValue
            if v < minimum { minimum = v; minimumIndex = i }
            if v > maximum { maximum = v; maximumIndex = i }
            sum &+= v
            valid += 1
        }
        guard valid > 0 else { return nil }
        let n = Int32(truncatingIfNeeded: valid)
        // Round half away from zero: (2·sum ± n) / (2·n), with Int32 division truncating to zero.
        let mean = sum >= 0 ? (2 &* sum &+ n) / (2 &* n) : (2 &* sum &- n) / (2 &* n)
        return PackStatistics(minimum: Value(integerValue: minimum), minimumIndex: minimumIndex,
                              maximum: Value(integerValue: maximum), maximumIndex: maximumIndex,
                              mean: Value(integerValue: mean), sum: sum, validCount: valid, invalidCount: readings.count - valid)
    }
}
