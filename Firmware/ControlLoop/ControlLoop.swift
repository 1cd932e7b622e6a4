// The fixed-rate control loop: one `tick(now:)` every 1 ms runs the stages in a documented order.
import HAL

/// The BMS control loop, generic over the board (specialised at compile time).
///
/// Order within a tick (see Docs/architecture.md for why):
/// 1. every 1 ms: sample → validate → cell statistics → coulomb count
///    (protection with debounce, contactor sequencing and output queuing join here);
/// 2. every 10 ms: state of charge (SOC filter, power limit, fast CAN frames join here);
/// 3. every 100 ms: temperature statistics (balancing, thermal trends, status CAN frames join here);
/// 4. every 1 s: timing report (SOH, risk scoring, persistence, slow CAN frames join here);
/// 5. last: feed the watchdog — only a tick that got through every stage reaches it.
/// When slots coincide, faster slots run first, so slow stages see this tick's fresh data.
public struct ControlLoop<Board: BMSBoard> {
    public var board: Board
    public let configuration: PackConfiguration
    public private(set) var schedule = Schedule()
    public private(set) var measurements: Measurements
    /// Cell-voltage statistics of the latest tick (nil when no cell reading is valid).
    public private(set) var cellStatistics: PackStatistics<Millivolts>? = nil
    /// Temperature statistics, refreshed every 100 ms (nil when no sensor reading is valid).
    public private(set) var temperatureStatistics: PackStatistics<DeciCelsius>? = nil
    public private(set) var coulombCounter = CoulombCounter()
    public private(set) var chargeBasedSOC: ChargeBasedSOC
    public private(set) var timing = TimingSupervisor()
    /// The stages the latest tick ran.
    public private(set) var lastTickStages = StageSet()

    /// A loop for `board` managing the pack described by `configuration`, which must be valid.
    public init(board: Board, configuration: PackConfiguration) throws(ConfigurationError) {
        try configuration.validate()
        self.board = board
        self.configuration = configuration
        measurements = Measurements(configuration: configuration)
        chargeBasedSOC = ChargeBasedSOC(ratedCapacity: configuration.ratedCapacity)
    }

    /// Runs one tick. Call every `ControlLoopTiming.tickPeriod` with the board's monotonic time.
    public mutating func tick(now: Instant) {
        var ran = StageSet()
        let due = schedule.due
        let dt = timing.beginTick(now: now)

        // Every 1 ms.
        measurements.sample(cellMonitor: &board.cellMonitor)
        measurements.sample(currentSensor: &board.currentSensor)
        ran.insert(.sample)
        measurements.validate(now: now, configuration: configuration)
        ran.insert(.validate)
        cellStatistics = PackStatistics(of: measurements.cells.cellVoltages)
        ran.insert(.cellStatistics)
        // Every tick's sample enters the counter; without an interval (first tick, clock fault)
        // it only starts the next trapezoid.
        coulombCounter.integrate(current: measurements.pack.current.validValue, dt: dt ?? .zero,
                                 maximumStep: configuration.measurementTimeout)
        ran.insert(.coulombCount)

        if due.every10ms {
            chargeBasedSOC.update(measurements: measurements, cellStatistics: cellStatistics,
                                  counter: coulombCounter, configuration: configuration)
            ran.insert(.stateOfCharge)
        }
        if due.every100ms {
            temperatureStatistics = PackStatistics(of: measurements.cells.temperatures)
            ran.insert(.temperatureStatistics)
        }
        if due.every1s {
            timing.closeWindow()
            ran.insert(.timingReport)
        }

        schedule.advance()
        timing.endTick(started: now, finished: board.timestamp())
        board.watchdog.feed()
        ran.insert(.feedWatchdog)
        lastTickStages = ran
    }

    /// The pack's state of charge (fraction 0...1), or nil before it is known.
    public var stateOfCharge: Float? { chargeBasedSOC.stateOfCharge }
}
