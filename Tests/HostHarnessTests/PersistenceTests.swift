// The firmware's persistence on the virtual pack: a restart of the BMS mid-ride resumes the SOC
// where it was, a latched deep-discharge fault survives it, the shutdown request saves the
// state before power may go, and an empty, damaged or foreign store leads to the documented
// safe defaults (Docs/persistence.md).
@testable import Firmware
import Foundation
import HAL
@testable import HostHarness
import Testing

@Suite struct PersistenceTests {
    /// The SOC error (points) of the firmware against the truth now.
    static func error(_ s: Simulation) throws -> Double {
        Double(try #require(s.loop.stateOfCharge)) * 100 - s.pack.displayStateOfCharge * 100
    }

    /// A pack that a rogue load drains into a deep discharge within seconds.
    static func deepDischarge() throws -> Scenario {
        var s = try Scenario.load("delivery-hour")
        s.pack.initialStateOfCharge = 0.02
        s.load = .constantCurrent(amperes: -20)
        s.loadObeysLimits = false
        return s
    }

    /// Mid-ride, the rider switches off and on: the firmware resumes what it knew — the SOC
    /// error right after the restart is the error right before, the learned capacities and
    /// resistances and the cycle count are those it had — and 10 s later its SOC error is within
    /// half a point of a run without the restart. (The must-show figure over a whole delivery
    /// day, with a long off time, is `make bench-persistence`.)
    @Test func anOrderlyRestartMidRideResumesWhereTheFirmwareWas() throws {
        var plain = try Simulation(scenario: try Scenario.load("delivery-hour"))
        plain.run(for: .seconds(120)) { _ in }
        var restarted = plain
        let before = try Self.error(restarted)
        let learned = restarted.loop.estimator.elements
        let cycles = restarted.loop.estimator.equivalentFullCycles
        let outcome = try restarted.restartBMS(.orderly(), off: .seconds(1))
        guard case .restored = outcome else { Issue.record("restored \(outcome)"); return }
        #expect(restarted.loop.estimator.isStarted)
        let justAfter = try Self.error(restarted)
        #expect(abs(justAfter - before) < 0.5, "the SOC resumes where it was: \(before) -> \(justAfter)")
        // (The shutdown takes a second or two of riding and stopping, in which the resistances
        // may still learn a little.)
        for i in 0..<learned.count {
            #expect(restarted.loop.estimator.elements[i].capacityAh == learned[i].capacityAh)
            #expect(abs(restarted.loop.estimator.elements[i].resistanceFactor / learned[i].resistanceFactor - 1) < 0.005)
        }
        #expect(restarted.loop.estimator.equivalentFullCycles >= cycles)
        #expect(restarted.loop.persistence.bootCount == 2)
        plain.run(for: .seconds(15)) { _ in }
        restarted.run(for: plain.now - restarted.now) { _ in }
        let withRestart = try Self.error(restarted), without = try Self.error(plain)
        #expect(abs(withRestart - without) < 0.5, "SOC error with the restart \(withRestart), without \(without)")
        #expect(restarted.loop.stateMachine.state == .connected(.drive), "riding again after the restart")
    }

    /// The early warning's history survives a restart (checkpoint words 12…15): the cells that
    /// were alerted, how often, and the voltage channel found faulty, which stays out of the
    /// ranking after the restart.
    @Test func theRiskHistorySurvivesARestart() throws {
        var s = try Simulation(scenario: try Scenario.load("delivery-hour"))
        s.run(for: .seconds(30)) { _ in }
        s.loop.health.markSuspect(3)
        var expected = s.loop.health.history
        expected.everWarning.insert(6)
        expected.warnings = 2; expected.highestLevel = .critical
        s.loop.health.restore(history: expected)
        let outcome = try s.restartBMS(.orderly(), off: .seconds(1))
        guard case .restored = outcome else { Issue.record("restored \(outcome)"); return }
        #expect(s.loop.health.history == expected)
        #expect(s.loop.health.cells[3].sensorSuspect && s.loop.health.suspectCells.contains(3))
        #expect(RiskHistory(words: RiskHistory().words) == RiskHistory())
        #expect(RiskHistory(words: (0, 0, 0, 0)) == RiskHistory(), "a checkpoint from before the history: none")
    }

    @Test func theShutdownRequestOpensTheContactorsAndSavesTheStateBeforePowerMayGo() throws {
        var s = try Simulation(scenario: try Scenario.load("delivery-hour"))
        s.run(for: .seconds(30)) { _ in }
        #expect(s.loop.stateMachine.state == .connected(.drive))
        var shutdown = CANMatrix.VCURequest()
        shutdown.stateRequest = CANMatrix.StateRequest.shutdown.rawValue
        shutdown.counter = s.world.requestCounter
        s.loop.board.canBus.deliver(shutdown.encode())
        var saved: Instant? = nil
        for _ in 0..<2_000 where saved == nil {
            s.step()
            if s.loop.persistence.stateSaved { saved = s.now }
        }
        let at = try #require(saved, "StateSaved within 2 s")
        #expect(s.loop.stateMachine.state == .standby)
        #expect(s.loop.board.contactors.positions.mainPositive == .open && s.loop.board.contactors.positions.mainNegative == .open)
        #expect(s.loop.persistence.lastReason == .shutdown)
        #expect(at - Instant.origin < .seconds(32))
    }

    @Test(arguments: [true, false])
    func aLatchedDeepDischargeStaysLatchedAcrossARestart(orderly: Bool) throws {
        var s = try Simulation(scenario: try Self.deepDischarge())
        s.run(for: .seconds(20)) { _ in }
        #expect(s.loop.stateMachine.latched.contains(.cellUndervoltage))
        #expect(s.loop.stateMachine.state == .error)
        s.run(for: .seconds(2)) { _ in }   // the latch's checkpoint is written within ticks
        let outcome = try s.restartBMS(orderly ? .orderly() : .unplanned, off: .seconds(60))
        guard case .restored = outcome else { Issue.record("restored \(outcome)"); return }
        #expect(s.loop.stateMachine.latched.contains(.cellUndervoltage))
        #expect(s.loop.stateMachine.state == .error)
        s.run(for: .seconds(5)) { _ in }
        #expect(s.loop.stateMachine.state == .error, "a drive request is refused while the latch stands")
        #expect(s.loop.board.contactors.positions.mainPositive == .open)
    }

    @Test func anEmptyStoreGivesTheDefaultsOfAFirstStart() throws {
        var s = try Simulation(scenario: try Scenario.load("delivery-hour"))
        #expect(s.loop.persistence.restoreOutcome == .empty)
        #expect(s.loop.persistence.bootCount == 1)
        s.run(for: .seconds(1)) { _ in }
        #expect(abs(try Self.error(s)) < 3, "the SOC is found from the voltages as on a first start")
    }

    @Test func aDamagedLatestCheckpointIsSkippedAndTheOneBeforeRestored() throws {
        var s = try Simulation(scenario: try Scenario.load("delivery-hour"))
        s.run(for: .seconds(30)) { _ in }
        try s.restartBMS(.orderly(), off: .seconds(1))
        s.run(for: .seconds(30)) { _ in }
        try s.restartBMS(.orderly(), off: .seconds(1))
        let journal = s.loop.persistence.checkpoints
        // Two checkpoints at least; damage the newest one's payload.
        var probe = journal
        let scan = probe.recover(&s.loop.board.store)
        let newest = try #require(scan.latestSequence)
        let index = scan.latestPage * s.loop.board.store.geometry.wordsPerPage + scan.latestWord + 5
        var store = s.loop.board.store
        store.flipBit(word: index, bit: 3)
        s.loop.board.store = store
        let outcome = try s.restartBMS(.unplanned, off: .seconds(1))
        guard case .restored(let sequence) = outcome else { Issue.record("restored \(outcome)"); return }
        #expect(sequence < newest, "the damaged record (\(newest)) is never used")
    }

    @Test func aCheckpointOfAnotherPackKeepsOnlyTheLatchesAndCounters() throws {
        var s = try Simulation(scenario: try Self.deepDischarge())
        s.run(for: .seconds(22)) { _ in }
        let store = s.loop.board.store
        var other = try Self.deepDischarge()
        other.pack.seriesCount = 15
        var t = try Simulation(scenario: other)
        t.loop.board.store = store
        let outcome = try t.restartBMS(.unplanned, off: .seconds(1))
        guard case .configurationChanged = outcome else { Issue.record("outcome \(outcome)"); return }
        #expect(t.loop.stateMachine.latched.contains(.cellUndervoltage))
        #expect(t.loop.persistence.bootCount == 2)
    }
}

@Suite struct BlackBoxTests {
    /// A deep discharge trips, the BMS is restarted, and a service tool reads the black box over
    /// CAN: the log holds both boots, the state transitions, the latch, and a snapshot of the
    /// seconds around the trip with the low cell in it.
    @Test func theEventLogIsReadOverCANAndDecoded() throws {
        var s = try Simulation(scenario: try PersistenceTests.deepDischarge())
        let log = temporaryDirectory("blackbox").appendingPathExtension("log")
        try FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
        s.run(for: .seconds(25)) { _ in }
        #expect(s.loop.blackBox.snapshots == 1)
        try s.restartBMS(.unplanned, off: .seconds(5))
        s.canLog = try CANTrafficLog(path: log.path)
        s.run(for: .seconds(2)) { _ in }
        var request = CANMatrix.TOOLRequest()
        request.command = CANMatrix.ToolCommand.readEventLog.rawValue
        s.deliver(request.encode())
        s.run(for: .seconds(6)) { _ in }
        #expect(s.loop.blackBox.readoutIndex == nil, "the readout finished")
        s.canLog?.close()

        let result = run(["decode", log.path, "--events"])
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("black box: 4 pages of 1024 words; ") == true, "\(lines.first ?? "")")
        #expect(lines.contains { $0.hasPrefix("boot 1  +0:00:00.000  boot: empty store: defaults") }, "\(result.output)")
        #expect(lines.contains { $0.contains("state standby -> connecting (drive)") })
        #expect(lines.contains { $0.contains("state connected (drive) -> disconnecting") })
        #expect(lines.contains { $0.contains("fault latched: cell-undervoltage") })
        let snapshot = try #require(lines.firstIndex { $0.contains("snapshot of cell-undervoltage: ") })
        #expect(lines[snapshot].contains("every 200 ms"))
        let samples = lines[(snapshot + 1)...].filter { $0.hasPrefix("    ") }
        #expect(samples.count == 9, "3 before (the trip came 0.5 s after connecting) and 6 after: \(result.output)")
        #expect(samples.contains { $0.contains("-0.") || $0.contains("-1.") }, "samples before the trip")
        #expect(samples.allSatisfy { $0.contains("cells ") && $0.contains("°C") })
        #expect(lines.contains { $0.hasPrefix("boot 2  +0:00:00.000  boot: restored checkpoint") }, "\(result.output)")
    }

    @Test func aLogWithoutAReadoutSaysHowToGetOne() throws {
        let log = try simulatedLog("rogue-charger-overvoltage", seconds: 1, name: "noreadout")
        let result = run(["decode", log.path, "--events"])
        #expect(result.status == 1)
        #expect(result.error.contains("no event-log readout (BMS_EventLogData) in the log: send TOOL_Request ReadEventLog (1F0#01)"))
    }
}

@Suite struct StateFileTests {
    /// The SBC deployment's state file: a firmware over CAN latches a deep discharge with its
    /// store in a file; a new process on the same file starts in error with the latch.
    @Test func aLatchSurvivesARestartThroughTheStateFile() throws {
        let path = temporaryDirectory("state").appendingPathExtension("bin").path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let scenario = try PersistenceTests.deepDischarge()
        var wire = try Wire(scenario, store: try InMemoryStore(path: path))
        #expect(wire.firmware.loop.persistence.restoreOutcome == .empty)
        wire.run(for: .seconds(5))
        #expect(wire.firmware.loop.stateMachine.latched.contains(.cellUndervoltage))
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(size == 16 * 1_024 * 4)
        #expect((wire.firmware.loop.board.store.file?.syncs ?? 0) >= 2, "every committed record is synced")

        let again = try LinkedFirmware(pack: scenario.pack, link: QueueLink(), clock: .simulated, store: try InMemoryStore(path: path))
        guard case .restored = again.loop.persistence.restoreOutcome else { Issue.record("\(again.loop.persistence.restoreOutcome)"); return }
        #expect(again.loop.stateMachine.latched.contains(.cellUndervoltage))
        #expect(again.loop.stateMachine.state == .error)
        #expect(again.loop.persistence.bootCount == 2)
    }

    @Test func aStateFileOfAnotherSizeIsRefusedWithAClearError() throws {
        let path = temporaryDirectory("wrong").appendingPathExtension("bin").path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(repeating: 0xFF, count: 100).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: HarnessError.self) { _ = try InMemoryStore(path: path) }
        #expect(error?.message == "\(path): the state file holds 100 bytes, not the 65536 of a store of 16 pages × 1024 words (another pack's file?)")
    }
}
