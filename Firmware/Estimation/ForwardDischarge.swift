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
    public var ampereHours: Float
    public var element: Int
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
    /// This is `usableCharge(atDischarge:)` with the pack's heating and the RC branches'
    /// settling; it costs about 16 element evaluations per step (some 60 steps at 2C), so it is
    /// for readers outside the 1 ms loop, not for the loop's survey.
    public func usableCharge(atDischarge current: Float, sensorLimitCelsius limit: Float) -> ForwardDischarge? {
        guard elements.count > 0, elements[0].filter.isStarted, current > 0 else { return nil }
        let model = configuration.cellModel, chain = configuration.thermal
        let heating = chain.heatCapacity > 0
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
            volts[i] = .infinity
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
        while seconds < PackStateEstimator.forwardHorizon {
            // Electrical: every element's state after this step; the first to reach the minimum ends it.
            for i in 0..<n {
                let rf = elements[i].resistanceFactor, x = soc[i] - current * dt / 3_600 / elements[i].capacityAh, c = t[i]
                let a1 = FloatMath.exp(-dt / max(model.tau1.value(soc: x, celsius: c), 1e-3))
                let a2 = FloatMath.exp(-dt / max(model.tau2.value(soc: x, celsius: c), 1e-3))
                v1[i] = a1 * v1[i] - (1 - a1) * rf * model.r1.value(soc: x, celsius: c) * current
                v2[i] = a2 * v2[i] - (1 - a2) * rf * model.r2.value(soc: x, celsius: c) * current
                let overpotential = rf * model.instantaneousOverpotential(current: -current, soc: x, celsius: c).volts + v1[i] + v2[i]
                let ocv = model.openCircuitVoltage(soc: x, celsius: c)
                let v = ocv.voltage - model.hysteresisVoltage + overpotential
                if !(v > model.minimumVoltage) {
                    // Within the step, where the voltage crossed (from the previous step's, if any).
                    let before = volts[i]
                    let part = before.isFinite && before > v ? min(1, max(0, (before - model.minimumVoltage) / (before - v))) : 0
                    return ForwardDischarge(ampereHours: delivered(seconds + part * dt), element: i, end: .voltage)
                }
                volts[i] = v
                soc[i] = x
                heat[i] = -current * (overpotential + (c + 273.15) * ocv.entropic)
            }
            seconds += dt
            guard heating else { continue }
            // Thermal: the chain's step, then the sensors'.
            var previous = t[0]
            for j in 0..<places.count where Int(places[j]) < n { start[j] = t[Int(places[j])] }
            for i in 0..<n {
                let before = t[i]
                var watts = heat[i] - chain.ambientConductance * (before - air)
                if i > 0 { watts -= chain.neighbourConductance * (before - previous) }
                if i < n - 1 { watts -= chain.neighbourConductance * (before - t[i + 1]) }
                previous = before
                t[i] = before + watts * dt / chain.heatCapacity
            }
            for j in 0..<places.count where Int(places[j]) < n {
                let before = sensed[j], now = t[Int(places[j])], trail = lag * (now - start[j]) / dt
                sensed[j] = now - trail + (before - start[j] + trail) * keep
                if sensed[j] >= limit {
                    let part = sensed[j] > before ? min(1, max(0, (limit - before) / (sensed[j] - before))) : 1
                    return ForwardDischarge(ampereHours: delivered(seconds - dt + part * dt), element: Int(places[j]), end: .temperature)
                }
            }
        }
        return ForwardDischarge(ampereHours: delivered(seconds), element: -1, end: .horizon)
    }
}
