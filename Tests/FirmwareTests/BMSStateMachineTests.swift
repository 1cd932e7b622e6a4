// The BMS state machine's transition table, one test case per row, plus the reset and latched-fault rules.
import Firmware
import HAL
import Testing

@Suite struct BMSStateMachineTests {
    typealias State = BMSStateMachine.State
    typealias Event = BMSStateMachine.Event
    typealias Action = BMSStateMachine.Action

    static func faults(_ ids: FaultID...) -> FaultSet {
        var set = FaultSet()
        for id in ids { set.insert(id) }
        return set
    }

    /// The fault the setup trips to reach `disconnecting(toError: true)` and `error`.
    static let setupFault = faults(.cellOvervoltage)
    /// The faults a row's own trip carries.
    static let tripFaults = faults(.overcurrentDischarge, .cellVoltageStale)
    /// Latched after a row's trip on top of the setup's fault.
    static let setupAndTrip = faults(.cellOvervoltage, .overcurrentDischarge, .cellVoltageStale)

    /// The public events that bring a fresh machine to `state` (every step is checked).
    static func path(to state: State) -> [Event] {
        switch state {
        case .standby: return []
        case .connecting(let mode): return [.request(mode == .drive ? .drive : .charge)]
        case .connected(let mode): return path(to: .connecting(mode)) + [.sequencer(.closed)]
        case .disconnecting(toError: false): return path(to: .connected(.drive)) + [.request(.standby)]
        case .disconnecting(toError: true): return path(to: .connected(.drive)) + [.trip(setupFault)]
        case .error: return [.trip(setupFault)]
        }
    }

    static func reach(_ state: State) throws -> BMSStateMachine {
        var machine = BMSStateMachine()
        for event in path(to: state) { _ = machine.handle(event, present: FaultSet()) }
        try #require(machine.state == state, "setup did not reach \(state)")
        return machine
    }

    struct Row: CustomStringConvertible, Sendable {
        var name: String
        var from: State
        var event: Event
        var present = FaultSet()
        var answer: RequestAnswer?
        var action: Action
        var to: State
        var latched: FaultSet
        var description: String { name }
    }

    static let rows: [Row] = [
        // Standby.
        Row(name: "standby: standby request is accepted and changes nothing", from: .standby, event: .request(.standby),
            answer: .accepted, action: .none, to: .standby, latched: FaultSet()),
        Row(name: "standby: reset request is accepted (nothing latched)", from: .standby, event: .request(.reset),
            answer: .accepted, action: .none, to: .standby, latched: FaultSet()),
        Row(name: "standby: drive request closes the contactors for drive", from: .standby, event: .request(.drive),
            answer: .accepted, action: .closeContactors, to: .connecting(.drive), latched: FaultSet()),
        Row(name: "standby: charge request closes the contactors for charge", from: .standby, event: .request(.charge),
            answer: .accepted, action: .closeContactors, to: .connecting(.charge), latched: FaultSet()),
        Row(name: "standby: a trip latches its faults, opens and goes to error", from: .standby, event: .trip(tripFaults),
            answer: nil, action: .openContactors, to: .error, latched: tripFaults),
        Row(name: "standby: a sequencer failure latches it, opens and goes to error", from: .standby,
            event: .sequencer(.failed(.contactorWelded)),
            answer: nil, action: .openContactors, to: .error, latched: faults(.contactorWelded)),
        Row(name: "standby: an unrequested 'closed' from the sequencer is answered by opening", from: .standby,
            event: .sequencer(.closed), answer: nil, action: .openContactors, to: .standby, latched: FaultSet()),
        Row(name: "standby: sequencer 'opened' changes nothing", from: .standby, event: .sequencer(.opened),
            answer: nil, action: .none, to: .standby, latched: FaultSet()),
        Row(name: "standby: sequencer 'none' changes nothing", from: .standby, event: .sequencer(.none),
            answer: nil, action: .none, to: .standby, latched: FaultSet()),

        // Connecting.
        Row(name: "connecting(drive): standby request abandons closing and opens", from: .connecting(.drive),
            event: .request(.standby),
            answer: .accepted, action: .openContactors, to: .disconnecting(toError: false), latched: FaultSet()),
        Row(name: "connecting(charge): standby request abandons closing and opens", from: .connecting(.charge),
            event: .request(.standby),
            answer: .accepted, action: .openContactors, to: .disconnecting(toError: false), latched: FaultSet()),
        Row(name: "connecting(drive): repeated drive request is pending", from: .connecting(.drive), event: .request(.drive),
            answer: .pending, action: .none, to: .connecting(.drive), latched: FaultSet()),
        Row(name: "connecting(charge): repeated charge request is pending", from: .connecting(.charge), event: .request(.charge),
            answer: .pending, action: .none, to: .connecting(.charge), latched: FaultSet()),
        Row(name: "connecting(drive): charge request is refused as busy", from: .connecting(.drive), event: .request(.charge),
            answer: .illegal(.busy), action: .none, to: .connecting(.drive), latched: FaultSet()),
        Row(name: "connecting(charge): drive request is refused as busy", from: .connecting(.charge), event: .request(.drive),
            answer: .illegal(.busy), action: .none, to: .connecting(.charge), latched: FaultSet()),
        Row(name: "connecting: reset request is accepted and changes nothing", from: .connecting(.drive), event: .request(.reset),
            answer: .accepted, action: .none, to: .connecting(.drive), latched: FaultSet()),
        Row(name: "connecting: a trip latches, opens and disconnects to error", from: .connecting(.drive), event: .trip(tripFaults),
            answer: nil, action: .openContactors, to: .disconnecting(toError: true), latched: tripFaults),
        Row(name: "connecting(drive): sequencer 'closed' connects for drive", from: .connecting(.drive), event: .sequencer(.closed),
            answer: nil, action: .none, to: .connected(.drive), latched: FaultSet()),
        Row(name: "connecting(charge): sequencer 'closed' connects for charge", from: .connecting(.charge),
            event: .sequencer(.closed), answer: nil, action: .none, to: .connected(.charge), latched: FaultSet()),
        Row(name: "connecting: a sequencer failure latches it, opens and goes to error", from: .connecting(.charge),
            event: .sequencer(.failed(.prechargeFailed)),
            answer: nil, action: .openContactors, to: .error, latched: faults(.prechargeFailed)),
        Row(name: "connecting: sequencer 'opened' returns to standby", from: .connecting(.drive), event: .sequencer(.opened),
            answer: nil, action: .none, to: .standby, latched: FaultSet()),
        Row(name: "connecting: sequencer 'none' keeps connecting", from: .connecting(.drive), event: .sequencer(.none),
            answer: nil, action: .none, to: .connecting(.drive), latched: FaultSet()),

        // Connected.
        Row(name: "connected(drive): standby request opens", from: .connected(.drive), event: .request(.standby),
            answer: .accepted, action: .openContactors, to: .disconnecting(toError: false), latched: FaultSet()),
        Row(name: "connected(charge): standby request opens", from: .connected(.charge), event: .request(.standby),
            answer: .accepted, action: .openContactors, to: .disconnecting(toError: false), latched: FaultSet()),
        Row(name: "connected(drive): drive request is accepted (already there)", from: .connected(.drive), event: .request(.drive),
            answer: .accepted, action: .none, to: .connected(.drive), latched: FaultSet()),
        Row(name: "connected(charge): charge request is accepted (already there)", from: .connected(.charge),
            event: .request(.charge), answer: .accepted, action: .none, to: .connected(.charge), latched: FaultSet()),
        Row(name: "connected(drive): charge request needs standby first", from: .connected(.drive), event: .request(.charge),
            answer: .illegal(.modeChangeNeedsStandby), action: .none, to: .connected(.drive), latched: FaultSet()),
        Row(name: "connected(charge): drive request needs standby first", from: .connected(.charge), event: .request(.drive),
            answer: .illegal(.modeChangeNeedsStandby), action: .none, to: .connected(.charge), latched: FaultSet()),
        Row(name: "connected: reset request is accepted and changes nothing", from: .connected(.drive), event: .request(.reset),
            answer: .accepted, action: .none, to: .connected(.drive), latched: FaultSet()),
        Row(name: "connected: a trip latches, opens and disconnects to error", from: .connected(.charge), event: .trip(tripFaults),
            answer: nil, action: .openContactors, to: .disconnecting(toError: true), latched: tripFaults),
        Row(name: "connected: a sequencer failure latches it, opens and goes to error", from: .connected(.drive),
            event: .sequencer(.failed(.contactorFeedback)),
            answer: nil, action: .openContactors, to: .error, latched: faults(.contactorFeedback)),
        Row(name: "connected: sequencer 'opened' falls back to standby", from: .connected(.drive), event: .sequencer(.opened),
            answer: nil, action: .none, to: .standby, latched: FaultSet()),
        Row(name: "connected: sequencer 'closed' changes nothing", from: .connected(.drive), event: .sequencer(.closed),
            answer: nil, action: .none, to: .connected(.drive), latched: FaultSet()),
        Row(name: "connected: sequencer 'none' changes nothing", from: .connected(.drive), event: .sequencer(.none),
            answer: nil, action: .none, to: .connected(.drive), latched: FaultSet()),

        // Disconnecting.
        Row(name: "disconnecting(to standby): standby request is pending", from: .disconnecting(toError: false),
            event: .request(.standby),
            answer: .pending, action: .none, to: .disconnecting(toError: false), latched: FaultSet()),
        Row(name: "disconnecting(to error): standby request is accepted", from: .disconnecting(toError: true),
            event: .request(.standby),
            answer: .accepted, action: .none, to: .disconnecting(toError: true), latched: setupFault),
        Row(name: "disconnecting(to standby): drive request is refused as busy", from: .disconnecting(toError: false),
            event: .request(.drive),
            answer: .illegal(.busy), action: .none, to: .disconnecting(toError: false), latched: FaultSet()),
        Row(name: "disconnecting(to standby): charge request is refused as busy", from: .disconnecting(toError: false),
            event: .request(.charge),
            answer: .illegal(.busy), action: .none, to: .disconnecting(toError: false), latched: FaultSet()),
        Row(name: "disconnecting(to standby): reset request is refused as busy", from: .disconnecting(toError: false),
            event: .request(.reset),
            answer: .illegal(.busy), action: .none, to: .disconnecting(toError: false), latched: FaultSet()),
        Row(name: "disconnecting(to error): drive request is refused for the latched fault", from: .disconnecting(toError: true),
            event: .request(.drive),
            answer: .illegal(.latchedFault), action: .none, to: .disconnecting(toError: true), latched: setupFault),
        Row(name: "disconnecting(to error): charge request is refused for the latched fault", from: .disconnecting(toError: true),
            event: .request(.charge),
            answer: .illegal(.latchedFault), action: .none, to: .disconnecting(toError: true), latched: setupFault),
        Row(name: "disconnecting(to error): reset request is refused until the contactors are open",
            from: .disconnecting(toError: true), event: .request(.reset),
            answer: .illegal(.latchedFault), action: .none, to: .disconnecting(toError: true), latched: setupFault),
        Row(name: "disconnecting(to standby): a trip latches and redirects to error without a new open",
            from: .disconnecting(toError: false), event: .trip(tripFaults),
            answer: nil, action: .none, to: .disconnecting(toError: true), latched: tripFaults),
        Row(name: "disconnecting(to error): a further trip adds to the latched faults", from: .disconnecting(toError: true),
            event: .trip(tripFaults),
            answer: nil, action: .none, to: .disconnecting(toError: true), latched: setupAndTrip),
        Row(name: "disconnecting(to standby): sequencer 'opened' reaches standby", from: .disconnecting(toError: false),
            event: .sequencer(.opened), answer: nil, action: .none, to: .standby, latched: FaultSet()),
        Row(name: "disconnecting(to error): sequencer 'opened' reaches error", from: .disconnecting(toError: true),
            event: .sequencer(.opened), answer: nil, action: .none, to: .error, latched: setupFault),
        Row(name: "disconnecting(to standby): a sequencer failure latches it and goes to error",
            from: .disconnecting(toError: false), event: .sequencer(.failed(.contactorWelded)),
            answer: nil, action: .openContactors, to: .error, latched: faults(.contactorWelded)),
        Row(name: "disconnecting(to error): a sequencer failure adds to the latches and goes to error",
            from: .disconnecting(toError: true), event: .sequencer(.failed(.contactorWelded)),
            answer: nil, action: .openContactors, to: .error, latched: faults(.cellOvervoltage, .contactorWelded)),
        Row(name: "disconnecting: sequencer 'closed' changes nothing", from: .disconnecting(toError: false),
            event: .sequencer(.closed), answer: nil, action: .none, to: .disconnecting(toError: false), latched: FaultSet()),
        Row(name: "disconnecting: sequencer 'none' changes nothing", from: .disconnecting(toError: true),
            event: .sequencer(.none), answer: nil, action: .none, to: .disconnecting(toError: true), latched: setupFault),

        // Error.
        Row(name: "error: standby request is accepted and stays in error", from: .error, event: .request(.standby),
            answer: .accepted, action: .none, to: .error, latched: setupFault),
        Row(name: "error: drive request is refused for the latched fault", from: .error, event: .request(.drive),
            answer: .illegal(.latchedFault), action: .none, to: .error, latched: setupFault),
        Row(name: "error: charge request is refused for the latched fault", from: .error, event: .request(.charge),
            answer: .illegal(.latchedFault), action: .none, to: .error, latched: setupFault),
        Row(name: "error: reset is refused while a latched fault's cause is present", from: .error, event: .request(.reset),
            present: faults(.cellOvervoltage, .temperatureRiseRate),
            answer: .illegal(.faultPersists), action: .none, to: .error, latched: setupFault),
        Row(name: "error: reset with the causes gone clears the latches and resets the sequencer", from: .error,
            event: .request(.reset), present: faults(.temperatureRiseRate),
            answer: .accepted, action: .resetSequencer, to: .standby, latched: FaultSet()),
        Row(name: "error: a trip adds to the latched faults", from: .error, event: .trip(tripFaults),
            answer: nil, action: .none, to: .error, latched: setupAndTrip),
        Row(name: "error: a sequencer failure adds to the latched faults", from: .error, event: .sequencer(.failed(.contactorWelded)),
            answer: nil, action: .none, to: .error, latched: faults(.cellOvervoltage, .contactorWelded)),
        Row(name: "error: an unexpected 'closed' from the sequencer is answered by opening", from: .error,
            event: .sequencer(.closed), answer: nil, action: .openContactors, to: .error, latched: setupFault),
        Row(name: "error: sequencer 'opened' changes nothing", from: .error, event: .sequencer(.opened),
            answer: nil, action: .none, to: .error, latched: setupFault),
        Row(name: "error: sequencer 'none' changes nothing", from: .error, event: .sequencer(.none),
            answer: nil, action: .none, to: .error, latched: setupFault),
    ]

    @Test(arguments: rows)
    func transition(_ row: Row) throws {
        var machine = try Self.reach(row.from)
        let (answer, action) = machine.handle(row.event, present: row.present)
        #expect(answer == row.answer)
        #expect(action == row.action)
        #expect(machine.state == row.to)
        #expect(machine.latched == row.latched)
    }

    @Test func resetInErrorIsRefusedWhileALatchedCauseIsPresentAndAcceptedOnceItIsGone() throws {
        var machine = try Self.reach(.standby)
        _ = machine.handle(.trip(Self.faults(.cellOvervoltage, .overtemperatureCharge)), present: FaultSet())
        #expect(machine.state == .error)

        // Either cause still present refuses the reset and keeps every latch.
        for present in [Self.faults(.cellOvervoltage, .overtemperatureCharge), Self.faults(.overtemperatureCharge),
                        Self.faults(.cellOvervoltage, .cellUndervoltage)] {
            let (answer, action) = machine.handle(.request(.reset), present: present)
            #expect(answer == .illegal(.faultPersists))
            #expect(action == .none)
            #expect(machine.state == .error)
            #expect(machine.latched == Self.faults(.cellOvervoltage, .overtemperatureCharge))
        }

        // Gone (an unrelated warning does not matter): accepted, latches cleared, back to standby.
        let (answer, action) = machine.handle(.request(.reset), present: Self.faults(.cellUndervoltage))
        #expect(answer == .accepted)
        #expect(action == .resetSequencer)
        #expect(machine.state == .standby)
        #expect(machine.latched.isEmpty)

        // And the pack can be connected again.
        #expect(machine.handle(.request(.drive), present: FaultSet()) == (.accepted, .closeContactors))
    }

    @Test(arguments: [BMSRequest.drive, .charge])
    func driveAndChargeAreRefusedInErrorForTheLatchedFault(_ request: BMSRequest) throws {
        var machine = try Self.reach(.error)
        for present in [FaultSet(), Self.setupFault] {
            let (answer, action) = machine.handle(.request(request), present: present)
            #expect(answer == .illegal(.latchedFault))
            #expect(action == .none)
            #expect(machine.state == .error)
            #expect(machine.latched == Self.setupFault)
            #expect(machine.mode == nil)
        }
    }

    @Test func modeIsReportedOnlyWhileConnectingOrConnected() throws {
        #expect(try Self.reach(.standby).mode == nil)
        #expect(try Self.reach(.connecting(.drive)).mode == .drive)
        #expect(try Self.reach(.connecting(.charge)).mode == .charge)
        #expect(try Self.reach(.connected(.drive)).mode == .drive)
        #expect(try Self.reach(.connected(.charge)).mode == .charge)
        #expect(try Self.reach(.disconnecting(toError: false)).mode == nil)
        #expect(try Self.reach(.disconnecting(toError: true)).mode == nil)
        #expect(try Self.reach(.error).mode == nil)
    }
}
