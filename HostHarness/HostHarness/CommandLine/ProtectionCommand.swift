// `bms-harness protection`: the protection figures on the virtual pack — reaction times of every
// fault that opens the contactors, the power-limit benchmark, and the balancing benchmark.
import Firmware
import Foundation
import HAL

public enum ProtectionCommand: HarnessCommand {
    public static let name = "protection"
    public static let summary = "Measure protection reaction times, the power-limit benchmark or the balancing benchmark."
    public static let usage = "reaction-times|power-limits|balancing [--days N]"
    public static let options = [
        OptionSpec("days", value: "N", help: "balancing: at most this many delivery days (default 5)."),
    ]
    public static let positionalCount = 1

    public static func run(_ arguments: ParsedArguments, console: Console) throws -> Int32 {
        switch arguments.positionals.first ?? "" {
        case "reaction-times":
            let results = try ReactionTimes.cases().map { c throws(HarnessError) in (c, try ReactionTimes.measure(c)) }
            console.standardOutput(reactionTable(results))
            return results.allSatisfy { passes($0.1, $0.0) } ? 0 : 1
        case "power-limits":
            var text = "scenario      firmware Ah  oracle Ah  ratio %  firmware h  oracle h  lowest cell V  hottest cell °C  latched\n"
            var ok = true
            for name in PowerLimitBench.scenarios {
                let r = try PowerLimitBench.run(name)
                text += name.padding(toLength: 12, withPad: " ", startingAt: 0)
                text += Fixed.text(r.firmwareAh, decimals: 3).leftPadded(13) + Fixed.text(r.oracleAh, decimals: 3).leftPadded(11)
                text += Fixed.text(r.ratio * 100, decimals: 1).leftPadded(9) + Fixed.text(r.firmwareHours, decimals: 2).leftPadded(12)
                text += Fixed.text(r.oracleHours, decimals: 2).leftPadded(10) + Fixed.text(r.lowestCellVoltage, decimals: 3).leftPadded(15)
                text += Fixed.text(r.hottestCell, decimals: 1).leftPadded(17) + "  " + (r.latched.names.isEmpty ? "-" : r.latched.names)
                let pass = r.ratio >= 0.95 && !r.crossedSafetyLimit && r.latched.isEmpty
                ok = ok && pass
                text += pass ? "\n" : "   FAIL\n"
            }
            text += "(pass = ratio >= 95 %, no cell beyond a maximum-safety limit, nothing latched)\n"
            console.standardOutput(text)
            return ok ? 0 : 1
        case "balancing":
            let text = arguments.values["days"] ?? "5"
            guard let days = Int32(text), days >= 1, days <= 60 else { throw UsageError("--days: '\(text)' is not a whole number from 1 to 60") }
            let r = try BalancingBench.run(days: days)
            var out = "initial spread   \(Fixed.text(r.initialSpreadMillivolts, decimals: 1)) mV rest voltage (true OCV), "
                + "\(Fixed.text(r.initialStateOfChargeSpread * 100, decimals: 1)) % SOC\n"
            out += "top of charge    day  time      spread mV  bled Ah\n"
            for top in r.tops {
                let seconds = top.time.microsecondsSinceOrigin / 1_000_000
                let day = seconds / 86_400 + 1, hour = (seconds % 86_400) / 3_600, minute = (seconds % 3_600) / 60
                out += "                 \(String(day).leftPadded(3))  \(hour < 10 ? "0" : "")\(hour):\(minute < 10 ? "0" : "")\(minute)"
                out += String(top.spreadMillivolts).leftPadded(15) + Fixed.text(top.bledAh, decimals: 3).leftPadded(9) + "\n"
            }
            if let reached = r.reached {
                let hours = Double(reached.time.microsecondsSinceOrigin) / 3.6e9
                out += "reached <= \(BalancingBench.targetMillivolts) mV after \(Fixed.text(hours, decimals: 1)) h (delivery day \(Int(hours / 24) + 1))\n"
            } else {
                out += "NOT reached <= \(BalancingBench.targetMillivolts) mV within \(days) days\n"
            }
            out += "bled             \(Fixed.text(r.chargeBledAh, decimals: 3)) Ah, \(Fixed.text(r.energyBledWh, decimals: 2)) Wh in \(Fixed.text(r.days, decimals: 2)) days"
                + " (the least that balances this pack: \(Fixed.text(r.minimumChargeAh, decimals: 3)) Ah)\n"
            console.standardOutput(out)
            return r.reached == nil ? 1 : 0
        case let other:
            throw UsageError("say what to measure: reaction-times, power-limits or balancing (not '\(other)')")
        }
    }

    /// Whether a result meets its documented bound, latched its fault, and its twin stayed closed.
    public static func passes(_ r: ReactionResult, _ c: ReactionCase) -> Bool {
        guard let reaction = r.reaction else { return false }
        return reaction <= c.documentedBound && r.latched.contains(c.fault) && !r.insideOpened
    }

    static func reactionTable(_ results: [(ReactionCase, ReactionResult)]) -> String {
        var text = "fault                        bound ms  measured ms  latched                               just inside\n"
        for (c, r) in results {
            let measured = r.reaction.map { Fixed.text(Double($0.rawValue) / 1_000, decimals: 0) } ?? "never"
            text += c.fault.name.padding(toLength: 29, withPad: " ", startingAt: 0)
            text += String(c.documentedBound.rawValue / 1_000).leftPadded(8) + "  " + measured.leftPadded(11) + "  "
            text += (r.latched.names.isEmpty ? "-" : r.latched.names).padding(toLength: 38, withPad: " ", startingAt: 0)
            text += r.insideOpened ? "OPENED (\(r.insideLatched.names))" : "stayed closed"
            text += passes(r, c) ? "\n" : "   FAIL\n"
        }
        return text
    }
}

extension String {
    /// Right-aligned in `width` characters.
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
