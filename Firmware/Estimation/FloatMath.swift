// Elementary functions in Float without libm (the firmware image links no maths library): exp,
// natural log, asinh and the square root, accurate to a few ulp over the ranges the estimators use.

public enum FloatMath {
    static let ln2: Float = 0.693_147_18

    /// √x for x ≥ 0 (NaN below, x itself for 0, ∞ and NaN): a first guess from halving the
    /// exponent, then Newton steps (each doubles the correct bits; three reach Float precision).
    /// `Float.squareRoot()` would call `sqrtf`, which the Embedded images do not link.
    public static func squareRoot(_ x: Float) -> Float {
        if !(x > 0) || x == .infinity { return x < 0 ? .nan : x }
        var y = Float(bitPattern: 0x1fbd_1df5 &+ (x.bitPattern >> 1))   // within about 4 % of √x
        for _ in 0..<3 { y = 0.5 * (y + x / y) }
        return y
    }

    /// e^x. Saturates to 0 below −87 and to the largest finite Float above 88.
    public static func exp(_ x: Float) -> Float {
        if !(x == x) { return x }                                   // NaN stays NaN
        if x < -87 { return 0 }
        if x > 88 { return Float.greatestFiniteMagnitude }
        // x = k·ln2 + r, |r| ≤ ln2/2; e^r by a degree-7 Taylor polynomial (error < 2e-8).
        let scaled = x / ln2
        let k = Int(scaled >= 0 ? scaled + 0.5 : scaled - 0.5)
        let r = x - Float(k) * ln2
        let p = 1 + r * (1 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 + r / 5_040))))))
        return Float(sign: .plus, exponent: k, significand: p)
    }

    /// ln x for x > 0 (−∞ at 0, NaN below).
    public static func log(_ x: Float) -> Float {
        if !(x > 0) { return x == 0 ? -Float.infinity : Float.nan }
        if x == Float.infinity { return x }
        // x = m·2^e with m in [√½, √2): ln x = e·ln2 + 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172.
        var e = Int(x.exponent)
        var m = x.significand                                        // [1, 2)
        if m > 1.414_213_6 { m *= 0.5; e += 1 }
        let s = (m - 1) / (m + 1), s2 = s * s
        let series = s * (2 + s2 * (2.0 / 3 + s2 * (2.0 / 5 + s2 * (2.0 / 7 + s2 * (2.0 / 9 + s2 * 2.0 / 11)))))
        return Float(e) * ln2 + series
    }

    /// asinh x = sign(x)·ln(|x| + √(x² + 1)).
    public static func asinh(_ x: Float) -> Float {
        let a = x < 0 ? -x : x
        let y: Float
        if a < 1e-3 {
            y = a - a * a * a / 6                                    // no cancellation near 0
        } else if a > 1e4 {
            y = log(a) + ln2                                          // √(x² + 1) ≈ x
        } else {
            y = log(a + squareRoot(a * a + 1))
        }
        return x < 0 ? -y : y
    }
}
