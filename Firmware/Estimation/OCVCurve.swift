// Open-circuit voltage against state of charge for one cell: a piecewise-linear table.
import HAL

/// A cell's rest voltage as a function of state of charge, as up to 32 points with strictly
/// increasing SOC and voltage. Between points it is linear; outside them it is clamped.
public struct OCVCurve: Sendable {
    /// One point of the curve.
    public struct Point: Equatable, Sendable {
        /// State of charge in tenths of a percent (0...1000).
        public var socPermille: Int32
        public var voltage: Millivolts
        public init(socPermille: Int32, voltage: Millivolts) {
            self.socPermille = socPermille
            self.voltage = voltage
        }
    }

    public private(set) var points: FixedList<32, Point>

    /// An empty curve; add points in increasing order with `append`.
    public init() { points = FixedList(filler: Point(socPermille: 0, voltage: .zero)) }

    /// Adds a point; returns `false` when the curve already holds 32 points.
    @discardableResult
    public mutating func append(socPermille: Int32, voltage: Millivolts) -> Bool {
        points.append(Point(socPermille: socPermille, voltage: voltage))
    }

    /// Checks that the curve spans SOC 0...1 with at least two strictly increasing points.
    @_addressableSelf public func validate() throws(ConfigurationError) {
        guard points.count >= 2 else { throw .openCircuitVoltageTooFewPoints }
        guard points[0].socPermille == 0 && points[points.count - 1].socPermille == 1000 else {
            throw .openCircuitVoltageOutsideZeroToOne
        }
        for i in 1..<points.count {
            guard points[i].socPermille > points[i - 1].socPermille, points[i].voltage > points[i - 1].voltage else {
                throw .openCircuitVoltageNotIncreasing
            }
        }
    }

    /// The state of charge (fraction 0...1) whose open-circuit voltage is `voltage`; clamped to
    /// the curve's ends. The curve must be valid.
    public func stateOfCharge(atRestVoltage voltage: Millivolts) -> Float {
        let last = points.count - 1
        if voltage <= points[0].voltage { return Float(Int(points[0].socPermille)) / 1000 }
        if voltage >= points[last].voltage { return Float(Int(points[last].socPermille)) / 1000 }
        var upper = 1
        while points[upper].voltage < voltage { upper += 1 }
        let a = points[upper - 1], b = points[upper]
        let fraction = Float(Int(voltage.rawValue - a.voltage.rawValue)) / Float(Int(b.voltage.rawValue - a.voltage.rawValue))
        let permille = Float(Int(a.socPermille)) + fraction * Float(Int(b.socPermille - a.socPermille))
        return permille / 1000
    }

    /// The open-circuit voltage (V) at `soc` (fraction; clamped to the curve's ends). The curve
    /// must be valid.
    public func volts(atStateOfCharge soc: Float) -> Float {
        let permille = soc * 1000, last = points.count - 1
        if !(permille > Float(Int(points[0].socPermille))) { return Float(Int(points[0].voltage.rawValue)) / 1000 }
        if permille >= Float(Int(points[last].socPermille)) { return Float(Int(points[last].voltage.rawValue)) / 1000 }
        var upper = 1
        while Float(Int(points[upper].socPermille)) < permille { upper += 1 }
        let a = points[upper - 1], b = points[upper]
        let fraction = (permille - Float(Int(a.socPermille))) / Float(Int(b.socPermille - a.socPermille))
        return (Float(Int(a.voltage.rawValue)) + fraction * Float(Int(b.voltage.rawValue - a.voltage.rawValue))) / 1000
    }
}
