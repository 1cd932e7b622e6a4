// The SBC and HIL commands on a real SocketCAN bus (vcan0 in the CAN VM: `make can-vm-test`):
// `run` and `pack` as two processes reach the end state `simulate` reaches; can-utils interoperate
// (a `cansend` request is answered, `candump -L` captures what the project's reader parses,
// `canplayer` plays a simulated log into `run`). The commands run as the release build of
// bms-harness (SWIFTBMS_HARNESS, set by the Makefile): a debug build is too slow for 1 ms ticks
// under the VM's single emulated CPU.
import Firmware
import Foundation
import HAL
@testable import HostHarness
import Testing

/// A child process with its output collected in a file.
final class Child: @unchecked Sendable {
    let process = Process()
    let output: URL

    init(_ executable: String, _ arguments: [String], name: String) throws {
        output = temporaryDirectory(name).appendingPathExtension("out")
        try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    /// Waits for the process (at most `seconds`, then it is killed and the status is 137);
    /// its exit status and everything it printed.
    func finish(seconds: Double = 60) throws -> (status: Int32, output: String) {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: output, encoding: .utf8))
    }

    /// SIGTERM (SIGINT may be ignored: the test runner's children inherit its dispositions).
    func stop() { if process.isRunning { process.terminate() } }
}

enum VMTools {
    /// The release bms-harness (the Makefile builds it before the VM run).
    static var harness: String {
        ProcessInfo.processInfo.environment["SWIFTBMS_HARNESS"] ?? FileManager.default.currentDirectoryPath + "/.build/release/bms-harness"
    }

    /// A can-utils program by name (from Debian's can-utils, which the VM script installs).
    static func canUtil(_ name: String) throws -> String {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        throw HarnessError("\(name) not found: install can-utils")
    }

    /// The end-state line `simulate`, `run` and `pack` share: "protection     error at the end; latched: …".
    static func protectionLine(_ text: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix("  protection     ") }.map(String.init)
    }

    /// Waits up to `seconds` for a frame with `identifier` on `bus`.
    static func await(_ identifier: UInt32, on bus: SocketCANBus, seconds: Int32) throws -> CANFrame? {
        let deadline = MonotonicClock().now() + .seconds(seconds)
        while MonotonicClock().now() < deadline {
            while let frame = try? bus.receive() {
                if frame.id.rawValue == identifier && !frame.id.isExtended { return frame }
            }
            _ = bus.waitReadable(timeout: .milliseconds(100))
        }
        return nil
    }
}

@Suite(.serialized, .enabled(if: SocketCANEnvironment.vcan0Available, "needs vcan0: make can-vm-test"))
struct CANVMTests {
    static let scenario = "rogue-charger-overvoltage"

    /// What `simulate` ends in for the fault scenario (error, cell overvoltage latched).
    static func simulatedEndState() throws -> String {
        var simulation = try Simulation(scenario: try Scenario.load(scenario))
        simulation.run(for: .seconds(10)) { _ in }
        return EndState(simulation.loop).lines.last!
    }

    @Test func runAndPackAsTwoProcessesReachTheEndStateOfSimulate() throws {
        let expected = try Self.simulatedEndState()
        #expect(expected == "  protection     error at the end; latched: cell-overvoltage")
        let firmware = try Child(VMTools.harness, ["run", "--can", "vcan0", "--scenario", Self.scenario, "--duration", "11s"], name: "run")
        Thread.sleep(forTimeInterval: 0.5)
        let pack = try Child(VMTools.harness, ["pack", "--can", "vcan0", "--scenario", Self.scenario, "--duration", "13s"], name: "pack")
        let (runStatus, runOutput) = try firmware.finish()
        let (packStatus, packOutput) = try pack.finish()
        #expect(runStatus == 0, "\(runOutput)")
        #expect(packStatus == 0, "\(packOutput)")
        #expect(runOutput.contains("cell monitor, current sensor and contactor feedback heard"), "\(runOutput)")
        #expect(VMTools.protectionLine(runOutput) == expected, "run:\n\(runOutput)\npack:\n\(packOutput)")
        #expect(packOutput.contains("BMS heard      error (cell-overvoltage)"), "\(packOutput)")
        #expect(runOutput.contains("0 measurement frames refused, 0 requests refused"), "\(runOutput)")
    }

    /// `run --state FILE` on the SBC: a latch from the first run stands in the second.
    @Test func theStateFileKeepsALatchAcrossRuns() throws {
        let state = temporaryDirectory("sbc-state").appendingPathExtension("bin").path
        try FileManager.default.createDirectory(atPath: (state as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let first = try Child(VMTools.harness, ["run", "--can", "vcan0", "--scenario", Self.scenario, "--state", state, "--duration", "6s"], name: "first")
        Thread.sleep(forTimeInterval: 0.5)
        let pack = try Child(VMTools.harness, ["pack", "--can", "vcan0", "--scenario", Self.scenario, "--duration", "8s"], name: "pack-state")
        let (status, output) = try first.finish()
        _ = try pack.finish()
        #expect(status == 0, "\(output)")
        #expect(output.contains("state \(state): empty, defaults, boot 1"), "\(output)")
        #expect(VMTools.protectionLine(output) == "  protection     error at the end; latched: cell-overvoltage", "\(output)")
        let second = try Child(VMTools.harness, ["run", "--can", "vcan0", "--scenario", Self.scenario, "--state", state, "--wait", "1s", "--duration", "1s"],
                               name: "second")
        let (again, text) = try second.finish()
        #expect(again == 0, "\(text)")
        #expect(text.contains("state \(state): restored checkpoint"), "\(text)")
        #expect(text.contains("boot 2"), "\(text)")
        #expect(VMTools.protectionLine(text)?.contains("latched: cell-overvoltage") == true, "\(text)")
    }

    @Test func aStateRequestFromCansendIsAnswered() throws {
        let listener = try SocketCANBus(interface: "vcan0")
        let firmware = try Child(VMTools.harness, ["run", "--can", "vcan0", "--wait", "1s", "--duration", "5s"], name: "answer")
        defer { firmware.stop() }
        try #require(try VMTools.await(CANMatrix.BMSStatus.identifier, on: listener, seconds: 5) != nil, "the firmware never spoke")
        var request = CANMatrix.VCURequest()
        request.stateRequest = CANMatrix.StateRequest.drive.rawValue
        let token = DecodePrinter.frameToken(request.encode())   // e.g. 080#B72000...
        let cansend = try Child(try VMTools.canUtil("cansend"), ["vcan0", token], name: "cansend")
        #expect(try cansend.finish().status == 0)
        let answer = try #require(try VMTools.await(CANMatrix.BMSRequestAnswer.identifier, on: listener, seconds: 3), "no BMS_RequestAnswer")
        let m = try CANMatrix.BMSRequestAnswer.decode(answer)
        #expect(m.answeredRequest == CANMatrix.StateRequest.drive.rawValue)
        #expect(m.requestSource == RequestSource.vehicleController.rawValue)
        #expect(CANMatrix.Answer(rawValue: m.answer) != nil && m.answer != CANMatrix.Answer.sna.rawValue)
    }

    @Test func candumpCapturesTheFirmwareOutputAndTheReaderParsesIt() throws {
        let candump = try Child(try VMTools.canUtil("candump"), ["-L", "vcan0"], name: "candump")
        Thread.sleep(forTimeInterval: 0.5)   // starting a process is slow in the VM: let candump bind first
        let firmware = try Child(VMTools.harness, ["run", "--can", "vcan0", "--wait", "1s", "--duration", "3s"], name: "captured")
        #expect(try firmware.finish().status == 0)
        Thread.sleep(forTimeInterval: 0.3)
        candump.stop()
        _ = try candump.finish(seconds: 5)
        let frames = try CandumpReader(contentsOf: candump.output.path).frames()
        var statuses = 0, identities = 0
        for logged in frames {
            #expect(logged.interface == "vcan0")
            guard case .frame(let frame) = logged.content else { continue }
            if frame.id.rawValue == CANMatrix.BMSStatus.identifier { _ = try CANMatrix.BMSStatus.decode(frame); statuses += 1 }
            if frame.id.rawValue == CANMatrix.BMSIdentity.identifier {
                #expect(try CANMatrix.BMSIdentity.decode(frame).cellCount == 16)
                identities += 1
            }
        }
        #expect(statuses >= 15, "BMS_Status every 100 ms for about 3 s")
        #expect(identities >= 2)
    }

    @Test func canplayerPlaysASimulatedLogIntoRun() throws {
        // The fault scenario's inputs as simulate logs them, renamed to vcan0, BMS frames left out.
        let log = try simulatedLog(Self.scenario, seconds: 10, name: "canplayer")
        var inputs: [UInt8] = []
        try CandumpReader(contentsOf: log.path).forEach { logged in
            guard case .frame(let frame) = logged.content, !CANMatrix.isSentByBMS(frame.id) else { return }
            CandumpWriter.append(LoggedFrame(timestamp: logged.timestamp, interface: "vcan0", content: logged.content, direction: nil), to: &inputs)
        }
        let inputLog = log.deletingPathExtension().appendingPathExtension("inputs.log")
        try Data(inputs).write(to: inputLog)
        let firmware = try Child(VMTools.harness, ["run", "--can", "vcan0", "--scenario", Self.scenario, "--duration", "9s"], name: "played")
        Thread.sleep(forTimeInterval: 0.5)
        let player = try Child(try VMTools.canUtil("canplayer"), ["-I", inputLog.path], name: "canplayer")
        #expect(try player.finish().status == 0)
        let (status, output) = try firmware.finish()
        #expect(status == 0, "\(output)")
        // canplayer plays open loop: the contactor feedback in the log follows the simulated
        // firmware's coil commands, not this run's, which come a few ms earlier or later; the
        // feedback supervision may latch that too. The overvoltage in the played cell voltages is
        // what must be found.
        let line = try #require(VMTools.protectionLine(output), "\(output)")
        #expect(line.hasPrefix("  protection     error at the end; latched: cell-overvoltage"), "\(output)")
        #expect(output.contains("0 measurement frames refused"), "\(output)")
    }
}
