// Candump log write and parse throughput on a seeded synthetic log (the only wall-clock code here).
import Foundation
import HAL

/// Writes a deterministic synthetic log to a temporary file, reads it back, checks that the frames
/// read equal the frames written (count and checksum) and reports frames per second both ways.
public enum CandumpBenchmark {
    /// What one run measured.
    public struct Result: Sendable, Equatable {
        public let frames: Int
        public let fileBytes: Int
        /// Generating, formatting and writing the file, frames per wall-clock second.
        public let writeFramesPerSecond: Double
        /// Reading the file and parsing it (plus checksumming each frame), frames per wall-clock second.
        public let parseFramesPerSecond: Double
        /// FNV-1a over every frame's fields; equal for the frames written and read.
        public let checksum: UInt64
    }

    /// The two interfaces of the synthetic log.
    static let interfaces = ["can0", "can1"]

    public static func run(frames: Int, console: Console) throws -> Result {
        precondition(frames > 0, "CandumpBenchmark: needs at least one frame")
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("swiftbms-candump-benchmark-\(ProcessInfo.processInfo.processIdentifier).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let clock = ContinuousClock()

        let writeStart = clock.now
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frames * 56)
        var generator = SplitMix64(seed: 0xCA9_106)
        var written = FrameChecksum()
        let width = CandumpWriter.interfaceWidth(for: interfaces)
        for index in 0..<frames {
            let frame = syntheticFrame(index, generator: &generator)
            written.add(frame)
            CandumpWriter.append(frame, interfaceWidth: width, to: &bytes)
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw HarnessError("\(path): cannot write the benchmark log")
        }
        let writeSeconds = seconds(writeStart.duration(to: clock.now))

        let parseStart = clock.now
        let reader = try CandumpReader(contentsOf: path)
        var read = FrameChecksum()
        var readCount = 0
        try reader.forEach { frame in
            read.add(frame)
            readCount += 1
        }
        let parseSeconds = seconds(parseStart.duration(to: clock.now))

        guard readCount == frames, read.value == written.value else {
            throw HarnessError("candump benchmark: read back \(readCount) frames (checksum \(hex(read.value))), "
                               + "wrote \(frames) (checksum \(hex(written.value)))")
        }
        let result = Result(frames: frames, fileBytes: bytes.count,
                            writeFramesPerSecond: Double(frames) / writeSeconds,
                            parseFramesPerSecond: Double(frames) / parseSeconds, checksum: written.value)
        console.standardOutput("""
            candump log: \(frames) frames, \(Fixed.text(Double(bytes.count) / 1e6, decimals: 1)) MB
              write \(Fixed.text(writeSeconds, decimals: 3)) s  \(Int(result.writeFramesPerSecond.rounded())) frames/s  (generate, format, write file)
              parse \(Fixed.text(parseSeconds, decimals: 3)) s  \(Int(result.parseFramesPerSecond.rounded())) frames/s  (read file, parse, checksum)
              read back \(readCount) frames, checksum \(hex(read.value)) matches

            """)
        return result
    }

    /// Frame `index` of the synthetic log: timestamps 1 ms apart from 1_700_000_000 s; 80 % 11-bit
    /// classic (mostly 8 bytes), 12 % 29-bit classic 8-byte, 5 % CAN FD 64-byte with BRS, 3 % RTR;
    /// one frame in ten on can1.
    static func syntheticFrame(_ index: Int, generator: inout SplitMix64) -> LoggedFrame {
        let draw = generator.next()
        let kind = draw % 100
        let timestamp = LoggedFrame.Timestamp(seconds: 1_700_000_000 + UInt64(index / 1_000),
                                              microseconds: UInt32(index % 1_000) * 1_000)
        let interface = (draw >> 8) % 10 == 0 ? interfaces[1] : interfaces[0]
        var frame: CANFrame
        switch kind {
        case 0..<80:
            let length = (draw >> 16) % 8 == 0 ? Int((draw >> 20) % 9) : 8
            frame = CANFrame(id: CANIdentifier(standard: UInt32((draw >> 24) % 0x800))!, length: length)!
        case 80..<92:
            frame = CANFrame(id: CANIdentifier(extended: UInt32((draw >> 24) & 0x1FFF_FFFF))!, length: 8)!
        case 92..<97:
            frame = CANFrame(id: CANIdentifier(standard: UInt32((draw >> 24) % 0x800))!,
                             format: .fd(bitRateSwitch: true, errorStateIndicator: false), length: 64)!
        default:
            frame = CANFrame(id: CANIdentifier(standard: UInt32((draw >> 24) % 0x800))!,
                             format: .classicRemote, length: Int((draw >> 20) % 9))!
        }
        if frame.format != .classicRemote {
            var payload = generator.next()
            for byteIndex in 0..<frame.length {
                if byteIndex % 8 == 0 && byteIndex > 0 { payload = generator.next() }
                frame[byteIndex] = UInt8(truncatingIfNeeded: payload >> UInt64(8 * (byteIndex % 8)))
            }
        }
        return LoggedFrame(timestamp: timestamp, interface: interface, content: .frame(frame))
    }

    static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return max(Double(parts.seconds) + Double(parts.attoseconds) * 1e-18, 1e-9)
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16, uppercase: true) }
}

/// FNV-1a (64-bit) over every field of a sequence of logged frames.
struct FrameChecksum {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add(_ frame: LoggedFrame) {
        mix(frame.timestamp.seconds)
        mix(UInt64(frame.timestamp.nanoseconds) << 8 | UInt64(frame.timestamp.precision.rawValue))
        for byte in frame.interface.utf8 { mixByte(byte) }
        mixByte(frame.direction?.rawValue ?? 0)
        switch frame.content {
        case .frame(let can):
            let formatCode: UInt64
            switch can.format {
            case .classic: formatCode = 1
            case .classicRemote: formatCode = 2
            case .fd(let bitRateSwitch, let errorStateIndicator):
                formatCode = 4 | (bitRateSwitch ? 8 : 0) | (errorStateIndicator ? 16 : 0)
            }
            mix(UInt64(can.id.rawValue) << 32 | (can.id.isExtended ? 1 << 31 : 0) | formatCode << 8 | UInt64(can.length))
            if can.format != .classicRemote {
                for index in 0..<can.length { mixByte(can[index]) }
            }
        case .error(let classMask, let data):
            mix(UInt64(classMask) << 32 | 0xE)
            for index in 0..<LoggedFrame.ErrorData.length { mixByte(data[index]) }
        }
    }

    private mutating func mix(_ word: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { mixByte(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
    }

    private mutating func mixByte(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
}
