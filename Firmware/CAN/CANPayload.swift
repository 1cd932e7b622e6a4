// Bit fields in a CAN payload (Intel byte order, as every signal in Fixtures/bms.dbc), the E2E
// checksums of AUTOSAR profiles 1 and 5, and why a received frame was refused. The generated
// codecs in Generated/ are built on these.
import HAL

/// Why a received frame could not be decoded. Raw values are stable (counted, logged).
public enum CANDecodeError: UInt8, Error, Sendable {
    /// The frame's identifier is not the message's.
    case wrongIdentifier = 1
    /// Classic where FD is expected or the reverse, a remote frame, or an extended identifier.
    case wrongFormat = 2
    /// The payload length is not the message's (the DBC fixes every message's length).
    case wrongLength = 3
    /// The E2E checksum does not match.
    case checksum = 4
    /// The E2E counter holds a value the profile never sends (15 in profile 1).
    case counterOutOfRange = 5
    /// A multiplexed message's group is not defined in the DBC.
    case undefinedMultiplexor = 6
}

/// Reads and writes little-endian (Intel, `@1`) bit fields of up to 32 bits. Bit `start` is the
/// field's least significant bit, counted from bit 0 of byte 0, as in the DBC.
public enum CANPayload {
    /// Writes the low `length` bits of `raw` at `start`; other bits are kept.
    @inline(__always)
    public static func insert(_ raw: UInt32, start: Int, length: Int, into frame: inout CANFrame) {
        var value = raw
        var bit = start
        var remaining = length
        while remaining > 0 {
            let byte = bit &>> 3
            let offset = bit & 7
            let n = min(8 - offset, remaining)
            let mask = UInt8(truncatingIfNeeded: (1 &<< n) &- 1) &<< UInt8(truncatingIfNeeded: offset)
            let bits = UInt8(truncatingIfNeeded: value) &<< UInt8(truncatingIfNeeded: offset)
            frame[byte] = (frame[byte] & ~mask) | (bits & mask)
            value = value &>> UInt32(truncatingIfNeeded: n)
            bit &+= n
            remaining &-= n
        }
    }

    /// `insert` as a call, for messages sent every 100 ms or slower: their many fields inlined
    /// cost flash that a call saves (the generator chooses by cycle time).
    @inline(never)
    public static func insertOutOfLine(_ raw: UInt32, start: Int, length: Int, into frame: inout CANFrame) {
        insert(raw, start: start, length: length, into: &frame)
    }

    /// The `length`-bit unsigned field at `start`.
    @inline(__always)
    public static func extract(_ frame: CANFrame, start: Int, length: Int) -> UInt32 {
        var result: UInt32 = 0
        var bit = start
        var produced = 0
        while produced < length {
            let byte = bit &>> 3
            let offset = bit & 7
            let n = min(8 - offset, length - produced)
            let chunk = UInt32(truncatingIfNeeded: frame[byte] &>> UInt8(truncatingIfNeeded: offset)) & ((1 &<< UInt32(truncatingIfNeeded: n)) &- 1)
            result |= chunk &<< UInt32(truncatingIfNeeded: produced)
            bit &+= n
            produced &+= n
        }
        return result
    }

    /// The `length`-bit two's-complement field at `start`, sign-extended.
    @inline(__always)
    public static func extractSigned(_ frame: CANFrame, start: Int, length: Int) -> Int32 {
        let shift = UInt32(truncatingIfNeeded: 32 - length)
        return Int32(bitPattern: extract(frame, start: start, length: length) &<< shift) &>> shift
    }
}

/// End-to-end protection as in AUTOSAR E2E (Docs/can.md): profile 1 (CRC-8 SAE J1850 in byte 0,
/// a 4-bit counter 0...14 in the low nibble of byte 1) for classic frames, profile 5
/// (CRC-16/CCITT-FALSE in bytes 0–1 little-endian, an 8-bit counter in byte 2) for FD frames.
/// The Data ID is the message's identifier.
public enum E2E {
    /// Profile 1 (variant 1A, both Data ID bytes): CRC-8 with polynomial 0x1D over the Data ID's
    /// low and high byte, then payload bytes 1..<length. The AUTOSAR chaining (start 0xFF,
    /// `IsFirstCall = FALSE`, final XOR cancelled) makes the net start value 0 and no final XOR.
    public static func profile1CRC(_ frame: borrowing @_addressable CANFrame, dataID: UInt16) -> UInt8 {
        var crc: UInt8 = 0
        crc = crc8(crc, UInt8(truncatingIfNeeded: dataID))
        crc = crc8(crc, UInt8(truncatingIfNeeded: dataID &>> 8))
        var i = 1
        while i < frame.length {
            crc = crc8(crc, frame[i])
            i &+= 1
        }
        return crc
    }

    /// One byte through CRC-8 (polynomial 0x1D, MSB first): the eight shifts of `crc ^ byte`,
    /// looked up (`crc8Table`; a bit loop cost about 40 instructions a byte on the Cortex-M).
    @inline(__always)
    public static func crc8(_ crc: UInt8, _ byte: UInt8) -> UInt8 {
        crc8Table[Int(crc ^ byte)]
    }

    /// Entry n: n shifted through the CRC-8 polynomial 0x1D eight times, MSB first (a test
    /// recomputes every entry bit by bit).
    public static let crc8Table: InlineArray<256, UInt8> = [
        0x00, 0x1D, 0x3A, 0x27, 0x74, 0x69, 0x4E, 0x53, 0xE8, 0xF5, 0xD2, 0xCF, 0x9C, 0x81, 0xA6, 0xBB,
        0xCD, 0xD0, 0xF7, 0xEA, 0xB9, 0xA4, 0x83, 0x9E, 0x25, 0x38, 0x1F, 0x02, 0x51, 0x4C, 0x6B, 0x76,
        0x87, 0x9A, 0xBD, 0xA0, 0xF3, 0xEE, 0xC9, 0xD4, 0x6F, 0x72, 0x55, 0x48, 0x1B, 0x06, 0x21, 0x3C,
        0x4A, 0x57, 0x70, 0x6D, 0x3E, 0x23, 0x04, 0x19, 0xA2, 0xBF, 0x98, 0x85, 0xD6, 0xCB, 0xEC, 0xF1,
        0x13, 0x0E, 0x29, 0x34, 0x67, 0x7A, 0x5D, 0x40, 0xFB, 0xE6, 0xC1, 0xDC, 0x8F, 0x92, 0xB5, 0xA8,
        0xDE, 0xC3, 0xE4, 0xF9, 0xAA, 0xB7, 0x90, 0x8D, 0x36, 0x2B, 0x0C, 0x11, 0x42, 0x5F, 0x78, 0x65,
        0x94, 0x89, 0xAE, 0xB3, 0xE0, 0xFD, 0xDA, 0xC7, 0x7C, 0x61, 0x46, 0x5B, 0x08, 0x15, 0x32, 0x2F,
        0x59, 0x44, 0x63, 0x7E, 0x2D, 0x30, 0x17, 0x0A, 0xB1, 0xAC, 0x8B, 0x96, 0xC5, 0xD8, 0xFF, 0xE2,
        0x26, 0x3B, 0x1C, 0x01, 0x52, 0x4F, 0x68, 0x75, 0xCE, 0xD3, 0xF4, 0xE9, 0xBA, 0xA7, 0x80, 0x9D,
        0xEB, 0xF6, 0xD1, 0xCC, 0x9F, 0x82, 0xA5, 0xB8, 0x03, 0x1E, 0x39, 0x24, 0x77, 0x6A, 0x4D, 0x50,
        0xA1, 0xBC, 0x9B, 0x86, 0xD5, 0xC8, 0xEF, 0xF2, 0x49, 0x54, 0x73, 0x6E, 0x3D, 0x20, 0x07, 0x1A,
        0x6C, 0x71, 0x56, 0x4B, 0x18, 0x05, 0x22, 0x3F, 0x84, 0x99, 0xBE, 0xA3, 0xF0, 0xED, 0xCA, 0xD7,
        0x35, 0x28, 0x0F, 0x12, 0x41, 0x5C, 0x7B, 0x66, 0xDD, 0xC0, 0xE7, 0xFA, 0xA9, 0xB4, 0x93, 0x8E,
        0xF8, 0xE5, 0xC2, 0xDF, 0x8C, 0x91, 0xB6, 0xAB, 0x10, 0x0D, 0x2A, 0x37, 0x64, 0x79, 0x5E, 0x43,
        0xB2, 0xAF, 0x88, 0x95, 0xC6, 0xDB, 0xFC, 0xE1, 0x5A, 0x47, 0x60, 0x7D, 0x2E, 0x33, 0x14, 0x09,
        0x7F, 0x62, 0x45, 0x58, 0x0B, 0x16, 0x31, 0x2C, 0x97, 0x8A, 0xAD, 0xB0, 0xE3, 0xFE, 0xD9, 0xC4,
    ]

    /// Profile 5: CRC-16/CCITT-FALSE (polynomial 0x1021, start 0xFFFF) over payload bytes
    /// 2..<length, then the Data ID's low and high byte.
    public static func profile5CRC(_ frame: borrowing @_addressable CANFrame, dataID: UInt16) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        var i = 2
        while i < frame.length {
            crc = crc16(crc, frame[i])
            i &+= 1
        }
        crc = crc16(crc, UInt8(truncatingIfNeeded: dataID))
        return crc16(crc, UInt8(truncatingIfNeeded: dataID &>> 8))
    }

    /// One byte through CRC-16/CCITT (polynomial 0x1021, MSB first).
    @inline(__always)
    public static func crc16(_ crc: UInt16, _ byte: UInt8) -> UInt16 {
        var c = crc ^ (UInt16(truncatingIfNeeded: byte) &<< 8)
        for _ in 0..<8 { c = c & 0x8000 != 0 ? (c &<< 1) ^ 0x1021 : c &<< 1 }
        return c
    }
}
