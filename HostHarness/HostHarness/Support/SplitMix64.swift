// The harness's only source of randomness: a seeded SplitMix64 generator (same seed, same bytes).

/// SplitMix64 (Steele, Lea, Flood 2014): a small, fast, well-mixed 64-bit generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A generator for an independent stream, derived from this one's seed and a stream label
    /// (so adding draws to one stream never shifts another).
    public func derived(stream: UInt64) -> SplitMix64 {
        var mixer = SplitMix64(seed: state ^ (stream &* 0xD1B5_4A32_D192_ED03))
        return SplitMix64(seed: mixer.next())
    }

    /// A uniform Double in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// A uniform Double in [lower, upper).
    public mutating func uniform(_ lower: Double, _ upper: Double) -> Double { lower + (upper - lower) * unit() }

    /// An approximately normal draw with mean 0 and standard deviation 1: the sum of four
    /// uniforms, rescaled (Irwin–Hall). Bounded at ±3.46 and free of transcendental functions,
    /// so it is bit-identical on every platform.
    public mutating func standardNormalish() -> Double {
        (unit() + unit() + unit() + unit() - 2) * 1.7320508075688772
    }
}
