// The early warning in the full 1 ms loop on the virtual pack: a cell heating itself raises a
// thermal alert and a power derate before any temperature reaches its warning tier; a failing
// voltage sensor is reported as a sensor fault, never as a cell at risk; both on CAN and in the
// black box.
@testable import Firmware
import Foundation
import HAL
@testable import HostHarness
import Testing

@Suite struct EarlyWarningTests {
    @Test func aThermalAnomalyIsAlertedAndDeratedBeforeTheWarningTier() throws {
        let scenario = try Scenario.load("thermal-anomaly")
        var s = try Simulation(scenario: scenario)
        let warningTier = Double(s.loop.configuration.protection.overtemperatureDischarge.maximumOperating) / 10   // °C
        var alert: (time: Double, hottestSensor: Double, limit: Double)? = nil
        var undereratedLimit = 0.0
        while s.now < Instant.origin + .seconds(480) && alert == nil {
            s.run(for: .seconds(1)) { _ in }
            if s.loop.health.thermalWarning {
                let sensors = (0..<4).compactMap { s.loop.measurements.cells.temperatures[$0].validValue.map { Double($0.rawValue) / 10 } }
                s.run(for: .milliseconds(20)) { _ in }     // the next 10 ms slot applies the derate
                alert = (Double(s.now.microsecondsSinceOrigin) / 1e6, sensors.max() ?? 0, Double(s.loop.powerLimits.discharge2s.rawValue) / 1_000)
            } else {
                undereratedLimit = Double(s.loop.powerLimits.discharge2s.rawValue) / 1_000
            }
        }
        let a = try #require(alert, "no thermal warning within 8 minutes")
        #expect(a.hottestSensor < warningTier, "warning at \(a.time) s with a sensor at \(a.hottestSensor) °C (tier \(warningTier) °C)")
        #expect(a.hottestSensor < 35, "the alert comes long before the tier: \(a.hottestSensor) °C")
        #expect(a.limit <= undereratedLimit * 0.5 + 0.1, "derated to \(a.limit) A from \(undereratedLimit) A")
        #expect(s.loop.health.ranked[0] == 5 && s.loop.health.cells[5].reason == .thermalAnomaly)
        // On CAN: the ranking names cell 6, thermal, at warning or above.
        let m = s.loop.riskRankingMessage()
        #expect(m.rank1Cell == 6 && m.rank1Reason == CANMatrix.RiskReason.thermalAnomaly.rawValue && m.alertLevel >= 2)
        // In the black box: the alert events of cell 6 (watch, then warning).
        let queued = (0..<s.loop.blackBox.queueCount).map { BlackBoxEvent(words: s.loop.blackBox.queue[3 * $0], s.loop.blackBox.queue[3 * $0 + 1], s.loop.blackBox.queue[3 * $0 + 2]) }
        let recorded = s.loop.blackBox.journal.recordsWritten
        #expect(recorded > 0 || queued.contains { $0.kind == BlackBoxEventKind.alert.rawValue && $0.code == 5 })
    }

    @Test func aSensorOffsetIsReportedAsASensorFaultNotACellRisk() throws {
        var s = try Simulation(scenario: try Scenario.load("sensor-offset-at-rest"))
        s.run(for: .seconds(900)) { _ in }
        #expect(s.loop.health.suspectCells == CellSet(bits: 1 << 2), "\(s.loop.health.suspectCells)")
        #expect(s.loop.health.highestLevel == .none)
        for k in 0..<s.loop.health.ranked.count { #expect(s.loop.health.ranked[k] != 2) }
        let m = s.loop.riskRankingMessage()
        #expect(m.sensorSuspect == 1 && m.suspectCell == 3)
        #expect(m.alertLevel == 0)
    }
}
