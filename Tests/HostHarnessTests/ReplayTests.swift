// `bms-harness replay` and the CAN-linked board under it: a simulated log replays to exactly the
// firmware frames it holds, the output matches a committed golden file, bad lines and bad frames
// are diagnosed, and the link frames carry every reading status both ways.
import Firmware
import Foundation
import HAL
@testable import HostHarness
import Testing

/// A candump log of `seconds` of `scenario` from `simulate --can-log` (inputs and outputs).
func simulatedLog(_ scenario: String, seconds: Int32, name: String) throws -> URL {
    let path = temporaryDirectory(name).appendingPathExtension("log")
    try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
    let result = run(["simulate", "--scenario", scenario, "--duration", "\(seconds)s", "--out", path.deletingLastPathComponent().path,
                      "--can-log", path.path])
    #expect(result.status == 0, "\(result.error)")
    return path
}

@Suite(.serialized) struct ReplayTests {
    /// The fault scenario: a rogue charger overcharges, the first cell over its limit opens the
    /// contactors within a second and the fault latches.
    static let scenario = "rogue-charger-overvoltage"

    @Test func aSimulatedLogReplaysToTheFramesItHolds() throws {
        for (scenario, seconds) in [(Self.scenario, Int32(10)), ("delivery-hour", 30)] {
            let log = try simulatedLog(scenario, seconds: seconds, name: "replay-\(scenario)")
            let out = log.deletingPathExtension().appendingPathExtension("out.log")
            let result = run(["replay", log.path, "--compare", "--scenario", scenario, "--out", out.path])
            #expect(result.status == 0, "\(scenario): \(result.output)\(result.error)")
            #expect(result.output.contains("0 differ, 0 only in the log, 0 only from the firmware"), "\(result.output)")
            #expect(result.output.contains("result         the firmware's outputs are the log's"))
        }
    }

    @Test func theReplayOfTheFaultScenarioMatchesItsGoldenFile() throws {
        let log = try simulatedLog(Self.scenario, seconds: 10, name: "golden")
        let out = log.deletingPathExtension().appendingPathExtension("out.log")
        #expect(run(["replay", log.path, "--scenario", Self.scenario, "--out", out.path]).status == 0)
        let produced = try Data(contentsOf: out)
        let golden = try FixtureLocator.fixturesDirectory().appendingPathComponent("golden/\(Self.scenario).replay.log")
        if ProcessInfo.processInfo.environment["SWIFTBMS_RECORD_GOLDEN"] == "1" {
            try produced.write(to: golden)
            Issue.record("recorded \(golden.path): re-run without SWIFTBMS_RECORD_GOLDEN")
            return
        }
        let expected = try Data(contentsOf: golden)
        #expect(produced == expected, "replay output differs from \(golden.path) (make golden re-records it)")
        // What the golden file says: the contactors opened for cell overvoltage and it latched.
        let text = String(decoding: expected, as: UTF8.self)
        let lastStatus = try #require(text.split(separator: "\n").last { $0.contains(" 110#") })
        let frame = try #require(try CandumpReader.parse(bytes: Array((lastStatus + "\n").utf8), fileName: "golden").first)
        guard case .frame(let status) = frame.content else { Issue.record("not a frame"); return }
        let m = try CANMatrix.BMSStatus.decode(status)
        #expect(m.bmsState == CANMatrix.BmsState.error.rawValue)
        #expect(m.stateReason == FaultID.cellOvervoltage.rawValue)
        #expect(m.mainPositive == ContactorPosition.open.rawValue && m.mainNegative == ContactorPosition.open.rawValue)
    }

    @Test func theSameLogGivesByteIdenticalOutputs() throws {
        let log = try simulatedLog(Self.scenario, seconds: 4, name: "twice")
        var outputs: [Data] = []
        for name in ["a.log", "b.log"] {
            let out = log.deletingLastPathComponent().appendingPathComponent(name)
            #expect(run(["replay", log.path, "--scenario", Self.scenario, "--out", out.path]).status == 0)
            outputs.append(try Data(contentsOf: out))
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0].count > 10_000)
    }

    @Test func compareReportsWhereTheOutputsDiffer() throws {
        let log = try simulatedLog(Self.scenario, seconds: 4, name: "differ")
        var lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Make the BMS_Status frame at 3.001 s claim another state: the replay must say where.
        let index = try #require(lines.firstIndex { $0.hasPrefix("(0000000003.001000) can0 110#") })
        var status = try CANMatrix.BMSStatus.decode(try #require(try CandumpReader.parse(bytes: Array((lines[index] + "\n").utf8), fileName: "x").first.flatMap {
            if case .frame(let f) = $0.content { return f } else { return nil }
        }))
        status.bmsState = CANMatrix.BmsState.connected.rawValue
        lines[index] = CandumpWriter.line(for: LoggedFrame(timestamp: .init(seconds: 3, microseconds: 1_000), interface: "can0",
                                                           content: .frame(status.encode()), direction: nil))
        try lines.joined(separator: "\n").write(to: log, atomically: true, encoding: .utf8)
        let result = run(["replay", log.path, "--compare", "--scenario", Self.scenario, "--out", log.path + ".out"])
        #expect(result.status == 1)
        #expect(result.output.contains(" 1 differ, 0 only in the log, 0 only from the firmware"), "\(result.output)")
        #expect(result.output.contains("differs at 3.001000: BMS_Status BmsState: Connected -> Error\n"), "\(result.output)")
    }

    @Test func aBadLineIsReportedWithFileAndLineAndTheOutputsBeforeItAreKept() throws {
        let log = try simulatedLog(Self.scenario, seconds: 2, name: "bad")
        var lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map(String.init)
        lines.insert("(0000000001.500000) can0 0A0#ZZ", at: 6_000)
        try (lines.joined(separator: "\n") + "\n").write(to: log, atomically: true, encoding: .utf8)
        let out = log.path + ".out"
        let result = run(["replay", log.path, "--scenario", Self.scenario, "--out", out])
        #expect(result.status == 1)
        #expect(result.error.hasPrefix("bms-harness replay: \(log.path):6001: "), "\(result.error)")
        #expect(result.error.split(separator: "\n").count == 1)
        let kept = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(kept.count > 100)
        #expect(kept.last.map { $0.hasPrefix("(0000000001.") } == true)
    }

    @Test func corruptOrRepeatedMeasurementFramesAreRefusedAndTheChannelsGoStale() throws {
        let pack = try Scenario.load(Self.scenario).pack
        var firmware = try LinkedFirmware(pack: pack, link: QueueLink(), clock: .simulated)
        var cells = CellMonitorReadings(cellCount: 16, temperatureSensorCount: 4)
        for i in 0..<16 { cells.cellVoltages[i] = Reading(Millivolts(3_700)) }
        for i in 0..<4 { cells.temperatures[i] = Reading(DeciCelsius(250)) }
        let sensor = PackSensorReadings(current: Reading(Milliamperes(0)), packVoltage: Reading(Millivolts(59_200)),
                                        linkVoltage: Reading(Millivolts(0)))
        var transmitter = MeasurementTransmitter()
        var now = Instant.origin
        func step(corrupt: Bool, repeatCounter: Bool) {
            var frames: [CANFrame] = []
            transmitter.send(cells: cells, pack: sensor, feedback: ContactorFeedback(mainPositive: .open, mainNegative: .open, precharge: .open),
                             faults: PeripheralFaults()) { frames.append($0) }
            for var frame in frames {
                if corrupt && frame.id.rawValue == CANMatrix.AFECellVoltages.identifier { frame[10] ^= 0x04 }
                firmware.loop.board.canBus.link.deliver(frame)
            }
            if repeatCounter { transmitter = MeasurementTransmitter() }   // every frame repeats counter 0
            firmware.step(now: now)
            now = now + .milliseconds(1)
        }
        for _ in 0..<50 { step(corrupt: false, repeatCounter: false) }
        #expect(firmware.loop.measurements.cells.cellVoltages[0].status == .valid)
        #expect(firmware.loop.board.refusedFrames == 0)
        for _ in 0..<200 { step(corrupt: true, repeatCounter: false) }
        #expect(firmware.loop.board.refusedFrames == 200)
        #expect(firmware.loop.measurements.cells.cellVoltages[0].status == .stale)
        #expect(firmware.loop.measurements.pack.current.status == .valid)
        for _ in 0..<200 { step(corrupt: false, repeatCounter: true) }
        #expect(firmware.loop.measurements.pack.current.status == .stale, "a sender stuck on one counter is not fresh")
    }
}

@Suite struct LinkFrameTests {
    @Test func cellVoltagesCarryEveryStatus() throws {
        var r = CellMonitorReadings(cellCount: 5, temperatureSensorCount: 0)
        r.cellVoltages[0] = Reading(Millivolts(3_701))
        r.cellVoltages[1] = Reading(Millivolts(0), status: .openWire)
        r.cellVoltages[2] = Reading(Millivolts(0), status: .channelFault)
        r.cellVoltages[3] = Reading(Millivolts(0), status: .notMeasured)
        r.cellVoltages[4] = Reading(Millivolts(16_380))
        var back = CellMonitorReadings(cellCount: 5, temperatureSensorCount: 0)
        LinkFrames.read(try CANMatrix.AFECellVoltages.decode(LinkFrames.cellVoltages(r, counter: 9)), into: &back)
        #expect(back == r)
    }

    @Test func temperaturesCarryValuesAndSensorFaults() throws {
        var r = CellMonitorReadings(cellCount: 0, temperatureSensorCount: 3)
        r.temperatures[0] = Reading(DeciCelsius(-400))
        r.temperatures[1] = Reading(DeciCelsius(0), status: .channelFault)
        r.temperatures[2] = Reading(DeciCelsius(1_234))
        var back = CellMonitorReadings(cellCount: 0, temperatureSensorCount: 3)
        LinkFrames.read(try CANMatrix.AFETemperatures.decode(LinkFrames.temperatures(r, counter: 200)), into: &back)
        #expect(back == r)
    }

    @Test func currentAndVoltagesRoundTripAndSNAIsNotMeasured() throws {
        let r = PackSensorReadings(current: Reading(Milliamperes(-123_456)), packVoltage: Reading(Millivolts(59_123)),
                                   linkVoltage: Reading(.zero, status: .notMeasured))
        #expect(LinkFrames.current(try CANMatrix.SHUNTCurrent.decode(LinkFrames.current(r, counter: 3))) == r.current)
        let v = LinkFrames.voltages(try CANMatrix.SHUNTVoltages.decode(LinkFrames.voltages(r, counter: 3)))
        #expect(v.pack == r.packVoltage && v.link == r.linkVoltage)
        let missing = PackSensorReadings(current: Reading(.zero, status: .channelFault))
        #expect(LinkFrames.current(try CANMatrix.SHUNTCurrent.decode(LinkFrames.current(missing, counter: 4))).status == .notMeasured)
    }

    @Test func ioCommandAndFeedbackRoundTrip() throws {
        let coils = ContactorFeedback(mainPositive: .open, mainNegative: .closed, precharge: .closed)
        let bleed = BalancingCommand(cells: CellSet(bits: 0x8000_0005))
        let back = LinkFrames.ioCommand(try CANMatrix.BMSIOCommand.decode(LinkFrames.ioCommand(coils: coils, balancing: bleed, counter: 14)))
        #expect(back.coils == coils && back.balancing == bleed)
        let feedback = ContactorFeedback(mainPositive: .unknown, mainNegative: .closed, precharge: .open)
        #expect(LinkFrames.contactorFeedback(try CANMatrix.IOContactorFeedback.decode(LinkFrames.contactorFeedback(feedback, counter: 0))) == feedback)
    }

    @Test func theIOCommandGoesOutOnChangeAndEvery10Milliseconds() {
        var schedule = IOCommandSchedule()
        let open = ContactorFeedback(mainPositive: .open, mainNegative: .open, precharge: .open)
        var sentAt: [Int32] = []
        for ms in Int32(0)..<25 {
            let coils = ms >= 13 ? ContactorFeedback(mainPositive: .open, mainNegative: .closed, precharge: .open) : open
            if schedule.frame(coils: coils, balancing: .off, now: Instant.origin + .milliseconds(ms)) != nil { sentAt.append(ms) }
        }
        #expect(sentAt == [0, 10, 13, 23])
    }

    @Test func contactorFeedbackIsUnknownWhenTheIONodeFallsSilent() throws {
        var board = CANLinkedBoard(link: QueueLink(), cellCount: 4, temperatureSensorCount: 1, clock: .simulated)
        let closed = ContactorFeedback(mainPositive: .closed, mainNegative: .closed, precharge: .open)
        board.canBus.link.deliver(LinkFrames.contactorFeedback(closed, counter: 1))
        board.pump(now: Instant.origin)
        #expect(try board.contactors.feedback() == closed)
        board.pump(now: Instant.origin + .milliseconds(100))
        #expect(try board.contactors.feedback() == closed)
        board.pump(now: Instant.origin + .milliseconds(101))
        #expect(try board.contactors.feedback() == ContactorFeedback())
    }

    @Test func framesThatAreNotMeasurementsReachTheFirmware() throws {
        var board = CANLinkedBoard(link: QueueLink(), cellCount: 4, temperatureSensorCount: 1, clock: .simulated)
        var request = CANMatrix.VCURequest()
        request.stateRequest = CANMatrix.StateRequest.drive.rawValue
        let other = CANFrame(id: CANIdentifier(extended: 0x18FF_50E5)!, length: 8)!
        board.canBus.link.deliver(request.encode())
        board.canBus.link.deliver(other)
        board.pump(now: .origin)
        #expect(try board.canBus.receive() == request.encode())
        #expect(try board.canBus.receive() == other)
        #expect(try board.canBus.receive() == nil)
    }
}

@Suite struct CANFaultTests {
    /// With every vehicle-controller frame lost from 10 s on, the BMS connected for driving sees
    /// the request stream time out and goes to standby.
    @Test func lostRequestsTakeTheBMSToStandby() throws {
        var scenario = try Scenario.load("delivery-hour")
        scenario.faults = [ScheduledFault(.canLoss(fraction: 1), at: .seconds(10))]
        var simulation = try Simulation(scenario: scenario)
        simulation.run(for: .seconds(9)) { _ in }
        #expect(simulation.loop.stateMachine.state == .connected(.drive))
        simulation.run(for: .seconds(2)) { _ in }
        #expect(simulation.loop.stateMachine.state == .standby)
        #expect(simulation.loop.can.requestTimeout)
    }

    /// Corrupted request frames fail the E2E check and are counted, never acted on.
    @Test func corruptedRequestsAreCountedAsIntegrityErrors() throws {
        var scenario = try Scenario.load("delivery-hour")
        scenario.faults = [ScheduledFault(.canCorruption(fraction: 1), at: .zero)]
        var simulation = try Simulation(scenario: scenario)
        simulation.run(for: .seconds(3)) { _ in }
        #expect(simulation.loop.stateMachine.state == .standby)
        #expect(simulation.loop.can.integrityErrors >= 29)
    }
}
