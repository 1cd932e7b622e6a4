// The standard protection, contactor, power and balancing policy for a lithium-ion pack, derived
// from the cell's datasheet ratings: the starting point a BMS engineer adjusts, shared by the
// bench board and the harness so both run the same table (Docs/protection.md explains each value).
import HAL

/// What a cell datasheet gives, scaled to one series element (a cell or a parallel group).
public struct ElementRatings: Sendable {
    /// Charge end voltage and discharge cut-off voltage.
    public var maximumVoltage: Millivolts
    public var minimumVoltage: Millivolts
    /// Rated capacity of the element (mAh): 1C in mA.
    public var capacitymAh: Int32
    /// Continuous charge and discharge current ratings, and the 2 s peak discharge rating (mA,
    /// positive).
    public var continuousCharge: Milliamperes
    public var continuousDischarge: Milliamperes
    public var peakDischarge: Milliamperes
    /// The element's equivalent circuit at 25 °C (R0 including charge transfer at a typical
    /// current, R1/τ1, R2/τ2; mΩ and s) and its resistance rise per kelvin below 25 °C.
    public var r0Milliohms: Float
    public var r1Milliohms: Float
    public var tau1Seconds: Float
    public var r2Milliohms: Float
    public var tau2Seconds: Float
    public var resistanceRisePerKelvinBelow25: Float
    /// The element's heat capacity (J/K) and its conductance to neighbours and air (W/K).
    public var heatCapacity: Float
    public var thermalConductance: Float

    public init(maximumVoltage: Millivolts, minimumVoltage: Millivolts, capacitymAh: Int32, continuousCharge: Milliamperes,
                continuousDischarge: Milliamperes, peakDischarge: Milliamperes, r0Milliohms: Float, r1Milliohms: Float,
                tau1Seconds: Float, r2Milliohms: Float, tau2Seconds: Float, resistanceRisePerKelvinBelow25: Float,
                heatCapacity: Float, thermalConductance: Float) {
        self.maximumVoltage = maximumVoltage
        self.minimumVoltage = minimumVoltage
        self.capacitymAh = capacitymAh
        self.continuousCharge = continuousCharge
        self.continuousDischarge = continuousDischarge
        self.peakDischarge = peakDischarge
        self.r0Milliohms = r0Milliohms
        self.r1Milliohms = r1Milliohms
        self.tau1Seconds = tau1Seconds
        self.r2Milliohms = r2Milliohms
        self.tau2Seconds = tau2Seconds
        self.resistanceRisePerKelvinBelow25 = resistanceRisePerKelvinBelow25
        self.heatCapacity = heatCapacity
        self.thermalConductance = thermalConductance
    }
}

/// The standard policy. Tiers: maximum operating = the datasheet limit (warning), recommended
/// safety a little beyond (derate), maximum safety where the cell is damaged (open).
public enum StandardPolicy {
    @inline(__always) static func ms(_ n: Int32) -> Microseconds { .milliseconds(n) }

    /// A tiered limit with the standard debounces (1 s warning, 500 ms derate) and the given
    /// maximum-safety debounce and reaction delay (ms).
    static func limit(_ direction: LimitDirection, _ operating: Int32, _ recommended: Int32, _ safety: Int32,
                      hysteresis: Int32, safetyDebounce: Int32, reactionDelay: Int32) -> TieredLimit {
        TieredLimit(direction, operating: operating, recommended: recommended, safety: safety, hysteresis: hysteresis,
                    debounceOperating: ms(1_000), debounceRecommended: ms(500), debounceSafety: ms(safetyDebounce),
                    reactionDelay: ms(reactionDelay))
    }

    /// The protection table for elements rated `r` (pack current = element current: one string).
    public static func protection(_ r: ElementRatings) -> ProtectionConfiguration {
        let vMax = r.maximumVoltage.rawValue, vMin = r.minimumVoltage.rawValue
        let charge = r.continuousCharge.rawValue, discharge = r.peakDischarge.rawValue
        return ProtectionConfiguration(
            // Voltage: the charge end voltage warns, +20 mV derates, +50 mV opens; cut-off + 500 mV
            // warns, + 300 mV derates, the cut-off opens. 30 ms debounce + 50 ms reaction delay.
            cellOvervoltage: limit(.above, vMax, vMax + 20, vMax + 50, hysteresis: 20, safetyDebounce: 30, reactionDelay: 50),
            cellUndervoltage: limit(.below, vMin + 500, vMin + 300, vMin, hysteresis: 50, safetyDebounce: 30, reactionDelay: 50),
            // Temperature (deci-°C): lithium-ion charge window 0...55 °C, discharge −30...65 °C.
            overtemperatureCharge: limit(.above, 450, 500, 550, hysteresis: 20, safetyDebounce: 300, reactionDelay: 200),
            overtemperatureDischarge: limit(.above, 550, 600, 650, hysteresis: 20, safetyDebounce: 300, reactionDelay: 200),
            undertemperatureCharge: limit(.below, 50, 20, 0, hysteresis: 20, safetyDebounce: 300, reactionDelay: 200),
            undertemperatureDischarge: limit(.below, -200, -250, -300, hysteresis: 20, safetyDebounce: 300, reactionDelay: 200),
            // Current: the continuous charge rating, +25 %, +50 %; the peak discharge rating,
            // +17 %, +33 %. 5 ms + 5 ms.
            overcurrentCharge: limit(.above, charge, charge + charge / 4, charge + charge / 2, hysteresis: charge / 20,
                                     safetyDebounce: 5, reactionDelay: 5),
            overcurrentDischarge: limit(.below, -discharge, -(discharge + discharge / 6), -(discharge + discharge / 3),
                                        hysteresis: discharge / 20, safetyDebounce: 5, reactionDelay: 5),
            // Rate of rise (deci-K per minute): 2, 5, 10 K/min over 10 s.
            temperatureRiseRate: limit(.above, 20, 50, 100, hysteresis: 5, safetyDebounce: 2_000, reactionDelay: 0),
            riseWindow: .seconds(10),
            cellVoltageImplausible: PlausibilityRule(tier: .maximumSafety, debounce: ms(100), reactionDelay: ms(100)),
            cellVoltageStale: PlausibilityRule(tier: .maximumSafety, debounce: ms(100), reactionDelay: ms(100)),
            temperatureSensorFault: PlausibilityRule(tier: .recommendedSafety, debounce: ms(200), reactionDelay: ms(100)),
            currentMeasurementFault: PlausibilityRule(tier: .maximumSafety, debounce: ms(100), reactionDelay: ms(100)),
            sumOfCellsMismatch: PlausibilityRule(tier: .maximumSafety, debounce: ms(300), reactionDelay: ms(100)),
            sumOfCellsTolerance: Millivolts(1_500), sumOfCellsTolerancePerAmpere: Millivolts(5),
            stuckCellVoltage: PlausibilityRule(tier: .recommendedSafety, debounce: ms(0), reactionDelay: ms(0)),
            stuckTime: .seconds(30), stuckCurrent: Milliamperes(max(1_000, r.capacitymAh / 5)))
    }

    /// Contactor sequencing: 100 ms feedback timeout, precharge within 1 s (three attempts, 2 s
    /// apart) to 2 V and C/5 of precharge current; break rating `breakCurrent`.
    public static func contactors(_ r: ElementRatings, breakCurrent: Milliamperes) -> ContactorConfiguration {
        ContactorConfiguration(
            feedbackTimeout: ms(100), prechargeTimeout: ms(1_000), prechargeVoltageTolerance: Millivolts(2_000),
            prechargeCurrentThreshold: Milliamperes(max(500, r.capacitymAh / 5)), prechargeAttempts: 3, prechargeRetryWait: ms(2_000),
            breakCurrent: breakCurrent, fuseTime: ms(2_000), openVerificationTime: ms(100),
            dischargeBreaker: .mainPositive, chargeBreaker: .mainNegative)
    }

    /// State of power: ceilings at the peak discharge rating (2 s), halfway to the continuous
    /// one (10 s) and the continuous rating (30 s); the continuous charge rating throughout.
    public static func powerLimits(_ r: ElementRatings) -> PowerLimitConfiguration {
        let peak = r.peakDischarge.rawValue, continuous = r.continuousDischarge.rawValue
        let charge = r.continuousCharge
        return PowerLimitConfiguration(
            r0Milliohms: r.r0Milliohms, r1Milliohms: r.r1Milliohms, tau1Seconds: r.tau1Seconds, r2Milliohms: r.r2Milliohms,
            tau2Seconds: r.tau2Seconds, resistanceRisePerKelvinBelow25: r.resistanceRisePerKelvinBelow25,
            maximumCharge: (charge, charge, charge),
            maximumDischarge: (Milliamperes(peak), Milliamperes((peak + continuous) / 2), Milliamperes(continuous)),
            dischargeDerateBelowSOCPermille: 50, chargeDerateAboveSOCPermille: 950,
            recommendedSafetyFactor: 0.5, maximumOperatingFactor: 1, rampRate: Milliamperes(max(1_000, r.capacitymAh)),
            elementHeatCapacity: r.heatCapacity, elementConductance: r.thermalConductance)
    }

    /// State estimation from the datasheet's circuit when no identified cell model exists: the
    /// OCV curve, R0 rising by the rated coefficient per kelvin below 25 °C, the RC branches as
    /// rated, no charge-transfer term (a very large exchange current) and no hysteresis.
    public static func estimation(_ r: ElementRatings, openCircuitVoltage curve: OCVCurve) -> StateEstimationConfiguration {
        var c = StateEstimationConfiguration.idle()
        estimation(r, openCircuitVoltage: curve, into: &c)
        return c
    }

    /// The same, written into `c` in place (every field; for a loop in static storage, whose
    /// estimation configuration is built where it stays).
    public static func estimation(_ r: ElementRatings, openCircuitVoltage curve: OCVCurve, into c: inout StateEstimationConfiguration) {
        c.setDefaults()
        var rows = FixedList<8, Float>(filler: 0)
        rows.append(-20); rows.append(0); rows.append(25); rows.append(45)
        let rise = r.resistanceRisePerKelvinBelow25
        func resistance(_ grid: inout CellParameterGrid, _ milliohms: Float) {
            grid.fill(temperatures: rows) { _, celsius in milliohms / 1000 * (1 + rise * max(0, 25 - celsius)) }
        }
        let capacityAh = Float(Int(r.capacitymAh)) / 1000
        c.cellModel.sample(ocv: { curve.volts(atStateOfCharge: $0) }, entropic: { _ in 0 })
        resistance(&c.cellModel.r0, r.r0Milliohms)
        c.cellModel.exchangeCurrent.fill(constant: 1_000 * capacityAh)
        resistance(&c.cellModel.r1, r.r1Milliohms)
        c.cellModel.tau1.fill(constant: r.tau1Seconds)
        resistance(&c.cellModel.r2, r.r2Milliohms)
        c.cellModel.tau2.fill(constant: r.tau2Seconds)
        c.cellModel.hysteresisVoltage = 0
        c.cellModel.hysteresisRate = 0
        c.cellModel.capacityAh = capacityAh
        c.cellModel.coulombicEfficiency = 0.999
        c.cellModel.minimumVoltage = Float(Int(r.minimumVoltage.rawValue)) / 1000
        c.cellModel.maximumVoltage = Float(Int(r.maximumVoltage.rawValue)) / 1000
    }

    /// Passive balancing: 15 mV on, 5 mV off; above the curve's knee (cut-off + 1 V), at most
    /// 45 °C, charge targets after 30 min of rest, every channel the front end has, 3 W in all.
    public static func balancing(_ r: ElementRatings) -> BalancingConfiguration {
        BalancingConfiguration(
            startThreshold: Millivolts(15), stopThreshold: Millivolts(5), minimumCellVoltage: Millivolts(r.minimumVoltage.rawValue + 1_000),
            maximumTemperature: DeciCelsius(450), restForTargets: .seconds(1_800), minimumTarget: .milliampereHours(5),
            maximumChannels: maximumCellCount, heatBudgetMilliwatts: 3_000)
    }
}
