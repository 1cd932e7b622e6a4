// The pack the firmware manages, passed in at construction and checked before the loop runs.
import HAL

/// Everything the control loop needs to know about the pack. Thresholds live here, not in code.
public struct PackConfiguration: Sendable {
    /// Cells in series (1...maximumCellCount).
    public var cellCount: Int
    /// Temperature sensors wired to the cell monitor (0...maximumTemperatureSensorCount).
    public var temperatureSensorCount: Int
    /// Rated capacity of one series element (a cell, or a parallel group of cells).
    public var ratedCapacity: MilliampereSeconds
    /// Cell voltages outside this range are implausible (a measurement problem, not a cell state).
    public var plausibleCellVoltage: ClosedRange<Millivolts>
    /// Temperatures outside this range are implausible (sensor short or open).
    public var plausibleTemperature: ClosedRange<DeciCelsius>
    /// Currents outside this range are implausible (beyond the sensor's range).
    public var plausibleCurrent: ClosedRange<Milliamperes>
    /// How long a reading's last good value may stand in for missing measurements before it is
    /// marked stale. Also the longest gap the coulomb counter integrates across.
    public var measurementTimeout: Microseconds
    /// Open-circuit voltage against state of charge for one cell (for the initial SOC at rest).
    public var openCircuitVoltage: OCVCurve
    /// A pack current at or below this magnitude counts as "at rest" for OCV readings.
    public var restCurrent: Milliamperes
    /// The protection table: tiers, debounce and reaction delay per fault, plausibility rules.
    public var protection: ProtectionConfiguration
    /// Contactor sequencing: precharge supervision, break current, timeouts.
    public var contactors: ContactorConfiguration
    /// State of power.
    public var powerLimits: PowerLimitConfiguration
    public var balancing: BalancingConfiguration

    public init(cellCount: Int, temperatureSensorCount: Int, ratedCapacity: MilliampereSeconds,
                plausibleCellVoltage: ClosedRange<Millivolts>, plausibleTemperature: ClosedRange<DeciCelsius>,
                plausibleCurrent: ClosedRange<Milliamperes>, measurementTimeout: Microseconds,
                openCircuitVoltage: OCVCurve, restCurrent: Milliamperes, protection: ProtectionConfiguration,
                contactors: ContactorConfiguration, powerLimits: PowerLimitConfiguration, balancing: BalancingConfiguration) {
        self.cellCount = cellCount
        self.temperatureSensorCount = temperatureSensorCount
        self.ratedCapacity = ratedCapacity
        self.plausibleCellVoltage = plausibleCellVoltage
        self.plausibleTemperature = plausibleTemperature
        self.plausibleCurrent = plausibleCurrent
        self.measurementTimeout = measurementTimeout
        self.openCircuitVoltage = openCircuitVoltage
        self.restCurrent = restCurrent
        self.protection = protection
        self.contactors = contactors
        self.powerLimits = powerLimits
        self.balancing = balancing
    }

    /// Checks every parameter; the first one out of range is reported.
    /// (`@_addressableSelf`: read in place, not copied into the frame first; Docs/firmware-budget.md.)
    @_addressableSelf public func validate() throws(ConfigurationError) {
        guard cellCount >= 1 && cellCount <= maximumCellCount else { throw .cellCountOutOfRange }
        guard temperatureSensorCount >= 0 && temperatureSensorCount <= maximumTemperatureSensorCount else {
            throw .temperatureSensorCountOutOfRange
        }
        // 1 mAh ... 10,000 Ah per series element.
        guard ratedCapacity >= .milliampereHours(1) && ratedCapacity <= .milliampereHours(10_000_000) else {
            throw .ratedCapacityOutOfRange
        }
        // Cell voltages are only meaningful within −5 V ... 10 V on any chemistry; the bounds also
        // keep sums of 32 cells far from overflow.
        guard plausibleCellVoltage.lowerBound >= Millivolts(-5_000), plausibleCellVoltage.upperBound <= Millivolts(10_000),
              plausibleCellVoltage.lowerBound < plausibleCellVoltage.upperBound else {
            throw .plausibleCellVoltageOutOfRange
        }
        guard plausibleTemperature.lowerBound >= DeciCelsius(-1_000), plausibleTemperature.upperBound <= DeciCelsius(3_000),
              plausibleTemperature.lowerBound < plausibleTemperature.upperBound else {
            throw .plausibleTemperatureOutOfRange
        }
        // ±1,000 A keeps one tick's charge (I × 1 ms) and a trapezoid sum far inside Int64.
        guard plausibleCurrent.lowerBound >= Milliamperes(-1_000_000), plausibleCurrent.upperBound <= Milliamperes(1_000_000),
              plausibleCurrent.lowerBound < Milliamperes.zero, plausibleCurrent.upperBound > Milliamperes.zero else {
            throw .plausibleCurrentOutOfRange
        }
        guard measurementTimeout >= ControlLoopTiming.tickPeriod && measurementTimeout <= .seconds(10) else {
            throw .measurementTimeoutOutOfRange
        }
        guard restCurrent >= Milliamperes.zero && restCurrent < plausibleCurrent.upperBound else {
            throw .restCurrentOutOfRange
        }
        try openCircuitVoltage.validate()
        try protection.validate()
        // A maximum-safety threshold beyond the plausible range could never be reached: the value
        // would be implausible first (a slower, different fault).
        guard protection.cellOvervoltage.maximumSafety < plausibleCellVoltage.upperBound.rawValue,
              protection.cellUndervoltage.maximumSafety > plausibleCellVoltage.lowerBound.rawValue,
              protection.overcurrentCharge.maximumSafety < plausibleCurrent.upperBound.rawValue,
              protection.overcurrentDischarge.maximumSafety > plausibleCurrent.lowerBound.rawValue,
              protection.overtemperatureCharge.maximumSafety < Int32(plausibleTemperature.upperBound.rawValue),
              protection.overtemperatureDischarge.maximumSafety < Int32(plausibleTemperature.upperBound.rawValue),
              protection.undertemperatureCharge.maximumSafety > Int32(plausibleTemperature.lowerBound.rawValue),
              protection.undertemperatureDischarge.maximumSafety > Int32(plausibleTemperature.lowerBound.rawValue) else {
            throw .protectionLimitBeyondPlausibleRange
        }
        try contactors.validate()
        try powerLimits.validate()
        try balancing.validate()
    }
}

/// Which configuration parameter is out of range. Raw values are stable (reported on CAN).
public enum ConfigurationError: UInt8, Error, Sendable {
    case cellCountOutOfRange = 1
    case temperatureSensorCountOutOfRange = 2
    case ratedCapacityOutOfRange = 3
    case plausibleCellVoltageOutOfRange = 4
    case plausibleTemperatureOutOfRange = 5
    case plausibleCurrentOutOfRange = 6
    case measurementTimeoutOutOfRange = 7
    case restCurrentOutOfRange = 8
    case openCircuitVoltageTooFewPoints = 9
    case openCircuitVoltageNotIncreasing = 10
    case openCircuitVoltageOutsideZeroToOne = 11
    case protectionLimitOutOfOrder = 12
    case protectionTimingOutOfRange = 13
    case contactorTimingOutOfRange = 14
    case powerLimitOutOfRange = 15
    case balancingOutOfRange = 16
    case protectionLimitBeyondPlausibleRange = 17
    case cellModelOutOfRange = 18
    case estimatorTuningOutOfRange = 19
}
