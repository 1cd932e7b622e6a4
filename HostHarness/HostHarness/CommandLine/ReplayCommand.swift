// `bms-harness replay`: a candump log's input frames through the firmware with the log's timing;
// the firmware's outputs written as a candump log, and with --compare set against the BMS frames
// the log already holds.
import Foundation
import HAL

public enum ReplayCommand: HarnessCommand {
    public static let name = "replay"
    public static let summary = "Feed a candump log's input frames through the firmware with the log's timing; write its outputs as a log."
    public static let usage = "LOG [--out OUT.log] [--compare] [--scenario NAME|FILE] [--bench]"
    public static let options = [
        OptionSpec("out", value: "FILE", help: "Where the firmware's frames go, as candump -L writes them (default: out/replay/LOG's name)."),
        OptionSpec("compare", help: "Compare the firmware's frames with the BMS frames in the log, message by message; exit 1 when they differ."),
        OptionSpec("scenario", value: "NAME|FILE", help: "The pack the firmware is configured for: the scenario's pack (default: \(SimulateCommand.defaultScenario))."),
        OptionSpec("bench", help: "Also print parse and replay throughput as name=value lines (for make bench-can)."),
    ]
    public static let positionalCount = 1

    public static func run(_ arguments: ParsedArguments, console: Console) throws -> Int32 {
        guard let log = arguments.positionals.first else { throw UsageError("LOG is required") }
        let scenario = try Scenario.load(arguments.values["scenario"] ?? SimulateCommand.defaultScenario)
        let outPath = arguments.values["out"] ?? "out/replay/" + URL(fileURLWithPath: log).lastPathComponent
        let compare = arguments.flags.contains("compare")
        let reader = try CandumpReader(contentsOf: log)

        var parseSeconds = 0.0
        var parsedFrames = 0
        if arguments.flags.contains("bench") {
            let start = DispatchTime.now().uptimeNanoseconds
            try reader.forEach { _ in parsedFrames += 1 }
            parseSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }

        try FileManager.default.createDirectory(at: URL(fileURLWithPath: outPath).deletingLastPathComponent(), withIntermediateDirectories: true)
        var output = try CANTrafficLog(path: outPath)
        var replayed: [UInt32: [LoggedFrame]] = [:]
        var replay = try LogReplay(pack: scenario.pack, compare: compare)
        let emit: (LoggedFrame) -> Void = { frame in
            output.append(frame)
            if compare, case .frame(let f) = frame.content {
                replayed[DBCDecoder.key(f.id.rawValue, extended: f.id.isExtended), default: []].append(frame)
            }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            try reader.forEach { replay.feed($0, output: emit) }
        } catch let error as CANLogError {
            // What was replayed before the bad line is kept.
            replay.finish(output: emit)
            output.close()
            throw HarnessError("\(error.message) (the firmware's frames up to that line are in \(outPath))")
        }
        replay.finish(output: emit)
        let replaySeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        output.close()

        let s = replay.summary
        var text = "bms-harness replay: \(log), pack of scenario \(scenario.name)\n"
        text += "  replayed       \(DurationText.format(s.duration)) in \(s.ticks) ticks of 1 ms\n"
        text += "  input          \(s.inputFrames) frames delivered to the firmware"
            + (s.refusedFrames > 0 ? " (\(s.refusedFrames) measurement frames refused)" : "")
            + (s.errorFrames > 0 ? ", \(s.errorFrames) error frames skipped" : "") + "\n"
        text += "  output         \(s.outputFrames) frames -> \(outPath)\n"
        var status: Int32 = 0
        if compare {
            let comparison = ReplayComparison(logged: replay.logged ?? [:], replayed: replayed)
            text += comparisonText(comparison, loggedFrames: s.loggedOutputFrames)
            if !comparison.isIdentical { status = 1 }
        }
        if arguments.flags.contains("bench") {
            let fed = s.inputFrames + s.loggedOutputFrames + s.errorFrames
            text += """
            log_frames=\(parsedFrames)
            parse_seconds=\(Fixed.text(parseSeconds, decimals: 3))
            parse_frames_per_second=\(Int((Double(parsedFrames) / max(parseSeconds, 1e-9)).rounded()))
            replay_seconds=\(Fixed.text(replaySeconds, decimals: 3))
            replay_frames_per_second=\(Int((Double(fed) / max(replaySeconds, 1e-9)).rounded()))
            replay_ticks_per_second=\(Int((Double(s.ticks) / max(replaySeconds, 1e-9)).rounded()))

            """
        }
        console.standardOutput(text)
        return status
    }

    static func comparisonText(_ c: ReplayComparison, loggedFrames: Int) -> String {
        var text = "  compare        \(loggedFrames) BMS frames in the log: \(c.identical) identical, \(c.differing) differ, "
            + "\(c.onlyInLog) only in the log, \(c.onlyReplayed) only from the firmware"
            + (c.compared > 0 ? "; largest time shift \(c.largestTimeShift) µs" : "") + "\n"
        if c.isIdentical {
            text += "  result         the firmware's outputs are the log's\n"
            return text
        }
        let decoder = try? DBCDecoder(DBCFile.load(path: FixtureLocator.fixturesDirectory().appendingPathComponent("bms.dbc").path))
        for d in c.first {
            let any = (d.logged ?? d.replayed)!
            let seconds = CandumpLine.text(any.timestamp)
            guard case .frame(let sample) = any.content else { continue }
            let name = decoder?.message(id: sample.id.rawValue, extended: sample.id.isExtended)?.name ?? DecodePrinter.idText(sample.id)
            switch (d.logged, d.replayed) {
            case (let a?, let b?):
                text += "  differs at \(seconds): \(name) " + signalDifferences(a, b, decoder: decoder) + "\n"
            case (_?, nil):
                text += "  only in the log at \(seconds): \(name)\n"
            default:
                text += "  only from the firmware at \(seconds): \(name)\n"
            }
        }
        return text
    }

    /// "Signal: logged → replayed, …" through the DBC, or the two frames' bytes.
    static func signalDifferences(_ a: LoggedFrame, _ b: LoggedFrame, decoder: DBCDecoder?) -> String {
        guard case .frame(let x) = a.content, case .frame(let y) = b.content else { return "" }
        if let decoder, let dx = try? decoder.decode(x), let dy = try? decoder.decode(y) {
            let message = decoder.message(id: x.id.rawValue, extended: x.id.isExtended)
            var parts: [String] = []
            // The E2E checksum differs whenever anything does: it is left out.
            for s in dx.signals where !s.name.hasSuffix("_CRC") {
                guard let t = dy.signal(s.name), t.raw != s.raw else { continue }
                let signal = message?.signals.first { $0.name == s.name }
                parts.append("\(s.name): \(DecodePrinter.valueText(s, signal: signal)) -> \(DecodePrinter.valueText(t, signal: signal))")
            }
            if !parts.isEmpty { return parts.joined(separator: ", ") }
        }
        return "log \(DecodePrinter.frameToken(x)), firmware \(DecodePrinter.frameToken(y))"
    }
}
