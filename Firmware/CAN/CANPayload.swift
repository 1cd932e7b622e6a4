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

    /// One byte through CRC-8 (polynomial 0x1D, MSB first).
    @inline(__always)
    public static func crc8(_ crc: UInt8, _ byte: UInt8) -> UInt8 {
        var c = crc ^ byte
        for _ in 0..<8 { c = c & 0x80 != 0 ? (c &<< 1) ^ 0x1D : c &<< 1 }
        return c
    }

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
