// The loop's early-warning stage: the health monitor's second, its alerts into the black box,
// and its configuration from the pack's.
import HAL

extension ControlLoop {
    /// Stage `riskScoring` (1 s): the monitor's evaluation, then an event in the black box for
    /// every cell whose alert level changed (code: the cell; value: level · reason · score).
    mutating func assessHealth() {
        let uptime = Float(approximating: Int64(bitPattern: schedule.tickCount)) / 1_000
        health.evaluate(cells: measurements.cells, current: measurements.pack.current.validValue, sumOfCellsDifference: faultMonitor.sumOfCellsDifference,
                        chargeNanocoulombs: coulombCounter.netChargeNanocoulombs, bled: balancer.bled,
                        curve: configuration.openCircuitVoltage, seconds: 1, uptimeSeconds: uptime)
        for i in 0..<health.cells.count where health.levelChanged.contains(i) {
            let h = health.cells[i]
            blackBox.record(.alert, code: UInt8(truncatingIfNeeded: i),
                            value: UInt32(h.level.rawValue) | UInt32(h.reason.rawValue) &<< 8 | UInt32(Int(h.score)) &<< 16,
                            milliseconds: UInt32(truncatingIfNeeded: schedule.tickCount), boot: persistence.bootCount)
        }
    }
}
