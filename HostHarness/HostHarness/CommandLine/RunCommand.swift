// `bms-harness run --can IFACE`: the SBC deployment — the firmware in real time on a 1 ms timer,
// its peripherals and its vehicle controller on a SocketCAN bus; loop jitter, overruns and the
// end state reported on exit (Ctrl-C, SIGTERM or --duration).
import Foundation
import Firmware
import HAL

public enum RunCommand: HarnessCommand {
    public static let name = "run"
    public static let summary = "Run the firmware in real time against a SocketCAN bus (the SBC deployment)."
    public static let usage = "--can IFACE [--scenario NAME|FILE] [--state FILE] [--duration D] [--wait D] [--log FILE]"
    public static let options = [
        OptionSpec("can", value: "IFACE", help: "The SocketCAN interface, e.g. can0 (vcan0 for a virtual bus)."),
        OptionSpec("scenario", value: "NAME|FILE", help: "The pack the firmware is configured for: the scenario's pack (default: \(SimulateCommand.defaultScenario))."),
        OptionSpec("duration", value: "D", help: "Stop after this long, e.g. 30s or 8h (default: until Ctrl-C or SIGTERM)."),
        OptionSpec("wait", value: "D", help: "How long to wait for the cell monitor, current sensor and contactor feedback before the first tick (default: 10s; then the loop starts anyway and diagnoses them as stale)."),
        OptionSpec("log", value: "FILE", help: "Also write the firmware's frames as a candump -L log (wall-clock timestamps)."),
        OptionSpec("state", value: "FILE", help: "The firmware's non-volatile store as a file (created when missing): SOC, learned values, latched faults and the black box survive restarts (Docs/persistence.md)."),
    ]

    public static func run(_ arguments: ParsedArguments, console: Console) throws -> Int32 {
        guard let interface = arguments.values["can"] else { throw UsageError("--can IFACE is required") }
        let scenario = try Scenario.load(arguments.values["scenario"] ?? SimulateCommand.defaultScenario)
        let duration = try arguments.values["duration"].map { try RealTimeOptions.duration($0, option: "duration") }
        let wait = try arguments.values["wait"].map { try RealTimeOptions.duration($0, option: "wait") } ?? .seconds(10)
        let bus: SocketCANBus
        do { bus = try SocketCANBus(interface: interface) } catch { throw HarnessError(error.description) }
        var log = try arguments.values["log"].map { try CANTrafficLog(path: $0, interface: interface) }
        let store = try arguments.values["state"].map { path throws(HarnessError) in try InMemoryStore(path: path) } ?? InMemoryStore()
        var firmware = try LinkedFirmware(pack: scenario.pack, link: bus, clock: .monotonic, store: store)
        firmware.recordsSent = log != nil
        StopSignal.install()

        // The measurement nodes first: a BMS that starts ticking before its front end speaks
        // would latch a stale-data fault at once.
        let clock = MonotonicClock()
        let waitEnd = clock.now() + wait
        while !firmware.loop.board.measurementNodesHeard && clock.now() < waitEnd && !StopSignal.isRequested {
            _ = bus.waitReadable(timeout: .milliseconds(50))
            firmware.loop.board.pump(now: clock.now())
        }
        let heard = firmware.loop.board.measurementNodesHeard
        let restored = arguments.values["state"].map { "; state \($0): \(RunCommand.describe(firmware.loop.persistence.restoreOutcome)), boot \(firmware.loop.persistence.bootCount)" } ?? ""
        console.standardOutput("bms-harness run: firmware on \(interface) for the pack of \(scenario.name)\(restored); "
                               + (heard ? "cell monitor, current sensor and contactor feedback heard" : "no measurement nodes within \(DurationText.format(wait)), starting anyway")
                               + "\n")

        var ticker = RealTimeTicker()
        while !StopSignal.isRequested {
            if let duration, ticker.elapsed >= duration { break }
            let now = ticker.next()
            firmware.step(now: now)
            if log != nil {
                for frame in firmware.loop.board.canBus.sent { log!.record(frame, at: RealTimeOptions.wallClock()) }
                firmware.loop.board.canBus.clearSent()
            }
        }
        log?.close()
        console.standardOutput(report(firmware.loop, ticker: ticker, interface: interface))
        return 0
    }

    /// What the firmware restored from its store, in words.
    static func describe(_ outcome: RestoreOutcome) -> String {
        switch outcome {
        case .unavailable: return "no store"
        case .empty: return "empty, defaults"
        case .restored(let sequence): return "restored checkpoint \(sequence)"
        case .configurationChanged(let sequence): return "checkpoint \(sequence) of another configuration, latches and counters kept"
        case .unknownFormat(let sequence): return "checkpoint \(sequence) in an unknown format, defaults"
        }
    }

    /// The exit report: loop timing, bus counts, the BMS's end state.
    static func report(_ loop: ControlLoop<CANLinkedBoard<SocketCANBus>>, ticker: RealTimeTicker, interface: String) -> String {
        var lines: [String] = []
        lines.append("  ran            \(DurationText.format(ticker.elapsed)) in \(loop.schedule.tickCount) ticks of 1 ms")
        lines.append("  loop timing    \(loop.timing.overruns) overruns, \(loop.timing.missedTicks) missed ticks, longest tick \(loop.timing.longestTick.rawValue) µs")
        lines.append("  jitter         \(ticker.report)")
        let board = loop.board
        lines.append("  bus            \(loop.can.receiveFailures.count) receive and \(loop.can.sendFailures.count) send failures, "
                     + "\(board.refusedFrames) measurement frames refused, \(loop.can.integrityErrors) requests refused")
        lines.append(contentsOf: EndState(loop).lines)
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The BMS's state at the end of a run, as `simulate`, `run` and `pack` print it.
struct EndState {
    var lines: [String] = []
    init<Board: BMSBoard>(_ loop: ControlLoop<Board>) {
        if let soc = loop.stateOfCharge {
            let bound = loop.estimator.bound.map { " ± \(Fixed.text(Double($0) * 100, decimals: 1))" } ?? ""
            lines.append("  final SOC      estimated \(Fixed.text(Double(soc) * 100, decimals: 1))\(bound) %")
        } else {
            lines.append("  final SOC      estimated: not yet known")
        }
        let latched = loop.stateMachine.latched.members.map(\.name)
        lines.append("  protection     \(loop.stateMachine.state.name) at the end; latched: \(latched.isEmpty ? "none" : latched.joined(separator: ", "))")
    }
}

/// Options shared by the real-time commands.
enum RealTimeOptions {
    static func duration(_ text: String, option: String) throws(UsageError) -> Microseconds {
        guard let d = DurationText.parse(text), d > .zero else {
            throw UsageError("--\(option): '\(text)' is not a duration like 90s, 30m, 1h or 1h30m")
        }
        return d
    }

    /// Wall-clock time for log timestamps (seconds since the epoch, as candump writes them).
    static func wallClock() -> Instant {
        Instant(microsecondsSinceOrigin: Int64((Date().timeIntervalSince1970 * 1e6).rounded()))
    }
}
