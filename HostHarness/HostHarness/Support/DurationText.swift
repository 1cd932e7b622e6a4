// Durations as people write them on a command line or in a scenario: 1h, 30m, 90s, 1h30m, 500ms.
import HAL

/// Parses and prints durations.
public enum DurationText {
    /// Parses e.g. "1h", "90s", "1h30m", "2d", "500ms" into microseconds; nil when malformed,
    /// longer than 10 years, or zero (unless `allowZero`).
    public static func parse(_ text: String, allowZero: Bool = false) -> Microseconds? {
        let units: [(String, Int64)] = [("ms", 1_000), ("d", 86_400_000_000), ("h", 3_600_000_000),
                                        ("m", 60_000_000), ("s", 1_000_000)]
        var rest = Substring(text)
        var total: Int64 = 0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let value = Int64(digits), value <= 1_000_000 else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let (suffix, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(suffix.count)
            total += value * scale
        }
        guard total > 0 || (allowZero && total == 0), total <= 10 * 365 * 86_400_000_000 else { return nil }
        return Microseconds(total)
    }

    /// "1h 02m 03.5s"-style text for summaries.
    public static func format(_ interval: Microseconds) -> String {
        let totalMilliseconds = interval.rawValue / 1_000
        let hours = totalMilliseconds / 3_600_000
        let minutes = (totalMilliseconds / 60_000) % 60
        let seconds = Double(totalMilliseconds % 60_000) / 1_000
        if hours > 0 { return "\(hours)h \(minutes)m \(formatSeconds(seconds))s" }
        if minutes > 0 { return "\(minutes)m \(formatSeconds(seconds))s" }
        return "\(formatSeconds(seconds))s"
    }

    private static func formatSeconds(_ s: Double) -> String {
        s == s.rounded() ? String(Int(s)) : Fixed.text(s, decimals: 3)
    }
}
