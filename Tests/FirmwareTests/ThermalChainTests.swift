// The pack's thermal chain on hand-worked numbers (each element's temperature between the
// sensors, the air temperature) and the usable charge simulated forward with the pack's heating.
@testable import Firmware
import HAL
import Testing

/// `linearElement` (10 Ah, OCV 3.0 + 1.2·SOC V, 20 mΩ, no RC branches) with a thermal chain and
/// temperature sensors on `sensors`.
func heatedElement(heatCapacity: Float = 100, neighbour: Float = 0, ambient: Float = 0, lag: Float = 0,
                   sensors: [UInt8] = [0], minimumVoltage: Float = 2.5) -> StateEstimationConfiguration {
    var c = linearElement(minimumVoltage: minimumVoltage)
    c.thermal = ThermalChain(heatCapacityJoulesPerKelvin: heatCapacity, neighbourConductanceWattsPerKelvin: neighbour, ambientConductanceWattsPerKelvin: ambient,
                             sensorLagSeconds: lag)
    for s in sensors { c.sensorElements.append(s) }
    return c
}

@Suite struct ThermalChainTests {
    /// An element at SOC 0.5 (OCV 3.6 V) whose filter stepped with 3.4 V at −10 A: 0.2 V × 10 A =
    /// 2 W of heat.
    func element(_ c: StateEstimationConfiguration, celsius: Float) -> ElementEstimate {
        var e = ElementEstimate(capacityAh: 10)
        e.filter.start(soc: 0.5, sigma: 0.01, tuning: c.tuning)
        e.filter.step(current: -10, voltage: 3.4, celsius: 25, seconds: 0.1, capacityAh: 10, capacityUncertainty: 0,
                      resistanceFactor: 1, model: c.cellModel, tuning: c.tuning)
        e.celsius = celsius
        e.chainCelsius = 30
        return e
    }

    @Test func theFilterMeasuresTheHeatingVoltage() {
        let c = heatedElement()
        let e = element(c, celsius: 25)
        #expect(abs(e.filter.heatingVoltage + 0.2) < 1e-4)
        #expect(e.filter.previousCurrent == -10)
        // Without a voltage: no heat.
        var blind = e
        blind.filter.step(current: -10, voltage: nil, celsius: 25, seconds: 0.1, capacityAh: 10, capacityUncertainty: 0,
                          resistanceFactor: 1, model: c.cellModel, tuning: c.tuning)
        #expect(blind.filter.heatingVoltage == 0)
    }

    @Test func aNodeBetweenSensorsIntegratesItsHeatLessWhatItConducts() {
        // 2 W in; to the neighbours at 32 and 28 °C through 0.5 W/K each: +1 − 1 W; to the air at
        // 20 °C through 0.1 W/K: −1 W. 1 W into 100 J/K for 10 s: +0.1 K.
        let c = heatedElement(neighbour: 0.5, ambient: 0.1)
        var e = element(c, celsius: 25)
        e.advanceThermalChain(left: 32, right: 28, ambient: 20, sensed: false, seconds: 10, c)
        #expect(abs(e.chainCelsius - 30.1) < 1e-3)
        // An end element (no right neighbour): 2 + 1 − 1 = 2 W, +0.2 K.
        e.chainCelsius = 30
        e.advanceThermalChain(left: 32, right: .nan, ambient: 20, sensed: false, seconds: 10, c)
        #expect(abs(e.chainCelsius - 30.2) < 1e-3)
        // A node not started yet (NaN) starts from its sensor's temperature: 25 °C, so 2 W + 3.5 + 1.5 − 0.5 W.
        e.chainCelsius = .nan
        e.advanceThermalChain(left: 32, right: 28, ambient: 20, sensed: false, seconds: 10, c)
        #expect(abs(e.chainCelsius - (25 + (2 + 3.5 + 1.5 - 0.5) / 10)) < 1e-3)
    }

    @Test func aSensedNodeIsItsReadingAheadByTheSensorsLag() {
        // The node of the test above rises 1 W / 100 J/K = 0.01 K/s; its sensor reads 29.5 °C and
        // trails by 10 s: the node is 29.5 + 10 × 0.01 = 29.6 °C.
        let c = heatedElement(neighbour: 0.5, ambient: 0.1, lag: 10)
        var e = element(c, celsius: 29.5)
        e.advanceThermalChain(left: 32, right: 28, ambient: 20, sensed: true, seconds: 0.1, c)
        #expect(abs(e.chainCelsius - 29.6) < 1e-4)
    }

    @Test func theAirIsTheCoolestSensorFirstThenAgainOnlyAfterThreeCoolingTimeConstantsOfRest() {
        // 100 J/K and 0.05 W/K to the air: a 2,000 s time constant, 6,000 s of rest.
        let c = heatedElement(neighbour: 0.5, ambient: 0.05)
        #expect(c.thermal.ambientRestSeconds == 6_000)
        var e = PackStateEstimator(cellCount: 1, configuration: c)
        #expect(e.ambientCelsius.isNaN)
        e.estimateAmbient(coolest: 30)
        #expect(e.ambientCelsius == 30)
        // Driving or a shorter rest: held.
        e.elements[0].filter.restSeconds = 5_999
        e.estimateAmbient(coolest: 40)
        #expect(e.ambientCelsius == 30)
        // Rested long enough: the coolest sensor again.
        e.elements[0].filter.restSeconds = 6_000
        e.estimateAmbient(coolest: 40)
        #expect(e.ambientCelsius == 40)
    }

    @Test func theChainRunsInTheLoopWithTheSensorsReadings() throws {
        // Four elements at rest, sensors on the first and last reading 20.0 and 40.0 °C: the
        // sensed nodes take the readings; the two between settle on the straight line between
        // them (no heat, no air: conduction only), 26.7 and 33.3 °C.
        let c = heatedElement(heatCapacity: 4, neighbour: 1, sensors: [0, 3])
        var h = try LoopHarness(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600], temperatures: [200, 400]),
                                configuration: testConfiguration(capacitymAh: 10_000), estimation: c)
        for _ in 0..<40_000 { h.tick() }
        let chain = (0..<4).map { h.loop.estimator.elements[$0].chainCelsius }
        #expect(abs(chain[0] - 20) < 0.01 && abs(chain[3] - 40) < 0.01)
        #expect(abs(chain[1] - 80 / 3) < 0.05 && abs(chain[2] - 100 / 3) < 0.05)
        #expect(h.loop.estimator.ambientCelsius == 20)
        // The sensor on the last element fails: its node is no longer held at 40 °C but conducts
        // through the chain towards the first sensor's 20 °C (the slowest mode, about 20 s, has
        // not quite died out after 40 s: about 21, 22 and 22.4 °C).
        h.loop.board.cellMonitor.temperatures[1] = nil
        for _ in 0..<40_000 { h.tick() }
        let after = (0..<4).map { h.loop.estimator.elements[$0].chainCelsius }
        #expect(abs(after[0] - 20) < 0.01)
        #expect(after[1] > 20 && after[1] < after[2] && after[2] < after[3] && after[3] < 23)
    }

    @Test func withoutAChainTheForwardDischargeEndsWhereTheCutOffSearchDoes() throws {
        // `usableChargeIsWhatIsLeftAboveTheCutOffUnderLoad`'s element: 6.333 Ah at 10 A from SOC 0.8.
        let c = linearElement(minimumVoltage: 3.0)
        var e = PackStateEstimator(cellCount: 1, configuration: c)
        e.elements[0].filter.start(soc: 0.8, sigma: 0.01, tuning: c.tuning)
        let forward = try #require(e.usableCharge(atDischarge: 10, sensorLimitCelsius: 60))
        #expect(forward.end == .voltage && forward.element == 0)
        #expect(abs(forward.ampereHours - 6.333) < 0.005)
    }

    @Test func theRCBranchesSettleToTheCutOffTheSearchFinds() throws {
        // R0 20 mΩ, R1 = R2 = 10 mΩ (τ 10 and 100 s): 10 A sags 0.4 V once the branches have
        // settled, so the loaded voltage 2.6 + 1.2·SOC reaches 3.0 V at SOC 1/3: (0.8 − 1/3) ×
        // 10 Ah = 4.667 Ah, as the cut-off search says; the branches, starting from 0 V, settle
        // within minutes of the 28-minute discharge.
        var c = linearElement(minimumVoltage: 3.0)
        c.cellModel.r1.fill(constant: 0.01)
        c.cellModel.r2.fill(constant: 0.01)
        var e = PackStateEstimator(cellCount: 1, configuration: c)
        e.elements[0].filter.start(soc: 0.8, sigma: 0.01, tuning: c.tuning)
        let search = try #require(e.usableCharge(atDischarge: 10, celsius: 25))
        #expect(abs(search.ampereHours - 4.667) < 0.005)
        let forward = try #require(e.usableCharge(atDischarge: 10, sensorLimitCelsius: 60))
        #expect(forward.end == .voltage)
        #expect(abs(forward.ampereHours - 4.667) < 0.005)
    }

    @Test func theEarliestCrossingInAStepEndsTheDischarge() throws {
        // Two elements 0.0025 of SOC apart cross the minimum 9 s apart, within one 10 s step:
        // the weaker (the second) ends it, at (0.7975 − 1/6) × 10 Ah = 6.308 Ah.
        let c = linearElement(minimumVoltage: 3.0)
        var e = PackStateEstimator(cellCount: 2, configuration: c)
        e.elements[0].filter.start(soc: 0.8, sigma: 0.01, tuning: c.tuning)
        e.elements[1].filter.start(soc: 0.7975, sigma: 0.01, tuning: c.tuning)
        let forward = try #require(e.usableCharge(atDischarge: 10, sensorLimitCelsius: 60))
        #expect(forward.element == 1)
        #expect(abs(forward.ampereHours - 6.308) < 0.002)
    }

    @Test func aCrossingInTheFirstStepIsInterpolatedFromTheLoadedVoltageNow() throws {
        // 10 A on 20 mΩ: the loaded voltage 2.8 + 1.2·SOC reaches 3.0 V at SOC 1/6. Started
        // 5 s of charge above it, the discharge ends after 5 s (0.0139 Ah), inside the first
        // 10 s step; started at 0.1 (2.92 V under the load) nothing is usable.
        let c = linearElement(minimumVoltage: 3.0)
        var e = PackStateEstimator(cellCount: 1, configuration: c)
        e.elements[0].filter.start(soc: 1.0 / 6 + 50.0 / 36_000, sigma: 0.01, tuning: c.tuning)
        let soon = try #require(e.usableCharge(atDischarge: 10, sensorLimitCelsius: 60))
        #expect(soon.end == .voltage)
        #expect(abs(soon.ampereHours - 50.0 / 3_600) < 0.0005)
        e.elements[0].filter.start(soc: 0.1, sigma: 0.01, tuning: c.tuning)
        let none = try #require(e.usableCharge(atDischarge: 10, sensorLimitCelsius: 60))
        #expect(none.end == .voltage && none.ampereHours == 0)
    }

    @Test(arguments: [(Float(1_007), ForwardDischarge.End.temperature, Float(1_003)), (1_002, .voltage, 1_002)])
    func aSensorAndAVoltageCrossingInOneStepEndItInTheirOrder(voltageSeconds: Float, end: ForwardDischarge.End,
                                                               seconds: Float) throws {
        // The adiabatic element below (2 W into 100 J/K from 25 °C, its sensor without lag)
        // reaches 45.06 °C after 1,003 s, inside the step from 1,000 to 1,010 s; the minimum
        // voltage is set where the loaded voltage 2.8 + 1.2·SOC is at 1,007 s (after the
        // sensor), then at 1,002 s (before it): whichever crosses first within the step ends it.
        var c = heatedElement()
        c.cellModel.minimumVoltage = 2.8 + 1.2 * (0.8 - 10 * voltageSeconds / 36_000)
        var e = PackStateEstimator(cellCount: 1, configuration: c)
        e.elements[0].filter.start(soc: 0.8, sigma: 0.01, tuning: c.tuning)
        e.elements[0].celsius = 25
        e.elements[0].chainCelsius = 25
        let forward = try #require(e.usableCharge(atDischarge: 10, sensorLimitCelsius: 45.06))
        #expect(forward.end == end)
        #expect(abs(forward.ampereHours - 10 * seconds / 3_600) < 0.0005)
    }

    @Test func theReversibleHeatCountsInTheForwardDischarge() throws {
        // The adiabatic element below with dOCV/dT = +0.1 mV/K: discharging it absorbs
        // I·T·dOCV/dT = 10 A × T × 0.1 mV/K (0.30 W at 25 °C) of its 2 W. C·dT/dt = 2 − 0.001·T
        // (T in K): T(t) = 2,000 − 1,701.85·exp(−t / 100,000 s) reaches 318.15 K (45 °C) after
        // 1,182 s: 3.284 Ah.
        var c = heatedElement()
        c.cellModel.sample(ocv: { 3.0 + 1.2 * $0 }, entropic: { _ in 1e-4 })
        var e = PackStateEstimator(cellCount: 1, configuration: c)
        e.elements[0].filter.start(soc: 0.8, sigma: 0.01, tuning: c.tuning)
        e.elements[0].celsius = 25
        e.elements[0].chainCelsius = 25
        let forward = try #require(e.usableCharge(atDischarge: 10, sensorLimitCelsius: 45))
        #expect(forward.end == .temperature)
        #expect(abs(forward.ampereHours - 3.284) < 0.003)
    }

    @Test(arguments: [(Float(0), Float(1_000)), (50, 1_050)])
    func anAdiabaticElementTripsAfterItsHeatCapacityTimesTheRiseOverI2R(lag: Float, seconds: Float) throws {
        // 10 A through 20 mΩ: 2 W into 100 J/K, 0.02 K/s; 25 → 45 °C takes 1,000 s (2.778 Ah).
        // A sensor trailing by 50 s reads 45 °C when the element is at 46 °C: 1,050 s (2.917 Ah).
        let c = heatedElement(lag: lag)
        var e = PackStateEstimator(cellCount: 1, configuration: c)
        e.elements[0].filter.start(soc: 0.8, sigma: 0.01, tuning: c.tuning)
        e.elements[0].celsius = 25
        e.elements[0].chainCelsius = 25
        let forward = try #require(e.usableCharge(atDischarge: 10, sensorLimitCelsius: 45))
        #expect(forward.end == .temperature && forward.element == 0)
        #expect(abs(forward.ampereHours - 10 * seconds / 3_600) < 0.003)
    }

    @Test func theSensorNextToAWeakElementEndsTheDischargeSooner() throws {
        // Four elements, sensors on the first and last; the third has twice the resistance. Its
        // extra heat reaches the last sensor first, and sooner than with four equal elements.
        let c = heatedElement(neighbour: 0.5, ambient: 0.05, lag: 10, sensors: [0, 3])
        func discharge(weak: Float) throws -> ForwardDischarge {
            var e = PackStateEstimator(cellCount: 4, configuration: c)
            for i in 0..<4 {
                e.elements[i].filter.start(soc: 0.9, sigma: 0.01, tuning: c.tuning)
                e.elements[i].celsius = 25
                e.elements[i].chainCelsius = 25
            }
            e.ambientCelsius = 25
            e.elements[2].resistanceFactor = weak
            return try #require(e.usableCharge(atDischarge: 10, sensorLimitCelsius: 45))
        }
        let equal = try discharge(weak: 1), weak = try discharge(weak: 2)
        #expect(equal.end == .temperature && weak.end == .temperature)
        #expect(weak.element == 3)
        #expect(weak.ampereHours < equal.ampereHours * 0.95)
    }

    @Test func anOutOfRangeThermalChainIsRefused() throws {
        // The fastest mode is C/(4·G_n + G_a): 1 J/K against 4 × 0.25 W/K is 1 s, the limit
        // (accepted); 0.99 J/K is 0.99 s (refused: the loop's 100 ms step would be too coarse).
        _ = try ControlLoop(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600]), configuration: testConfiguration(),
                            estimation: heatedElement(heatCapacity: 1, neighbour: 0.25))
        #expect(throws: ConfigurationError.estimatorTuningOutOfRange) {
            _ = try ControlLoop(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600]), configuration: testConfiguration(),
                                estimation: heatedElement(heatCapacity: 0.99, neighbour: 0.25))
        }
        #expect(throws: ConfigurationError.estimatorTuningOutOfRange) {
            _ = try ControlLoop(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600]), configuration: testConfiguration(),
                                estimation: heatedElement(heatCapacity: -100))
        }
        #expect(throws: ConfigurationError.estimatorTuningOutOfRange) {
            _ = try ControlLoop(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600]), configuration: testConfiguration(),
                                estimation: heatedElement(neighbour: -1))
        }
        #expect(throws: ConfigurationError.estimatorTuningOutOfRange) {
            _ = try ControlLoop(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600]), configuration: testConfiguration(),
                                estimation: heatedElement(heatCapacity: .nan))
        }
    }
}
