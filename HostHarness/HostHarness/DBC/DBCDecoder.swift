// Physical decoding of any frame through a DBCFile: the message by identifier, the multiplexer
// group the frame carries, every signal's raw and physical value with its value-table label, and
// the E2E check of profiles 1 and 5 (can-tooling.md §8.3).
//
// Foundation only: `make codegen` compiles this folder on its own, without HAL or Firmware, so
// the frame comes in as bytes (HostHarness adds a CANFrame overload in CANLog/) and the CRCs are
// computed here from the profile definitions, independently of Firmware/CAN/CANPayload.swift —
// the tests hold the generated codecs against this decoder.
import Foundation

/// One signal of a decoded frame.
public struct DBCSignalValue: Equatable, Sendable {
    public var name: String
    /// The field as sent: sign-extended for a signed signal. An unsigned 64-bit field above
    /// `Int64.max` keeps its bit pattern (negative here); `physical` is right either way.
    public var raw: Int64
    /// raw × factor + offset, in `unit`.
    public var physical: Double
    public var unit: String
    /// The `VAL_` label of `raw`, if the signal's value table has one (`SNA`, `Connected`).
    public var label: String?

    public init(name: String, raw: Int64, physical: Double, unit: String, label: String?) {
        self.name = name
        self.raw = raw
        self.physical = physical
        self.unit = unit
        self.label = label
    }
}

/// The E2E check of a protected message (profile 1 or 5).
public struct DBCE2ECheck: Equatable, Sendable {
    public var profile: DBCE2EProfile
    /// The CRC in the frame (profile 1: byte 0; profile 5: bytes 0–1, little-endian).
    public var receivedCRC: UInt16
    /// The CRC computed over the frame and the message's `E2E_DataID`.
    public var computedCRC: UInt16
    /// The alive counter (profile 1: low nibble of byte 1; profile 5: byte 2).
    public var counter: Int
    /// Steps from the previous counter of this message (modulo 15 in profile 1, 256 in profile 5;
    /// 1 is the expected step, 0 a repetition), nil when no previous counter was given or either
    /// counter is out of range.
    public var counterStep: Int?

    public var crcOK: Bool { receivedCRC == computedCRC }
    /// Profile 1 never sends 15 (can-tooling.md §8.3); every 8-bit profile-5 counter is valid.
    public var counterInRange: Bool { profile != .profile1 || counter <= 14 }
    /// Whether nothing is wrong: CRC, counter range and (when known) the step.
    public var isOK: Bool { crcOK && counterInRange && (counterStep == nil || counterStep == 1) }

    /// `crc ok` or `CRC MISMATCH (received 0x.., computed 0x..)`, then any counter finding.
    public var summary: String {
        let digits = profile == .profile5 ? 4 : 2
        var text = crcOK ? "crc ok" : "CRC MISMATCH (received 0x\(Self.hex(receivedCRC, digits)), computed 0x\(Self.hex(computedCRC, digits)))"
        if !counterInRange { text += ", COUNTER \(counter) OUT OF RANGE" }
        if let step = counterStep, step != 1 {
            text += step == 0 ? ", counter repeated" : ", counter jumped by \(step)"
        }
        return text
    }

    static func hex(_ value: UInt16, _ digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}

/// A frame read through the DBC.
public struct DBCDecodedMessage: Equatable, Sendable {
    /// The message's `BO_` name.
    public var name: String
    /// The multiplexer's value, for a multiplexed message.
    public var multiplexGroup: Int64?
    /// The signals the frame carries, in DBC order: every plain signal, the multiplexer, and the
    /// multiplexed signals of `multiplexGroup` only.
    public var signals: [DBCSignalValue]
    /// nil for a message without `E2E_Profile`.
    public var e2e: DBCE2ECheck?

    public init(name: String, multiplexGroup: Int64?, signals: [DBCSignalValue], e2e: DBCE2ECheck?) {
        self.name = name
        self.multiplexGroup = multiplexGroup
        self.signals = signals
        self.e2e = e2e
    }

    public func signal(_ name: String) -> DBCSignalValue? { signals.first { $0.name == name } }
}

/// Why a frame could not be read through the DBC.
public enum DBCDecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The DBC has no message with this identifier (and standard/extended kind).
    case notInDBC
    /// A remote (RTR) frame: it carries no signals.
    case remoteFrame
    /// Classic where the DBC says CAN FD (`VFrameFormat`), or the reverse.
    case wrongFormat(expectedFD: Bool)
    /// The payload length is not the message's `BO_` length.
    case wrongLength(expected: Int, actual: Int)
    /// The multiplexer holds a value no `m<k>` signal is defined for.
    case undefinedMultiplexor(Int64)

    public var description: String {
        switch self {
        case .notInDBC: return "not in DBC"
        case .remoteFrame: return "remote request"
        case .wrongFormat(let expectedFD): return expectedFD ? "classic frame, DBC says CAN FD" : "CAN FD frame, DBC says classic"
        case .wrongLength(let expected, let actual): return "length \(actual), DBC says \(expected)"
        case .undefinedMultiplexor(let value): return "multiplexer \(value) is not defined"
        }
    }
}

/// Decodes frames through one DBC file. A value: build once, decode many frames.
public struct DBCDecoder: Sendable {
    public let file: DBCFile
    /// Message index by identifier; extended identifiers carry bit 31, as in the DBC.
    let index: [UInt32: Int]

    public init(_ file: DBCFile) {
        self.file = file
        var index: [UInt32: Int] = [:]
        for (i, m) in file.messages.enumerated() { index[Self.key(m.id, extended: m.isExtended)] = i }
        self.index = index
    }

    static func key(_ id: UInt32, extended: Bool) -> UInt32 { extended ? id | 0x8000_0000 : id }

    /// The DBC's message for an identifier.
    public func message(id: UInt32, extended: Bool) -> DBCMessage? {
        index[Self.key(id, extended: extended)].map { file.messages[$0] }
    }

    /// Decodes one frame. `data` is the payload (`length` bytes); `previousCounter` is the E2E
    /// counter of this message's previous frame, when the caller tracks it, for `counterStep`.
    /// A CRC mismatch or a bad counter does not throw: the values are returned with the finding.
    public func decode(id: UInt32, extended: Bool, isFD: Bool, isRemote: Bool = false, data: [UInt8],
                       previousCounter: Int? = nil) throws(DBCDecodeError) -> DBCDecodedMessage {
        guard let m = message(id: id, extended: extended) else { throw .notInDBC }
        guard !isRemote else { throw .remoteFrame }
        guard isFD == m.isFD else { throw .wrongFormat(expectedFD: m.isFD) }
        guard data.count == m.length else { throw .wrongLength(expected: m.length, actual: data.count) }

        var group: Int64? = nil
        if let mux = m.multiplexor {
            let value = Self.raw(of: mux, in: data)
            let defined = m.signals.contains { if case .multiplexed(let k) = $0.multiplex { return Int64(k) == value } else { return false } }
            guard defined else { throw .undefinedMultiplexor(value) }
            group = value
        }
        var values: [DBCSignalValue] = []
        values.reserveCapacity(m.signals.count)
        for s in m.signals {
            if case .multiplexed(let k) = s.multiplex, Int64(k) != group { continue }
            values.append(Self.value(of: s, in: data))
        }
        return DBCDecodedMessage(name: m.name, multiplexGroup: group, signals: values,
                                 e2e: Self.e2eCheck(m, data: data, previousCounter: previousCounter))
    }

    // MARK: - signals

    /// The field's bits, zero-extended: Intel order, bit `start` the least significant, any length
    /// from 1 to 64. Read one bit at a time, so it shares nothing with CANPayload's byte chunks.
    public static func bits(_ data: [UInt8], start: Int, length: Int) -> UInt64 {
        precondition(length >= 1 && length <= 64 && start >= 0 && start + length <= data.count * 8,
                     "DBCDecoder.bits: the field must lie inside the payload")
        var value: UInt64 = 0
        for i in 0..<length {
            let bit = start + i
            if (data[bit >> 3] >> UInt8(bit & 7)) & 1 == 1 { value |= UInt64(1) << UInt64(i) }
        }
        return value
    }

    /// The raw value of `s` in `data`, sign-extended for a signed signal.
    public static func raw(of s: DBCSignal, in data: [UInt8]) -> Int64 {
        let field = bits(data, start: s.start, length: s.length)
        if s.isSigned && s.length < 64 && field >> UInt64(s.length - 1) & 1 == 1 {
            return Int64(bitPattern: field | ~((UInt64(1) << UInt64(s.length)) - 1))
        }
        return Int64(bitPattern: field)
    }

    static func value(of s: DBCSignal, in data: [UInt8]) -> DBCSignalValue {
        let raw = raw(of: s, in: data)
        let number = s.isSigned ? Double(raw) : Double(UInt64(bitPattern: raw))
        return DBCSignalValue(name: s.name, raw: raw, physical: number * s.factor + s.offset, unit: s.unit, label: s.label(raw: raw))
    }

    // MARK: - E2E (can-tooling.md §8.3)

    static func e2eCheck(_ m: DBCMessage, data: [UInt8], previousCounter: Int?) -> DBCE2ECheck? {
        let dataID = UInt16(truncatingIfNeeded: m.e2eDataID)
        var check: DBCE2ECheck
        let modulus: Int
        switch m.e2eProfile {
        case .none:
            return nil
        case .profile1:
            guard data.count >= 2 else { return nil }
            check = DBCE2ECheck(profile: .profile1, receivedCRC: UInt16(data[0]), computedCRC: UInt16(profile1CRC(data, dataID: dataID)),
                                counter: Int(data[1] & 0x0F), counterStep: nil)
            modulus = 15
        case .profile5:
            guard data.count >= 3 else { return nil }
            check = DBCE2ECheck(profile: .profile5, receivedCRC: UInt16(data[0]) | UInt16(data[1]) << 8,
                                computedCRC: profile5CRC(data, dataID: dataID), counter: Int(data[2]), counterStep: nil)
            modulus = 256
        }
        if let previousCounter, check.counterInRange, previousCounter >= 0, previousCounter < modulus {
            check.counterStep = (check.counter - previousCounter + modulus) % modulus
        }
        return check
    }

    /// CRC-8 SAE J1850 polynomial 0x1D, MSB first, one byte into `crc` (no init, no final XOR).
    public static func crc8(_ crc: UInt8, _ byte: UInt8) -> UInt8 {
        var c = crc ^ byte
        for _ in 0..<8 { c = c & 0x80 != 0 ? (c << 1) ^ 0x1D : c << 1 }
        return c
    }

    /// CRC-16/CCITT polynomial 0x1021, MSB first, one byte into `crc` (no init, no final XOR).
    public static func crc16(_ crc: UInt16, _ byte: UInt8) -> UInt16 {
        var c = crc ^ UInt16(byte) << 8
        for _ in 0..<8 { c = c & 0x8000 != 0 ? (c << 1) ^ 0x1021 : c << 1 }
        return c
    }

    /// Profile 1, Data ID mode both: CRC-8 0x1D over Data ID low, high, then payload bytes 1...;
    /// AUTOSAR's start 0xFF with IsFirstCall = FALSE and the final XOR cancel out to start 0, no XOR.
    public static func profile1CRC(_ data: [UInt8], dataID: UInt16) -> UInt8 {
        var crc = crc8(0, UInt8(dataID & 0xFF))
        crc = crc8(crc, UInt8(dataID >> 8))
        for byte in data.dropFirst() { crc = crc8(crc, byte) }
        return crc
    }

    /// Profile 5: CRC-16/CCITT-FALSE (start 0xFFFF) over payload bytes 2..., then Data ID low, high.
    public static func profile5CRC(_ data: [UInt8], dataID: UInt16) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        for byte in data.dropFirst(2) { crc = crc16(crc, byte) }
        crc = crc16(crc, UInt8(dataID & 0xFF))
        return crc16(crc, UInt8(dataID >> 8))
    }
}
