// `bms-harness fleet`: the early warning's fleet benchmark — many delivery-day packs, a fifth of
// them with a latent fault, the early warning's firmware stages on each at 1 s steps, scored
// (Docs/early-warning.md).
import Foundation
import HAL

public enum FleetCommand: HarnessCommand {
    public static let name = "fleet"
    public static let summary = "Run the early warning on a fleet of delivery-day packs with latent faults and score it."
    public static let usage = "[--packs N] [--days D] [--seed S] [--faulty FRACTION] [--json] [--out DIR] [--jobs J]"
    public static let options = [
        OptionSpec("packs", value: "N", help: "Packs in the fleet, 1...10000 (default: 200)."),
        OptionSpec("days", value: "D", help: "Simulated days per pack, e.g. 30 or 0.5, up to 366 (default: 30)."),
        OptionSpec("seed", value: "S", help: "Seed of the fleet: every pack's variation, fault and random draws (default: 1)."),
        OptionSpec("faulty", value: "FRACTION", help: "Fraction of packs with a latent fault, 0...1 (default: 0.2)."),
        OptionSpec("json", help: "Print the summary as one JSON object instead of the table."),
        OptionSpec("out", value: "DIR", help: "Folder for summary.json and packs.csv (default: out/fleet/packsN-daysD-seedS)."),
        OptionSpec("jobs", value: "J", help: "Packs run at once, 1...256 (default: the number of CPUs)."),
    ]

    /// The scenario every pack is derived from.
    public static let baseScenario = "delivery-day"

    public static func run(_ arguments: ParsedArguments, console: Console) throws -> Int32 {
        let packs = try integer(arguments, "packs", default: 200, in: 1...10_000)
        let jobs = try integer(arguments, "jobs", default: ProcessInfo.processInfo.activeProcessorCount, in: 1...256)
        let days: Double
        if let text = arguments.values["days"] {
            guard let d = Double(text), d.isFinite, d > 0, d <= 366 else { throw UsageError("--days: '\(text)' is not a number of days from 0 to 366, like 30 or 0.5") }
            days = d
        } else {
            days = 30
        }
        var seed: UInt64 = 1
        if let text = arguments.values["seed"] {
            guard let s = UInt64(text) else { throw UsageError("--seed: '\(text)' is not a whole number from 0 to \(UInt64.max)") }
            seed = s
        }
        var faulty = 0.2
        if let text = arguments.values["faulty"] {
            guard let f = Double(text), f >= 0, f <= 1 else { throw UsageError("--faulty: '\(text)' is not a fraction from 0 to 1") }
            faulty = f
        }
        let daysText = days == days.rounded() ? "\(Int(days))" : Fixed.text(days, decimals: 3)
        let out = arguments.values["out"] ?? "out/fleet/packs\(packs)-days\(daysText)-seed\(seed)"

        let base = try Scenario.load(baseScenario)
        let duration = Microseconds(Int64((days * 86_400).rounded()) * 1_000_000)
        let specs = FleetPlan.make(packs: packs, duration: duration, seed: seed, faultyFraction: faulty,
                                   seriesCount: base.pack.seriesCount, sensorCells: base.pack.temperatureSensorCells)
        _ = try FleetBMS(pack: base.pack)   // a configuration the firmware rejects fails here, before any thread starts

        let start = DispatchTime.now().uptimeNanoseconds
        let progress = Progress(total: packs, start: start, console: console)
        let results = try FleetRunner.run(specs, base: base, duration: duration, jobs: jobs) { done, total in progress.report(done) }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9

        let summary = FleetSummary(results: results, days: days, seed: seed)
        let json = FleetReport.json(summary)
        try FleetReport.write(json: json, results: results, to: URL(fileURLWithPath: out))
        console.standardOutput(arguments.flags.contains("json") ? json : FleetReport.table(summary, out: out))
        let packDays = Double(packs) * days
        console.standardError("fleet: \(packs) packs x \(daysText) days in \(clock(wall)) wall with \(min(jobs, packs)) jobs "
                              + "(\(Fixed.text(wall / packDays, decimals: 3)) s per pack-day; "
                              + "\(Fixed.text(wall * Double(min(jobs, packs)) / packDays, decimals: 3)) s per pack-day per job)\n")
        return 0
    }

    static func integer(_ arguments: ParsedArguments, _ name: String, default value: Int, in range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let text = arguments.values[name] else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw UsageError("--\(name): '\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// "1h02m03s", "4m05s", "12s".
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3_600 { return String(format: "%dh%02dm%02ds", s / 3_600, s / 60 % 60, s % 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }

    /// Progress on stderr: packs done, elapsed, estimated time left; a line about every 5 % of
    /// the fleet (every pack for small fleets) and at the end.
    final class Progress: @unchecked Sendable {
        let total: Int, start: UInt64, console: Console
        let every: Int
        init(total: Int, start: UInt64, console: Console) {
            self.total = total
            self.start = start
            self.console = console
            every = max(1, total / 20)
        }
        /// Called under the runner's lock, in order.
        func report(_ done: Int) {
            guard done % every == 0 || done == total else { return }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let left = elapsed / Double(done) * Double(total - done)
            console.standardError("fleet: \(done)/\(total) packs, \(FleetCommand.clock(elapsed)) elapsed, ETA \(FleetCommand.clock(left))\n")
        }
    }
}
