// Identifies a cell's equivalent circuit from test files, in exactly the form the model evaluates
// it: R0, I0, R1, τ1, R2, τ2 on a grid of temperature rows × SOC centres, each sample's elements
// being the grid's interpolation at the sample's SOC (log-linear) and recorded temperature
// (log-linear in 1/T, extrapolated up to 20 K beyond the outer rows, as `ArrheniusGrid` does).
// Fitted to the measured terminal voltage of all files at once by coordinate descent — Nelder–Mead
// on one grid cell's six values at a time, every cell in turn, a few sweeps — with a mild penalty
// on differences between neighbouring SOC centres, and optionally the hysteresis magnitude and
// rate (from a given start: the fit is not convex in them, so a caller may try several starts and
// keep the smallest `squaredError`). The OCV curve is known from the cell's OCV test.
import Foundation

/// The circuit elements at one grid cell.
public struct CircuitElements: Equatable, Sendable {
    public var r0: Double, exchangeCurrent: Double, r1: Double, tau1: Double, r2: Double, tau2: Double
}

/// The identified circuit.
public struct CircuitFit: Sendable {
    /// Row temperatures (°C), each the median loaded temperature of the files grouped into it.
    public var rowTemperatures: [Double]
    /// elements[row][centre].
    public var elements: [[CircuitElements]]
    public var hysteresisVoltage: Double
    public var hysteresisRate: Double
    /// Terminal-voltage RMSE per file (V), in the order given, over its scored samples (NaN: none).
    public var rmse: [Double]
    /// The sum of squared voltage errors over every file's scored samples (V²): what the fit
    /// minimises, less the smoothness penalty.
    public var squaredError: Double
}

/// A test file prepared for fitting: everything that does not depend on the parameters.
struct PreparedFile {
    var dt: [Double], current: [Double], measured: [Double], openCircuit: [Double]
    var twiceThermalVoltage: [Double]
    /// SOC centre below each sample and the interpolation weight of the one above.
    var lower: [Int], weight: [Double]
    /// Temperature row pair of each sample and the weight of the second (in 1/T; may lie outside
    /// 0...1 when extrapolating).
    var row: [Int], rowWeight: [Double]
    var capacity: Double
    /// Whether the sample's error counts (its SOC is at or above the fit's minimum).
    var scored: [Bool]
    var scoredCount: Int
    var count: Int { dt.count }
}

public enum CircuitIdentifier {
    /// SOC centres: denser near empty, where the circuit changes fastest.
    public static let bandCentres: [Double] = [0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.98]
    /// Bounds: R0, I0, R1, τ1, R2, τ2.
    static let bounds: [ClosedRange<Double>] = [1e-4...0.5, 0.05...500, 1e-5...0.5, 0.3...60, 1e-5...0.5, 60...3_000]
    static let logBounds = bounds.map { log($0.lowerBound)...log($0.upperBound) }
    /// Files whose loaded temperatures lie within this of each other share a row (K).
    static let rowSpan = 5.0

    /// SOC by coulomb counting from `initial` with `capacityAh` (A, positive = charging).
    public static func stateOfCharge(time: [Double], current: [Double], initial: Double, capacityAh: Double) -> [Double] {
        var soc = [initial]
        soc.reserveCapacity(time.count)
        for k in 1..<time.count { soc.append(soc[k - 1] + current[k] * (time[k] - time[k - 1]) / (capacityAh * 3_600)) }
        return soc
    }

    /// The median recorded temperature while current flows (a rest at another temperature before
    /// the test does not count).
    public static func loadedTemperature(_ file: CellTestData) -> Double {
        let threshold = 0.02 * (file.current.map { abs($0) }.max() ?? 0)
        var loaded = file.current.indices.filter { abs(file.current[$0]) > threshold }.map { file.temperature[$0] }
        if loaded.isEmpty { loaded = file.temperature }
        loaded.sort()
        return loaded[loaded.count / 2]
    }

    static func prepare(_ data: CellTestData, currentBias: Double, ocv: Curve, capacityAh: Double, rows: [Double],
                        minimumStateOfCharge: Double) -> PreparedFile {
        let current = data.current.map { $0 + currentBias }
        let soc = stateOfCharge(time: data.time, current: current, initial: data.referenceStateOfCharge?.first ?? 1, capacityAh: capacityAh)
        var lower: [Int] = [], weight: [Double] = []
        let centres = bandCentres
        for s in soc {
            if s <= centres[0] { lower.append(0); weight.append(0); continue }
            if s >= centres[centres.count - 1] { lower.append(centres.count - 2); weight.append(1); continue }
            var i = 0
            while centres[i + 1] < s { i += 1 }
            lower.append(i); weight.append((s - centres[i]) / (centres[i + 1] - centres[i]))
        }
        var row: [Int] = [], rowWeight: [Double] = []
        for celsius in data.temperature {
            guard rows.count > 1 else { row.append(0); rowWeight.append(0); continue }
            // The same rule as ArrheniusGrid.value(stateOfCharge:temperatureCelsius:).
            let clamped = min(max(celsius, rows[0] - 20), rows[rows.count - 1] + 20)
            var upper = 1
            while upper < rows.count - 1 && rows[upper] < clamped { upper += 1 }
            let inverse = { (c: Double) in 1 / (c + 273.15) }
            row.append(upper - 1)
            rowWeight.append((inverse(clamped) - inverse(rows[upper - 1])) / (inverse(rows[upper]) - inverse(rows[upper - 1])))
        }
        let scored = soc.map { $0 >= minimumStateOfCharge }
        return PreparedFile(dt: data.time.indices.map { $0 == 0 ? 0 : data.time[$0] - data.time[$0 - 1] }, current: current,
                            measured: data.voltage, openCircuit: soc.map { ocv[$0] },
                            twiceThermalVoltage: data.temperature.map { 2 * CircuitCoefficients.gasConstantOverFaraday * ($0 + 273.15) },
                            lower: lower, weight: weight, row: row, rowWeight: rowWeight, capacity: capacityAh * 3_600,
                            scored: scored, scoredCount: scored.count(where: { $0 }))
    }

    /// Groups files into temperature rows: files whose loaded temperatures lie within `rowSpan`.
    static func rows(_ files: [CellTestData]) -> [Double] {
        let loaded = files.map(loadedTemperature).sorted()
        var groups: [[Double]] = []
        for t in loaded {
            if let first = groups.last?.first, t - first <= rowSpan { groups[groups.count - 1].append(t) } else { groups.append([t]) }
        }
        return groups.map { Fixed.rounded($0[$0.count / 2], decimals: 1) }
    }

    /// Fits the circuit to `files`. `hysteresis` also fits its magnitude and rate, starting from
    /// `hysteresisStart` (V, rate; (0, 0): the first sweep fits the grid without hysteresis).
    /// Samples whose coulomb-counted SOC is below `minimumStateOfCharge` are simulated but not
    /// scored.
    public static func fit(_ files: [CellTestData], currentBias: Double, ocv: Curve, capacityAh: Double,
                           hysteresis fitHysteresis: Bool, hysteresisStart: (voltage: Double, rate: Double) = (0, 0),
                           minimumStateOfCharge: Double = -.infinity, sweeps: Int = 3) -> CircuitFit {
        let rowTemperatures = rows(files)
        let prepared = files.map { prepare($0, currentBias: currentBias, ocv: ocv, capacityAh: capacityAh, rows: rowTemperatures,
                                           minimumStateOfCharge: minimumStateOfCharge) }
        let rowCount = rowTemperatures.count, n = bandCentres.count
        let q = capacityAh
        let initial = [log(0.06 / q), log(2 * q), log(0.02 / q), log(5), log(0.02 / q), log(300)]
        var grid = Grid(values: [[[Double]]](repeating: [[Double]](repeating: initial, count: n), count: rowCount))
        var hysteresis = fitHysteresis ? hysteresisStart : (voltage: 0.0, rate: 0.0)
        // How much each cell is excited (loaded samples, weighted by interpolation); cells with
        // too little copy their nearest excited centre in the same row.
        var excitation = [[Double]](repeating: [Double](repeating: 0, count: n), count: rowCount)
        for p in prepared {
            for k in 0..<p.count where p.scored[k] && abs(p.current[k]) > 0.05 * q {
                let wT = min(max(p.rowWeight[k], 0), 1)
                for (r, wr) in [(p.row[k], 1 - wT), (min(p.row[k] + 1, rowCount - 1), wT)] {
                    excitation[r][p.lower[k]] += wr * (1 - p.weight[k])
                    excitation[r][p.lower[k] + 1] += wr * p.weight[k]
                }
            }
        }
        let excited = (0..<rowCount).map { r in (0..<n).filter { excitation[r][$0] >= 30 } }
        func fillUnexcited() {
            for r in 0..<rowCount where !excited[r].isEmpty {
                for c in 0..<n where !excited[r].contains(c) { grid.values[r][c] = grid.values[r][excited[r].min { abs($0 - c) < abs($1 - c) }!] }
            }
        }
        let samples = Double(prepared.reduce(0) { $0 + $1.scoredCount })
        // λ makes a factor of 2 between neighbouring centres cost about 0.5 % of a 10 mV fit's error.
        let smoothness = 0.01 * samples * 1e-4
        func penalty(_ r: Int, _ c: Int, _ x: [Double]) -> Double {
            var total = 0.0
            for neighbour in [c - 1, c + 1] where excited[r].contains(neighbour) {
                for i in 0..<6 { let d = x[i] - grid.values[r][neighbour][i]; total += d * d }
            }
            return smoothness * total
        }
        var caches = prepared.map { Cache(file: $0, grid: grid) }
        for _ in 0..<sweeps {
            for r in 0..<rowCount {
                for c in excited[r] {
                    let involved = prepared.indices.filter { caches[$0].touches(prepared[$0], row: r, centre: c) }
                    let cost = { (x: [Double]) -> Double in
                        var total = penalty(r, c, x)
                        for f in involved {
                            total += caches[f].squaredError(prepared[f], overriding: (r, c, x), hysteresis: hysteresis)
                        }
                        return total
                    }
                    let result = NelderMead.minimize(cost, start: grid.values[r][c], scale: [0.3, 0.5, 0.5, 0.5, 0.5, 0.5],
                                                     maximumEvaluations: 500)
                    grid.values[r][c] = clamped(result.point)
                    for f in involved { caches[f].commit(prepared[f], row: r, centre: c, grid.values[r][c]) }
                }
            }
            fillUnexcited()
            caches = prepared.map { Cache(file: $0, grid: grid) }
            if fitHysteresis {
                let cost = { (x: [Double]) -> Double in
                    let h = (voltage: min(max(x[0], 0), 0.1), rate: min(max(exp(x[1]), 1), 500))
                    var total = 0.0
                    for f in prepared.indices { total += caches[f].squaredError(prepared[f], overriding: nil, hysteresis: h) }
                    return total
                }
                let start = [max(hysteresis.voltage, 0.005), log(max(hysteresis.rate, 30))]
                let result = NelderMead.minimize(cost, start: start, scale: [0.005, 0.7], maximumEvaluations: 200)
                hysteresis = (min(max(result.point[0], 0), 0.1), min(max(exp(result.point[1]), 1), 500))
            }
        }
        let errors = prepared.indices.map { caches[$0].squaredError(prepared[$0], overriding: nil, hysteresis: hysteresis) }
        // A file with no scored sample has no RMSE (NaN), not a perfect one.
        let rmse = prepared.indices.map { prepared[$0].scoredCount > 0 ? (errors[$0] / Double(prepared[$0].scoredCount)).squareRoot() : .nan }
        return CircuitFit(rowTemperatures: rowTemperatures, elements: grid.values.map { $0.map(elements) },
                          hysteresisVoltage: hysteresis.voltage, hysteresisRate: hysteresis.rate, rmse: rmse,
                          squaredError: errors.reduce(0, +))
    }

    static func clamped(_ x: [Double]) -> [Double] {
        (0..<6).map { min(max(x[$0], logBounds[$0].lowerBound), logBounds[$0].upperBound) }
    }

    static func elements(_ x: [Double]) -> CircuitElements {
        let v = clamped(x).map { exp($0) }
        return CircuitElements(r0: v[0], exchangeCurrent: v[1], r1: v[2], tau1: v[3], r2: v[4], tau2: v[5])
    }

    /// Log-values of the six elements per (row, centre).
    struct Grid {
        var values: [[[Double]]]
    }

    /// Per-sample coefficients of one file under the current grid, so that a trial of one cell
    /// only recomputes the samples that cell influences.
    struct Cache {
        var grid: Grid
        var r0: [Double], inverseTwiceI0: [Double], a1: [Double], b1: [Double], a2: [Double], b2: [Double]

        init(file: PreparedFile, grid: Grid) {
            self.grid = grid
            let count = file.count
            r0 = .init(repeating: 0, count: count); inverseTwiceI0 = r0; a1 = r0; b1 = r0; a2 = r0; b2 = r0
            for k in 0..<count { set(k, coefficients(file, k, overriding: nil)) }
        }

        mutating func set(_ k: Int, _ c: (Double, Double, Double, Double, Double, Double)) {
            (r0[k], inverseTwiceI0[k], a1[k], b1[k], a2[k], b2[k]) = c
        }

        func affected(_ file: PreparedFile, _ k: Int, row: Int, centre: Int) -> Bool {
            let rowsOfSample = (file.row[k], min(file.row[k] + 1, grid.values.count - 1))
            return (file.lower[k] == centre || file.lower[k] + 1 == centre) && (rowsOfSample.0 == row || rowsOfSample.1 == row)
        }

        func touches(_ file: PreparedFile, row: Int, centre: Int) -> Bool {
            (0..<file.count).contains { affected(file, $0, row: row, centre: centre) }
        }

        /// Coefficients of sample k: bilinear in (SOC, 1/T) on the log-values, clamped to the bounds.
        @inline(__always)
        func coefficients(_ file: PreparedFile, _ k: Int, overriding trial: (Int, Int, [Double])?) -> (Double, Double, Double, Double, Double, Double) {
            let c0 = file.lower[k], c1 = c0 + 1, w = file.weight[k]
            let r0i = file.row[k], r1i = min(r0i + 1, grid.values.count - 1), wT = file.rowWeight[k]
            func cell(_ r: Int, _ c: Int) -> [Double] {
                if let trial, trial.0 == r, trial.1 == c { return trial.2 }
                return grid.values[r][c]
            }
            let a = cell(r0i, c0), b = cell(r0i, c1), d = cell(r1i, c0), e = cell(r1i, c1)
            var v = [Double](repeating: 0, count: 6)
            for i in 0..<6 {
                let low = a[i] + (b[i] - a[i]) * w, high = d[i] + (e[i] - d[i]) * w
                v[i] = exp(min(max(low + (high - low) * wT, CircuitIdentifier.logBounds[i].lowerBound - 3), CircuitIdentifier.logBounds[i].upperBound + 3))
            }
            let a1 = exp(-file.dt[k] / v[3]), a2 = exp(-file.dt[k] / v[5])
            return (v[0], 1 / (2 * v[1]), a1, v[2] * (1 - a1), a2, v[4] * (1 - a2))
        }

        /// Sets cell (row, centre) to `x` and recomputes the samples it influences.
        mutating func commit(_ file: PreparedFile, row: Int, centre: Int, _ x: [Double]) {
            grid.values[row][centre] = x
            for k in 0..<file.count where affected(file, k, row: row, centre: centre) { set(k, coefficients(file, k, overriding: nil)) }
        }

        /// The file's squared voltage error with one cell set to a trial value (nil: the grid's).
        func squaredError(_ file: PreparedFile, overriding trial: (Int, Int, [Double])?,
                          hysteresis: (voltage: Double, rate: Double)) -> Double {
            var v1 = 0.0, v2 = 0.0, h = 0.0, error = 0.0
            let gain = hysteresis.rate / file.capacity
            for k in 0..<file.count {
                var c = (r0[k], inverseTwiceI0[k], a1[k], b1[k], a2[k], b2[k])
                if let trial, affected(file, k, row: trial.0, centre: trial.1) { c = coefficients(file, k, overriding: trial) }
                let i = file.current[k]
                v1 = c.2 * v1 + c.3 * i
                v2 = c.4 * v2 + c.5 * i
                if gain > 0 && i != 0 { h += min(1, gain * abs(i) * file.dt[k]) * ((i > 0 ? 1 : -1) - h) }
                let v = file.openCircuit[k] + hysteresis.voltage * h + c.0 * i + file.twiceThermalVoltage[k] * Asinh.value(i * c.1) + v1 + v2
                let d = v - file.measured[k]
                if file.scored[k] { error += d * d }
            }
            return error
        }
    }
}
