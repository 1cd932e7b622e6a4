// Each element's temperature between the sensors: the pack's thermal chain, run alongside the SOC
// filters, and the air temperature the pack cools towards (Docs/estimation.md, "Heating").
import HAL

/// The pack's thermal design as the estimator models it: a chain of series elements, each a
/// lumped heat capacity, conducting to its neighbours and to the ambient air. A heat capacity of
/// 0 (`none`) switches the chain off: every element then has its nearest sensor's temperature.
public struct ThermalChain: Sendable {
    /// One element's heat capacity (J/K), the conductance between neighbouring elements (W/K)
    /// and from one element to the air (W/K).
    public var heatCapacity: Float
    public var neighbourConductance: Float
    public var ambientConductance: Float
    /// The temperature sensors' first-order lag (s): a reading trails its element by this much
    /// of its rise.
    public var sensorLagSeconds: Float

    public init(heatCapacity: Float, neighbourConductance: Float, ambientConductance: Float, sensorLagSeconds: Float) {
        self.heatCapacity = heatCapacity
        self.neighbourConductance = neighbourConductance
        self.ambientConductance = ambientConductance
        self.sensorLagSeconds = sensorLagSeconds
    }

    /// No chain.
    public static var none: ThermalChain { ThermalChain(heatCapacity: 0, neighbourConductance: 0, ambientConductance: 0, sensorLagSeconds: 0) }

    /// Off, or every figure finite and not negative with a positive heat capacity.
    @inline(__always) var isValid: Bool {
        heatCapacity == 0 || (heatCapacity > 0 && neighbourConductance >= 0 && ambientConductance >= 0 && sensorLagSeconds >= 0
                              && sensorLagSeconds <= 600 && (heatCapacity + neighbourConductance + ambientConductance).isFinite)
    }

    /// How long the chain's fastest mode takes (s): the heat capacity over the most conductance
    /// one element has. Steps of the forward discharge stay below half of it.
    var fastestSeconds: Float { heatCapacity / max(2 * neighbourConductance + ambientConductance, 1e-9) }
}

extension PackStateEstimator {
    /// How long the pack must have rested (current at most C/50, s) before its coolest sensor is
    /// taken for the air temperature.
    static let ambientRest: Float = 1_800

    /// The air temperature the chain cools towards (°C): the coolest valid sensor when first
    /// seen, and again whenever the pack has rested `ambientRest` (a rested pack sits at the air's
    /// temperature); held while current flows. (The pack has no air sensor; Docs/estimation.md
    /// says what this misses.)
    mutating func estimateAmbient(coolest: Float) {
        if !ambientCelsius.isFinite || (elements.count > 0 && elements.inPlace(0).filter.restSeconds >= PackStateEstimator.ambientRest) {
            ambientCelsius = coolest
        }
    }

    /// Element `i`'s turn of the thermal chain (after its filter step), `dt` s since its last:
    /// see `ElementEstimate.advanceThermalChain`. `sensed`: a valid sensor sits on the element.
    mutating func advanceThermalChain(_ i: Int, sensed: Bool, seconds dt: Float) {
        guard configuration.thermal.heatCapacity > 0 else { return }
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
        var watts = filter.previousCurrent * filter.heatingVoltage
        watts -= chain.ambientConductance * (t - (ambient.isFinite ? ambient : t))
        if left.isFinite { watts -= chain.neighbourConductance * (t - left) }
        if right.isFinite { watts -= chain.neighbourConductance * (t - right) }
        let rise = watts / chain.heatCapacity                             // K/s
        chainCelsius = sensed ? celsius + chain.sensorLagSeconds * rise : t + rise * dt
    }
}
