// What survives a power cycle (Docs/persistence.md): a checkpoint record in the store's journal
// — SOC per element with its uncertainty, learned capacities and resistances, cycle count and
// lifetime charge throughput, the current-sensor offset, lifetime bled charge per cell, latched
// faults, the boot count and the configuration's fingerprint — written at sensible moments
// (periodically while the charge moves, when the contactors open, when a fault latches, on a
// shutdown request) and read back when the loop starts.
import HAL

/// When checkpoints are written.
public struct PersistenceConfiguration: Sendable {
    /// A periodic checkpoint while the charge moves: at most this often…
    public var checkpointInterval: Microseconds
    /// …and only when at least this much charge (fraction of the rated capacity) went in or out
    /// since the last one (a parked pack writes nothing).
    public var minimumChargeFraction: Float
    public init(checkpointInterval: Microseconds = .seconds(900), minimumChargeFraction: Float = 0.005) {
        self.checkpointInterval = checkpointInterval
        self.minimumChargeFraction = minimumChargeFraction
    }
}

/// Why a checkpoint was written. Raw values are stable (stored).
public enum CheckpointReason: UInt8, Sendable {
    case periodic = 1
    case contactorsOpened = 2
    case faultLatched = 3
    case shutdown = 4
}

/// What the loop found in the store when it started.
public enum RestoreOutcome: Equatable, Sendable {
    /// The store is too small for the journals (fewer than 4 pages, or pages too small for a
    /// checkpoint): nothing is kept.
    case unavailable
    /// No valid checkpoint (a new or wiped store, or every record damaged): the safe defaults of
    /// a first start.
    case empty
    /// The checkpoint with this sequence number was restored.
    case restored(sequence: UInt32)
    /// A checkpoint of another configuration (cell count or fingerprint differ): the latched
    /// faults, lifetime counters and boot count were kept, the per-element estimates were not.
    case configurationChanged(sequence: UInt32)
    /// A checkpoint in a format this firmware does not read: safe defaults.
    case unknownFormat(sequence: UInt32)
}

#if BMS_16_CELLS
/// The checkpoint journal, its record buffer sized for the build's largest checkpoint (16 + 10 ×
/// 16 words, and the header and sequence number).
public typealias CheckpointJournal = Journal<180>
#else
/// The checkpoint journal, its record buffer sized for the build's largest checkpoint (16 + 10 ×
/// 32 words, and the header and sequence number).
public typealias CheckpointJournal = Journal<340>
#endif

/// The loop's persistence state: the journals, the lifetime counters carried across boots, and
/// the trigger bookkeeping.
public struct Persistence: Sendable {
    public static let formatVersion: UInt32 = 1
    /// Words before the per-element blocks, and per element.
    static let headerWords = 16, elementWords = 10
    static let checkpointKind: UInt8 = 1

    public private(set) var configuration: PersistenceConfiguration
    public internal(set) var checkpoints: CheckpointJournal
    public private(set) var isAvailable = false
    public internal(set) var restoreOutcome = RestoreOutcome.unavailable
    /// Starts of the firmware with this store, this one included.
    public internal(set) var bootCount: UInt32 = 1
    /// Lifetime charge (C) into and out of the pack before this boot, and bled per cell (C).
    public internal(set) var chargeInBefore: UInt32 = 0, chargeOutBefore: UInt32 = 0
    public internal(set) var bledBefore: PerCell<UInt32>
    /// Checkpoint bookkeeping.
    var lastCheckpointAt: Instant? = nil
    var lastCheckpointCharge: Int64 = 0
    var previousLatched = FaultSet()
    var wasConnected = false
    /// A shutdown request is being served: the next checkpoint, then `stateSaved`.
    var shutdownPending = false
    /// After a shutdown request: the contactors were open when its checkpoint committed.
    public internal(set) var stateSaved = false
    var reasonWaiting: CheckpointReason? = nil
    public internal(set) var lastReason: CheckpointReason? = nil
    /// A "connected" marker is due (the contactors closed since the last record).
    var markerWaiting = false
    /// Whether the restored checkpoint's SOC was used (see `restoreFromStore`).
    public internal(set) var socRestored = false
    static let connectedMarkerKind: UInt8 = 2

    /// The journals for `geometry`: the checkpoint journal takes every page of the store (the
    /// black box takes its own store region when it joins). Unavailable below 2 pages or with
    /// pages too small for a checkpoint of `cellCount` elements.
    init(geometry: StoreGeometry, cellCount: Int, configuration: PersistenceConfiguration) {
        self.configuration = configuration
        checkpoints = Journal(region: JournalRegion(firstPage: 0, pageCount: 2), wordsPerPage: JournalRecordFormat.overheadWords + 1)
        bledBefore = PerCell(repeating: 0, count: cellCount)
        reset(geometry: geometry, cellCount: cellCount, configuration: configuration)
    }

    /// Back to the state of a loop that has not read the store yet (in place: the loop of the
    /// Cortex-M image lives in static storage).
    mutating func reset(geometry: StoreGeometry, cellCount: Int, configuration: PersistenceConfiguration) {
        self.configuration = configuration
        let words = Persistence.headerWords + Persistence.elementWords * cellCount
        isAvailable = geometry.pageCount >= 2 && geometry.wordsPerPage >= words + JournalRecordFormat.overheadWords
        checkpoints.reset(region: Persistence.layout(geometry).checkpoints,
                          wordsPerPage: max(JournalRecordFormat.overheadWords + 1, geometry.wordsPerPage))
        restoreOutcome = .unavailable
        bootCount = 1
        chargeInBefore = 0
        chargeOutBefore = 0
        bledBefore.removeAll()
        for _ in 0..<cellCount { bledBefore.append(0) }
        lastCheckpointAt = nil
        lastCheckpointCharge = 0
        previousLatched = FaultSet()
        wasConnected = false
        shutdownPending = false
        stateSaved = false
        reasonWaiting = nil
        lastReason = nil
        markerWaiting = false
        socRestored = false
    }

    /// How the store is shared: the black box's events take the last quarter of the pages (at
    /// least 2, at most 14: BMS_EventLogData counts pages in 4 bits) when the store has 4 pages
    /// or more and pages of at most 4,094 words; the checkpoints take the rest (all of it
    /// otherwise, with no black box then).
    public static func layout(_ g: StoreGeometry) -> (checkpoints: JournalRegion, events: JournalRegion?) {
        guard g.pageCount >= 4, g.wordsPerPage <= 4_094 else { return (JournalRegion(firstPage: 0, pageCount: max(2, g.pageCount)), nil) }
        let events = min(14, max(2, g.pageCount / 4))
        return (JournalRegion(firstPage: 0, pageCount: g.pageCount - events), JournalRegion(firstPage: g.pageCount - events, pageCount: events))
    }

    /// A shutdown request: open the contactors (the caller asks the state machine), checkpoint,
    /// then report `stateSaved`.
    mutating func requestShutdown() {
        shutdownPending = true
        stateSaved = false
        if lastReason == .shutdown { lastReason = nil }
    }
}

// MARK: - the loop's side

extension ControlLoop {
    /// Reads the latest checkpoint and resumes from it (called once, as the loop starts).
    mutating func restoreFromStore() {
        restoreCheckpoint()
        let geometry = board.store.geometry
        blackBox.reset(region: Persistence.layout(geometry).events, wordsPerPage: geometry.wordsPerPage,
                       cells: configuration.cellCount, sensors: configuration.temperatureSensorCount)
        guard blackBox.isAvailable else { return }
        _ = blackBox.journal.recover(&board.store)
        blackBox.previousState = BlackBox.stateCode(stateMachine.state)
        blackBox.previousLatched = stateMachine.latched.bits
        let code: UInt8, sequence: UInt32
        switch persistence.restoreOutcome {
        case .unavailable: (code, sequence) = (0, 0)
        case .empty: (code, sequence) = (1, 0)
        case .restored(let s): (code, sequence) = (2, s)
        case .configurationChanged(let s): (code, sequence) = (3, s)
        case .unknownFormat(let s): (code, sequence) = (4, s)
        }
        blackBox.record(.boot, code: code, value: sequence, milliseconds: 0, boot: persistence.bootCount)
    }

    /// Reads the latest checkpoint and resumes from it.
    mutating func restoreCheckpoint() {
        guard persistence.isAvailable else { persistence.restoreOutcome = .unavailable; return }
        let scan = persistence.checkpoints.recover(&board.store, selecting: Persistence.checkpointKind)
        guard let sequence = scan.selectedSequence, scan.selectedPayloadWords >= Persistence.headerWords else {
            persistence.restoreOutcome = .empty
            return
        }
        // The header words into a small table (one read loop: compact code for a once-a-boot path).
        var header = InlineArray<16, UInt32>(repeating: 0)
        for i in 0..<Persistence.headerWords { header[i] = persistence.checkpoints.payloadWord(&board.store, scan, i) }
        @inline(__always) func word(_ i: Int) -> UInt32 { header[i] }
        let format = word(0)
        guard format &>> 16 == Persistence.formatVersion else {
            persistence.restoreOutcome = .unknownFormat(sequence: sequence)
            return
        }
        // Safety first: latched faults stay latched whatever else changed.
        stateMachine.restoreLatched(FaultSet(bits: word(3)))
        persistence.previousLatched = stateMachine.latched
        persistence.bootCount = (word(2) & 0xFF_FFFF) &+ 1
        persistence.chargeInBefore = word(4)
        persistence.chargeOutBefore = word(5)
        let cells = Int((format &>> 8) & 0xFF)
        guard cells == configuration.cellCount, word(1) == configurationFingerprint(),
              scan.selectedPayloadWords == Persistence.headerWords + Persistence.elementWords * cells else {
            persistence.restoreOutcome = .configurationChanged(sequence: sequence)
            return
        }
        health.restore(history: RiskHistory(words: (word(12), word(13), word(14), word(15))))
        var element = InlineArray<10, UInt32>(repeating: 0)
        func readElement(_ i: Int) {
            for k in 0..<Persistence.elementWords {
                element[k] = persistence.checkpoints.payloadWord(&board.store, scan, Persistence.headerWords + Persistence.elementWords * i + k)
            }
        }
        for i in 0..<cells {
            readElement(i)
            persistence.bledBefore[i] = element[9]
        }
        // The SOC is trusted only when nothing can have moved charge after the checkpoint: it was
        // written with the contactors open (shutdown, opening, a latch) and no "connected" marker
        // follows it. Otherwise (a periodic checkpoint, or the pack connected again after it) the
        // power went while current may have flowed: the elements start from their voltages as on
        // a first start, keeping what was learned of them.
        let reason = CheckpointReason(rawValue: UInt8(truncatingIfNeeded: word(2) &>> 24))
        let socTrusted = scan.latestSequence == sequence && reason != nil && reason != .periodic
        persistence.socRestored = socTrusted
        #if !BMS_NO_ESTIMATOR
        if estimator.isEnabled {
            estimator.equivalentFullCycles = Float(bitPattern: word(6))
            estimator.restoreTrend((Float(bitPattern: word(7)), Float(bitPattern: word(8)), Float(bitPattern: word(9)),
                                    Float(bitPattern: word(10)), Float(bitPattern: word(11))))
            for i in 0..<cells {
                readElement(i)
                func f(_ k: Int) -> Float { Float(bitPattern: element[k]) }
                estimator.resume(element: i, soc: socTrusted ? f(0) : .nan, displayed: f(1), socVariance: f(2), currentOffset: f(3),
                                 drift: f(4), hysteresis: f(5), capacityAh: f(6), resistanceFactor: f(7), updates: element[8])
            }
        }
        #endif
        persistence.restoreOutcome = .restored(sequence: sequence)
    }

    /// A CRC over what makes a checkpoint meaningful for this pack: cell and sensor counts, the
    /// rated capacity, the OCV curve and the rest current (the configuration's "version").
    /// (`mutating` only so that it reads the loop in place: as a `func` on the loop it copied the
    /// whole loop, 13.6 KB, into the caller's frame on the Cortex-M; Docs/firmware-budget.md.)
    mutating func configurationFingerprint() -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        crc = JournalRecordFormat.crc(crc, UInt32(truncatingIfNeeded: configuration.cellCount))
        crc = JournalRecordFormat.crc(crc, UInt32(truncatingIfNeeded: configuration.temperatureSensorCount))
        crc = JournalRecordFormat.crc(crc, UInt32(truncatingIfNeeded: configuration.ratedCapacity.rawValue))
        crc = JournalRecordFormat.crc(crc, UInt32(bitPattern: configuration.restCurrent.rawValue))
        // The curve's points read where they are (a copy of the curve, then of its list per point
        // read, cost ~4,000 instructions in the tick that opened a checkpoint).
        for i in configuration.openCircuitVoltage.points.indices {
            crc = JournalRecordFormat.crc(crc, UInt32(bitPattern: configuration.openCircuitVoltage.points[i].socPermille))
            crc = JournalRecordFormat.crc(crc, UInt32(bitPattern: configuration.openCircuitVoltage.points[i].voltage.rawValue))
        }
        return ~crc
    }

    /// Stage `persistence` (every tick, cheap): notices what calls for a checkpoint — the
    /// contactors opening, a new latch, a shutdown request — at once, the periodic one on the
    /// 1 s slot; opens it when the journal is free, and moves the journal's writing on by one
    /// erase or a few words.
    mutating func persist(now: Instant, due: Schedule.Due) {
        runBlackBox(hundredMillisecondSlot: due.every100ms)
        guard persistence.isAvailable else { return }
        let slowSlot = due.every1s
        var connected = false
        if case .connected = stateMachine.state { connected = true }
        if persistence.wasConnected && !connected { persistence.reasonWaiting = persistence.reasonWaiting ?? .contactorsOpened }
        if !persistence.wasConnected && connected { persistence.markerWaiting = true }
        persistence.wasConnected = connected
        let latched = stateMachine.latched
        if latched.bits & ~persistence.previousLatched.bits != 0 { persistence.reasonWaiting = .faultLatched }
        persistence.previousLatched = latched
        if persistence.shutdownPending && !persistence.stateSaved {
            switch stateMachine.state {
            case .standby, .error: if persistence.lastReason != .shutdown { persistence.reasonWaiting = .shutdown }
            case .connecting, .connected, .disconnecting: break
            }
        }
        if slowSlot && persistence.reasonWaiting == nil {
            // mAs → nC is × 10⁶; in Float (no 64-bit multiply or divide on the Cortex-M path).
            let moved = Float(approximating: coulombCounter.netChargeNanocoulombs &- persistence.lastCheckpointCharge)
            let threshold = Float(approximating: configuration.ratedCapacity.rawValue) * 1e6 * persistence.configuration.minimumChargeFraction
            let due = persistence.lastCheckpointAt.map { now - $0 >= persistence.configuration.checkpointInterval } ?? true
            if due && (moved < 0 ? -moved : moved) >= threshold { persistence.reasonWaiting = .periodic }
        }
        // A record is opened (and filled: a few hundred words of work) only on a tick without the
        // 100 ms and 1 s slots, so it never adds to the slowest ticks; it waits at most 10 ms.
        let quiet = !due.every100ms
        if quiet, let reason = persistence.reasonWaiting, !persistence.checkpoints.isWriting {
            persistence.reasonWaiting = nil
            writeCheckpoint(reason: reason, now: now)
        } else if quiet, persistence.markerWaiting, !persistence.checkpoints.isWriting, persistence.checkpoints.open(kind: Persistence.connectedMarkerKind) {
            // Connected: from now on the last checkpoint's SOC may go stale (a record of 5 words).
            persistence.markerWaiting = false
            persistence.checkpoints.put(persistence.bootCount)
            _ = persistence.checkpoints.close()
        }
        if persistence.checkpoints.isWriting && persistence.checkpoints.step(&board.store) {
            if persistence.lastReason == .shutdown && persistence.shutdownPending {
                persistence.shutdownPending = false
                persistence.stateSaved = true
            }
        }
    }

    /// Opens and fills a checkpoint record (written by the following ticks).
    mutating func writeCheckpoint(reason: CheckpointReason, now: Instant) {
        guard persistence.checkpoints.open(kind: Persistence.checkpointKind) else { return }
        let cells = configuration.cellCount
        persistence.checkpoints.put(Persistence.formatVersion &<< 16 | UInt32(truncatingIfNeeded: cells) &<< 8
                                    | UInt32(truncatingIfNeeded: configuration.temperatureSensorCount))
        persistence.checkpoints.put(configurationFingerprint())
        persistence.checkpoints.put(UInt32(reason.rawValue) &<< 24 | (persistence.bootCount & 0xFF_FFFF))
        persistence.checkpoints.put(stateMachine.latched.bits)
        persistence.checkpoints.put(Self.lifetimeCoulombs(before: persistence.chargeInBefore, doubled: coulombCounter.doubledChargeIn))
        persistence.checkpoints.put(Self.lifetimeCoulombs(before: persistence.chargeOutBefore, doubled: coulombCounter.doubledChargeOut))
        var efc: Float = 0, trend = (Float(0), Float(0), Float(0), Float(0), Float(0))
        #if !BMS_NO_ESTIMATOR
        if estimator.isEnabled { efc = estimator.equivalentFullCycles; trend = estimator.trend }
        #endif
        persistence.checkpoints.put(efc)
        persistence.checkpoints.put(trend.0); persistence.checkpoints.put(trend.1); persistence.checkpoints.put(trend.2)
        persistence.checkpoints.put(trend.3); persistence.checkpoints.put(trend.4)
        let risk = health.history.words
        persistence.checkpoints.put(risk.0); persistence.checkpoints.put(risk.1)
        persistence.checkpoints.put(risk.2); persistence.checkpoints.put(risk.3)
        for i in 0..<cells {
            #if !BMS_NO_ESTIMATOR
            if estimator.isEnabled && estimator.isStarted {
                let e = estimator.elements[i]
                persistence.checkpoints.put(e.filter.soc)
                persistence.checkpoints.put(e.filter.displayed)
                persistence.checkpoints.put(e.filter.socVariance)
                persistence.checkpoints.put(e.filter.currentOffset)
                persistence.checkpoints.put(e.filter.drift)
                persistence.checkpoints.put(e.filter.hysteresis)
                persistence.checkpoints.put(e.capacityAh)
                persistence.checkpoints.put(e.resistanceFactor)
                persistence.checkpoints.put(UInt32(e.capacityUpdates) &<< 16 | UInt32(e.resistanceUpdates))
            } else {
                for _ in 0..<9 { persistence.checkpoints.put(Float.nan) }
            }
            #else
            for _ in 0..<9 { persistence.checkpoints.put(Float.nan) }
            #endif
            let bled = balancer.bled[i]
            persistence.checkpoints.put(persistence.bledBefore[i] &+ UInt32(truncatingIfNeeded: (bled < 0 ? 0 : bled) / 1_000))
        }
        guard persistence.checkpoints.close() else { return }
        persistence.lastReason = reason
        persistence.lastCheckpointAt = now
        persistence.lastCheckpointCharge = coulombCounter.netChargeNanocoulombs
    }

    /// Lifetime coulombs: those before this boot plus this boot's (the counter holds half-nC
    /// units; converted in Float: no 64-bit division on the Cortex-M path).
    static func lifetimeCoulombs(before: UInt32, doubled: Int64) -> UInt32 {
        let coulombs = Float(approximating: doubled < 0 ? -doubled : doubled) * 5e-10
        return before &+ UInt32(Int(coulombs))
    }
}
