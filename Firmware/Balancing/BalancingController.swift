// Balancing decisions: which cells bleed (passive) or give charge (active), every 100 ms.
import HAL

/// Balancing policy.
public struct BalancingConfiguration: Sendable {
    /// Voltage mode (used until a charge target exists): a cell more than `startThreshold` above
    /// the lowest starts bleeding, and stops within `stopThreshold` of it.
    public var startThreshold: Millivolts
    public var stopThreshold: Millivolts
    /// Balancing runs only with every cell at or above this voltage, and no sensor above this
    /// temperature.
    public var minimumCellVoltage: Millivolts
    public var maximumTemperature: DeciCelsius
    /// After this long at rest the cells' rest voltages give charge targets: each cell bleeds its
    /// excess charge over the emptiest cell (from the OCV curve and the rated capacity).
    public var restForTargets: Microseconds
    /// Voltage mode at rest starts after this long at rest (a stop at a traffic light is not a
    /// rest: its voltages still relax).
    public var restForVoltageMode: Microseconds = .seconds(60)
    /// A charge target below this is not worth bleeding (mAs).
    public var minimumTarget: MilliampereSeconds
    /// At most this many channels at once (also limited by the front end), and at most this much
    /// bleed power in all (mW).
    public var maximumChannels: Int
    public var heatBudgetMilliwatts: Int32

    public init(startThreshold: Millivolts, stopThreshold: Millivolts, minimumCellVoltage: Millivolts, maximumTemperature: DeciCelsius,
                restForTargets: Microseconds, minimumTarget: MilliampereSeconds, maximumChannels: Int, heatBudgetMilliwatts: Int32) {
        self.startThreshold = startThreshold
        self.stopThreshold = stopThreshold
        self.minimumCellVoltage = minimumCellVoltage
        self.maximumTemperature = maximumTemperature
        self.restForTargets = restForTargets
        self.minimumTarget = minimumTarget
        self.maximumChannels = maximumChannels
        self.heatBudgetMilliwatts = heatBudgetMilliwatts
    }

    func validate() throws(ConfigurationError) {
        guard startThreshold > stopThreshold, stopThreshold >= .zero, restForTargets >= .zero, restForVoltageMode >= .zero, minimumTarget >= .zero,
              maximumChannels >= 0, maximumChannels <= maximumCellCount, heatBudgetMilliwatts >= 0 else {
            throw .balancingOutOfRange
        }
    }
}

public struct BalancingController: Sendable {
    /// The cells bleeding now.
    public private(set) var active = CellSet()
    /// Charge each cell still has to give (mAs); zero when no target.
    public private(set) var remaining: PerCell<Int32>
    /// Charge bled per cell since start (mAs), and in all.
    /// (`internal(set)` so that the estimator can be handed it `inout`, i.e. by address.)
    public internal(set) var bled: PerCell<Int32>
    public private(set) var bledTotal = MilliampereSeconds.zero
    var restSince = never
    /// The front end did not take the last command: send it again at the next decision.
    var resend = false
    var targetsTakenAt = never

    /// (Public for the fleet benchmark, which runs the early warning's stages at 1 s without the loop.)
    public init(cellCount: Int) {
        remaining = PerCell(repeating: 0, count: cellCount)
        bled = PerCell(repeating: 0, count: cellCount)
    }

    /// The lowest valid cell voltage outside `suspect`, or nil when there is none.
    func trustedMinimum(_ m: inout Measurements, suspect: CellSet) -> Millivolts? {
        var lowest: Millivolts? = nil
        for i in m.cells.cellVoltages.indices where m.cellVoltage(i).isValid && !suspect.contains(i) {
            let v = m.cellVoltage(i).value
            if lowest == nil || v < lowest! { lowest = v }
        }
        return lowest
    }

    /// The front end refused the last command: it is repeated at the next decision (until then the
    /// front end may still be bleeding what it had).
    mutating func commandFailed() { resend = true }

    /// Stage `balancing` (every 100 ms): decides the bleeding cells; returns the command when it
    /// changed (nil otherwise).
    public mutating func update(now: Instant, measurements m: inout Measurements, cells stats: borrowing @_addressable PackStatistics<Millivolts>?,
                                temperatures: borrowing @_addressable PackStatistics<DeciCelsius>?, faults: FaultStatus, suspect: CellSet,
                                capability: BalancingCapability,
                                configuration c: borrowing @_addressable PackConfiguration, dt: Microseconds) -> BalancingCommand? {
        let b = c.balancing, t = now.microsecondsSinceOrigin
        // Account what bled during the last interval.
        let bleedCurrent: Int32
        let channels: Int
        switch capability {
        case .none: bleedCurrent = 0; channels = 0
        case .passive(let n, let current), .active(let n, let current): bleedCurrent = current.rawValue; channels = min(n, b.maximumChannels)
        }
        // mA × µs / 10⁶ = mAs; in Float (no 64-bit division on 32-bit targets).
        let intervalCharge = Int32(Float(Int(bleedCurrent)) * Float(Int(dt.saturatedInt32)) / 1_000_000)
        for i in remaining.indices where active.contains(i) {
            remaining[i] = max(0, remaining[i] - intervalCharge)
            bled[i] &+= intervalCharge
            bledTotal = bledTotal + MilliampereSeconds(Int64(widening: intervalCharge))
        }

        let current = m.pack.current.validValue
        let restCurrent = c.restCurrent       // (a borrowed parameter cannot be captured by the closures)
        let atRest = current.map { $0.magnitude <= restCurrent } ?? false
        let charging = current.map { $0 > restCurrent } ?? false
        if !atRest { restSince = never } else if restSince == never { restSince = t }

        // Charge targets from rest voltages, once per rest.
        if atRest, restSince != never, t - restSince >= b.restForTargets.rawValue, targetsTakenAt < restSince,
           let stats, stats.invalidCount == 0 {
            let emptiest = c.openCircuitVoltage.stateOfCharge(atRestVoltage: trustedMinimum(&m, suspect: suspect) ?? stats.minimum)
            let capacity = Float(approximating: c.ratedCapacity.rawValue)
            for i in m.cells.cellVoltages.indices {
                let soc = c.openCircuitVoltage.stateOfCharge(atRestVoltage: m.cellVoltage(i).value)
                let excess = (soc - emptiest) * capacity
                remaining[i] = excess >= Float(approximating: b.minimumTarget.rawValue) ? Int32(excess) : 0
            }
            targetsTakenAt = t
        }

        // May balancing run at all?
        var allowed = (atRest || charging) && faults.derating.isEmpty && channels > 0
        if let stats { allowed = allowed && stats.minimum >= b.minimumCellVoltage && stats.invalidCount == 0 } else { allowed = false }
        if let temperatures, temperatures.maximum > b.maximumTemperature { allowed = false }

        var next = CellSet()
        if allowed, let stats {
            // Voltage differences tell charge differences only at rest or at a small charge
            // current (the CV tail, C/10 or less); at higher currents they mostly tell resistance.
            let tenthC = Float(approximating: c.ratedCapacity.rawValue) / 36_000            // mA
            let settled = atRest && restSince != never && t - restSince >= b.restForVoltageMode.rawValue
            let voltagesTellCharge = settled || (charging && (current.map { Float(Int($0.rawValue)) <= tenthC } ?? false))
            // The reference is the lowest cell whose reading is trusted (a channel frozen low must
            // not make the others bleed towards a value that is not real).
            let reference = (trustedMinimum(&m, suspect: suspect) ?? stats.minimum).rawValue
            var hasTargets = false
            for i in remaining.indices where remaining[i] > 0 { hasTargets = true }
            // Candidates by need: charge targets, or voltage above the lowest (with hysteresis).
            // Pick the neediest first, within the channel count and the heat budget.
            var budget = b.heatBudgetMilliwatts
            var picked = 0
            while picked < channels {
                var best = -1, bestNeed: Int32 = 0
                // Never a cell flagged faulty: invalid reading, stuck channel.
                for i in m.cells.cellVoltages.indices where m.cellVoltage(i).isValid && !next.contains(i)
                    && !suspect.contains(i) {
                    let above = m.cellVoltage(i).value.rawValue - reference
                    let need: Int32
                    if hasTargets {
                        need = remaining[i]
                    } else if !voltagesTellCharge {
                        need = 0
                    } else {
                        let threshold = active.contains(i) ? b.stopThreshold.rawValue : b.startThreshold.rawValue
                        need = above > threshold ? above : 0
                    }
                    if need > bestNeed { best = i; bestNeed = need }
                }
                guard best >= 0 else { break }
                let power = m.cellVoltage(best).value.rawValue * bleedCurrent / 1_000        // mW
                guard power <= budget else { break }
                budget -= power
                next.insert(best)
                picked += 1
            }
        }
        guard next != active || resend else { return nil }
        resend = false
        active = next
        return BalancingCommand(cells: next)
    }
}
