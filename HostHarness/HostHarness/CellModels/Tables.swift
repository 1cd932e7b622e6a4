// Lookup tables for cell models: a curve over SOC, and a grid over SOC and temperature with
// Arrhenius-style interpolation in temperature.

/// y(x) as a piecewise-linear curve through strictly increasing x; clamped outside.
public struct Curve: Equatable, Sendable {
    public let x: [Double]
    public let y: [Double]

    /// nil when the arrays differ in length, hold fewer than two points, or x does not increase.
    public init?(x: [Double], y: [Double]) {
        guard x.count == y.count, x.count >= 2 else { return nil }
        for i in 1..<x.count where !(x[i] > x[i - 1]) { return nil }
        self.x = x
        self.y = y
    }

    /// A constant curve over 0...1.
    public static func constant(_ value: Double) -> Curve { Curve(x: [0, 1], y: [value, value])! }

    public subscript(at: Double) -> Double {
        if at <= x[0] { return y[0] }
        if at >= x[x.count - 1] { return y[y.count - 1] }
        var low = 0, high = x.count - 1
        while high - low > 1 {
            let middle = (low + high) / 2
            if x[middle] <= at { low = middle } else { high = middle }
        }
        return y[low] + (y[high] - y[low]) * (at - x[low]) / (x[high] - x[low])
    }
}

/// A positive quantity over SOC (rows' columns) and temperature (rows): linear in SOC, and
/// linear in ln(value) against 1/T between temperature rows (Arrhenius). Up to 20 K beyond the
/// outermost rows it follows the Arrhenius trend of the whole identified range (first to last
/// row), clamped further out: the outermost segment alone carries the fit's noise, and
/// extrapolating it made the LG M50's R1 triple between 37 and 57 °C (a resistance that rises
/// with temperature and a hot weak cell that runs away).
public struct ArrheniusGrid: Equatable, Sendable {
    public let stateOfCharge: [Double]
    public let temperatureCelsius: [Double]
    /// values[t][s]: at temperatureCelsius[t] and stateOfCharge[s]; all > 0.
    public let values: [[Double]]
    let logValues: [[Double]]

    public init?(stateOfCharge: [Double], temperatureCelsius: [Double], values: [[Double]]) {
        guard !stateOfCharge.isEmpty, !temperatureCelsius.isEmpty, values.count == temperatureCelsius.count,
              values.allSatisfy({ $0.count == stateOfCharge.count && $0.allSatisfy { $0 > 0 && $0.isFinite } }) else { return nil }
        for i in stride(from: 1, to: stateOfCharge.count, by: 1) where !(stateOfCharge[i] > stateOfCharge[i - 1]) { return nil }
        for i in stride(from: 1, to: temperatureCelsius.count, by: 1) where !(temperatureCelsius[i] > temperatureCelsius[i - 1]) { return nil }
        self.stateOfCharge = stateOfCharge
        self.temperatureCelsius = temperatureCelsius
        self.values = values
        logValues = values.map { $0.map { log($0) } }
    }

    /// A grid with one value everywhere.
    public static func constant(_ value: Double) -> ArrheniusGrid {
        ArrheniusGrid(stateOfCharge: [0.5], temperatureCelsius: [25], values: [[value]])!
    }

    func logValue(row: Int, soc: Double) -> Double {
        let s = stateOfCharge, v = logValues[row]
        if s.count == 1 || soc <= s[0] { return v[0] }
        if soc >= s[s.count - 1] { return v[v.count - 1] }
        var i = 1
        while s[i] < soc { i += 1 }
        return v[i - 1] + (v[i] - v[i - 1]) * (soc - s[i - 1]) / (s[i] - s[i - 1])
    }

    public func value(stateOfCharge soc: Double, temperatureCelsius celsius: Double) -> Double {
        let t = temperatureCelsius
        if t.count == 1 { return exp(logValue(row: 0, soc: soc)) }
        let clamped = min(max(celsius, t[0] - 20), t[t.count - 1] + 20)
        let inverse = { (c: Double) in 1 / (c + 273.15) }
        let last = t.count - 1
        if clamped < t[0] || clamped > t[last] {
            // Outside the rows: the trend between the first and the last row, from the nearer one.
            let first = logValue(row: 0, soc: soc), final = logValue(row: last, soc: soc)
            let slope = (final - first) / (inverse(t[last]) - inverse(t[0]))
            let (edge, value) = clamped < t[0] ? (t[0], first) : (t[last], final)
            return exp(value + slope * (inverse(clamped) - inverse(edge)))
        }
        var upper = 1
        while upper < last && t[upper] < clamped { upper += 1 }
        let fraction = (inverse(clamped) - inverse(t[upper - 1])) / (inverse(t[upper]) - inverse(t[upper - 1]))
        let a = logValue(row: upper - 1, soc: soc), b = logValue(row: upper, soc: soc)
        return exp(a + (b - a) * fraction)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
