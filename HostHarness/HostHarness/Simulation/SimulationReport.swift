// What `simulate` writes: a time series (CSV, one row per simulated second) and a summary
// (JSON). Both depend only on the scenario and seed — no wall-clock time — so the same inputs
// give byte-identical files.
import Firmware
import Foundation
import HAL

/// Collects the time series and writes the run's files.
public struct SimulationReport {
    public static let timeSeriesHeader =
        "time_s,current_a,soc_true,soc_est,cell_min_mv,cell_min_index,cell_max_mv,cell_max_index,cell_mean_mv,cell_spread_mv,temp_max_c,ambient_c,hottest_cell_c,activity,"
        + "bms_state,discharge_limit_a,charge_limit_a,balancing_cells,faults,alert,top_risk\n"
    public static let truthHeader = "time_s,cell,soc,capacity_ah,r0_mohm,r0_ref_mohm,temperature_c,leak_ma,voltage_v,faults\n"
    public private(set) var timeSeries = SimulationReport.timeSeriesHeader
    public private(set) var truth = SimulationReport.truthHeader

    public init() {}

    /// Appends one row.
    public mutating func record(_ s: SimulationSample) {
        var row = "\(s.time.microsecondsSinceOrigin / 1_000_000),\(Fixed.text(s.current, decimals: 3)),"
        row += "\(Fixed.text(s.trueStateOfCharge, decimals: 5)),"
        row += s.estimatedStateOfCharge.map { Fixed.text(Double($0), decimals: 5) } ?? ""
        if let c = s.cellStatistics {
            row += ",\(c.minimum.rawValue),\(c.minimumIndex + 1),\(c.maximum.rawValue),\(c.maximumIndex + 1),\(c.mean.rawValue),\(c.spread)"
        } else {
            row += ",,,,,,"
        }
        row += "," + (s.temperatureStatistics.map { Fixed.text(Double($0.maximum.rawValue) / 10, decimals: 1) } ?? "")
        row += ",\(Fixed.text(s.ambient, decimals: 2)),\(Fixed.text(s.hottestCell, decimals: 2)),\(s.activity)"
        row += ",\(s.bmsState),\(Fixed.text(s.dischargeLimit, decimals: 3)),\(Fixed.text(s.chargeLimit, decimals: 3)),\(s.balancingCells),\(s.faults)"
        row += ",\(s.alert),\(s.topRisk)\n"
        timeSeries += row
    }

    /// Appends the truth rows for every cell: true SOC, capacity, R0 now and at 25 °C / 50 % SOC,
    /// temperature, leak current, terminal voltage and the faults active on that cell.
    public mutating func recordTruth(_ pack: VirtualPack) {
        let model = pack.design.cellModel
        let reference = model.seriesResistance.value(stateOfCharge: 0.5, temperatureCelsius: 25)
        let time = Fixed.text(Double(pack.time.microsecondsSinceOrigin) / 1e6, decimals: 1)
        for (i, e) in pack.elements.enumerated() {
            let cellFaults = pack.activeFaults.filter { $0.hasPrefix("cell \(i + 1) ") }.joined(separator: ";")
            truth += "\(time),\(i + 1),\(Fixed.text(pack.stateOfCharge(i), decimals: 5)),\(Fixed.text(e.capacityAmpereSeconds / 3_600, decimals: 4)),"
            truth += "\(Fixed.text(pack.seriesResistance(i) * 1_000, decimals: 3)),\(Fixed.text(reference * e.resistanceFactor * 1_000, decimals: 3)),"
            truth += "\(Fixed.text(e.temperature, decimals: 2)),\(Fixed.text(pack.leakCurrent(i) * 1_000, decimals: 3)),"
            truth += "\(Fixed.text(pack.terminalVoltage(i), decimals: 4)),\(cellFaults)\n"
        }
    }

    /// The summary as JSON text with a fixed key order.
    public static func summaryJSON(_ simulation: Simulation, ticks: UInt64) -> String {
        let loop = simulation.loop
        let counted = Double(loop.coulombCounter.netChargeNanocoulombs) / 1e9 / 3.6
        let trueCharge = simulation.pack.netChargeAmpereSeconds / 3.6
        var fields: [(String, String)] = [
            ("scenario", "\"\(simulation.scenario.name)\""),
            ("seed", "\(simulation.scenario.seed)"),
            ("simulated_s", Fixed.text(Double(simulation.now.microsecondsSinceOrigin) / 1e6, decimals: 3)),
            ("ticks", "\(ticks)"),
            ("soc_true_final", Fixed.text(simulation.pack.displayStateOfCharge, decimals: 5)),
            ("soc_est_final", loop.stateOfCharge.map { Fixed.text(Double($0), decimals: 5) } ?? "null"),
            ("charge_true_mah", Fixed.text(trueCharge, decimals: 3)),
            ("charge_counted_mah", Fixed.text(counted, decimals: 3)),
        ]
        if let c = loop.cellStatistics {
            fields += [("cell_min_mv", "\(c.minimum.rawValue)"), ("cell_min_index", "\(c.minimumIndex + 1)"),
                       ("cell_max_mv", "\(c.maximum.rawValue)"), ("cell_max_index", "\(c.maximumIndex + 1)"),
                       ("cell_spread_mv", "\(c.spread)")]
        }
        fields += [("overruns", "\(loop.timing.overruns)"), ("missed_ticks", "\(loop.timing.missedTicks)"),
                   ("clock_faults", "\(loop.timing.clockFaults)"), ("watchdog_feeds", "\(loop.board.watchdog.feeds)"),
                   ("cell_monitor_failures", "\(loop.measurements.cellMonitorFailures.count)"),
                   ("current_sensor_failures", "\(loop.measurements.currentSensorFailures.count)"),
                   ("bms_state_final", "\"\(loop.stateMachine.state.name)\""),
                   ("faults_latched", "[" + loop.stateMachine.latched.members.map { "\"\($0.name)\"" }.joined(separator: ", ") + "]"),
                   ("balancing_charge_counted_mah", Fixed.text(Double(loop.balancer.bledTotal.rawValue) / 3_600, decimals: 3)),
                   ("balancing_charge_true_mah", Fixed.text(simulation.pack.chargeBled.reduce(0, +) / 3.6, decimals: 3)),
                   ("balancing_energy_true_wh", Fixed.text(simulation.pack.energyBled / 3_600, decimals: 3))]
        return "{\n" + fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    /// Writes `summary.json`, `timeseries.csv` and `truth.csv` into `directory` (created if needed).
    public func write(summary: String, to directory: URL) throws(HarnessError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(summary.utf8).write(to: directory.appendingPathComponent("summary.json"))
            try Data(timeSeries.utf8).write(to: directory.appendingPathComponent("timeseries.csv"))
            try Data(truth.utf8).write(to: directory.appendingPathComponent("truth.csv"))
        } catch {
            throw HarnessError("cannot write the outputs to \(directory.path): \(error.localizedDescription)")
        }
    }
}

/// Fixed-point text for numbers in outputs: locale-independent and identical on every run.
public enum Fixed {
    public static func text(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return "nan" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let negative = value < 0 && scaled != 0
        var digits = String(UInt64(scaled))
        if decimals > 0 {
            if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
        }
        return negative ? "-" + digits : digits
    }
}
