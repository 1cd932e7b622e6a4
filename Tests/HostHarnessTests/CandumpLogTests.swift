// The candump log writer and reader: accepted spellings, rejected lines, byte-exact output, round trip.
import Foundation
import HAL
import HostHarness
import Testing

/// Frame and line builders shared by the candump tables.
enum CandumpFixture {
    static func classic(_ id: UInt32, extended: Bool = false, _ bytes: [UInt8]) -> CANFrame {
        let identifier = extended ? CANIdentifier(extended: id)! : CANIdentifier(standard: id)!
        var frame = CANFrame(id: identifier, length: bytes.count)!
        for (index, byte) in bytes.enumerated() { frame[index] = byte }
        return frame
    }

    static func remote(_ id: UInt32, length: Int) -> CANFrame {
        CANFrame(id: CANIdentifier(standard: id)!, format: .classicRemote, length: length)!
    }

    static func fd(_ id: UInt32, extended: Bool = false, bitRateSwitch: Bool = false, errorStateIndicator: Bool = false,
                   _ bytes: [UInt8]) -> CANFrame {
        let identifier = extended ? CANIdentifier(extended: id)! : CANIdentifier(standard: id)!
        var frame = CANFrame(id: identifier, format: .fd(bitRateSwitch: bitRateSwitch, errorStateIndicator: errorStateIndicator),
                             length: bytes.count)!
        for (index, byte) in bytes.enumerated() { frame[index] = byte }
        return frame
    }

    /// A logged frame at `seconds`.`microseconds` on `interface`.
    static func logged(_ frame: CANFrame, _ seconds: UInt64 = 1_700_000_000, microseconds: UInt32 = 0,
                       interface: String = "can0", direction: LoggedFrame.Direction? = nil) -> LoggedFrame {
        LoggedFrame(timestamp: .init(seconds: seconds, microseconds: microseconds), interface: interface,
                    content: .frame(frame), direction: direction)
    }

    static func loggedError(classMask: UInt32, _ data: [UInt8], microseconds: UInt32 = 0) -> LoggedFrame {
        LoggedFrame(timestamp: .init(seconds: 1_700_000_000, microseconds: microseconds), interface: "can0",
                    content: .error(classMask: classMask, data: LoggedFrame.ErrorData(data)))
    }

    /// Upper-case hex of `bytes`, no separators.
    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 0x10 ? "0" : "") + String($0, radix: 16, uppercase: true) }.joined()
    }

    /// `count` bytes 0x00, 0x01, ... (wrapping).
    static func counting(_ count: Int, from first: UInt8 = 0) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: Int(first) + $0) }
    }

    static func parse(_ text: String, fileName: String = "test.log",
                      options: CandumpReader.Options = .init()) throws -> [LoggedFrame] {
        try CandumpReader.parse(bytes: Array(text.utf8), fileName: fileName, options: options)
    }

    /// The reader's error for `text`, nil when it parses.
    static func failure(_ text: String, fileName: String = "bad.log", options: CandumpReader.Options = .init()) -> CANLogError? {
        do {
            _ = try parse(text, fileName: fileName, options: options)
            return nil
        } catch let error as CANLogError {
            return error
        } catch {
            return nil
        }
    }
}

/// The reader takes every spelling §1.1, §5 and §6 list as valid, and reads files.
@Suite struct CandumpReaderAcceptsTests {
    typealias F = CandumpFixture

    static let fdBytes: [UInt8] = [0xDA, 0xEB] + F.counting(62, from: 0x40)

    /// Every example spelling of can-tooling.md §1.1, with the frame it means.
    static let referenceExamples: [(String, LoggedFrame)] = [
        ("(1700000000.000007) can0 100#1800A0140000A0C1",
         F.logged(F.classic(0x100, [0x18, 0x00, 0xA0, 0x14, 0x00, 0x00, 0xA0, 0xC1]), microseconds: 7)),
        ("(1700000000.022010) can0 18FF50E5#9A012003C5037B00",
         F.logged(F.classic(0x18FF_50E5, extended: true, [0x9A, 0x01, 0x20, 0x03, 0xC5, 0x03, 0x7B, 0x00]), microseconds: 22_010)),
        ("(1700000000.012000) can0 00000123#0102", F.logged(F.classic(0x123, extended: true, [0x01, 0x02]), microseconds: 12_000)),
        ("(1700000000.001000) can0 120#", F.logged(F.classic(0x120, []), microseconds: 1_000)),
        ("(1700000000.015000) can0 321#R", F.logged(F.remote(0x321, length: 0), microseconds: 15_000)),
        ("(1700000000.017000) can0 323#R8", F.logged(F.remote(0x323, length: 8), microseconds: 17_000)),
        ("(1700000000.009964) can0 300##1" + F.hex(fdBytes), F.logged(F.fd(0x300, bitRateSwitch: true, fdBytes), microseconds: 9_964)),
        ("(1700000000.047000) can0 3A5##41111111111111111", F.logged(F.fd(0x3A5, [UInt8](repeating: 0x11, count: 8)), microseconds: 47_000)),
        ("(1700000000.039000) can0 20000080#0000000000000000", F.loggedError(classMask: 0x80, [], microseconds: 39_000)),
        ("(1700000000.000000)   can0 200# T", F.logged(F.classic(0x200, []), direction: .transmitted)),
        ("(1700000000.000000001) can0 100#00",
         LoggedFrame(timestamp: .init(seconds: 1_700_000_000, nanoseconds: 1, precision: .nanoseconds), interface: "can0",
                     content: .frame(F.classic(0x100, [0x00])))),
        ("(000.250017) can0 101#01", F.logged(F.classic(0x101, [0x01]), 0, microseconds: 250_017)),
    ]

    /// The Accept list of §6 and the lenient spellings of §5 (canplayer-compatible).
    static let acceptList: [(String, LoggedFrame)] = [
        ("(1700000000.000000) can0 000#", F.logged(F.classic(0x000, []))),
        ("(1700000000.000000) can0 7FF#01", F.logged(F.classic(0x7FF, [0x01]))),
        ("(1700000000.000000) can0 00000000#", F.logged(F.classic(0, extended: true, []))),
        ("(1700000000.000000) can0 1FFFFFFF#FF", F.logged(F.classic(0x1FFF_FFFF, extended: true, [0xFF]))),
        ("(1700000000.000000) can0 123#11", F.logged(F.classic(0x123, [0x11]))),
        ("(1700000000.000000) can0 123#112233", F.logged(F.classic(0x123, [0x11, 0x22, 0x33]))),
        ("(1700000000.000000) can0 123#11223344556677", F.logged(F.classic(0x123, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]))),
        ("(1700000000.000000) can0 123#r", F.logged(F.remote(0x123, length: 0))),
        ("(1700000000.000000) can0 123#R0", F.logged(F.remote(0x123, length: 0))),
        ("(1700000000.000000) can0 123#R1", F.logged(F.remote(0x123, length: 1))),
        ("(1700000000.000000) can0 123#r5", F.logged(F.remote(0x123, length: 5))),
        ("(1700000000.000000) can0 123##0", F.logged(F.fd(0x123, []))),
        ("(1700000000.000000) can0 123##2AA", F.logged(F.fd(0x123, errorStateIndicator: true, [0xAA]))),
        ("(1700000000.000000) can0 123##3AA", F.logged(F.fd(0x123, bitRateSwitch: true, errorStateIndicator: true, [0xAA]))),
        ("(1700000000.000000) can0 123##5AA", F.logged(F.fd(0x123, bitRateSwitch: true, [0xAA]))),
        ("(1700000000.000000) can0 123##6AA", F.logged(F.fd(0x123, errorStateIndicator: true, [0xAA]))),
        ("(1700000000.000000) can0 123##7AA", F.logged(F.fd(0x123, bitRateSwitch: true, errorStateIndicator: true, [0xAA]))),
        ("(1700000000.000000) can0 18FF50E5##5" + F.hex(F.counting(12)), F.logged(F.fd(0x18FF_50E5, extended: true, bitRateSwitch: true, F.counting(12)))),
        ("(1700000000.000000) can0 20000001#0000000000000000", F.loggedError(classMask: 0x1, [])),
        ("(1700000000.000000) can0 20000004#0004000000000000", F.loggedError(classMask: 0x4, [0x00, 0x04])),
        ("(1700000000.000000) can0 20000040#0000000000000000", F.loggedError(classMask: 0x40, [])),
        ("(1700000000.000000) can0 20000200#00000000000080A0", F.loggedError(classMask: 0x200, [0, 0, 0, 0, 0, 0, 0x80, 0xA0])),
        ("(1700000000.000000) can0 200003FF#0102030405060708", F.loggedError(classMask: 0x3FF, F.counting(8, from: 1))),
        ("(1700000000.000000) can0 20000080#", F.loggedError(classMask: 0x80, [])),
        ("(1700000000.000000) can0 1ab#deadbeef", F.logged(F.classic(0x1AB, [0xDE, 0xAD, 0xBE, 0xEF]))),
        ("(1700000000.000000) can0 18ff50e5#c5", F.logged(F.classic(0x18FF_50E5, extended: true, [0xC5]))),
        ("(1700000000.000000) can0 123#01 R", F.logged(F.classic(0x123, [0x01]), direction: .received)),
        ("(1700000000.000000) vcan10 123#01 T", F.logged(F.classic(0x123, [0x01]), interface: "vcan10", direction: .transmitted)),
        ("(1700000000.000000)  can0 123#01", F.logged(F.classic(0x123, [0x01]))),
        ("(1700000000.000000)\tcan0\t123#01", F.logged(F.classic(0x123, [0x01]))),
        ("(1700000000.000000) can0 123#01   ", F.logged(F.classic(0x123, [0x01]))),
        ("(1700000000.123456789) can0 123#", LoggedFrame(timestamp: .init(seconds: 1_700_000_000, nanoseconds: 123_456_789, precision: .nanoseconds),
                                                         interface: "can0", content: .frame(F.classic(0x123, [])))),
        ("(000.000000) can0 123#", F.logged(F.classic(0x123, []), 0)),
        ("(0.000001) can0 123#", F.logged(F.classic(0x123, []), 0, microseconds: 1)),
        ("(1700000000.000000) can0 123#11.2233.44556677.88", F.logged(F.classic(0x123, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]))),
        ("(1700000000.000000) can0 123#1122334455667788_9", F.logged(F.classic(0x123, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]))),
        ("(1700000000.000000) can0 123#1122334455667788_f", F.logged(F.classic(0x123, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]))),
        ("(1700000000.000000) can0 123#R8_9", F.logged(F.remote(0x123, length: 8))),
    ]

    @Test(arguments: referenceExamples)
    func readsTheReferenceExamples(line: String, expected: LoggedFrame) throws {
        #expect(try F.parse(line + "\n") == [expected])
    }

    @Test(arguments: acceptList)
    func readsEveryAcceptedSpelling(line: String, expected: LoggedFrame) throws {
        #expect(try F.parse(line + "\n") == [expected])
    }

    @Test(arguments: 0...8)
    func readsEveryClassicLengthAndRemoteLength(length: Int) throws {
        let data = F.counting(length, from: 0xA0)
        #expect(try F.parse("(1700000000.000000) can0 123#\(F.hex(data))\n") == [F.logged(F.classic(0x123, data))])
        #expect(try F.parse("(1700000000.000000) can0 123#R\(length)\n") == [F.logged(F.remote(0x123, length: length))])
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64])
    func readsEveryCANFDLength(length: Int) throws {
        let data = F.counting(length, from: 0x80)
        #expect(try F.parse("(1700000000.000000) can0 123##5\(F.hex(data))\n") == [F.logged(F.fd(0x123, bitRateSwitch: true, data))])
    }

    @Test(arguments: 0...7)
    func readsEveryCANFDFlagValueKeepingBRSAndESI(flags: Int) throws {
        let expected = F.fd(0x123, bitRateSwitch: flags & 1 != 0, errorStateIndicator: flags & 2 != 0, [0x01])
        #expect(try F.parse("(1700000000.000000) can0 123##\(flags)01\n") == [F.logged(expected)])
    }

    @Test func eightDigitSmallIdIsExtendedAndDiffersFromThreeDigit() throws {
        let frames = try F.parse("(1700000000.000000) can0 00000123#\n(1700000000.000000) can0 123#\n")
        guard case .frame(let extended) = frames[0].content, case .frame(let standard) = frames[1].content else {
            Issue.record("expected two data frames"); return
        }
        #expect(extended.id.isExtended && extended.id.rawValue == 0x123)
        #expect(!standard.id.isExtended && standard.id.rawValue == 0x123)
        #expect(extended != standard)
    }

    @Test func acceptsCRLFAndIgnoresCommentDropcountAndBlankLines() throws {
        let text = "# recorded on the bench\r\n"
            + "; another comment\r\n"
            + "\r\n"
            + "(1700000000.000100) can0 100#01\r\n"
            + "DROPCOUNT: dropped 3 CAN frames on 'can0' socket (total drops 3)\r\n"
            + "   \r\n"
            + "(1700000000.000200) can1 101#0203\r\n"
            + "(1700000000.000300) can0 102# R\r\n"
        #expect(try F.parse(text) == [
            F.logged(F.classic(0x100, [0x01]), microseconds: 100),
            F.logged(F.classic(0x101, [0x02, 0x03]), microseconds: 200, interface: "can1"),
            F.logged(F.classic(0x102, []), microseconds: 300, direction: .received),
        ])
    }

    @Test func lastLineWithoutNewlineIsRead() throws {
        #expect(try F.parse("(1700000000.000000) can0 100#01\n(1700000000.000001) can0 100#02").count == 2)
    }

    @Test func severalInterfacesInOneFileKeepTheirNames() throws {
        let frames = try F.parse("(1700000000.000000) can0 100#\n(1700000000.000000) vcan10 100#\n(1700000000.000000)   can0 100#\n")
        #expect(frames.map(\.interface) == ["can0", "vcan10", "can0"])
    }

    @Test func equalConsecutiveTimestampsAreAllowed() throws {
        let text = "(1700000000.000500) can0 100#01\n(1700000000.000500) can0 100#02\n(1700000000.000500000) can0 100#03\n"
        #expect(try F.parse(text).count == 3)
    }

    @Test func backwardsTimestampsAreRejectedByDefaultAndAllowedOnRequest() throws {
        let text = "(1700000000.000500) can0 100#01\n(1700000000.000499) can0 100#02\n"
        let error = F.failure(text)
        #expect(error?.message.hasPrefix("bad.log:2: timestamp goes backwards") == true)
        #expect(error?.message == "bad.log:2: timestamp goes backwards (1700000000.000499 after 1700000000.000500)")
        #expect(try F.parse(text, options: .init(allowsBackwardsTimestamps: true)).count == 2)
    }

    @Test func readsAFileAndNamesItsPathInErrors() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("candump-reader-test-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data("(1700000000.000000) can0 100#01\n(1700000000.000001) can0 1000#\n".utf8)))
        let reader = try CandumpReader(contentsOf: path)
        var seen: [LoggedFrame] = []
        do {
            try reader.forEach { seen.append($0) }
            Issue.record("the 4-digit id should have been rejected")
        } catch let error as CANLogError {
            #expect(error.message == "\(path):2: id must have 3 or 8 hex digits, not 4")
        }
        #expect(seen == [F.logged(F.classic(0x100, [0x01]))])
        #expect(throws: HarnessError.self) { try CandumpReader(contentsOf: path + ".missing") }
    }
}

/// The reader refuses §6's Reject list with one line naming file and line.
@Suite struct CandumpReaderRejectsTests {
    typealias F = CandumpFixture

    /// Good lines (and a comment) before the bad one, so the bad line is line 5.
    static let preamble = "# bench log\n(1700000000.000000) can0 100#01\n(1700000000.000001) can0 18FF50E5#02\n(1700000000.000002) can0 123##5AA\n"

    /// §6's Reject list (and the stricter checks this reader adds): the bad line and the start of the reason.
    static let rejectList: [(String, String)] = [
        ("(1700000000.00001) can0 123#00", "fraction must have 6 or 9 digits, not 5"),
        ("(1700000000.0000001) can0 123#00", "fraction must have 6 or 9 digits, not 7"),
        ("(1700000000.000) can0 123#00", "fraction must have 6 or 9 digits, not 3"),
        ("(1700000000.0000000001) can0 123#00", "fraction must have 6 or 9 digits, not 10"),
        ("(1700000000) can0 123#00", "timestamp needs '.'"),
        ("() can0 123#00", "timestamp must start with the seconds"),
        ("(17000000000000000000.000000) can0 123#00", "seconds have more than 19 digits"),
        ("1700000000.000010) can0 123#00", "missing '(' before the timestamp"),
        (" (1700000000.000010) can0 123#00", "'(' must be the first character"),
        ("(1700000000.000010 can0 123#00", "missing ')' after the timestamp"),
        ("(1700000000.000010)can0 123#00", "missing space after the timestamp"),
        ("(1700000000.000010) can0 1234#00", "id must have 3 or 8 hex digits, not 4"),
        ("(1700000000.000010) can0 1234567#00", "id must have 3 or 8 hex digits, not 7"),
        ("(1700000000.000010) can0 123456789#00", "id must have 3 or 8 hex digits, not 9"),
        ("(1700000000.000010) can0 12#00", "id must have 3 or 8 hex digits, not 2"),
        ("(1700000000.000010) can0 #00", "missing id before '#'"),
        ("(1700000000.000010) can0 800#00", "3-digit id 800 is above 7FF"),
        ("(1700000000.000010) can0 FFF#00", "3-digit id FFF is above 7FF"),
        ("(1700000000.000010) can0 40000123#00", "8-digit id has bit 30 or 31 set"),
        ("(1700000000.000010) can0 80000123#00", "8-digit id has bit 30 or 31 set"),
        ("(1700000000.000010) can0 E0000080#0000000000000000", "8-digit id has bit 30 or 31 set"),
        ("(1700000000.000010) can0 123#123", "odd number of hex digits (3)"),
        ("(1700000000.000010) can0 123##5ABC", "odd number of hex digits (3)"),
        ("(1700000000.000010) can0 123#0G", "data must be hex digits, found 'G'"),
        ("(1700000000.000010) can0 12G#00", "id must be hex digits"),
        ("(1700000000.000010) can0 123#1.1", "'.' may only separate whole bytes"),
        ("(1700000000.000010) can0 123#112233445566778899", "classic frame has 9 data bytes, more than 8"),
        ("(1700000000.000010) can0 20000080#000000000000000000", "classic frame has 9 data bytes, more than 8"),
        ("(1700000000.000010) can0 123##5" + String(repeating: "00", count: 9), "CAN FD length 9 is not one of"),
        ("(1700000000.000010) can0 123##5" + String(repeating: "00", count: 63), "CAN FD length 63 is not one of"),
        ("(1700000000.000010) can0 123##5" + String(repeating: "00", count: 65), "CAN FD frame has 65 data bytes, more than 64"),
        ("(1700000000.000010) can0 123##8AA", "CAN FD flags must be 0..7"),
        ("(1700000000.000010) can0 123##FAA", "CAN FD flags must be 0..7"),
        ("(1700000000.000010) can0 123##", "CAN FD frame needs a flags digit"),
        ("(1700000000.000010) can0 123##5AA_9", "'_' raw DLC is only for classic frames"),
        ("(1700000000.000010) can0 123#R9", "remote frame length must be 0..8, not 9"),
        ("(1700000000.000010) can0 123#RF", "remote frame length must be 0..8, not 15"),
        ("(1700000000.000010) can0 123#R8X", "unexpected characters after the remote frame length"),
        ("(1700000000.000010) can0 123#R8_5", "raw DLC '_X' needs 8 data bytes"),
        ("(1700000000.000010) can0 123#1122_9", "raw DLC '_X' needs 8 data bytes"),
        ("(1700000000.000010) can0 20000080##00000000000000000", "error frames cannot be CAN FD"),
        ("(1700000000.000010) can0 20000080#R", "error frames cannot be remote frames"),
        ("(1700000000.000010) ", "missing interface name"),
        ("(1700000000.000010) can0", "missing frame after the interface name"),
        ("(1700000000.000010) can0 ", "missing frame after the interface name"),
        ("(1700000000.000010) 123#00", "missing frame after the interface name"),
        ("(1700000000.000010) can0 12300", "missing '#' in the frame"),
        ("(1700000000.000010) can0 123#00 X", "unexpected text after the frame"),
        ("(1700000000.000010) can0 123#00 R extra", "unexpected text after the frame"),
        ("(1699999999.999999) can0 123#00", "timestamp goes backwards"),
    ]

    @Test(arguments: rejectList)
    func rejectsWithFileAndLine(line: String, reason: String) {
        let error = CandumpFixture.failure(CandumpReaderRejectsTests.preamble + line + "\n(1700000000.000020) can0 100#\n")
        #expect(error?.line == 5)
        #expect(error?.message.hasPrefix("bad.log:5: " + reason) == true, "\(error?.message ?? "no error")")
        #expect(error?.message.contains("\n") == false)
    }

    @Test func lineNumbersCountCRLFCommentAndBlankLines() {
        let error = CandumpFixture.failure("# c\r\n\r\n(1700000000.000000) can0 100#01\r\nDROPCOUNT: dropped 1\r\n(1700000000.000001) can0 100#1\r\n")
        #expect(error?.message == "bad.log:5: odd number of hex digits (1) in the data")
    }
}

/// The writer produces candump -L lines byte for byte.
@Suite struct CandumpWriterTests {
    typealias F = CandumpFixture

    static let fdBytes: [UInt8] = F.counting(64, from: 0xC0)

    /// Frames and the exact line candump -L writes for them.
    static let lines: [(LoggedFrame, Int, String)] = [
        (F.logged(F.classic(0x100, [0x18, 0x00, 0xA0, 0x14, 0x00, 0x00, 0xA0, 0xC1]), microseconds: 7), 0,
         "(1700000000.000007) can0 100#1800A0140000A0C1"),
        (F.logged(F.classic(0x00A, [0xAB]), microseconds: 999_999), 0, "(1700000000.999999) can0 00A#AB"),
        (F.logged(F.classic(0x18FF_50E5, extended: true, [0x9A, 0x01, 0x20, 0x03, 0xC5, 0x03, 0x7B, 0x00]), microseconds: 22_010), 0,
         "(1700000000.022010) can0 18FF50E5#9A012003C5037B00"),
        (F.logged(F.classic(0x123, extended: true, [0x01, 0x02])), 0, "(1700000000.000000) can0 00000123#0102"),
        (F.logged(F.classic(0x120, []), microseconds: 1_000), 0, "(1700000000.001000) can0 120#"),
        (F.logged(F.remote(0x321, length: 0)), 0, "(1700000000.000000) can0 321#R"),
        (F.logged(F.remote(0x323, length: 8)), 0, "(1700000000.000000) can0 323#R8"),
        (F.logged(F.fd(0x300, bitRateSwitch: true, fdBytes)), 0, "(1700000000.000000) can0 300##5" + F.hex(fdBytes)),
        (F.logged(F.fd(0x123, [])), 0, "(1700000000.000000) can0 123##4"),
        (F.logged(F.fd(0x1FFF_FFFF, extended: true, errorStateIndicator: true, [0x01])), 0, "(1700000000.000000) can0 1FFFFFFF##601"),
        (F.logged(F.fd(0x7FF, bitRateSwitch: true, errorStateIndicator: true, [0xFF])), 0, "(1700000000.000000) can0 7FF##7FF"),
        (F.loggedError(classMask: 0x80, []), 0, "(1700000000.000000) can0 20000080#0000000000000000"),
        (F.loggedError(classMask: 0x204, [0x00, 0x08, 0, 0, 0, 0, 0x80, 0x7F]), 0, "(1700000000.000000) can0 20000204#000800000000807F"),
        (LoggedFrame(timestamp: .init(seconds: 1_700_000_000, nanoseconds: 1, precision: .nanoseconds), interface: "can0",
                     content: .frame(F.classic(0x100, [0x00]))), 0, "(1700000000.000000001) can0 100#00"),
        (F.logged(F.classic(0x200, []), direction: .transmitted), 6, "(1700000000.000000)   can0 200# T"),
        (F.logged(F.classic(0x200, []), interface: "vcan10", direction: .received), 6, "(1700000000.000000) vcan10 200# R"),
        (F.logged(F.classic(0x101, [0x01]), 0, microseconds: 250_017), 0, "(0000000000.250017) can0 101#01"),
        (F.logged(F.classic(0x101, [0x01]), 12_345_678_901), 0, "(12345678901.000000) can0 101#01"),
    ]

    @Test(arguments: lines)
    func writesTheLineCandumpWrites(frame: LoggedFrame, interfaceWidth: Int, expected: String) {
        #expect(CandumpWriter.line(for: frame, interfaceWidth: interfaceWidth) == expected)
        var bytes: [UInt8] = [0x41]
        CandumpWriter.append(frame, interfaceWidth: interfaceWidth, to: &bytes)
        #expect(bytes == [0x41] + Array((expected + "\n").utf8))
    }

    @Test func interfaceWidthIsTheLongestName() {
        #expect(CandumpWriter.interfaceWidth(for: ["can0", "vcan10", "can1"]) == 6)
        #expect(CandumpWriter.interfaceWidth(for: [String]()) == 0)
    }

    @Test func writtenLinesReadBackWithTheSameDataEvenWithFDFAdded() throws {
        // `##1` (BRS, no FDF) reads as FD+BRS and is written back as `##5`.
        let frames = try F.parse("(1700000000.000000) can0 300##1AA\n")
        #expect(CandumpWriter.line(for: frames[0]) == "(1700000000.000000) can0 300##5AA")
    }
}

/// Written logs read back identical; same seed, same bytes; the benchmark checks itself.
@Suite struct CandumpRoundTripTests {
    /// A random frame of any kind the format carries.
    static func randomFrame(_ generator: inout SplitMix64, index: Int) -> LoggedFrame {
        let fdLengths = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]
        let nanosecondsPrecision = generator.next() % 4 == 0
        let timestamp = nanosecondsPrecision
            ? LoggedFrame.Timestamp(seconds: 1_700_000_000 + UInt64(index), nanoseconds: UInt32(generator.next() % 1_000_000_000), precision: .nanoseconds)
            : LoggedFrame.Timestamp(seconds: 1_700_000_000 + UInt64(index), microseconds: UInt32(generator.next() % 1_000_000))
        let interface = ["can0", "can1", "vcan10"][Int(generator.next() % 3)]
        let direction: LoggedFrame.Direction? = [nil, .received, .transmitted][Int(generator.next() % 3)]
        let extended = generator.next() % 2 == 0
        let id = extended ? CANIdentifier(extended: UInt32(generator.next() & 0x1FFF_FFFF))!
                          : CANIdentifier(standard: UInt32(generator.next() % 0x800))!
        let content: LoggedFrame.Content
        switch generator.next() % 5 {
        case 0:
            var data = LoggedFrame.ErrorData()
            for index in 0..<8 { data[index] = UInt8(truncatingIfNeeded: generator.next()) }
            content = .error(classMask: UInt32(generator.next() & 0x1FFF_FFFF), data: data)
        case 1:
            content = .frame(CANFrame(id: id, format: .classicRemote, length: Int(generator.next() % 9))!)
        case 2:
            let format = CANFrameFormat.fd(bitRateSwitch: generator.next() % 2 == 0, errorStateIndicator: generator.next() % 2 == 0)
            var frame = CANFrame(id: id, format: format, length: fdLengths[Int(generator.next() % 16)])!
            for index in 0..<frame.length { frame[index] = UInt8(truncatingIfNeeded: generator.next()) }
            content = .frame(frame)
        default:
            var frame = CANFrame(id: id, length: Int(generator.next() % 9))!
            for index in 0..<frame.length { frame[index] = UInt8(truncatingIfNeeded: generator.next()) }
            content = .frame(frame)
        }
        return LoggedFrame(timestamp: timestamp, interface: interface, content: content, direction: direction)
    }

    @Test(arguments: [1 as UInt64, 2, 3])
    func randomFramesReadBackIdentical(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        let frames = (0..<2_000).map { CandumpRoundTripTests.randomFrame(&generator, index: $0) }
        let width = CandumpWriter.interfaceWidth(for: frames.map(\.interface))
        var bytes: [UInt8] = []
        for frame in frames { CandumpWriter.append(frame, interfaceWidth: width, to: &bytes) }
        #expect(try CandumpReader.parse(bytes: bytes, fileName: "round-trip.log") == frames)
    }

    @Test func sameSeedWritesTheSameBytes() {
        func bytes(seed: UInt64) -> [UInt8] {
            var generator = SplitMix64(seed: seed)
            var output: [UInt8] = []
            for index in 0..<200 { CandumpWriter.append(CandumpRoundTripTests.randomFrame(&generator, index: index), to: &output) }
            return output
        }
        #expect(bytes(seed: 9) == bytes(seed: 9))
        #expect(bytes(seed: 9) != bytes(seed: 10))
    }

    @Test func benchmarkReadsBackWhatItWrote() throws {
        let result = try CandumpBenchmark.run(frames: 3_000, console: Console(standardOutput: { _ in }, standardError: { _ in }))
        #expect(result.frames == 3_000)
        #expect(result.fileBytes > 3_000 * 30)
        #expect(result.parseFramesPerSecond > 0 && result.writeFramesPerSecond > 0)
        let again = try CandumpBenchmark.run(frames: 3_000, console: Console(standardOutput: { _ in }, standardError: { _ in }))
        #expect(again.checksum == result.checksum)
    }
}
