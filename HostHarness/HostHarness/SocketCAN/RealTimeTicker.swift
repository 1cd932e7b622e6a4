// A 1 ms cadence on CLOCK_MONOTONIC for the real-time commands (`run --can`, `pack --can`):
// absolute deadlines (no drift), missed periods counted instead of caught up, the lateness of
// every wake-up kept as a histogram for the jitter report; and SIGINT/SIGTERM as a stop request.
import Glibc
import HAL

/// Wakes every `period` on absolute deadlines and measures how late each wake-up was.
public struct RealTimeTicker {
    public let period: Microseconds
    let clock = MonotonicClock()
    public private(set) var start: Instant
    var deadline: Instant
    public private(set) var ticks: UInt64 = 0
    /// Periods skipped because a wake-up came more than a period late.
    public private(set) var missedPeriods: UInt64 = 0
    /// Wake-up lateness in µs: counts per bucket of `histogramStep` µs (the last holds the rest).
    var histogram = [UInt64](repeating: 0, count: 201)
    static let histogramStep: Int64 = 10
    public private(set) var latenessTotal: Int64 = 0
    public private(set) var latenessMaximum: Int64 = 0

    public init(period: Microseconds = .milliseconds(1)) {
        self.period = period
        start = clock.now()
        deadline = start
    }

    /// Restarts the cadence from now (after a wait before the first tick).
    public mutating func restart() {
        start = clock.now()
        deadline = start
    }

    /// Sleeps until the next deadline and returns the time of the wake-up. A wake-up later than
    /// a whole period skips the periods it overslept (counted), so the cadence never bursts.
    public mutating func next() -> Instant {
        clock.sleep(until: deadline)
        let now = clock.now()
        let late = max(0, (now - deadline).rawValue)
        histogram[Int(min(late / RealTimeTicker.histogramStep, Int64(histogram.count - 1)))] += 1
        latenessTotal += late
        latenessMaximum = max(latenessMaximum, late)
        ticks += 1
        deadline = deadline + period
        if now - deadline >= period {
            let behind = (now - deadline).rawValue / period.rawValue
            missedPeriods += UInt64(behind)
            deadline = deadline + Microseconds(behind * period.rawValue)
        }
        return now
    }

    /// Time since `start`.
    public var elapsed: Microseconds { clock.now() - start }

    /// The lateness below which `fraction` of the wake-ups came (µs, to the histogram's step).
    public func latenessPercentile(_ fraction: Double) -> Int64 {
        let wanted = UInt64((Double(ticks) * fraction).rounded(.up))
        var seen: UInt64 = 0
        for (bucket, count) in histogram.enumerated() {
            seen += count
            if seen >= wanted { return Int64(bucket + 1) * RealTimeTicker.histogramStep }
        }
        return Int64(histogram.count) * RealTimeTicker.histogramStep
    }

    /// "jitter: mean 12 µs, p99 40 µs, max 210 µs; 0 periods missed" for the exit report.
    public var report: String {
        let mean = ticks > 0 ? latenessTotal / Int64(ticks) : 0
        return "wake-up lateness mean \(mean) µs, p99 ≤ \(latenessPercentile(0.99)) µs, max \(latenessMaximum) µs; "
            + "\(missedPeriods) periods missed"
    }
}

/// SIGINT and SIGTERM as a request to stop at the end of the current tick.
public enum StopSignal {
    nonisolated(unsafe) static var requested: sig_atomic_t = 0

    /// Installs the handlers (once per process is enough; installing again is harmless).
    public static func install() {
        requested = 0
        signal(SIGINT) { _ in StopSignal.requested = 1 }
        signal(SIGTERM) { _ in StopSignal.requested = 1 }
    }

    public static var isRequested: Bool { requested != 0 }
}
