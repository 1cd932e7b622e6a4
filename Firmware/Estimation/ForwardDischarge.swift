// The usable charge with the pack's heating: a constant discharge simulated forward with the
// estimator's own model of every element and the pack's thermal chain (Docs/estimation.md).
import HAL

/// What a forward discharge found: the charge (Ah) the pack delivers at the stated current until
/// it ends, which element (or the sensor on which element) ends it, and why.
public struct ForwardDischarge: Sendable, Equatable {
    public enum End: Sendable, Equatable {
        /// An element's loaded voltage reached the cell's minimum.
        case voltage
        /// A temperature sensor's reading reached the limit.
        case temperature
        /// Neither within the horizon.
        case horizon
    }
    /// The charge delivered from now until the end (Ah).
    public var ampereHours: Float
    /// The element whose voltage, or the element whose sensor, ends the discharge (−1: `horizon`).
    public var element: Int
    /// Why it ends.
    public var end: End
}

extension PackStateEstimator {
    /// The longest step (s) and the horizon (s) of a forward discharge.
    static let forwardStep: Float = 10
    static let forwardHorizon: Float = 36_000

    /// The charge the pack can deliver at a constant discharge `current` (A, > 0) before an
    /// element's loaded voltage reaches the cell's minimum or a temperature sensor's reading
    /// reaches `sensorLimitCelsius` (the protection's trip), simulated forward from now in steps
    /// of at most 10 s: each element's SOC falls by the charge over its estimated capacity; its RC
    /// voltages move from the filter's towards the estimated resistance's; its heat is the current
    /// times its overpotential plus the reversible heat; the temperatures follow the thermal
    /// chain from the chain's present ones (`chainCelsius`) with the air at `ambientCelsius`, and
    /// each sensor's reading trails its element by the sensor's lag. The end is interpolated
    /// within the step. Without a chain (`ThermalChain.none`) the temperatures stay as they are
    /// and only the voltage ends the discharge. Nil before the filters start.
    ///
    /// The end is the earliest within the step where it happens (an element's voltage or a
    /// sensor, whichever crosses first). Only the sensors with places in the configuration are
    /// simulated (none: only the voltage can end it), whether or not their readings are valid now.
    ///
    /// This is `usableCharge(atDischarge:)` with the pack's heating and the RC branches'
    /// settling; it costs 16 element evaluations per step (about 83 steps at 2C, 290 at 1C), so
    /// it is for readers outside the 1 ms loop, not for the loop's survey.
    public func usableCharge(atDischarge current: Float, sensorLimitCelsius limit: Float) -> ForwardDischarge? {
        guard elements.count > 0, elements[0].filter.isStarted, current > 0 else { return nil }
        let model = configuration.cellModel, chain = configuration.thermal
        // A chain the configuration's check would refuse (an estimator set up without it) is
        // left out: its steps could be too small to reach the horizon.
        let heating = chain.heatCapacityJoulesPerKelvin > 0 && chain.isValid
        let n = elements.count
        let places = configuration.sensorElements
        var soc = PerCell<Float>(repeating: 0, count: n), t = PerCell<Float>(repeating: 0, count: n)
        var v1 = PerCell<Float>(repeating: 0, count: n), v2 = PerCell<Float>(repeating: 0, count: n)
        var heat = PerCell<Float>(repeating: 0, count: n), volts = PerCell<Float>(repeating: 0, count: n)
        var sensed = PerCell<Float>(repeating: 0, count: places.count), start = PerCell<Float>(repeating: 0, count: places.count)
        var coolest = Float.infinity
        elements.forEachElement { i, e in
            soc[i] = e.filter.soc
            t[i] = heating && e.chainCelsius.isFinite ? e.chainCelsius : e.celsius
            v1[i] = e.filter.v1
            v2[i] = e.filter.v2
            coolest = min(coolest, e.celsius)
        }
        for j in 0..<places.count where Int(places[j]) < n { sensed[j] = elements[Int(places[j])].celsius }
        let air = ambientCelsius.isFinite ? ambientCelsius : coolest
        let dt = heating ? min(PackStateEstimator.forwardStep, chain.fastestSeconds / 2) : PackStateEstimator.forwardStep
        // A sensor's reading s follows ds/dt = (T − s)/lag; with T rising linearly through a step
        // (rate r) the exact step is s' = T' − lag·r + (s − T + lag·r)·exp(−dt/lag).
        let lag = chain.sensorLagSeconds, keep = lag > 0 ? FloatMath.exp(-dt / lag) : 0
        var seconds: Float = 0
        func delivered(_ s: Float) -> Float { current * s / 3_600 }
        /// Element `i`'s overpotential (V, negative) at `x` and `c` °C with its RC voltages now.
        func overpotential(_ i: Int, soc x: Float, celsius c: Float) -> Float {
            elements[i].resistanceFactor * model.instantaneousOverpotential(current: -current, soc: x, celsius: c).volts + v1[i] + v2[i]
        }
        // The loaded voltage now (the load applied, the RC voltages the filter's): the start of
        // the first step's interpolation; at or below the minimum already, nothing is usable.
        for i in 0..<n {
            volts[i] = model.openCircuitVoltage(soc: soc[i], celsius: t[i]).voltage - model.hysteresisVoltage
                + overpotential(i, soc: soc[i], celsius: t[i])
            if !(volts[i] > model.minimumVoltage) { return ForwardDischarge(ampereHours: 0, element: i, end: .voltage) }
        }
        while seconds < PackStateEstimator.forwardHorizon {
            // The earliest end within this step (its fraction of the step), if any.
            var first = (part: Float.infinity, element: -1, end: ForwardDischarge.End.horizon)
            // Electrical: every element's state after this step; where the loaded voltage crossed
            // the minimum, interpolated from the step's start.
            for i in 0..<n {
                let rf = elements[i].resistanceFactor, x = soc[i] - current * dt / 3_600 / elements[i].capacityAh, c = t[i]
                let a1 = FloatMath.exp(-dt / max(model.tau1.value(soc: x, celsius: c), 1e-3))
                let a2 = FloatMath.exp(-dt / max(model.tau2.value(soc: x, celsius: c), 1e-3))
                v1[i] = a1 * v1[i] - (1 - a1) * rf * model.r1.value(soc: x, celsius: c) * current
                v2[i] = a2 * v2[i] - (1 - a2) * rf * model.r2.value(soc: x, celsius: c) * current
                let eta = overpotential(i, soc: x, celsius: c)
                let ocv = model.openCircuitVoltage(soc: x, celsius: c)
                let v = ocv.voltage - model.hysteresisVoltage + eta
                if !(v > model.minimumVoltage) {
                    let before = volts[i]
                    let part = before > v ? min(1, max(0, (before - model.minimumVoltage) / (before - v))) : 0
                    if part < first.part { first = (part, i, .voltage) }
                }
                volts[i] = v
                soc[i] = x
                heat[i] = -current * (eta + (c + 273.15) * ocv.entropic)
            }
            if heating {
                // Thermal: the chain's step, then the sensors'.
                var previous = t[0]
                for j in 0..<places.count where Int(places[j]) < n { start[j] = t[Int(places[j])] }
                for i in 0..<n {
                    let before = t[i]
                    let watts = chain.netWatts(heat: heat[i], celsius: before, left: i > 0 ? previous : .nan,
                                               right: i < n - 1 ? t[i + 1] : .nan, air: air)
                    previous = before
                    t[i] = before + watts * dt / chain.heatCapacityJoulesPerKelvin
                }
                for j in 0..<places.count where Int(places[j]) < n {
                    let before = sensed[j], now = t[Int(places[j])], trail = lag * (now - start[j]) / dt
                    sensed[j] = now - trail + (before - start[j] + trail) * keep
                    if sensed[j] >= limit {
                        let part = sensed[j] > before ? min(1, max(0, (limit - before) / (sensed[j] - before))) : 0
                        if part < first.part { first = (part, Int(places[j]), .temperature) }
                    }
                }
            }
            if first.element >= 0 {
                return ForwardDischarge(ampereHours: delivered(seconds + first.part * dt), element: first.element, end: first.end)
            }
            seconds += dt
        }
        return ForwardDischarge(ampereHours: delivered(seconds), element: -1, end: .horizon)
    }
}
