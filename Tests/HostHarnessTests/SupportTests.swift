// The harness's support pieces: the seeded generator, durations, number formatting.
import HAL
import HostHarness
import Testing

@Suite struct SplitMix64Tests {
    @Test func matchesTheReferenceSequenceForSeedZero() {
        // First outputs of SplitMix64 with seed 0 (Vigna's reference implementation).
        var generator = SplitMix64(seed: 0)
        #expect([generator.next(), generator.next(), generator.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    }

    @Test func derivedStreamsAreIndependentOfDrawsOnTheParent() {
        let root = SplitMix64(seed: 42)
        var consumed = root
        _ = consumed.next()
        var a = root.derived(stream: 1), b = root.derived(stream: 1), c = root.derived(stream: 2)
        #expect(a.next() == b.next())
        #expect(a.next() != c.next())
    }

    @Test func normalishDrawsAreBoundedAndCentred() {
        var generator = SplitMix64(seed: 7)
        var sum = 0.0, sumSquares = 0.0
        let n = 100_000
        for _ in 0..<n {
            let x = generator.standardNormalish()
            #expect(abs(x) <= 3.4641016151377544)
            sum += x; sumSquares += x * x
        }
        #expect(abs(sum / Double(n)) < 0.02)
        #expect(abs(sumSquares / Double(n) - 1) < 0.02)
    }
}

@Suite struct DurationTextTests {
    @Test(arguments: [("1h", 3_600_000_000), ("90s", 90_000_000), ("1h30m", 5_400_000_000), ("500ms", 500_000),
                      ("2d", 172_800_000_000), ("1m1s", 61_000_000)] as [(String, Int64)])
    func parses(text: String, microseconds: Int64) {
        #expect(DurationText.parse(text) == Microseconds(microseconds))
    }

    @Test(arguments: ["", "1", "h", "1x", "-1h", "1.5h", "0s", "1h ", "3651d", "1000001s"])
    func rejects(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test func formats() {
        #expect(DurationText.format(.seconds(3_723)) == "1h 2m 3s")
        #expect(DurationText.format(.milliseconds(1_500)) == "1.500s")
    }
}

@Suite struct FixedTextTests {
    @Test(arguments: [(0.5, 3, "0.500"), (12.345, 3, "12.345"), (-0.0004, 3, "0.000"), (-1.25, 1, "-1.3"), (42, 0, "42"), (0.00001, 5, "0.00001")]
          as [(Double, Int, String)])
    func formatsWithoutLocale(value: Double, decimals: Int, text: String) {
        #expect(Fixed.text(value, decimals: decimals) == text)
    }
}
