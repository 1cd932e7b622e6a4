// Early warning (Docs/early-warning.md): per-cell health features measured against the pack —
// leakage from the SOC each cell loses during rests beyond what balancing took, capacity from
// the SOC each cell moves between relaxed points, resistance from the voltage steps of current
// steps, thermal anomalies from each sensor against the others with a load-dependent allowance —
// in robust statistics (median and MAD), their trends, a risk score per cell with a reason, alert
// levels with hysteresis, and sensor faults told apart from cell risks. Allocation-free; the loop
// calls `observe` every 100 ms and `evaluate` every second.
import HAL

/// Why a cell is at risk. Raw values are stable (BMS_RiskRanking, RiskReason).
public enum RiskReason: UInt8, Sendable {
    case none = 0
    case leakage = 1
    case capacityFade = 2
    case resistanceGrowth = 3
    case voltageSag = 4
    case thermalAnomaly = 5
}

/// Alert levels. Raw values are stable (CAN, black box).
public enum AlertLevel: UInt8, Sendable, Comparable {
    case none = 0
    /// Worth watching: score ≥ 50.
    case watch = 1
    /// An alert: score ≥ 70; a thermal one derates the power limits.
    case warning = 2
    /// Score ≥ 90.
    case critical = 3
    public static func < (a: AlertLevel, b: AlertLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Thresholds and tuning of the early warning.
public struct HealthConfiguration: Sendable {
    /// The pack's rated capacity (Ah) and what counts as rest (|I| at most this, mA).
    public var ratedCapacityAh: Float
    public var restCurrent: Milliamperes
    /// A rest this long (s) gives a relaxed point; relaxed points this far apart within one rest
    /// measure leakage; charge this large (fraction of the capacity) between relaxed points
    /// measures capacity.
    public static let relaxationSeconds: Float = 1_200
    /// A stop this long (s) after a charge or discharge gives a quick point: not relaxed, but
    /// every cell is about as far from relaxed as the others, so their differences hold. A
    /// delivery stop at the end of a ride measures capacity against the last relaxed point.
    public static let quickPointSeconds: Float = 120
    public static let leakWindowSeconds: Float = 3_600
    public static let capacityChargeFraction: Float = 0.3
    /// A current change this large within 100 ms (fraction of 1C) measures resistance.
    public static let stepFraction: Float = 0.5
    /// Feature values that score 50 (the watch level): leakage (mA, beyond the pack's median),
    /// resistance (fraction above the median), capacity (fraction below the median), thermal
    /// excess (K above the load allowance).
    public static let leakageAlertMilliamperes: Float = 10
    public static let resistanceAlert: Float = 0.3
    public static let capacityAlert: Float = 0.08
    /// Change since the cell's own baseline (learned over its first estimates) that scores 50:
    /// resistance growth (fraction), capacity loss (fraction). Cells differ as built; a change
    /// in one of them is the early sign.
    public static let resistanceChangeAlert: Float = 0.15
    public static let capacityChangeAlert: Float = 0.05
    public static let thermalAlertKelvin: Float = 2
    /// How far one sensor may sit from the others' median at rest (K), and how much more per
    /// (I/1C)² of the last minute's load: uneven cooling is not an anomaly.
    public static let thermalSpreadKelvin: Float = 1.5
    public static let thermalSpreadPerCRateSquared: Float = 1.5
    /// A sensor warming this much faster than the others' median (K/min, averaged over two
    /// minutes) beyond a dead band scores 50. The dead band is what the sensors' 0.1 K steps
    /// leave in the average: without it their timing (which differs by up to 100 ms between a
    /// front end read directly and one read over CAN) would move the scores.
    public static let thermalRiseAlertKelvinPerMinute: Float = 0.5
    public static let thermalRiseDeadBandKelvinPerMinute: Float = 0.15
    /// Factor on the current limits while a thermal anomaly is at warning or above.
    public static let thermalDerate: Float = 0.5
    /// How far the sum of the cells' rest voltages may move against the stack voltage (mV) before
    /// a voltage channel counts as drifting, and the leakage (mA, of the matching sign) its cell
    /// must show for the drift to be put on its channel.
    public static let stackDriftMillivolts: Float = 8
    public static let stackDriftLeakMilliamperes: Float = 1.5
    /// What the early warning needs of the pack configuration: the rated capacity and the rest
    /// current (the loop's, and the fleet benchmark's).
    public init(pack c: borrowing @_addressable PackConfiguration) {
        self.init(ratedCapacityAh: Float(approximating: c.ratedCapacity.rawValue) / 3_600_000, restCurrent: c.restCurrent)
    }

    public init(ratedCapacityAh: Float, restCurrent: Milliamperes) {
        self.ratedCapacityAh = ratedCapacityAh
        self.restCurrent = restCurrent
    }
}

/// One cell's features, score and alert.
public struct CellHealth: Sendable {
    /// Leakage beyond the pack's median (mA, smoothed over rests), and its change per estimate.
    public var leakageMilliamperes: Float = 0
    public var leakageTrend: Float = 0
    public var leakageEstimates: UInt16 = 0
    /// Capacity and resistance relative to the pack's median (1 = the median), smoothed.
    public var capacityRatio: Float = 1
    public var capacityEstimates: UInt16 = 0
    public var resistanceRatio: Float = 1
    public var resistanceSteps: UInt16 = 0
    /// The cell's own baselines of both ratios (0 until learned): the mean of the smoothed
    /// resistance ratio over steps 20…`baselineSteps`, and of the first `baselineEstimates`
    /// capacity estimates.
    public var resistanceBaseline: Float = 0
    public var capacityBaseline: Float = 0
    /// For a cell with a temperature sensor: how much warmer than the load explains (K), smoothed;
    /// and how much faster than the other sensors it warms (K/min, over the last two minutes).
    public var thermalExcessKelvin: Float = 0
    public var thermalRiseKelvinPerMinute: Float = 0
    /// Risk score 0…100, its reason and the alert level.
    public var score: Float = 0
    public var reason: RiskReason = .none
    public var level: AlertLevel = .none
    var above: UInt16 = 0, below: UInt16 = 0
    /// Its voltage channel looks faulty (a jump at rest, or noise): excluded from the risk.
    public var sensorSuspect = false
    var jitter: Float = 0
    var restVoltage: Float = 0
    var previousRelative: Float = .nan
}

/// What the early warning has seen over the pack's life: kept in the checkpoint (words 12…15,
/// Docs/persistence.md) so that a restart forgets neither which cells were alerted nor which
/// voltage channels were found faulty.
public struct RiskHistory: Sendable, Equatable {
    /// Cells that reached warning or above at any time.
    public var everWarning = CellSet()
    /// Voltage channels found faulty (they stay out of the ranking after a restart).
    public var suspectChannels = CellSet()
    /// How many times a cell reached warning, and the highest level reached.
    public var warnings: UInt16 = 0
    public var highestLevel = AlertLevel.none
    public init() {}

    /// The checkpoint words 12…15 (the last one reserved), and back.
    public var words: (UInt32, UInt32, UInt32, UInt32) {
        (everWarning.bits, suspectChannels.bits, UInt32(warnings) | UInt32(highestLevel.rawValue) &<< 16, 0)
    }
    public init(words w: (UInt32, UInt32, UInt32, UInt32)) {
        everWarning = CellSet(bits: w.0)
        suspectChannels = CellSet(bits: w.1)
        warnings = UInt16(truncatingIfNeeded: w.2)
        highestLevel = AlertLevel(rawValue: UInt8(truncatingIfNeeded: w.2 &>> 16)) ?? .none
    }
}

/// The early-warning state of a pack (see the file comment).
public struct CellHealthMonitor: Sendable {
    public internal(set) var cells: PerCell<CellHealth>
    public private(set) var configuration: HealthConfiguration
    /// Which cell each temperature sensor sits on.
    var sensorCells: FixedList<16, UInt8>
    /// Rest bookkeeping and the relaxed points of the current and the previous rest.
    var restSeconds: Float = 0
    /// The first relaxed point of the present rest, and the last of the previous one (a
    /// capacity measurement pairs them across the activity between; a leakage measurement pairs
    /// the start and the end of one rest).
    var startOfRest = RelaxedPoint(cellCount: 0), endOfRest = RelaxedPoint(cellCount: 0)
    var haveStart = false, haveEnd = false
    /// When the rest voltages were last tracked (the end of a rest is its last relaxed moment).
    var lastRelaxedSeconds: Float = 0
    /// The sum of the cell voltages less the stack voltage at rest, smoothed as the cells' rest
    /// voltages are (mV; NaN: none yet), and its value at the first relaxed point (mV; NaN: not yet).
    var restStackDifference: Float = .nan
    var stackReference: Float = .nan
    var previousCurrent: Float = .nan
    /// Each cell's last reading (mV; `CellHealthMonitor.none` when invalid), kept in 16 bits:
    /// the loop's static storage has little room (Docs/firmware-budget.md).
    var previousVoltages: PerCell<Int16>
    var loadSquared: Float = 0
    /// Each sensor's last reading (0.1 °C; `none` when invalid) and how long it has not moved (s).
    var previousTemperatures: PerTemperatureSensor<Int16>
    var stuckSeconds: PerTemperatureSensor<UInt16>
    /// Temperature sensors that look faulty (stuck while the others move).
    public private(set) var suspectTemperatureSensors = CellSet()
    /// The highest alert level and whether it is thermal (for the power limits).
    public private(set) var highestLevel = AlertLevel.none
    public private(set) var thermalWarning = false
    /// Cells whose voltage channel is suspect (kept with `CellHealth.sensorSuspect`).
    public private(set) var suspectCells = CellSet()
    /// Up to three cells by score, highest first (suspect channels never; only scores above 0).
    public private(set) var ranked = FixedList<3, UInt8>(filler: 0)
    /// The cells' spreads (median, MAD; MAD NaN: no spread) of leakage, capacity and resistance,
    /// recomputed only when a feature or the suspect set changed (medians are most of the
    /// scoring's cost).
    var leakSpread = Spread(), capacitySpread = Spread(), resistanceSpread = Spread()
    var spreadsStale = true
    /// Cells whose alert level changed in the last evaluation (the loop records them as events).
    public private(set) var levelChanged = CellSet()
    /// The pack's risk history (persisted).
    public private(set) var history = RiskHistory()

    /// A median and a MAD, or none (NaN).
    struct Spread: Sendable {
        var median: Float = .nan, mad: Float = .nan
        var value: (median: Float, mad: Float)? { mad.isNaN ? nil : (median, mad) }
        init() {}
        init(_ s: (median: Float, mad: Float)?) { if let s { median = s.median; mad = s.mad } }
    }

    /// The voltages, SOCs and charge at one relaxed moment.
    struct RelaxedPoint: Sendable {
        var seconds: Float = 0
        var chargeCoulombs: Float = 0
        var soc: PerCell<Float>
        var bled: PerCell<Float>
        init(cellCount: Int) {
            soc = PerCell(repeating: 0, count: cellCount)
            bled = PerCell(repeating: 0, count: cellCount)
        }
    }

    public init(cellCount: Int, sensorCells: FixedList<16, UInt8>, configuration: HealthConfiguration) {
        cells = PerCell(repeating: CellHealth(), count: cellCount)
        self.configuration = configuration
        self.sensorCells = sensorCells
        startOfRest = RelaxedPoint(cellCount: cellCount)
        endOfRest = startOfRest
        previousVoltages = PerCell(repeating: CellHealthMonitor.none, count: cellCount)
        previousTemperatures = PerTemperatureSensor(repeating: CellHealthMonitor.none, count: 16)
        stuckSeconds = PerTemperatureSensor(repeating: 0, count: 16)
    }

    /// Back to a new monitor's state, in place (the Cortex-M image's loop lives in static storage).
    public mutating func reset(cellCount: Int, sensorCells places: borrowing FixedList<16, UInt8>, configuration c: HealthConfiguration) {
        cells.removeAll()
        for _ in 0..<cellCount { cells.append(CellHealth()) }
        configuration = c
        sensorCells.removeAll()
        for i in 0..<places.count { sensorCells.append(places[i]) }
        restSeconds = 0
        startOfRest = RelaxedPoint(cellCount: cellCount)
        endOfRest = startOfRest
        previousVoltages.removeAll()
        for _ in 0..<cellCount { previousVoltages.append(CellHealthMonitor.none) }
        haveStart = false
        haveEnd = false
        lastRelaxedSeconds = 0
        restStackDifference = .nan
        stackReference = .nan
        previousCurrent = .nan
        loadSquared = 0
        previousTemperatures.removeAll()
        stuckSeconds.removeAll()
        for _ in 0..<16 { previousTemperatures.append(CellHealthMonitor.none); stuckSeconds.append(0) }
        suspectTemperatureSensors = CellSet()
        highestLevel = .none
        thermalWarning = false
        suspectCells = CellSet()
        ranked.removeAll()
        spreadsStale = true
        levelChanged = CellSet()
        history = RiskHistory()
    }

    /// Resumes a stored history (after a restart): its faulty voltage channels are suspect again.
    public mutating func restore(history stored: RiskHistory) {
        history = stored
        for i in 0..<cells.count where stored.suspectChannels.contains(i) { markSuspect(i) }
    }

    // MARK: - every 100 ms

    /// Resistance from current steps: a change of at least `stepFraction`·1C since the last call
    /// gives each cell's ΔV/ΔI against the median cell's.
    public mutating func observe(cells readings: borrowing @_addressable CellMonitorReadings, current: Milliamperes?) {
        guard let current else { previousCurrent = .nan; return }
        let amperes = Float(Int(current.rawValue)) / 1_000
        defer {
            previousCurrent = amperes
            for i in 0..<cells.count {
                previousVoltages[i] = readings.cellVoltages[i].validValue.map { Int16(truncatingIfNeeded: $0.rawValue) } ?? CellHealthMonitor.none
            }
        }
        let step = amperes - previousCurrent
        guard step.isFinite, (step < 0 ? -step : step) >= HealthConfiguration.stepFraction * configuration.ratedCapacityAh else { return }
        var ohms = PerCell<Float>(filler: 0)
        var any = false
        for i in 0..<cells.count {
            let now = readings.cellVoltages[i].validValue.map { Float(Int($0.rawValue)) / 1_000 } ?? .nan
            let before = previousVoltages[i]
            let r = before == CellHealthMonitor.none ? Float.nan : (now - Float(Int(before)) / 1_000) / step
            ohms.append(r)
            if r.isFinite { any = true }
        }
        guard any, let median = CellHealthMonitor.median(ohms, excluding: suspectCells), median > 1e-5 else { return }
        for i in 0..<cells.count where ohms[i].isFinite && !cells.inPlace(i).sensorSuspect {
            let ratio = ohms[i] / median
            guard ratio > 0.2 && ratio < 5 else { continue }   // a step the cell did not see whole
            let n = Float(Int(min(cells.inPlace(i).resistanceSteps, 99)))
            cells[i].resistanceRatio += (ratio - cells[i].resistanceRatio) / (n + 1 < 20 ? n + 1 : 20)
            if cells[i].resistanceSteps < UInt16.max { cells[i].resistanceSteps += 1 }
            spreadsStale = true
            let k = Int(cells.inPlace(i).resistanceSteps)
            if k >= 20 && k <= CellHealthMonitor.baselineSteps {
                cells[i].resistanceBaseline += (cells[i].resistanceRatio - cells[i].resistanceBaseline) / Float(k - 19)
            }
        }
    }

    // MARK: - every second

    /// The slow features, sensor checks, scores and alert levels, once per second. `curve` turns
    /// a relaxed voltage into a SOC; `bled` is each cell's bled charge since start (mAs);
    /// `chargeNanocoulombs` the pack's counted net charge; `sumOfCellsDifference` the sum of the
    /// cell voltages less the stack voltage measured apart from them (nil: not all valid).
    public mutating func evaluate(cells readings: borrowing @_addressable CellMonitorReadings, current: Milliamperes?,
                                  sumOfCellsDifference: Millivolts?,
                                  chargeNanocoulombs: Int64, bled: borrowing @_addressable PerCell<Int32>,
                                  curve: borrowing @_addressable OCVCurve, seconds dt: Float, uptimeSeconds: Float) {
        let amperes = current.map { Float(Int($0.rawValue)) / 1_000 } ?? .nan
        let cRate = amperes / configuration.ratedCapacityAh
        if cRate.isFinite { loadSquared += (cRate * cRate - loadSquared) * min(1, dt / 60) }
        let resting = amperes.isFinite && (amperes < 0 ? -amperes : amperes) <= Float(Int(configuration.restCurrent.rawValue)) / 1_000
        // Channels are compared only in a settled rest: right after a load the cells relax at
        // their own pace.
        checkVoltageChannels(readings, resting: resting && restSeconds >= 300)
        checkTemperatures(readings, seconds: dt)
        if resting {
            restSeconds += dt
            if restSeconds >= HealthConfiguration.quickPointSeconds - 60 { trackRestVoltages(readings, sumOfCellsDifference: sumOfCellsDifference) }
            // A quick point, once per rest (taken into `startOfRest`, free until the rest's
            // first relaxed point): capacity against the last relaxed point.
            if !haveStart && haveEnd && restSeconds >= HealthConfiguration.quickPointSeconds && restSeconds - dt < HealthConfiguration.quickPointSeconds
                && restSeconds < HealthConfiguration.relaxationSeconds && relaxed() {
                takePoint(end: false, chargeNanocoulombs: chargeNanocoulombs, bled: bled, curve: curve, at: uptimeSeconds)
                measureCapacity()
            }
            if restSeconds >= HealthConfiguration.relaxationSeconds {
                lastRelaxedSeconds = uptimeSeconds
                if !haveStart && relaxed() {
                    takePoint(end: false, chargeNanocoulombs: chargeNanocoulombs, bled: bled, curve: curve, at: uptimeSeconds)
                    haveStart = true
                    if haveEnd { measureCapacity() }
                    checkStack()
                } else if haveStart && uptimeSeconds - startOfRest.seconds >= 2 * HealthConfiguration.leakWindowSeconds && relaxed() {
                    // A long rest (a night) measures its leakage in windows as it goes: the
                    // present moment closes one, and starts the next.
                    takePoint(end: true, chargeNanocoulombs: chargeNanocoulombs, bled: bled, curve: curve, at: uptimeSeconds)
                    measureLeakage()
                    takePoint(end: false, chargeNanocoulombs: chargeNanocoulombs, bled: bled, curve: curve, at: uptimeSeconds)
                }
            }
        } else if restSeconds > 0 {
            // The rest ends: its last relaxed moment (the smoothed voltages of its last second)
            // closes it. The charge and bled charge cannot have moved in one second.
            if haveStart && relaxed() {
                takePoint(end: true, chargeNanocoulombs: chargeNanocoulombs, bled: bled, curve: curve, at: lastRelaxedSeconds)
                haveEnd = true
                if endOfRest.seconds - startOfRest.seconds >= HealthConfiguration.leakWindowSeconds { measureLeakage() }
            }
            restSeconds = 0
            haveStart = false
            for i in 0..<cells.count { cells[i].restVoltage = 0 }
            restStackDifference = .nan
        }
        score()
    }

    /// Each cell's voltage at rest, smoothed over the last minute (the relaxed voltage), and the
    /// sum of the cells less the stack smoothed the same way.
    mutating func trackRestVoltages(_ readings: borrowing @_addressable CellMonitorReadings, sumOfCellsDifference: Millivolts?) {
        for i in 0..<cells.count {
            guard let v = readings.cellVoltages[i].validValue else { continue }
            let volts = Float(Int(v.rawValue)) / 1_000, old = cells.inPlace(i).restVoltage
            cells[i].restVoltage = old == 0 ? volts : old + (volts - old) / 30
        }
        if let d = sumOfCellsDifference {
            let millivolts = Float(Int(d.rawValue))
            restStackDifference = restStackDifference.isNaN ? millivolts : restStackDifference + (millivolts - restStackDifference) / 30
        }
    }

    /// A channel drifting away from its cell: an offset growing in one voltage channel moves the
    /// sum of the cells' voltages away from the stack voltage by as much, while a cell that
    /// really loses or gains charge moves both. At every relaxed point (and every leakage
    /// measurement) the sum less the stack, at rest, is compared with its value at the first
    /// one; once it has moved `stackDriftMillivolts`, the channel of the cell showing the matching
    /// leakage — a reading rising at rest looks like a cell gaining charge (negative leakage), a
    /// falling one like a leak — is suspect, and the comparison starts again from there. Without
    /// such a cell (the stack measurement itself drifting) nothing is blamed.
    @inline(never) mutating func checkStack() {
        let excess = restStackDifference
        guard !excess.isNaN else { return }                                                     // not measured
        guard !stackReference.isNaN else { stackReference = excess; return }                 // the first point
        let moved = excess - stackReference
        guard (moved < 0 ? -moved : moved) >= HealthConfiguration.stackDriftMillivolts else { return }
        // A channel found drifting before is among the candidates (its leakage as when found): a
        // drift that goes on is its own, not a new channel's.
        var drifting = -1, strongest = HealthConfiguration.stackDriftLeakMilliamperes
        for i in 0..<cells.count {
            let leak = moved > 0 ? -cells.inPlace(i).leakageMilliamperes : cells.inPlace(i).leakageMilliamperes
            if leak > strongest { drifting = i; strongest = leak }
        }
        guard drifting >= 0 else { return }
        markSuspect(drifting)
        stackReference = excess
    }

    /// Whether every cell has a smoothed rest voltage (a relaxed point can be taken).
    /// (`mutating` only to read the cells in place: a copy of them cost 900 B of stack.)
    mutating func relaxed() -> Bool {
        for i in 0..<cells.count where cells.inPlace(i).restVoltage == 0 { return false }
        return true
    }

    /// A relaxed point from the smoothed rest voltages, written in place (into `startOfRest` or
    /// `endOfRest`: no copy of a point on the stack).
    mutating func takePoint(end: Bool, chargeNanocoulombs: Int64, bled: borrowing @_addressable PerCell<Int32>,
                            curve: borrowing @_addressable OCVCurve, at seconds: Float) {
        if end {
            CellHealthMonitor.fill(&endOfRest, cells: cells, chargeNanocoulombs: chargeNanocoulombs, bled: bled, curve: curve, at: seconds)
        } else {
            CellHealthMonitor.fill(&startOfRest, cells: cells, chargeNanocoulombs: chargeNanocoulombs, bled: bled, curve: curve, at: seconds)
        }
    }

    /// `takePoint`'s work on one of the two points (one copy of the code for both).
    @inline(never) static func fill(_ point: inout RelaxedPoint, cells: borrowing @_addressable PerCell<CellHealth>, chargeNanocoulombs: Int64,
                                    bled: borrowing @_addressable PerCell<Int32>, curve: borrowing @_addressable OCVCurve, at seconds: Float) {
        point.seconds = seconds
        point.chargeCoulombs = Float(approximating: chargeNanocoulombs) * 1e-9
        for i in 0..<cells.count {
            point.soc[i] = curve.stateOfCharge(atRestVoltage: Millivolts(Int32(Int(cells[i].restVoltage * 1_000 + 0.5))))
            point.bled[i] = Float(Int(bled[i])) / 1_000
        }
    }

    /// Leakage from two relaxed points of one rest: the charge each cell lost relative to the
    /// median cell, less what balancing took from it relative to the median, per second.
    mutating func measureLeakage() {
        let seconds = endOfRest.seconds - startOfRest.seconds
        guard seconds > 0 else { return }
        var relative = PerCell<Float>(filler: 0), bledDelta = PerCell<Float>(filler: 0)
        for i in 0..<cells.count {
            relative.append(endOfRest.soc[i] - startOfRest.soc[i])
            bledDelta.append(endOfRest.bled[i] - startOfRest.bled[i])
        }
        let suspects = suspectCells
        guard let medianSOC = CellHealthMonitor.median(relative, excluding: suspects),
              let medianBled = CellHealthMonitor.median(bledDelta, excluding: suspects) else { return }
        let coulombsPerSOC = configuration.ratedCapacityAh * 3_600
        for i in 0..<cells.count where !cells.inPlace(i).sensorSuspect {
            let lost = -(relative[i] - medianSOC) * coulombsPerSOC - (bledDelta[i] - medianBled)
            let milliamperes = lost / seconds * 1_000
            let previous = cells.inPlace(i).leakageMilliamperes
            cells[i].leakageMilliamperes = cells[i].leakageEstimates == 0 ? milliamperes : previous + (milliamperes - previous) * 0.5
            cells[i].leakageTrend = cells[i].leakageEstimates == 0 ? 0 : cells[i].leakageMilliamperes - previous
            if cells[i].leakageEstimates < UInt16.max { cells[i].leakageEstimates += 1 }
            spreadsStale = true
        }
        checkStack()
    }

    /// Capacity from the relaxed points around a charge or discharge: each cell's SOC change for
    /// the same charge (less what it bled), against the median cell's.
    mutating func measureCapacity() {
        let charge = startOfRest.chargeCoulombs - endOfRest.chargeCoulombs
        let capacity = configuration.ratedCapacityAh * 3_600
        guard (charge < 0 ? -charge : charge) >= HealthConfiguration.capacityChargeFraction * capacity else { return }
        var perCell = PerCell<Float>(filler: 0)
        for i in 0..<cells.count {
            let moved = startOfRest.soc[i] - endOfRest.soc[i]
            let own = charge - (startOfRest.bled[i] - endOfRest.bled[i])
            perCell.append(moved != 0 ? own / moved : .nan)   // the cell's capacity (C) as seen
        }
        guard let median = CellHealthMonitor.median(perCell, excluding: suspectCells), median > 0 else { return }
        for i in 0..<cells.count where !cells.inPlace(i).sensorSuspect && perCell[i].isFinite && perCell[i] > 0 {
            let ratio = perCell[i] / median
            cells[i].capacityRatio = cells[i].capacityEstimates == 0 ? ratio : cells[i].capacityRatio + (ratio - cells[i].capacityRatio) * 0.5
            if cells[i].capacityEstimates < UInt16.max { cells[i].capacityEstimates += 1 }
            spreadsStale = true
            let k = Int(cells.inPlace(i).capacityEstimates)
            if k <= CellHealthMonitor.baselineEstimates { cells[i].capacityBaseline += (ratio - cells[i].capacityBaseline) / Float(k) }
        }
    }

    /// A voltage channel that jumps at rest against the others (an offset appearing) or is much
    /// noisier than they are is suspect, for good: its cell leaves the ranking.
    mutating func checkVoltageChannels(_ readings: borrowing @_addressable CellMonitorReadings, resting: Bool) {
        var relative = PerCell<Float>(filler: 0)
        for i in 0..<cells.count { relative.append(readings.cellVoltages[i].validValue.map { Float(Int($0.rawValue)) } ?? .nan) }
        guard let median = CellHealthMonitor.median(relative, excluding: CellSet()) else { return }
        var jitters = PerCell<Float>(filler: 0)
        for i in 0..<cells.count {
            let r = relative[i] - median
            let previous = cells.inPlace(i).previousRelative
            cells[i].previousRelative = r
            jitters.append(cells.inPlace(i).jitter)
            guard resting, r.isFinite, previous.isFinite else { continue }
            let jump = r - previous < 0 ? previous - r : r - previous
            if jump >= 8 { markSuspect(i) }                           // mV in one second, at rest
            cells[i].jitter += (jump - cells[i].jitter) / 600
        }
        guard resting, let typical = CellHealthMonitor.median(jitters, excluding: CellSet()) else { return }
        for i in 0..<cells.count where cells.inPlace(i).jitter > 2 && cells.inPlace(i).jitter > 4 * typical { markSuspect(i) }
    }

    mutating func markSuspect(_ i: Int) {
        cells[i].sensorSuspect = true
        suspectCells.insert(i)
        history.suspectChannels.insert(i)
        spreadsStale = true
    }

    /// Thermal excess per sensor (its reading against the others' median, beyond what the last
    /// minute's load explains), and sensors stuck while the others move.
    mutating func checkTemperatures(_ readings: borrowing @_addressable CellMonitorReadings, seconds dt: Float) {
        let n = min(readings.temperatures.count, sensorCells.count)
        guard n >= 3 else { return }
        var values = PerCell<Float>(filler: 0)
        for s in 0..<n {
            values.append(readings.temperatures[s].validValue.map { Float(Int($0.rawValue)) / 10 } ?? .nan)
        }
        var others = suspectTemperatureSensors
        guard let median = CellHealthMonitor.median(values, excluding: others) else { return }
        // Each sensor's warming over the last second, and the others' median of it.
        var rises = PerCell<Float>(filler: 0)
        for s in 0..<n { rises.append(values[s] - CellHealthMonitor.celsius(previousTemperatures[s])) }
        let medianRise = CellHealthMonitor.median(rises, excluding: others) ?? 0
        let allowed = HealthConfiguration.thermalSpreadKelvin + HealthConfiguration.thermalSpreadPerCRateSquared * loadSquared
        for s in 0..<n {
            let t = values[s]
            let reading = readings.temperatures[s].validValue.map { $0.rawValue } ?? CellHealthMonitor.none
            if reading != CellHealthMonitor.none && previousTemperatures[s] != CellHealthMonitor.none {
                let stuck = stuckSeconds[s]
                stuckSeconds[s] = reading != previousTemperatures[s] ? 0 : stuck < 60_000 ? stuck &+ UInt16(truncatingIfNeeded: Int(dt)) : stuck
            }
            previousTemperatures[s] = reading
            // Stuck for an hour while the pack's median moved by more than 2 K away from it.
            if stuckSeconds[s] >= 3_600 && t.isFinite && (t - median > 2 || median - t > 2) { others.insert(s) }
            let cell = Int(sensorCells[s])
            guard cell < cells.count, t.isFinite, !others.contains(s) else { continue }
            let excess = t - median - allowed
            cells[cell].thermalExcessKelvin += ((excess > 0 ? excess : 0) - cells[cell].thermalExcessKelvin) * min(1, dt / 60)
            // Averaged signed (noise and 0.1 K steps cancel), judged by its positive part.
            let rise = rises[s].isFinite ? (rises[s] - medianRise) * 60 / dt : 0
            cells[cell].thermalRiseKelvinPerMinute += (rise - cells[cell].thermalRiseKelvinPerMinute) * min(1, dt / 120)
        }
        suspectTemperatureSensors = others
    }

    /// Scores, reasons and alert levels with hysteresis (up after 3 s above a level's threshold,
    /// down after 60 s below it less 10 points). A feature's severity is the smaller of its size
    /// against its alert value and its robust z-score (distance from the cells' median in MADs)
    /// against `zAlert`: a cell must stand out from its pack by a meaningful amount.
    mutating func score() {
        var highest = AlertLevel.none, thermal = false
        if spreadsStale { updateSpreads() }
        levelChanged = CellSet()
        let leakSpread = self.leakSpread.value, capacitySpread = self.capacitySpread.value, resistanceSpread = self.resistanceSpread.value
        for i in 0..<cells.count {
            guard !cells.inPlace(i).sensorSuspect else {
                cells[i].score = 0; cells[i].reason = .none; cells[i].level = .none
                continue
            }
            var worst: Float = 0, reason = RiskReason.none
            func consider(_ severity: Float, _ r: RiskReason) { if severity > worst { worst = severity; reason = r } }
            func robust(_ size: Float, _ deviation: Float, _ spread: (median: Float, mad: Float)?) -> Float {
                guard let spread else { return size }
                let z = deviation / (1.4826 * spread.mad) / CellHealthMonitor.zAlert
                return min(size, z)
            }
            let h = cells.inPlace(i)
            if h.leakageEstimates > 0 {
                consider(robust(h.leakageMilliamperes / HealthConfiguration.leakageAlertMilliamperes, h.leakageMilliamperes - (leakSpread?.median ?? 0), leakSpread), .leakage)
            }
            if h.capacityEstimates > 0 {
                consider(robust((1 - h.capacityRatio) / HealthConfiguration.capacityAlert, (capacitySpread?.median ?? 1) - h.capacityRatio, capacitySpread), .capacityFade)
            }
            if h.capacityEstimates > CellHealthMonitor.baselineEstimates && h.capacityBaseline > 0 {
                consider((1 - h.capacityRatio / h.capacityBaseline) / HealthConfiguration.capacityChangeAlert, .capacityFade)
            }
            if h.resistanceSteps >= 20 {
                consider(robust((h.resistanceRatio - 1) / HealthConfiguration.resistanceAlert, h.resistanceRatio - (resistanceSpread?.median ?? 1), resistanceSpread), .resistanceGrowth)
            }
            if Int(h.resistanceSteps) > CellHealthMonitor.baselineSteps && h.resistanceBaseline > 0 {
                consider((h.resistanceRatio / h.resistanceBaseline - 1) / HealthConfiguration.resistanceChangeAlert, .resistanceGrowth)
            }
            let beyond = h.thermalRiseKelvinPerMinute - HealthConfiguration.thermalRiseDeadBandKelvinPerMinute
            let rising = beyond > 0 ? beyond : 0
            consider(max(h.thermalExcessKelvin / HealthConfiguration.thermalAlertKelvin, rising / HealthConfiguration.thermalRiseAlertKelvinPerMinute), .thermalAnomaly)
            var s = 50 * worst
            if reason == .leakage && h.leakageTrend > 0 { s += min(10, 10 * h.leakageTrend / HealthConfiguration.leakageAlertMilliamperes) }
            s = s < 0 ? 0 : (s > 100 ? 100 : s)
            cells[i].score = s
            cells[i].reason = s > 0 ? reason : .none
            let target: AlertLevel = s >= 90 ? .critical : s >= 70 ? .warning : s >= 50 ? .watch : .none
            let current = cells.inPlace(i).level
            if target > current {
                cells[i].above += 1
                cells[i].below = 0
                if cells[i].above >= 3 { cells[i].level = AlertLevel(rawValue: current.rawValue + 1) ?? current; cells[i].above = 0 }
            } else {
                cells[i].above = 0
                let floor: Float = current == .critical ? 80 : current == .warning ? 60 : current == .watch ? 40 : 0
                if current != .none && s < floor {
                    cells[i].below += 1
                    if cells[i].below >= 60 { cells[i].level = AlertLevel(rawValue: current.rawValue - 1) ?? .none; cells[i].below = 0 }
                } else {
                    cells[i].below = 0
                }
            }
            let level = cells.inPlace(i).level
            if level != current { levelChanged.insert(i) }
            if level > current {
                if level == .warning {
                    history.everWarning.insert(i)
                    if history.warnings < UInt16.max { history.warnings += 1 }
                }
                if level > history.highestLevel { history.highestLevel = level }
            }
            if level > highest { highest = level }
            if cells.inPlace(i).level >= .warning && cells.inPlace(i).reason == .thermalAnomaly { thermal = true }
        }
        highestLevel = highest
        thermalWarning = thermal
        rank()
    }

    /// The spreads of the features the cells have estimates of (channels not suspect).
    mutating func updateSpreads() {
        // One loop for the three features (compact code: flash is tight on the Cortex-M).
        var values = PerCell<Float>(filler: 0)
        for feature in 0..<3 {
            values.removeAll()
            for i in 0..<cells.count {
                let h = cells.inPlace(i)
                values.append(feature == 0 ? (h.leakageEstimates > 0 ? h.leakageMilliamperes : .nan)
                              : feature == 1 ? (h.capacityEstimates > 0 ? h.capacityRatio : .nan)
                              : (h.resistanceSteps >= 20 ? h.resistanceRatio : .nan))
            }
            let spread = Spread(CellHealthMonitor.spread(values, excluding: suspectCells, floor: feature == 0 ? 0.5 : feature == 1 ? 0.002 : 0.01))
            if feature == 0 { leakSpread = spread } else if feature == 1 { capacitySpread = spread } else { resistanceSpread = spread }
        }
        spreadsStale = false
    }

    /// `ranked`: the three highest scores above zero among the channels not suspect.
    mutating func rank() {
        ranked.removeAll()
        var taken = suspectCells
        for _ in 0..<3 {
            var best = -1
            var bestScore: Float = 0
            for i in 0..<cells.count where !taken.contains(i) && cells.inPlace(i).score > bestScore {
                best = i
                bestScore = cells.inPlace(i).score
            }
            guard best >= 0 else { return }
            taken.insert(best)
            ranked.append(UInt8(truncatingIfNeeded: best))
        }
    }

    /// A stored reading that is not there.
    static let none = Int16.min

    /// 0.1 °C as °C (NaN for `none`).
    static func celsius(_ deciCelsius: Int16) -> Float { deciCelsius == none ? .nan : Float(Int(deciCelsius)) / 10 }

    /// How many resistance steps and capacity estimates a cell's own baselines are learned over.
    static let baselineSteps = 500
    static let baselineEstimates = 4

    /// A robust z-score this many MADs from the median scores a severity of 1.
    static let zAlert: Float = 5

    /// The median and the median absolute deviation (at least `floor`) of the finite values not
    /// in `excluding`; nil with fewer than 4 of them (no spread to speak of).
    static func spread(_ values: borrowing @_addressable PerCell<Float>, excluding: CellSet, floor: Float) -> (median: Float, mad: Float)? {
        var n = 0
        for i in 0..<values.count where values[i].isFinite && !excluding.contains(i) { n += 1 }
        guard n >= 4, let m = median(values, excluding: excluding) else { return nil }
        var deviations = PerCell<Float>(filler: 0)
        for i in 0..<values.count { deviations.append(values[i].isFinite ? (values[i] < m ? m - values[i] : values[i] - m) : .nan) }
        let mad = median(deviations, excluding: excluding) ?? floor
        return (m, mad > floor ? mad : floor)
    }

    /// The median of the finite values not in `excluding` (nil when none), by insertion sort.
    /// The values are walked by `forEachElement` and the sorted ones read through `inPlace`: on
    /// the host's optimised build, indexing the lists copied them whole for every read (the
    /// fleet benchmark spent a quarter of its time here).
    static func median(_ values: borrowing @_addressable PerCell<Float>, excluding: CellSet) -> Float? {
        var sorted = PerCell<Float>(filler: 0)
        values.forEachElement { i, value in
            guard value.isFinite && !excluding.contains(i) else { return }
            sorted.append(value)
            var k = sorted.count - 1
            while k > 0 {
                let previous = sorted.inPlace(k - 1)
                guard previous > value else { break }
                sorted[k] = previous
                k -= 1
            }
            sorted[k] = value
        }
        guard sorted.count > 0 else { return nil }
        let m = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted.inPlace(m) : (sorted.inPlace(m - 1) + sorted.inPlace(m)) / 2
    }
}
