// Derivative-free minimisation (Nelder & Mead 1965, with the standard coefficients), enough
// for fitting a handful of circuit parameters to measured voltages.

public enum NelderMead {
    /// Minimises `f` from `start`, with initial simplex steps `scale`; stops after
    /// `maximumEvaluations` or when the simplex's values agree to `tolerance`.
    public static func minimize(_ f: ([Double]) -> Double, start: [Double], scale: [Double],
                                maximumEvaluations: Int = 2_000, tolerance: Double = 1e-10) -> (point: [Double], value: Double) {
        let n = start.count
        var simplex: [[Double]] = [start]
        for i in 0..<n {
            var p = start
            p[i] += scale[i]
            simplex.append(p)
        }
        var values = simplex.map(f)
        var evaluations = values.count
        func combine(_ a: [Double], _ b: [Double], _ t: Double) -> [Double] { zip(a, b).map { $0 + t * ($1 - $0) } }
        while evaluations < maximumEvaluations {
            let order = values.indices.sorted { values[$0] < values[$1] }
            simplex = order.map { simplex[$0] }
            values = order.map { values[$0] }
            if abs(values[n] - values[0]) <= tolerance * (abs(values[0]) + 1e-300) { break }
            var centroid = [Double](repeating: 0, count: n)
            for p in simplex.dropLast() { for i in 0..<n { centroid[i] += p[i] / Double(n) } }
            let reflected = combine(centroid, simplex[n], -1)
            let fr = f(reflected); evaluations += 1
            if fr < values[0] {
                let expanded = combine(centroid, simplex[n], -2)
                let fe = f(expanded); evaluations += 1
                if fe < fr { simplex[n] = expanded; values[n] = fe } else { simplex[n] = reflected; values[n] = fr }
            } else if fr < values[n - 1] {
                simplex[n] = reflected; values[n] = fr
            } else {
                let contracted = fr < values[n] ? combine(centroid, reflected, 0.5) : combine(centroid, simplex[n], 0.5)
                let fc = f(contracted); evaluations += 1
                if fc < min(fr, values[n]) {
                    simplex[n] = contracted; values[n] = fc
                } else {
                    for i in 1...n {
                        simplex[i] = combine(simplex[0], simplex[i], 0.5)
                        values[i] = f(simplex[i]); evaluations += 1
                    }
                }
            }
        }
        let best = values.indices.min { values[$0] < values[$1] }!
        return (simplex[best], values[best])
    }
}
