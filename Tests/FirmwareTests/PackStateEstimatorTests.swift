// The pack's state estimation on hand-worked numbers: the display SOC, capacity from two relaxed
// points, resistance from current steps, the usable charge at a load, and the loop wiring.
@testable import Firmware
import Foundation
import HAL
import Testing

/// A 10 Ah element: OCV 3.0 + 1.2·SOC V, R0 20 mΩ, no RC branches, a charge-transfer term too
/// small to matter (exchange current 10 kA), no hysteresis, 2.5…4.2 V.
func linearElement(r0: Float = 0.02, minimumVoltage: Float = 2.5, tau2: Float = 100) -> StateEstimationConfiguration {
    StateEstimationConfiguration(cellModel: CellModelTable(
        ocv: { 3.0 + 1.2 * $0 }, entropic: { _ in 0 }, r0: CellParameterGrid(constant: r0),
        exchangeCurrent: CellParameterGrid(constant: 10_000), r1: CellParameterGrid(constant: 0), tau1: CellParameterGrid(constant: 10),
        r2: CellParameterGrid(constant: 0), tau2: CellParameterGrid(constant: tau2), hysteresisVoltage: 0, hysteresisRate: 0,
        capacityAh: 10, coulombicEfficiency: 1, minimumVoltage: minimumVoltage, maximumVoltage: 4.2))
}

@Suite struct PackStateEstimatorTests {
    @Test(arguments: [([0.5, 0.5], 0.5), ([0.3, 0.8], 0.3 / 0.5), ([0.0, 0.6], 0.0), ([0.4, 1.0], 1.0), ([0.2, 0.2, 0.9], 0.2 / 0.3)]
          as [([Float], Float)])
    func theDisplaySOCRunsFromTheWeakestEmptyToTheStrongestFull(socs: [Float], expected: Float) {
        // min / (min + 1 − max): 0 when the weakest element is empty, 1 when the strongest is full.
        let c = linearElement()
        var e = PackStateEstimator(cellCount: socs.count, configuration: c)
        for (i, soc) in socs.enumerated() { e.elements[i].filter.start(soc: soc, sigma: 0.01, tuning: c.tuning) }
        e.refreshPack()
        #expect(abs((e.stateOfCharge ?? -1) - expected) < 1e-6)
        #expect(e.lowestStateOfCharge == socs.min())
        #expect(e.highestStateOfCharge == socs.max())
        // The bound is the widest element's: σ = 0.01 → 3σ = 0.03.
        #expect(abs((e.bound ?? 0) - 0.03) < 1e-6)
    }

    @Test func capacityComesFromTwoRelaxedPointsAndTheChargeBetween() {
        let c = linearElement()
        var e = PackStateEstimator(cellCount: 1, configuration: c)
        e.elements[0].filter.start(soc: 0.9, sigma: 0.01, tuning: c.tuning)
        e.elements[0].resistanceUpdates = 1
        // First rest at 4.08 V = SOC 0.9: the anchor.
        e.elements[0].filter.restSeconds = c.relaxation
        e.relaxedPoint(0, voltage: 3.0 + 1.2 * 0.9, celsius: 25)
        #expect(e.elements[0].capacityUpdates == 0)
        // 4.05 Ah out, then a rest at SOC 0.45: 4.05 Ah / 0.45 = 9.0 Ah.
        e.elements[0].chargeAs = -4.05 * 3_600
        e.elements[0].restUsed = false
        e.relaxedPoint(0, voltage: 3.0 + 1.2 * 0.45, celsius: 25)
        #expect(e.elements[0].capacityUpdates == 1)
        #expect(abs(e.elements[0].capacityAh - 9.0) < 0.01)
        // The second measurement (9.5 Ah over a span of 0.5) is smoothed: weight 0.2 × 0.5 = 0.1.
        e.elements[0].chargeAs += 0.5 * 9.5 * 3_600
        e.elements[0].restUsed = false
        e.relaxedPoint(0, voltage: 3.0 + 1.2 * 0.95, celsius: 25)
        #expect(e.elements[0].capacityUpdates == 2)
        #expect(abs(e.elements[0].capacityAh - (9.0 + 0.1 * 0.5)) < 0.01)
        #expect(e.capacityHealth < 1)
    }

    @Test func theFirstCapacityMeasurementForgetsTheOffsetLearntWithTheWrongCapacity() {
        // The model says 10 Ah; the cell holds 8 Ah. Driven from SOC 0.9 to 0.45 at 5 A, it loses
        // SOC faster than counted, and the filter puts part of that into the current offset (a
        // discharge offset). The capacity measured at the next rest explains it all: the offset
        // goes back to zero, else it would go on draining the SOC with the capacity now right.
        let c = linearElement()
        var e = PackStateEstimator(cellCount: 1, configuration: c)
        e.elements[0].filter.start(soc: 0.9, sigma: 0.01, tuning: c.tuning)
        e.elements[0].resistanceUpdates = 1
        let trueAh: Float = 8
        var soc: Float = 0.9
        // `seconds` of `amperes` (+ = charging) on the true cell, the filter stepped every second.
        func run(amperes: Float, seconds: Int) {
            for _ in 0..<seconds {
                soc += amperes / (3_600 * trueAh)
                e.elements[0].chargeAs += amperes
                e.elements[0].filter.step(current: amperes, voltage: 3.0 + 1.2 * soc + 0.02 * amperes, celsius: 25, seconds: 1,
                                          capacityAh: e.elements[0].capacityAh,
                                          capacityUncertainty: e.elements[0].capacityUpdates > 0 ? c.measuredCapacityUncertainty : c.newCapacityUncertainty,
                                          resistanceFactor: 1, model: c.cellModel, tuning: c.tuning)
            }
        }
        // A relaxed point at the true SOC (the rest's voltage less the filter's RC voltages is its OCV).
        func relax() {
            e.elements[0].restUsed = false
            e.elements[0].filter.restSeconds = c.relaxation
            e.relaxedPoint(0, voltage: 3.0 + 1.2 * soc + e.elements[0].filter.v1 + e.elements[0].filter.v2, celsius: 25)
        }
        relax()
        run(amperes: -5, seconds: Int(0.45 * trueAh * 3_600 / 5))
        #expect(e.elements[0].filter.currentOffset < -0.05)
        let socVariance = e.elements[0].filter.p[0]
        relax()
        #expect(e.elements[0].capacityUpdates == 1)
        #expect(abs(e.elements[0].capacityAh - trueAh) < 0.01)
        // Zero, with its initial uncertainty and no correlation with SOC or the RC voltages; the
        // SOC's own variance untouched.
        let p = e.elements[0].filter.p
        #expect(e.elements[0].filter.currentOffset == 0)
        #expect([p[3], p[7], p[11], p[12], p[13], p[14]] == [0, 0, 0, 0, 0, 0])
        #expect(p[15] == c.tuning.initialOffsetSigma * c.tuning.initialOffsetSigma)
        #expect(p[0] == socVariance)
        // What the offset learns from then on is kept by later measurements (the capacity was right).
        run(amperes: 5, seconds: Int(0.5 * trueAh * 3_600 / 5))
        let learnt = e.elements[0].filter.currentOffset
        relax()
        #expect(e.elements[0].capacityUpdates == 2)
        #expect(learnt != 0)
        #expect(e.elements[0].filter.currentOffset == learnt)
    }

    @Test func aShortRestIsExtrapolatedToItsEndWithTheSlowTimeConstant() {
        // τ2 = 100 s. The rest voltage relaxes as OCV − A·e^(−t/τ2) with A = 50 mV towards the OCV
        // of SOC 0.5 (3.6 V). At 420 s it still reads 0.75 mV low (0.06 points of SOC); from the
        // sample at 120 s the exponential is extrapolated to 3.6000 V: the capacity from a night's
        // anchor at SOC 0.95 and 4.5 Ah between comes out at 4.5 / 0.45 = 10 Ah.
        let c = linearElement(tau2: 100)
        var e = PackStateEstimator(cellCount: 1, configuration: c)
        e.elements[0].filter.start(soc: 0.95, sigma: 0.01, tuning: c.tuning)
        e.elements[0].resistanceUpdates = 1
        e.elements[0].filter.restSeconds = c.tuning.anchorRest
        e.relaxedPoint(0, voltage: 3.0 + 1.2 * 0.95, celsius: 25)
        e.elements[0].chargeAs = -4.5 * 3_600
        e.elements[0].restUsed = false
        func resting(_ t: Float) -> Float { 3.6 - 0.05 * Float(exp(-Double(t) / 100)) }
        e.elements[0].earlyRestVoltage = resting(120)
        e.elements[0].earlyRestSeconds = 120
        e.elements[0].filter.restSeconds = 420
        e.relaxedPoint(0, voltage: resting(420), celsius: 25)
        #expect(e.elements[0].capacityUpdates == 1)
        #expect(abs(e.elements[0].capacityAh - 10) < 0.01)
    }

    @Test func remainingLifeExtrapolatesTheCapacityTrendToEightyPercent() {
        // Capacity SOH 1.00 at 0 cycles and 0.99 at 100: −1e-4 per cycle reaches 0.80 at 2,000
        // cycles, 1,900 after the present 100. Unknown with one point, or without a fade.
        let c = linearElement()
        var e = PackStateEstimator(cellCount: 2, configuration: c)
        e.recordTrend()
        #expect(e.remainingCycles == nil)
        e.equivalentFullCycles = 100
        for i in 0..<2 { e.elements[i].capacityAh = 9.9 }
        e.recordTrend()
        #expect(abs((e.remainingCycles ?? 0) - 1_900) < 1)
        var flat = PackStateEstimator(cellCount: 2, configuration: c)
        flat.recordTrend()
        flat.equivalentFullCycles = 100
        flat.recordTrend()
        #expect(flat.remainingCycles == nil)
    }

    @Test func capacityIsNotMeasuredOutsideItsGates() {
        let c = linearElement()
        func attempt(span: Float, celsius: Float, rest: Float, resistanceKnown: Bool) -> UInt16 {
            var e = PackStateEstimator(cellCount: 1, configuration: c)
            e.elements[0].filter.start(soc: 0.9, sigma: 0.01, tuning: c.tuning)
            e.elements[0].resistanceUpdates = resistanceKnown ? 1 : 0
            e.elements[0].filter.restSeconds = rest
            e.relaxedPoint(0, voltage: 3.0 + 1.2 * 0.9, celsius: celsius)
            e.elements[0].chargeAs = -span * 10 * 3_600
            e.elements[0].restUsed = false
            e.relaxedPoint(0, voltage: 3.0 + 1.2 * (0.9 - span), celsius: celsius)
            return e.elements[0].capacityUpdates
        }
        #expect(attempt(span: 0.5, celsius: 25, rest: c.relaxation, resistanceKnown: true) == 1)
        #expect(attempt(span: 0.35, celsius: 25, rest: c.relaxation, resistanceKnown: true) == 0)       // too little charge
        #expect(attempt(span: 0.5, celsius: 5, rest: c.relaxation, resistanceKnown: true) == 0)         // too cold
        #expect(attempt(span: 0.5, celsius: 25, rest: c.relaxation - 1, resistanceKnown: true) == 0)    // not relaxed
        #expect(attempt(span: 0.5, celsius: 25, rest: c.relaxation, resistanceKnown: false) == 0)       // RC voltages unknown
        #expect(attempt(span: 0.5, celsius: 25, rest: c.tuning.anchorRest, resistanceKnown: false) == 1) // long rest: relaxed anyway
    }

    @Test func usableChargeIsWhatIsLeftAboveTheCutOffUnderLoad() {
        // 10 A through 20 mΩ sags 0.2 V: the loaded voltage 2.8 + 1.2·SOC reaches 3.0 V at
        // SOC 1/6, so from SOC 0.8 there are (0.8 − 1/6) × 10 Ah = 6.333 Ah left; with twice the
        // resistance the cut-off comes at SOC 1/3: 4.667 Ah.
        let c = linearElement(minimumVoltage: 3.0)
        var e = PackStateEstimator(cellCount: 2, configuration: c)
        e.elements[0].filter.start(soc: 0.8, sigma: 0.01, tuning: c.tuning)
        e.elements[1].filter.start(soc: 0.9, sigma: 0.01, tuning: c.tuning)
        let usable = try! #require(e.usableCharge(atDischarge: 10, celsius: 25))
        #expect(abs(usable.ampereHours - 6.333) < 0.01)
        #expect(usable.element == 0)
        e.elements[1].resistanceFactor = 2
        e.elements[1].filter.start(soc: 0.8, sigma: 0.01, tuning: c.tuning)
        let weak = try! #require(e.usableCharge(atDischarge: 10, celsius: 25))
        #expect(abs(weak.ampereHours - 4.667) < 0.01)
        #expect(weak.element == 1)
    }

    @Test func theCutOffSOCIsSearchedAgainOnlyWhenTheCurrentTemperatureOrResistanceMoved() throws {
        // The element of the test above: at 10 A the cut-off is at SOC 1/6. The SOC moving does
        // not search again (the usable charge follows it); 0.1 K does not either (a sensor's last
        // digit flickering), 0.2 K does; so do a new resistance factor and a new current (20 A
        // through 20 mΩ: the cut-off at SOC 1/3).
        let c = linearElement(minimumVoltage: 3.0)
        var e = PackStateEstimator(cellCount: 1, configuration: c)
        e.elements[0].filter.start(soc: 0.8, sigma: 0.01, tuning: c.tuning)
        #expect(e.elements[0].cutoff.factor == 0)                               // none yet
        #expect(abs(e.usableCharge(element: 0, atDischarge: 10, celsius: 25) - 6.333) < 0.01)
        #expect(e.elements[0].cutoff.celsius == 25 && e.elements[0].cutoff.factor == 1)
        #expect(abs(e.elements[0].cutoff.soc - 1.0 / 6) < 1e-4)
        e.elements[0].filter.start(soc: 0.5, sigma: 0.01, tuning: c.tuning)
        #expect(abs(e.usableCharge(element: 0, atDischarge: 10, celsius: 25.1) - 3.333) < 0.01)
        #expect(e.elements[0].cutoff.celsius == 25)                              // kept
        _ = e.usableCharge(element: 0, atDischarge: 10, celsius: 25.2)
        #expect(e.elements[0].cutoff.celsius == 25.2)                            // searched again
        e.elements[0].resistanceFactor = 2
        #expect(abs(e.usableCharge(element: 0, atDischarge: 10, celsius: 25.2) - (0.5 - 1.0 / 3) * 10) < 0.01)
        #expect(e.elements[0].cutoff.factor == 2)
        e.elements[0].resistanceFactor = 1
        #expect(abs(e.usableCharge(element: 0, atDischarge: 10, celsius: 25.2) - (0.5 - 1.0 / 6) * 10) < 0.01)
        // Only the current changes: 20 A through 20 mΩ puts the cut-off at SOC 1/3.
        #expect(abs(e.usableCharge(element: 0, atDischarge: 20, celsius: 25.2) - (0.5 - 1.0 / 3) * 10) < 0.01)
        #expect(e.cutoffCurrent == 20 && abs(e.elements[0].cutoff.soc - 1.0 / 3) < 1e-4)
    }

    @Test func nothingIsUsableWhenTheLoadedVoltageIsAlreadyAtTheMinimumAtTheElementsSOC() {
        // A loaded voltage that dips as SOC rises (like ncr18650pf's cold rows): R1 0.08 Ω at SOC
        // 0.8 only (none at 0.7 and 0.9), so at 10 A the loaded voltage 3.0 + 1.2·SOC − 0.2 − 10·R1
        // is 2.96 V at SOC 0.8, below the 3.0 V minimum, and above it at 0.7 and 0.9. The kept
        // cut-off (a crossing at SOC 1/6) would leave 6.3 Ah; the element at SOC 0.8 has none.
        var c = linearElement(minimumVoltage: 3.0)
        c.cellModel.r1 = CellParameterGrid(temperatures: CellParameterGrid.constantRows) { soc, _ in abs(soc - 0.8) < 0.01 ? 0.08 : 0 }
        var e = PackStateEstimator(cellCount: 1, configuration: c)
        e.elements[0].filter.start(soc: 0.8, sigma: 0.01, tuning: c.tuning)
        #expect(e.usableCharge(element: 0, atDischarge: 10, celsius: 25) == 0)
        e.elements[0].filter.start(soc: 0.95, sigma: 0.01, tuning: c.tuning)
        #expect(e.usableCharge(element: 0, atDischarge: 10, celsius: 25) > 0)
    }

    @Test func aSurveyOneElementAtATimeGivesTheUsableChargeOnceItsLastElementIsDone() throws {
        // Three elements at SOC 0.8, 0.6 and 0.6 (the first of the two weakest is named); nothing
        // until the last element's step, then the same figure as all at once, kept until the next
        // survey's end. Before the filters start, a survey gives nil.
        let c = linearElement(minimumVoltage: 3.0)
        var e = PackStateEstimator(cellCount: 3, configuration: c)
        for i in 0..<3 { e.surveyUsableCharge(element: i, atDischarge: 10) }
        #expect(e.surveyedUsableCharge == nil)
        for (i, soc) in [Float(0.8), 0.6, 0.6].enumerated() { e.elements[i].filter.start(soc: soc, sigma: 0.01, tuning: c.tuning) }
        e.surveyUsableCharge(element: 0, atDischarge: 10)
        e.surveyUsableCharge(element: 1, atDischarge: 10)
        #expect(e.surveyedUsableCharge == nil)
        e.surveyUsableCharge(element: 2, atDischarge: 10)
        let all = try #require(e.usableCharge(atDischarge: 10))
        let surveyed = try #require(e.surveyedUsableCharge)
        #expect(surveyed.ampereHours == all.ampereHours && surveyed.element == 1 && all.element == 1)
        e.elements[0].filter.start(soc: 0.2, sigma: 0.01, tuning: c.tuning)
        e.surveyUsableCharge(element: 0, atDischarge: 10)
        #expect(e.surveyedUsableCharge?.element == 1)
        e.surveyUsableCharge(element: 1, atDischarge: 10)
        e.surveyUsableCharge(element: 2, atDischarge: 10)
        #expect(e.surveyedUsableCharge?.element == 0)
    }

    @Test func theLoopMeasuresResistanceFromCurrentSteps() throws {
        // testConfiguration: 4 cells. Cell 2 has twice the model's 20 mΩ, the others the model's.
        var h = try LoopHarness(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600]),
                                configuration: testConfiguration(capacitymAh: 10_000), estimation: linearElement())
        for _ in 0..<200 { h.tick() }
        #expect(h.loop.estimator.elements[0].resistanceUpdates == 0)
        // Four steps of ±10 A (1C) between 100 ms updates: 400 mV on cell 2, 200 mV (10 A × 20 mΩ) on the others.
        for k in 0..<4 {
            let discharging = k % 2 == 0
            h.loop.board.currentSensor.current = Milliamperes(discharging ? -10_000 : 0)
            h.loop.board.cellMonitor.cellVoltages = (0..<4).map { Millivolts(discharging ? 3_600 - ($0 == 1 ? 400 : 200) : 3_600) }
            for _ in 0..<100 { h.tick() }
        }
        let e = h.loop.estimator.elements
        #expect(e[1].resistanceUpdates == 1)
        #expect(abs(e[1].resistanceFactor - 2) < 0.02)
        #expect(abs(e[0].resistanceFactor - 1) < 0.02)
        #expect(h.loop.estimator.resistanceHealth == e[1].resistanceFactor)
    }

    @Test func theLoopRunsTheEstimationEvery10msOnlyWithACellModel() throws {
        var with = try LoopHarness(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600]),
                                   configuration: testConfiguration(capacitymAh: 10_000), estimation: linearElement())
        var without = try LoopHarness(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600]),
                                      configuration: testConfiguration(capacitymAh: 10_000))
        var ran = 0
        for _ in 0..<1_000 {
            with.tick(); without.tick()
            if with.loop.lastTickStages.contains(.stateEstimation) { ran += 1 }
            #expect(!without.loop.lastTickStages.contains(.stateEstimation))
        }
        #expect(ran == 100)
        // 3.6 V at rest on the linear OCV is SOC 0.5; the loop shows it with its bound.
        #expect(abs((with.loop.stateOfCharge ?? 0) - 0.5) < 0.005)
        #expect(with.loop.estimator.bound.map { $0 > 0 && $0 < 0.2 } == true)
        #expect(!without.loop.estimator.isEnabled)
    }

    @Test func everyElementTakesItsNearestValidSensorsTemperature() throws {
        // Sensors on elements 1 and 4 (0-based 0 and 3) read 20.0 and 40.0 °C: elements 1–2 take
        // 20, 3–4 take 40; with the second sensor invalid, all take 20; without places, the mean.
        var placed = linearElement()
        placed.sensorElements.append(0)
        placed.sensorElements.append(3)
        var h = try LoopHarness(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600], temperatures: [200, 400]),
                                configuration: testConfiguration(capacitymAh: 10_000), estimation: placed)
        for _ in 0..<200 { h.tick() }
        #expect((0..<4).map { h.loop.estimator.elements[$0].celsius } == [20, 20, 40, 40])
        h.loop.board.cellMonitor.temperatures[1] = nil
        for _ in 0..<200 { h.tick() }
        #expect((0..<4).map { h.loop.estimator.elements[$0].celsius } == [20, 20, 20, 20])
        var unplaced = try LoopHarness(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600], temperatures: [200, 400]),
                                       configuration: testConfiguration(capacitymAh: 10_000), estimation: linearElement())
        for _ in 0..<200 { unplaced.tick() }
        #expect((0..<4).map { unplaced.loop.estimator.elements[$0].celsius } == [30, 30, 30, 30])
    }

    @Test func anOutOfRangeEstimationConfigurationIsRefused() {
        var bad = linearElement()
        bad.capacityMinimumSpan = 0
        #expect(throws: ConfigurationError.estimatorTuningOutOfRange) {
            _ = try ControlLoop(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600]), configuration: testConfiguration(),
                                estimation: bad)
        }
        var badModel = linearElement()
        badModel.cellModel.capacityAh = 0
        #expect(throws: ConfigurationError.cellModelOutOfRange) {
            _ = try ControlLoop(board: TestBoard(cellVoltages: [3_600, 3_600, 3_600, 3_600]), configuration: testConfiguration(),
                                estimation: badModel)
        }
    }
}
