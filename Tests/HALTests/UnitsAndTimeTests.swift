// Units, time and the Embedded-safe arithmetic helpers, at their boundaries.
import HAL
import Testing

@Suite struct ArithmeticTests {
    @Test(arguments: [Int32.min, -1, 0, 1, 3_700, Int32.max] as [Int32])
    func wideningKeepsTheValue(value: Int32) {
        #expect(Int64(widening: value) == Int64(value))
    }

    @Test(arguments: [(Int64.min, Int32.min), (-2_147_483_649, Int32.min), (-2_147_483_648, Int32.min), (-5, -5),
                      (2_147_483_647, Int32.max), (2_147_483_648, Int32.max), (Int64.max, Int32.max)] as [(Int64, Int32)])
    func saturatingNarrowing(value: Int64, expected: Int32) {
        #expect(Int32(saturating: value) == expected)
    }

    @Test(arguments: [UInt32.min, 1, UInt32.max] as [UInt32])
    func unsignedWidening(value: UInt32) {
        #expect(UInt64(widening: value) == UInt64(value))
    }

    @Test(arguments: [0, 1, -1, 1 << 31, (1 << 31) - 1, 1 << 40, -(1 << 40) - 12_345, 180_000_000_000_000, Int64.min] as [Int64])
    func floatFromHalvesMatchesTheNearestFloat(value: Int64) {
        let approximated = Float(approximating: value)
        let nearest = Float(value)
        // Three roundings at most: within 2 ulp of the nearest Float.
        #expect(abs(approximated - nearest) <= 2 * nearest.ulp)
    }
}

@Suite struct UnitTests {
    @Test func currentSignConventionAndMagnitude() {
        let charging = Milliamperes(2_500), discharging = Milliamperes(-2_500)
        #expect(charging > .zero && discharging < .zero)
        #expect(discharging.magnitude == charging)
        #expect(Milliamperes(Int32.min).magnitude == Milliamperes(Int32.max))
    }

    @Test func chargeFromMilliampereHours() {
        #expect(MilliampereSeconds.milliampereHours(5_000).rawValue == 18_000_000)
        #expect(MilliampereSeconds.milliampereHours(-1).rawValue == -3_600)
    }

    @Test func timeArithmetic() {
        let t0 = Instant(microsecondsSinceOrigin: 5_000)
        let t1 = t0 + .milliseconds(2)
        #expect(t1.microsecondsSinceOrigin == 7_000)
        #expect(t1 - t0 == .microseconds(2_000))
        #expect(t0 - t1 == Microseconds(-2_000))
        #expect(Microseconds.seconds(3) == .milliseconds(3_000))
        #expect(Microseconds.seconds(Int32.max).rawValue == 2_147_483_647_000_000)
        #expect(Microseconds.seconds(10_000).saturatedInt32 == Int32.max)
    }

    @Test func timeDoesNotWrapWithinAPackLife() {
        // 30 years of microseconds, and then some, fit an Instant.
        let thirtyYears = Microseconds.seconds(86_400 * 365) .rawValue * 30
        let late = Instant.origin + Microseconds(thirtyYears)
        #expect(late > .origin)
        #expect(late - .origin == Microseconds(thirtyYears))
    }
}
