// The board: every peripheral the firmware uses, bundled as associated types so that
// `ControlLoop<Board>` is specialised at compile time (no existentials, no dynamic dispatch).

/// A concrete BMS board.
public protocol BMSBoard {
    associatedtype Monitor: CellMonitor
    associatedtype Sensor: CurrentSensor
    associatedtype Contactors: ContactorDriver
    associatedtype Bus: CANBus
    associatedtype Store: NonVolatileStore
    associatedtype WatchdogTimer: Watchdog

    var cellMonitor: Monitor { get set }
    var currentSensor: Sensor { get set }
    var contactors: Contactors { get set }
    var canBus: Bus { get set }
    var store: Store { get set }
    var watchdog: WatchdogTimer { get set }

    /// The board's monotonic clock. Used by the loop's timing supervision only (to measure how
    /// long a tick took); algorithms are handed the tick's `now` instead.
    mutating func timestamp() -> Instant
}
