// One line of a candump/canplayer log (can-tooling.md §1) as a value, and the reader's error.
import HAL

/// One log line: when, on which interface, what (a CAN frame or an error frame), and the
/// optional `R`/`T` direction that `candump -x` appends.
public struct LoggedFrame: Equatable, Sendable {
    /// A log timestamp: whole seconds plus nanoseconds, and how many fraction digits the line has.
    public struct Timestamp: Equatable, Sendable {
        /// Fraction digits on the line: 6 (`candump`, microseconds) or 9 (`candump -N`, nanoseconds).
        public enum Precision: Int, Sendable {
            case microseconds = 6
            case nanoseconds = 9
        }

        /// Seconds since the epoch (`-t a`) or since the first frame (`-t z`).
        public let seconds: UInt64
        /// 0...999_999_999; a whole number of microseconds when `precision` is `.microseconds`.
        public let nanoseconds: UInt32
        public let precision: Precision

        public init(seconds: UInt64, nanoseconds: UInt32, precision: Precision) {
            precondition(nanoseconds < 1_000_000_000, "Timestamp: nanoseconds must be below one second")
            precondition(precision == .nanoseconds || nanoseconds % 1_000 == 0,
                         "Timestamp: a microsecond timestamp carries whole microseconds")
            self.seconds = seconds
            self.nanoseconds = nanoseconds
            self.precision = precision
        }

        /// A timestamp written with 6 fraction digits.
        public init(seconds: UInt64, microseconds: UInt32) {
            precondition(microseconds < 1_000_000, "Timestamp: microseconds must be below one second")
            self.init(seconds: seconds, nanoseconds: microseconds * 1_000, precision: .microseconds)
        }

        /// Whether this instant is strictly earlier than `other` (precision ignored).
        public func isBefore(_ other: Timestamp) -> Bool {
            seconds < other.seconds || (seconds == other.seconds && nanoseconds < other.nanoseconds)
        }
    }

    /// The 8 data bytes of an error frame (`CAN_ERR_DLC`; `linux/can/error.h` says what each means).
    public struct ErrorData: Equatable, Sendable {
        public static let length = 8
        @usableFromInline var bytes: InlineArray<8, UInt8>

        /// All eight bytes zero.
        public init() { bytes = InlineArray(repeating: 0) }

        /// Up to eight bytes; missing bytes are zero.
        public init(_ values: [UInt8]) {
            precondition(values.count <= 8, "ErrorData: an error frame has 8 data bytes")
            bytes = InlineArray(repeating: 0)
            for (index, value) in values.enumerated() { bytes[index] = value }
        }

        /// Byte `index` (0..<8).
        public subscript(index: Int) -> UInt8 {
            get { bytes[index] }
            set { bytes[index] = newValue }
        }

        public static func == (a: ErrorData, b: ErrorData) -> Bool {
            for index in 0..<8 where a.bytes[index] != b.bytes[index] { return false }
            return true
        }
    }

    /// What the line carries.
    public enum Content: Equatable, Sendable {
        /// A classic, remote or CAN FD frame.
        case frame(CANFrame)
        /// An error frame (`CAN_ERR_FLAG` 0x2000_0000 in the id): the error class bits (low 29 bits
        /// of the id, e.g. 0x80 CAN_ERR_BUSERROR) and the 8 detail bytes. Never remote, never FD.
        case error(classMask: UInt32, data: ErrorData)
    }

    /// The direction suffix of `candump -x`; raw values are the ASCII letters on the line.
    public enum Direction: UInt8, Sendable {
        case received = 0x52     // "R"
        case transmitted = 0x54  // "T"
    }

    public var timestamp: Timestamp
    /// The interface name as written, without the padding spaces (`can0`, `vcan10`).
    public var interface: String
    public var content: Content
    public var direction: Direction?

    public init(timestamp: Timestamp, interface: String, content: Content, direction: Direction? = nil) {
        self.timestamp = timestamp
        self.interface = interface
        self.content = content
        self.direction = direction
    }
}

/// A log line the reader refused: `file:line: reason`, one line, like a compiler diagnostic.
public struct CANLogError: Error, CustomStringConvertible, Equatable {
    /// The file name as given to the reader.
    public let fileName: String
    /// 1-based line number (every LF counts, comment lines included).
    public let line: Int
    public let reason: String

    public init(fileName: String, line: Int, reason: String) {
        self.fileName = fileName
        self.line = line
        self.reason = reason
    }

    public var message: String { "\(fileName):\(line): \(reason)" }
    public var description: String { message }
}
