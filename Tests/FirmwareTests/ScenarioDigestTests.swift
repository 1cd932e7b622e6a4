// The on-chip scenario (Firmware/Boards/Common/Scenario.swift, linked into this target as
// Scenario.swift) run on the host, in a normal Swift build: it must end exactly as the Cortex-M4F
// image under QEMU and the Embedded x86_64 image end it (make scenario checks those two against
// the same file), CAN digest included.
import Foundation
import Testing
@testable import Firmware
import HAL

@Suite struct ScenarioDigestTests {
    /// Fixtures/scenario-digest.txt as name → value.
    static func expected() throws -> [String: String] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fixtures/scenario-digest.txt")
        var values: [String: String] = [:]
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return values
    }

    @Test func hostRunEndsAsTheChipDoes() throws {
        let expected = try Self.expected()
        // Any loop will do as storage: the scenario sets it up in place, as the images do.
        var loop = try ControlLoop(board: ScenarioBoard(), configuration: testConfiguration())
        try Scenario.setUp(&loop)
        let r = Scenario.run(&loop)
        #expect(r.passed)
        let got = ["scenario_frames_sent": "\(r.framesSent)", "scenario_digest": "\(r.digest)", "scenario_state": "\(r.state)",
                   "scenario_latched": "\(r.latched)", "scenario_contactors": "\(r.contactors)",
                   "scenario_soc_permille": "\(r.socPermille)", "scenario_watchdog_feeds": "\(r.watchdogFeeds)"]
        #expect(got == expected)
    }
}
