// `bms-harness cell`: cell-model tooling — `fit` builds the shipped models from the datasets,
// `validate` drives them with the datasets' currents and prints the terminal-voltage errors.
import Foundation

public enum CellCommand: HarnessCommand {
    public static let name = "cell"
    public static let summary = "Build (fit) the shipped cell models from the datasets, or validate them against the datasets."
    public static let usage = "fit|validate [--datasets DIR] [--model NAME] [--out DIR] [--exclude FILE] [--models DIR]"
    public static let options = [
        OptionSpec("datasets", value: "DIR", help: "The shared datasets folder (default: ../shared/datasets)."),
        OptionSpec("model", value: "NAME", help: "Only this model (\(CellModelRecipe.all.map(\.name).joined(separator: ", "))); default: all."),
        OptionSpec("out", value: "DIR", help: "fit: where to write NAME.json (default: the Fixtures/cells folder); validate: where to write a trace CSV per file (default: none)."),
        OptionSpec("exclude", value: "FILE", help: "fit: leave this identification file out (a held-out check), e.g. real/pan18650pf_hwfet_25degC.csv."),
        OptionSpec("models", value: "DIR", help: "validate: read NAME.json from this folder instead of Fixtures/cells."),
    ]
    public static let positionalCount = 1

    public static func run(_ arguments: ParsedArguments, console: Console) throws -> Int32 {
        guard let action = arguments.positionals.first else { throw UsageError("say what to do: fit or validate") }
        let datasets = URL(fileURLWithPath: arguments.values["datasets"] ?? "../shared/datasets", isDirectory: true)
        guard FileManager.default.fileExists(atPath: datasets.appendingPathComponent("README.md").path) else {
            throw HarnessError("no datasets at \(datasets.path) (give --datasets DIR: the folder with README.md, real/ and synthetic/)")
        }
        var recipes = CellModelRecipe.all
        if let name = arguments.values["model"] {
            guard let recipe = CellModelRecipe.named(name) else {
                throw UsageError("--model: no model '\(name)' (known: \(CellModelRecipe.all.map(\.name).joined(separator: ", ")))")
            }
            recipes = [recipe]
        }
        switch action {
        case "fit":
            let out = try arguments.values["out"].map { URL(fileURLWithPath: $0, isDirectory: true) }
                ?? FixtureLocator.fixturesDirectory().appendingPathComponent("cells")
            try? FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            for var recipe in recipes {
                if let excluded = arguments.values["exclude"] {
                    guard recipe.identificationFiles.contains(excluded) || recipes.count > 1 else {
                        throw UsageError("--exclude: '\(excluded)' is not an identification file of \(recipe.name) (\(recipe.identificationFiles.joined(separator: ", ")))")
                    }
                    recipe.identificationFiles.removeAll { $0 == excluded }
                }
                let model = try recipe.build(datasets, recipe.identificationFiles)
                let file = out.appendingPathComponent("\(model.name).json")
                do { try Data(model.json.utf8).write(to: file) } catch {
                    throw HarnessError("cannot write \(file.path): \(error.localizedDescription)")
                }
                console.standardOutput("\(model.name): \(model.identification["fits"] ?? "no identification") -> \(file.path)\n")
            }
        case "validate":
            var lines = ["model        file                                        temp °C  samples  RMSE mV  max mV"]
            for recipe in recipes where !recipe.validationFiles.isEmpty {
                let model = try CellModel.load(arguments.values["models"].map { "\($0)/\(recipe.name).json" } ?? recipe.name)
                for file in recipe.validationFiles {
                    let data = try CellTestData.load(datasets.appendingPathComponent(file).path)
                    var trace = "time_s,voltage_v,model_v,error_mv,model_soc\n"
                    let r = CellModelValidation.compare(model, data, currentBias: recipe.currentBias) { t, measured, modelled, soc in
                        trace += "\(t),\(Fixed.text(measured, decimals: 5)),\(Fixed.text(modelled, decimals: 5)),\(Fixed.text((modelled - measured) * 1_000, decimals: 2)),\(Fixed.text(soc, decimals: 5))\n"
                    }
                    if let out = arguments.values["out"] {
                        let folder = URL(fileURLWithPath: out, isDirectory: true)
                        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                        let name = "\(model.name)-" + (file as NSString).lastPathComponent
                        do { try Data(trace.utf8).write(to: folder.appendingPathComponent(name)) } catch {
                            throw HarnessError("cannot write the trace to \(out): \(error.localizedDescription)")
                        }
                    }
                    lines.append(pad(model.name, 12) + " " + pad(file, 43) + " " + pad(Fixed.text(r.medianTemperatureCelsius, decimals: 1), 8, right: true)
                                 + " " + pad(String(r.samples), 8, right: true) + " " + pad(Fixed.text(r.rmse * 1_000, decimals: 2), 8, right: true)
                                 + " " + pad(Fixed.text(r.maximumError * 1_000, decimals: 1), 7, right: true))
                }
            }
            console.standardOutput(lines.joined(separator: "\n") + "\n")
        default:
            throw UsageError("unknown action '\(action)' (fit or validate)")
        }
        return 0
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }
}
