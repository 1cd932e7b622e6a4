// Cell models: the shipped ones load, tables interpolate as documented, the circuit steps match
// hand-worked numbers, and identification recovers a circuit it is given.
import Foundation
@testable import HostHarness
import Testing

@Suite struct CellModelTests {
    @Test(arguments: ["lg-m50", "ncr18650pf", "lfp-26650"])
    func shippedModelsLoadAndRoundTrip(name: String) throws {
        let model = try CellModel.load(name)
        #expect(model.name == name)
        #expect(model.openCircuitVoltage[1] <= model.maximumVoltage + 0.05)
        // Writing and reading again gives the same model (to the printed precision).
        let again = try CellModel.parse(Data(model.json.utf8), file: "\(name).json")
        #expect(again.json == model.json)
    }

    @Test func ocvInterpolatesLinearlyAndClamps() throws {
        let model = try CellModel.load("lg-m50")
        // Table: SOC 0.00 -> 2.50000 V, 0.01 -> 2.71143 V; halfway is 2.605715 V.
        #expect(abs(model.openCircuitVoltage[0.005] - 2.605715) < 1e-9)
        #expect(model.openCircuitVoltage[-0.1] == 2.5)
        #expect(model.openCircuitVoltage[1.2] == model.openCircuitVoltage.y.last)
    }

    @Test func lfpHasAFlatPlateauAndHysteresis() throws {
        let model = try CellModel.load("lfp-26650")
        // 20 % ... 80 % SOC within 70 mV (3.25 -> 3.31 V): the flat LFP plateau, against 500 mV for NMC.
        #expect(model.openCircuitVoltage[0.8] - model.openCircuitVoltage[0.2] < 0.07)
        let nmc = try CellModel.load("lg-m50")
        #expect(nmc.openCircuitVoltage[0.8] - nmc.openCircuitVoltage[0.2] > 0.4)
        #expect(model.hysteresisVoltage == 0.010)
    }

    @Test func arrheniusGridInterpolatesInInverseTemperature() throws {
        let grid = try #require(ArrheniusGrid(stateOfCharge: [0, 1], temperatureCelsius: [0, 40], values: [[4, 8], [1, 2]]))
        // SOC: log-linear; halfway between 4 and 8 is √32.
        #expect(abs(grid.value(stateOfCharge: 0.5, temperatureCelsius: 0) - 32.0.squareRoot()) < 1e-12)
        // Temperature: ln(value) linear in 1/T; at T with 1/T halfway between the rows, √(4·1) = 2.
        let halfway = 2 / (1 / 273.15 + 1 / 313.15) - 273.15
        #expect(abs(grid.value(stateOfCharge: 0, temperatureCelsius: halfway) - 2) < 1e-9)
        // Clamped 20 K beyond the outer rows.
        #expect(grid.value(stateOfCharge: 0, temperatureCelsius: 100) == grid.value(stateOfCharge: 0, temperatureCelsius: 60))
    }

    @Test func ocvTablesReadCRLFAndNameTheLineAsAnEditorDoes() throws {
        let lf = "soc,ocv_v\n0,\n0.5,3.7\n\n1,4.2\n"
        let curve = try CellModelRecipe.ocvTable(lf, file: "t.csv", column: "ocv_v", firstValue: 3.0)
        #expect(curve == Curve(x: [0, 0.5, 1], y: [3.0, 3.7, 4.2]))
        for ends in ["\r\n", "\r"] {
            #expect(try CellModelRecipe.ocvTable(lf.replacingOccurrences(of: "\n", with: ends), file: "t.csv", column: "ocv_v",
                                                 firstValue: 3.0) == curve)
        }
        // Line 5 of the file (after a blank line 4), whatever the line ends.
        for ends in ["\n", "\r\n"] {
            let bad = "soc,ocv_v\n0,3.0\n0.5,3.7\n\n1,x\n".replacingOccurrences(of: "\n", with: ends)
            #expect(throws: HarnessError("t.csv:5: ocv_v is not a number")) {
                _ = try CellModelRecipe.ocvTable(bad, file: "t.csv", column: "ocv_v")
            }
        }
        #expect(throws: HarnessError("t.csv:3: expected 2 values")) {
            _ = try CellModelRecipe.ocvTable("soc,ocv_v\n0,3.0\n0.5\n", file: "t.csv", column: "ocv_v")
        }
        #expect(throws: HarnessError("t.csv:1: empty file (expected a header row)")) {
            _ = try CellModelRecipe.ocvTable("", file: "t.csv", column: "ocv_v")
        }
    }

    @Test(arguments: ["{\"name\":1}", "[]"])
    func badFilesAreRejectedWithTheFileName(text: String) {
        #expect { _ = try CellModel.parse(Data(text.utf8), file: "x.json") } throws: { error in
            (error as? HarnessError)?.message.hasPrefix("x.json: ") == true
        }
    }
}

@Suite struct EquivalentCircuitTests {
    /// R0 = 10 mΩ, R1 = 20 mΩ / τ1 = 2 s, R2 = 30 mΩ / τ2 = 100 s, no charge transfer to speak of.
    static func coefficients(step: Double) -> CircuitCoefficients {
        CircuitCoefficients(r0: 0.010, exchangeCurrent: 1e9, r1: 0.020, tau1: 2, r2: 0.030, tau2: 100, celsius: 25,
                            capacityAmpereSeconds: 3_600, step: step)
    }

    @Test func rcBranchStepResponseIsExact() {
        // A 1 A step for 2 s (= τ1) in 1 ms steps: v1 = R1·(1 − e⁻¹) = 12.642 mV, v2 = R2·(1 − e^−0.02).
        let c = Self.coefficients(step: 0.001)
        var state = CircuitState(stateOfCharge: 0.5)
        for _ in 0..<2_000 { state.advance(current: 1, c) }
        #expect(abs(state.v1 - 0.020 * (1 - exp(-1))) < 1e-12)
        #expect(abs(state.v2 - 0.030 * (1 - exp(-0.02))) < 1e-12)
        // SOC moved by 2 As / 3600 As.
        #expect(abs(state.stateOfCharge - (0.5 + 2.0 / 3_600)) < 1e-12)
        // Terminal voltage = OCV + R0·i + v1 + v2 (+ a negligible charge-transfer term).
        let v = state.terminalVoltage(current: 1, openCircuitVoltage: 3.7, c)
        #expect(abs(v - (3.7 + 0.010 + state.v1 + state.v2)) < 1e-6)
    }

    @Test func chargeTransferFollowsButlerVolmer() {
        // I0 = 1 A at 25 °C: η(2 A) = 2RT/F·asinh(1) = 45.30 mV.
        let c = CircuitCoefficients(r0: 0, exchangeCurrent: 1, r1: 1e-9, tau1: 1, r2: 1e-9, tau2: 100, celsius: 25,
                                    capacityAmpereSeconds: 3_600, step: 0.001)
        let eta = CircuitState.instantaneousOverpotential(current: 2, c)
        #expect(abs(eta - 2 * 8.314_462_618 * 298.15 / 96_485.332_12 * asinh(1)) < 2e-6)
        #expect(CircuitState.instantaneousOverpotential(current: -2, c) == -eta)
    }

    @Test func asinhTableIsAccurate() {
        for u in stride(from: -100.0, through: 100, by: 0.37) { #expect(abs(Asinh.value(u) - asinh(u)) < 5e-5) }
    }

    @Test func heatIsIRSquaredAtSteadyStateWithoutEntropy() {
        let c = Self.coefficients(step: 0.001)
        var state = CircuitState(stateOfCharge: 0.5)
        for _ in 0..<1_000_000 { state.advance(current: -2, c) }   // 1,000 s: both branches settled
        // I²·(R0 + R1 + R2) = 4 · 0.06 = 0.24 W (R2's branch at 1 − e^−10).
        let heat = state.heat(current: -2, celsius: 25, entropic: 0, c)
        #expect(abs(heat - 0.24) < 0.0002)
    }

    @Test func hysteresisMovesTowardsTheCurrentsBranch() {
        var c = Self.coefficients(step: 1)
        c.hysteresisVoltage = 0.01
        c.hysteresisGain = 40 / 3_600.0
        var state = CircuitState(stateOfCharge: 0.5)
        for _ in 0..<360 { state.advance(current: 1, c) }       // 10 % SOC of charge
        #expect(state.hysteresis > 0.98)
        for _ in 0..<36 { state.advance(current: -1, c) }       // 1 % back: partly towards discharge
        #expect(state.hysteresis < 0.6 && state.hysteresis > 0.1)
    }
}

@Suite struct IdentificationTests {
    /// A cell with constant elements (R0 15 mΩ, I0 8 A, R1 8 mΩ/4 s, R2 10 mΩ/150 s, 5 Ah) on a
    /// linear OCV, pulsed at 1 s sampling for 1,500 s from SOC 0.95 (to about 0.90); voltages at
    /// SOC below `spoilBelow` are made 150 mV off. Returns the file, the OCV and how many were.
    static func syntheticPulses(spoilBelow: Double = 0) -> (data: CellTestData, ocv: Curve, spoiled: Int) {
        let truth = CircuitCoefficients(r0: 0.015, exchangeCurrent: 8, r1: 0.008, tau1: 4, r2: 0.010, tau2: 150, celsius: 25,
                                        capacityAmpereSeconds: 5 * 3_600, step: 1)
        let ocv = Curve(x: [0, 1], y: [3.0, 4.2])!
        var state = CircuitState(stateOfCharge: 0.95)
        var data = CellTestData(file: "synthetic", time: [], current: [], voltage: [], temperature: [], referenceStateOfCharge: [])
        var spoiled = 0
        for t in 0..<1_500 {
            let phase = t % 300
            let current = phase < 20 ? -10.0 : (phase >= 100 && phase < 120 ? 5.0 : (phase >= 200 && phase < 230 ? -2.5 : 0))
            if t > 0 { state.advance(current: current, truth) }
            data.time.append(Double(t)); data.current.append(current); data.temperature.append(25)
            var volts = state.terminalVoltage(current: current, openCircuitVoltage: ocv[state.stateOfCharge], truth)
            if state.stateOfCharge < spoilBelow { volts += 0.15; spoiled += 1 }
            data.voltage.append(volts)
            data.referenceStateOfCharge!.append(state.stateOfCharge)
        }
        return (data, ocv, spoiled)
    }

    @Test func recoversAKnownCircuitFromSyntheticPulses() throws {
        // The fit must find the constant elements again.
        let (data, ocv, _) = Self.syntheticPulses()
        let fit = CircuitIdentifier.fit([data], currentBias: 0, ocv: ocv, capacityAh: 5, hysteresis: false, sweeps: 2)
        #expect(fit.rmse[0] < 0.002)             // reproduces the voltage to 2 mV
        let e = fit.elements[0][CircuitIdentifier.bandCentres.count - 1]   // the 0.98 centre, the most excited
        let totalResistance = e.r0 + e.r1 + e.r2
        #expect(abs(totalResistance - 0.033) / 0.033 < 0.15)
    }

    @Test func samplesBelowTheMinimumSOCAreNotScored() throws {
        // The same pulses, with every voltage below SOC 0.925 made 150 mV off: scored, they spoil
        // the fit; below the minimum, they are simulated but do not count (the fit then has half
        // the data: a few mV, against tens).
        let (data, ocv, spoiled) = Self.syntheticPulses(spoilBelow: 0.925)
        #expect(spoiled > 300 && spoiled < 1_200)
        let all = CircuitIdentifier.fit([data], currentBias: 0, ocv: ocv, capacityAh: 5, hysteresis: false, sweeps: 2)
        let above = CircuitIdentifier.fit([data], currentBias: 0, ocv: ocv, capacityAh: 5, hysteresis: false,
                                          minimumStateOfCharge: 0.925, sweeps: 2)
        #expect(all.rmse[0] > 0.02)
        #expect(above.rmse[0] < 0.004)
        // The RMSE is over the scored samples only.
        #expect(abs(above.rmse[0] - (above.squaredError / Double(1_500 - spoiled)).squareRoot()) < 1e-12)
    }

    @Test func theBestStartIsTheSmallestFiniteVoltageErrorAndTheFirstOnATie() {
        func fit(_ error: Double, hysteresis: Double) -> CircuitFit {
            CircuitFit(rowTemperatures: [25], elements: [], hysteresisVoltage: hysteresis, hysteresisRate: 1, rmse: [], squaredError: error)
        }
        #expect(CellModelRecipe.best(of: [fit(.nan, hysteresis: 0), fit(2, hysteresis: 0.005), fit(1, hysteresis: 0.01),
                                          fit(1, hysteresis: 0.02)])?.hysteresisVoltage == 0.01)
        #expect(CellModelRecipe.best(of: [fit(.nan, hysteresis: 0), fit(.infinity, hysteresis: 0.005)]) == nil)
    }
}
