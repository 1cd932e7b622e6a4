// Fault detection: every tick, each limit and plausibility rule of the protection table is
// checked against the validated measurements, debounced, and reported by tier.
import HAL

/// "No instant" for the trackers' timestamps (cheaper than `Instant?` in RAM).
let never = Int64.min

/// Debounce and tier state of one tiered limit. The debounce is an up/down counter (as in
/// foxBMS's diagnosis module): time spent beyond a threshold counts up, time inside counts down
/// (to zero); the tier is confirmed when the count reaches the tier's debounce. A single noisy
/// sample inside the limit therefore does not restart a slow crossing, and a short spike beyond
/// it does not confirm.
struct TieredTracker: Sendable {
    var score: (Int64, Int64, Int64) = (0, 0, 0)                  // µs beyond, per tier
    var confirmed: (Bool, Bool, Bool) = (false, false, false)
    var lastUpdate = never
    /// When the maximum-safety tier was confirmed (the reaction delay runs from there).
    var safetyConfirmedAt = never
    /// Every score 0 and no tier confirmed (kept by `advance`, the only place they change): the
    /// common case, which `update` tells from this one flag.
    var isIdle = true
    /// A tier is confirmed or a trip is pending: the tracker adds to the status (kept where they
    /// change, so that `FaultMonitor.conclude` passes a quiet tracker with one test).
    var reports = false

    var tier: Tier? {
        confirmed.2 ? .maximumSafety : (confirmed.1 ? .recommendedSafety : (confirmed.0 ? .maximumOperating : nil))
    }

    /// Feeds one value (nil: the limit does not apply now, e.g. a charge limit while discharging).
    /// Inlined: every 1 ms it runs for eight limits, almost always on the first `return`.
    @inline(__always)
    mutating func update(_ value: Int32?, _ limit: borrowing @_addressable TieredLimit, now: Instant, maximumStep: Int64 = 100_000) {
        let t = now.microsecondsSinceOrigin
        let previous = lastUpdate
        lastUpdate = t
        // The common cases — inside every threshold, or the limit not applicable, with nothing
        // counted or confirmed: nothing to do.
        if isIdle {
            guard let value, limit.violates(value, limit.maximumOperating) else { return }
        }
        advance(value, limit, now: t, previous: previous, maximumStep: maximumStep)
    }

    /// `update` beyond the common case: the three tiers' counts and confirmations.
    @inline(never)
    mutating func advance(_ value: Int32?, _ limit: borrowing @_addressable TieredLimit, now t: Int64, previous: Int64, maximumStep: Int64) {
        // The time this sample stands for: since the previous one (none for the first), at most
        // `maximumStep` (the caller's period plus margin: a gap in the calls is not time spent
        // beyond the limit).
        let elapsed = previous == never ? 0 : min(max(0, t - previous), maximumStep)
        step(&score.0, &confirmed.0, value, limit.maximumOperating, limit.debounceOperating, limit, elapsed)
        step(&score.1, &confirmed.1, value, limit.recommendedSafety, limit.debounceRecommended, limit, elapsed)
        let wasSafety = confirmed.2
        step(&score.2, &confirmed.2, value, limit.maximumSafety, limit.debounceSafety, limit, elapsed)
        // The reaction delay runs from the first confirmation; re-confirming (a value flapping
        // around the threshold) does not postpone the trip.
        if confirmed.2 && !wasSafety && safetyConfirmedAt == never { safetyConfirmedAt = t }
        isIdle = score.0 == 0 && score.1 == 0 && score.2 == 0 && !confirmed.0 && !confirmed.1 && !confirmed.2
        reports = confirmed.0 || confirmed.1 || confirmed.2 || safetyConfirmedAt != never
    }

    @inline(__always)
    func step(_ score: inout Int64, _ confirmed: inout Bool, _ value: Int32?, _ threshold: Int32, _ debounce: Microseconds,
              _ limit: borrowing @_addressable TieredLimit, _ elapsed: Int64) {
        // Not applicable now (the other window: e.g. a sample at the rest current while charging):
        // no tier, and the count runs down as if inside — one such sample does not wipe it.
        guard let value else { score = max(0, score - elapsed); confirmed = false; return }
        if limit.violates(value, threshold) {
            score = min(score + elapsed, debounce.rawValue)
            if score >= debounce.rawValue { confirmed = true }
        } else {
            score = max(0, score - elapsed)
            if limit.clears(value, threshold) { confirmed = false }
        }
    }

    /// Whether a confirmed maximum-safety violation has waited out its reaction delay. Once
    /// confirmed it trips even if the value recovers during the delay.
    func tripped(_ limit: borrowing @_addressable TieredLimit, now: Instant) -> Bool {
        safetyConfirmedAt != never && now.microsecondsSinceOrigin - safetyConfirmedAt >= limit.reactionDelay.rawValue
    }

    /// Forgets a trip once the state machine has taken it (the tier itself stays while violated).
    mutating func acknowledgeTrip() {
        if !confirmed.2 { safetyConfirmedAt = never }
        reports = confirmed.0 || confirmed.1 || confirmed.2 || safetyConfirmedAt != never
    }
}

/// Debounce state of one plausibility rule.
struct PlausibilityTracker: Sendable {
    var since = never
    var confirmed = false
    var confirmedAt = never
    /// Confirmed, or a trip pending: the rule adds to the status (kept where they change).
    var reports = false

    /// Inlined: every 1 ms it runs for seven rules, almost always with the condition false and
    /// nothing pending, where it changes nothing.
    @inline(__always)
    mutating func update(_ condition: Bool, _ rule: borrowing @_addressable PlausibilityRule, now: Instant) {
        if !condition && since == never && !confirmed { return }
        advance(condition, rule, now: now)
    }

    @inline(never)
    mutating func advance(_ condition: Bool, _ rule: borrowing @_addressable PlausibilityRule, now: Instant) {
        let t = now.microsecondsSinceOrigin
        if condition {
            if since == never { since = t }
            if !confirmed && t - since >= rule.debounce.rawValue { confirmed = true; confirmedAt = t }
        } else {
            since = never
            confirmed = false
        }
        reports = confirmed || confirmedAt != never
    }

    func tripped(_ rule: borrowing @_addressable PlausibilityRule, now: Instant) -> Bool {
        rule.tier == .maximumSafety && confirmedAt != never && now.microsecondsSinceOrigin - confirmedAt >= rule.reactionDelay.rawValue
    }

    mutating func acknowledgeTrip() {
        if !confirmed { confirmedAt = never }
        reports = confirmed || confirmedAt != never
    }
}

/// What the fault monitor concludes this tick.
public struct FaultStatus: Equatable, Sendable {
    /// Faults confirmed at the maximum-operating tier or above (warnings).
    public var warnings = FaultSet()
    /// Faults confirmed at the recommended-safety tier or above (derate).
    public var derating = FaultSet()
    /// Faults confirmed at the maximum-safety tier.
    public var safety = FaultSet()
    /// Maximum-safety faults whose reaction delay has elapsed: the contactors must open.
    public var tripped = FaultSet()
    public init() {}
}

/// Checks every rule of the protection table against the validated measurements.
public struct FaultMonitor: Sendable {
    var overvoltage = TieredTracker(), undervoltage = TieredTracker()
    var overtemperatureCharge = TieredTracker(), overtemperatureDischarge = TieredTracker()
    var undertemperatureCharge = TieredTracker(), undertemperatureDischarge = TieredTracker()
    var overcurrentCharge = TieredTracker(), overcurrentDischarge = TieredTracker()
    var riseRate = TieredTracker()
    var implausible = PlausibilityTracker(), stale = PlausibilityTracker(), temperatureSensor = PlausibilityTracker()
    var allTemperatureSensors = PlausibilityTracker()
    var current = PlausibilityTracker(), sumOfCells = PlausibilityTracker(), stuck = PlausibilityTracker()
    /// Temperature history for the rate of rise: one sample per second per sensor (deci-°C).
    var history = FixedList<21, PerTemperatureSensor<Int16>>(filler: PerTemperatureSensor(filler: 0))
    /// Stuck-channel detection: each cell's last value and since when it has not changed, and
    /// since when the current has been above the stuck-detection current.
    var lastValue = PerCell<Int32>(filler: 0)
    var unchangedSince = PerCell<Int64>(filler: never)
    var flowingSince = never
    /// Cells whose readings are suspect (a stuck channel): balancing leaves them alone.
    public private(set) var suspectCells = CellSet()
    /// The fastest temperature rise over the window (deci-K per minute), for reports.
    public private(set) var fastestRise: Int32 = 0
    /// The sum of the cell voltages less the stack voltage at the last evaluation (nil: a cell
    /// or the stack not valid), for the early warning's drifting-channel check.
    public private(set) var sumOfCellsDifference: Millivolts? = nil
    public private(set) var status = FaultStatus()

    init(cellCount: Int, temperatureSensorCount: Int) {
        reset(cellCount: cellCount, temperatureSensorCount: temperatureSensorCount)
    }

    /// Sets the monitor up for the pack: nothing seen yet. In place, so that a loop in static
    /// storage does not build the 1.6–1.8 KB monitor in a stack frame first.
    mutating func reset(cellCount: Int, temperatureSensorCount: Int) {
        overvoltage = TieredTracker(); undervoltage = TieredTracker()
        overtemperatureCharge = TieredTracker(); overtemperatureDischarge = TieredTracker()
        undertemperatureCharge = TieredTracker(); undertemperatureDischarge = TieredTracker()
        overcurrentCharge = TieredTracker(); overcurrentDischarge = TieredTracker()
        riseRate = TieredTracker()
        implausible = PlausibilityTracker(); stale = PlausibilityTracker(); temperatureSensor = PlausibilityTracker()
        allTemperatureSensors = PlausibilityTracker()
        current = PlausibilityTracker(); sumOfCells = PlausibilityTracker(); stuck = PlausibilityTracker()
        sumOfCellsDifference = nil
        history.removeAll()
        lastValue = PerCell(repeating: 0, count: cellCount)
        unchangedSince = PerCell(repeating: never, count: cellCount)
        flowingSince = never
        suspectCells = CellSet()
        fastestRise = 0
        status = FaultStatus()
    }

    /// The 1 ms checks: cell voltages, currents, temperatures (from the latest 100 ms statistics)
    /// and the plausibility rules.
    mutating func evaluate(now: Instant, measurements m: inout Measurements, cells: borrowing @_addressable PackStatistics<Millivolts>?,
                           temperatures: borrowing @_addressable PackStatistics<DeciCelsius>?,
                           configuration c: borrowing @_addressable PackConfiguration) {
        overvoltage.update(cells?.maximum.rawValue, c.protection.cellOvervoltage, now: now)
        undervoltage.update(cells?.minimum.rawValue, c.protection.cellUndervoltage, now: now)
        let current = m.pack.current.validValue
        let restCurrent = c.restCurrent       // (a borrowed parameter cannot be captured by the closure)
        let charging = current.map { $0 > restCurrent } ?? false
        let hottest = temperatures.map { Int32($0.maximum.rawValue) }, coldest = temperatures.map { Int32($0.minimum.rawValue) }
        overtemperatureCharge.update(charging ? hottest : nil, c.protection.overtemperatureCharge, now: now)
        overtemperatureDischarge.update(charging ? nil : hottest, c.protection.overtemperatureDischarge, now: now)
        undertemperatureCharge.update(charging ? coldest : nil, c.protection.undertemperatureCharge, now: now)
        undertemperatureDischarge.update(charging ? nil : coldest, c.protection.undertemperatureDischarge, now: now)
        overcurrentCharge.update(current?.rawValue, c.protection.overcurrentCharge, now: now)
        overcurrentDischarge.update(current?.rawValue, c.protection.overcurrentDischarge, now: now)

        // Plausibility. Channel problems and staleness are told apart by status (counted by
        // validation).
        implausible.update(m.badCellChannels > 0, c.protection.cellVoltageImplausible, now: now)
        stale.update(m.staleCellChannels > 0, c.protection.cellVoltageStale, now: now)
        let badSensors = m.invalidTemperatureSensors
        let sensors = m.cells.temperatures.count
        temperatureSensor.update(badSensors > 0, c.protection.temperatureSensorFault, now: now)
        allTemperatureSensors.update(sensors > 0 && 2 * badSensors > sensors,
                                     PlausibilityRule(tier: .maximumSafety, debounce: c.protection.temperatureSensorFault.debounce,
                                                      reactionDelay: c.protection.temperatureSensorFault.reactionDelay), now: now)
        self.current.update(current == nil, c.protection.currentMeasurementFault, now: now)
        var mismatch = false
        sumOfCellsDifference = FaultMonitor.sumOfCellsDifference(cells, stack: m.pack.packVoltage.validValue)
        if let difference = sumOfCellsDifference?.rawValue {
            let allowance = c.protection.sumOfCellsTolerance.rawValue
                + c.protection.sumOfCellsTolerancePerAmpere.rawValue * ((current?.magnitude.rawValue ?? 0) / 1_000)
            mismatch = difference > allowance || difference < -allowance
        }
        sumOfCells.update(mismatch, c.protection.sumOfCellsMismatch, now: now)
        conclude(now: now, configuration: c)
    }

    /// The 100 ms checks: stuck cell-voltage channels.
    /// The sum of the cell voltages less the stack voltage measured apart from them (nil: a cell or
    /// the stack not valid): what the sum-of-cells check compares, and what the early warning's
    /// drifting-channel check follows (the loop's and the fleet benchmark's).
    public static func sumOfCellsDifference(_ cells: borrowing @_addressable PackStatistics<Millivolts>?, stack: Millivolts?) -> Millivolts? {
        guard let cells, cells.invalidCount == 0, let stack else { return nil }
        return Millivolts(cells.sum - stack.rawValue)
    }

    mutating func evaluateStuck(now: Instant, measurements m: inout Measurements, configuration c: borrowing @_addressable PackConfiguration) {
        let p = c.protection, t = now.microsecondsSinceOrigin
        let flowing = m.pack.current.validValue.map { $0.magnitude >= p.stuckCurrent } ?? false
        if !flowing { flowingSince = never } else if flowingSince == never { flowingSince = t }
        var stuckNow = CellSet()
        for i in m.cells.cellVoltages.indices {
            let reading = m.cellVoltage(i)
            guard reading.isValid else { unchangedSince[i] = never; continue }
            if reading.value.rawValue != lastValue[i] || unchangedSince[i] == never {
                lastValue[i] = reading.value.rawValue
                unchangedSince[i] = t
            } else if flowingSince != never && t - max(unchangedSince[i], flowingSince) >= p.stuckTime.rawValue {
                stuckNow.insert(i)
            }
        }
        // A stuck channel stays suspect until its reading moves again.
        for i in m.cells.cellVoltages.indices where suspectCells.contains(i) && unchangedSince[i] == t { suspectCells.remove(i) }
        suspectCells.bits |= stuckNow.bits
        stuck.update(!stuckNow.isEmpty, p.stuckCellVoltage, now: now)
    }

    /// The 1 s checks: temperature rate of rise over the configured window.
    mutating func evaluateRise(now: Instant, measurements m: inout Measurements, configuration c: borrowing @_addressable PackConfiguration) {
        var sample = PerTemperatureSensor<Int16>(repeating: Int16.min, count: m.cells.temperatures.count)
        for i in m.cells.temperatures.indices where m.temperature(i).isValid {
            sample[i] = m.temperature(i).value.rawValue
        }
        let windowSeconds = Int32(saturating: c.protection.riseWindow.rawValue) / 1_000_000   // validated: 1...20 s
        let window = Int(windowSeconds)
        if history.count == history.capacityValue || history.count > window {
            // Drop the oldest sample (a shift over at most 21 small lists, once a second).
            for k in 1..<history.count { history[k - 1] = history[k] }
            history.removeLast()
        }
        history.append(sample)
        var fastest: Int32? = nil
        if history.count > window {
            let oldest = history[0]
            for i in sample.indices where sample[i] != Int16.min && oldest[i] != Int16.min {
                let rise = (Int32(sample[i]) - Int32(oldest[i])) * 60 / windowSeconds
                if fastest == nil || rise > fastest! { fastest = rise }
            }
        }
        fastestRise = fastest ?? 0
        riseRate.update(fastest, c.protection.temperatureRiseRate, now: now, maximumStep: 1_100_000)
    }

    /// Sets `status` from the trackers. (Mutating so that it runs on `self` in place: a
    /// non-mutating method on this 1.9 KB struct copied it on every tick; the trackers and the
    /// limits go to `tiered` and `rule` by address for the same reason.)
    mutating func conclude(now: Instant, configuration c: borrowing @_addressable PackConfiguration) {
        var s = FaultStatus()
        FaultMonitor.tiered(.cellOvervoltage, overvoltage, c.protection.cellOvervoltage, now, &s)
        FaultMonitor.tiered(.cellUndervoltage, undervoltage, c.protection.cellUndervoltage, now, &s)
        FaultMonitor.tiered(.overtemperatureCharge, overtemperatureCharge, c.protection.overtemperatureCharge, now, &s)
        FaultMonitor.tiered(.overtemperatureDischarge, overtemperatureDischarge, c.protection.overtemperatureDischarge, now, &s)
        FaultMonitor.tiered(.undertemperatureCharge, undertemperatureCharge, c.protection.undertemperatureCharge, now, &s)
        FaultMonitor.tiered(.undertemperatureDischarge, undertemperatureDischarge, c.protection.undertemperatureDischarge, now, &s)
        FaultMonitor.tiered(.overcurrentCharge, overcurrentCharge, c.protection.overcurrentCharge, now, &s)
        FaultMonitor.tiered(.overcurrentDischarge, overcurrentDischarge, c.protection.overcurrentDischarge, now, &s)
        FaultMonitor.tiered(.temperatureRiseRate, riseRate, c.protection.temperatureRiseRate, now, &s)
        FaultMonitor.rule(.cellVoltageImplausible, implausible, c.protection.cellVoltageImplausible, now, &s)
        FaultMonitor.rule(.cellVoltageStale, stale, c.protection.cellVoltageStale, now, &s)
        FaultMonitor.rule(.temperatureSensorFault, temperatureSensor, c.protection.temperatureSensorFault, now, &s)
        let all = PlausibilityRule(tier: .maximumSafety, debounce: c.protection.temperatureSensorFault.debounce,
                                   reactionDelay: c.protection.temperatureSensorFault.reactionDelay)
        FaultMonitor.rule(.temperatureSensorFault, allTemperatureSensors, all, now, &s)
        FaultMonitor.rule(.currentMeasurementFault, current, c.protection.currentMeasurementFault, now, &s)
        FaultMonitor.rule(.sumOfCellsMismatch, sumOfCells, c.protection.sumOfCellsMismatch, now, &s)
        FaultMonitor.rule(.stuckCellVoltage, stuck, c.protection.stuckCellVoltage, now, &s)
        status = s
    }

    /// What a tiered limit's tracker adds to the status: nothing without a confirmed tier or a
    /// pending trip (the common case, checked inline), else `addTiered`.
    @inline(__always)
    static func tiered(_ id: FaultID, _ tracker: borrowing @_addressable TieredTracker, _ limit: borrowing @_addressable TieredLimit,
                       _ now: Instant, _ s: inout FaultStatus) {
        if !tracker.reports { return }
        addTiered(id, tracker, limit, now, &s)
    }

    @inline(never)
    static func addTiered(_ id: FaultID, _ tracker: borrowing @_addressable TieredTracker, _ limit: borrowing @_addressable TieredLimit,
                          _ now: Instant, _ s: inout FaultStatus) {
        if tracker.tripped(limit, now: now) { s.tripped.insert(id); s.safety.insert(id) }
        guard let tier = tracker.tier else { return }
        s.warnings.insert(id)
        if tier >= .recommendedSafety { s.derating.insert(id) }
        if tier == .maximumSafety { s.safety.insert(id) }
        if tracker.tripped(limit, now: now) { s.tripped.insert(id) }
    }

    /// What a plausibility rule's tracker adds to the status: nothing unless confirmed or with a
    /// trip pending (the common case, checked inline), else `addRule`.
    @inline(__always)
    static func rule(_ id: FaultID, _ tracker: borrowing @_addressable PlausibilityTracker, _ rule: borrowing @_addressable PlausibilityRule,
                     _ now: Instant, _ s: inout FaultStatus) {
        if !tracker.reports { return }
        addRule(id, tracker, rule, now, &s)
    }

    @inline(never)
    static func addRule(_ id: FaultID, _ tracker: borrowing @_addressable PlausibilityTracker, _ rule: borrowing @_addressable PlausibilityRule,
                        _ now: Instant, _ s: inout FaultStatus) {
        guard tracker.confirmed || tracker.tripped(rule, now: now) else { return }
        s.warnings.insert(id)
        if rule.tier >= .recommendedSafety { s.derating.insert(id) }
        if rule.tier == .maximumSafety { s.safety.insert(id) }
        if tracker.tripped(rule, now: now) { s.tripped.insert(id) }
    }

    /// The state machine took this tick's trips: a trip is acted on once.
    mutating func acknowledgeTrips() {
        overvoltage.acknowledgeTrip(); undervoltage.acknowledgeTrip()
        overtemperatureCharge.acknowledgeTrip(); overtemperatureDischarge.acknowledgeTrip()
        undertemperatureCharge.acknowledgeTrip(); undertemperatureDischarge.acknowledgeTrip()
        overcurrentCharge.acknowledgeTrip(); overcurrentDischarge.acknowledgeTrip(); riseRate.acknowledgeTrip()
        implausible.acknowledgeTrip(); stale.acknowledgeTrip(); temperatureSensor.acknowledgeTrip()
        allTemperatureSensors.acknowledgeTrip(); current.acknowledgeTrip(); sumOfCells.acknowledgeTrip(); stuck.acknowledgeTrip()
    }
}
