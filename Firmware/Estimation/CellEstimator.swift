// One cell's state of charge with an error bound: an extended Kalman filter on the two-RC
// circuit (states: SOC, the two RC voltages and the current sensor's offset), with a measurement
// noise that adapts to the load, and a displayed SOC that never jumps (Docs/estimation.md).
import HAL

/// The filter's tuning (standard deviations; the same for every cell).
public struct EstimatorTuning: Sendable {
    /// Voltage model error at rest (V), and its growth per ampere of current per ampere-hour of
    /// capacity (V per C): a model fits worst under load.
    public var voltageNoise: Float
    public var voltageNoisePerC: Float
    /// Extra model error after a current step (V per C of the step), fading with `stepMemory`
    /// (s): the circuit's fast dynamics are its least exact part.
    public var voltageNoisePerStepC: Float
    public var stepMemory: Float
    /// The adaptive part: the measurement noise is scaled by the recent mean squared innovation
    /// relative to what the filter expects, averaged over `innovationWindow` (s), never below 1.
    public var innovationWindow: Float
    /// Current measurement noise (A) and gain error (fraction), for the SOC's process noise.
    public var currentNoise: Float
    public var currentGainError: Float
    /// How fast the RC voltages and the current offset may wander (V/√s, A/√s).
    public var rcVoltageWander: Float
    public var offsetWander: Float
    /// Initial uncertainty: SOC when started from a given value or from a voltage under load;
    /// the current offset (A).
    public var initialSOCSigma: Float
    public var initialOffsetSigma: Float
    /// The displayed SOC follows the filter's, but a correction (beyond the counted charge)
    /// moves it by at most this much per second (fraction/s).
    public var maximumCorrectionRate: Float
    /// The bound never claims less than this (fraction): the OCV table's own accuracy.
    public var boundFloor: Float
    /// How much the bound grows per unit of SOC counted (the capacity's and the current gain's
    /// uncertainty: a full discharge counted with a 3 % capacity error is 3 points off), and how
    /// long a rest (at most C/50) must last, on a part of the OCV curve steeper than
    /// `anchorSlope` (V per unit SOC), for the rest voltage to reset that growth.
    public var boundGrowthPerThroughput: Float
    public var anchorRest: Float
    public var anchorSlope: Float

    public init(voltageNoise: Float = 0.015, voltageNoisePerC: Float = 0.010, voltageNoisePerStepC: Float = 0.05,
                stepMemory: Float = 60, innovationWindow: Float = 60, currentNoise: Float = 0.01,
                currentGainError: Float = 0.005, rcVoltageWander: Float = 0.0005, offsetWander: Float = 0.00002,
                initialSOCSigma: Float = 0.25, initialOffsetSigma: Float = 0.02, maximumCorrectionRate: Float = 0.005,
                boundFloor: Float = 0.01, boundGrowthPerThroughput: Float = 0.03, anchorRest: Float = 1_800, anchorSlope: Float = 0.3) {
        self.voltageNoise = voltageNoise
        self.voltageNoisePerC = voltageNoisePerC
        self.voltageNoisePerStepC = voltageNoisePerStepC
        self.stepMemory = stepMemory
        self.innovationWindow = innovationWindow
        self.currentNoise = currentNoise
        self.currentGainError = currentGainError
        self.rcVoltageWander = rcVoltageWander
        self.offsetWander = offsetWander
        self.initialSOCSigma = initialSOCSigma
        self.initialOffsetSigma = initialOffsetSigma
        self.maximumCorrectionRate = maximumCorrectionRate
        self.boundFloor = boundFloor
        self.boundGrowthPerThroughput = boundGrowthPerThroughput
        self.anchorRest = anchorRest
        self.anchorSlope = anchorSlope
    }
}

/// The extended Kalman filter for one cell.
public struct CellEstimator: Sendable {
    /// The state: SOC (fraction), RC voltages (V), current-sensor offset (A, added to the reading).
    public private(set) var soc: Float = 0
    public private(set) var v1: Float = 0
    public private(set) var v2: Float = 0
    public private(set) var currentOffset: Float = 0
    /// Hysteresis state (−1 … +1), advanced by the current, not estimated.
    public private(set) var hysteresis: Float = 0
    /// Covariance (symmetric 4×4, row-major).
    var p: InlineArray<16, Float> = InlineArray(repeating: 0)
    /// √P₀₀ (0 when P₀₀ ≤ 0), taken where P changes (`start`, the end of `step`): the pack reads
    /// every element's bound every 10 ms and each element steps every 100 ms.
    var socSigma: Float = 0
    /// What is shown: the filter's SOC approached without jumps.
    public private(set) var displayed: Float = 0
    /// The last innovation (measured minus predicted voltage, V), for diagnostics.
    public private(set) var innovation: Float = 0
    /// The adaptive measurement-noise state: recent current steps (C, fading), the previous
    /// current (A) and the running ratio of innovation² to its expected value.
    var recentStep: Float = 0
    /// Error that may have built up since the last anchor (fraction), and how long the cell has
    /// been at rest (s).
    public private(set) var drift: Float = 0
    var restSeconds: Float = 0
    var previousCurrent: Float = 0
    var innovationRatio: Float = 1
    /// The last usable temperature (°C).
    var lastCelsius: Float = 25
    /// The element's heat per ampere of `previousCurrent` at the last step (V): the measured
    /// overpotential (the voltage less the OCV and the hysteresis at the predicted SOC) plus the
    /// reversible part T·dOCV/dT; 0 without a voltage. The thermal chain's heat
    /// (`ElementEstimate.advanceThermalChain`).
    public private(set) var heatingVoltage: Float = 0
    /// Whether the filter has started. (Last: the element's small fields pack into the padding
    /// after it, Docs/firmware-budget.md.)
    public private(set) var isStarted = false

    public init() {}

    /// The error bound of the displayed SOC (fraction): three standard deviations of the filter
    /// plus the distance between the displayed and the filter's SOC, never below the floor.
    public func bound(_ tuning: EstimatorTuning) -> Float {
        let sigma = socSigma
        let gap = displayed > soc ? displayed - soc : soc - displayed
        return max(tuning.boundFloor, 3 * sigma) + drift + gap
    }

    /// `celsius` clamped to the cell's operating range (−40…85 °C); nil when it is not a number.
    static func operating(_ celsius: Float) -> Float? {
        guard celsius.isFinite else { return nil }
        return celsius < -40 ? -40 : (celsius > 85 ? 85 : celsius)
    }

    /// Starts the filter from a known SOC (e.g. one remembered across a power cycle).
    public mutating func start(soc initial: Float, sigma: Float, tuning t: borrowing @_addressable EstimatorTuning) {
        soc = initial
        v1 = 0; v2 = 0; currentOffset = 0; hysteresis = 0
        p = InlineArray(repeating: 0)
        p[0] = sigma * sigma
        p[5] = 0.02 * 0.02
        p[10] = 0.02 * 0.02
        p[15] = t.initialOffsetSigma * t.initialOffsetSigma
        socSigma = CellEstimator.sigma(p[0])
        displayed = initial
        drift = 0
        restSeconds = 0
        isStarted = true
    }

    /// Forgets the current-sensor offset learnt so far (back to zero with its initial
    /// uncertainty): before an element's capacity is measured, the offset state also absorbs the
    /// capacity's error (a cell with less capacity than the model's reads as a discharge offset),
    /// which would go on draining its SOC once the capacity is right.
    mutating func forgetOffset(tuning t: borrowing @_addressable EstimatorTuning) {
        currentOffset = 0
        for i in 0..<3 {
            p[i * 4 + 3] = 0
            p[12 + i] = 0
        }
        p[15] = t.initialOffsetSigma * t.initialOffsetSigma
    }

    /// The variance of the SOC estimate (the filter's P₀₀).
    public var socVariance: Float { p[0] }

    /// Resumes the filter from a checkpoint (Docs/persistence.md): the SOC with its variance, the
    /// displayed SOC, current offset, bound drift and hysteresis as they were. The RC voltages
    /// start at zero — the firmware does not know how long the power was off, and an open pack
    /// relaxes — with the uncertainty a fresh start gives them.
    public mutating func resume(soc: Float, displayed: Float, socVariance: Float, currentOffset offset: Float, drift: Float,
                                hysteresis h: Float, tuning t: borrowing @_addressable EstimatorTuning) {
        start(soc: soc, sigma: socVariance > 0 ? FloatMath.squareRoot(socVariance) : 0, tuning: t)
        self.displayed = displayed
        currentOffset = offset
        self.drift = drift
        hysteresis = h
    }

    /// Starts the filter from one voltage reading at `current`: the SOC whose OCV matches the
    /// voltage less the instantaneous overpotential (the RC voltages are unknown: the
    /// uncertainty covers them).
    public mutating func start(voltage: Float, current: Float, celsius given: Float, model: borrowing @_addressable CellModelTable, tuning t: borrowing @_addressable EstimatorTuning) {
        let celsius = CellEstimator.operating(given) ?? 25
        var soc = model.stateOfCharge(openCircuitVoltage: voltage, celsius: celsius)
        for _ in 0..<3 {       // the overpotential depends on the SOC a little
            let eta = model.instantaneousOverpotential(current: current, soc: soc, celsius: celsius).volts
            soc = model.stateOfCharge(openCircuitVoltage: voltage - eta, celsius: celsius)
        }
        let atRest = (current < 0 ? -current : current) < 0.05 * model.capacityAh
        start(soc: soc, sigma: atRest ? 0.05 : t.initialSOCSigma, tuning: t)
        lastCelsius = celsius
    }

    /// One step: `current` (A, + = charging, the mean over the step as measured), then the
    /// terminal `voltage` (V) at its end, over `seconds`, at `celsius`, for a cell of
    /// `capacityAh`.
    public mutating func update(current measured: Float, voltage: Float, celsius: Float, seconds dt: Float,
                                capacityAh: Float, model m: borrowing @_addressable CellModelTable, tuning t: borrowing @_addressable EstimatorTuning) {
        step(current: measured, voltage: voltage, celsius: celsius, seconds: dt, capacityAh: capacityAh, model: m, tuning: t)
    }

    /// One step as `update`, with the voltage optional: without a valid voltage (a stale or
    /// implausible reading) the filter only predicts — it counts charge and its uncertainty grows.
    /// A temperature that is not a number is replaced by the last one that was, and every
    /// temperature is clamped to the cell's operating range (−40…85 °C): a broken sensor reading
    /// must not break the filter.
    /// `resistanceFactor` scales the model's resistances (the cell's measured resistance relative
    /// to the model's); `capacityUncertainty` is how far (fraction) `capacityAh` may be off — large
    /// before the cell's capacity has been measured — and widens both the filter's SOC noise and
    /// the bound's growth with the charge counted.
    public mutating func step(current measured: Float, voltage: Float?, celsius given: Float, seconds dt: Float,
                              capacityAh: Float, capacityUncertainty: Float = 0, resistanceFactor rf: Float = 1,
                              model m: borrowing @_addressable CellModelTable, tuning t: borrowing @_addressable EstimatorTuning) {
        guard isStarted, dt > 0, capacityAh > 0, measured.isFinite else { return }
        if let usable = CellEstimator.operating(given) { lastCelsius = usable }
        let celsius = lastCelsius
        let current = measured + currentOffset
        let q = 3_600 * capacityAh
        let stored = current > 0 ? current * m.coulombicEfficiency : current
        let socBefore = soc

        // Predict.
        let r1 = rf * m.r1.value(soc: soc, celsius: celsius), r2 = rf * m.r2.value(soc: soc, celsius: celsius)
        let a1 = FloatMath.exp(-dt / max(m.tau1.value(soc: soc, celsius: celsius), 1e-3))
        let a2 = FloatMath.exp(-dt / max(m.tau2.value(soc: soc, celsius: celsius), 1e-3))
        let b1 = r1 * (1 - a1), b2 = r2 * (1 - a2)
        let dSocDb = (current > 0 ? m.coulombicEfficiency : 1) * dt / q
        soc += stored * dt / q
        v1 = a1 * v1 + b1 * current
        v2 = a2 * v2 + b2 * current
        if m.hysteresisVoltage > 0 && current != 0 {
            let x = min(1, m.hysteresisRate * (current < 0 ? -current : current) * dt / q)
            hysteresis += x * ((current > 0 ? 1 : -1) - hysteresis)
        }
        // P = F·P·Fᵀ + Q with F = [[1,0,0,f03],[0,a1,0,f13],[0,0,a2,f23],[0,0,0,1]].
        let f03 = dSocDb, f13 = b1, f23 = b2
        var fp = InlineArray<16, Float>(repeating: 0)                     // F·P
        for c in 0..<4 {
            fp[c] = p[c] + f03 * p[12 + c]
            fp[4 + c] = a1 * p[4 + c] + f13 * p[12 + c]
            fp[8 + c] = a2 * p[8 + c] + f23 * p[12 + c]
            fp[12 + c] = p[12 + c]
        }
        for r in 0..<4 {                                                   // (F·P)·Fᵀ
            let row = r * 4
            let x0 = fp[row], x1 = fp[row + 1], x2 = fp[row + 2], x3 = fp[row + 3]
            p[row] = x0 + x3 * f03
            p[row + 1] = a1 * x1 + x3 * f13
            p[row + 2] = a2 * x2 + x3 * f23
            p[row + 3] = x3
        }
        let currentSigma = t.currentNoise + (t.currentGainError + capacityUncertainty) * (current < 0 ? -current : current)
        let socNoise = currentSigma * dt / q
        p[0] += socNoise * socNoise
        p[5] += t.rcVoltageWander * t.rcVoltageWander * dt
        p[10] += t.rcVoltageWander * t.rcVoltageWander * dt
        p[15] += t.offsetWander * t.offsetWander * dt

        // Correct with the terminal voltage.
        let (ocv, slope, entropic) = m.openCircuitVoltage(soc: soc, celsius: celsius)
        let cRate = (current < 0 ? -current : current) / capacityAh
        let stepC = (current - previousCurrent < 0 ? previousCurrent - current : current - previousCurrent) / capacityAh
        previousCurrent = current
        recentStep = max(stepC, recentStep * FloatMath.exp(-dt / max(t.stepMemory, 1e-3)))
        var correction: Float = 0
        heatingVoltage = 0
        if let voltage, voltage.isFinite {
            heatingVoltage = voltage - ocv - m.hysteresisVoltage * hysteresis + (celsius + 273.15) * entropic
            correction = correct(voltage: voltage, current: current, ocv: ocv, slope: slope, soc: soc, celsius: celsius, cRate: cRate,
                                 seconds: dt, capacityAh: capacityAh, resistanceFactor: rf, model: m, tuning: t)
        }
        if !(soc >= -0.1) { soc = -0.1 } else if soc > 1.1 { soc = 1.1 }
        if !currentOffset.isFinite { currentOffset = 0 }
        if currentOffset > 0.1 * capacityAh { currentOffset = 0.1 * capacityAh } else if currentOffset < -0.1 * capacityAh { currentOffset = -0.1 * capacityAh }
        finish(stored: stored, measured: measured, slope: slope, socBefore: socBefore, correction: correction, seconds: dt,
               capacityAh: capacityAh, capacityUncertainty: capacityUncertainty, tuning: t)
        socSigma = CellEstimator.sigma(p[0])
    }

    /// √variance, 0 for a variance that is not positive.
    static func sigma(_ variance: Float) -> Float { variance > 0 ? FloatMath.squareRoot(variance) : 0 }

    /// The measurement update with the terminal `voltage`; returns the SOC correction it made.
    mutating func correct(voltage: Float, current: Float, ocv: Float, slope: Float, soc socNow: Float, celsius: Float, cRate: Float,
                          seconds dt: Float, capacityAh: Float, resistanceFactor rf: Float, model m: borrowing @_addressable CellModelTable,
                          tuning t: borrowing @_addressable EstimatorTuning) -> Float {
        let eta = m.instantaneousOverpotential(current: current, soc: socNow, celsius: celsius)
        let predicted = ocv + m.hysteresisVoltage * hysteresis + rf * eta.volts + v1 + v2
        let h0 = slope, h1: Float = 1, h2: Float = 1, h3 = rf * eta.ohms
        // P·Hᵀ
        var ph = InlineArray<4, Float>(repeating: 0)
        for r in 0..<4 { ph[r] = p[r * 4] * h0 + p[r * 4 + 1] * h1 + p[r * 4 + 2] * h2 + p[r * 4 + 3] * h3 }
        let sigmaV = t.voltageNoise + t.voltageNoisePerC * cRate + t.voltageNoisePerStepC * recentStep
        let expected = h0 * ph[0] + h1 * ph[1] + h2 * ph[2] + h3 * ph[3] + sigmaV * sigmaV
        innovation = voltage - predicted
        // Adaptive: when the innovations run larger than expected for a while (the model is off
        // here), trust the voltage less.
        let weight = min(1, dt / max(t.innovationWindow, 1e-3))
        innovationRatio += weight * (innovation * innovation / expected - innovationRatio)
        var s = expected + sigmaV * sigmaV * max(0, innovationRatio - 1)
        // An innovation far outside what the filter expects (a voltage spike, a model corner)
        // is down-weighted rather than followed.
        if innovation * innovation > 16 * s { s = innovation * innovation / 16 }
        let k0 = ph[0] / s, k1 = ph[1] / s, k2 = ph[2] / s, k3 = ph[3] / s
        soc += k0 * innovation
        v1 += k1 * innovation
        v2 += k2 * innovation
        currentOffset += k3 * innovation
        // P = P − K·(H·P), kept symmetric.
        var k = InlineArray<4, Float>(repeating: 0)
        k[0] = k0; k[1] = k1; k[2] = k2; k[3] = k3
        for r in 0..<4 {
            for c in 0..<4 { p[r * 4 + c] -= k[r] * ph[c] }
        }
        for r in 0..<4 {
            for c in (r + 1)..<4 {
                let mean = (p[r * 4 + c] + p[c * 4 + r]) / 2
                p[r * 4 + c] = mean
                p[c * 4 + r] = mean
            }
            if p[r * 5] < 1e-12 { p[r * 5] = 1e-12 }
        }
        return k0 * innovation
    }

    /// The bound's drift and the displayed SOC after a step.
    /// Rest is judged on the measured current: the offset estimate must not decide it.
    mutating func finish(stored: Float, measured current: Float, slope: Float, socBefore: Float, correction: Float, seconds dt: Float,
                         capacityAh: Float, capacityUncertainty: Float, tuning t: borrowing @_addressable EstimatorTuning) {
        let q = 3_600 * capacityAh
        // The bound's drift: grows with the charge counted and the offset's uncertainty; a long
        // rest where the OCV is steep enough re-anchors it.
        let counted = stored * dt / q
        drift += (counted < 0 ? -counted : counted) * (t.boundGrowthPerThroughput + capacityUncertainty) + (p[15] > 0 ? FloatMath.squareRoot(p[15]) : 0) * dt / q
        if (current < 0 ? -current : current) <= capacityAh / 50 {
            restSeconds += dt
            if restSeconds >= t.anchorRest && slope >= t.anchorSlope { drift = 0 }
        } else {
            restSeconds = 0
        }

        // The displayed SOC: moves with the counted charge, plus a limited share of the correction.
        displayed += soc - socBefore - correction                          // the charge counted this step
        let gap = soc - displayed, step = t.maximumCorrectionRate * dt
        displayed += gap > step ? step : (gap < -step ? -step : gap)
    }
}
