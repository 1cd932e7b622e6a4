// State of power: how much current the pack can take and give over the next 2 s, 10 s and 30 s
// without any cell leaving its recommended-safety voltage window, derated by temperature, SOC
// and active faults, and ramped so consumers see slopes, not steps.
import HAL

/// What the power limiter needs to know beyond the protection table.
public struct PowerLimitConfiguration: Sendable {
    /// One cell's equivalent circuit at 25 °C: R0, R1 (τ1), R2 (τ2), in mΩ and s.
    public var r0Milliohms: Float
    public var r1Milliohms: Float
    public var tau1Seconds: Float
    public var r2Milliohms: Float
    public var tau2Seconds: Float
    /// Resistance rise per kelvin below 25 °C (fraction; e.g. 0.03: +30 % at 15 °C).
    public var resistanceRisePerKelvinBelow25: Float
    /// Current ceilings (mA, positive) per horizon: 2 s, 10 s, 30 s; charge and discharge.
    public var maximumCharge: (Milliamperes, Milliamperes, Milliamperes)
    public var maximumDischarge: (Milliamperes, Milliamperes, Milliamperes)
    /// Discharge derates linearly to zero below this SOC (permille), charge above this one.
    public var dischargeDerateBelowSOCPermille: Int32
    public var chargeDerateAboveSOCPermille: Int32
    /// Multipliers while any fault is at the recommended-safety (or only the operating) tier.
    public var recommendedSafetyFactor: Float
    public var maximumOperatingFactor: Float
    /// How fast a limit may rise (mA per second); it may fall at once.
    public var rampRate: Milliamperes
    /// One element's heat capacity (J/K) and its thermal conductance to its surroundings
    /// (neighbours and air, W/K): for the estimated heating of cells without a sensor.
    public var elementHeatCapacity: Float
    public var elementConductance: Float

    public init(r0Milliohms: Float, r1Milliohms: Float, tau1Seconds: Float, r2Milliohms: Float, tau2Seconds: Float,
                resistanceRisePerKelvinBelow25: Float, maximumCharge: (Milliamperes, Milliamperes, Milliamperes),
                maximumDischarge: (Milliamperes, Milliamperes, Milliamperes), dischargeDerateBelowSOCPermille: Int32,
                chargeDerateAboveSOCPermille: Int32, recommendedSafetyFactor: Float, maximumOperatingFactor: Float,
                rampRate: Milliamperes, elementHeatCapacity: Float, elementConductance: Float) {
        self.r0Milliohms = r0Milliohms
        self.r1Milliohms = r1Milliohms
        self.tau1Seconds = tau1Seconds
        self.r2Milliohms = r2Milliohms
        self.tau2Seconds = tau2Seconds
        self.resistanceRisePerKelvinBelow25 = resistanceRisePerKelvinBelow25
        self.maximumCharge = maximumCharge
        self.maximumDischarge = maximumDischarge
        self.dischargeDerateBelowSOCPermille = dischargeDerateBelowSOCPermille
        self.chargeDerateAboveSOCPermille = chargeDerateAboveSOCPermille
        self.recommendedSafetyFactor = recommendedSafetyFactor
        self.maximumOperatingFactor = maximumOperatingFactor
        self.rampRate = rampRate
        self.elementHeatCapacity = elementHeatCapacity
        self.elementConductance = elementConductance
    }

    func validate() throws(ConfigurationError) {
        guard r0Milliohms > 0, r1Milliohms >= 0, tau1Seconds > 0, r2Milliohms >= 0, tau2Seconds > 0, resistanceRisePerKelvinBelow25 >= 0,
              maximumCharge.0 >= maximumCharge.1, maximumCharge.1 >= maximumCharge.2, maximumCharge.2 > .zero,
              maximumDischarge.0 >= maximumDischarge.1, maximumDischarge.1 >= maximumDischarge.2, maximumDischarge.2 > .zero,
              dischargeDerateBelowSOCPermille >= 0, dischargeDerateBelowSOCPermille <= 1_000,
              chargeDerateAboveSOCPermille >= 0, chargeDerateAboveSOCPermille < 1_000,
              recommendedSafetyFactor >= 0, recommendedSafetyFactor <= 1, maximumOperatingFactor >= 0, maximumOperatingFactor <= 1,
              rampRate > .zero, elementHeatCapacity > 0, elementConductance > 0 else {
            throw .powerLimitOutOfRange
        }
    }
}

/// Charge and discharge current limits (mA, both positive) for the three horizons.
public struct PowerLimits: Equatable, Sendable {
    public var charge2s = Milliamperes.zero, charge10s = Milliamperes.zero, charge30s = Milliamperes.zero
    public var discharge2s = Milliamperes.zero, discharge10s = Milliamperes.zero, discharge30s = Milliamperes.zero
    public init() {}
    public static let zero = PowerLimits()
}

/// Computes the limits every 10 ms.
public struct PowerLimiter: Sendable {
    public private(set) var limits = PowerLimits()
    /// The limits before ramping (what the pack could do now).
    public private(set) var available = PowerLimits()
    /// How much warmer than the sensed temperatures each cell is estimated to run (K), from its
    /// extra heat: a cell whose terminal voltage sits further from the pack's mean in the
    /// direction of the current dissipates |I|·|Δv| more (a conservative estimate: SOC
    /// differences count as loss too), through a first-order thermal model. Four sensors do not
    /// see every cell; this lets the limiter protect the unsensed weak one.
    public private(set) var excessHeating: PerCell<Float>
    public private(set) var hottestExcess: Float = 0
    /// exp(−h/τ) for the three horizons, computed once (no libm in the firmware).
    let decay1: (Float, Float, Float), decay2: (Float, Float, Float)

    init(configuration c: PowerLimitConfiguration, cellCount: Int) {
        excessHeating = PerCell(repeating: 0, count: cellCount)
        decay1 = (FloatMath.exp(-2 / c.tau1Seconds), FloatMath.exp(-10 / c.tau1Seconds),
                  FloatMath.exp(-30 / c.tau1Seconds))
        decay2 = (FloatMath.exp(-2 / c.tau2Seconds), FloatMath.exp(-10 / c.tau2Seconds),
                  FloatMath.exp(-30 / c.tau2Seconds))
    }

    /// Stage `powerLimits` (every 10 ms). `connected` is the mode the contactors are closed for
    /// (nil: open, every limit zero). `stateOfCharge` derates discharge (the weakest element's,
    /// when known) and `chargeStateOfCharge` charge (the strongest's; nil: the same as discharge).
    mutating func update(measurements m: inout Measurements, cells: borrowing @_addressable PackStatistics<Millivolts>?,
                         temperatures: borrowing @_addressable PackStatistics<DeciCelsius>?, stateOfCharge: Float?, chargeStateOfCharge: Float? = nil,
                         faults: FaultStatus, connected: OperatingMode?, configuration c: borrowing @_addressable PackConfiguration, dt: Microseconds,
                         healthFactor: Float = 1) {
        estimateHeating(measurements: &m, cells: cells, configuration: c.powerLimits, seconds: Float(Int(dt.saturatedInt32)) / 1_000_000)
        var target = PowerLimits()
        if let mode = connected, faults.safety.isEmpty, let current = m.pack.current.validValue {
            // Resistance for each horizon, at the coldest sensor (the worst case).
            let coldest = Float(Int(temperatures?.minimum.rawValue ?? 250)) / 10
            let warmth = 1 + c.powerLimits.resistanceRisePerKelvinBelow25 * (coldest < 25 ? 25 - coldest : 0)
            let r2s = (c.powerLimits.r0Milliohms + c.powerLimits.r1Milliohms * (1 - decay1.0) + c.powerLimits.r2Milliohms * (1 - decay2.0)) * warmth
            let r10s = (c.powerLimits.r0Milliohms + c.powerLimits.r1Milliohms * (1 - decay1.1) + c.powerLimits.r2Milliohms * (1 - decay2.1)) * warmth
            let r30s = (c.powerLimits.r0Milliohms + c.powerLimits.r1Milliohms * (1 - decay1.2) + c.powerLimits.r2Milliohms * (1 - decay2.2)) * warmth
            // The weakest cell decides: least headroom to the recommended-safety voltages.
            if let stats = cells, stats.invalidCount == 0, stats.validCount > 0 {
                let lowest = stats.minimum.rawValue, highest = stats.maximum.rawValue
                let dischargeRoom = Float(Int(lowest - c.protection.cellUndervoltage.recommendedSafety))      // mV
                let chargeRoom = Float(Int(c.protection.cellOvervoltage.recommendedSafety - highest))
                let now = Float(Int(current.rawValue))                                                     // mA, + = charging
                // v' = v + (I' − I)·R ≥ V_min  ⇒  |I'| ≤ room/R − I (mV/mΩ = A = 1000 mA).
                func limit(_ room: Float, _ r: Float, _ sign: Float) -> Float { max(0, room / r * 1_000 + sign * now) }
                let socFactor = PowerLimiter.socFactors(stateOfCharge, c.powerLimits, charging: chargeStateOfCharge)
                let temperatureFactor = PowerLimiter.temperatureFactors(temperatures, c.protection,
                                                                        excess: Int32(hottestExcess * 10))
                var faultFactor: Float = 1
                if !faults.derating.isEmpty { faultFactor = c.powerLimits.recommendedSafetyFactor } else if !faults.warnings.isEmpty { faultFactor = c.powerLimits.maximumOperatingFactor }
                let chargeScale = socFactor.charge * temperatureFactor.charge * faultFactor * (mode == .drive || mode == .charge ? 1 : 0)
                let dischargeScale = socFactor.discharge * temperatureFactor.discharge * faultFactor * (mode == .drive ? 1 : 0)
                // `healthFactor`, the early warning's derate for a thermal anomaly (Firmware/Health/),
                // applies after the ratings' ceiling: it halves what the pack may deliver.
                func clamp(_ x: Float, _ ceiling: Milliamperes) -> Milliamperes {
                    Milliamperes(Int32(min(x, Float(Int(ceiling.rawValue))) * healthFactor))
                }
                target.charge2s = clamp(limit(chargeRoom, r2s, 1) * chargeScale, c.powerLimits.maximumCharge.0)
                target.charge10s = clamp(limit(chargeRoom, r10s, 1) * chargeScale, c.powerLimits.maximumCharge.1)
                target.charge30s = clamp(limit(chargeRoom, r30s, 1) * chargeScale, c.powerLimits.maximumCharge.2)
                target.discharge2s = clamp(limit(dischargeRoom, r2s, -1) * dischargeScale, c.powerLimits.maximumDischarge.0)
                target.discharge10s = clamp(limit(dischargeRoom, r10s, -1) * dischargeScale, c.powerLimits.maximumDischarge.1)
                target.discharge30s = clamp(limit(dischargeRoom, r30s, -1) * dischargeScale, c.powerLimits.maximumDischarge.2)
            }
        }
        available = target
        // Rise no faster than the ramp rate; fall at once.
        // mA/s × µs / 10⁶ in Float (no 64-bit division on 32-bit targets).
        let step = Int32(Float(Int(c.powerLimits.rampRate.rawValue)) * Float(Int(dt.saturatedInt32)) / 1_000_000)
        func ramp(_ old: Milliamperes, _ new: Milliamperes) -> Milliamperes {
            new.rawValue > old.rawValue ? Milliamperes(min(new.rawValue, old.rawValue &+ step)) : new
        }
        limits.charge2s = ramp(limits.charge2s, target.charge2s)
        limits.charge10s = ramp(limits.charge10s, target.charge10s)
        limits.charge30s = ramp(limits.charge30s, target.charge30s)
        limits.discharge2s = ramp(limits.discharge2s, target.discharge2s)
        limits.discharge10s = ramp(limits.discharge10s, target.discharge10s)
        limits.discharge30s = ramp(limits.discharge30s, target.discharge30s)
    }

    /// Advances each cell's estimated excess temperature by `seconds`.
    mutating func estimateHeating(measurements m: inout Measurements, cells stats: borrowing @_addressable PackStatistics<Millivolts>?,
                                  configuration p: borrowing @_addressable PowerLimitConfiguration, seconds: Float) {
        let amperes = Float(Int(m.pack.current.validValue?.rawValue ?? 0)) / 1_000
        // The mean over valid cells; heat only counts with every cell valid.
        let allValid = stats.map { $0.invalidCount == 0 } ?? false
        let mean = stats.map { Float(Int($0.sum)) / Float($0.validCount) } ?? 0
        var hottest: Float = 0
        let decay = p.elementConductance * seconds / p.elementHeatCapacity, gain = seconds / p.elementHeatCapacity
        for i in m.cells.cellVoltages.indices {
            let reading = m.cellVoltage(i)
            var watts: Float = 0
            if allValid {
                // Discharging (I < 0): a cell below the mean loses more; charging: one above it.
                let offset = (Float(Int(reading.value.rawValue)) - mean) / 1_000           // V
                watts = max(0, amperes * offset)
            }
            let before = excessHeating.inPlace(i)      // in place: indexing copied the list per read on the host
            let t = max(0, before + watts * gain - decay * before)
            excessHeating[i] = t
            if t > hottest { hottest = t }
        }
        hottestExcess = hottest
    }

    /// Discharge falls linearly to zero below the derating SOC; charge above its SOC.
    /// `soc` derates discharge; `charging` (default: `soc`) derates charge. Unknown: no derating.
    static func socFactors(_ soc: Float?, _ p: borrowing @_addressable PowerLimitConfiguration, charging: Float? = nil) -> (charge: Float, discharge: Float) {
        let low = Float(Int(p.dischargeDerateBelowSOCPermille)), high = Float(Int(p.chargeDerateAboveSOCPermille))
        var discharge: Float = 1, charge: Float = 1
        if let soc, low > 0 { discharge = min(1, max(0, soc * 1_000 / low)) }
        if let top = charging ?? soc, high < 1_000 { charge = min(1, max(0, (1_000 - top * 1_000) / (1_000 - high))) }
        return (charge, discharge)
    }

    /// 1 inside the maximum-operating temperatures, falling linearly to 0 at the recommended-
    /// safety ones (hot and cold, charge and discharge windows).
    /// `excess` (deci-K) is added to the hottest sensor (the estimated hottest cell).
    static func temperatureFactors(_ t: PackStatistics<DeciCelsius>?, _ p: borrowing @_addressable ProtectionConfiguration,
                                   excess: Int32 = 0) -> (charge: Float, discharge: Float) {
        guard let t else { return (1, 1) }
        let hot = Int32(t.maximum.rawValue) + excess, cold = Int32(t.minimum.rawValue)
        let charge = min(temperatureFactor(hot, p.overtemperatureCharge), temperatureFactor(cold, p.undertemperatureCharge))
        let discharge = min(temperatureFactor(hot, p.overtemperatureDischarge), temperatureFactor(cold, p.undertemperatureDischarge))
        return (charge, discharge)
    }

    /// 1 inside `limit`'s maximum-operating threshold, falling linearly to 0 at its
    /// recommended-safety one.
    static func temperatureFactor(_ value: Int32, _ limit: borrowing @_addressable TieredLimit) -> Float {
        let start = limit.maximumOperating, end = limit.recommendedSafety
        guard start != end else { return limit.violates(value, end) ? 0 : 1 }
        let x = Float(Int(value - start)) / Float(Int(end - start))
        return 1 - min(1, max(0, x))
    }
}

