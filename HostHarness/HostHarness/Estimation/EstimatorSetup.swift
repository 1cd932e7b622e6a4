// How the harness gives the firmware's estimator a cell model: the virtual pack's model sampled
// onto the firmware's tables, on the model's SOC basis (the capacity SOC 0…1 is counted against).
import Firmware
import HAL

public enum EstimatorSetup {
    /// The temperature rows of the firmware's parameter grids (°C).
    public static let gridTemperatures: [Float] = [-20, -10, 0, 10, 25, 40, 55]

    /// `model` as the firmware's table. SOC 1 is full on both bases; an ampere-hour out lowers the
    /// model's SOC by 1/Q_reference and the table's by 1/Q_basis, so the OCV is remapped; below
    /// the model's empty (a basis larger than the cell) the OCV falls on along its last slope.
    /// With `parallel` cells per element the element is one big cell: P times the capacity and
    /// exchange current, 1/P the resistances.
    public static func table(for model: CellModel, parallel: Int = 1) -> CellModelTable {
        let p = Double(parallel)
        let basis = model.socBasis, reference = model.referenceCapacityAh
        func modelSOC(_ s: Float) -> Double { 1 - (1 - Double(s)) * basis / reference }
        let firstSlope = (model.openCircuitVoltage[0.01] - model.openCircuitVoltage[0]) / 0.01
        func ocv(_ s: Float) -> Float {
            let m = modelSOC(s)
            return Float(m >= 0 ? model.openCircuitVoltage[min(1, m)] : model.openCircuitVoltage[0] + m * firstSlope)
        }
        var rows = FixedList<8, Float>(filler: 0)
        for t in gridTemperatures { rows.append(t) }
        func grid(_ g: ArrheniusGrid, scale: Double = 1) -> CellParameterGrid {
            CellParameterGrid(temperatures: rows) { s, celsius in
                Float(g.value(stateOfCharge: min(1, max(0, modelSOC(s))), temperatureCelsius: Double(celsius)) * scale)
            }
        }
        return CellModelTable(
            ocv: ocv, entropic: { s in Float(model.entropicCoefficient[min(1, max(0, modelSOC(s)))]) },
            r0: grid(model.seriesResistance, scale: 1 / p), exchangeCurrent: grid(model.exchangeCurrent, scale: p),
            r1: grid(model.r1, scale: 1 / p), tau1: grid(model.tau1), r2: grid(model.r2, scale: 1 / p), tau2: grid(model.tau2),
            hysteresisVoltage: Float(model.hysteresisVoltage),
            // The rate is per unit of SOC moved: the same charge moves the table's SOC by
            // reference/basis of the model's.
            hysteresisRate: Float(model.hysteresisRate * basis / reference),
            capacityAh: Float(basis * p), coulombicEfficiency: Float(model.coulombicEfficiency),
            minimumVoltage: Float(model.minimumVoltage), maximumVoltage: Float(model.maximumVoltage))
    }
}
