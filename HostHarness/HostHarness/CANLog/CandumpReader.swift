// Reads candump/canplayer logs byte by byte, as leniently as canplayer, rejecting §6's list.
import Foundation
import HAL

/// A candump log read into memory, parsed on demand. Accepts what canplayer accepts
/// (can-tooling.md §5, §6): comment, `DROPCOUNT:` and blank lines (any line not starting with
/// `(`), CR LF, padded interface names, 6- or 9-digit fractions, relative times, lower-case hex,
/// `r`/`R`/`R0`..`R8`, FD flags 0..7 with every FD length, 8-digit (extended) ids, error frames,
/// a trailing `R`/`T`, `.` between data bytes and a `_X` raw DLC (read and ignored).
///
/// Rejects, as `CANLogError` "file:line: reason", what §6 says to reject — and, stricter than
/// canplayer, a line whose first non-blank character is `(` or a digit but which does not start
/// with `(` (canplayer would drop that frame silently) and unknown text after the frame.
public struct CandumpReader {
    /// What the reader lets through beyond the format.
    public struct Options: Sendable {
        /// Whether a timestamp earlier than the previous line's is accepted. A recorder never
        /// writes one, so by default it is an error (equal timestamps are always fine).
        public var allowsBackwardsTimestamps: Bool

        public init(allowsBackwardsTimestamps: Bool = false) {
            self.allowsBackwardsTimestamps = allowsBackwardsTimestamps
        }
    }

    /// The name error messages start with (the path, for a file).
    public let fileName: String
    public let options: Options
    let bytes: [UInt8]

    /// Reads the whole file once; parsing happens in `forEach`/`frames`.
    public init(contentsOf path: String, options: Options = Options()) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw HarnessError("\(path): cannot read the file") }
        self.init(bytes: [UInt8](data), fileName: path, options: options)
    }

    /// A log held in memory; `fileName` is what error messages name.
    public init(bytes: [UInt8], fileName: String, options: Options = Options()) {
        self.bytes = bytes
        self.fileName = fileName
        self.options = options
    }

    /// Every frame, in file order. Parses the whole log into an array.
    public static func parse(bytes: [UInt8], fileName: String, options: Options = Options()) throws -> [LoggedFrame] {
        try CandumpReader(bytes: bytes, fileName: fileName, options: options).frames()
    }

    /// Every frame, in file order.
    public func frames() throws -> [LoggedFrame] {
        var frames: [LoggedFrame] = []
        try forEach { frames.append($0) }
        return frames
    }

    /// Calls `body` with each frame in file order; stops at the first bad line with a CANLogError
    /// (frames before it have been delivered) or at the first error `body` throws.
    public func forEach(_ body: (LoggedFrame) throws -> Void) throws {
        try bytes.withUnsafeBufferPointer { text in
            guard let base = text.baseAddress else { return }
            var names = InterfaceNames()
            var previous: LoggedFrame.Timestamp?
            var lineNumber = 0
            var lineStart = 0
            while lineStart < text.count {
                lineNumber += 1
                var lineEnd = text.count
                if let newline = memchr(base + lineStart, 0x0A, text.count - lineStart) {
                    lineEnd = base.distance(to: newline.assumingMemoryBound(to: UInt8.self))
                }
                let nextStart = lineEnd + 1
                if lineEnd > lineStart && text[lineEnd - 1] == Byte.carriageReturn { lineEnd -= 1 }
                defer { lineStart = nextStart }

                let frame: LoggedFrame
                do throws(LineProblem) {
                    guard let parsed = try CandumpLine.parse(text, from: lineStart, to: lineEnd, names: &names) else { continue }
                    frame = parsed
                } catch {
                    throw CANLogError(fileName: fileName, line: lineNumber, reason: error.reason)
                }
                if let previous, frame.timestamp.isBefore(previous), !options.allowsBackwardsTimestamps {
                    throw CANLogError(fileName: fileName, line: lineNumber,
                                      reason: "timestamp goes backwards (\(CandumpLine.text(frame.timestamp)) after \(CandumpLine.text(previous)))")
                }
                previous = frame.timestamp
                try body(frame)
            }
        }
    }
}

/// ASCII bytes the parser looks for.
enum Byte {
    static let tab: UInt8 = 0x09
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let hash: UInt8 = 0x23
    static let openParenthesis: UInt8 = 0x28
    static let closeParenthesis: UInt8 = 0x29
    static let dot: UInt8 = 0x2E
    static let zero: UInt8 = 0x30
    static let upperR: UInt8 = 0x52
    static let upperT: UInt8 = 0x54
    static let underscore: UInt8 = 0x5F
    static let lowerR: UInt8 = 0x72
}

/// Why one line was refused (the reader adds file and line).
struct LineProblem: Error {
    var reason: String
}

/// Interface names seen so far, so a line's name reuses an existing String instead of making one.
struct InterfaceNames {
    /// Beyond this many distinct names each line gets a fresh String (bounds the table).
    static let capacity = 64
    var spellings: [[UInt8]] = []
    var names: [String] = []
    var lastIndex = 0

    mutating func name(_ text: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> String {
        if lastIndex < names.count && matches(lastIndex, text, from: start, to: end) { return names[lastIndex] }
        for index in names.indices where matches(index, text, from: start, to: end) {
            lastIndex = index
            return names[index]
        }
        let spelling = Array(text[start..<end])
        let name = String(decoding: spelling, as: UTF8.self)
        if names.count < InterfaceNames.capacity {
            spellings.append(spelling)
            names.append(name)
            lastIndex = names.count - 1
        }
        return name
    }

    func matches(_ index: Int, _ text: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Bool {
        let length = end - start
        return spellings[index].count == length && spellings[index].withUnsafeBufferPointer { spelling in
            memcmp(spelling.baseAddress!, text.baseAddress! + start, length) == 0
        }
    }
}

/// The grammar of one line (§1.1), over bytes `from..<to` of the file (no LF, no CR).
enum CandumpLine {
    /// The frame on the line, nil for a line to ignore (comment, DROPCOUNT, blank).
    static func parse(_ text: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
                      names: inout InterfaceNames) throws(LineProblem) -> LoggedFrame? {
        guard start < end else { return nil }
        guard text[start] == Byte.openParenthesis else {
            var first = start
            while first < end && isBlank(text[first]) { first += 1 }
            guard first < end else { return nil }
            if text[first] == Byte.openParenthesis { throw LineProblem(reason: "'(' must be the first character of the line") }
            if decimalValue(text[first]) < 10 { throw LineProblem(reason: "missing '(' before the timestamp") }
            return nil
        }
        var index = start + 1

        // Timestamp: seconds "." 6 or 9 digits ")".
        var seconds: UInt64 = 0
        let secondsStart = index
        while index < end, case let digit = decimalValue(text[index]), digit < 10 {
            guard index - secondsStart < 19 else { throw LineProblem(reason: "seconds have more than 19 digits") }
            seconds = seconds * 10 + UInt64(digit)
            index += 1
        }
        guard index > secondsStart else { throw LineProblem(reason: "timestamp must start with the seconds after '('") }
        guard index < end, text[index] == Byte.dot else { throw LineProblem(reason: "timestamp needs '.' between seconds and fraction") }
        index += 1
        var fraction: UInt32 = 0
        let fractionStart = index
        while index < end, case let digit = decimalValue(text[index]), digit < 10 {
            if index - fractionStart < 9 { fraction = fraction * 10 + UInt32(digit) }
            index += 1
        }
        let fractionDigits = index - fractionStart
        let timestamp: LoggedFrame.Timestamp
        switch fractionDigits {
        case 6: timestamp = LoggedFrame.Timestamp(seconds: seconds, nanoseconds: fraction * 1_000, precision: .microseconds)
        case 9: timestamp = LoggedFrame.Timestamp(seconds: seconds, nanoseconds: fraction, precision: .nanoseconds)
        default: throw LineProblem(reason: "fraction must have 6 or 9 digits, not \(fractionDigits)")
        }
        guard index < end, text[index] == Byte.closeParenthesis else { throw LineProblem(reason: "missing ')' after the timestamp") }
        index += 1
        guard index < end, isBlank(text[index]) else { throw LineProblem(reason: "missing space after the timestamp") }

        // Interface (right-justified, so possibly several spaces before it), then the frame token.
        while index < end && isBlank(text[index]) { index += 1 }
        let interfaceStart = index
        while index < end && !isBlank(text[index]) { index += 1 }
        guard index > interfaceStart else { throw LineProblem(reason: "missing interface name after the timestamp") }
        let interfaceEnd = index
        while index < end && isBlank(text[index]) { index += 1 }
        let frameStart = index
        while index < end && !isBlank(text[index]) { index += 1 }
        guard index > frameStart else { throw LineProblem(reason: "missing frame after the interface name") }
        let content = try parseFrame(text, from: frameStart, to: index)

        // Optional direction, nothing else.
        while index < end && isBlank(text[index]) { index += 1 }
        var direction: LoggedFrame.Direction?
        if index < end {
            direction = LoggedFrame.Direction(rawValue: text[index])
            var after = index + 1
            while after < end && isBlank(text[after]) { after += 1 }
            guard direction != nil, after == end else {
                throw LineProblem(reason: "unexpected text after the frame (only ' R' or ' T' may follow)")
            }
        }
        return LoggedFrame(timestamp: timestamp, interface: names.name(text, from: interfaceStart, to: interfaceEnd),
                           content: content, direction: direction)
    }

    /// `ID#DATA[_X]`, `ID#R[len[_X]]`, `ID##<flags>DATA` or an error frame `2XXXXXXX#DATA`.
    static func parseFrame(_ text: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) throws(LineProblem) -> LoggedFrame.Content {
        var index = start
        var idValue: UInt32 = 0
        var idIsHex = true
        while index < end && text[index] != Byte.hash {
            let nibble = hexValue(text[index])
            if nibble > 15 { idIsHex = false }
            idValue = idValue << 4 | UInt32(nibble & 0xF)
            index += 1
        }
        guard index < end else { throw LineProblem(reason: "missing '#' in the frame") }
        guard idIsHex else { throw LineProblem(reason: "id must be hex digits") }
        let idDigits = index - start
        var isErrorFrame = false
        let id: CANIdentifier
        switch idDigits {
        case 0:
            throw LineProblem(reason: "missing id before '#'")
        case 3:
            guard let standard = CANIdentifier(standard: idValue) else {
                throw LineProblem(reason: "3-digit id \(hexText(idValue)) is above 7FF")
            }
            id = standard
        case 8:
            guard idValue & 0xC000_0000 == 0 else { throw LineProblem(reason: "8-digit id has bit 30 or 31 set") }
            isErrorFrame = idValue & 0x2000_0000 != 0
            id = CANIdentifier(extended: idValue & 0x1FFF_FFFF)!
        default:
            throw LineProblem(reason: "id must have 3 or 8 hex digits, not \(idDigits)")
        }
        index += 1  // the "#"

        if index < end && text[index] == Byte.hash {
            guard !isErrorFrame else { throw LineProblem(reason: "error frames cannot be CAN FD") }
            index += 1
            guard index < end, case let flags = hexValue(text[index]), flags < 16 else {
                throw LineProblem(reason: "CAN FD frame needs a flags digit after '##'")
            }
            guard flags < 8 else { throw LineProblem(reason: "CAN FD flags must be 0..7, bit 3 is reserved") }
            index += 1
            let payload = try scanPayload(text, from: index, to: end)
            guard payload.end == end else { throw LineProblem(reason: "'_' raw DLC is only for classic frames") }
            guard payload.count <= 64 else { throw LineProblem(reason: "CAN FD frame has \(payload.count) data bytes, more than 64") }
            let format = CANFrameFormat.fd(bitRateSwitch: flags & 0x1 != 0, errorStateIndicator: flags & 0x2 != 0)
            guard var frame = CANFrame(id: id, format: format, length: payload.count) else {
                throw LineProblem(reason: "CAN FD length \(payload.count) is not one of 0..8, 12, 16, 20, 24, 32, 48, 64")
            }
            fillPayload(text, from: index, to: end) { frame[$0] = $1 }
            return .frame(frame)
        }

        if index < end && (text[index] == Byte.upperR || text[index] == Byte.lowerR) {
            guard !isErrorFrame else { throw LineProblem(reason: "error frames cannot be remote frames") }
            index += 1
            var length = 0
            if index < end, case let digit = hexValue(text[index]), digit < 16 {
                guard digit <= 8 else { throw LineProblem(reason: "remote frame length must be 0..8, not \(digit)") }
                length = Int(digit)
                index += 1
            }
            if index < end && text[index] == Byte.underscore {
                try checkRawDLC(text, at: index, to: end, length: length)
                index = end
            }
            guard index == end else { throw LineProblem(reason: "unexpected characters after the remote frame length") }
            return .frame(CANFrame(id: id, format: .classicRemote, length: length)!)
        }

        let payload = try scanPayload(text, from: index, to: end)
        guard payload.count <= 8 else { throw LineProblem(reason: "classic frame has \(payload.count) data bytes, more than 8") }
        if payload.end < end { try checkRawDLC(text, at: payload.end, to: end, length: payload.count) }
        if isErrorFrame {
            var data = LoggedFrame.ErrorData()
            fillPayload(text, from: index, to: payload.end) { data[$0] = $1 }
            return .error(classMask: idValue & 0x1FFF_FFFF, data: data)
        }
        var frame = CANFrame(id: id, format: .classic, length: payload.count)!
        fillPayload(text, from: index, to: payload.end) { frame[$0] = $1 }
        return .frame(frame)
    }

    /// Counts the data bytes in `from..<to`: hex pairs, `.` allowed between bytes; stops at `_`.
    @inline(__always)
    static func scanPayload(_ text: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) throws(LineProblem) -> (count: Int, end: Int) {
        var digits = 0
        var index = start
        while index < end {
            let byte = text[index]
            if hexValue(byte) < 16 {
                digits += 1
            } else if byte == Byte.dot {
                guard digits & 1 == 0 else { throw LineProblem(reason: "'.' may only separate whole bytes in the data") }
            } else if byte == Byte.underscore {
                break
            } else {
                throw LineProblem(reason: "data must be hex digits, found \(describe(byte))")
            }
            index += 1
        }
        guard digits & 1 == 0 else { throw LineProblem(reason: "odd number of hex digits (\(digits)) in the data") }
        return (digits / 2, index)
    }

    /// Hands each data byte of an already scanned payload to `store(index, value)`.
    @inline(__always)
    static func fillPayload(_ text: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, _ store: (Int, UInt8) -> Void) {
        var index = start
        var byteIndex = 0
        while index < end {
            if text[index] == Byte.dot { index += 1; continue }
            store(byteIndex, hexValue(text[index]) << 4 | hexValue(text[index + 1]))
            byteIndex += 1
            index += 2
        }
    }

    /// `_X` after 8 bytes: the raw Classical CAN DLC 9..F (`len8_dlc`), accepted and ignored.
    static func checkRawDLC(_ text: UnsafeBufferPointer<UInt8>, at index: Int, to end: Int, length: Int) throws(LineProblem) {
        guard length == 8, index + 2 == end, case let rawDLC = hexValue(text[index + 1]), rawDLC >= 9, rawDLC < 16 else {
            throw LineProblem(reason: "raw DLC '_X' needs 8 data bytes and one digit X in 9..F")
        }
    }

    /// 0...15 for an ASCII hex digit (either case), 0xFF otherwise.
    @inline(__always) static func hexValue(_ byte: UInt8) -> UInt8 {
        let digit = byte &- Byte.zero
        if digit < 10 { return digit }
        let letter = (byte | 0x20) &- 0x61
        if letter < 6 { return letter + 10 }
        return 0xFF
    }

    /// 0...9 for an ASCII decimal digit, 0xFF (or more) otherwise.
    @inline(__always) static func decimalValue(_ byte: UInt8) -> UInt8 {
        let digit = byte &- Byte.zero
        return digit < 10 ? digit : 0xFF
    }

    @inline(__always) static func isBlank(_ byte: UInt8) -> Bool {
        byte == Byte.space || byte == Byte.tab
    }

    /// A byte for an error message: `'g'` when printable, `byte 0x07` otherwise.
    static func describe(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(hexText(UInt32(byte)))"
    }

    static func hexText(_ value: UInt32) -> String {
        String(value, radix: 16, uppercase: true)
    }

    /// A timestamp as the log writes it, for messages.
    static func text(_ timestamp: LoggedFrame.Timestamp) -> String {
        let digits = timestamp.precision == .nanoseconds ? timestamp.nanoseconds : timestamp.nanoseconds / 1_000
        let fraction = String(digits)
        return "\(timestamp.seconds)." + String(repeating: "0", count: timestamp.precision.rawValue - fraction.count) + fraction
    }
}
