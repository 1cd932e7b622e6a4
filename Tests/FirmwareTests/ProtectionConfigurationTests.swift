// Protection, contactor, power-limit and balancing configuration checks: boundaries, the standard policy, the loop refusing bad tables.
import Firmware
import HAL
import Testing

@Suite struct ProtectionConfigurationTests {
    typealias Edit = @Sendable (inout PackConfiguration) -> Void

    static let rejected: [(String, Edit, ConfigurationError)] = [
        // Tier order, hysteresis and per-tier timing.
        ("overvoltage recommended below operating", { $0.protection.cellOvervoltage.recommendedSafety = Int32(4_199) }, .protectionLimitOutOfOrder),
        ("overvoltage safety below recommended", { $0.protection.cellOvervoltage.maximumSafety = Int32(4_219) }, .protectionLimitOutOfOrder),
        ("undervoltage recommended above operating", { $0.protection.cellUndervoltage.recommendedSafety = Int32(3_001) }, .protectionLimitOutOfOrder),
        ("undervoltage safety above recommended", { $0.protection.cellUndervoltage.maximumSafety = Int32(2_801) }, .protectionLimitOutOfOrder),
        ("discharge overcurrent checked upwards", { $0.protection.overcurrentDischarge.direction = .above }, .protectionLimitOutOfOrder),
        ("negative hysteresis", { $0.protection.overtemperatureCharge.hysteresis = -1 }, .protectionLimitOutOfOrder),
        ("negative operating debounce", { $0.protection.undertemperatureCharge.debounceOperating = Microseconds(-1) }, .protectionLimitOutOfOrder),
        ("negative recommended debounce", { $0.protection.overtemperatureDischarge.debounceRecommended = Microseconds(-1) }, .protectionLimitOutOfOrder),
        ("negative safety debounce", { $0.protection.overcurrentCharge.debounceSafety = Microseconds(-1) }, .protectionLimitOutOfOrder),
        ("negative reaction delay", { $0.protection.temperatureRiseRate.reactionDelay = Microseconds(-1) }, .protectionLimitOutOfOrder),
        // Rise window (the history holds 21 one-second samples), plausibility rules, tolerances.
        ("rise window 21 s", { $0.protection.riseWindow = .seconds(21) }, .protectionTimingOutOfRange),
        ("rise window 20 s + 1 µs", { $0.protection.riseWindow = Microseconds(20_000_001) }, .protectionTimingOutOfRange),
        ("rise window 0.999 s", { $0.protection.riseWindow = .milliseconds(999) }, .protectionTimingOutOfRange),
        ("rise window 1 s − 1 µs", { $0.protection.riseWindow = Microseconds(999_999) }, .protectionTimingOutOfRange),
        ("rise window 0", { $0.protection.riseWindow = .zero }, .protectionTimingOutOfRange),
        ("implausible-cell debounce < 0", { $0.protection.cellVoltageImplausible.debounce = Microseconds(-1) }, .protectionTimingOutOfRange),
        ("stale-cell reaction < 0", { $0.protection.cellVoltageStale.reactionDelay = Microseconds(-1) }, .protectionTimingOutOfRange),
        ("sensor-fault debounce < 0", { $0.protection.temperatureSensorFault.debounce = Microseconds(-1) }, .protectionTimingOutOfRange),
        ("current-fault reaction < 0", { $0.protection.currentMeasurementFault.reactionDelay = Microseconds(-1) }, .protectionTimingOutOfRange),
        ("sum-of-cells debounce < 0", { $0.protection.sumOfCellsMismatch.debounce = Microseconds(-1) }, .protectionTimingOutOfRange),
        ("stuck-cell reaction < 0", { $0.protection.stuckCellVoltage.reactionDelay = Microseconds(-1) }, .protectionTimingOutOfRange),
        ("zero sum-of-cells tolerance", { $0.protection.sumOfCellsTolerance = .zero }, .protectionTimingOutOfRange),
        ("negative per-ampere allowance", { $0.protection.sumOfCellsTolerancePerAmpere = Millivolts(-1) }, .protectionTimingOutOfRange),
        ("zero stuck time", { $0.protection.stuckTime = .zero }, .protectionTimingOutOfRange),
        ("zero stuck current", { $0.protection.stuckCurrent = .zero }, .protectionTimingOutOfRange),
        // Contactor sequencing.
        ("zero feedback timeout", { $0.contactors.feedbackTimeout = .zero }, .contactorTimingOutOfRange),
        ("zero precharge timeout", { $0.contactors.prechargeTimeout = .zero }, .contactorTimingOutOfRange),
        ("zero precharge voltage tolerance", { $0.contactors.prechargeVoltageTolerance = .zero }, .contactorTimingOutOfRange),
        ("zero precharge current threshold", { $0.contactors.prechargeCurrentThreshold = .zero }, .contactorTimingOutOfRange),
        ("no precharge attempt", { $0.contactors.prechargeAttempts = 0 }, .contactorTimingOutOfRange),
        ("negative retry wait", { $0.contactors.prechargeRetryWait = Microseconds(-1) }, .contactorTimingOutOfRange),
        ("zero break current", { $0.contactors.breakCurrent = .zero }, .contactorTimingOutOfRange),
        ("negative fuse time", { $0.contactors.fuseTime = Microseconds(-1) }, .contactorTimingOutOfRange),
        ("negative open verification", { $0.contactors.openVerificationTime = Microseconds(-1) }, .contactorTimingOutOfRange),
        ("precharge breaks discharge current", { $0.contactors.dischargeBreaker = .precharge }, .contactorTimingOutOfRange),
        ("precharge breaks charge current", { $0.contactors.chargeBreaker = .precharge }, .contactorTimingOutOfRange),
        // State of power.
        ("zero R0", { $0.powerLimits.r0Milliohms = 0 }, .powerLimitOutOfRange),
        ("NaN R0", { $0.powerLimits.r0Milliohms = .nan }, .powerLimitOutOfRange),
        ("negative R1", { $0.powerLimits.r1Milliohms = -0.001 }, .powerLimitOutOfRange),
        ("zero τ1", { $0.powerLimits.tau1Seconds = 0 }, .powerLimitOutOfRange),
        ("negative R2", { $0.powerLimits.r2Milliohms = -1 }, .powerLimitOutOfRange),
        ("zero τ2", { $0.powerLimits.tau2Seconds = 0 }, .powerLimitOutOfRange),
        ("negative resistance rise", { $0.powerLimits.resistanceRisePerKelvinBelow25 = -0.01 }, .powerLimitOutOfRange),
        ("charge 10 s ceiling above 2 s", { $0.powerLimits.maximumCharge.1 = Milliamperes(5_001) }, .powerLimitOutOfRange),
        ("charge 30 s ceiling above 10 s", { $0.powerLimits.maximumCharge.2 = Milliamperes(5_001) }, .powerLimitOutOfRange),
        ("zero charge 30 s ceiling", { $0.powerLimits.maximumCharge.2 = .zero }, .powerLimitOutOfRange),
        ("discharge 10 s ceiling above 2 s", { $0.powerLimits.maximumDischarge.1 = Milliamperes(20_001) }, .powerLimitOutOfRange),
        ("discharge 30 s ceiling above 10 s", { $0.powerLimits.maximumDischarge.2 = Milliamperes(17_501) }, .powerLimitOutOfRange),
        ("zero discharge 30 s ceiling", { $0.powerLimits.maximumDischarge.2 = .zero }, .powerLimitOutOfRange),
        ("discharge derate below −1 ‰", { $0.powerLimits.dischargeDerateBelowSOCPermille = -1 }, .powerLimitOutOfRange),
        ("discharge derate below 1001 ‰", { $0.powerLimits.dischargeDerateBelowSOCPermille = 1_001 }, .powerLimitOutOfRange),
        ("charge derate above −1 ‰", { $0.powerLimits.chargeDerateAboveSOCPermille = -1 }, .powerLimitOutOfRange),
        ("charge derate above 1000 ‰", { $0.powerLimits.chargeDerateAboveSOCPermille = 1_000 }, .powerLimitOutOfRange),
        ("recommended-safety factor < 0", { $0.powerLimits.recommendedSafetyFactor = -0.01 }, .powerLimitOutOfRange),
        ("recommended-safety factor > 1", { $0.powerLimits.recommendedSafetyFactor = 1.01 }, .powerLimitOutOfRange),
        ("NaN recommended-safety factor", { $0.powerLimits.recommendedSafetyFactor = .nan }, .powerLimitOutOfRange),
        ("maximum-operating factor > 1", { $0.powerLimits.maximumOperatingFactor = 1.01 }, .powerLimitOutOfRange),
        ("maximum-operating factor < 0", { $0.powerLimits.maximumOperatingFactor = -0.01 }, .powerLimitOutOfRange),
        ("zero ramp rate", { $0.powerLimits.rampRate = .zero }, .powerLimitOutOfRange),
        ("zero heat capacity", { $0.powerLimits.elementHeatCapacity = 0 }, .powerLimitOutOfRange),
        ("zero thermal conductance", { $0.powerLimits.elementConductance = 0 }, .powerLimitOutOfRange),
        // Balancing.
        ("start threshold equal to stop", { $0.balancing.startThreshold = Millivolts(5) }, .balancingOutOfRange),
        ("start threshold below stop", { $0.balancing.stopThreshold = Millivolts(16) }, .balancingOutOfRange),
        ("negative stop threshold", { $0.balancing.stopThreshold = Millivolts(-1) }, .balancingOutOfRange),
        ("negative rest for targets", { $0.balancing.restForTargets = Microseconds(-1) }, .balancingOutOfRange),
        ("negative minimum target", { $0.balancing.minimumTarget = MilliampereSeconds(-1) }, .balancingOutOfRange),
        ("negative channel count", { $0.balancing.maximumChannels = -1 }, .balancingOutOfRange),
        ("33 channels", { $0.balancing.maximumChannels = maximumCellCount + 1 }, .balancingOutOfRange),
        ("negative heat budget", { $0.balancing.heatBudgetMilliwatts = -1 }, .balancingOutOfRange),
    ]

    @Test(arguments: rejected)
    func outOfRangeProtectionParametersAreRejected(_ name: String, _ edit: Edit, _ error: ConfigurationError) {
        var configuration = testConfiguration()
        edit(&configuration)
        #expect(throws: error, "\(name)") { try configuration.validate() }
        #expect(throws: error, "\(name)") {
            _ = try ControlLoop(board: TestBoard(cellVoltages: [3_700, 3_700, 3_700, 3_700]), configuration: configuration)
        }
    }

    static let accepted: [(String, Edit)] = [
        ("all three tiers equal", { $0.protection.cellOvervoltage.recommendedSafety = 4_200; $0.protection.cellOvervoltage.maximumSafety = 4_200 }),
        ("downward tiers equal", { $0.protection.cellUndervoltage.recommendedSafety = 3_000; $0.protection.cellUndervoltage.maximumSafety = 3_000 }),
        ("zero hysteresis", { $0.protection.overtemperatureCharge.hysteresis = 0 }),
        ("zero debounces and reaction delay", {
            $0.protection.overcurrentCharge.debounceOperating = .zero
            $0.protection.overcurrentCharge.debounceRecommended = .zero
            $0.protection.overcurrentCharge.debounceSafety = .zero
            $0.protection.overcurrentCharge.reactionDelay = .zero
        }),
        ("rise window 1 s", { $0.protection.riseWindow = .seconds(1) }),
        ("rise window 20 s", { $0.protection.riseWindow = .seconds(20) }),
        ("immediate plausibility rules", {
            $0.protection.cellVoltageImplausible = PlausibilityRule(tier: .maximumSafety, debounce: .zero, reactionDelay: .zero)
            $0.protection.sumOfCellsMismatch = PlausibilityRule(tier: .maximumSafety, debounce: .zero, reactionDelay: .zero)
        }),
        ("1 mV sum-of-cells tolerance, no per-ampere allowance", {
            $0.protection.sumOfCellsTolerance = Millivolts(1)
            $0.protection.sumOfCellsTolerancePerAmpere = .zero
        }),
        ("1 µs stuck time at 1 mA", { $0.protection.stuckTime = Microseconds(1); $0.protection.stuckCurrent = Milliamperes(1) }),
        ("1 µs feedback timeout", { $0.contactors.feedbackTimeout = Microseconds(1) }),
        ("one precharge attempt, no waits", {
            $0.contactors.prechargeAttempts = 1
            $0.contactors.prechargeRetryWait = .zero
            $0.contactors.fuseTime = .zero
            $0.contactors.openVerificationTime = .zero
        }),
        ("breakers swapped", { $0.contactors.dischargeBreaker = .mainNegative; $0.contactors.chargeBreaker = .mainPositive }),
        ("pure R0 cell", { $0.powerLimits.r1Milliohms = 0; $0.powerLimits.r2Milliohms = 0; $0.powerLimits.resistanceRisePerKelvinBelow25 = 0 }),
        ("flat discharge ceilings", { $0.powerLimits.maximumDischarge = (Milliamperes(1), Milliamperes(1), Milliamperes(1)) }),
        ("SOC derating bounds 0 ‰", { $0.powerLimits.dischargeDerateBelowSOCPermille = 0; $0.powerLimits.chargeDerateAboveSOCPermille = 0 }),
        ("SOC derating bounds 1000 ‰ and 999 ‰", { $0.powerLimits.dischargeDerateBelowSOCPermille = 1_000; $0.powerLimits.chargeDerateAboveSOCPermille = 999 }),
        ("factors 0", { $0.powerLimits.recommendedSafetyFactor = 0; $0.powerLimits.maximumOperatingFactor = 0 }),
        ("factors 1", { $0.powerLimits.recommendedSafetyFactor = 1; $0.powerLimits.maximumOperatingFactor = 1 }),
        ("1 mA per second ramp", { $0.powerLimits.rampRate = Milliamperes(1) }),
        ("balancing 1 mV on, 0 mV off", { $0.balancing.startThreshold = Millivolts(1); $0.balancing.stopThreshold = .zero }),
        ("no balancing channels, no heat", { $0.balancing.maximumChannels = 0; $0.balancing.heatBudgetMilliwatts = 0 }),
        ("32 balancing channels", { $0.balancing.maximumChannels = maximumCellCount }),
        ("targets at once, any size", { $0.balancing.restForTargets = .zero; $0.balancing.minimumTarget = .zero }),
    ]

    @Test(arguments: accepted)
    func boundaryProtectionParametersAreAccepted(_ name: String, _ edit: Edit) throws {
        var configuration = testConfiguration()
        edit(&configuration)
        try configuration.validate()
        _ = try ControlLoop(board: TestBoard(cellVoltages: [3_700, 3_700, 3_700, 3_700]), configuration: configuration)
    }

    /// Every tiered limit of the table is checked for order: swapping its operating and safety
    /// thresholds is rejected.
    @Test func everyTieredLimitIsCheckedForOrder() {
        let limits: [(String, WritableKeyPath<ProtectionConfiguration, TieredLimit>)] = [
            ("cell overvoltage", \.cellOvervoltage), ("cell undervoltage", \.cellUndervoltage),
            ("overtemperature charge", \.overtemperatureCharge), ("overtemperature discharge", \.overtemperatureDischarge),
            ("undertemperature charge", \.undertemperatureCharge), ("undertemperature discharge", \.undertemperatureDischarge),
            ("overcurrent charge", \.overcurrentCharge), ("overcurrent discharge", \.overcurrentDischarge),
            ("temperature rise rate", \.temperatureRiseRate),
        ]
        for (name, path) in limits {
            var configuration = testConfiguration()
            let limit = configuration.protection[keyPath: path]
            configuration.protection[keyPath: path].maximumOperating = limit.maximumSafety
            configuration.protection[keyPath: path].maximumSafety = limit.maximumOperating
            #expect(throws: ConfigurationError.protectionLimitOutOfOrder, "\(name)") { try configuration.validate() }
        }
    }

    @Test(arguments: [1_000, 2_500, 5_000, 20_000, 50_000, 100_000] as [Int32])
    func theStandardPolicyValidatesAcrossRatings(capacitymAh: Int32) throws {
        var configuration = testConfiguration(capacitymAh: capacitymAh)
        // The current sensor must cover the maximum-safety current (4C × 4/3 = 533 A at 100 Ah).
        configuration.plausibleCurrent = Milliamperes(-1_000_000)...Milliamperes(1_000_000)
        try configuration.validate()
        _ = try ControlLoop(board: TestBoard(cellVoltages: [3_700, 3_700, 3_700, 3_700]), configuration: configuration)
        // The current limits scale with the rating: 1C charge, 4C peak discharge, C/5 (≥ 1 A) stuck current.
        let p = configuration.protection
        #expect(p.overcurrentCharge.maximumOperating == capacitymAh)
        #expect(p.overcurrentDischarge.maximumOperating == -4 * capacitymAh)
        #expect(p.overcurrentCharge.hysteresis > 0 && p.overcurrentDischarge.hysteresis > 0)
        #expect(p.stuckCurrent == Milliamperes(max(1_000, capacitymAh / 5)))
        #expect(configuration.contactors.prechargeCurrentThreshold == Milliamperes(max(500, capacitymAh / 5)))
    }

    @Test func theFirstOutOfRangeSectionIsReported() {
        var configuration = testConfiguration()
        configuration.balancing.heatBudgetMilliwatts = -1
        configuration.contactors.prechargeAttempts = 0
        configuration.protection.riseWindow = .zero
        #expect(throws: ConfigurationError.protectionTimingOutOfRange) { try configuration.validate() }
        configuration.protection.riseWindow = .seconds(10)
        #expect(throws: ConfigurationError.contactorTimingOutOfRange) { try configuration.validate() }
        configuration.contactors.prechargeAttempts = 3
        #expect(throws: ConfigurationError.balancingOutOfRange) { try configuration.validate() }
    }

    @Test func errorRawValuesAreStable() {
        #expect(ConfigurationError.protectionLimitOutOfOrder.rawValue == 12)
        #expect(ConfigurationError.protectionTimingOutOfRange.rawValue == 13)
        #expect(ConfigurationError.contactorTimingOutOfRange.rawValue == 14)
        #expect(ConfigurationError.powerLimitOutOfRange.rawValue == 15)
        #expect(ConfigurationError.balancingOutOfRange.rawValue == 16)
    }

    /// A maximum-safety threshold the measurement can never show (beyond its plausible range)
    /// is a configuration error, not a fault that silently turns into an implausibility fault.
    @Test func aSafetyThresholdBeyondThePlausibleRangeIsRejected() {
        var c = testConfiguration(capacitymAh: 100_000)                // −533 A discharge MSL, ±500 A sensor
        #expect(throws: ConfigurationError.protectionLimitBeyondPlausibleRange) { try c.validate() }
        c = testConfiguration()
        c.plausibleCellVoltage = Millivolts(500)...Millivolts(4_250)    // exactly the 4.25 V MSL: unreachable
        #expect(throws: ConfigurationError.protectionLimitBeyondPlausibleRange) { try c.validate() }
        c = testConfiguration()
        c.plausibleTemperature = DeciCelsius(-400)...DeciCelsius(600)   // below the 65 °C MSL
        #expect(throws: ConfigurationError.protectionLimitBeyondPlausibleRange) { try c.validate() }
        #expect(ConfigurationError.protectionLimitBeyondPlausibleRange.rawValue == 17)
    }
}
