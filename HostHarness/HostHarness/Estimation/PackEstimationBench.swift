// The pack half of `make accuracy`: the firmware's estimation in the closed loop on the virtual
// pack, scored against its truth — pack and element SOC, capacity and resistance per element
// after their first update, and the usable charge at a load against what the pack then delivered.
import Firmware
import HAL

/// What one scenario run measured (fractions unless named otherwise).
public struct PackEstimationResult: Sendable {
    public var scenario: String
    public var simulatedHours: Double
    /// Pack SOC (the display definition on both sides) RMSE and maximum error after the first
    /// 5 minutes, and the share of samples whose truth lay within the bound.
    public var packRMSE: Double
    /// The pack SOC RMSE before every element's capacity had been measured, and after; where the
    /// largest error was (h).
    public var packRMSEBeforeCapacity: Double
    public var packRMSEAfterCapacity: Double
    public var packMaximumAtHours: Double
    public var packMaximum: Double
    public var packCoverage: Double
    /// The worst element's SOC RMSE.
    public var elementRMSE: Double
    /// Per element: relative capacity and resistance error at the first update (nil: no update).
    public var capacityErrorAtFirst: [Double?]
    public var resistanceErrorAtFirst: [Double?]
    /// When the first capacity update of any element came (h), and the relative errors at the end.
    public var firstCapacityHours: Double?
    public var capacityErrorAtEnd: [Double]
    public var resistanceErrorAtEnd: [Double]
    public var equivalentFullCycles: Double

    static func worst(_ values: [Double?]) -> Double? {
        let known = values.compactMap { $0 }
        return known.isEmpty ? nil : known.map(abs).max()
    }
}

/// The usable-charge check: a constant discharge from full until the weakest element reaches its
/// minimum voltage — or until the BMS opens the contactors first (a protection fault latched: the
/// pack stops delivering whatever the prediction said; the prediction accounts for the heating
/// that trips it) — predictions taken along the way.
public struct UsableChargeResult: Sendable {
    public var scenario: String
    public var currentA: Double
    /// What the pack delivered from the start until the weakest element reached the minimum (Ah).
    public var deliveredAh: Double
    /// The prediction at the start (Ah), and the largest error of any prediction while at least
    /// 10 % remained, relative to what was then still delivered and to the whole discharge.
    public var predictedAtStartAh: Double
    public var worstRelativeError: Double
    public var worstErrorOfWhole: Double
    /// The element the firmware said would end the discharge at the start (its voltage, or the
    /// sensor on it reaching `sensorLimitCelsius`) and why, and the element that reached the
    /// minimum (-1: none did, the BMS stopped the discharge before).
    public var predictedElement: Int
    public var predictedEnd: ForwardDischarge.End?
    public var sensorLimitCelsius: Double
    public var actualElement: Int
    /// The protection faults latched when the BMS stopped the discharge before any element reached
    /// the minimum (nil: it ran to the minimum), and the hottest element's temperature then (°C).
    public var stoppedBy: [FaultID]? = nil
    public var hottestCelsius: Double = 0

    /// Whether the prediction at the start named what ended the discharge: the element that
    /// reached the minimum, or a sensor's temperature when the BMS stopped it for over-temperature.
    public var endForeseen: Bool {
        switch predictedEnd {
        case .voltage?: return stoppedBy == nil && actualElement == predictedElement
        case .temperature?: return stoppedBy?.contains(.overtemperatureDischarge) ?? false
        default: return false
        }
    }
}

public enum PackEstimationBench {
    /// Targets: pack SOC RMSE, capacity and resistance at the first update, usable charge.
    public static let packRMSETarget = 0.01, capacityTarget = 0.02, resistanceTarget = 0.10, usableTarget = 0.03

    /// Runs `name` for `duration` (nil: the scenario's own), scoring every 10 s.
    public static func run(_ name: String, duration: Microseconds? = nil) throws(HarnessError) -> PackEstimationResult {
        try runKeeping(name, duration: duration).result
    }

    /// As `run`, also returning the simulation as it ended (for the usable-charge check).
    public static func runKeeping(_ name: String, duration: Microseconds? = nil) throws(HarnessError)
        -> (result: PackEstimationResult, simulation: Simulation) {
        var scenario = try Scenario.load(name)
        if let duration { scenario.duration = duration }
        var simulation = try Simulation(scenario: scenario)
        let n = scenario.pack.seriesCount, parallel = Double(scenario.pack.parallelCount)
        var squared = 0.0, maximum = 0.0, inside = 0, counted = 0, maximumAt = 0.0
        var split = (before: 0.0, beforeCount: 0, after: 0.0, afterCount: 0)
        var elementSquared = [Double](repeating: 0, count: n)
        var capacityAtFirst = [Double?](repeating: nil, count: n), resistanceAtFirst = [Double?](repeating: nil, count: n)
        var firstCapacity: Double? = nil
        func trueResistance(_ i: Int) -> Double { simulation.pack.elements[i].resistanceFactor * parallel }
        func trueCapacityAh(_ i: Int) -> Double { simulation.pack.elements[i].capacityAmpereSeconds / 3_600 }
        let end = Instant.origin + scenario.duration
        var tick = 0
        while simulation.now < end {
            simulation.step()
            tick += 1
            guard tick % 1_000 == 0 else { continue }
            let estimator = simulation.loop.estimator
            for i in 0..<n {
                let e = estimator.elements[i]
                if capacityAtFirst[i] == nil && e.capacityUpdates > 0 {
                    capacityAtFirst[i] = Double(e.capacityAh) / trueCapacityAh(i) - 1
                    if firstCapacity == nil { firstCapacity = Double(simulation.now.microsecondsSinceOrigin) / 3.6e9 }
                }
                if resistanceAtFirst[i] == nil && e.resistanceUpdates > 0 {
                    resistanceAtFirst[i] = Double(e.resistanceFactor) / trueResistance(i) - 1
                }
            }
            guard tick % 10_000 == 0, simulation.now - Instant.origin >= .seconds(300),
                  let estimate = estimator.stateOfCharge, let bound = estimator.bound else { continue }
            let socs = (0..<n).map { simulation.pack.stateOfCharge($0) }
            let error = abs(Double(estimate) - simulation.pack.displayStateOfCharge)
            squared += error * error
            if error > maximum { maximum = error; maximumAt = Double(simulation.now.microsecondsSinceOrigin) / 3.6e9 }
            if capacityAtFirst.allSatisfy({ $0 != nil }) {
                split.after += error * error; split.afterCount += 1
            } else {
                split.before += error * error; split.beforeCount += 1
            }
            if error <= Double(bound) { inside += 1 }
            counted += 1
            for i in 0..<n {
                let d = Double(estimator.elements[i].filter.displayed) - socs[i]
                elementSquared[i] += d * d
            }
        }
        let estimator = simulation.loop.estimator
        return (PackEstimationResult(
            scenario: name, simulatedHours: Double(simulation.now.microsecondsSinceOrigin) / 3.6e9,
            packRMSE: counted > 0 ? (squared / Double(counted)).squareRoot() : 0,
            packRMSEBeforeCapacity: split.beforeCount > 0 ? (split.before / Double(split.beforeCount)).squareRoot() : 0,
            packRMSEAfterCapacity: split.afterCount > 0 ? (split.after / Double(split.afterCount)).squareRoot() : 0,
            packMaximumAtHours: maximumAt, packMaximum: maximum,
            packCoverage: counted > 0 ? Double(inside) / Double(counted) : 1,
            elementRMSE: ((elementSquared.max() ?? 0) / Double(max(counted, 1))).squareRoot(),
            capacityErrorAtFirst: capacityAtFirst, resistanceErrorAtFirst: resistanceAtFirst, firstCapacityHours: firstCapacity,
            capacityErrorAtEnd: (0..<n).map { Double(estimator.elements[$0].capacityAh) / trueCapacityAh($0) - 1 },
            resistanceErrorAtEnd: (0..<n).map { Double(estimator.elements[$0].resistanceFactor) / trueResistance($0) - 1 },
            equivalentFullCycles: Double(estimator.equivalentFullCycles)), simulation)
    }

    /// From `start` (a simulation that has run, so its estimator has learnt the pack), a constant
    /// discharge of `cRate` × the element's rated capacity (the load ignores the BMS's limits)
    /// until the weakest element's true terminal voltage reaches the cell's minimum or the BMS
    /// stops it; the firmware's prediction at that current, with the pack's heating up to the
    /// protection's trip (`PackStateEstimator.usableCharge(atDischarge:sensorLimitCelsius:)`), is
    /// taken every minute once the current flows.
    public static func usableCharge(from start: Simulation, cRate: Double = 1) -> UsableChargeResult {
        var simulation = start
        let pack = start.scenario.pack
        let current = cRate * pack.cellModel.ratedCapacityAh * Double(pack.parallelCount)
        simulation.switchLoad(to: .constantCurrent(amperes: -current), obeysLimits: false)
        let minimum = pack.cellModel.minimumVoltage
        let startCharge = simulation.pack.netChargeAmpereSeconds
        func delivered() -> Double { (startCharge - simulation.pack.netChargeAmpereSeconds) / 3_600 }
        var predictions: [(deliveredAh: Double, predictedAh: Double, element: Int, end: ForwardDischarge.End)] = []
        // The protection's trip: the discharge over-temperature's maximum-safety tier.
        let tripCelsius = Float(Int(simulation.loop.configuration.protection.overtemperatureDischarge.maximumSafety)) / 10
        var tick = 0, actualElement = -1
        var stoppedBy: [FaultID]? = nil
        let limit = simulation.now + Microseconds.seconds(Int32(4 * 3_600 / cRate))
        outer: while simulation.now < limit {
            simulation.step()
            tick += 1
            for i in simulation.pack.hot.indices where simulation.pack.terminalVoltage(i) <= minimum {
                actualElement = i
                break outer
            }
            let latched = simulation.loop.stateMachine.latched
            if !latched.isEmpty {
                stoppedBy = FaultID.all.filter { latched.contains($0) }
                break
            }
            guard tick % 60_000 == 0, simulation.pack.current < -0.9 * current,
                  let usable = simulation.loop.estimator.usableCharge(atDischarge: Float(current), sensorLimitCelsius: tripCelsius) else { continue }
            predictions.append((delivered(), Double(usable.ampereHours), usable.element, usable.end))
        }
        let total = delivered()
        var worstRelative = 0.0, worstWhole = 0.0
        for p in predictions where total - p.deliveredAh >= 0.1 * total {
            let remaining = total - p.deliveredAh
            worstRelative = max(worstRelative, abs(p.predictedAh - remaining) / remaining)
            worstWhole = max(worstWhole, abs(p.predictedAh - remaining) / total)
        }
        let first = predictions.first
        return UsableChargeResult(
            scenario: start.scenario.name, currentA: current, deliveredAh: total,
            predictedAtStartAh: (first?.predictedAh ?? 0) + (first?.deliveredAh ?? 0), worstRelativeError: worstRelative,
            worstErrorOfWhole: worstWhole, predictedElement: first?.element ?? -1, predictedEnd: first?.end, sensorLimitCelsius: Double(tripCelsius),
            actualElement: actualElement,
            stoppedBy: stoppedBy, hottestCelsius: simulation.pack.elements.map(\.temperature).max() ?? 0)
    }

    /// The printed report and whether every target was met.
    public static func report(_ runs: [PackEstimationResult], usable: [UsableChargeResult]) -> (text: String, met: Bool) {
        var met = true
        var text = "virtual pack (closed loop, scored every 10 s after the first 5 minutes)\n"
        func percent(_ x: Double?, _ decimals: Int = 2) -> String { x.map { Fixed.text($0 * 100, decimals: decimals) + " %" } ?? "none" }
        for r in runs {
            let capacity = PackEstimationResult.worst(r.capacityErrorAtFirst), resistance = PackEstimationResult.worst(r.resistanceErrorAtFirst)
            let ok = r.packRMSE <= packRMSETarget && (capacity.map { $0 <= capacityTarget } ?? false)
                && (resistance.map { $0 <= resistanceTarget } ?? false)
            met = met && ok
            text += "  \(r.scenario) (\(Fixed.text(r.simulatedHours, decimals: 1)) h, \(Fixed.text(r.equivalentFullCycles, decimals: 2)) equivalent full cycles)\n"
            text += "    pack SOC        RMSE \(percent(r.packRMSE)), max \(percent(r.packMaximum)) at \(Fixed.text(r.packMaximumAtHours, decimals: 1)) h, truth within the bound \(percent(r.packCoverage, 1))  (target RMSE ≤ 1 %)\n"
            text += "                    RMSE before every capacity was measured \(percent(r.packRMSEBeforeCapacity)), after \(percent(r.packRMSEAfterCapacity))\n"
            text += "    element SOC     worst RMSE \(percent(r.elementRMSE))\n"
            let updated = r.capacityErrorAtFirst.compactMap { $0 }.count
            text += "    capacity        \(updated)/\(r.capacityErrorAtFirst.count) elements updated (first after \(r.firstCapacityHours.map { Fixed.text($0, decimals: 1) + " h" } ?? "—")); "
            text += "worst error at the first update \(percent(capacity)), at the end \(percent(r.capacityErrorAtEnd.map(abs).max()))  (target ±2 %)\n"
            let stepped = r.resistanceErrorAtFirst.compactMap { $0 }.count
            text += "    resistance      \(stepped)/\(r.resistanceErrorAtFirst.count) elements updated; worst error at the first update \(percent(resistance)), "
            text += "at the end \(percent(r.resistanceErrorAtEnd.map(abs).max()))  (target ±10 %)\n"
            text += "    \(ok ? "ok" : "MISSED")\n"
        }
        for u in usable {
            let ok = u.worstErrorOfWhole <= usableTarget && abs(u.predictedAtStartAh - u.deliveredAh) / u.deliveredAh <= usableTarget
                && u.endForeseen
            met = met && ok
            text += "  usable charge, \(u.scenario) after its day, at \(Fixed.text(u.currentA, decimals: 1)) A: delivered \(Fixed.text(u.deliveredAh, decimals: 3)) Ah "
            if let faults = u.stoppedBy {
                text += "(stopped by the BMS before any element reached the minimum: \(faults.map(\.name).joined(separator: ", ")) latched, "
                text += "hottest element \(Fixed.text(u.hottestCelsius, decimals: 1)) °C), predicted at the start"
            } else {
                text += "(element \(u.actualElement + 1) reached the minimum), predicted at the start"
            }
            text += " \(Fixed.text(u.predictedAtStartAh, decimals: 3)) Ah "
            switch u.predictedEnd {
            case .temperature?: text += "(the sensor on element \(u.predictedElement + 1) reaching \(Fixed.text(u.sensorLimitCelsius, decimals: 1)) °C); worst"
            case .voltage?: text += "(element \(u.predictedElement + 1) reaching the minimum); worst"
            default: text += "(nothing within the horizon); worst"
            }
            text += " prediction while ≥ 10 % remained: \(percent(u.worstErrorOfWhole)) of the discharge, "
            text += "\(percent(u.worstRelativeError)) of what remained  (target 3 %)"
            text += u.endForeseen ? "" : "; the end was not the one predicted"
            text += "  \(ok ? "ok" : "MISSED")\n"
        }
        return (text, met)
    }
}
