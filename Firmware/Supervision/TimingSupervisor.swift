// Timing supervision of the loop itself: missed ticks, overruns and a clock that misbehaves.
import HAL

/// Watches the loop's own timing. A tick is *missed* when the gap between two tick starts holds
/// one or more whole periods that had no tick; a tick *overruns* when its own execution (measured
/// with the board's clock) takes longer than one period. A `now` that does not move forward is a
/// clock fault: that tick integrates nothing.
public struct TimingSupervisor: Sendable {
    public private(set) var missedTicks: UInt64 = 0
    public private(set) var overruns: UInt64 = 0
    public private(set) var clockFaults: UInt64 = 0
    /// The longest tick execution seen since start.
    public private(set) var longestTick: Microseconds = .zero
    /// The longest tick execution in the last completed one-second window.
    public private(set) var longestTickLastSecond: Microseconds = .zero
    var longestTickThisSecond: Microseconds = .zero
    /// The previous tick's `now`.
    public private(set) var previousTickStart: Instant? = nil

    public init() {}

    /// Called first in a tick. Returns the time since the previous tick's start, or nil on the
    /// first tick and when `now` did not advance (a clock fault, counted).
    mutating func beginTick(now: Instant) -> Microseconds? {
        guard let previous = previousTickStart else {
            previousTickStart = now
            return nil
        }
        let gap = now - previous
        guard gap > .zero else {
            clockFaults &+= 1
            return nil
        }
        previousTickStart = now
        // Whole periods without a tick, rounded to the nearest period: a gap of 1.5 periods or
        // more means at least one tick was missed. Gaps beyond ±2,147 s count as that many.
        let period = ControlLoopTiming.tickPeriod.saturatedInt32
        let periods = (gap.saturatedInt32 + period / 2) / period
        if periods > 1 { missedTicks &+= UInt64(widening: UInt32(bitPattern: periods - 1)) }
        return gap
    }

    /// Called after the last stage with the board's clock reading at that moment.
    mutating func endTick(started: Instant, finished: Instant) {
        let execution = finished - started
        if execution > ControlLoopTiming.tickPeriod { overruns &+= 1 }
        if execution > longestTick { longestTick = execution }
        if execution > longestTickThisSecond { longestTickThisSecond = execution }
    }

    /// Stage `timingReport`: closes the one-second window.
    mutating func closeWindow() {
        longestTickLastSecond = longestTickThisSecond
        longestTickThisSecond = .zero
    }
}
