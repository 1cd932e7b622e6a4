// A CAN frame as a value: classic (up to 8 bytes) or CAN FD (up to 64), standard or extended
// identifier, data stored inline (no heap).

/// An 11-bit standard or 29-bit extended CAN identifier. Only valid identifiers can be made.
public struct CANIdentifier: Equatable, Sendable {
    public let rawValue: UInt32
    public let isExtended: Bool

    /// An 11-bit identifier (0x000...0x7FF), or nil when out of range.
    public init?(standard value: UInt32) {
        guard value <= 0x7FF else { return nil }
        rawValue = value
        isExtended = false
    }

    /// A 29-bit identifier (0x0000_0000...0x1FFF_FFFF), or nil when out of range.
    public init?(extended value: UInt32) {
        guard value <= 0x1FFF_FFFF else { return nil }
        rawValue = value
        isExtended = true
    }
}

/// How a frame is transmitted.
public enum CANFrameFormat: Equatable, Sendable {
    /// Classic CAN data frame, 0...8 bytes.
    case classic
    /// Classic CAN remote (RTR) frame: no data, `length` is the requested DLC (0...8).
    case classicRemote
    /// CAN FD data frame, 0...8, 12, 16, 20, 24, 32, 48 or 64 bytes.
    case fd(bitRateSwitch: Bool, errorStateIndicator: Bool)
}

/// One CAN frame. Bytes beyond `length` are always zero, so two frames compare equal exactly
/// when identifier, format, length and payload match.
public struct CANFrame: Equatable, Sendable {
    public static let maximumLength = 64

    public let id: CANIdentifier
    public let format: CANFrameFormat
    public let length: Int
    @usableFromInline var bytes: InlineArray<64, UInt8>

    /// A frame with a zeroed payload of `length` bytes, or nil when the length is not valid for
    /// the format (classic: 0...8; FD: a valid FD length).
    public init?(id: CANIdentifier, format: CANFrameFormat = .classic, length: Int) {
        guard CANFrame.isValid(length: length, format: format) else { return nil }
        self.id = id
        self.format = format
        self.length = length
        bytes = InlineArray(repeating: 0)
    }

    /// Whether `length` is a payload length that `format` can carry.
    public static func isValid(length: Int, format: CANFrameFormat) -> Bool {
        switch format {
        case .classic, .classicRemote:
            return length >= 0 && length <= 8
        case .fd:
            switch length {
            case 0...8, 12, 16, 20, 24, 32, 48, 64: return true
            default: return false
            }
        }
    }

    /// The data length code for a payload length (0...15).
    public static func dataLengthCode(forLength length: Int) -> UInt8 {
        switch length {
        case ...8: return UInt8(truncatingIfNeeded: length)
        case ...12: return 9
        case ...16: return 10
        case ...20: return 11
        case ...24: return 12
        case ...32: return 13
        case ...48: return 14
        default: return 15
        }
    }

    /// Payload byte `index` (0..<length). Remote frames carry no data.
    /// (Read in place, through a span: indexing the payload of a borrowed frame directly copied
    /// all 64 bytes per byte read in the Embedded Cortex-M build; Docs/firmware-budget.md.)
    public subscript(index: Int) -> UInt8 {
        @_addressableSelf get {
            precondition(index >= 0 && index < length, "CANFrame: byte index out of range")
            return bytes.span[index]
        }
        set {
            precondition(index >= 0 && index < length && format != .classicRemote,
                         "CANFrame: byte index out of range")
            bytes[index] = newValue
        }
    }

    public static func == (a: CANFrame, b: CANFrame) -> Bool {
        guard a.id == b.id, a.format == b.format, a.length == b.length else { return false }
        for i in 0..<a.length where a.bytes[i] != b.bytes[i] { return false }
        return true
    }
}
