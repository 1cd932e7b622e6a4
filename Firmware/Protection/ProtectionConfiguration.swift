// Protection policy as data: three tiers per limit, with debounce and reaction delay per fault,
// and the plausibility rules. One table in the configuration; the code reads it.
import HAL

/// Which side of a threshold is the violation.
public enum LimitDirection: UInt8, Sendable {
    case above = 1
    case below = 2
}

/// Thresholds of one quantity for the three tiers, in the quantity's raw integer unit (mV, mA,
/// deci-°C, deci-K per minute), ordered in the guarding direction (for `.above`:
/// operating ≤ recommended ≤ maximum safety).
public struct TieredLimit: Sendable {
    public var direction: LimitDirection
    public var maximumOperating: Int32
    public var recommendedSafety: Int32
    public var maximumSafety: Int32
    /// A tier clears only when the value is back inside its threshold by this much.
    public var hysteresis: Int32
    /// How long a violation must last to be confirmed, per tier.
    public var debounceOperating: Microseconds
    public var debounceRecommended: Microseconds
    public var debounceSafety: Microseconds
    /// From a confirmed maximum-safety violation to the command to open the contactors.
    public var reactionDelay: Microseconds

    public init(_ direction: LimitDirection, operating: Int32, recommended: Int32, safety: Int32, hysteresis: Int32,
                debounceOperating: Microseconds, debounceRecommended: Microseconds, debounceSafety: Microseconds,
                reactionDelay: Microseconds) {
        self.direction = direction
        maximumOperating = operating
        recommendedSafety = recommended
        maximumSafety = safety
        self.hysteresis = hysteresis
        self.debounceOperating = debounceOperating
        self.debounceRecommended = debounceRecommended
        self.debounceSafety = debounceSafety
        self.reactionDelay = reactionDelay
    }

    /// The threshold of `tier`.
    @inline(__always) public func threshold(_ tier: Tier) -> Int32 {
        switch tier {
        case .maximumOperating: return maximumOperating
        case .recommendedSafety: return recommendedSafety
        case .maximumSafety: return maximumSafety
        }
    }

    @inline(__always) public func debounce(_ tier: Tier) -> Microseconds {
        switch tier {
        case .maximumOperating: return debounceOperating
        case .recommendedSafety: return debounceRecommended
        case .maximumSafety: return debounceSafety
        }
    }

    /// Whether `value` violates `threshold` (beyond it, not on it).
    @inline(__always) func violates(_ value: Int32, _ threshold: Int32) -> Bool {
        direction == .above ? value > threshold : value < threshold
    }

    /// Whether `value` is back inside `threshold` by the hysteresis.
    @inline(__always) func clears(_ value: Int32, _ threshold: Int32) -> Bool {
        direction == .above ? value <= threshold - hysteresis : value >= threshold + hysteresis
    }

    var isOrdered: Bool {
        let ordered = direction == .above
            ? maximumOperating <= recommendedSafety && recommendedSafety <= maximumSafety
            : maximumOperating >= recommendedSafety && recommendedSafety >= maximumSafety
        return ordered && hysteresis >= 0 && debounceOperating >= .zero && debounceRecommended >= .zero
            && debounceSafety >= .zero && reactionDelay >= .zero
    }
}

/// A plausibility rule: a condition that, confirmed for `debounce`, raises `tier`; a
/// maximum-safety one opens the contactors after `reactionDelay`.
public struct PlausibilityRule: Sendable {
    public var tier: Tier
    public var debounce: Microseconds
    public var reactionDelay: Microseconds
    public init(tier: Tier, debounce: Microseconds, reactionDelay: Microseconds) {
        self.tier = tier
        self.debounce = debounce
        self.reactionDelay = reactionDelay
    }
    var isValid: Bool { debounce >= .zero && reactionDelay >= .zero }
}

/// The whole protection table.
public struct ProtectionConfiguration: Sendable {
    /// Cell voltage (mV): over and under.
    public var cellOvervoltage: TieredLimit
    public var cellUndervoltage: TieredLimit
    /// Cell temperature (deci-°C) while charging (current above the rest current) and otherwise.
    public var overtemperatureCharge: TieredLimit
    public var overtemperatureDischarge: TieredLimit
    public var undertemperatureCharge: TieredLimit
    public var undertemperatureDischarge: TieredLimit
    /// Pack current (mA, positive = charging): charge above, discharge below (negative values).
    public var overcurrentCharge: TieredLimit
    public var overcurrentDischarge: TieredLimit
    /// Temperature rate of rise (deci-K per minute), the fastest sensor over `riseWindow` (1...20 s).
    public var temperatureRiseRate: TieredLimit
    public var riseWindow: Microseconds

    public var cellVoltageImplausible: PlausibilityRule
    public var cellVoltageStale: PlausibilityRule
    /// One temperature sensor faulty: this rule; more than half faulty: maximum safety.
    public var temperatureSensorFault: PlausibilityRule
    public var currentMeasurementFault: PlausibilityRule
    public var sumOfCellsMismatch: PlausibilityRule
    /// The largest sum-of-cells error accepted (mV), plus an allowance per ampere for busbar drops.
    public var sumOfCellsTolerance: Millivolts
    public var sumOfCellsTolerancePerAmpere: Millivolts
    public var stuckCellVoltage: PlausibilityRule
    /// A channel is stuck when unchanged for this long while at least `stuckCurrent` flowed all along.
    public var stuckTime: Microseconds
    public var stuckCurrent: Milliamperes

    public init(cellOvervoltage: TieredLimit, cellUndervoltage: TieredLimit, overtemperatureCharge: TieredLimit,
                overtemperatureDischarge: TieredLimit, undertemperatureCharge: TieredLimit, undertemperatureDischarge: TieredLimit,
                overcurrentCharge: TieredLimit, overcurrentDischarge: TieredLimit, temperatureRiseRate: TieredLimit,
                riseWindow: Microseconds, cellVoltageImplausible: PlausibilityRule, cellVoltageStale: PlausibilityRule,
                temperatureSensorFault: PlausibilityRule, currentMeasurementFault: PlausibilityRule,
                sumOfCellsMismatch: PlausibilityRule, sumOfCellsTolerance: Millivolts, sumOfCellsTolerancePerAmpere: Millivolts,
                stuckCellVoltage: PlausibilityRule, stuckTime: Microseconds, stuckCurrent: Milliamperes) {
        self.cellOvervoltage = cellOvervoltage
        self.cellUndervoltage = cellUndervoltage
        self.overtemperatureCharge = overtemperatureCharge
        self.overtemperatureDischarge = overtemperatureDischarge
        self.undertemperatureCharge = undertemperatureCharge
        self.undertemperatureDischarge = undertemperatureDischarge
        self.overcurrentCharge = overcurrentCharge
        self.overcurrentDischarge = overcurrentDischarge
        self.temperatureRiseRate = temperatureRiseRate
        self.riseWindow = riseWindow
        self.cellVoltageImplausible = cellVoltageImplausible
        self.cellVoltageStale = cellVoltageStale
        self.temperatureSensorFault = temperatureSensorFault
        self.currentMeasurementFault = currentMeasurementFault
        self.sumOfCellsMismatch = sumOfCellsMismatch
        self.sumOfCellsTolerance = sumOfCellsTolerance
        self.sumOfCellsTolerancePerAmpere = sumOfCellsTolerancePerAmpere
        self.stuckCellVoltage = stuckCellVoltage
        self.stuckTime = stuckTime
        self.stuckCurrent = stuckCurrent
    }

    /// The limit behind a tiered fault (nil for plausibility faults).
    public func limit(_ id: FaultID) -> TieredLimit? {
        switch id {
        case .cellOvervoltage: return cellOvervoltage
        case .cellUndervoltage: return cellUndervoltage
        case .overtemperatureCharge: return overtemperatureCharge
        case .overtemperatureDischarge: return overtemperatureDischarge
        case .undertemperatureCharge: return undertemperatureCharge
        case .undertemperatureDischarge: return undertemperatureDischarge
        case .overcurrentCharge: return overcurrentCharge
        case .overcurrentDischarge: return overcurrentDischarge
        case .temperatureRiseRate: return temperatureRiseRate
        case .cellVoltageImplausible, .cellVoltageStale, .temperatureSensorFault, .currentMeasurementFault, .sumOfCellsMismatch,
             .stuckCellVoltage, .contactorFeedback, .contactorWelded, .prechargeFailed:
            return nil
        }
    }

    /// The rule behind a plausibility fault (nil for tiered and contactor faults).
    public func rule(_ id: FaultID) -> PlausibilityRule? {
        switch id {
        case .cellVoltageImplausible: return cellVoltageImplausible
        case .cellVoltageStale: return cellVoltageStale
        case .temperatureSensorFault: return temperatureSensorFault
        case .currentMeasurementFault: return currentMeasurementFault
        case .sumOfCellsMismatch: return sumOfCellsMismatch
        case .stuckCellVoltage: return stuckCellVoltage
        case .cellOvervoltage, .cellUndervoltage, .overtemperatureCharge, .overtemperatureDischarge, .undertemperatureCharge,
             .undertemperatureDischarge, .overcurrentCharge, .overcurrentDischarge, .temperatureRiseRate, .contactorFeedback,
             .contactorWelded, .prechargeFailed:
            return nil
        }
    }

    @_addressableSelf func validate() throws(ConfigurationError) {
        // (No array literals here: they allocate, and this compiles without allocation.)
        guard cellOvervoltage.isOrdered, cellUndervoltage.isOrdered, overtemperatureCharge.isOrdered,
              overtemperatureDischarge.isOrdered, undertemperatureCharge.isOrdered, undertemperatureDischarge.isOrdered,
              overcurrentCharge.isOrdered, overcurrentDischarge.isOrdered, temperatureRiseRate.isOrdered else {
            throw .protectionLimitOutOfOrder
        }
        // The history holds 21 one-second samples, so the window is at most 20 s.
        guard riseWindow >= .seconds(1) && riseWindow <= .seconds(20) else { throw .protectionTimingOutOfRange }
        guard cellVoltageImplausible.isValid, cellVoltageStale.isValid, temperatureSensorFault.isValid,
              currentMeasurementFault.isValid, sumOfCellsMismatch.isValid, stuckCellVoltage.isValid else {
            throw .protectionTimingOutOfRange
        }
        guard sumOfCellsTolerance > .zero && sumOfCellsTolerancePerAmpere >= .zero && stuckTime > .zero && stuckCurrent > .zero else {
            throw .protectionTimingOutOfRange
        }
    }
}
