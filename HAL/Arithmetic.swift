// Integer conversions that compile to single instructions in Embedded Swift on 32-bit targets.
//
// On armv7em with -no-allocations, the standard library's generic conversions to and from Int64
// (`Int64(x)`, `Int64(truncatingIfNeeded:)`, `numericCast`, `Int32(clamping:)`) and the
// non-masking shift `<<` on Int64 go through `BinaryInteger.words`, which allocates an array and
// is rejected at compile time. `Float(Int64)` and 64-bit division call libgcc helpers that the
// image does not link. Firmware code uses these helpers instead; see
// Docs/decisions/0002-embedded-arithmetic.md.

extension Int64 {
    /// Sign-extends a 32-bit value (`sxtw`/`asr` on the target; no library call, no allocation).
    @inline(__always) public init(widening value: Int32) {
        self = (Int64(_truncatingBits: UInt(bitPattern: Int(value))) &<< 32) &>> 32
    }
}

extension Int32 {
    /// The 64-bit value clamped to the Int32 range.
    @inline(__always) public init(saturating value: Int64) {
        if value > 2_147_483_647 { self = Int32.max } else if value < -2_147_483_648 { self = Int32.min } else {
            self = Int32(truncatingIfNeeded: value)
        }
    }
}

extension Float {
    /// The nearest Float (within 2 ulp) to a 64-bit integer, built from its magnitude's two
    /// 32-bit halves (no `__aeabi_l2f`). The sign is applied last: adding a negative high half to
    /// a positive low half would cancel catastrophically for small negative values.
    @inline(__always) public init(approximating value: Int64) {
        let negative = value < 0
        let magnitude = UInt64(bitPattern: negative ? 0 &- value : value)   // Int64.min → 2^63
        let high = UInt32(truncatingIfNeeded: magnitude &>> 32)
        let low = UInt32(truncatingIfNeeded: magnitude)
        let result = Float(unsigned: high) * 4_294_967_296 + Float(unsigned: low)
        self = negative ? -result : result
    }

    /// A UInt32 as Float through signed 32-bit conversions (`Float(UInt32)` is not available
    /// without allocation on 32-bit Embedded targets).
    @inline(__always) init(unsigned value: UInt32) {
        self = Float(Int(Int32(bitPattern: value >> 1))) * 2 + Float(Int(Int32(bitPattern: value & 1)))
    }
}

extension UInt64 {
    /// Zero-extends a 32-bit value (no library call, no allocation).
    @inline(__always) public init(widening value: UInt32) {
        self = UInt64(_truncatingBits: UInt(value))
    }
}
