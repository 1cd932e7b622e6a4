// The real-time clock of the SBC deployment: CLOCK_MONOTONIC as a HAL `Instant`, and sleeping
// until an absolute instant. Only this file and SocketCAN read a clock; the firmware is handed
// `now` by whoever runs its loop.
import Glibc
import HAL

/// CLOCK_MONOTONIC in microseconds (origin: boot), for a loop that ticks on real time.
public struct MonotonicClock: Sendable {
    public init() {}

    /// The current time. clock_gettime(CLOCK_MONOTONIC) cannot fail on Linux.
    public func now() -> Instant {
        var time = timespec()
        let result = clock_gettime(CLOCK_MONOTONIC, &time)
        precondition(result == 0, "MonotonicClock: clock_gettime(CLOCK_MONOTONIC) failed")
        return Instant(microsecondsSinceOrigin: Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1_000)
    }

    /// Sleeps until `deadline` (returns at once if it has passed). An absolute deadline
    /// (TIMER_ABSTIME) does not drift when a signal interrupts the sleep and it is resumed.
    public func sleep(until deadline: Instant) {
        let microseconds = max(0, deadline.microsecondsSinceOrigin)
        var time = timespec(tv_sec: Int(microseconds / 1_000_000), tv_nsec: Int(microseconds % 1_000_000) * 1_000)
        do {
            // clock_nanosleep returns the error number instead of setting errno; put into the
            // -1/errno convention, EINTR is retried where every other call's is.
            _ = try retryingOnInterrupt { () -> Int32 in
                let error = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &time, nil)
                guard error != 0 else { return 0 }
                errno = error
                return -1
            }
        } catch {
            preconditionFailure("MonotonicClock: clock_nanosleep failed: \(error)")
        }
    }
}
