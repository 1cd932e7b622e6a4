// The fixed-rate control loop: one `tick(now:)` every 1 ms runs the stages in a documented order.
import HAL

/// The BMS control loop, generic over the board (specialised at compile time).
///
/// Order within a tick (see Docs/architecture.md for why):
/// 1. every 1 ms: sample → validate → cell statistics → coulomb count → fault checks → state
///    machine → contactor sequencing (CAN reception and output queuing join here);
/// 2. every 10 ms: state of charge → state estimation (a tenth of the elements' SOC filters in
///    turn, capacity, pack SOC) → power limits (fast CAN frames join here);
/// 3. every 100 ms: temperature statistics → stuck channels → balancing (thermal trends and
///    status CAN frames join here);
/// 4. every 1 s: temperature rise → timing report (SOH, risk scoring, persistence, slow CAN frames
///    join here);
/// 5. every 10 ms, midway between the 10 ms slots, before each 1 s slot: the usable charge of
///    one element in turn (for the next 1 s slot's health frame);
/// 6. last: feed the watchdog — only a tick that got through every stage reaches it.
/// When slots coincide, faster slots run first, so slow stages see this tick's fresh data.
public struct ControlLoop<Board: BMSBoard> {
    public var board: Board
    public private(set) var configuration: PackConfiguration
    public private(set) var schedule = Schedule()
    public private(set) var measurements: Measurements
    /// Cell-voltage statistics of the latest tick (nil when no cell reading is valid).
    public private(set) var cellStatistics: PackStatistics<Millivolts>? = nil
    /// Temperature statistics, refreshed every 100 ms (nil when no sensor reading is valid).
    public private(set) var temperatureStatistics: PackStatistics<DeciCelsius>? = nil
    public private(set) var coulombCounter = CoulombCounter()
    public private(set) var chargeBasedSOC: ChargeBasedSOC
    #if !BMS_NO_ESTIMATOR
    /// The SOC filters, SOH and usable charge (idle when the loop has no cell model). A build
    /// with `-D BMS_NO_ESTIMATOR` leaves it out (to measure what it costs, Docs/firmware-budget.md).
    public internal(set) var estimator: PackStateEstimator
    #endif
    public private(set) var timing = TimingSupervisor()
    /// The stages the latest tick ran.
    public private(set) var lastTickStages = StageSet()
    public private(set) var faultMonitor: FaultMonitor
    public internal(set) var stateMachine = BMSStateMachine()
    public private(set) var sequencer: ContactorSequencer
    public private(set) var powerLimiter: PowerLimiter
    public private(set) var balancer: BalancingController
    /// The CAN protocol's state (Fixtures/bms.dbc): transmit queue, counters, request streams.
    public internal(set) var can: CANProtocol
    var requests = RequestQueue()
    /// The latest request and its answer.
    public private(set) var lastAnswer: AnsweredRequest? = nil
    var answers: UInt32 = 0
    /// The contactor feedback read this tick, and failed contactor / balancing commands.
    public private(set) var contactorFeedback = ContactorFeedback()
    var feedbackReadAt = Instant.origin
    public private(set) var contactorFailures = FailureCount()
    public private(set) var balancingFailures = FailureCount()
    /// Checkpoints in the board's store and what was restored from it (Firmware/Persistence/).
    public internal(set) var persistence: Persistence
    /// The event log and trip snapshots in the store (Firmware/Persistence/BlackBox.swift).
    public internal(set) var blackBox: BlackBox
    /// Per-cell health features, risk scores and alerts (Firmware/Health/, Docs/early-warning.md).
    public internal(set) var health: CellHealthMonitor

    /// A loop for `board` managing the pack described by `configuration`, which must be valid.
    /// `estimation` (the cell model and the filter's tuning, Docs/estimation.md) is kept apart from
    /// the pack configuration, which every stage reads: it is large and only the estimator needs
    /// it. Without it the loop falls back to the counted charge anchored at the first rest
    /// (`ChargeBasedSOC`), with no bound, SOH or usable charge.
    public init(board: Board, configuration: PackConfiguration, estimation: StateEstimationConfiguration? = nil,
                protocol canConfiguration: CANProtocolConfiguration = CANProtocolConfiguration()) throws(ConfigurationError) {
        try configuration.validate()
        try estimation?.validate()
        self.board = board
        self.configuration = configuration
        measurements = Measurements(configuration: configuration)
        chargeBasedSOC = ChargeBasedSOC(ratedCapacity: configuration.ratedCapacity)
        #if !BMS_NO_ESTIMATOR
        estimator = PackStateEstimator(cellCount: configuration.cellCount, configuration: estimation)
        #endif
        faultMonitor = FaultMonitor(cellCount: configuration.cellCount, temperatureSensorCount: configuration.temperatureSensorCount)
        sequencer = ContactorSequencer(configuration: configuration.contactors, restCurrent: configuration.restCurrent)
        powerLimiter = PowerLimiter(configuration: configuration.powerLimits, cellCount: configuration.cellCount)
        balancer = BalancingController(cellCount: configuration.cellCount)
        can = CANProtocol(configuration: canConfiguration)
        persistence = Persistence(geometry: board.store.geometry, cellCount: configuration.cellCount, configuration: PersistenceConfiguration())
        blackBox = BlackBox()
        health = CellHealthMonitor(cellCount: configuration.cellCount, sensorCells: estimation?.sensorElements ?? FixedList(filler: 0),
                                   configuration: HealthConfiguration(pack: configuration))
        restoreFromStore()
    }

    /// Sets this loop up in place, to the state `init(board:configuration:estimation:protocol:)`
    /// gives, for a board that keeps its loop in static storage rather than in a stack frame (the
    /// Cortex-M image: a 12–16 KB loop and its parts must not be built on a 4 KiB stack first;
    /// Docs/firmware-budget.md). The storage may hold anything of this type: every stored
    /// property is set here. `configuration` writes the pack configuration in place and must set
    /// every field (it is then validated); `estimation` writes the estimation configuration in
    /// place over `StateEstimationConfiguration.idle()`'s values. A thrown error leaves the loop
    /// unusable.
    public mutating func setUp(board: consuming Board, configuration: (inout PackConfiguration) -> Void,
                               estimation: (inout StateEstimationConfiguration) -> Void,
                               protocol canConfiguration: CANProtocolConfiguration = CANProtocolConfiguration()) throws(ConfigurationError) {
        try setUp(board: board, configuration: configuration, withCellModel: true, estimation: estimation, protocol: canConfiguration)
    }

    /// The same without a cell model (the charge-based SOC, as `init` without `estimation`).
    public mutating func setUp(board: consuming Board, configuration: (inout PackConfiguration) -> Void,
                               protocol canConfiguration: CANProtocolConfiguration = CANProtocolConfiguration()) throws(ConfigurationError) {
        try setUp(board: board, configuration: configuration, withCellModel: false, estimation: { _ in }, protocol: canConfiguration)
    }

    mutating func setUp(board: consuming Board, configuration build: (inout PackConfiguration) -> Void, withCellModel: Bool,
                        estimation: (inout StateEstimationConfiguration) -> Void,
                        protocol canConfiguration: CANProtocolConfiguration) throws(ConfigurationError) {
        build(&self.configuration)
        try configuration.validate()
        self.board = board
        schedule = Schedule()
        measurements.reset(configuration: configuration)
        cellStatistics = nil
        temperatureStatistics = nil
        coulombCounter = CoulombCounter()
        chargeBasedSOC = ChargeBasedSOC(ratedCapacity: configuration.ratedCapacity)
        #if !BMS_NO_ESTIMATOR
        estimator.setUp(cellCount: configuration.cellCount, enabled: withCellModel, estimation: estimation)
        if withCellModel { try estimator.configuration.validate() }
        #endif
        timing = TimingSupervisor()
        lastTickStages = StageSet()
        faultMonitor.reset(cellCount: configuration.cellCount, temperatureSensorCount: configuration.temperatureSensorCount)
        stateMachine = BMSStateMachine()
        sequencer = ContactorSequencer(configuration: configuration.contactors, restCurrent: configuration.restCurrent)
        powerLimiter = PowerLimiter(configuration: configuration.powerLimits, cellCount: configuration.cellCount)
        balancer = BalancingController(cellCount: configuration.cellCount)
        can.reset(configuration: canConfiguration)
        requests = RequestQueue()
        lastAnswer = nil
        answers = 0
        contactorFeedback = ContactorFeedback()
        feedbackReadAt = .origin
        contactorFailures = FailureCount()
        balancingFailures = FailureCount()
        #if BMS_NO_ESTIMATOR
        health.reset(cellCount: configuration.cellCount, sensorCells: FixedList(filler: 0), configuration: HealthConfiguration(pack: configuration))
        #else
        health.reset(cellCount: configuration.cellCount, sensorCells: estimator.configuration.sensorElements,
                     configuration: HealthConfiguration(pack: configuration))
        #endif
        persistence.reset(geometry: self.board.store.geometry, cellCount: configuration.cellCount, configuration: PersistenceConfiguration())
        restoreFromStore()
    }

    /// Queues a request from outside (decoded from CAN, or from a test); it is answered on the
    /// next tick (`lastAnswer`). Returns false when the queue is full (the request is dropped).
    public mutating func submit(_ request: BMSRequest) -> Bool { requests.submit(request, from: .local) }

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
        cellStatistics = measurements.cellVoltageStatistics()
        ran.insert(.cellStatistics)
        receiveCAN(now: now)
        ran.insert(.canReceive)
        // Every tick's sample enters the counter; without an interval (first tick, clock fault)
        // it only starts the next trapezoid.
        coulombCounter.integrate(current: measurements.pack.current.validValue, dt: dt ?? .zero,
                                 maximumStep: configuration.measurementTimeout)
        ran.insert(.coulombCount)
        // The stages take `measurements` inout only to read it in place (by address: a borrowed
        // copy of it, or of its lists, went into their frames on the Cortex-M; Docs/firmware-budget.md).
        faultMonitor.evaluate(now: now, measurements: &measurements, cells: cellStatistics,
                              temperatures: temperatureStatistics, configuration: configuration)
        ran.insert(.faultChecks)
        let observation = observe(now: now)
        runStateMachine(observation)
        ran.insert(.stateMachine)
        let (commands, outcome) = sequencer.handle(.tick(observation))
        issue(commands)
        if outcome != .none { apply(stateMachine.handle(.sequencer(outcome), present: presentFaults()).action, observation) }
        ran.insert(.contactorSequencing)

        if due.every10ms {
            chargeBasedSOC.update(measurements: &measurements, cellStatistics: cellStatistics,
                                  counter: coulombCounter, bled: balancer.bledTotal, configuration: configuration)
            ran.insert(.stateOfCharge)
            #if !BMS_NO_ESTIMATOR
            if estimator.isEnabled {
                estimator.update(measurements: &measurements, temperatures: temperatureStatistics, counter: coulombCounter,
                                 bled: &balancer.bled, seconds: 0.01)
                ran.insert(.stateEstimation)
            }
            #endif
            var connected: OperatingMode? = nil
            if case .connected(let mode) = stateMachine.state { connected = mode }
            let limitSOC = limitStateOfCharge()
            powerLimiter.update(measurements: &measurements, cells: cellStatistics, temperatures: temperatureStatistics,
                                stateOfCharge: limitSOC.discharge, chargeStateOfCharge: limitSOC.charge,
                                faults: faultMonitor.status, connected: connected, configuration: configuration,
                                dt: .milliseconds(10), healthFactor: health.thermalWarning ? HealthConfiguration.thermalDerate : 1)
            ran.insert(.powerLimits)
            queueFastFrames()
            ran.insert(.fastFrames)
        }
        if due.every100ms {
            temperatureStatistics = measurements.temperatureStatistics()
            ran.insert(.temperatureStatistics)
            faultMonitor.evaluateStuck(now: now, measurements: &measurements, configuration: configuration)
            ran.insert(.stuckChannels)
            if let command = balancer.update(now: now, measurements: &measurements, cells: cellStatistics,
                                             temperatures: temperatureStatistics, faults: faultMonitor.status,
                                             suspect: faultMonitor.suspectCells,
                                             capability: board.cellMonitor.balancingCapability, configuration: configuration,
                                             dt: .milliseconds(100)) {
                do { try board.cellMonitor.setBalancing(command) } catch {
                    balancingFailures.record(error.kind)
                    balancer.commandFailed()
                }
            }
            ran.insert(.balancing)
            health.observe(cells: measurements.cells, current: measurements.pack.current.validValue)
            queueStatusFrames()
            ran.insert(.statusFrames)
        }
        if due.every1s {
            faultMonitor.evaluateRise(now: now, measurements: &measurements, configuration: configuration)
            ran.insert(.temperatureRise)
            timing.closeWindow()
            ran.insert(.timingReport)


        }
        #if !BMS_NO_ESTIMATOR
        if due.midway10ms && schedule.midwaySlotsBeforeSecond == 50 {
            // Half a second away from the 1 s slot (and from the usable-charge survey before it):
            // the risk scoring never adds to the slowest tick.
            assessHealth()
            ran.insert(.riskScoring)
            // The 1 s frames (health, the fresh risk ranking, identity) go out here too, away
            // from the 100 ms frames of the 1 s slot.
            queueSlowFrames()
            ran.insert(.slowFrames)
        }
        if due.midway10ms && estimator.isEnabled {
            // The last `cellCount` midway slots before each 1 s slot survey one element each, so
            // the health frame's usable charge is at most a second old and no tick computes it
            // for every element (a 24-step bisection each; Docs/firmware-budget.md).
            let element = configuration.cellCount - schedule.midwaySlotsBeforeSecond
            if element >= 0 {
                let oneC = Float(approximating: configuration.ratedCapacity.rawValue) / 3_600_000   // A
                estimator.surveyUsableCharge(element: element, atDischarge: oneC)
                ran.insert(.usableCharge)
            }
        }
        #endif

        persist(now: now, due: due)
        ran.insert(.persistence)
        flushCAN()
        ran.insert(.canTransmit)

        schedule.advance()
        timing.endTick(started: now, finished: board.timestamp())
        board.watchdog.feed()
        ran.insert(.feedWatchdog)
        lastTickStages = ran
    }

    /// The pack's state of charge (fraction 0...1), or nil before it is known.
    public var stateOfCharge: Float? {
        var copy = self
        return copy.stateOfChargeInPlace()
    }

    /// `stateOfCharge`, read in place: the loop's own stages use this form, because a getter on
    /// the loop copied the whole loop (16 KB) into the caller's frame on the Cortex-M
    /// (Docs/firmware-budget.md); `mutating` only for that.
    public mutating func stateOfChargeInPlace() -> Float? {
        #if BMS_NO_ESTIMATOR
        chargeBasedSOC.stateOfCharge
        #else
        estimator.isEnabled ? estimator.stateOfCharge : chargeBasedSOC.stateOfCharge
        #endif
    }

    /// The SOC the limits derate by: the weakest element's for discharge and the strongest's for
    /// charge (Docs/estimation.md); the pack's counted SOC for both without a cell model.
    /// (`mutating` only so that it reads the loop in place, as `stateOfChargeInPlace`.)
    mutating func limitStateOfCharge() -> (discharge: Float?, charge: Float?) {
        #if !BMS_NO_ESTIMATOR
        if estimator.isEnabled { return (estimator.lowestStateOfCharge, estimator.highestStateOfCharge) }
        #endif
        return (chargeBasedSOC.stateOfCharge, chargeBasedSOC.stateOfCharge)
    }

    /// The present charge and discharge current limits.
    public var powerLimits: PowerLimits { powerLimiter.limits }

    /// Faults whose cause is present now: what the monitor sees, and a contactor fault while any
    /// contact is not reported open (everything is commanded open after a sequencing failure; a
    /// failed precharge leaves no cause behind, and the next attempt checks again).
    /// `mutating` only so that it reads the loop in place: as a getter it copied the whole loop
    /// (16 KB) into the caller's frame on the Cortex-M (Docs/firmware-budget.md).
    mutating func presentFaults() -> FaultSet {
        var present = faultMonitor.status.warnings
        if case .failed(let fault) = sequencer.state, fault != .prechargeFailed {
            let f = contactorFeedback
            if f.mainPositive != .open || f.mainNegative != .open || f.precharge != .open { present.insert(fault) }
        }
        return present
    }

    /// Reads the contactor feedback and puts together what the sequencer sees this tick. A failed
    /// read keeps the last feedback for up to the feedback timeout, then reports it unknown.
    mutating func observe(now: Instant) -> ContactorSequencer.Observation {
        do {
            contactorFeedback = try board.contactors.feedback()
            feedbackReadAt = now
        } catch {
            if now - feedbackReadAt > configuration.contactors.feedbackTimeout { contactorFeedback = ContactorFeedback() }
            contactorFailures.record(error.kind)
        }
        return ContactorSequencer.Observation(now: now, feedback: contactorFeedback, packVoltage: measurements.pack.packVoltage.validValue,
                                              linkVoltage: measurements.pack.linkVoltage.validValue,
                                              current: measurements.pack.current.validValue)
    }

    /// Stage `stateMachine`: this tick's trips first (so no request can close the contactors in
    /// the tick a fault latches), then the queued requests in order.
    mutating func runStateMachine(_ o: ContactorSequencer.Observation) {
        let tripped = faultMonitor.status.tripped
        if !tripped.isEmpty {
            apply(stateMachine.handle(.trip(tripped), present: presentFaults()).action, o)
            faultMonitor.acknowledgeTrips()
        }
        while !requests.pending.isEmpty {
            let queued = requests.pending[0]
            for k in 1..<max(1, requests.pending.count) { requests.pending[k - 1] = requests.pending[k] }
            requests.pending.removeLast()
            let (answer, action) = stateMachine.handle(.request(queued.request), present: presentFaults())
            answers &+= 1
            let given = answer ?? .accepted
            lastAnswer = AnsweredRequest(request: queued.request, answer: given, source: queued.source, sequence: answers)
            if given == .accepted && (queued.request == .drive || queued.request == .charge) { can.connectionOwner = queued.source }
            can.answer(queued.request.rawValue, from: queued.source, with: CANProtocol.canAnswer(given))
            apply(action, o)
        }
    }

    /// Carries out a state-machine action through the sequencer.
    mutating func apply(_ action: BMSStateMachine.Action, _ o: ContactorSequencer.Observation) {
        let event: ContactorSequencer.Event
        switch action {
        case .none: return
        case .closeContactors: event = .close(o)
        case .openContactors: event = .open(o)
        case .resetSequencer: event = .reset(o)
        }
        let (commands, outcome) = sequencer.handle(event)
        issue(commands)
        if outcome != .none { apply(stateMachine.handle(.sequencer(outcome), present: presentFaults()).action, o) }
    }

    /// Sends coil commands to the board; a failed command is counted (the sequencer notices the
    /// missing feedback and reports a fault).
    mutating func issue(_ commands: ContactorSequencer.Commands) {
        for i in commands.list.indices {
            let c = commands.list[i]
            do { try board.contactors.command(c.contactor, closed: c.closed) } catch { contactorFailures.record(error.kind) }
        }
    }
}
