// Contactor sequencing: closing with a supervised precharge, opening in the order the current
// allows, and supervision of the feedback (stuck and welded contacts). A pure state machine: the
// `switch (state, event)` below is the transition table.
import HAL

/// Timing and thresholds of the contactor sequences.
public struct ContactorConfiguration: Sendable {
    /// How long a contactor may take to report the position it was commanded to.
    public var feedbackTimeout: Microseconds
    /// Precharge succeeds when the link is within `prechargeVoltageTolerance` of the pack and the
    /// precharge current is below `prechargeCurrentThreshold`, within `prechargeTimeout`; it is
    /// retried after `prechargeRetryWait`, `prechargeAttempts` times in all.
    public var prechargeTimeout: Microseconds
    public var prechargeVoltageTolerance: Millivolts
    public var prechargeCurrentThreshold: Milliamperes
    public var prechargeAttempts: UInt8
    public var prechargeRetryWait: Microseconds
    /// The largest current a main contactor can break. Above it, opening waits until the current
    /// falls below it or for `fuseTime` (the main fuse's clearing time at such a current); then it
    /// opens regardless.
    public var breakCurrent: Milliamperes
    public var fuseTime: Microseconds
    /// After both contacts report open, current must stay at rest for this long (else: welded).
    public var openVerificationTime: Microseconds
    /// Which contactor breaks discharge current and which breaks charge current (the other one
    /// opens second, without current).
    public var dischargeBreaker: Contactor
    public var chargeBreaker: Contactor

    public init(feedbackTimeout: Microseconds, prechargeTimeout: Microseconds, prechargeVoltageTolerance: Millivolts,
                prechargeCurrentThreshold: Milliamperes, prechargeAttempts: UInt8, prechargeRetryWait: Microseconds,
                breakCurrent: Milliamperes, fuseTime: Microseconds, openVerificationTime: Microseconds,
                dischargeBreaker: Contactor, chargeBreaker: Contactor) {
        self.feedbackTimeout = feedbackTimeout
        self.prechargeTimeout = prechargeTimeout
        self.prechargeVoltageTolerance = prechargeVoltageTolerance
        self.prechargeCurrentThreshold = prechargeCurrentThreshold
        self.prechargeAttempts = prechargeAttempts
        self.prechargeRetryWait = prechargeRetryWait
        self.breakCurrent = breakCurrent
        self.fuseTime = fuseTime
        self.openVerificationTime = openVerificationTime
        self.dischargeBreaker = dischargeBreaker
        self.chargeBreaker = chargeBreaker
    }

    func validate() throws(ConfigurationError) {
        guard feedbackTimeout > .zero, prechargeTimeout > .zero, prechargeVoltageTolerance > .zero, prechargeCurrentThreshold > .zero,
              prechargeAttempts >= 1, prechargeRetryWait >= .zero, breakCurrent > .zero, fuseTime >= .zero,
              openVerificationTime >= .zero, dischargeBreaker != .precharge, chargeBreaker != .precharge else {
            throw .contactorTimingOutOfRange
        }
    }
}

/// The contactor sequences.
public struct ContactorSequencer: Sendable {
    public enum State: Equatable, Sendable {
        case open
        case closingNegative(deadline: Instant)
        case precharging(deadline: Instant, attempt: UInt8)
        case prechargeRetryWait(until: Instant, attempt: UInt8)
        case closingPositive(deadline: Instant)
        case releasingPrecharge(deadline: Instant)
        case closed
        /// Open requested while the current is above the break rating.
        case waitingForBreakableCurrent(deadline: Instant)
        case openingFirst(deadline: Instant, first: Contactor)
        case openingSecond(deadline: Instant, second: Contactor)
        /// Both reported open: watching that no current flows.
        case verifyingOpen(until: Instant)
        /// Precharge failed, or a contact is stuck or welded: everything commanded open.
        case failed(FaultID)
    }

    /// What the sequencer sees each tick.
    public struct Observation: Sendable {
        public var now: Instant
        public var feedback: ContactorFeedback
        public var packVoltage: Millivolts?
        public var linkVoltage: Millivolts?
        public var current: Milliamperes?
        public init(now: Instant, feedback: ContactorFeedback, packVoltage: Millivolts?, linkVoltage: Millivolts?, current: Milliamperes?) {
            self.now = now
            self.feedback = feedback
            self.packVoltage = packVoltage
            self.linkVoltage = linkVoltage
            self.current = current
        }
    }

    public enum Event: Sendable {
        case close(Observation)
        case open(Observation)
        /// Leave `.failed` once every contact reports open.
        case reset(Observation)
        case tick(Observation)
    }

    /// What a transition reports to the BMS state machine.
    public enum Outcome: Equatable, Sendable {
        case none
        case closed
        case opened
        case failed(FaultID)
    }

    /// Coil commands of one transition (at most three), in order.
    public struct Commands: Equatable, Sendable {
        public var list = FixedList<3, ContactorCommand>(filler: ContactorCommand(.precharge, closed: false))
        public init() {}
        mutating func add(_ contactor: Contactor, closed: Bool) { list.append(ContactorCommand(contactor, closed: closed)) }
        mutating func allOpen() { add(.mainPositive, closed: false); add(.precharge, closed: false); add(.mainNegative, closed: false) }
    }

    public private(set) var state = State.open
    /// The link voltage when closing began (for weld detection from voltage).
    var linkAtClose: Millivolts? = nil
    let configuration: ContactorConfiguration
    let restCurrent: Milliamperes

    public init(configuration: ContactorConfiguration, restCurrent: Milliamperes) {
        self.configuration = configuration
        self.restCurrent = restCurrent
    }

    /// Applies `event`; returns the coil commands to issue and what to tell the state machine.
    public mutating func handle(_ event: Event) -> (commands: Commands, outcome: Outcome) {
        var commands = Commands()
        var outcome = Outcome.none
        func fail(_ fault: FaultID) { state = .failed(fault); commands.allOpen(); outcome = .failed(fault) }
        /// Breaks with the contactor rated for the current's direction (the precharge path opens
        /// too); the other main contactor opens once the first reports open.
        func breakCurrent(_ o: Observation) {
            let first = (o.current ?? .zero) > .zero ? configuration.chargeBreaker : configuration.dischargeBreaker
            commands.add(first, closed: false)
            commands.add(.precharge, closed: false)
            state = .openingFirst(deadline: o.now + configuration.feedbackTimeout, first: first)
        }
        func allOpen(_ f: ContactorFeedback) -> Bool { f.mainPositive == .open && f.mainNegative == .open && f.precharge == .open }

        switch (state, event) {
        // Open and idle: any contact reporting closed is welded.
        case (.open, .close(let o)):
            commands.add(.mainNegative, closed: true)
            linkAtClose = o.linkVoltage
            state = .closingNegative(deadline: o.now + configuration.feedbackTimeout)
        case (.open, .open), (.open, .reset):
            break
        case (.open, .tick(let o)):
            if o.feedback.mainPositive == .closed || o.feedback.mainNegative == .closed || o.feedback.precharge == .closed {
                fail(.contactorWelded)
            }

        // Closing: main negative, then precharge, then main positive, then release the precharge.
        case (.closingNegative(let deadline), .tick(let o)):
            if o.feedback.mainNegative == .closed, let before = linkAtClose, let link = o.linkVoltage, let pack = o.packVoltage,
               (link - before).rawValue > configuration.prechargeVoltageTolerance.rawValue,
               (pack - link).rawValue <= configuration.prechargeVoltageTolerance.rawValue {
                // Weld detection from voltage: with only main negative closed the link must not
                // jump to the pack voltage; if it does, a positive-side contact is welded (and the
                // link was charged without its precharge resistor).
                fail(.contactorWelded)
            } else if o.feedback.mainNegative == .closed {
                commands.add(.precharge, closed: true)
                state = .precharging(deadline: o.now + configuration.prechargeTimeout, attempt: 1)
            } else if o.now >= deadline {
                fail(.contactorFeedback)
            }
        case (.precharging(let deadline, let attempt), .tick(let o)):
            if let pack = o.packVoltage, let link = o.linkVoltage, let current = o.current,
               (pack - link).rawValue <= configuration.prechargeVoltageTolerance.rawValue, (link - pack).rawValue <= configuration.prechargeVoltageTolerance.rawValue,
               current.magnitude <= configuration.prechargeCurrentThreshold {
                commands.add(.mainPositive, closed: true)
                state = .closingPositive(deadline: o.now + configuration.feedbackTimeout)
            } else if o.now >= deadline {
                if attempt < configuration.prechargeAttempts {
                    commands.add(.precharge, closed: false)
                    state = .prechargeRetryWait(until: o.now + configuration.prechargeRetryWait, attempt: attempt)
                } else {
                    fail(.prechargeFailed)                   // everything open, main negative included
                }
            }
        case (.prechargeRetryWait(let until, let attempt), .tick(let o)):
            if o.now >= until {
                commands.add(.precharge, closed: true)
                state = .precharging(deadline: o.now + configuration.prechargeTimeout, attempt: attempt + 1)
            }
        case (.closingPositive(let deadline), .tick(let o)):
            if o.feedback.mainPositive == .closed {
                commands.add(.precharge, closed: false)
                state = .releasingPrecharge(deadline: o.now + configuration.feedbackTimeout)
            } else if o.now >= deadline {
                fail(.contactorFeedback)
            }
        case (.releasingPrecharge(let deadline), .tick(let o)):
            if o.feedback.precharge == .open {
                state = .closed
                outcome = .closed
            } else if o.now >= deadline {
                fail(.contactorWelded)
            }
        case (.closingNegative, .close), (.precharging, .close), (.prechargeRetryWait, .close), (.closingPositive, .close),
             (.releasingPrecharge, .close), (.closed, .close):
            break
        case (.closingNegative, .open(let o)), (.precharging, .open(let o)), (.prechargeRetryWait, .open(let o)):
            // Abandon the closing sequence: main positive is not closed, so at most precharge
            // current flows; everything opens at once.
            commands.allOpen()
            state = .openingSecond(deadline: o.now + configuration.feedbackTimeout, second: .mainNegative)
        case (.closingNegative, .reset), (.precharging, .reset), (.prechargeRetryWait, .reset), (.closingPositive, .reset),
             (.releasingPrecharge, .reset), (.closed, .reset):
            break

        // Closed: supervise the feedback (a main not reported closed — open, or unreadable for
        // longer than the loop bridges — is a feedback fault).
        case (.closed, .tick(let o)):
            if o.feedback.mainPositive != .closed || o.feedback.mainNegative != .closed { fail(.contactorFeedback) }
        // Main positive is (being) closed: open as from closed, in the order the current allows.
        case (.closed, .open(let o)), (.closingPositive, .open(let o)), (.releasingPrecharge, .open(let o)):
            if (o.current ?? .zero).magnitude > configuration.breakCurrent {
                state = .waitingForBreakableCurrent(deadline: o.now + configuration.fuseTime)
            } else {
                breakCurrent(o)
            }

        // Opening: wait for a breakable current (or the fuse's clearing time), break, then open
        // the other contactor without current, then check that no current flows.
        case (.waitingForBreakableCurrent(let deadline), .tick(let o)):
            if (o.current ?? .zero).magnitude <= configuration.breakCurrent || o.now >= deadline { breakCurrent(o) }
        case (.openingFirst(let deadline, let first), .tick(let o)):
            let second: Contactor = first == .mainPositive ? .mainNegative : .mainPositive
            if o.feedback[first] == .open {
                commands.add(second, closed: false)
                state = .openingSecond(deadline: o.now + configuration.feedbackTimeout, second: second)
            } else if o.now >= deadline {
                fail(.contactorWelded)
            }
        case (.openingSecond(let deadline, _), .tick(let o)):
            if allOpen(o.feedback) {
                state = .verifyingOpen(until: o.now + configuration.openVerificationTime)
            } else if o.now >= deadline {
                fail(.contactorWelded)
            }
        case (.verifyingOpen(let until), .tick(let o)):
            if let current = o.current, current.magnitude > restCurrent {
                fail(.contactorWelded)
            } else if o.now >= until {
                state = .open
                outcome = .opened
            }
        case (.waitingForBreakableCurrent, .open), (.openingFirst, .open), (.openingSecond, .open), (.verifyingOpen, .open):
            break
        case (.waitingForBreakableCurrent, .close), (.openingFirst, .close), (.openingSecond, .close), (.verifyingOpen, .close):
            break        // finish opening first; the state machine asks again
        case (.waitingForBreakableCurrent, .reset), (.openingFirst, .reset), (.openingSecond, .reset), (.verifyingOpen, .reset):
            break

        // Failed: everything stays commanded open until a reset with every contact open.
        case (.failed, .tick), (.failed, .close), (.failed, .open):
            break
        case (.failed, .reset(let o)):
            if allOpen(o.feedback) { state = .verifyingOpen(until: o.now + configuration.openVerificationTime) }
        }
        return (commands, outcome)
    }

    /// Whether the main contactors are (being) held closed.
    public var isClosedOrClosing: Bool {
        switch state {
        case .closingNegative, .precharging, .prechargeRetryWait, .closingPositive, .releasingPrecharge, .closed: return true
        case .open, .waitingForBreakableCurrent, .openingFirst, .openingSecond, .verifyingOpen, .failed: return false
        }
    }
}

/// One coil command.
public struct ContactorCommand: Equatable, Sendable {
    public var contactor: Contactor
    public var closed: Bool
    public init(_ contactor: Contactor, closed: Bool) {
        self.contactor = contactor
        self.closed = closed
    }
}
