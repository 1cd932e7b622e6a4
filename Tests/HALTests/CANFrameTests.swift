// CAN frames and identifiers: only valid frames can be made; lengths and DLCs per ISO 11898-1.
import HAL
import Testing

@Suite struct CANIdentifierTests {
    @Test(arguments: [(0, true), (0x7FF, true), (0x800, false), (0xFFFF_FFFF, false)] as [(UInt32, Bool)])
    func standardRange(value: UInt32, valid: Bool) {
        #expect((CANIdentifier(standard: value) != nil) == valid)
    }

    @Test(arguments: [(0, true), (0x1FFF_FFFF, true), (0x2000_0000, false)] as [(UInt32, Bool)])
    func extendedRange(value: UInt32, valid: Bool) {
        #expect((CANIdentifier(extended: value) != nil) == valid)
    }

    @Test func standardAndExtendedWithTheSameValueDiffer() {
        #expect(CANIdentifier(standard: 0x123) != CANIdentifier(extended: 0x123))
    }
}

@Suite struct CANFrameTests {
    static let fd = CANFrameFormat.fd(bitRateSwitch: true, errorStateIndicator: false)

    @Test(arguments: 0...70)
    func lengthsPerFormat(length: Int) {
        let id = CANIdentifier(standard: 0x100)!
        #expect((CANFrame(id: id, format: .classic, length: length) != nil) == (length <= 8))
        #expect((CANFrame(id: id, format: .classicRemote, length: length) != nil) == (length <= 8))
        let fdLengths: Set<Int> = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]
        #expect((CANFrame(id: id, format: Self.fd, length: length) != nil) == fdLengths.contains(length))
    }

    @Test(arguments: [(0, 0), (8, 8), (12, 9), (16, 10), (20, 11), (24, 12), (32, 13), (48, 14), (64, 15)] as [(Int, UInt8)])
    func dataLengthCodes(length: Int, dlc: UInt8) {
        #expect(CANFrame.dataLengthCode(forLength: length) == dlc)
    }

    @Test func payloadRoundTripsAndEqualityComparesPayload() {
        let id = CANIdentifier(extended: 0x18FF_50E5)!
        var a = CANFrame(id: id, format: Self.fd, length: 64)!
        for i in 0..<64 { a[i] = UInt8(i) }
        var b = a
        #expect(a == b)
        #expect(b[63] == 63)
        b[63] = 0
        #expect(a != b)
        #expect(CANFrame(id: id, length: 8) != CANFrame(id: id, length: 7))
        #expect(CANFrame(id: id, format: .classic, length: 0) != CANFrame(id: id, format: .classicRemote, length: 0))
    }
}
