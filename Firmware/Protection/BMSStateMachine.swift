// The BMS's operating state: requests from outside (vehicle controller, charger — via CAN),
// maximum-safety trips, and the contactor sequencer's outcomes. A pure state machine: the
// `switch (state, event)` below is the transition table; every request gets an answer.
import HAL

/// What the pack is connected for. Raw values are stable (CAN).
public enum OperatingMode: UInt8, Sendable {
    case drive = 1
    case charge = 2
}

/// A request from outside. Raw values are stable (CAN).
public enum BMSRequest: UInt8, Sendable {
    case standby = 1
    case drive = 2
    case charge = 3
    /// Clear latched faults (only when their causes are gone).
    case reset = 4
}

/// Why a request was refused. Raw values are stable (CAN).
public enum Refusal: UInt8, Sendable {
    /// A latched fault stands: request a reset first.
    case latchedFault = 1
    /// A reset was requested but the cause of a latched fault is still present.
    case faultPersists = 2
    /// Another request is being carried out.
    case busy = 3
    /// Switching between drive and charge goes through standby.
    case modeChangeNeedsStandby = 4
}

/// The answer to a request.
public enum RequestAnswer: Equatable, Sendable {
    case accepted
    /// Already being carried out; it will complete without another request.
    case pending
    case illegal(Refusal)
}

public struct BMSStateMachine: Sendable {
    public enum State: Equatable, Sendable {
        /// Contactors open, ready.
        case standby
        /// Closing for a mode.
        case connecting(OperatingMode)
        case connected(OperatingMode)
        /// Opening; `toError` after a trip or a sequencing failure.
        case disconnecting(toError: Bool)
        /// Contactors open with at least one latched fault.
        case error
    }

    public enum Event: Sendable {
        case request(BMSRequest)
        /// Maximum-safety faults whose reaction delay elapsed.
        case trip(FaultSet)
        case sequencer(ContactorSequencer.Outcome)
    }

    /// What the loop must do for the contactor sequencer.
    public enum Action: Equatable, Sendable {
        case none
        case closeContactors
        case openContactors
        /// Clear the sequencer's failed state (after an accepted reset).
        case resetSequencer
    }

    public private(set) var state = State.standby
    /// Faults latched until a reset with their cause gone.
    public private(set) var latched = FaultSet()

    /// Faults latched before a power cycle (Persistence): they stay latched, and with any of them
    /// the BMS starts in `error` (contactors open until a reset with the causes gone).
    public mutating func restoreLatched(_ faults: FaultSet) {
        latched.formUnion(faults)
        if !latched.isEmpty { state = .error }
    }

    public init() {}

    /// Applies `event`. `present` is the set of faults whose cause is still there (the fault
    /// monitor's warnings plus the sequencer's failure); a reset clears latches only when none of
    /// the latched faults is present. Returns the answer (for requests) and the action.
    public mutating func handle(_ event: Event, present: FaultSet) -> (answer: RequestAnswer?, action: Action) {
        switch (state, event) {
        // Standby.
        case (.standby, .request(.standby)), (.standby, .request(.reset)):
            return (.accepted, .none)
        case (.standby, .request(.drive)):
            state = .connecting(.drive)
            return (.accepted, .closeContactors)
        case (.standby, .request(.charge)):
            state = .connecting(.charge)
            return (.accepted, .closeContactors)
        case (.standby, .trip(let faults)):
            latched.formUnion(faults)
            state = .error
            return (nil, .openContactors)
        case (.standby, .sequencer(.failed(let fault))):
            latched.insert(fault)
            state = .error
            return (nil, .openContactors)
        case (.standby, .sequencer(.closed)):
            return (nil, .openContactors)              // nobody asked to close
        case (.standby, .sequencer(.opened)), (.standby, .sequencer(.none)):
            return (nil, .none)

        // Connecting.
        case (.connecting, .request(.standby)):
            state = .disconnecting(toError: false)
            return (.accepted, .openContactors)
        case (.connecting(let mode), .request(let request)) where request == .drive || request == .charge:
            return (mode == (request == .drive ? .drive : .charge) ? .pending : .illegal(.busy), .none)
        case (.connecting, .request):                    // reset: nothing latched outside the error state
            return (.accepted, .none)
        case (.connecting, .trip(let faults)):
            latched.formUnion(faults)
            state = .disconnecting(toError: true)
            return (nil, .openContactors)
        case (.connecting(let mode), .sequencer(.closed)):
            state = .connected(mode)
            return (nil, .none)
        case (.connecting, .sequencer(.failed(let fault))):
            latched.insert(fault)
            state = .error
            return (nil, .openContactors)
        case (.connecting, .sequencer(.opened)):
            state = .standby
            return (nil, .none)
        case (.connecting, .sequencer(.none)):
            return (nil, .none)

        // Connected.
        case (.connected, .request(.standby)):
            state = .disconnecting(toError: false)
            return (.accepted, .openContactors)
        case (.connected(let mode), .request(let request)) where request == .drive || request == .charge:
            return (mode == (request == .drive ? .drive : .charge) ? .accepted : .illegal(.modeChangeNeedsStandby), .none)
        case (.connected, .request):                     // reset: nothing latched outside the error state
            return (.accepted, .none)
        case (.connected, .trip(let faults)):
            latched.formUnion(faults)
            state = .disconnecting(toError: true)
            return (nil, .openContactors)
        case (.connected, .sequencer(.failed(let fault))):
            latched.insert(fault)
            state = .error
            return (nil, .openContactors)
        case (.connected, .sequencer(.opened)):
            state = .standby                             // not expected: an unasked opening is reported as .failed
            return (nil, .none)
        case (.connected, .sequencer(.closed)), (.connected, .sequencer(.none)):
            return (nil, .none)

        // Disconnecting.
        case (.disconnecting(let toError), .request(.standby)):
            return (toError ? .accepted : .pending, .none)
        case (.disconnecting(let toError), .request):
            return (.illegal(toError ? .latchedFault : .busy), .none)
        case (.disconnecting, .trip(let faults)):
            latched.formUnion(faults)
            state = .disconnecting(toError: true)
            return (nil, .none)
        case (.disconnecting(let toError), .sequencer(.opened)):
            state = toError ? .error : .standby
            return (nil, .none)
        case (.disconnecting, .sequencer(.failed(let fault))):
            latched.insert(fault)
            state = .error
            return (nil, .openContactors)
        case (.disconnecting, .sequencer(.closed)), (.disconnecting, .sequencer(.none)):
            return (nil, .none)

        // Error: contactors open, faults latched.
        case (.error, .request(.standby)):
            return (.accepted, .none)
        case (.error, .request(.drive)), (.error, .request(.charge)):
            return (.illegal(.latchedFault), .none)
        case (.error, .request(.reset)):
            guard latched.bits & present.bits == 0 else { return (.illegal(.faultPersists), .none) }
            latched = FaultSet()
            state = .standby
            return (.accepted, .resetSequencer)
        case (.error, .trip(let faults)):
            latched.formUnion(faults)
            return (nil, .none)
        case (.error, .sequencer(.failed(let fault))):
            latched.insert(fault)
            return (nil, .none)
        case (.error, .sequencer(.closed)):
            return (nil, .openContactors)
        case (.error, .sequencer(.opened)), (.error, .sequencer(.none)):
            return (nil, .none)
        }
    }

    /// The mode the pack is connected (or connecting) for, if any.
    public var mode: OperatingMode? {
        switch state {
        case .connecting(let m), .connected(let m): return m
        case .standby, .disconnecting, .error: return nil
        }
    }
}
