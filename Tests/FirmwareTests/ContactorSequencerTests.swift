// The contactor sequencer's transition table, one test case per row, plus whole closing, opening and precharge-failure runs.
import Firmware
import HAL
import Testing

@Suite struct ContactorSequencerTests {
    typealias State = ContactorSequencer.State
    typealias Event = ContactorSequencer.Event
    typealias Observation = ContactorSequencer.Observation
    typealias Outcome = ContactorSequencer.Outcome

    // The standard policy for a 5 Ah cell: feedback timeout 100 ms, precharge 1 s × 3 attempts
    // 2 s apart, 2 V and 1 A, break current 150 A, fuse time 2 s, open verification 100 ms,
    // main positive breaks discharge current, main negative breaks charge current.
    static let configuration = StandardPolicy.contactors(testRatings(), breakCurrent: Milliamperes(150_000))
    static let restCurrent = Milliamperes(250)
    static let pack: Int32 = 400_000

    static func at(_ ms: Int64) -> Instant { Instant(microsecondsSinceOrigin: ms * 1_000) }

    static func feedback(_ mainPositive: ContactorPosition, _ mainNegative: ContactorPosition,
                         _ precharge: ContactorPosition) -> ContactorFeedback {
        ContactorFeedback(mainPositive: mainPositive, mainNegative: mainNegative, precharge: precharge)
    }
    static let allOpen = feedback(.open, .open, .open)
    static let negativeClosed = feedback(.open, .closed, .open)
    static let negativeAndPrecharge = feedback(.open, .closed, .closed)
    static let allClosed = feedback(.closed, .closed, .closed)
    static let mainsClosed = feedback(.closed, .closed, .open)
    static let positiveClosed = feedback(.closed, .open, .open)

    static func obs(_ ms: Int64, _ feedback: ContactorFeedback, pack: Int32? = pack, link: Int32? = 0,
                    current: Int32? = 0) -> Observation {
        Observation(now: at(ms), feedback: feedback, packVoltage: pack.map { Millivolts($0) },
                    linkVoltage: link.map { Millivolts($0) }, current: current.map { Milliamperes($0) })
    }

    static func open(_ c: Contactor) -> ContactorCommand { ContactorCommand(c, closed: false) }
    static func close(_ c: Contactor) -> ContactorCommand { ContactorCommand(c, closed: true) }

    static func list(_ commands: ContactorSequencer.Commands) -> [ContactorCommand] {
        commands.list.indices.map { commands.list[$0] }
    }

    /// A state reached from a fresh sequencer by feeding public events (`path`); `time` is the
    /// instant of the last of them.
    enum Start: CustomStringConvertible, Sendable {
        case open, closingNegative, precharging(attempt: UInt8), prechargeRetryWait(attempt: UInt8), closingPositive,
             releasingPrecharge, closed, waitingForBreakableCurrent, openingFirst(Contactor), openingSecond, verifyingOpen,
             failed

        /// Whether main positive has been commanded closed on the way here.
        var mainPositiveCommanded: Bool {
            switch self {
            case .closingPositive, .releasingPrecharge, .closed: return true
            default: return false
            }
        }

        var path: [Event] {
            switch self {
            case .open: return []
            case .closingNegative: return [.close(obs(1_000, allOpen))]
            case .precharging(attempt: 1): return Start.closingNegative.path + [.tick(obs(1_010, negativeClosed))]
            case .prechargeRetryWait(attempt: 1):
                return Start.precharging(attempt: 1).path + [.tick(obs(2_010, negativeAndPrecharge, link: 100_000, current: 3_000))]
            case .precharging(attempt: 2): return Start.prechargeRetryWait(attempt: 1).path + [.tick(obs(4_010, negativeClosed))]
            case .prechargeRetryWait(attempt: 2):
                return Start.precharging(attempt: 2).path + [.tick(obs(5_010, negativeAndPrecharge, link: 100_000, current: 3_000))]
            case .precharging: return Start.prechargeRetryWait(attempt: 2).path + [.tick(obs(7_010, negativeClosed))]
            case .prechargeRetryWait: fatalError("only two retry waits with three attempts")
            case .closingPositive:
                return Start.precharging(attempt: 1).path + [.tick(obs(1_500, negativeAndPrecharge, link: 399_000, current: 200))]
            case .releasingPrecharge: return Start.closingPositive.path + [.tick(obs(1_520, allClosed, link: pack))]
            case .closed: return Start.releasingPrecharge.path + [.tick(obs(1_530, mainsClosed, link: pack))]
            case .waitingForBreakableCurrent: return Start.closed.path + [.open(obs(10_000, mainsClosed, link: pack, current: -200_000))]
            case .openingFirst(let first):
                return Start.closed.path + [.open(obs(10_000, mainsClosed, link: pack, current: first == .mainNegative ? 10_000 : -10_000))]
            case .openingSecond: return Start.openingFirst(.mainPositive).path + [.tick(obs(10_020, negativeClosed, link: pack))]
            case .verifyingOpen: return Start.openingSecond.path + [.tick(obs(10_040, allOpen, link: pack))]
            case .failed: return [.tick(obs(500, positiveClosed))]
            }
        }

        var state: State {
            switch self {
            case .open: return .open
            case .closingNegative: return .closingNegative(deadline: at(1_100))
            case .precharging(attempt: 1): return .precharging(deadline: at(2_010), attempt: 1)
            case .precharging(attempt: 2): return .precharging(deadline: at(5_010), attempt: 2)
            case .precharging(let attempt): return .precharging(deadline: at(8_010), attempt: attempt)
            case .prechargeRetryWait(attempt: 1): return .prechargeRetryWait(until: at(4_010), attempt: 1)
            case .prechargeRetryWait(let attempt): return .prechargeRetryWait(until: at(7_010), attempt: attempt)
            case .closingPositive: return .closingPositive(deadline: at(1_600))
            case .releasingPrecharge: return .releasingPrecharge(deadline: at(1_620))
            case .closed: return .closed
            case .waitingForBreakableCurrent: return .waitingForBreakableCurrent(deadline: at(12_000))
            case .openingFirst(let first): return .openingFirst(deadline: at(10_100), first: first)
            case .openingSecond: return .openingSecond(deadline: at(10_120), second: .mainNegative)
            case .verifyingOpen: return .verifyingOpen(until: at(10_140))
            case .failed: return .failed(.contactorWelded)
            }
        }

        /// The instant of the last setup event (milliseconds).
        var time: Int64 {
            switch self {
            case .open: return 0
            case .closingNegative: return 1_000
            case .precharging(attempt: 1): return 1_010
            case .precharging(attempt: 2): return 4_010
            case .precharging: return 7_010
            case .prechargeRetryWait(attempt: 1): return 2_010
            case .prechargeRetryWait: return 5_010
            case .closingPositive: return 1_500
            case .releasingPrecharge: return 1_520
            case .closed: return 1_530
            case .waitingForBreakableCurrent, .openingFirst: return 10_000
            case .openingSecond: return 10_020
            case .verifyingOpen: return 10_040
            case .failed: return 500
            }
        }

        /// The feedback the setup's last event reported (unchanged contacts).
        var feedback: ContactorFeedback {
            switch self {
            case .open, .closingNegative, .failed: return allOpen
            case .precharging, .prechargeRetryWait: return negativeClosed
            case .closingPositive: return negativeAndPrecharge
            case .releasingPrecharge: return allClosed
            case .closed, .waitingForBreakableCurrent, .openingFirst: return mainsClosed
            case .openingSecond: return negativeClosed
            case .verifyingOpen: return allOpen
            }
        }

        var description: String {
            switch self {
            case .open: return "open"
            case .closingNegative: return "closingNegative"
            case .precharging(let a): return "precharging(attempt \(a))"
            case .prechargeRetryWait(let a): return "prechargeRetryWait(attempt \(a))"
            case .closingPositive: return "closingPositive"
            case .releasingPrecharge: return "releasingPrecharge"
            case .closed: return "closed"
            case .waitingForBreakableCurrent: return "waitingForBreakableCurrent"
            case .openingFirst(let c): return "openingFirst(\(c))"
            case .openingSecond: return "openingSecond"
            case .verifyingOpen: return "verifyingOpen"
            case .failed: return "failed"
            }
        }
    }

    static func reach(_ start: Start) throws -> ContactorSequencer {
        var sequencer = ContactorSequencer(configuration: configuration, restCurrent: restCurrent)
        for event in start.path { _ = sequencer.handle(event) }
        try #require(sequencer.state == start.state, "setup did not reach \(start)")
        return sequencer
    }

    enum ExpectedCommands: Sendable {
        /// Exactly these, in this order.
        case exactly([ContactorCommand])
        /// Every contactor commanded open (a failure) and nothing commanded closed.
        case everyContactorOpen
    }

    struct Row: CustomStringConvertible, Sendable {
        var name: String
        var from: Start
        var event: Event
        var commands: ExpectedCommands
        var outcome: Outcome
        var to: State
        var description: String { "\(from): \(name)" }
    }

    static func row(_ name: String, _ from: Start, _ event: Event, _ commands: [ContactorCommand], _ outcome: Outcome,
                    _ to: State) -> Row {
        Row(name: name, from: from, event: event, commands: .exactly(commands), outcome: outcome, to: to)
    }
    static func row(_ name: String, _ from: Start, _ event: Event, _ commands: [ContactorCommand], _ to: State) -> Row {
        row(name, from, event, commands, .none, to)
    }
    static func row(_ name: String, _ from: Start, _ event: Event, _ to: State) -> Row { row(name, from, event, [], .none, to) }

    static func failure(_ name: String, _ from: Start, _ event: Event, _ fault: FaultID) -> Row {
        Row(name: name, from: from, event: event, commands: .everyContactorOpen, outcome: .failed(fault), to: .failed(fault))
    }

    enum Kind: String, Sendable { case close, open, reset, tick }

    /// `kind` of event 1 ms after the setup, with unchanged feedback and no current.
    static func event(_ kind: Kind, after start: Start) -> Event {
        let o = obs(start.time + 1, start.feedback, link: pack)
        switch kind {
        case .close: return .close(o)
        case .open: return .open(o)
        case .reset: return .reset(o)
        case .tick: return .tick(o)
        }
    }

    /// A row where the event changes nothing.
    static func ignored(_ kind: Kind, _ from: Start, _ why: String) -> Row {
        row("\(kind.rawValue) is ignored (\(why))", from, event(kind, after: from), from.state)
    }

    static let closingStates: [Start] = [.closingNegative, .precharging(attempt: 1), .prechargeRetryWait(attempt: 1),
                                         .closingPositive, .releasingPrecharge]
    static let openingStates: [Start] = [.waitingForBreakableCurrent, .openingFirst(.mainPositive), .openingSecond, .verifyingOpen]

    static let rows: [Row] = {
        var rows: [Row] = [
            // Open and idle.
            row("close request closes main negative first", .open, .close(obs(1_000, allOpen)), [close(.mainNegative)],
                .closingNegative(deadline: at(1_100))),
            ignored(.open, .open, "already open"),
            ignored(.reset, .open, "nothing failed"),
            row("tick with every contact open stays open", .open, .tick(obs(1_000, allOpen)), .open),
            row("tick with unknown feedback is not taken as welded", .open, .tick(obs(1_000, ContactorFeedback())), .open),
            failure("main positive reporting closed is welded", .open, .tick(obs(1_000, positiveClosed)), .contactorWelded),
            failure("main negative reporting closed is welded", .open, .tick(obs(1_000, negativeClosed)), .contactorWelded),
            failure("precharge reporting closed is welded", .open, .tick(obs(1_000, feedback(.open, .open, .closed))), .contactorWelded),

            // Closing main negative.
            row("main negative reporting closed starts the precharge (attempt 1)", .closingNegative,
                .tick(obs(1_010, negativeClosed)), [close(.precharge)], .precharging(deadline: at(2_010), attempt: 1)),
            failure("the link jumping to the pack voltage while only main negative closes is a weld on the positive side",
                    .closingNegative, .tick(obs(1_010, ContactorFeedback(mainPositive: .closed, mainNegative: .closed, precharge: .open),
                                                link: pack)),
                    .contactorWelded),
            row("main negative not yet closed within the feedback timeout keeps waiting", .closingNegative,
                .tick(obs(1_099, allOpen)), .closingNegative(deadline: at(1_100))),
            failure("main negative still open at the feedback timeout is a feedback fault", .closingNegative,
                    .tick(obs(1_100, allOpen)), .contactorFeedback),

            // Precharging (attempt 1 of 3; deadline 2,010 ms).
            row("link 2 V below the pack and 1 A of current: precharged, main positive closes", .precharging(attempt: 1),
                .tick(obs(1_500, negativeAndPrecharge, link: pack - 2_000, current: 1_000)), [close(.mainPositive)],
                .closingPositive(deadline: at(1_600))),
            row("link 2 V above the pack and -1 A of current: precharged, main positive closes", .precharging(attempt: 1),
                .tick(obs(1_500, negativeAndPrecharge, link: pack + 2_000, current: -1_000)), [close(.mainPositive)],
                .closingPositive(deadline: at(1_600))),
            row("precharged exactly at the timeout still counts as success", .precharging(attempt: 1),
                .tick(obs(2_010, negativeAndPrecharge, link: pack, current: 0)), [close(.mainPositive)],
                .closingPositive(deadline: at(2_110))),
            row("voltage reached but current above the threshold keeps precharging", .precharging(attempt: 1),
                .tick(obs(1_500, negativeAndPrecharge, link: pack, current: 1_001)), .precharging(deadline: at(2_010), attempt: 1)),
            row("current low but link more than 2 V below the pack keeps precharging", .precharging(attempt: 1),
                .tick(obs(1_500, negativeAndPrecharge, link: pack - 2_001, current: 0)), .precharging(deadline: at(2_010), attempt: 1)),
            row("link more than 2 V above the pack keeps precharging", .precharging(attempt: 1),
                .tick(obs(1_500, negativeAndPrecharge, link: pack + 2_001, current: 0)), .precharging(deadline: at(2_010), attempt: 1)),
            row("no link voltage measurement keeps precharging", .precharging(attempt: 1),
                .tick(obs(1_500, negativeAndPrecharge, link: nil, current: 0)), .precharging(deadline: at(2_010), attempt: 1)),
            row("no pack voltage measurement keeps precharging", .precharging(attempt: 1),
                .tick(obs(1_500, negativeAndPrecharge, pack: nil, link: pack, current: 0)), .precharging(deadline: at(2_010), attempt: 1)),
            row("no current measurement keeps precharging", .precharging(attempt: 1),
                .tick(obs(1_500, negativeAndPrecharge, link: pack, current: nil)), .precharging(deadline: at(2_010), attempt: 1)),
            row("timeout on attempt 1 releases the precharge and waits 2 s to retry", .precharging(attempt: 1),
                .tick(obs(2_010, negativeAndPrecharge, link: 100_000, current: 3_000)), [open(.precharge)],
                .prechargeRetryWait(until: at(4_010), attempt: 1)),
            row("timeout on attempt 2 releases the precharge and waits 2 s to retry", .precharging(attempt: 2),
                .tick(obs(5_010, negativeAndPrecharge, link: 100_000, current: 3_000)), [open(.precharge)],
                .prechargeRetryWait(until: at(7_010), attempt: 2)),
            // Regression (found by this test): the last attempt's timeout used to add "precharge
            // open" before `fail` added three more to a list of three, dropping "main negative open".
            failure("timeout on the last attempt fails the precharge with every contactor commanded open", .precharging(attempt: 3),
                    .tick(obs(8_010, negativeAndPrecharge, link: 100_000, current: 3_000)), .prechargeFailed),

            // Waiting to retry the precharge.
            row("before the retry wait ends nothing happens", .prechargeRetryWait(attempt: 1), .tick(obs(4_009, negativeClosed)),
                .prechargeRetryWait(until: at(4_010), attempt: 1)),
            row("at the end of the retry wait the precharge closes again (attempt 2)", .prechargeRetryWait(attempt: 1),
                .tick(obs(4_010, negativeClosed)), [close(.precharge)], .precharging(deadline: at(5_010), attempt: 2)),
            row("at the end of the second retry wait the last attempt starts (attempt 3)", .prechargeRetryWait(attempt: 2),
                .tick(obs(7_010, negativeClosed)), [close(.precharge)], .precharging(deadline: at(8_010), attempt: 3)),

            // Closing main positive (deadline 1,600 ms).
            row("main positive reporting closed releases the precharge", .closingPositive, .tick(obs(1_520, allClosed, link: pack)),
                [open(.precharge)], .releasingPrecharge(deadline: at(1_620))),
            row("main positive not yet closed within the feedback timeout keeps waiting", .closingPositive,
                .tick(obs(1_599, negativeAndPrecharge, link: pack)), .closingPositive(deadline: at(1_600))),
            failure("main positive still open at the feedback timeout is a feedback fault", .closingPositive,
                    .tick(obs(1_600, negativeAndPrecharge, link: pack)), .contactorFeedback),

            // Releasing the precharge (deadline 1,620 ms).
            row("precharge reporting open: closed", .releasingPrecharge, .tick(obs(1_530, mainsClosed, link: pack)), [], .closed,
                .closed),
            row("precharge not yet open within the feedback timeout keeps waiting", .releasingPrecharge,
                .tick(obs(1_619, allClosed, link: pack)), .releasingPrecharge(deadline: at(1_620))),
            failure("precharge still closed at the feedback timeout is welded", .releasingPrecharge,
                    .tick(obs(1_620, allClosed, link: pack)), .contactorWelded),

            // Closed: feedback supervision.
            row("both mains reporting closed stays closed", .closed, .tick(obs(5_000, mainsClosed, link: pack, current: -50_000)),
                .closed),
            failure("main positive reporting open is a feedback fault", .closed, .tick(obs(5_000, negativeClosed, link: pack)),
                    .contactorFeedback),
            failure("main negative reporting open is a feedback fault", .closed, .tick(obs(5_000, positiveClosed, link: pack)),
                    .contactorFeedback),

            // Closed: open request.
            row("open with discharge current breaks with main positive (and precharge) first", .closed,
                .open(obs(10_000, mainsClosed, link: pack, current: -10_000)), [open(.mainPositive), open(.precharge)],
                .openingFirst(deadline: at(10_100), first: .mainPositive)),
            row("open with charge current breaks with main negative (and precharge) first", .closed,
                .open(obs(10_000, mainsClosed, link: pack, current: 10_000)), [open(.mainNegative), open(.precharge)],
                .openingFirst(deadline: at(10_100), first: .mainNegative)),
            row("open without a current measurement breaks with the discharge breaker", .closed,
                .open(obs(10_000, mainsClosed, link: pack, current: nil)), [open(.mainPositive), open(.precharge)],
                .openingFirst(deadline: at(10_100), first: .mainPositive)),
            row("open at exactly the break current breaks at once", .closed,
                .open(obs(10_000, mainsClosed, link: pack, current: -150_000)), [open(.mainPositive), open(.precharge)],
                .openingFirst(deadline: at(10_100), first: .mainPositive)),
            row("open above the break current (discharge) waits for a breakable current", .closed,
                .open(obs(10_000, mainsClosed, link: pack, current: -150_001)), .waitingForBreakableCurrent(deadline: at(12_000))),
            row("open above the break current (charge) waits for a breakable current", .closed,
                .open(obs(10_000, mainsClosed, link: pack, current: 200_000)), .waitingForBreakableCurrent(deadline: at(12_000))),

            // Waiting for a breakable current (deadline = fuse time, 12,000 ms).
            row("current still above the break current before the fuse time keeps waiting", .waitingForBreakableCurrent,
                .tick(obs(11_999, mainsClosed, link: pack, current: -200_000)), .waitingForBreakableCurrent(deadline: at(12_000))),
            row("discharge current falling to the break current breaks with main positive", .waitingForBreakableCurrent,
                .tick(obs(10_500, mainsClosed, link: pack, current: -150_000)), [open(.mainPositive), open(.precharge)],
                .openingFirst(deadline: at(10_600), first: .mainPositive)),
            row("current reversing to a breakable charge current breaks with main negative", .waitingForBreakableCurrent,
                .tick(obs(10_500, mainsClosed, link: pack, current: 50_000)), [open(.mainNegative), open(.precharge)],
                .openingFirst(deadline: at(10_600), first: .mainNegative)),
            row("after the fuse time it breaks regardless of the current", .waitingForBreakableCurrent,
                .tick(obs(12_000, mainsClosed, link: pack, current: -200_000)), [open(.mainPositive), open(.precharge)],
                .openingFirst(deadline: at(12_100), first: .mainPositive)),

            // Opening the first (breaking) contactor (deadline 10,100 ms).
            row("main positive reporting open opens main negative", .openingFirst(.mainPositive),
                .tick(obs(10_020, negativeClosed, link: pack)), [open(.mainNegative)],
                .openingSecond(deadline: at(10_120), second: .mainNegative)),
            row("main negative reporting open opens main positive", .openingFirst(.mainNegative),
                .tick(obs(10_020, positiveClosed, link: pack)), [open(.mainPositive)],
                .openingSecond(deadline: at(10_120), second: .mainPositive)),
            row("breaker not yet open within the feedback timeout keeps waiting", .openingFirst(.mainPositive),
                .tick(obs(10_099, mainsClosed, link: pack)), .openingFirst(deadline: at(10_100), first: .mainPositive)),
            failure("main positive still closed at the feedback timeout is welded", .openingFirst(.mainPositive),
                    .tick(obs(10_100, mainsClosed, link: pack)), .contactorWelded),
            failure("main negative still closed at the feedback timeout is welded", .openingFirst(.mainNegative),
                    .tick(obs(10_100, mainsClosed, link: pack)), .contactorWelded),

            // Opening the second contactor (deadline 10,120 ms).
            row("every contact reporting open starts the open verification", .openingSecond, .tick(obs(10_040, allOpen, link: pack)),
                .verifyingOpen(until: at(10_140))),
            row("second not yet open within the feedback timeout keeps waiting", .openingSecond,
                .tick(obs(10_119, negativeClosed, link: pack)), .openingSecond(deadline: at(10_120), second: .mainNegative)),
            failure("main negative still closed at the feedback timeout is welded", .openingSecond,
                    .tick(obs(10_120, negativeClosed, link: pack)), .contactorWelded),
            failure("precharge still closed at the feedback timeout is welded", .openingSecond,
                    .tick(obs(10_120, feedback(.open, .open, .closed), link: pack)), .contactorWelded),

            // Verifying open (until 10,140 ms).
            row("rest current before the verification time keeps verifying", .verifyingOpen,
                .tick(obs(10_100, allOpen, link: pack, current: 250)), .verifyingOpen(until: at(10_140))),
            failure("current above the rest current is welded", .verifyingOpen, .tick(obs(10_100, allOpen, link: pack, current: -251)),
                    .contactorWelded),
            row("rest current through the verification time: opened", .verifyingOpen,
                .tick(obs(10_140, allOpen, link: pack, current: -250)), [], .opened, .open),
            row("no current measurement through the verification time: opened", .verifyingOpen,
                .tick(obs(10_140, allOpen, link: pack, current: nil)), [], .opened, .open),

            // Failed.
            row("tick changes nothing, even with a contact reporting closed", .failed, .tick(obs(600, positiveClosed)),
                .failed(.contactorWelded)),
            ignored(.close, .failed, "a reset is needed first"),
            ignored(.open, .failed, "everything is already commanded open"),
            row("reset with every contact open verifies that no current flows", .failed, .reset(obs(600, allOpen)),
                .verifyingOpen(until: at(700))),
            row("reset with a contact still reporting closed stays failed", .failed, .reset(obs(600, positiveClosed)),
                .failed(.contactorWelded)),
            row("reset with unknown feedback stays failed", .failed, .reset(obs(600, ContactorFeedback())),
                .failed(.contactorWelded)),
        ]
        // Closing and closed: a further close is ignored; open abandons the closing sequence
        // with everything commanded open; reset is ignored.
        for start in closingStates + [.closed] { rows.append(ignored(.close, start, "already closing or closed")) }
        // Before main positive closes only precharge current can flow: everything opens at once.
        for start in closingStates where !start.mainPositiveCommanded {
            rows.append(row("open abandons closing with every contactor commanded open", start, event(.open, after: start),
                            [open(.mainPositive), open(.precharge), open(.mainNegative)],
                            .openingSecond(deadline: at(start.time + 1 + 100), second: .mainNegative)))
        }
        // Once main positive is commanded closed, opening follows the current's direction as from
        // closed (no current: the discharge breaker, main positive, first).
        for start in closingStates where start.mainPositiveCommanded {
            rows.append(row("open breaks with main positive first, as from closed", start, event(.open, after: start),
                            [open(.mainPositive), open(.precharge)],
                            .openingFirst(deadline: at(start.time + 1 + 100), first: .mainPositive)))
        }
        for start in closingStates + [.closed] { rows.append(ignored(.reset, start, "nothing failed")) }
        // Opening: open, close and reset are ignored until the sequence finishes.
        for start in openingStates {
            rows.append(ignored(.open, start, "already opening"))
            rows.append(ignored(.close, start, "opening finishes first"))
            rows.append(ignored(.reset, start, "nothing failed"))
        }
        return rows
    }()

    @Test(arguments: rows)
    func transition(_ row: Row) throws {
        var sequencer = try Self.reach(row.from)
        let (commands, outcome) = sequencer.handle(row.event)
        let issued = Self.list(commands)
        switch row.commands {
        case .exactly(let expected):
            #expect(issued == expected)
        case .everyContactorOpen:
            for contactor in [Contactor.mainPositive, .mainNegative, .precharge] {
                #expect(issued.contains(Self.open(contactor)), "\(contactor) not commanded open")
            }
            #expect(!issued.contains { $0.closed }, "a contactor commanded closed")
        }
        #expect(outcome == row.outcome)
        #expect(sequencer.state == row.to)
    }

    // Whole sequences.

    /// Feeds `events`, collecting every command issued and the last outcome that was not `.none`.
    static func run(_ sequencer: inout ContactorSequencer, _ events: [Event]) -> (commands: [ContactorCommand], outcome: Outcome) {
        var all: [ContactorCommand] = []
        var last = Outcome.none
        for event in events {
            let (commands, outcome) = sequencer.handle(event)
            all += list(commands)
            if outcome != .none { last = outcome }
        }
        return (all, last)
    }

    @Test func closingOrderIsMainNegativePrechargeMainPositiveThenPrechargeReleased() throws {
        var sequencer = try Self.reach(.open)
        #expect(!sequencer.isClosedOrClosing)
        let (commands, outcome) = Self.run(&sequencer, Start.closed.path)
        #expect(commands == [Self.close(.mainNegative), Self.close(.precharge), Self.close(.mainPositive), Self.open(.precharge)])
        #expect(outcome == .closed)
        #expect(sequencer.state == .closed)
        #expect(sequencer.isClosedOrClosing)
    }

    @Test func prechargeNeedsBothVoltageAndCurrentWithinThreshold() throws {
        var sequencer = try Self.reach(.precharging(attempt: 1))
        // Voltage there, current not yet down; then current down, voltage not there.
        #expect(Self.list(sequencer.handle(.tick(Self.obs(1_100, Self.negativeAndPrecharge, link: Self.pack, current: 5_000))).commands)
                    .isEmpty)
        #expect(Self.list(sequencer.handle(.tick(Self.obs(1_200, Self.negativeAndPrecharge, link: 390_000, current: 500))).commands)
                    .isEmpty)
        #expect(sequencer.state == .precharging(deadline: Self.at(2_010), attempt: 1))
        // Both: main positive closes.
        let (commands, _) = sequencer.handle(.tick(Self.obs(1_300, Self.negativeAndPrecharge, link: 398_500, current: 900)))
        #expect(Self.list(commands) == [Self.close(.mainPositive)])
        #expect(sequencer.state == .closingPositive(deadline: Self.at(1_400)))
    }

    @Test func prechargeTimeoutRetriesAndThenFailsAfterTheLastAttempt() throws {
        var sequencer = try Self.reach(.closingNegative)
        let stuck = { (ms: Int64) in Event.tick(Self.obs(ms, Self.negativeAndPrecharge, link: 100_000, current: 3_000)) }
        var commands: [ContactorCommand]
        var outcome: Outcome

        // Attempt 1: precharge closes, times out after 1 s, is released.
        (commands, _) = Self.run(&sequencer, [.tick(Self.obs(1_010, Self.negativeClosed)), stuck(2_009)])
        #expect(commands == [Self.close(.precharge)])
        (commands, _) = Self.run(&sequencer, [stuck(2_010)])
        #expect(commands == [Self.open(.precharge)])
        #expect(sequencer.state == .prechargeRetryWait(until: Self.at(4_010), attempt: 1))
        // Wait 2 s, attempt 2, timeout.
        (commands, _) = Self.run(&sequencer, [.tick(Self.obs(4_009, Self.negativeClosed))])
        #expect(commands.isEmpty)
        (commands, _) = Self.run(&sequencer, [.tick(Self.obs(4_010, Self.negativeClosed)), stuck(5_010)])
        #expect(commands == [Self.close(.precharge), Self.open(.precharge)])
        #expect(sequencer.state == .prechargeRetryWait(until: Self.at(7_010), attempt: 2))
        // Attempt 3 (the last): timeout fails.
        (commands, outcome) = Self.run(&sequencer, [.tick(Self.obs(7_010, Self.negativeClosed))])
        #expect(commands == [Self.close(.precharge)])
        #expect(outcome == .none)
        #expect(sequencer.state == .precharging(deadline: Self.at(8_010), attempt: 3))
        (commands, outcome) = Self.run(&sequencer, [stuck(8_010)])
        #expect(outcome == .failed(.prechargeFailed))
        #expect(sequencer.state == .failed(.prechargeFailed))
        #expect(!sequencer.isClosedOrClosing)
        // Regression: main negative's open command used to be dropped (four commands into a list
        // of three). Every contactor is commanded open in the failing transition.
        #expect(commands.contains(Self.open(.mainNegative)), "main negative left closed after the precharge failed")
        #expect(commands.contains(Self.open(.mainPositive)))
        #expect(commands.contains(Self.open(.precharge)))
        #expect(!commands.contains { $0.closed })
    }

    @Test func closingTimesOutWithAFeedbackFaultWhenAContactorNeverReportsClosed() throws {
        var sequencer = try Self.reach(.closingNegative)
        let (commands, outcome) = Self.run(&sequencer, [.tick(Self.obs(1_050, Self.allOpen)), .tick(Self.obs(1_100, Self.allOpen))])
        #expect(commands == [Self.open(.mainPositive), Self.open(.precharge), Self.open(.mainNegative)])
        #expect(outcome == .failed(.contactorFeedback))
        #expect(sequencer.state == .failed(.contactorFeedback))
    }

    @Test(arguments: [(Int32(-80_000), Contactor.mainPositive, Contactor.mainNegative),
                      (Int32(60_000), Contactor.mainNegative, Contactor.mainPositive)])
    func openingBreaksWithTheContactorRatedForTheCurrentsDirectionThenOpensTheOther(
        current: Int32, first: Contactor, second: Contactor
    ) throws {
        var sequencer = try Self.reach(.closed)
        var stillClosed = Self.mainsClosed
        var (commands, outcome) = Self.run(&sequencer, [.open(Self.obs(10_000, Self.mainsClosed, link: Self.pack, current: current))])
        #expect(commands == [Self.open(first), Self.open(.precharge)])
        stillClosed[first] = .open
        (commands, outcome) = Self.run(&sequencer, [.tick(Self.obs(10_030, stillClosed, link: Self.pack, current: 0))])
        #expect(commands == [Self.open(second)])
        (commands, outcome) = Self.run(&sequencer, [.tick(Self.obs(10_060, Self.allOpen, link: Self.pack, current: 100))])
        #expect(commands.isEmpty)
        #expect(sequencer.state == .verifyingOpen(until: Self.at(10_160)))
        (commands, outcome) = Self.run(&sequencer, [.tick(Self.obs(10_159, Self.allOpen, current: 0))])
        #expect(outcome == .none)
        (commands, outcome) = Self.run(&sequencer, [.tick(Self.obs(10_160, Self.allOpen, current: 0))])
        #expect(commands.isEmpty)
        #expect(outcome == .opened)
        #expect(sequencer.state == .open)
    }

    @Test func openingAboveTheBreakCurrentWaitsUntilTheCurrentFallsBelowIt() throws {
        var sequencer = try Self.reach(.closed)
        var (commands, _) = Self.run(&sequencer, [.open(Self.obs(10_000, Self.mainsClosed, link: Self.pack, current: -300_000)),
                                                  .tick(Self.obs(11_000, Self.mainsClosed, link: Self.pack, current: -160_000))])
        #expect(commands.isEmpty)
        #expect(sequencer.state == .waitingForBreakableCurrent(deadline: Self.at(12_000)))
        (commands, _) = Self.run(&sequencer, [.tick(Self.obs(11_500, Self.mainsClosed, link: Self.pack, current: -140_000))])
        #expect(commands == [Self.open(.mainPositive), Self.open(.precharge)])
        #expect(sequencer.state == .openingFirst(deadline: Self.at(11_600), first: .mainPositive))
    }

    @Test func openingAboveTheBreakCurrentBreaksAnywayOnceTheFuseTimeHasPassed() throws {
        var sequencer = try Self.reach(.closed)
        var (commands, _) = Self.run(&sequencer, [.open(Self.obs(10_000, Self.mainsClosed, link: Self.pack, current: 300_000)),
                                                  .tick(Self.obs(11_999, Self.mainsClosed, link: Self.pack, current: 300_000))])
        #expect(commands.isEmpty)
        (commands, _) = Self.run(&sequencer, [.tick(Self.obs(12_000, Self.mainsClosed, link: Self.pack, current: 300_000))])
        #expect(commands == [Self.open(.mainNegative), Self.open(.precharge)])
        #expect(sequencer.state == .openingFirst(deadline: Self.at(12_100), first: .mainNegative))
    }

    @Test func aContactStillReportedClosedAfterTheFeedbackTimeoutWhileOpeningIsWelded() throws {
        var sequencer = try Self.reach(.openingSecond)
        let (commands, outcome) = Self.run(&sequencer, [.tick(Self.obs(10_100, Self.negativeClosed)),
                                                        .tick(Self.obs(10_120, Self.negativeClosed))])
        #expect(commands == [Self.open(.mainPositive), Self.open(.precharge), Self.open(.mainNegative)])
        #expect(outcome == .failed(.contactorWelded))
        #expect(sequencer.state == .failed(.contactorWelded))
    }

    @Test func currentAboveRestWhileVerifyingOpenIsWelded() throws {
        var sequencer = try Self.reach(.verifyingOpen)
        let (commands, outcome) = Self.run(&sequencer, [.tick(Self.obs(10_050, Self.allOpen, current: 5_000))])
        #expect(commands == [Self.open(.mainPositive), Self.open(.precharge), Self.open(.mainNegative)])
        #expect(outcome == .failed(.contactorWelded))
    }

    @Test func abandoningAClosingSequenceCommandsEverythingOpenAndFinishesOpening() throws {
        var sequencer = try Self.reach(.precharging(attempt: 1))
        var (commands, outcome) = Self.run(&sequencer, [.open(Self.obs(1_010, Self.negativeAndPrecharge, link: 300_000))])
        #expect(commands == [Self.open(.mainPositive), Self.open(.precharge), Self.open(.mainNegative)])
        #expect(!sequencer.isClosedOrClosing)
        (commands, outcome) = Self.run(&sequencer, [.tick(Self.obs(1_030, Self.allOpen)), .tick(Self.obs(1_130, Self.allOpen))])
        #expect(commands.isEmpty)
        #expect(outcome == .opened)
        #expect(sequencer.state == .open)
    }

    @Test func closedWithAMainReportedUnknownIsAFeedbackFault() throws {
        var sequencer = try Self.reach(.closed)
        var unknown = Self.mainsClosed
        unknown.mainPositive = .unknown
        let (commands, outcome) = Self.run(&sequencer, [.tick(Self.obs(10_000, unknown))])
        #expect(commands == [Self.open(.mainPositive), Self.open(.precharge), Self.open(.mainNegative)])
        #expect(outcome == .failed(.contactorFeedback))
    }

    @Test func failedIgnoresCloseOpenAndTickAndResetsOnlyWithEveryContactOpen() throws {
        var sequencer = try Self.reach(.failed)
        let (commands, outcome) = Self.run(&sequencer, [.close(Self.obs(510, Self.allOpen)), .open(Self.obs(520, Self.allOpen)),
                                                        .tick(Self.obs(530, Self.allOpen)),
                                                        .reset(Self.obs(540, Self.feedback(.open, .open, .closed)))])
        #expect(commands.isEmpty)
        #expect(outcome == .none)
        #expect(sequencer.state == .failed(.contactorWelded))
        // Every contact open: verify, then back to open and able to close again.
        var (more, last) = Self.run(&sequencer, [.reset(Self.obs(550, Self.allOpen)), .tick(Self.obs(650, Self.allOpen))])
        #expect(more.isEmpty)
        #expect(last == .opened)
        #expect(sequencer.state == .open)
        (more, last) = Self.run(&sequencer, [.close(Self.obs(700, Self.allOpen))])
        #expect(more == [Self.close(.mainNegative)])
    }
}
