// Drives a cell model with the current of a measured (or independently simulated) test file and
// compares the terminal voltage the model gives with the recorded one.

/// How well a model reproduces one file.
public struct VoltageComparison: Sendable {
    public var file: String
    public var samples: Int
    /// Root-mean-square and largest absolute terminal-voltage error (V).
    public var rmse: Double
    public var maximumError: Double
    public var medianTemperatureCelsius: Double
}

public enum CellModelValidation {
    /// Replays `data` through `model`: SOC starts at the file's first reference SOC (or 1) and is
    /// coulomb-counted with the model's reference capacity; the circuit's elements follow the
    /// recorded cell temperature; `currentBias` is added to every logged current. `trace` receives (time, measured V, model V, model SOC) per sample.
    public static func compare(_ model: CellModel, _ data: CellTestData, currentBias: Double = 0, trace: ((Double, Double, Double, Double) -> Void)? = nil) -> VoltageComparison {
        let capacity = model.referenceCapacityAh * 3_600
        var state = CircuitState(stateOfCharge: data.referenceStateOfCharge?.first ?? 1)
        var squared = 0.0, largest = 0.0
        for k in 0..<data.count {
            let dt = k == 0 ? 0 : data.time[k] - data.time[k - 1]
            let c = CircuitCoefficients(model: model, stateOfCharge: state.stateOfCharge, celsius: data.temperature[k],
                                        capacityAmpereSeconds: capacity, step: dt)
            let current = data.current[k] + currentBias
            state.advance(current: current, c)
            let v = state.terminalVoltage(current: current, openCircuitVoltage: model.openCircuitVoltage[state.stateOfCharge], c)
            let error = v - data.voltage[k]
            trace?(data.time[k], data.voltage[k], v, state.stateOfCharge)
            squared += error * error
            largest = max(largest, abs(error))
        }
        let temperatures = data.temperature.sorted()
        return VoltageComparison(file: data.file, samples: data.count, rmse: (squared / Double(data.count)).squareRoot(),
                                 maximumError: largest, medianTemperatureCelsius: temperatures[temperatures.count / 2])
    }
}
