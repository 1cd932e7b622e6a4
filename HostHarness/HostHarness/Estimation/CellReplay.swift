// Runs the firmware's cell estimator over a single-cell test file (the lab-data replay behind
// `bms-harness estimate` and `make accuracy`): the same code the firmware runs, fed row by row.
import Firmware
import HAL

/// The estimate at every row of a file.
public struct CellReplay: Sendable {
    public var time: [Double] = []
    /// Displayed SOC and its error bound (fractions).
    public var stateOfCharge: [Float] = []
    public var bound: [Float] = []

    /// Replays `data` (its `soc_ref`, if any, is not read). With `initialSOC` the filter starts
    /// from it (as from a remembered value, with the tuning's initial uncertainty); without, from
    /// the first row's voltage and current.
    public static func run(_ data: CellTestData, model: CellModelTable, tuning: EstimatorTuning = EstimatorTuning(),
                           initialSOC: Double? = nil) -> CellReplay {
        var replay = CellReplay()
        replay.time.reserveCapacity(data.count)
        replay.stateOfCharge.reserveCapacity(data.count)
        replay.bound.reserveCapacity(data.count)
        var estimator = CellEstimator()
        if let initialSOC {
            estimator.start(soc: Float(initialSOC), sigma: tuning.initialSOCSigma, tuning: tuning)
        } else {
            estimator.start(voltage: Float(data.voltage[0]), current: Float(data.current[0]), celsius: Float(data.temperature[0]),
                            model: model, tuning: tuning)
        }
        for k in 0..<data.count {
            if k > 0 {
                // Row k's current is the mean over (t[k−1], t[k]]; its voltage is read at t[k].
                estimator.update(current: Float(data.current[k]), voltage: Float(data.voltage[k]), celsius: Float(data.temperature[k]),
                                 seconds: Float(data.time[k] - data.time[k - 1]), capacityAh: model.capacityAh, model: model, tuning: tuning)
            }
            replay.time.append(data.time[k])
            replay.stateOfCharge.append(estimator.displayed)
            replay.bound.append(estimator.bound(tuning))
        }
        return replay
    }

    /// `time_s,soc_est,soc_bound`, one row per input row.
    public var csv: String {
        var text = "time_s,soc_est,soc_bound\n"
        text.reserveCapacity(time.count * 28)
        for k in time.indices {
            text += "\(Fixed.text(time[k], decimals: 3)),\(Fixed.text(Double(stateOfCharge[k]), decimals: 5)),\(Fixed.text(Double(bound[k]), decimals: 5))\n"
        }
        return text
    }
}
