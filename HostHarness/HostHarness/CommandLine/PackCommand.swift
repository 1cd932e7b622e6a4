// `bms-harness pack --can IFACE --scenario S`: the virtual pack as a HIL rig on a SocketCAN bus
// in real time — the measurement frames out, the BMS's coils, bleed switches and limits in, a
// vehicle controller asking for the scenario's modes — for a BMS running elsewhere (`run`, a
// real board).
import Foundation
import Firmware
import HAL

public enum PackCommand: HarnessCommand {
    public static let name = "pack"
    public static let summary = "Run the virtual pack as a HIL rig on a SocketCAN bus, in real time."
    public static let usage = "--can IFACE [--scenario NAME|FILE] [--seed N] [--duration D]"
    public static let options = [
        OptionSpec("can", value: "IFACE", help: "The SocketCAN interface, e.g. can0 (vcan0 for a virtual bus)."),
        OptionSpec("scenario", value: "NAME|FILE", help: "A scenario in Fixtures/scenarios/ or a scenario file (default: \(SimulateCommand.defaultScenario))."),
        OptionSpec("seed", value: "N", help: "Seed for every random draw (default: the scenario's)."),
        OptionSpec("duration", value: "D", help: "Simulated (= wall) time to run, e.g. 30s (default: the scenario's; Ctrl-C stops earlier)."),
    ]

    public static func run(_ arguments: ParsedArguments, console: Console) throws -> Int32 {
        guard let interface = arguments.values["can"] else { throw UsageError("--can IFACE is required") }
        var scenario = try Scenario.load(arguments.values["scenario"] ?? SimulateCommand.defaultScenario)
        if let text = arguments.values["seed"] {
            guard let seed = UInt64(text) else { throw UsageError("--seed: '\(text)' is not a whole number from 0 to \(UInt64.max)") }
            scenario.seed = seed
        }
        let duration = try arguments.values["duration"].map { try RealTimeOptions.duration($0, option: "duration") } ?? scenario.duration
        let bus: SocketCANBus
        do { bus = try SocketCANBus(interface: interface) } catch { throw HarnessError(error.description) }
        var rig = PackRig(scenario: scenario, bus: bus)
        StopSignal.install()
        console.standardOutput("bms-harness pack: scenario \(scenario.name), seed \(scenario.seed), on \(interface) for \(DurationText.format(duration))\n")

        var ticker = RealTimeTicker()
        let end = Instant.origin + duration
        while rig.now < end && !StopSignal.isRequested {
            _ = ticker.next()
            rig.step()
        }
        var lines: [String] = []
        lines.append("  simulated      \(DurationText.format(Microseconds(rig.now.microsecondsSinceOrigin))) in \(DurationText.format(ticker.elapsed)) of wall time")
        lines.append("  jitter         \(ticker.report)")
        lines.append("  bus            \(rig.receivedFrames) frames from the BMS, \(rig.refusedFrames) refused, \(rig.sendFailures) sends refused by the bus")
        lines.append("  true SOC       \(Fixed.text(rig.world.pack.displayStateOfCharge * 100, decimals: 1)) %")
        if let status = rig.lastStatus {
            let reason = FaultID(rawValue: status.stateReason).map { " (\($0.name))" } ?? ""
            lines.append("  BMS heard      \(rig.bms.state.name)\(reason)"
                         + (rig.bms.displayedStateOfCharge.map { ", SOC \(Fixed.text(Double($0) * 100, decimals: 1)) %" } ?? ""))
        } else {
            lines.append("  BMS heard      nothing (no BMS_Status on \(interface))")
        }
        console.standardOutput(lines.joined(separator: "\n") + "\n")
        return 0
    }
}
