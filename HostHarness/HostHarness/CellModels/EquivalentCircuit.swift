// The two-RC equivalent circuit of one cell, stepped in time: the physics the virtual pack,
// parameter identification and model validation all share.
//
//   v = OCV(soc) + dOCV/dT·(T − 25 °C) + H·h + R0·i + η(i) + v1 + v2   (i > 0: charging)
//   η(i) = (2RT/F)·asinh(i / 2I0)                         (charge transfer, Butler–Volmer, α = ½)
//   v1' = a1·v1 + R1·(1 − a1)·i,  a1 = exp(−dt/τ1)    (exact for i constant over dt; same for v2)
//   soc' = soc + (η·i⁺ + i⁻ − i_leak)·dt / Q
//   h' = h + (1 − exp(−γ·|i|·dt/Q))·(sign(i) − h)      (Plett's one-state hysteresis)

/// The state of one cell's circuit.
public struct CircuitState: Equatable, Sendable {
    /// True state of charge (fraction; not clamped, so over-discharge shows).
    public var stateOfCharge: Double
    /// Voltages across the two RC branches (V).
    public var v1: Double = 0
    public var v2: Double = 0
    /// Hysteresis state, −1 (discharge branch) ... +1 (charge branch).
    public var hysteresis: Double = 0

    public init(stateOfCharge: Double) { self.stateOfCharge = stateOfCharge }
}

/// The circuit's element values at one operating point (SOC, temperature, ageing), folded into
/// per-step coefficients. Refreshed slowly (element values change with SOC and temperature over
/// seconds), used every step.
public struct CircuitCoefficients: Equatable, Sendable {
    public var r0: Double
    /// 1 / (2·I0) (per ampere) and 2RT/F (V) of the charge-transfer term.
    public var inverseTwiceExchangeCurrent: Double
    public var twiceThermalVoltage: Double
    public var r1: Double, tau1: Double, r2: Double, tau2: Double
    var a1: Double = 0, b1: Double = 0, a2: Double = 0, b2: Double = 0
    /// The step the RC factors were computed for (s).
    public private(set) var step: Double = 0
    /// dOCV/dT·(T − 25 °C) (V).
    public var ocvShift: Double
    public var hysteresisVoltage: Double
    /// γ / Q (per ampere-second).
    public var hysteresisGain: Double
    /// 1 / Q (per ampere-second) and the coulombic efficiency.
    public var inverseCapacity: Double
    public var efficiency: Double

    /// The coefficients of `model` at `stateOfCharge` and `celsius`, for a cell holding
    /// `capacityAmpereSeconds` whose resistances are scaled by `resistanceFactor` (ageing).
    public init(model: CellModel, stateOfCharge soc: Double, celsius: Double, capacityAmpereSeconds: Double,
                resistanceFactor: Double = 1, step: Double) {
        r0 = model.seriesResistance.value(stateOfCharge: soc, temperatureCelsius: celsius) * resistanceFactor
        inverseTwiceExchangeCurrent = resistanceFactor / (2 * model.exchangeCurrent.value(stateOfCharge: soc, temperatureCelsius: celsius))
        twiceThermalVoltage = 2 * CircuitCoefficients.gasConstantOverFaraday * (celsius + 273.15)
        r1 = model.r1.value(stateOfCharge: soc, temperatureCelsius: celsius) * resistanceFactor
        tau1 = model.tau1.value(stateOfCharge: soc, temperatureCelsius: celsius)
        r2 = model.r2.value(stateOfCharge: soc, temperatureCelsius: celsius) * resistanceFactor
        tau2 = model.tau2.value(stateOfCharge: soc, temperatureCelsius: celsius)
        ocvShift = model.entropicCoefficient[soc] * (celsius - 25)
        hysteresisVoltage = model.hysteresisVoltage
        inverseCapacity = 1 / capacityAmpereSeconds
        hysteresisGain = model.hysteresisRate * inverseCapacity
        efficiency = model.coulombicEfficiency
        setStep(step)
    }

    /// R/F (V/K).
    public static let gasConstantOverFaraday = 8.314_462_618 / 96_485.332_12

    /// The element values given directly (identification), with no OCV shift or hysteresis.
    public init(r0: Double, exchangeCurrent: Double, r1: Double, tau1: Double, r2: Double, tau2: Double,
                celsius: Double, capacityAmpereSeconds: Double, step: Double) {
        self.r0 = r0; self.r1 = r1; self.tau1 = tau1; self.r2 = r2; self.tau2 = tau2
        inverseTwiceExchangeCurrent = 1 / (2 * exchangeCurrent)
        twiceThermalVoltage = 2 * CircuitCoefficients.gasConstantOverFaraday * (celsius + 273.15)
        ocvShift = 0
        hysteresisVoltage = 0
        hysteresisGain = 0
        inverseCapacity = 1 / capacityAmpereSeconds
        efficiency = 1
        setStep(step)
    }

    /// Recomputes the RC factors for a time step of `seconds`.
    public mutating func setStep(_ seconds: Double) {
        step = seconds
        a1 = exp(-seconds / tau1); b1 = r1 * (1 - a1)
        a2 = exp(-seconds / tau2); b2 = r2 * (1 - a2)
    }
}

extension CircuitState {
    /// Lets `current` (A, positive = charging) flow for the coefficients' step, with `leak` (A)
    /// drawn internally (self-discharge, an internal short).
    @inline(__always)
    public mutating func advance(current: Double, leak: Double = 0, _ c: CircuitCoefficients) {
        let stored = current > 0 ? current * c.efficiency : current
        stateOfCharge += (stored - leak) * c.step * c.inverseCapacity
        v1 = c.a1 * v1 + c.b1 * current
        v2 = c.a2 * v2 + c.b2 * current
        if c.hysteresisGain > 0 && current != 0 {
            // 1 − exp(−x) ≈ x for the tiny x of one step (x ≈ 1e-5 at 1 ms); exact enough and cheap.
            let x = min(1, c.hysteresisGain * abs(current) * c.step)
            hysteresis += x * ((current > 0 ? 1 : -1) - hysteresis)
        }
    }

    /// The overpotential at `current`: ohmic plus charge transfer (V).
    @inline(__always)
    public static func instantaneousOverpotential(current: Double, _ c: CircuitCoefficients) -> Double {
        c.r0 * current + c.twiceThermalVoltage * Asinh.value(current * c.inverseTwiceExchangeCurrent)
    }

    /// The same, with the asinh table passed in (hot loops take the table once).
    @inline(__always)
    public static func instantaneousOverpotential(current: Double, _ c: CircuitCoefficients, asinh table: UnsafeBufferPointer<Double>) -> Double {
        current == 0 ? 0 : c.r0 * current + c.twiceThermalVoltage * Asinh.value(current * c.inverseTwiceExchangeCurrent, table: table)
    }

    /// The terminal voltage at `current` given the OCV at this state.
    @inline(__always)
    public func terminalVoltage(current: Double, openCircuitVoltage: Double, _ c: CircuitCoefficients) -> Double {
        openCircuitVoltage + c.ocvShift + c.hysteresisVoltage * hysteresis
            + CircuitState.instantaneousOverpotential(current: current, c) + v1 + v2
    }

    /// The terminal voltage and the overpotential behind it (v − U, U = OCV with shift and
    /// hysteresis), with the asinh table passed in.
    @inline(__always)
    public func terminalVoltage(current: Double, openCircuitVoltage: Double, _ c: CircuitCoefficients,
                                asinh table: UnsafeBufferPointer<Double>) -> (voltage: Double, overpotential: Double) {
        let overpotential = CircuitState.instantaneousOverpotential(current: current, c, asinh: table) + v1 + v2
        return (openCircuitVoltage + c.ocvShift + c.hysteresisVoltage * hysteresis + overpotential, overpotential)
    }

    /// The heat the cell generates at `current` (W): irreversible I·(v − OCV) plus the reversible
    /// (entropic) I·T·dOCV/dT, with I positive when charging (Bernardi's balance).
    @inline(__always)
    public func heat(current: Double, celsius: Double, entropic: Double, _ c: CircuitCoefficients) -> Double {
        current * (CircuitState.instantaneousOverpotential(current: current, c) + v1 + v2)
            + current * (celsius + 273.15) * entropic
    }
}

/// asinh from a table (the simulation evaluates it for every cell every millisecond): linear
/// interpolation on 0...64 in steps of 1/64 (error below 4e-5), and ln(2u) + 1/(4u²) beyond.
public enum Asinh {
    static let stepsPerUnit = 64.0
    static let limit = 64.0
    static let table: [Double] = (0...Int(limit * stepsPerUnit)).map { Foundation.asinh(Double($0) / stepsPerUnit) }

    @inline(__always) public static func value(_ u: Double) -> Double {
        table.withUnsafeBufferPointer { value(u, table: $0) }
    }

    @inline(__always) public static func value(_ u: Double, table: UnsafeBufferPointer<Double>) -> Double {
        let m = abs(u)
        let r: Double
        if m < limit {
            let position = m * stepsPerUnit
            let i = Int(position)
            r = table[i] + (table[i + 1] - table[i]) * (position - Double(i))
        } else {
            r = log(2 * m) + 1 / (4 * m * m)
        }
        return u < 0 ? -r : r
    }
}

/// A function of SOC sampled on an even grid over 0...1 for constant-time linear interpolation
/// (the simulation evaluates it for every cell every millisecond). Clamped outside 0...1.
public struct UniformTable: Sendable {
    public let values: [Double]
    let step: Double
    public let scale: Double

    public init(points: Int, _ function: (Double) -> Double) {
        step = 1 / Double(points - 1)
        scale = Double(points - 1)
        values = (0..<points).map { function(Double($0) / Double(points - 1)) }
    }

    @inline(__always) public subscript(x: Double) -> Double {
        values.withUnsafeBufferPointer { UniformTable.lookup(x, scale: scale, $0) }
    }

    /// The lookup on a table pointer taken once by a hot loop.
    @inline(__always) public static func lookup(_ x: Double, scale: Double, _ values: UnsafeBufferPointer<Double>) -> Double {
        let last = Double(values.count - 1)
        let position = min(max(x * scale, 0), last)
        let index = min(Int(position), values.count - 2)
        let fraction = position - Double(index)
        let base = values.baseAddress.unsafelyUnwrapped
        return base[index] + (base[index + 1] - base[index]) * fraction
    }
}

import Foundation
