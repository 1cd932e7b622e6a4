// A DBC file read into values: nodes, messages, signals, comments, attributes and value tables —
// the subset of Vector's DBC format that Fixtures/bms.dbc uses, with file:line errors for the rest.
import Foundation

/// A signal's place in a multiplexed message.
public enum DBCMultiplex: Equatable, Sendable {
    /// Present in every frame.
    case plain
    /// The multiplexer switch (`M`).
    case multiplexor
    /// Present only when the switch equals the value (`m<k>`).
    case multiplexed(Int)
}

/// One signal (`SG_`).
public struct DBCSignal: Equatable, Sendable {
    public var name: String
    public var multiplex: DBCMultiplex
    /// Start bit: the least significant bit for Intel (`@1`) order.
    public var start: Int
    public var length: Int
    public var isLittleEndian: Bool
    public var isSigned: Bool
    public var factor: Double
    public var offset: Double
    public var minimum: Double
    public var maximum: Double
    public var unit: String
    public var receivers: [String]
    public var comment: String? = nil
    /// `VAL_` entries, raw value → label, in the order the file lists them.
    public var values: [(raw: Int64, label: String)] = []
    /// `GenSigStartValue` (raw), if set.
    public var startValue: Int64? = nil

    public static func == (a: DBCSignal, b: DBCSignal) -> Bool {
        a.name == b.name && a.multiplex == b.multiplex && a.start == b.start && a.length == b.length
            && a.isLittleEndian == b.isLittleEndian && a.isSigned == b.isSigned && a.factor == b.factor
            && a.offset == b.offset && a.minimum == b.minimum && a.maximum == b.maximum && a.unit == b.unit
            && a.receivers == b.receivers && a.comment == b.comment && a.startValue == b.startValue
            && a.values.map(\.raw) == b.values.map(\.raw) && a.values.map(\.label) == b.values.map(\.label)
    }

    /// The label of a raw value, if the value table has one.
    public func label(raw: Int64) -> String? { values.first { $0.raw == raw }?.label }

    /// The largest raw value the field holds.
    public var maximumRaw: Int64 { isSigned ? (Int64(1) << (length - 1)) - 1 : (Int64(1) << length) - 1 }
    public var minimumRaw: Int64 { isSigned ? -(Int64(1) << (length - 1)) : 0 }
}

/// End-to-end protection of a message (attribute `E2E_Profile`).
public enum DBCE2EProfile: String, Sendable {
    case none = "None"
    case profile1 = "P01"
    case profile5 = "P05"
}

/// One message (`BO_`) with its signals and the attributes the project uses.
public struct DBCMessage: Equatable, Sendable {
    public var id: UInt32
    public var isExtended: Bool
    public var name: String
    public var length: Int
    public var transmitter: String
    public var signals: [DBCSignal]
    public var comment: String? = nil
    /// `GenMsgCycleTime` in ms (0: not cyclic).
    public var cycleTimeMilliseconds: Int = 0
    public var sendType: String = "Cyclic"
    public var isFD = false
    public var bitRateSwitch = false
    public var e2eProfile = DBCE2EProfile.none
    public var e2eDataID: Int = 0
    /// `E2E_Timeout` in ms (0: no receive timeout).
    public var timeoutMilliseconds: Int = 0
    /// The line of the `BO_` statement.
    public var line: Int = 0

    public var multiplexor: DBCSignal? { signals.first { $0.multiplex == .multiplexor } }
}

/// A whole DBC file.
public struct DBCFile: Equatable, Sendable {
    public var version: String = ""
    public var nodes: [String] = []
    public var comment: String? = nil
    public var messages: [DBCMessage] = []
    /// `VAL_TABLE_` definitions, name → entries.
    public var valueTables: [(name: String, values: [(raw: Int64, label: String)])] = []
    public var fileName: String = ""

    public static func == (a: DBCFile, b: DBCFile) -> Bool {
        a.version == b.version && a.nodes == b.nodes && a.comment == b.comment && a.messages == b.messages
            && a.valueTables.map(\.name) == b.valueTables.map(\.name)
    }

    public func message(id: UInt32, extended: Bool = false) -> DBCMessage? {
        messages.first { $0.id == id && $0.isExtended == extended }
    }
    public func message(named name: String) -> DBCMessage? { messages.first { $0.name == name } }

    /// Reads the DBC at `path`.
    public static func load(path: String) throws(HarnessError) -> DBCFile {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw HarnessError("\(path): cannot read the DBC file")
        }
        return try parse(text, fileName: path)
    }

    /// Parses DBC text; errors name `fileName` and the line.
    public static func parse(_ text: String, fileName: String) throws(HarnessError) -> DBCFile {
        var parser = DBCParser(text: text, fileName: fileName)
        return try parser.parse()
    }
}

/// The statement-level DBC reader behind `DBCFile.parse`.
struct DBCParser {
    var lines: [Substring]
    let fileName: String
    var file = DBCFile()
    var lineIndex = 0

    init(text: String, fileName: String) {
        lines = text.textLines
        self.fileName = fileName
        file.fileName = fileName
    }

    func fail(_ message: String, line: Int? = nil) -> HarnessError {
        HarnessError("\(fileName):\((line ?? lineIndex) + 1): \(message)")
    }

    mutating func parse() throws(HarnessError) -> DBCFile {
        var enumAttributes: [String: [String]] = [:]
        while lineIndex < lines.count {
            var statement = String(lines[lineIndex]).trimmingCharacters(in: .whitespaces)
            let first = lineIndex
            // Statements that end with ';' may span lines (comments, attribute definitions).
            if needsSemicolon(statement) {
                while !endsStatement(statement) && lineIndex + 1 < lines.count {
                    lineIndex += 1
                    statement += "\n" + lines[lineIndex]
                }
                guard endsStatement(statement) else { throw fail("statement not closed with ';'", line: first) }
            }
            var tokens = try tokenize(statement, line: first)
            defer { lineIndex += 1 }
            guard let keyword = tokens.first else { continue }
            tokens.removeFirst()
            switch keyword {
            case "VERSION":
                file.version = tokens.first.map(unquote) ?? ""
            case "NS_", "BS_:", "BS_":
                // The keyword list that CANdb++ writes: skip its indented continuation lines.
                while lineIndex + 1 < lines.count, lines[lineIndex + 1].first == " " || lines[lineIndex + 1].first == "\t" {
                    lineIndex += 1
                }
            case "BU_:":
                file.nodes = tokens
            case "BO_":
                try parseMessage(tokens, line: first)
            case "SG_":
                try parseSignal(tokens, line: first)
            case "CM_":
                try parseComment(tokens, line: first)
            case "BA_DEF_":
                if let i = tokens.firstIndex(of: "ENUM"), i >= 1 {
                    let name = unquote(tokens[i - 1])
                    enumAttributes[name] = tokens[(i + 1)...].filter { $0 != "," && $0 != ";" }.map { unquote($0.trimmingCharacters(in: CharacterSet(charactersIn: ","))) }
                }
            case "BA_DEF_DEF_", "BA_DEF_REL_", "BA_DEF_DEF_REL_", "BA_REL_", "SIG_VALTYPE_", "BO_TX_BU_", "SG_MUL_VAL_", "EV_", "ENVVAR_DATA_", "SIG_GROUP_":
                if keyword == "SIG_VALTYPE_" { throw fail("float signals (SIG_VALTYPE_) are not supported", line: first) }
                if keyword == "SG_MUL_VAL_" { throw fail("extended multiplexing (SG_MUL_VAL_) is not supported", line: first) }
            case "BA_":
                try parseAttribute(tokens, enums: enumAttributes, line: first)
            case "VAL_TABLE_":
                guard let name = tokens.first else { throw fail("VAL_TABLE_ without a name", line: first) }
                file.valueTables.append((name, try valueEntries(Array(tokens.dropFirst()), line: first)))
            case "VAL_":
                try parseValues(tokens, line: first)
            default:
                throw fail("unknown statement '\(keyword)'", line: first)
            }
        }
        for m in file.messages { try check(m) }
        return file
    }

    func needsSemicolon(_ s: String) -> Bool {
        ["CM_ ", "BA_DEF_ ", "BA_DEF_DEF_ ", "BA_ ", "VAL_ ", "VAL_TABLE_ ", "BO_TX_BU_ ", "SIG_VALTYPE_ "].contains { s.hasPrefix($0) }
    }

    /// Whether `s` ends with ';' outside a quoted string.
    func endsStatement(_ s: String) -> Bool {
        var quoted = false, last: Character = " "
        for c in s {
            if c == "\"" { quoted.toggle() }
            if !c.isWhitespace { last = c }
        }
        return !quoted && last == ";"
    }

    /// Splits a statement into words, quoted strings (kept with their quotes) and the
    /// punctuation ':' ';' '|' '@' '(' ')' '[' ']' ','.
    func tokenize(_ s: String, line: Int) throws(HarnessError) -> [String] {
        var tokens: [String] = []
        var current = ""
        var chars = Array(s)
        chars.append(" ")
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "\"" {
                if !current.isEmpty { tokens.append(current); current = "" }
                var text = "\""
                i += 1
                while i < chars.count && chars[i] != "\"" {
                    if chars[i] == "\\" && i + 1 < chars.count { text.append(chars[i + 1]); i += 2; continue }
                    text.append(chars[i]); i += 1
                }
                guard i < chars.count else { throw fail("unterminated string", line: line) }
                tokens.append(text + "\"")
            } else if c.isWhitespace {
                if !current.isEmpty { tokens.append(current); current = "" }
            } else if ";|@()[],".contains(c) || (c == ":" && !current.hasSuffix("_")) {
                if !current.isEmpty { tokens.append(current); current = "" }
                tokens.append(String(c))
            } else {
                current.append(c)
            }
            i += 1
        }
        return tokens
    }

    func unquote(_ s: String) -> String {
        s.count >= 2 && s.hasPrefix("\"") && s.hasSuffix("\"") ? String(s.dropFirst().dropLast()) : s
    }

    func number(_ s: String, _ what: String, line: Int) throws(HarnessError) -> Double {
        guard let v = Double(s) else { throw fail("\(what) '\(s)' is not a number", line: line) }
        return v
    }

    func integer(_ s: String, _ what: String, line: Int) throws(HarnessError) -> Int64 {
        guard let v = Int64(s) else { throw fail("\(what) '\(s)' is not an integer", line: line) }
        return v
    }

    mutating func parseMessage(_ t: [String], line: Int) throws(HarnessError) {
        // BO_ <id> <name> : <length> <transmitter>
        guard t.count >= 5, t[2] == ":" else { throw fail("expected 'BO_ <id> <name>: <length> <transmitter>'", line: line) }
        let rawID = try integer(t[0], "message id", line: line)
        guard rawID >= 0, rawID <= 0xFFFF_FFFF else { throw fail("message id \(rawID) out of range", line: line) }
        let extended = rawID & 0x8000_0000 != 0
        let id = UInt32(rawID & 0x7FFF_FFFF)
        guard extended ? id <= 0x1FFF_FFFF : id <= 0x7FF else { throw fail("message id 0x\(String(id, radix: 16)) does not fit its format", line: line) }
        let length = Int(try integer(t[3], "message length", line: line))
        guard file.message(id: id, extended: extended) == nil else { throw fail("duplicate message id \(rawID)", line: line) }
        guard file.message(named: t[1]) == nil else { throw fail("duplicate message name \(t[1])", line: line) }
        file.messages.append(DBCMessage(id: id, isExtended: extended, name: t[1], length: length, transmitter: t[4], signals: [], line: line))
    }

    mutating func parseSignal(_ t: [String], line: Int) throws(HarnessError) {
        // SG_ <name> [M|m<k>] : <start>|<len>@<order><sign> (<factor>,<offset>) [<min>|<max>] "<unit>" <rx>,...
        guard !file.messages.isEmpty else { throw fail("SG_ outside a message", line: line) }
        guard let colon = t.firstIndex(of: ":"), colon >= 1, colon <= 2 else { throw fail("expected 'SG_ <name> : ...'", line: line) }
        var multiplex = DBCMultiplex.plain
        if colon == 2 {
            let m = t[1]
            if m == "M" { multiplex = .multiplexor } else if m.hasPrefix("m"), let k = Int(m.dropFirst()) { multiplex = .multiplexed(k) } else {
                throw fail("multiplex indicator '\(m)' is not supported", line: line)
            }
        }
        let r = Array(t[(colon + 1)...])
        // start | len @ order+sign ( factor , offset ) [ min | max ] "unit" receivers
        guard r.count >= 16, r[1] == "|", r[3] == "@", r[5] == "(", r[7] == ",", r[9] == ")", r[10] == "[", r[12] == "|", r[14] == "]" else {
            throw fail("malformed signal definition", line: line)
        }
        let orderSign = r[4]
        guard orderSign.count == 2, "01".contains(orderSign.first!), "+-".contains(orderSign.last!) else {
            throw fail("byte order and sign '\(orderSign)' must be 0|1 and +|-", line: line)
        }
        let receivers = r[16...].filter { $0 != "," }
        let signal = DBCSignal(name: t[0], multiplex: multiplex, start: Int(try integer(r[0], "start bit", line: line)),
                               length: Int(try integer(r[2], "signal length", line: line)),
                               isLittleEndian: orderSign.first == "1", isSigned: orderSign.last == "-",
                               factor: try number(r[6], "factor", line: line), offset: try number(r[8], "offset", line: line),
                               minimum: try number(r[11], "minimum", line: line), maximum: try number(r[13], "maximum", line: line),
                               unit: unquote(r[15]), receivers: receivers)
        let index = file.messages.count - 1
        guard !file.messages[index].signals.contains(where: { $0.name == signal.name }) else {
            throw fail("duplicate signal \(signal.name) in \(file.messages[index].name)", line: line)
        }
        file.messages[index].signals.append(signal)
    }

    mutating func parseComment(_ t: [String], line: Int) throws(HarnessError) {
        let body = t.filter { $0 != ";" }
        switch body.first {
        case "BU_": break
        case "BO_":
            guard body.count == 3, let m = messageIndex(body[1]) else { throw fail("comment for an unknown message", line: line) }
            file.messages[m].comment = unquote(body[2])
        case "SG_":
            guard body.count == 4, let m = messageIndex(body[1]), let s = file.messages[m].signals.firstIndex(where: { $0.name == body[2] }) else {
                throw fail("comment for an unknown signal", line: line)
            }
            file.messages[m].signals[s].comment = unquote(body[3])
        case .some(let text) where text.hasPrefix("\""):
            file.comment = unquote(text)
        default:
            throw fail("malformed comment", line: line)
        }
    }

    func messageIndex(_ idText: String) -> Int? {
        guard let raw = UInt32(idText) else { return nil }
        return file.messages.firstIndex { $0.id == raw & 0x7FFF_FFFF && $0.isExtended == (raw & 0x8000_0000 != 0) }
    }

    mutating func parseAttribute(_ t: [String], enums: [String: [String]], line: Int) throws(HarnessError) {
        let body = t.filter { $0 != ";" }
        guard let nameToken = body.first else { throw fail("BA_ without a name", line: line) }
        let name = unquote(nameToken)
        func enumValue(_ v: String) throws(HarnessError) -> String {
            if let options = enums[name], let i = Int(v) {
                guard i >= 0, i < options.count else { throw fail("\(name) value \(i) is not in its ENUM", line: line) }
                return options[i]
            }
            return unquote(v)
        }
        switch body.count > 1 ? body[1] : "" {
        case "BO_":
            guard body.count == 4, let m = messageIndex(body[2]) else { throw fail("attribute \(name) for an unknown message", line: line) }
            let value = body[3]
            switch name {
            case "GenMsgCycleTime": file.messages[m].cycleTimeMilliseconds = Int(try integer(value, name, line: line))
            case "GenMsgSendType": file.messages[m].sendType = try enumValue(value)
            case "VFrameFormat": file.messages[m].isFD = try enumValue(value).hasSuffix("_FD")
            case "CANFD_BRS": file.messages[m].bitRateSwitch = try enumValue(value) == "1"
            case "E2E_Profile":
                guard let p = DBCE2EProfile(rawValue: try enumValue(value)) else { throw fail("unknown E2E profile \(value)", line: line) }
                file.messages[m].e2eProfile = p
            case "E2E_DataID": file.messages[m].e2eDataID = Int(try integer(value, name, line: line))
            case "E2E_Timeout": file.messages[m].timeoutMilliseconds = Int(try integer(value, name, line: line))
            default: break
            }
        case "SG_":
            guard body.count == 5, let m = messageIndex(body[2]), let s = file.messages[m].signals.firstIndex(where: { $0.name == body[3] }) else {
                throw fail("attribute \(name) for an unknown signal", line: line)
            }
            if name == "GenSigStartValue" { file.messages[m].signals[s].startValue = try integer(body[4], name, line: line) }
        default:
            break   // network and node attributes
        }
    }

    func valueEntries(_ t: [String], line: Int) throws(HarnessError) -> [(raw: Int64, label: String)] {
        let body = t.filter { $0 != ";" }
        guard body.count % 2 == 0 else { throw fail("value table entries must be pairs of value and label", line: line) }
        var entries: [(raw: Int64, label: String)] = []
        var i = 0
        while i < body.count {
            entries.append((try integer(body[i], "value", line: line), unquote(body[i + 1])))
            i += 2
        }
        return entries
    }

    mutating func parseValues(_ t: [String], line: Int) throws(HarnessError) {
        guard t.count >= 2, let m = messageIndex(t[0]), let s = file.messages[m].signals.firstIndex(where: { $0.name == t[1] }) else {
            throw fail("VAL_ for an unknown signal", line: line)
        }
        file.messages[m].signals[s].values = try valueEntries(Array(t.dropFirst(2)), line: line)
    }

    /// The checks cantools' strict mode makes, and the project's conventions (Docs/can.md).
    func check(_ m: DBCMessage) throws(HarnessError) {
        let validLength = m.isFD ? [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64].contains(m.length) : (0...8).contains(m.length)
        guard validLength else { throw fail("\(m.name): length \(m.length) is not a valid \(m.isFD ? "FD" : "classic") length", line: m.line) }
        var used = [Int: [Int]]()   // multiplexer group (-1: every frame) → bits taken
        for s in m.signals {
            guard s.length >= 1 else { throw fail("\(m.name).\(s.name): zero length", line: m.line) }
            guard s.isLittleEndian else { throw fail("\(m.name).\(s.name): Motorola byte order is not used in this project", line: m.line) }
            guard s.start + s.length <= m.length * 8 else { throw fail("\(m.name).\(s.name) does not fit in the message", line: m.line) }
            let group: Int
            switch s.multiplex {
            case .plain, .multiplexor: group = -1
            case .multiplexed(let k): group = k
            }
            for bit in s.start..<(s.start + s.length) {
                if used[group, default: []].contains(bit) || (group >= 0 && used[-1, default: []].contains(bit)) {
                    throw fail("\(m.name).\(s.name) overlaps another signal", line: m.line)
                }
                used[group, default: []].append(bit)
            }
        }
        guard m.signals.filter({ $0.multiplex == .multiplexor }).count <= 1 else { throw fail("\(m.name): more than one multiplexer", line: m.line) }
    }
}
