// How CAN frames look on a Linux CAN_RAW socket (linux/can.h, linux/can/error.h): the 16-byte
// `struct can_frame`, the 72-byte `struct canfd_frame`, the id flags and error frames, and the
// conversion to and from the HAL's `CANFrame`. Pure code: no system call, so it is tested on
// any kernel.
import HAL

/// What one read from a CAN_RAW socket delivered: a frame, or an error frame from the driver.
public enum SocketCANEvent: Equatable, Sendable {
    case frame(CANFrame)
    case error(CANErrorFrame)
}

/// The error classes of a SocketCAN error frame (`can_id & CAN_ERR_MASK`, linux/can/error.h).
public struct CANErrorClass: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let transmitTimeout = CANErrorClass(rawValue: 0x001)    // CAN_ERR_TX_TIMEOUT
    public static let lostArbitration = CANErrorClass(rawValue: 0x002)    // CAN_ERR_LOSTARB, data[0]
    public static let controller = CANErrorClass(rawValue: 0x004)         // CAN_ERR_CRTL, data[1]
    public static let protocolViolation = CANErrorClass(rawValue: 0x008)  // CAN_ERR_PROT, data[2...3]
    public static let transceiver = CANErrorClass(rawValue: 0x010)        // CAN_ERR_TRX, data[4]
    public static let noAcknowledge = CANErrorClass(rawValue: 0x020)      // CAN_ERR_ACK
    public static let busOff = CANErrorClass(rawValue: 0x040)             // CAN_ERR_BUSOFF
    public static let busError = CANErrorClass(rawValue: 0x080)           // CAN_ERR_BUSERROR
    public static let restarted = CANErrorClass(rawValue: 0x100)          // CAN_ERR_RESTARTED
    public static let errorCounters = CANErrorClass(rawValue: 0x200)      // CAN_ERR_CNT, data[6...7]

    static let names: [(CANErrorClass, String)] = [
        (.transmitTimeout, "transmitTimeout"), (.lostArbitration, "lostArbitration"), (.controller, "controller"),
        (.protocolViolation, "protocolViolation"), (.transceiver, "transceiver"), (.noAcknowledge, "noAcknowledge"),
        (.busOff, "busOff"), (.busError, "busError"), (.restarted, "restarted"), (.errorCounters, "errorCounters"),
    ]

    /// The class names joined by "+", with any unknown bits in hex: "controller+busOff".
    public var description: String {
        var parts = CANErrorClass.names.filter { contains($0.0) }.map(\.1)
        let unknown = rawValue & ~CANErrorClass.names.reduce(0) { $0 | $1.0.rawValue }
        if unknown != 0 { parts.append("0x" + String(unknown, radix: 16)) }
        return parts.isEmpty ? "none" : parts.joined(separator: "+")
    }
}

/// An error frame (CAN_ERR_FLAG set): its classes and the 8 detail bytes (CAN_ERR_DLC), whose
/// meaning depends on the class (linux/can/error.h).
public struct CANErrorFrame: Equatable, Sendable, CustomStringConvertible {
    public let errorClass: CANErrorClass
    public let data: InlineArray<8, UInt8>

    public init(errorClass: CANErrorClass, data: InlineArray<8, UInt8> = .init(repeating: 0)) {
        self.errorClass = errorClass
        self.data = data
    }

    /// "controller+busOff [00 20 00 00 00 00 00 00]", for a log line.
    public var description: String {
        var bytes: [String] = []
        for i in data.indices { bytes.append(hexByte(data[i])) }
        return "\(errorClass) [\(bytes.joined(separator: " "))]"
    }

    public static func == (a: CANErrorFrame, b: CANErrorFrame) -> Bool {
        guard a.errorClass == b.errorClass else { return false }
        for i in a.data.indices where a.data[i] != b.data[i] { return false }
        return true
    }
}

/// `struct canfd_frame` byte for byte (72 bytes); its first 16 bytes are `struct can_frame`,
/// whose byte 5 is `__pad` and byte 7 `len8_dlc` (both left zero here).
struct WireFrame {
    /// can_id: the identifier in bits 0...28 plus the EFF/RTR/ERR flags in bits 31/30/29.
    var canID: UInt32 = 0
    /// len: payload bytes; for a remote frame the requested DLC.
    var length: UInt8 = 0
    /// canfd_frame.flags (BRS, ESI, FDF).
    var flags: UInt8 = 0
    var reserved0: UInt8 = 0
    var reserved1: UInt8 = 0
    var data = InlineArray<64, UInt8>(repeating: 0)
}

/// The CAN_RAW frame layouts and the conversions between them and `CANFrame`.
public enum SocketCANWireFormat {
    /// sizeof(struct can_frame), CAN_MTU.
    public static let classicSize = 16
    /// sizeof(struct canfd_frame), CANFD_MTU.
    public static let fdSize = 72

    static let extendedFlag: UInt32 = 0x8000_0000   // CAN_EFF_FLAG
    static let remoteFlag: UInt32 = 0x4000_0000     // CAN_RTR_FLAG
    static let errorFlag: UInt32 = 0x2000_0000      // CAN_ERR_FLAG
    static let standardMask: UInt32 = 0x0000_07FF   // CAN_SFF_MASK
    static let extendedMask: UInt32 = 0x1FFF_FFFF   // CAN_EFF_MASK
    static let errorMask: UInt32 = 0x1FFF_FFFF      // CAN_ERR_MASK
    static let bitRateSwitch: UInt8 = 0x01          // CANFD_BRS
    static let errorStateIndicator: UInt8 = 0x02    // CANFD_ESI
    static let fdFormat: UInt8 = 0x04               // CANFD_FDF

    /// `frame` as the kernel wants it written, and how many bytes to write (16 or 72).
    static func wire(_ frame: CANFrame) -> (WireFrame, byteCount: Int) {
        precondition(MemoryLayout<WireFrame>.size == fdSize && MemoryLayout<WireFrame>.offset(of: \.data) == 8,
                     "SocketCAN: WireFrame does not match struct canfd_frame")
        var wire = WireFrame()
        wire.canID = frame.id.rawValue | (frame.id.isExtended ? extendedFlag : 0)
        wire.length = UInt8(truncatingIfNeeded: frame.length)
        switch frame.format {
        case .classicRemote:
            wire.canID |= remoteFlag
            return (wire, classicSize)
        case .classic:
            for i in 0..<frame.length { wire.data[i] = frame[i] }
            return (wire, classicSize)
        case .fd(let bitRateSwitch, let errorStateIndicator):
            wire.flags = fdFormat | (bitRateSwitch ? self.bitRateSwitch : 0)
                | (errorStateIndicator ? self.errorStateIndicator : 0)
            for i in 0..<frame.length { wire.data[i] = frame[i] }
            return (wire, fdSize)
        }
    }

    /// What the kernel handed over in `byteCount` bytes of `wire`. An FD length that is not a
    /// DLC step (the kernel passes e.g. 13 through on vcan) is rounded up to the next step, as a
    /// real controller would transmit it, with zero padding.
    static func event(_ wire: WireFrame, byteCount: Int) throws(SocketCANFailure) -> SocketCANEvent {
        guard byteCount == classicSize || byteCount == fdSize else { throw .unexpectedSize(byteCount) }
        if wire.canID & errorFlag != 0 {
            var data = InlineArray<8, UInt8>(repeating: 0)
            for i in data.indices { data[i] = wire.data[i] }
            return .error(CANErrorFrame(errorClass: CANErrorClass(rawValue: wire.canID & errorMask), data: data))
        }
        // Masked values are always in range, so the identifiers always exist.
        let id = wire.canID & extendedFlag != 0
            ? CANIdentifier(extended: wire.canID & extendedMask)!
            : CANIdentifier(standard: wire.canID & standardMask)!
        let format: CANFrameFormat
        var length = Int(wire.length)
        if byteCount == classicSize {
            format = wire.canID & remoteFlag != 0 ? .classicRemote : .classic
        } else {
            format = .fd(bitRateSwitch: wire.flags & bitRateSwitch != 0,
                         errorStateIndicator: wire.flags & errorStateIndicator != 0)
            if length <= CANFrame.maximumLength { length = fdLengths[Int(CANFrame.dataLengthCode(forLength: length))] }
        }
        guard var frame = CANFrame(id: id, format: format, length: length) else { throw .invalidLength(wire.length) }
        if format != .classicRemote {
            for i in 0..<min(length, Int(wire.length)) { frame[i] = wire.data[i] }
        }
        return .frame(frame)
    }

    /// Payload length per CAN FD data length code (ISO 11898-1).
    static let fdLengths = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]

    /// The bytes `frame` is written as (16 for classic, 72 for FD), e.g. to compare with a capture.
    public static func bytes(of frame: CANFrame) -> [UInt8] {
        var (wire, count) = wire(frame)
        return withUnsafeBytes(of: &wire) { Array($0.prefix(count)) }
    }

    /// Decodes one read from a CAN_RAW socket (16 or 72 bytes).
    public static func event(fromBytes bytes: [UInt8]) throws(SocketCANFailure) -> SocketCANEvent {
        var wire = WireFrame()
        withUnsafeMutableBytes(of: &wire) { buffer in
            for (i, byte) in bytes.prefix(fdSize).enumerated() { buffer[i] = byte }
        }
        return try event(wire, byteCount: bytes.count)
    }
}

/// Two hex digits.
func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}
