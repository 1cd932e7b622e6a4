// Each element's temperature between the sensors: the pack's thermal chain, run alongside the SOC
// filters, and the air temperature the pack cools towards (Docs/estimation.md, "Each element's
// temperature: the thermal chain").
import HAL

/// The pack's thermal design as the estimator models it: a chain of series elements, each a
/// lumped heat capacity, conducting to its neighbours and to the ambient air. A heat capacity of
/// 0 (`none`) switches the chain off: every element then has its nearest sensor's temperature.
public struct ThermalChain: Sendable {
    /// One element's heat capacity, the conductance between neighbouring elements and from one
    /// element to the air.
    public var heatCapacityJoulesPerKelvin: Float
    public var neighbourConductanceWattsPerKelvin: Float
    public var ambientConductanceWattsPerKelvin: Float
    /// The temperature sensors' first-order lag: a reading trails its element by this much of
    /// its rise.
    public var sensorLagSeconds: Float

    public init(heatCapacityJoulesPerKelvin: Float, neighbourConductanceWattsPerKelvin: Float,
                ambientConductanceWattsPerKelvin: Float, sensorLagSeconds: Float) {
        self.heatCapacityJoulesPerKelvin = heatCapacityJoulesPerKelvin
        self.neighbourConductanceWattsPerKelvin = neighbourConductanceWattsPerKelvin
        self.ambientConductanceWattsPerKelvin = ambientConductanceWattsPerKelvin
        self.sensorLagSeconds = sensorLagSeconds
    }

    /// No chain.
    public static var none: ThermalChain {
        ThermalChain(heatCapacityJoulesPerKelvin: 0, neighbourConductanceWattsPerKelvin: 0, ambientConductanceWattsPerKelvin: 0,
                     sensorLagSeconds: 0)
    }

    /// An upper bound on how fast the chain's fastest mode decays (s): the heat capacity over the
    /// most conductance a mode can see, 4·G_n + G_a (a node against both neighbours moving the
    /// other way). The loop's 100 ms Euler step needs it above 1 s (`isValid`); the forward
    /// discharge steps at most half of it.
    var fastestSeconds: Float {
        heatCapacityJoulesPerKelvin / max(4 * neighbourConductanceWattsPerKelvin + ambientConductanceWattsPerKelvin, 1e-9)
    }

    /// Off, or every figure finite and not negative with a positive heat capacity, the sensors'
    /// lag at most 10 minutes and the fastest mode at least 1 s (ten of the loop's steps: an
    /// explicit step of a faster chain would oscillate and diverge).
    @inline(__always) var isValid: Bool {
        heatCapacityJoulesPerKelvin == 0
            || (neighbourConductanceWattsPerKelvin >= 0 && ambientConductanceWattsPerKelvin >= 0 && sensorLagSeconds >= 0
                && sensorLagSeconds <= 600 && fastestSeconds >= 1
                && (heatCapacityJoulesPerKelvin + neighbourConductanceWattsPerKelvin + ambientConductanceWattsPerKelvin).isFinite)
    }

    /// The heat flowing into a node at `t` (°C, W): `heat` less what it conducts to the air at
    /// `air` and to its neighbours at `left` and `right` (NaN: none, or not known yet). The
    /// loop's chain and the forward discharge both step with it.
    @inline(__always) func netWatts(heat: Float, celsius t: Float, left: Float, right: Float, air: Float) -> Float {
        var watts = heat - ambientConductanceWattsPerKelvin * (t - air)
        if left.isFinite { watts -= neighbourConductanceWattsPerKelvin * (t - left) }
        if right.isFinite { watts -= neighbourConductanceWattsPerKelvin * (t - right) }
        return watts
    }

    /// How long the pack must rest before its coolest sensor is taken for the air (s): three of
    /// its cooling time constants (heat capacity over the conductance to the air), when the pack
    /// is within 5 % of its excess over the air; never without a conductance to the air.
    var ambientRestSeconds: Float { 3 * heatCapacityJoulesPerKelvin / ambientConductanceWattsPerKelvin }
}

extension PackStateEstimator {
    /// The air temperature the chain cools towards (°C): the coolest valid sensor when first
    /// seen, and again whenever the pack has rested (current at most C/50) for three of its
    /// cooling time constants (`ThermalChain.ambientRestSeconds`: 2.1 h for the lg-m50 packs at
    /// 0.03 W/K per cell; a pack rested that long sits within 5 % of its excess over the air);
    /// held otherwise.
    /// (The pack has no air sensor; Docs/estimation.md says what this misses.)
    mutating func estimateAmbient(coolest: Float) {
        if !ambientCelsius.isFinite
            || (elements.count > 0 && elements.inPlace(0).filter.restSeconds >= configuration.thermal.ambientRestSeconds) {
            ambientCelsius = coolest
        }
    }

    /// Element `i`'s turn of the thermal chain (after its filter step), `dt` s since its last:
    /// see `ElementEstimate.advanceThermalChain`. `sensed`: a valid sensor sits on the element.
    mutating func advanceThermalChain(_ i: Int, sensed: Bool, seconds dt: Float) {
        guard configuration.thermal.heatCapacityJoulesPerKelvin > 0 else { return }
        let left = i > 0 ? elements.inPlace(i - 1).chainCelsius : .nan
        let right = i + 1 < elements.count ? elements.inPlace(i + 1).chainCelsius : .nan
        let air = ambientCelsius
        elements[i].advanceThermalChain(left: left, right: right, ambient: air, sensed: sensed, seconds: dt, configuration)
    }
}

extension ElementEstimate {
    /// One step of the element's node of the chain, after its filter step: its heat is the
    /// filter's current times the heating voltage the filter measured (the voltage less the OCV
    /// and hysteresis: a weak element's larger resistance heats it more, whatever the model says;
    /// plus T·dOCV/dT; 0 without a voltage), less what it conducts to its
    /// neighbours (`left`, `right`; NaN: none or not known yet) and to the air. Where a valid
    /// sensor sits on the element, the node is the reading plus the sensor's lag times the
    /// node's rise (the reading trails); elsewhere it integrates the heat.
    mutating func advanceThermalChain(left: Float, right: Float, ambient: Float, sensed: Bool, seconds dt: Float,
                                      _ configuration: borrowing @_addressable StateEstimationConfiguration) {
        let chain = configuration.thermal
        let t = chainCelsius.isFinite ? chainCelsius : celsius
        let watts = chain.netWatts(heat: filter.previousCurrent * filter.heatingVoltage, celsius: t, left: left, right: right,
                                   air: ambient.isFinite ? ambient : t)
        let rise = watts / chain.heatCapacityJoulesPerKelvin                             // K/s
        chainCelsius = sensed ? celsius + chain.sensorLagSeconds * rise : t + rise * dt
    }
}
