// The fleet benchmark's scores (Docs/early-warning.md, "Scoring"): per pack from its timeline —
// detection, lead time, rank 1, false alerts, sensor faults reported as sensor faults or as cell
// risks — and over the fleet, overall and per fault type.
import Firmware
import HAL

/// One pack's scores.
public struct PackScore: Equatable, Sendable {
    /// Warning episodes that count as false alerts, and the time they were counted over (s): the
    /// whole run of a pack without a fault; the time before onset of a pack with one (on any cell).
    public var falseAlerts = 0
    public var exposureSeconds = 0.0
    /// Cell faults: whether the hard-limit event came within the run; when the faulty cell first
    /// stood at `warning` after onset (an episode already open at onset counts from onset);
    /// whether that came before the hard-limit event (or, without one, before the end); the lead
    /// time; whether the faulty cell was ranked first when its alert came; whether any cell of
    /// the pack was at `warning` after onset before the event; other cells' episodes after onset.
    public var hardLimitReached = false
    public var warningSeconds: Double? = nil
    public var detected = false
    public var leadSeconds: Double? = nil
    public var rankedFirst = false
    public var packAlerted = false
    public var otherCellAlerts = 0
    /// Sensor faults: the faulty channel called suspect at or after onset (and when), and any
    /// cell at `warning` after onset (a sensor fault taken for a cell risk).
    public var reportedAsSensorFault = false
    public var sensorReportSeconds: Double? = nil
    public var reportedAsCellRisk = false

    public init() {}
}

public enum FleetScoring {
    /// Scores one pack's timeline (see `PackScore` for every definition).
    public static func score(_ t: PackTimeline) -> PackScore {
        var s = PackScore()
        guard let kind = t.fault else {
            s.falseAlerts = t.warnings.count
            s.exposureSeconds = t.duration
            return s
        }
        s.exposureSeconds = min(t.onset, t.duration)
        s.falseAlerts = t.warnings.filter { $0.start < t.onset }.count
        if kind.isSensorFault {
            if let report = t.suspectCells.first(where: { $0.cell == t.faultCell && $0.seconds >= t.onset }) {
                s.reportedAsSensorFault = true
                s.sensorReportSeconds = report.seconds
            }
            s.reportedAsCellRisk = t.warnings.contains { $0.start >= t.onset || ($0.end ?? .infinity) > t.onset }
            return s
        }
        let limit = t.hardLimit.flatMap { $0.seconds >= t.onset ? $0.seconds : nil }
        s.hardLimitReached = limit != nil
        let deadline = limit ?? t.duration + 1
        // The faulty cell's alert: the first episode after onset, or one still open at onset.
        let own = t.warnings.filter { $0.cell == t.faultCell && ($0.start >= t.onset || ($0.end ?? .infinity) > t.onset) }
        if let first = own.min(by: { $0.start < $1.start }) {
            let at = max(first.start, t.onset)
            s.warningSeconds = at
            if at < deadline {
                s.detected = true
                s.rankedFirst = first.rankedFirst == t.faultCell
                if let limit { s.leadSeconds = limit - at }
            }
        }
        s.packAlerted = t.warnings.contains { ($0.start >= t.onset || ($0.end ?? .infinity) > t.onset) && max($0.start, t.onset) < deadline }
        s.otherCellAlerts = t.warnings.filter { $0.cell != t.faultCell && $0.start >= t.onset && $0.start < deadline }.count
        return s
    }

    /// The median of `values` (nil when empty).
    public static func median(_ values: [Double]) -> Double? { quantile(values, 0.5) }

    /// The `q` quantile of `values`, linear between order statistics (nil when empty).
    public static func quantile(_ values: [Double], _ q: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let position = q * Double(sorted.count - 1)
        let low = Int(position), high = min(low + 1, sorted.count - 1)
        return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
    }

    /// False alerts per pack-month (30 days) of exposure (nil without exposure).
    public static func perPackMonth(_ alerts: Int, exposureSeconds: Double) -> Double? {
        exposureSeconds > 0 ? Double(alerts) / (exposureSeconds / (30 * 86_400)) : nil
    }
}

/// Figures over a group of packs.
public struct FleetFigures: Sendable {
    public var packs = 0
    /// Cell faults: hard-limit events within the run, detections among them, packs alerted
    /// among them, ranked first among the detections, lead times (h), faults whose hard limit
    /// did not come within the run (and how many of those the faulty cell's alert flagged).
    public var reached = 0
    public var detected = 0
    public var packAlerted = 0
    public var rankedFirst = 0
    public var leadHours: [Double] = []
    public var notReached = 0
    public var alertedNotReached = 0
    public var otherCellAlerts = 0
    /// Hard-limit events by cause.
    public var causes: [HardLimitCause: Int] = [:]
    /// False alerts and their exposure (s).
    public var falseAlerts = 0
    public var exposureSeconds = 0.0
    /// Sensor faults: reported as sensor faults, taken for cell risks.
    public var sensorFaults = 0
    public var reportedAsSensorFault = 0
    public var reportedAsCellRisk = 0

    public init() {}

    /// Adds one pack.
    public mutating func add(_ t: PackTimeline, _ s: PackScore) {
        packs += 1
        falseAlerts += s.falseAlerts
        exposureSeconds += s.exposureSeconds
        guard let kind = t.fault else { return }
        if kind.isSensorFault {
            sensorFaults += 1
            if s.reportedAsSensorFault { reportedAsSensorFault += 1 }
            if s.reportedAsCellRisk { reportedAsCellRisk += 1 }
            return
        }
        otherCellAlerts += s.otherCellAlerts
        guard s.hardLimitReached else {
            notReached += 1
            if s.detected { alertedNotReached += 1 }
            return
        }
        reached += 1
        if let cause = t.hardLimit?.cause { causes[cause, default: 0] += 1 }
        if s.packAlerted { packAlerted += 1 }
        if s.detected {
            detected += 1
            if s.rankedFirst { rankedFirst += 1 }
            if let lead = s.leadSeconds { leadHours.append(lead / 3_600) }
        }
    }

    /// Detection rate of cell faults: the faulty cell at `warning` before the hard-limit event,
    /// of the faults that reached it.
    public var detectionRate: Double? { reached > 0 ? Double(detected) / Double(reached) : nil }
    public var packDetectionRate: Double? { reached > 0 ? Double(packAlerted) / Double(reached) : nil }
    public var rank1Rate: Double? { detected > 0 ? Double(rankedFirst) / Double(detected) : nil }
    public var medianLeadHours: Double? { FleetScoring.median(leadHours) }
    public var falseAlertsPerPackMonth: Double? { FleetScoring.perPackMonth(falseAlerts, exposureSeconds: exposureSeconds) }
    public var sensorReportedRate: Double? { sensorFaults > 0 ? Double(reportedAsSensorFault) / Double(sensorFaults) : nil }
    public var cellRiskRate: Double? { sensorFaults > 0 ? Double(reportedAsCellRisk) / Double(sensorFaults) : nil }
}

/// A fleet's results: the figures overall (cell faults; false alerts over every pack), for packs
/// without a fault, for sensor faults, and per fault type.
public struct FleetSummary: Sendable {
    public var packs: Int
    public var days: Double
    public var seed: UInt64
    public var overall = FleetFigures()
    public var healthy = FleetFigures()
    public var sensor = FleetFigures()
    public var perKind: [(kind: FleetFaultKind, figures: FleetFigures)]
    /// Packs without a fault with any warning, and hard-limit events on them (the duty itself
    /// should never reach one).
    public var healthyPacksWithAlerts = 0
    public var healthyHardLimits = 0

    public init(results: [FleetPackResult], days: Double, seed: UInt64) {
        packs = results.count
        self.days = days
        self.seed = seed
        var kinds: [FleetFaultKind: FleetFigures] = [:]
        for r in results {
            let t = r.timeline, s = FleetScoring.score(t)
            overall.add(t, s)
            if let kind = t.fault {
                kinds[kind, default: FleetFigures()].add(t, s)
                if kind.isSensorFault { sensor.add(t, s) }
            } else {
                healthy.add(t, s)
                if !t.warnings.isEmpty { healthyPacksWithAlerts += 1 }
                if t.hardLimit != nil { healthyHardLimits += 1 }
            }
        }
        perKind = FleetFaultKind.allCases.map { ($0, kinds[$0] ?? FleetFigures()) }
    }

    /// The targets.
    public static let targets = (detection: 0.95, medianLeadHours: 24.0, falseAlertsPerPackMonth: 0.1, rank1: 0.95)
}
