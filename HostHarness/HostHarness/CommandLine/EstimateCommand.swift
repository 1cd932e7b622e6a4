// `bms-harness estimate`: the firmware's SOC estimator replayed on a single-cell lab file.
import Firmware
import Foundation

public enum EstimateCommand: HarnessCommand {
    public static let name = "estimate"
    public static let summary = "Replay the firmware's SOC estimator on a single-cell test file (CSV of the shared datasets' schema)."
    public static let usage = "--csv FILE --cell MODEL --out OUT.csv [--initial-soc X]  |  --accuracy [--datasets DIR] [--pack-days N | --no-pack]"
    public static let options = [
        OptionSpec("csv", value: "FILE", help: "Columns time_s, current_a (+ = charge), voltage_v, temperature_c; others ignored."),
        OptionSpec("cell", value: "MODEL", help: "The cell model: a name in Fixtures/cells/ (lg-m50, ncr18650pf, lfp-26650) or a model file."),
        OptionSpec("out", value: "OUT.csv", help: "Where to write time_s,soc_est,soc_bound (fractions 0..1)."),
        OptionSpec("initial-soc", value: "X", help: "Start from this SOC (0..1) instead of finding it from the first voltage."),
        OptionSpec("tuning", value: "K=V,...", help: "Override filter tuning: voltage_noise, voltage_noise_per_c, voltage_noise_per_step_c, step_memory, innovation_window, current_noise, current_gain_error, rc_wander, offset_wander, initial_soc_sigma, initial_offset_sigma, correction_rate, bound_floor, bound_growth, anchor_rest, anchor_slope."),
        OptionSpec("accuracy", help: "Score the estimator on every single-cell file of the datasets (make accuracy)."),
        OptionSpec("datasets", value: "DIR", help: "With --accuracy: the shared datasets folder (default: ../shared/datasets)."),
        OptionSpec("pack-days", value: "N", help: "With --accuracy: simulated days of month-of-deliveries (default 2; weak-cell runs its 24 h)."),
        OptionSpec("pack-scenarios", value: "LIST", help: "With --accuracy: which pack scenarios to run (default weak-cell,month-of-deliveries; weak-cell ends with the usable-charge checks)."),
        OptionSpec("no-pack", help: "With --accuracy: only the datasets (seconds instead of minutes)."),
    ]

    public static func run(_ arguments: ParsedArguments, console: Console) throws -> Int32 {
        if arguments.flags.contains("accuracy") {
            let datasets = URL(fileURLWithPath: arguments.values["datasets"] ?? "../shared/datasets", isDirectory: true)
            guard FileManager.default.fileExists(atPath: datasets.appendingPathComponent("README.md").path) else {
                throw HarnessError("no datasets at \(datasets.path) (give --datasets DIR: the folder with README.md, real/ and synthetic/)")
            }
            let results = try AccuracyBench.run(datasets: datasets, tuning: try tuning(arguments.values["tuning"]))
            console.standardOutput(AccuracyBench.table(results))
            var met = AccuracyBench.meetsTargets(results)
            if !arguments.flags.contains("no-pack") {
                var days = 2
                if let text = arguments.values["pack-days"] {
                    guard let n = Int(text), n >= 1, n <= 30 else { throw UsageError("--pack-days: '\(text)' is not a whole number from 1 to 30") }
                    days = n
                }
                let chosen = (arguments.values["pack-scenarios"] ?? "weak-cell,month-of-deliveries").split(separator: ",").map(String.init)
                var runs: [PackEstimationResult] = [], usable: [UsableChargeResult] = []
                if chosen.contains("weak-cell") {
                    let (result, end) = try PackEstimationBench.runKeeping("weak-cell")
                    runs.append(result)
                    usable = [PackEstimationBench.usableCharge(from: end, cRate: 1), PackEstimationBench.usableCharge(from: end, cRate: 2)]
                }
                if chosen.contains("month-of-deliveries") {
                    runs.append(try PackEstimationBench.run("month-of-deliveries", duration: .seconds(Int32(days) * 86_400)))
                }
                let report = PackEstimationBench.report(runs, usable: usable)
                console.standardOutput(report.text)
                met = met && report.met
            }
            return met ? 0 : 1
        }
        guard let csv = arguments.values["csv"] else { throw UsageError("--csv FILE is required") }
        guard let cell = arguments.values["cell"] else { throw UsageError("--cell MODEL is required") }
        guard let out = arguments.values["out"] else { throw UsageError("--out OUT.csv is required") }
        var initial: Double? = nil
        if let text = arguments.values["initial-soc"] {
            // A reference SOC may leave 0…1 by a few tenths of a percent (datasets README).
            guard let x = Double(text), x >= -0.1, x <= 1.1 else { throw UsageError("--initial-soc: '\(text)' is not a number from -0.1 to 1.1") }
            initial = x
        }
        let model = try CellModel.load(cell)
        let data = try CellTestData.load(csv, readReference: false)
        let replay = CellReplay.run(data, model: EstimatorSetup.table(for: model), tuning: try tuning(arguments.values["tuning"]),
                                    initialSOC: initial)
        do {
            try Data(replay.csv.utf8).write(to: URL(fileURLWithPath: out))
        } catch {
            throw HarnessError("cannot write \(out): \(error.localizedDescription)")
        }
        console.standardOutput("estimate: \(data.count) rows of \(csv) with \(model.name) -> \(out)\n")
        return 0
    }

    /// The default tuning with `text`'s overrides (`key=value,key=value`).
    static func tuning(_ text: String?) throws(UsageError) -> EstimatorTuning {
        var t = EstimatorTuning()
        guard let text else { return t }
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = Float(parts[1]), value >= 0, value.isFinite else {
                throw UsageError("--tuning: '\(pair)' is not key=value with a value >= 0")
            }
            switch parts[0] {
            case "voltage_noise": t.voltageNoise = value
            case "voltage_noise_per_c": t.voltageNoisePerC = value
            case "voltage_noise_per_step_c": t.voltageNoisePerStepC = value
            case "step_memory": t.stepMemory = value
            case "innovation_window": t.innovationWindow = value
            case "current_noise": t.currentNoise = value
            case "current_gain_error": t.currentGainError = value
            case "rc_wander": t.rcVoltageWander = value
            case "offset_wander": t.offsetWander = value
            case "initial_soc_sigma": t.initialSOCSigma = value
            case "initial_offset_sigma": t.initialOffsetSigma = value
            case "correction_rate": t.maximumCorrectionRate = value
            case "bound_floor": t.boundFloor = value
            case "bound_growth": t.boundGrowthPerThroughput = value
            case "anchor_rest": t.anchorRest = value
            case "anchor_slope": t.anchorSlope = value
            default: throw UsageError("--tuning: unknown key '\(parts[0])'")
            }
        }
        return t
    }
}
