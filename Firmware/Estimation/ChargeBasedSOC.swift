// State of charge from counted charge, anchored once from the rest voltage. This is the
// foundation's estimator; the adaptive filter with an error bound replaces it (state estimation).
import HAL

/// Pack state of charge as a fraction 0...1: the SOC read from the open-circuit-voltage curve the
/// first time the pack is at rest with valid readings, plus the charge counted since then divided
/// by the rated capacity, minus the mean charge the balancing resistors took from the cells since
/// then (it leaves the cells without passing the current sensor). Unknown (nil) until that first rest.
public struct ChargeBasedSOC: Sendable {
    /// The SOC at the anchor and the counted charge (in nC) at that moment.
    public private(set) var anchor: (stateOfCharge: Float, netChargeNanocoulombs: Int64, bled: MilliampereSeconds)? = nil
    /// The latest estimate, or nil before the anchor.
    public private(set) var stateOfCharge: Float? = nil
    /// 1 / (rated capacity in nC), so an update is a multiplication.
    let inverseCapacityNanocoulombs: Float

    init(ratedCapacity: MilliampereSeconds) {
        inverseCapacityNanocoulombs = 1 / (Float(approximating: ratedCapacity.rawValue) * 1_000_000)
    }

    /// Stage `stateOfCharge` (every 10 ms).
    mutating func update(measurements m: inout Measurements, cellStatistics: borrowing @_addressable PackStatistics<Millivolts>?,
                         counter: CoulombCounter, bled: MilliampereSeconds, configuration c: borrowing @_addressable PackConfiguration) {
        if anchor == nil {
            // Anchor on the first tick at rest with every cell valid: mean cell voltage ≈ OCV.
            guard let current = m.pack.current.validValue, current.magnitude <= c.restCurrent,
                  let stats = cellStatistics, stats.invalidCount == 0 else { return }
            anchor = (c.openCircuitVoltage.stateOfCharge(atRestVoltage: stats.mean), counter.netChargeNanocoulombs, bled)
        }
        guard let anchor else { return }
        let counted = Float(approximating: counter.netChargeNanocoulombs &- anchor.netChargeNanocoulombs)
            - Float(approximating: (bled - anchor.bled).rawValue) * 1_000_000 / Float(Int(c.cellCount))
        let soc = anchor.stateOfCharge + counted * inverseCapacityNanocoulombs
        stateOfCharge = soc < 0 ? 0 : (soc > 1 ? 1 : soc)
    }
}
