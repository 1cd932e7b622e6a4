// What `fleet` prints and writes: the summary table (stdout), the summary as one JSON object
// (`--json`, and summary.json) and one CSV row per pack (packs.csv). Nothing in them depends on
// wall time or on the number of jobs: the same seed gives the same bytes.
import Firmware
import Foundation
import HAL

public enum FleetReport {
    static func number(_ x: Double?, _ decimals: Int) -> String { x.map { Fixed.text($0, decimals: decimals) } ?? "null" }

    /// The lead-time distribution (h): quantiles and extremes.
    static func leadJSON(_ hours: [Double]) -> String {
        let q = [("p10", 0.1), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p90", 0.9)]
        var parts = q.map { "\"\($0.0)\": \(number(FleetScoring.quantile(hours, $0.1), 1))" }
        parts.append("\"min\": \(number(hours.min(), 1))")
        parts.append("\"max\": \(number(hours.max(), 1))")
        return "{" + parts.joined(separator: ", ") + "}"
    }

    /// The same keys for the whole fleet and for each fault type (null where a figure does not
    /// apply: no lead time or rank for sensor faults, whose detection is being reported as one).
    static func figureFields(_ f: FleetFigures, sensorFaults: Bool) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("packs", "\(f.packs)"),
            ("detection_rate", number(sensorFaults ? f.sensorReportedRate : f.detectionRate, 4)),
            ("median_lead_time_h", number(sensorFaults ? nil : f.medianLeadHours, 1)),
            ("false_alerts_per_pack_month", number(f.falseAlertsPerPackMonth, 4)),
            ("rank1_rate", number(sensorFaults ? nil : f.rank1Rate, 4)),
        ]
        if !sensorFaults {
            fields += [
                ("hard_limits_reached", "\(f.reached)"), ("detected", "\(f.detected)"),
                ("pack_detection_rate", number(f.packDetectionRate, 4)),
                ("lead_time_h", leadJSON(f.leadHours)),
                ("hard_limit_not_reached", "\(f.notReached)"), ("alerted_without_hard_limit", "\(f.alertedNotReached)"),
                ("other_cell_alerts_after_onset", "\(f.otherCellAlerts)"),
                ("hard_limit_causes", "{" + causeOrder.compactMap { c in f.causes[c].map { "\"\(c.rawValue)\": \($0)" } }.joined(separator: ", ") + "}"),
            ]
        }
        if sensorFaults || f.sensorFaults > 0 {
            fields += [("sensor_faults", "\(f.sensorFaults)"),
                       ("reported_as_sensor_fault_rate", number(f.sensorReportedRate, 4)),
                       ("reported_as_cell_risk_rate", number(f.cellRiskRate, 4))]
        }
        fields += [("false_alerts", "\(f.falseAlerts)"), ("exposure_pack_months", Fixed.text(f.exposureSeconds / (30 * 86_400), decimals: 3))]
        return fields
    }

    static let causeOrder: [HardLimitCause] = [.leakage, .resistance, .capacity, .heating, .undervoltage, .overvoltage, .overtemperature]

    /// The summary as one JSON object (fixed key order). Overall figures are over the cell faults
    /// (detection, lead, rank 1) and over every pack's exposure (false alerts).
    public static func json(_ s: FleetSummary) -> String {
        var fields: [(String, String)] = [
            ("packs", "\(s.packs)"), ("days", Fixed.text(s.days, decimals: 3)), ("seed", "\(s.seed)"),
            ("step_s", Fixed.text(Double(FleetPackRun.step.rawValue) / 1e6, decimals: 3)),
            ("faulty_packs", "\(s.packs - s.healthy.packs)"),
            ("cell_fault_packs", "\(s.packs - s.healthy.packs - s.sensor.packs)"),
        ]
        fields += figureFields(s.overall, sensorFaults: false).filter { $0.0 != "packs" && $0.0 != "sensor_faults" }
        fields += [("healthy_packs", "\(s.healthy.packs)"), ("healthy_packs_with_alerts", "\(s.healthyPacksWithAlerts)"),
                   ("healthy_hard_limit_events", "\(s.healthyHardLimits)"),
                   ("healthy_false_alerts_per_pack_month", number(s.healthy.falseAlertsPerPackMonth, 4))]
        var kinds: [String] = []
        for (kind, f) in s.perKind {
            let inner = figureFields(f, sensorFaults: kind.isSensorFault).map { "      \"\($0.0)\": \($0.1)" }.joined(separator: ",\n")
            kinds.append("    \"\(kind.key)\": {\n\(inner)\n    }")
        }
        fields.append(("per_fault_type", "{\n" + kinds.joined(separator: ",\n") + "\n  }"))
        return "{\n" + fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    /// The summary table.
    public static func table(_ s: FleetSummary, out: String?) -> String {
        func pct(_ x: Double?) -> String { x.map { Fixed.text($0 * 100, decimals: 1) + " %" } ?? "-" }
        func hours(_ x: Double?) -> String { x.map { Fixed.text($0, decimals: 1) + " h" } ?? "-" }
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text : String(repeating: " ", count: width - text.count) + text }
        func left(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
        var lines = ["bms-harness fleet: \(s.packs) packs x \(Fixed.text(s.days, decimals: s.days == s.days.rounded() ? 0 : 2)) days, seed \(s.seed); "
                     + "\(s.packs - s.healthy.packs) with a latent fault; the early warning's firmware stages at 1 s steps (Docs/early-warning.md)"]
        lines.append("")
        let header = [left("fault type", 22), pad("packs", 5), pad("reached", 8), pad("detected", 9), pad("any cell", 9), pad("lead p50", 9),
                      pad("p10-p90", 13), pad("rank-1", 8), pad("false/pm", 9), pad("sensor", 7), pad("as risk", 8)]
        lines.append(header.joined(separator: " "))
        func row(_ name: String, _ f: FleetFigures, sensor: Bool) -> String {
            let range = f.leadHours.isEmpty ? "-" : Fixed.text(FleetScoring.quantile(f.leadHours, 0.1)!, decimals: 0) + "-"
                + Fixed.text(FleetScoring.quantile(f.leadHours, 0.9)!, decimals: 0) + " h"
            let cells = [left(name, 22), pad("\(f.packs)", 5),
                         pad(sensor ? "-" : "\(f.reached)", 8),
                         pad(sensor ? "-" : pct(f.detectionRate), 9), pad(sensor ? "-" : pct(f.packDetectionRate), 9),
                         pad(sensor ? "-" : hours(f.medianLeadHours), 9), pad(sensor ? "-" : range, 13),
                         pad(sensor ? "-" : pct(f.rank1Rate), 8), pad(f.falseAlertsPerPackMonth.map { Fixed.text($0, decimals: 3) } ?? "-", 9),
                         pad(f.sensorFaults > 0 ? pct(f.sensorReportedRate) : "-", 7), pad(f.sensorFaults > 0 ? pct(f.cellRiskRate) : "-", 8)]
            return cells.joined(separator: " ")
        }
        for (kind, f) in s.perKind { lines.append(row(kind.rawValue, f, sensor: kind.isSensorFault)) }
        lines.append(row("no fault", s.healthy, sensor: true))
        lines.append(row("all", s.overall, sensor: false))
        lines.append("")
        let o = s.overall, t = FleetSummary.targets
        func verdict(_ x: Double?, _ good: (Double) -> Bool) -> String { x.map { good($0) ? "met" : "missed" } ?? "n/a" }
        lines.append("  detection (faulty cell at warning before its hard limit)  \(pct(o.detectionRate)) of \(o.reached) "
                     + "(target >= \(Fixed.text(t.detection * 100, decimals: 0)) %: \(verdict(o.detectionRate) { $0 >= t.detection }))")
        lines.append("  median lead time (first warning to hard limit)            \(hours(o.medianLeadHours)) "
                     + "(target >= \(Fixed.text(t.medianLeadHours, decimals: 0)) h: \(verdict(o.medianLeadHours) { $0 >= t.medianLeadHours }))")
        lines.append("  false alerts per pack-month (no fault; before onset)      \(o.falseAlertsPerPackMonth.map { Fixed.text($0, decimals: 3) } ?? "-") "
                     + "(\(o.falseAlerts) in \(Fixed.text(o.exposureSeconds / (30 * 86_400), decimals: 1)) pack-months; target <= "
                     + "\(Fixed.text(t.falseAlertsPerPackMonth, decimals: 1)): \(verdict(o.falseAlertsPerPackMonth) { $0 <= t.falseAlertsPerPackMonth }))")
        lines.append("  faulty cell ranked first at its alert                     \(pct(o.rank1Rate)) of \(o.detected) "
                     + "(target >= \(Fixed.text(t.rank1 * 100, decimals: 0)) %: \(verdict(o.rank1Rate) { $0 >= t.rank1 }))")
        lines.append("  sensor faults reported as sensor faults                   \(pct(s.sensor.sensorReportedRate)) of \(s.sensor.sensorFaults); "
                     + "taken for a cell risk \(pct(s.sensor.cellRiskRate))")
        lines.append("  packs without a fault: \(s.healthyPacksWithAlerts) of \(s.healthy.packs) with a warning, "
                     + "\(s.healthyHardLimits) hard-limit events; cell faults without a hard limit in the run: \(o.notReached) "
                     + "(\(o.alertedNotReached) alerted)")
        if let out { lines.append("  outputs        \(out)/ (summary.json, packs.csv)") }
        return lines.joined(separator: "\n") + "\n"
    }

    static let csvHeader = "pack,seed,fault,cell,onset_h,ramp_h,fault_size,shifts,rider_intensity,return_soc,ambient,capacity_spread,resistance_spread,"
        + "simulated_h,hard_limit_h,hard_limit_cause,hard_limit_cell,first_watch_h,first_warning_h,detected,lead_time_h,rank1,pack_alerted,"
        + "other_cell_alerts,false_alerts,exposure_h,sensor_reported_h,cell_risk_reported,warnings,suspect_cells,suspect_sensors,ranked_end,"
        + "hottest_c,min_v,max_v,bled_mah\n"

    /// One row per pack (cells and sensors numbered from 1, times in hours).
    public static func csv(_ results: [FleetPackResult]) -> String {
        var text = csvHeader
        func h(_ seconds: Double?) -> String { seconds.map { Fixed.text($0 / 3_600, decimals: 2) } ?? "" }
        for r in results {
            let p = r.spec, t = r.timeline, s = FleetScoring.score(t)
            let f = p.fault
            var row: [String] = ["\(p.index + 1)", "\(p.seed)", f?.kind.rawValue ?? "none", f.map { "\($0.cell + 1)" } ?? "",
                                 f.map { h(Double($0.onset.rawValue) / 1e6) } ?? "", f.map { h(Double($0.ramp.rawValue) / 1e6) } ?? "",
                                 f.map(sizeText) ?? "", p.shiftPattern.name, Fixed.text(p.riderIntensity, decimals: 3),
                                 Fixed.text(p.returnStateOfCharge, decimals: 3), p.ambientText, Fixed.text(p.capacitySpread, decimals: 4),
                                 Fixed.text(p.resistanceSpread, decimals: 4), h(t.duration)]
            row += [h(t.hardLimit?.seconds), t.hardLimit?.cause.rawValue ?? "", t.hardLimit.map { "\($0.cell + 1)" } ?? ""]
            let cellFault = f.map { !$0.kind.isSensorFault } ?? false
            row += [h(t.firstWatch), h(s.warningSeconds), cellFault ? (s.detected ? "yes" : "no") : "", h(s.leadSeconds),
                    cellFault && s.detected ? (s.rankedFirst ? "yes" : "no") : "", cellFault ? (s.packAlerted ? "yes" : "no") : "",
                    cellFault ? "\(s.otherCellAlerts)" : "", "\(s.falseAlerts)", h(s.exposureSeconds)]
            let sensorFault = f?.kind.isSensorFault ?? false
            row += [h(s.sensorReportSeconds), sensorFault ? (s.reportedAsCellRisk ? "yes" : "no") : ""]
            row.append(t.warnings.map { "\($0.cell + 1)@\(h($0.start))h/\($0.reason.name)" }
                .joined(separator: ";"))
            row.append(t.suspectCells.map { "\($0.cell + 1)@\(h($0.seconds))h" }.joined(separator: ";"))
            row.append(t.suspectSensors.map { "\($0.sensor + 1)@\(h($0.seconds))h" }.joined(separator: ";"))
            row.append(r.rankedAtEnd.map { "\($0 + 1)" }.joined(separator: ";"))
            row += [Fixed.text(r.hottestCell, decimals: 2), Fixed.text(r.lowestVoltage, decimals: 4), Fixed.text(r.highestVoltage, decimals: 4),
                    Fixed.text(r.bledMilliampereHours, decimals: 1)]
            text += row.joined(separator: ",") + "\n"
        }
        return text
    }

    /// The fault's full size for the CSV (no commas).
    static func sizeText(_ f: FleetFault) -> String {
        switch f.kind {
        case .internalShort: return "\(Fixed.text(f.startOhms, decimals: 0))->\(Fixed.text(f.size, decimals: 2)) ohm"
        case .resistanceRise: return "x\(Fixed.text(f.size, decimals: 3))"
        case .capacityFade: return "-\(Fixed.text(f.size * 100, decimals: 1)) %"
        case .localHeating: return "\(Fixed.text(f.size, decimals: 2)) W"
        case .voltageSensorOffset: return "\(Fixed.text(f.size * 1_000, decimals: 1)) mV"
        case .voltageSensorNoise: return "\(Fixed.text(f.size * 1_000, decimals: 1)) mV rms"
        }
    }

    /// Writes summary.json and packs.csv into `directory` (created if needed).
    public static func write(json: String, results: [FleetPackResult], to directory: URL) throws(HarnessError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(json.utf8).write(to: directory.appendingPathComponent("summary.json"))
            try Data(csv(results).utf8).write(to: directory.appendingPathComponent("packs.csv"))
        } catch {
            throw HarnessError("cannot write the outputs to \(directory.path): \(error.localizedDescription)")
        }
    }
}
