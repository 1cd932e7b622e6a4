// A cell's equivalent-circuit model as the firmware holds it: OCV and its temperature slope on a
// uniform SOC grid, circuit elements on a SOC × temperature grid, hysteresis and capacity — the
// same two-RC circuit with charge transfer as the virtual pack (Docs/estimation.md), in Float.
import HAL

/// Values over a grid of SOC (11 points, 0, 0.1 … 1) × temperature (2…8 increasing points, °C),
/// interpolated bilinearly and clamped at the edges.
public struct CellParameterGrid: Sendable {
    public static let socPoints = 11
    /// Temperatures of the grid's rows (°C), increasing.
    public private(set) var temperatures: FixedList<8, Float>
    /// Row-major: `values[row · 11 + column]`, row = temperature, column = SOC.
    var values: InlineArray<88, Float>
    /// The row temperatures again as plain storage, and their count: the lookup runs for every
    /// element every update, and the list's accessors cost more than the interpolation itself.
    var rowCelsius: InlineArray<8, Float>
    var rowCount: Int

    /// A grid of `temperatures` rows filled by `value(soc, celsius)`.
    public init(temperatures celsius: FixedList<8, Float>, value: (Float, Float) -> Float) {
        temperatures = celsius
        rowCelsius = InlineArray(repeating: 0)
        rowCount = 0
        values = InlineArray(repeating: 0)
        fill(temperatures: celsius, value: value)
    }

    /// A grid with one value everywhere.
    public init(constant: Float) {
        self.init(temperatures: CellParameterGrid.constantRows) { _, _ in constant }
    }

    /// The one row of a constant grid (25 °C).
    static var constantRows: FixedList<8, Float> {
        var rows = FixedList<8, Float>(filler: 0)
        rows.append(25)
        return rows
    }

    /// Refills this grid in place, as `init(temperatures:value:)` builds one (a board that keeps
    /// its loop in static storage builds the cell model there, not in a stack frame).
    public mutating func fill(temperatures celsius: FixedList<8, Float>, value: (Float, Float) -> Float) {
        temperatures = celsius
        rowCount = celsius.count
        for row in 0..<8 { rowCelsius[row] = row < celsius.count ? celsius[row] : 0 }
        for k in 0..<88 { values[k] = 0 }
        for row in 0..<celsius.count {
            for column in 0..<CellParameterGrid.socPoints {
                values[row * CellParameterGrid.socPoints + column] = value(Float(column) / 10, celsius[row])
            }
        }
    }

    /// Refills this grid in place with one value everywhere, as `init(constant:)`.
    public mutating func fill(constant: Float) {
        fill(temperatures: CellParameterGrid.constantRows) { _, _ in constant }
    }

    /// The value at `soc` (0…1) and `celsius`.
    @inline(__always) @_addressableSelf public func value(soc: Float, celsius: Float) -> Float {
        value(soc: soc, at: row(celsius: celsius))
    }

    /// Where `celsius` falls between the rows: the row below it and the weight of the row above
    /// (0: the row alone), clamped at the edges. The temperature half of `value(soc:celsius:)`,
    /// for callers that look up many SOCs at one temperature (the usable charge's bisection).
    @inline(__always) @_addressableSelf func row(celsius: Float) -> (row: Int, weight: Float) {
        // Read through spans: indexing the inline arrays directly copies them whole per access in
        // the Embedded -Osize builds (measured: ~850 instructions per lookup instead of ~60).
        let rows = rowCount, t = rowCelsius.span
        var row = 0, v: Float = 0
        if rows == 1 || !(celsius > t[0]) {
            row = 0
        } else if celsius >= t[rows - 1] {
            row = rows - 1
        } else {
            while t[row + 1] < celsius { row += 1 }
            v = (celsius - t[row]) / (t[row + 1] - t[row])
        }
        return (row, v)
    }

    /// The value at `soc` (0…1) and the temperature `row(celsius:)` placed.
    @inline(__always) @_addressableSelf func value(soc: Float, at place: (row: Int, weight: Float)) -> Float {
        let x = !(soc > 0) ? 0 : (soc >= 1 ? 10 : soc * 10)      // NaN counts as 0
        let column = min(Int(x), CellParameterGrid.socPoints - 2)
        let u = x - Float(column)
        let g = values.span, v = place.weight
        let k = place.row * CellParameterGrid.socPoints + column
        let here = g[k] + (g[k + 1] - g[k]) * u
        guard v != 0 else { return here }
        let n = CellParameterGrid.socPoints
        let above = g[k + n] + (g[k + n + 1] - g[k + n]) * u
        return here + (above - here) * v
    }

    var isValid: Bool {
        @_addressableSelf get {
            let rows = rowCount, t = rowCelsius.span, g = values.span
            guard rows >= 1 else { return false }
            for i in 1..<max(1, rows) where !(t[i] > t[i - 1]) { return false }
            for i in 0..<(rows * CellParameterGrid.socPoints) where !(g[i] >= 0) || g[i] == Float.infinity { return false }
            return true
        }
    }
}

/// One cell's model.
public struct CellModelTable: Sendable {
    public static let ocvPoints = 101
    /// Open-circuit voltage at 25 °C (V) at SOC 0, 0.01 … 1, increasing.
    var ocv: InlineArray<101, Float>
    /// dOCV/dT (V/K) at SOC 0, 0.1 … 1.
    var entropic: InlineArray<11, Float>
    /// Series resistance (Ω), exchange current of the charge transfer (A), the RC branches (Ω, s).
    public var r0: CellParameterGrid
    public var exchangeCurrent: CellParameterGrid
    public var r1: CellParameterGrid
    public var tau1: CellParameterGrid
    public var r2: CellParameterGrid
    public var tau2: CellParameterGrid
    /// Hysteresis: the largest offset from the mean OCV (V) and its rate γ (dimensionless:
    /// h moves by γ·|i|·dt/Q towards sign(i)).
    public var hysteresisVoltage: Float
    public var hysteresisRate: Float
    /// Capacity when new (Ah) and the coulombic efficiency of charging.
    public var capacityAh: Float
    public var coulombicEfficiency: Float
    /// The cell's voltage window (V).
    public var minimumVoltage: Float
    public var maximumVoltage: Float

    /// A model from its parts; `ocv(soc)` and `entropic(soc)` are sampled on the grids.
    public init(ocv: (Float) -> Float, entropic: (Float) -> Float, r0: CellParameterGrid, exchangeCurrent: CellParameterGrid,
                r1: CellParameterGrid, tau1: CellParameterGrid, r2: CellParameterGrid, tau2: CellParameterGrid,
                hysteresisVoltage: Float, hysteresisRate: Float, capacityAh: Float, coulombicEfficiency: Float,
                minimumVoltage: Float, maximumVoltage: Float) {
        self.ocv = InlineArray(repeating: 0)
        self.entropic = InlineArray(repeating: 0)
        self.r0 = r0
        self.exchangeCurrent = exchangeCurrent
        self.r1 = r1
        self.tau1 = tau1
        self.r2 = r2
        self.tau2 = tau2
        self.hysteresisVoltage = hysteresisVoltage
        self.hysteresisRate = hysteresisRate
        self.capacityAh = capacityAh
        self.coulombicEfficiency = coulombicEfficiency
        self.minimumVoltage = minimumVoltage
        self.maximumVoltage = maximumVoltage
        sample(ocv: ocv, entropic: entropic)
    }

    /// Samples `ocv(soc)` and `entropic(soc)` onto the tables in place (the circuit grids and the
    /// scalars are set field by field, e.g. by `StandardPolicy.estimation(_:openCircuitVoltage:into:)`).
    public mutating func sample(ocv: (Float) -> Float, entropic: (Float) -> Float) {
        for i in 0..<CellModelTable.ocvPoints { self.ocv[i] = ocv(Float(i) / 100) }
        for i in 0..<11 { self.entropic[i] = entropic(Float(i) / 10) }
    }

    /// Sets this model in place to the placeholder of a pack without one
    /// (`StateEstimationConfiguration.idle()`'s).
    mutating func setIdle() {
        sample(ocv: { 3 + $0 }, entropic: { _ in 0 })
        r0.fill(constant: 1)
        exchangeCurrent.fill(constant: 1)
        r1.fill(constant: 1)
        tau1.fill(constant: 1)
        r2.fill(constant: 1)
        tau2.fill(constant: 1)
        hysteresisVoltage = 0
        hysteresisRate = 0
        capacityAh = 1
        coulombicEfficiency = 1
        minimumVoltage = 2.5
        maximumVoltage = 4.2
    }

    /// OCV (V) at `soc` and `celsius`, its slope dOCV/dSOC (V per unit SOC) and its temperature
    /// coefficient dOCV/dT (V/K, the entropic coefficient). Beyond 0…1 the end segments are
    /// extended (an estimate may stray a little outside).
    @inline(__always) @_addressableSelf public func openCircuitVoltage(soc: Float, celsius: Float) -> (voltage: Float, slope: Float, entropic: Float) {
        let x = soc * 100
        let i = !(x > 0) ? 0 : (x >= 99 ? 99 : Int(x))
        let table = ocv.span, a = table[i], b = table[i + 1]
        let slope = (b - a) * 100
        let base = a + (b - a) * (x - Float(i))
        let e = !(x > 0) ? 0 : (x >= 100 ? 10 : Int(x / 10))
        let ej = min(e, 9)
        let slopes = entropic.span
        let entropicHere = slopes[ej] + (slopes[ej + 1] - slopes[ej]) * (soc * 10 - Float(ej))
        return (base + entropicHere * (celsius - 25), slope, entropicHere)
    }

    /// The SOC (0…1) whose 25 °C-equivalent OCV is `voltage` at `celsius` (bisection over the
    /// increasing table; used to start an estimate from a rest voltage).
    @_addressableSelf public func stateOfCharge(openCircuitVoltage voltage: Float, celsius: Float) -> Float {
        var low: Float = 0, high: Float = 1
        for _ in 0..<24 {
            let mid = (low + high) / 2
            if openCircuitVoltage(soc: mid, celsius: celsius).voltage < voltage { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }

    /// The instantaneous overpotential at `current` (A, + = charging): R0·i plus the charge
    /// transfer (2RT/F)·asinh(i/2I0), and its derivative with respect to the current (Ω).
    @_addressableSelf public func instantaneousOverpotential(current: Float, soc: Float, celsius: Float) -> (volts: Float, ohms: Float) {
        let r = r0.value(soc: soc, celsius: celsius)
        let i0 = max(exchangeCurrent.value(soc: soc, celsius: celsius), 1e-3)
        let twiceThermal = CellModelTable.twiceThermalVoltage(celsius)
        let x = current / (2 * i0)
        let eta = twiceThermal * FloatMath.asinh(x)
        let slope = twiceThermal / (2 * i0) / FloatMath.squareRoot(x * x + 1)
        return (r * current + eta, r + slope)
    }

    /// 2RT/F (V) at `celsius`.
    @inline(__always) static func twiceThermalVoltage(_ celsius: Float) -> Float { 2 * 8.617_333e-5 * (celsius + 273.15) }

    /// Checks the model (a broken table would make every estimate wrong).
    @_addressableSelf public func validate() throws(ConfigurationError) {
        let table = ocv.span
        for i in 1..<CellModelTable.ocvPoints where !(table[i] > table[i - 1]) { throw .cellModelOutOfRange }
        guard r0.isValid, exchangeCurrent.isValid, r1.isValid, tau1.isValid, r2.isValid, tau2.isValid,
              hysteresisVoltage >= 0, hysteresisRate >= 0, capacityAh > 0, coulombicEfficiency > 0.5, coulombicEfficiency <= 1,
              minimumVoltage < maximumVoltage else {
            throw .cellModelOutOfRange
        }
    }
}
