// The black box (Docs/persistence.md): a ring of events — boots with what was restored, state
// transitions, faults latched, latches cleared, shutdown requests — with their time, kept in
// their own journal region of the store, and for every maximum-safety trip a snapshot of the
// seconds before and after it (cell voltages, temperatures, current, state every 200 ms). A
// service tool reads the region over CAN (TOOL_Request ReadEventLog → BMS_EventLogData, one
// stored word per frame); `bms-harness decode --events` turns it back into events.
import HAL

/// What an event records. Raw values are stable (stored).
public enum BlackBoxEventKind: UInt8, Sendable {
    /// The firmware started: `code` the restore outcome (0 unavailable, 1 empty, 2 restored,
    /// 3 configuration changed, 4 unknown format), `value` the restored checkpoint's sequence.
    case boot = 1
    /// The BMS state changed: `code` the new state, `value` the old one (`BlackBox.stateCode`).
    case state = 2
    /// A fault latched: `code` its FaultID, `value` every latched fault's bits.
    case faultLatched = 3
    /// Latched faults were cleared by a reset: `value` the bits cleared.
    case latchesCleared = 4
    /// A shutdown request was accepted.
    case shutdown = 5
    /// A snapshot follows for the trip of fault `code`: `value` = samples before | after << 8 |
    /// period in ms << 16.
    case snapshot = 6
    /// A cell's alert level changed (early warning): `code` the cell (0-based), `value` = level |
    /// reason << 8 | score << 16.
    case alert = 7
}

/// One event as stored: three words.
public struct BlackBoxEvent: Equatable, Sendable {
    /// Milliseconds since the boot (modulo 2³²: 49.7 days), and the boot count.
    public var milliseconds: UInt32
    public var boot: UInt16
    public var kind: UInt8
    public var code: UInt8
    public var value: UInt32
    public init(milliseconds: UInt32, boot: UInt16, kind: UInt8, code: UInt8, value: UInt32) {
        self.milliseconds = milliseconds
        self.boot = boot
        self.kind = kind
        self.code = code
        self.value = value
    }
    public init(words w0: UInt32, _ w1: UInt32, _ w2: UInt32) {
        self.init(milliseconds: w0, boot: UInt16(truncatingIfNeeded: w1 &>> 16), kind: UInt8(truncatingIfNeeded: w1 &>> 8),
                  code: UInt8(truncatingIfNeeded: w1), value: w2)
    }
    public var words: (UInt32, UInt32, UInt32) {
        (milliseconds, UInt32(boot) &<< 16 | UInt32(kind) &<< 8 | UInt32(code), value)
    }
}

/// The black box's state (see the file comment).
public struct BlackBox: Sendable {
    /// Journal record kinds in the event region.
    public static let eventsKind: UInt8 = 3, snapshotKind: UInt8 = 4
    /// Events waiting for the journal (three words each).
    public static let queuedEvents = 12
    /// Snapshot sampling period (two 100 ms slots) and ring size in words.
    public static let samplePeriodSlots = 2
    public static let ringWords = 160

    public internal(set) var journal: Journal<72>
    public private(set) var isAvailable = false
    var queue = InlineArray<36, UInt32>(repeating: 0)
    var queueCount = 0
    /// Events dropped because the queue was full (the journal could not keep up).
    public internal(set) var droppedEvents: UInt32 = 0
    // Snapshot ring: samples of `stride` words; `capacity` of them fit.
    var ring = InlineArray<160, UInt32>(repeating: 0)
    var stride = 1, capacity = 1
    var next = 0, filled = 0
    var slotPhase = 0
    /// A trip being recorded: its fault, samples still to take after it, and then the chunks
    /// being written (the ring is frozen meanwhile).
    var tripFault: UInt8 = 0
    var afterLeft = 0
    var writingFrom: Int? = nil
    /// Snapshots written whole.
    public internal(set) var snapshots: UInt32 = 0
    // Observation.
    var previousState: UInt8 = 0
    var previousLatched: UInt32 = 0
    /// The readout over CAN: the next word to send (nil: none running).
    public internal(set) var readoutIndex: Int? = nil

    init() {
        journal = Journal(region: JournalRegion(firstPage: 0, pageCount: 2), wordsPerPage: JournalRecordFormat.overheadWords + 1)
    }

    /// In place, for the region `region` (nil: no black box) and a pack of `cells` / `sensors`.
    mutating func reset(region: JournalRegion?, wordsPerPage: Int, cells: Int, sensors: Int) {
        isAvailable = region != nil
        journal.reset(region: region ?? JournalRegion(firstPage: 0, pageCount: 2), wordsPerPage: max(JournalRecordFormat.overheadWords + 1, wordsPerPage))
        queueCount = 0
        droppedEvents = 0
        stride = 3 + (cells + 1) / 2 + (sensors + 1) / 2
        capacity = max(2, min(16, BlackBox.ringWords / stride))
        next = 0
        filled = 0
        slotPhase = 0
        tripFault = 0
        afterLeft = 0
        writingFrom = nil
        snapshots = 0
        previousState = 0
        previousLatched = 0
        readoutIndex = nil
    }

    /// Words of the event region (what a readout sends).
    public var regionWords: Int { journal.region.pageCount * journal.wordsPerPage }

    /// A state as one byte: the state in the high nibble (0 standby, 1 connecting, 2 connected,
    /// 3 disconnecting, 4 error — BMS_Status's BmsState), the operating mode in the low one.
    public static func stateCode(_ s: BMSStateMachine.State) -> UInt8 {
        switch s {
        case .standby: return 0x00
        case .connecting(let mode): return 0x10 | mode.rawValue
        case .connected(let mode): return 0x20 | mode.rawValue
        case .disconnecting: return 0x30
        case .error: return 0x40
        }
    }

    /// A cell voltage in 16 bits (mV, 0…65,534), 0xFFFF when not valid.
    @inline(__always) static func packed(_ r: Reading<Millivolts>) -> UInt32 {
        guard let v = r.validValue?.rawValue else { return 0xFFFF }
        return v < 0 ? 0 : (v > 65_534 ? 65_534 : UInt32(bitPattern: v))
    }

    /// Queues an event at `milliseconds` since the boot (dropped and counted when the queue is full).
    mutating func record(_ kind: BlackBoxEventKind, code: UInt8, value: UInt32, milliseconds: UInt32, boot: UInt32) {
        guard isAvailable else { return }
        guard queueCount < BlackBox.queuedEvents else { droppedEvents &+= 1; return }
        let e = BlackBoxEvent(milliseconds: milliseconds, boot: UInt16(truncatingIfNeeded: boot),
                              kind: kind.rawValue, code: code, value: value).words
        queue[3 * queueCount] = e.0
        queue[3 * queueCount + 1] = e.1
        queue[3 * queueCount + 2] = e.2
        queueCount += 1
    }
}

extension ControlLoop {
    /// Once per tick, from the persistence stage: events from what changed, a snapshot sample
    /// every 200 ms, and the next record for the event journal when it and the checkpoint journal
    /// are idle; one readout frame when a readout runs.
    mutating func runBlackBox(hundredMillisecondSlot: Bool) {
        guard blackBox.isAvailable else { return }
        let boot = persistence.bootCount
        // Time since the boot in ticks of 1 ms (no 64-bit division on the Cortex-M).
        let now = UInt32(truncatingIfNeeded: schedule.tickCount)
        let state = BlackBox.stateCode(stateMachine.state)
        if state != blackBox.previousState {
            blackBox.record(.state, code: state, value: UInt32(blackBox.previousState), milliseconds: now, boot: boot)
            blackBox.previousState = state
        }
        let latched = stateMachine.latched.bits
        let added = latched & ~blackBox.previousLatched, cleared = blackBox.previousLatched & ~latched
        if added != 0 {
            let first = UInt8(truncatingIfNeeded: added.trailingZeroBitCount)
            blackBox.record(.faultLatched, code: first, value: latched, milliseconds: now, boot: boot)
            if blackBox.afterLeft == 0 && blackBox.writingFrom == nil && blackBox.filled > 0 {
                // A trip: the samples before it are in the ring; take as many after it.
                blackBox.tripFault = first
                blackBox.afterLeft = blackBox.capacity / 2
                let before = min(blackBox.filled, blackBox.capacity - blackBox.afterLeft)
                blackBox.record(.snapshot, code: first,
                                value: UInt32(before) | UInt32(blackBox.afterLeft) &<< 8 | UInt32(100 * BlackBox.samplePeriodSlots) &<< 16,
                                milliseconds: now, boot: boot)
            }
        }
        if cleared != 0 { blackBox.record(.latchesCleared, code: 0, value: cleared, milliseconds: now, boot: boot) }
        blackBox.previousLatched = latched

        if hundredMillisecondSlot && blackBox.writingFrom == nil {
            blackBox.slotPhase += 1
            if blackBox.slotPhase >= BlackBox.samplePeriodSlots {
                blackBox.slotPhase = 0
                takeSnapshotSample(milliseconds: now, state: state)
                if blackBox.afterLeft > 0 {
                    blackBox.afterLeft -= 1
                    if blackBox.afterLeft == 0 { blackBox.writingFrom = 0 }
                }
            }
        }

        if !hundredMillisecondSlot && !persistence.checkpoints.isWriting && !blackBox.journal.isWriting {
            if blackBox.queueCount > 0 {
                if blackBox.journal.open(kind: BlackBox.eventsKind) {
                    for i in 0..<3 * blackBox.queueCount { blackBox.journal.put(blackBox.queue[i]) }
                    blackBox.queueCount = 0
                    _ = blackBox.journal.close()
                }
            } else if let from = blackBox.writingFrom {
                writeSnapshotChunk(from: from)
            }
        }
        if blackBox.journal.isWriting && !persistence.checkpoints.isWriting { _ = blackBox.journal.step(&board.store) }
        sendEventLogWord()
    }

    /// One sample into the ring: time, current, state, cell voltages and temperatures (16 bits
    /// each, two per word; 0xFFFF / 0x7FFF when not valid).
    mutating func takeSnapshotSample(milliseconds: UInt32, state: UInt8) {
        var w = blackBox.next * blackBox.stride
        blackBox.ring[w] = milliseconds; w += 1
        blackBox.ring[w] = UInt32(bitPattern: measurements.pack.current.validValue?.rawValue ?? Int32.min); w += 1
        blackBox.ring[w] = UInt32(state); w += 1
        let cells = configuration.cellCount
        var i = 0
        while i < cells {
            let a = BlackBox.packed(measurements.cells.cellVoltages[i])
            let b = i + 1 < cells ? BlackBox.packed(measurements.cells.cellVoltages[i + 1]) : 0xFFFF
            blackBox.ring[w] = a | b &<< 16; w += 1
            i += 2
        }
        let sensors = configuration.temperatureSensorCount
        i = 0
        while i < sensors {
            let a = measurements.cells.temperatures[i].validValue.map { UInt32(UInt16(bitPattern: $0.rawValue)) } ?? 0x7FFF
            let b = i + 1 < sensors ? (measurements.cells.temperatures[i + 1].validValue.map { UInt32(UInt16(bitPattern: $0.rawValue)) } ?? 0x7FFF) : 0x7FFF
            blackBox.ring[w] = a | b &<< 16; w += 1
            i += 2
        }
        blackBox.next = blackBox.next + 1 == blackBox.capacity ? 0 : blackBox.next + 1
        if blackBox.filled < blackBox.capacity { blackBox.filled += 1 }
    }

    /// The next chunk of a frozen snapshot (as many samples as a record holds), oldest first.
    mutating func writeSnapshotChunk(from: Int) {
        let perRecord = max(1, (blackBox.journal.maximumPayloadWords - 1) / blackBox.stride)
        let count = min(perRecord, blackBox.filled - from)
        guard count > 0, blackBox.journal.open(kind: BlackBox.snapshotKind) else { return }
        let oldest = blackBox.filled < blackBox.capacity ? 0 : blackBox.next
        blackBox.journal.put(UInt32(blackBox.tripFault) &<< 24 | UInt32(from) &<< 8 | UInt32(count))
        for k in from..<from + count {
            var slot = oldest + k
            if slot >= blackBox.capacity { slot -= blackBox.capacity }
            for j in 0..<blackBox.stride { blackBox.journal.put(blackBox.ring[slot * blackBox.stride + j]) }
        }
        _ = blackBox.journal.close()
        if from + count >= blackBox.filled {
            blackBox.writingFrom = nil
            blackBox.snapshots &+= 1
            blackBox.filled = 0
            blackBox.next = 0
        } else {
            blackBox.writingFrom = from + count
        }
    }

    /// A ReadEventLog request: the readout starts from the region's first word.
    mutating func startEventLogReadout() {
        guard blackBox.isAvailable else { return }
        blackBox.readoutIndex = 0
    }

    /// One BMS_EventLogData frame per tick while a readout runs.
    mutating func sendEventLogWord() {
        guard let i = blackBox.readoutIndex, can.queue.count < TransmitQueue.capacity / 2 else { return }
        let region = blackBox.journal.region, perPage = blackBox.journal.wordsPerPage
        var m = CANMatrix.BMSEventLogData()
        m.wordIndex = UInt16(truncatingIfNeeded: i)
        m.pageWords = UInt16(truncatingIfNeeded: perPage)
        m.pages = UInt8(truncatingIfNeeded: region.pageCount)
        do { m.word = try board.store.read(page: region.firstPage + i / perPage, word: i % perPage) } catch { m.word = 0 }
        transmit(m.encode())
        blackBox.readoutIndex = i + 1 < blackBox.regionWords ? i + 1 : nil
    }
}
