// `bms-harness decode`: a candump log read through the DBC, one line per frame with physical
// values, value-table labels and the E2E check.
import Firmware
import Foundation
import HAL

public enum DecodeCommand: HarnessCommand {
    public static let name = "decode"
    public static let summary = "Print a candump log through the DBC: one line per frame with physical values and the E2E check."
    public static let usage = "LOG [--dbc FILE] [--id HEX,...] | LOG --events"
    public static let options = [
        OptionSpec("dbc", value: "FILE", help: "The CAN matrix (default: Fixtures/bms.dbc of the checkout)."),
        OptionSpec("id", value: "HEX,...", help: "Only these identifiers (3 hex digits: standard, 8: extended, as candump writes them)."),
        OptionSpec("events", help: "Print the BMS's black box instead: the event log and trip snapshots of the readouts (BMS_EventLogData) in the log (Docs/persistence.md)."),
    ]
    public static let positionalCount = 1

    public static func run(_ arguments: ParsedArguments, console: Console) throws -> Int32 {
        guard let log = arguments.positionals.first else { throw UsageError("LOG is required") }
        if arguments.flags.contains("events") { return try printEvents(log: log, console: console) }
        let filter = try arguments.values["id"].map(identifiers)
        let dbcPath = try arguments.values["dbc"] ?? FixtureLocator.fixturesDirectory().appendingPathComponent("bms.dbc").path
        let decoder = DBCDecoder(try DBCFile.load(path: dbcPath))
        let reader = try CandumpReader(contentsOf: log)
        var printer = DecodePrinter(decoder: decoder)
        var buffer = ""
        do {
            try reader.forEach { frame in
                if let filter {
                    guard case .frame(let can) = frame.content, filter.contains(DBCDecoder.key(can.id.rawValue, extended: can.id.isExtended)) else { return }
                }
                buffer += printer.line(for: frame)
                buffer += "\n"
                if buffer.utf8.count >= 1 << 16 { console.standardOutput(buffer); buffer = "" }
            }
        } catch let error as CANLogError {
            console.standardOutput(buffer)
            throw HarnessError(error.message)
        }
        console.standardOutput(buffer)
        return 0
    }

    /// `--events`: the black box of the log's readouts, with the pack's shape from BMS_Identity.
    static func printEvents(log: String, console: Console) throws -> Int32 {
        var frames: [CANFrame] = []
        var cells: Int? = nil, sensors: Int? = nil
        do {
            try CandumpReader(contentsOf: log).forEach { logged in
                guard case .frame(let frame) = logged.content, !frame.id.isExtended else { return }
                if frame.id.rawValue == CANMatrix.BMSEventLogData.identifier { frames.append(frame) }
                if frame.id.rawValue == CANMatrix.BMSIdentity.identifier, let m = try? CANMatrix.BMSIdentity.decode(frame) {
                    cells = Int(m.cellCount)
                    sensors = Int(m.temperatureSensorCount)
                }
            }
        } catch let error as CANLogError {
            throw HarnessError(error.message)
        }
        guard let events = EventLog(frames: frames) else {
            throw HarnessError("\(log): no event-log readout (BMS_EventLogData) in the log: send TOOL_Request ReadEventLog (1F0#01) while logging")
        }
        var text = "black box: \(events.pages) pages of \(events.pageWords) words"
            + (events.missingWords > 0 ? ", \(events.missingWords) words missing from the readout" : "")
            + "; \(events.scan.validRecords) records, \(events.scan.skipped) damaged or cut records skipped\n"
        for line in events.lines(cells: cells, sensors: sensors) { text += line + "\n" }
        console.standardOutput(text)
        return 0
    }

    /// `--id` as decoder keys (bit 31 for an extended identifier).
    static func identifiers(_ text: String) throws(UsageError) -> Set<UInt32> {
        var keys = Set<UInt32>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            var digits = item.trimmingCharacters(in: .whitespaces)
            if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits.removeFirst(2) }
            guard !digits.isEmpty, digits.count <= 8, let value = UInt32(digits, radix: 16) else {
                throw UsageError("--id: '\(item)' is not a hexadecimal identifier")
            }
            let extended = digits.count == 8
            guard extended ? value <= 0x1FFF_FFFF : value <= 0x7FF else {
                throw UsageError("--id: '\(item)' is out of range (standard ids are 000...7FF, extended 00000000...1FFFFFFF)")
            }
            keys.insert(DBCDecoder.key(value, extended: extended))
        }
        return keys
    }
}

/// Turns logged frames into the decode command's lines; remembers each message's last E2E counter.
struct DecodePrinter {
    let decoder: DBCDecoder
    var lastCounter: [UInt32: Int] = [:]

    /// `(time) iface ID NAME Signal=value unit ... [crc ok]`, `(time) iface (not in DBC) ID#DATA`,
    /// `(time) iface ID NAME: why ID#DATA`, or `(time) iface ERROR FRAME (classes) ID#DATA`.
    mutating func line(for logged: LoggedFrame) -> String {
        var text = "(\(CandumpLine.text(logged.timestamp))) \(logged.interface) "
        switch logged.content {
        case .error(let classMask, let data):
            let names = Self.errorClasses.filter { classMask & $0.bit != 0 }.map(\.name)
            var token: [UInt8] = []
            CandumpWriter.appendHex(0x2000_0000 | (classMask & 0x1FFF_FFFF), digits: 8, to: &token)
            token.append(0x23)  // "#"
            for index in 0..<LoggedFrame.ErrorData.length { CandumpWriter.appendHexByte(data[index], to: &token) }
            text += "ERROR FRAME (\(names.isEmpty ? "no class bits" : names.joined(separator: ", "))) " + String(decoding: token, as: UTF8.self)
        case .frame(let frame):
            let id = Self.idText(frame.id)
            let key = DBCDecoder.key(frame.id.rawValue, extended: frame.id.isExtended)
            do {
                let decoded = try decoder.decode(frame, previousCounter: lastCounter[key])
                text += "\(id) \(decoded.name)"
                let message = decoder.message(id: frame.id.rawValue, extended: frame.id.isExtended)
                for value in decoded.signals {
                    let signal = message?.signals.first { $0.name == value.name }
                    text += " \(value.name)=" + Self.valueText(value, signal: signal)
                }
                if let e2e = decoded.e2e {
                    text += " [\(e2e.summary)]"
                    if e2e.counterInRange { lastCounter[key] = e2e.counter }
                }
            } catch .notInDBC {
                text += "(not in DBC) " + Self.frameToken(frame)
            } catch {
                let name = decoder.message(id: frame.id.rawValue, extended: frame.id.isExtended)?.name ?? "?"
                text += "\(id) \(name): \(error) " + Self.frameToken(frame)
            }
        }
        return text
    }

    static func idText(_ id: CANIdentifier) -> String {
        let digits = String(id.rawValue, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, (id.isExtended ? 8 : 3) - digits.count)) + digits
    }

    /// `ID#DATA` as candump writes it.
    static func frameToken(_ frame: CANFrame) -> String {
        var bytes: [UInt8] = []
        CandumpWriter.appendFrame(frame, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The label when the value table has one, else the physical value with as many decimals as
    /// the factor and offset need, and the unit.
    static func valueText(_ value: DBCSignalValue, signal: DBCSignal?) -> String {
        if let label = value.label { return label }
        let number: String
        if let signal, signal.factor == 1, signal.offset == 0 {
            number = signal.isSigned ? String(value.raw) : String(UInt64(bitPattern: value.raw))
        } else {
            let decimals = max(Self.decimals(signal?.factor ?? 1), Self.decimals(signal?.offset ?? 0))
            number = String(format: "%.\(decimals)f", value.physical)
        }
        return value.unit.isEmpty ? number : "\(number) \(value.unit)"
    }

    /// Decimal places that show every step of `x` (0.001 → 3, 0.5 → 1, 2 → 0), at most 9.
    static func decimals(_ x: Double) -> Int {
        var scaled = abs(x)
        for d in 0..<9 {
            if abs(scaled - scaled.rounded()) <= 1e-9 * max(1, scaled) { return d }
            scaled *= 10
        }
        return 9
    }

    /// Error classes of `linux/can/error.h` (can-tooling.md §1.2).
    static let errorClasses: [(bit: UInt32, name: String)] = [
        (0x1, "tx-timeout"), (0x2, "lost-arbitration"), (0x4, "controller"), (0x8, "protocol"), (0x10, "transceiver"),
        (0x20, "no-ack"), (0x40, "bus-off"), (0x80, "bus-error"), (0x100, "restarted"), (0x200, "counters"),
    ]
}
