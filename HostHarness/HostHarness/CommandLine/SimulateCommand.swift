// `bms-harness simulate`: the main job — the firmware against the virtual pack for a scenario,
// a printed summary, and the outputs written to a folder.
import Foundation
import Firmware
import HAL

public enum SimulateCommand: HarnessCommand {
    public static let name = "simulate"
    public static let summary = "Run the firmware against the virtual pack for a scenario (the main job)."
    public static let usage = "[--scenario NAME|FILE] [--seed N] [--duration D] [--out DIR] [--can-log FILE] [--restart-at T [--restart-off D] [--unplanned]] [--bench]"
    public static let defaultScenario = "delivery-day"
    public static let options = [
        OptionSpec("scenario", value: "NAME|FILE", help: "A scenario in Fixtures/scenarios/ or a scenario file (default: \(defaultScenario))."),
        OptionSpec("seed", value: "N", help: "Seed for every random draw (default: the scenario's)."),
        OptionSpec("duration", value: "D", help: "Simulated time, e.g. 90s, 30m, 1h, 1h30m, 2d (default: the scenario's)."),
        OptionSpec("out", value: "DIR", help: "Folder for the outputs (default: out/simulate/SCENARIO-seedN)."),
        OptionSpec("can-log", value: "FILE", help: "Also write the CAN traffic as a candump log: the firmware's frames, the vehicle controller's requests, and the measurement frames the cell monitor, current sensor and contactor feedback would send over CAN (so that `replay` can run the log again); about 5,500 frames and 330 kB per simulated second."),
        OptionSpec("restart-at", value: "T", help: "Power-cycle the BMS at simulated time T (e.g. 14h): everything in its RAM is lost, its store is kept; prints the SOC error against a run without the restart (Docs/persistence.md)."),
        OptionSpec("restart-off", value: "D", help: "How long the BMS stays off at the restart (default: 30s); the pack goes on, its contactors open."),
        OptionSpec("unplanned", help: "The restart is a power cut without warning (default: the vehicle asks for Shutdown and waits for StateSaved)."),
        OptionSpec("bench", help: "Also print the speed figures as name=value lines (for make bench-pack)."),
    ]

    public static func run(_ arguments: ParsedArguments, console: Console) throws -> Int32 {
        var scenario = try Scenario.load(arguments.values["scenario"] ?? defaultScenario)
        if let text = arguments.values["seed"] {
            guard let seed = UInt64(text) else { throw UsageError("--seed: '\(text)' is not a whole number from 0 to \(UInt64.max)") }
            scenario.seed = seed
        }
        if let text = arguments.values["duration"] {
            guard let duration = DurationText.parse(text) else {
                throw UsageError("--duration: '\(text)' is not a duration like 90s, 30m, 1h or 1h30m (up to 10 years)")
            }
            scenario.duration = duration
        }
        let out = URL(fileURLWithPath: arguments.values["out"] ?? "out/simulate/\(scenario.name)-seed\(scenario.seed)")

        let restartAt = try arguments.values["restart-at"].map { text throws(UsageError) -> Microseconds in
            guard let t = DurationText.parse(text), t > .zero, t < scenario.duration else {
                throw UsageError("--restart-at: '\(text)' is not a time within the run, like 14h")
            }
            return t
        }
        let restartOff = try arguments.values["restart-off"].map { try RealTimeOptions.duration($0, option: "restart-off") } ?? .seconds(30)

        var simulation = try Simulation(scenario: scenario)
        if let path = arguments.values["can-log"] { simulation.canLog = try CANTrafficLog(path: path) }
        var report = SimulationReport()
        let wallStart = DispatchTime.now().uptimeNanoseconds
        var restartText = ""
        var ticksBefore: UInt64 = 0
        if let restartAt {
            simulation.run(for: restartAt, truthInterval: scenario.truthInterval, record: { report.record($0) },
                           truth: { report.recordTruth($0) })
            var plain = simulation
            plain.canLog = nil
            ticksBefore = simulation.loop.schedule.tickCount
            let unplanned = arguments.flags.contains("unplanned")
            let before = socError(simulation)
            let outcome = try simulation.restartBMS(unplanned ? .unplanned : .orderly(), off: restartOff)
            // Both runs to an hour after the restart, then to the end; the SOC errors compared at both.
            let hourLater = min(scenario.duration, restartAt + restartOff + .seconds(3_600))
            simulation.run(for: hourLater - Microseconds(simulation.now.microsecondsSinceOrigin), truthInterval: scenario.truthInterval,
                           record: { report.record($0) }, truth: { report.recordTruth($0) })
            plain.run(for: hourLater - Microseconds(plain.now.microsecondsSinceOrigin)) { _ in }
            let later = (socError(simulation), socError(plain))
            simulation.run(for: scenario.duration - Microseconds(simulation.now.microsecondsSinceOrigin), truthInterval: scenario.truthInterval,
                           record: { report.record($0) }, truth: { report.recordTruth($0) })
            plain.run(for: scenario.duration - Microseconds(plain.now.microsecondsSinceOrigin)) { _ in }
            restartText = restartSummary(unplanned: unplanned, at: restartAt, off: restartOff, outcome: outcome, before: before,
                                         hourLater: later, restarted: simulation, plain: plain)
        } else {
            simulation.run(for: scenario.duration, truthInterval: scenario.truthInterval, record: { report.record($0) },
                           truth: { report.recordTruth($0) })
        }
        let wallSeconds = Double(DispatchTime.now().uptimeNanoseconds - wallStart) / 1e9
        let ticks = ticksBefore + simulation.loop.schedule.tickCount
        simulation.canLog?.close()
        try report.write(summary: SimulationReport.summaryJSON(simulation, ticks: ticks), to: out)

        console.standardOutput(summaryText(simulation, ticks: ticks, wallSeconds: wallSeconds, out: out) + restartText)
        if arguments.flags.contains("bench") {
            let hours = Double(simulation.now.microsecondsSinceOrigin) / 3.6e9
            console.standardOutput("""
            cells=\(scenario.pack.seriesCount)
            simulated_hours=\(Fixed.text(hours, decimals: 3))
            wall_seconds=\(Fixed.text(wallSeconds, decimals: 2))
            simulated_hours_per_wall_second=\(Fixed.text(hours / wallSeconds, decimals: 3))
            ticks_per_wall_second=\(Int((Double(ticks) / wallSeconds).rounded()))
            wall_seconds_per_24h=\(Fixed.text(24 / (hours / wallSeconds), decimals: 1))

            """)
        }
        return 0
    }

    /// "highest warning; ranked: cell 7 leakage 62 (48.1 mA), …; suspect voltage channels: cell 3".
    static func earlyWarningText(_ h: CellHealthMonitor) -> String {
        let levels = ["none", "watch", "warning", "critical"]
        var text = "highest alert \(levels[Int(h.highestLevel.rawValue)])"
        let ranked = h.ranked
        if ranked.count > 0 {
            var parts: [String] = []
            for k in 0..<ranked.count {
                let i = Int(ranked[k]), c = h.cells[i]
                let detail: String
                switch c.reason {
                case .leakage: detail = "leakage \(Fixed.text(Double(c.leakageMilliamperes), decimals: 1)) mA"
                case .capacityFade: detail = "capacity \(Fixed.text(Double(c.capacityRatio) * 100, decimals: 1)) % of the median"
                case .resistanceGrowth, .voltageSag: detail = "resistance \(Fixed.text(Double(c.resistanceRatio) * 100, decimals: 0)) % of the median"
                case .thermalAnomaly: detail = "\(Fixed.text(Double(c.thermalExcessKelvin), decimals: 1)) K above the load's allowance"
                case .none: detail = "no reason"
                }
                parts.append("cell \(i + 1) score \(Int(c.score)) (\(detail))")
            }
            text += "; ranked: " + parts.joined(separator: ", ")
        }
        let suspects = (0..<h.cells.count).filter { h.cells[$0].sensorSuspect }.map { "cell \($0 + 1)" }
        if !suspects.isEmpty { text += "; suspect voltage channels: " + suspects.joined(separator: ", ") }
        if !h.suspectTemperatureSensors.isEmpty {
            text += "; suspect temperature sensors: " + (0..<16).filter { h.suspectTemperatureSensors.contains($0) }.map { "\($0 + 1)" }.joined(separator: ", ")
        }
        return text
    }

    /// The firmware's pack SOC error against the truth (points), nil while it does not know.
    static func socError(_ s: Simulation) -> Double? {
        s.loop.stateOfCharge.map { Double($0) * 100 - s.pack.displayStateOfCharge * 100 }
    }

    /// The restart's lines: what was restored, and the SOC error with and without the restart.
    static func restartSummary(unplanned: Bool, at: Microseconds, off: Microseconds, outcome: RestoreOutcome, before: Double?,
                               hourLater: (Double?, Double?), restarted: Simulation, plain: Simulation) -> String {
        func points(_ x: Double?) -> String { x.map { Fixed.text($0, decimals: 2) } ?? "unknown" }
        let restored = RunCommand.describe(outcome)
        let end = (socError(restarted), socError(plain))
        let difference = end.0.flatMap { a in end.1.map { a - $0 } }
        let latched = (restarted.loop.stateMachine.latched.members.map(\.name), plain.loop.stateMachine.latched.members.map(\.name))
        var lines = ["  restart        \(unplanned ? "unplanned power cut" : "orderly (Shutdown, StateSaved)") at \(DurationText.format(at)), "
                     + "off \(DurationText.format(off)): \(restored), boot \(restarted.loop.persistence.bootCount)"]
        let hourDifference = hourLater.0.flatMap { a in hourLater.1.map { a - $0 } }
        lines.append("  SOC error      \(points(before)) points before the restart; "
                     + (restarted.loop.persistence.socRestored ? "its SOC resumed" : "SOC found again from the voltages (the checkpoint may be stale)"))
        lines.append("  an hour later  SOC error \(points(hourLater.0)) points with the restart, \(points(hourLater.1)) without "
                     + "(difference \(points(hourDifference)) points)")
        lines.append("  at the end     SOC error \(points(end.0)) points with the restart, \(points(end.1)) without "
                     + "(difference \(points(difference)) points)")
        lines.append("  latched        \(latched.0.isEmpty ? "none" : latched.0.joined(separator: ", ")) with the restart, "
                     + "\(latched.1.isEmpty ? "none" : latched.1.joined(separator: ", ")) without")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The printed summary (the only output that contains wall-clock time).
    static func summaryText(_ simulation: Simulation, ticks: UInt64, wallSeconds: Double, out: URL) -> String {
        let simulated = Double(simulation.now.microsecondsSinceOrigin) / 1e6
        let loop = simulation.loop
        let trueSOC = simulation.pack.displayStateOfCharge * 100
        var lines = ["bms-harness simulate: scenario \(simulation.scenario.name), seed \(simulation.scenario.seed)"]
        lines.append("  simulated      \(DurationText.format(Microseconds(simulation.now.microsecondsSinceOrigin)))"
                     + " in \(ticks) ticks of 1 ms")
        lines.append("  wall time      \(Fixed.text(wallSeconds, decimals: 2)) s, speed-up \(Int((simulated / max(wallSeconds, 1e-9)).rounded()))x real time")
        if let estimate = loop.stateOfCharge {
            let estimated = Double(estimate) * 100
            let bound = loop.estimator.bound.map { " ± \(Fixed.text(Double($0) * 100, decimals: 1))" } ?? ""
            lines.append("  final SOC      true \(Fixed.text(trueSOC, decimals: 1)) %, estimated \(Fixed.text(estimated, decimals: 1))\(bound) %"
                         + " (error \(Fixed.text(estimated - trueSOC, decimals: 1)) points)")
            let e = loop.estimator
            if e.isStarted {
                var weakest = 0
                for i in 0..<e.elements.count where e.elements[i].capacityAh < e.elements[weakest].capacityAh { weakest = i }
                let usable = e.usableCharge(atDischarge: Float(simulation.scenario.pack.cellModel.ratedCapacityAh * Double(simulation.scenario.pack.parallelCount)))
                lines.append("  health         capacity \(Fixed.text(Double(e.capacityHealth) * 100, decimals: 1)) % (weakest element \(weakest + 1)), "
                             + "resistance \(Fixed.text(Double(e.resistanceHealth) * 100, decimals: 0)) % of new, "
                             + "\(Fixed.text(Double(e.equivalentFullCycles), decimals: 2)) equivalent full cycles"
                             + (usable.map { "; usable at 1C \(Fixed.text(Double($0.ampereHours), decimals: 2)) Ah (element \($0.element + 1) limits)" } ?? ""))
            }
        } else {
            lines.append("  final SOC      true \(Fixed.text(trueSOC, decimals: 1)) %, estimated: not yet known")
        }
        if let c = loop.cellStatistics {
            lines.append("  cell voltage   min \(c.minimum.rawValue) mV (cell \(c.minimumIndex + 1)), max \(c.maximum.rawValue) mV"
                         + " (cell \(c.maximumIndex + 1)), spread \(c.spread) mV")
        }
        lines.append("  loop timing    \(loop.timing.overruns) overruns, \(loop.timing.missedTicks) missed ticks")
        let hottest = simulation.pack.elements.map(\.temperature).max() ?? 0
        lines.append("  temperature    hottest cell \(Fixed.text(hottest, decimals: 1)) °C, ambient \(Fixed.text(simulation.pack.ambientTemperature, decimals: 1)) °C")
        let latched = loop.stateMachine.latched.members.map(\.name)
        lines.append("  protection     \(loop.stateMachine.state.name) at the end; latched: \(latched.isEmpty ? "none" : latched.joined(separator: ", "))")
        lines.append("  balancing      \(Fixed.text(simulation.pack.chargeBled.reduce(0, +) / 3.6, decimals: 1)) mAh bled"
                     + " (\(Fixed.text(simulation.pack.energyBled / 3_600, decimals: 2)) Wh)")
        lines.append("  early warning  " + earlyWarningText(loop.health))
        let c = loop.persistence.checkpoints, b = loop.blackBox.journal
        lines.append("  store          \(c.recordsWritten) checkpoint records (\(c.wordsWritten) words, \(c.erases) page erases), "
                     + "\(b.recordsWritten) black-box records (\(b.wordsWritten) words, \(b.erases) page erases)")
        if !simulation.scenario.faults.isEmpty {
            lines.append("  faults         \(simulation.pack.activeFaults.isEmpty ? "none active at the end" : simulation.pack.activeFaults.joined(separator: "; "))")
        }
        lines.append("  outputs        \(out.path)/ (summary.json, timeseries.csv, truth.csv)")
        return lines.joined(separator: "\n") + "\n"
    }
}
