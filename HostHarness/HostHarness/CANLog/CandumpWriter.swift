// Writes log lines exactly as `candump -L`/`candump -l` do (can-utils `snprintf_canframe`, §1.1).
import HAL

/// The candump log writer. Output, byte for byte as current can-utils writes it:
/// `(SSSSSSSSSS.ffffff) iface ID#DATA[ R|T]` and LF. Seconds are `%010llu` (also for relative
/// times, which `candump -t z` would print as `%03llu`; readers take either), 6 fraction digits or
/// 9 for a nanosecond timestamp, upper-case hex, 3 id digits for standard and 8 for extended ids,
/// remote frames as `ID#R` plus the length digit when it is not 0 (`323#R8`), CAN FD as
/// `ID##<flags>DATA`, error frames as `2000XXXX#` with 8 data bytes.
///
/// FD flags nibble: BRS 0x1 | ESI 0x2 | FDF 0x4. We always set FDF, as can-utils does since
/// commit 2522ec1 (2024-02), so an FD frame with BRS is written `##5`; older readers that only
/// know `##0`..`##3` would reject these lines, but every current reader takes 0..7.
public enum CandumpWriter {
    /// The width candump pads interface names to (`%*s`): the longest name, in bytes.
    public static func interfaceWidth(for names: some Sequence<String>) -> Int {
        var width = 0
        for name in names { width = max(width, name.utf8.count) }
        return width
    }

    /// The line for `frame`, without its LF. Names shorter than `interfaceWidth` get leading spaces.
    public static func line(for frame: LoggedFrame, interfaceWidth: Int = 0) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        append(frame, interfaceWidth: interfaceWidth, to: &bytes)
        bytes.removeLast()  // the LF
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the line for `frame` and its LF to `output`.
    public static func append(_ frame: LoggedFrame, interfaceWidth: Int = 0, to output: inout [UInt8]) {
        output.append(0x28)  // "("
        appendDecimal(frame.timestamp.seconds, minimumDigits: 10, to: &output)
        output.append(0x2E)  // "."
        switch frame.timestamp.precision {
        case .microseconds: appendDecimal(UInt64(frame.timestamp.nanoseconds / 1_000), minimumDigits: 6, to: &output)
        case .nanoseconds: appendDecimal(UInt64(frame.timestamp.nanoseconds), minimumDigits: 9, to: &output)
        }
        output.append(0x29)  // ")"
        output.append(0x20)
        let nameLength = frame.interface.utf8.count
        if nameLength < interfaceWidth {
            for _ in nameLength..<interfaceWidth { output.append(0x20) }
        }
        output.append(contentsOf: frame.interface.utf8)
        output.append(0x20)
        switch frame.content {
        case .frame(let can):
            appendFrame(can, to: &output)
        case .error(let classMask, let data):
            appendHex(0x2000_0000 | (classMask & 0x1FFF_FFFF), digits: 8, to: &output)
            output.append(0x23)  // "#"
            for index in 0..<LoggedFrame.ErrorData.length { appendHexByte(data[index], to: &output) }
        }
        if let direction = frame.direction {
            output.append(0x20)
            output.append(direction.rawValue)
        }
        output.append(0x0A)
    }

    /// `ID#DATA`, `ID#R[len]` or `ID##<flags>DATA`.
    static func appendFrame(_ frame: CANFrame, to output: inout [UInt8]) {
        appendHex(frame.id.rawValue, digits: frame.id.isExtended ? 8 : 3, to: &output)
        output.append(0x23)  // "#"
        switch frame.format {
        case .classic:
            for index in 0..<frame.length { appendHexByte(frame[index], to: &output) }
        case .classicRemote:
            output.append(0x52)  // "R"
            if frame.length != 0 { output.append(hexDigit(UInt8(frame.length))) }
        case .fd(let bitRateSwitch, let errorStateIndicator):
            output.append(0x23)  // second "#"
            let flags: UInt8 = 0x4 | (bitRateSwitch ? 0x1 : 0) | (errorStateIndicator ? 0x2 : 0)
            output.append(hexDigit(flags))
            for index in 0..<frame.length { appendHexByte(frame[index], to: &output) }
        }
    }

    /// Upper-case ASCII hex digit for 0...15.
    @inline(__always) static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? 0x30 + value : 0x37 + value
    }

    @inline(__always) static func appendHexByte(_ value: UInt8, to output: inout [UInt8]) {
        output.append(hexDigit(value >> 4))
        output.append(hexDigit(value & 0xF))
    }

    static func appendHex(_ value: UInt32, digits: Int, to output: inout [UInt8]) {
        var shift = (digits - 1) * 4
        while shift >= 0 {
            output.append(hexDigit(UInt8(truncatingIfNeeded: value >> UInt32(shift)) & 0xF))
            shift -= 4
        }
    }

    /// `value` in decimal, zero-padded to at least `minimumDigits` (`%0*llu`).
    static func appendDecimal(_ value: UInt64, minimumDigits: Int, to output: inout [UInt8]) {
        var digitCount = 1
        var rest = value / 10
        while rest > 0 { digitCount += 1; rest /= 10 }
        digitCount = max(digitCount, minimumDigits)
        let first = output.count
        for _ in 0..<digitCount { output.append(0x30) }
        var remaining = value
        var index = first + digitCount - 1
        while remaining > 0 {
            output[index] = 0x30 + UInt8(truncatingIfNeeded: remaining % 10)
            remaining /= 10
            index -= 1
        }
    }
}
