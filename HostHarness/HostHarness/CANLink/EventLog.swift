// The BMS's black box read back on the host: the event-log region rebuilt from the
// BMS_EventLogData frames of a readout (a log, or frames taken live), its records found with the
// firmware's own journal scanner (so damaged or missing words are skipped exactly as the firmware
// would skip them), and the events and trip snapshots as text (`bms-harness decode --events`).
import Firmware
import HAL

public struct EventLog {
    /// One record of the region, in sequence order.
    public enum Entry: Equatable, Sendable {
        case event(BlackBoxEvent)
        /// Samples of a trip snapshot: the fault, the index of the first sample, and the words of
        /// each sample (`BlackBox` stores time, current, state, packed cells, packed temperatures).
        case samples(fault: UInt8, first: Int, words: [[UInt32]])
    }

    public private(set) var entries: [Entry] = []
    /// Words of the region no frame delivered (read as erased).
    public private(set) var missingWords = 0
    public private(set) var pages = 0, pageWords = 0
    /// What the scan stepped over.
    public private(set) var scan = JournalScan()

    /// The region from the readout frames in `frames` (later frames overwrite earlier ones: the
    /// latest readout wins); nil when there are none.
    public init?(frames: some Sequence<CANFrame>) {
        var words: [UInt32] = []
        var seen: [Bool] = []
        for frame in frames where !frame.id.isExtended && frame.id.rawValue == CANMatrix.BMSEventLogData.identifier {
            guard let m = try? CANMatrix.BMSEventLogData.decode(frame), m.pages > 0, m.pages < 15, m.pageWords > 0, m.pageWords < 4_095 else { continue }
            let total = Int(m.pages) * Int(m.pageWords)
            if total != words.count {
                words = Array(repeating: 0xFFFF_FFFF, count: total)
                seen = Array(repeating: false, count: total)
                pages = Int(m.pages)
                pageWords = Int(m.pageWords)
            }
            guard Int(m.wordIndex) < total else { continue }
            words[Int(m.wordIndex)] = m.word
            seen[Int(m.wordIndex)] = true
        }
        guard !words.isEmpty else { return nil }
        missingWords = seen.filter { !$0 }.count
        var store = InMemoryStore(geometry: StoreGeometry(pageCount: pages, wordsPerPage: pageWords), words: words)
        let journal = Journal<72>(region: JournalRegion(firstPage: 0, pageCount: max(2, pages)), wordsPerPage: pageWords)
        var found: [(UInt32, Entry)] = []
        var scan = JournalScan()
        let region = words, perPage = pageWords
        journal.visitRecords(&store, &scan) { kind, sequence, page, word, count, _ in
            let payload = (0..<count).map { region[page * perPage + word + 2 + $0] }
            switch kind {
            case BlackBox.eventsKind:
                for k in stride(from: 0, to: payload.count - 2, by: 3) {
                    found.append((sequence, .event(BlackBoxEvent(words: payload[k], payload[k + 1], payload[k + 2]))))
                }
            case BlackBox.snapshotKind:
                guard let head = payload.first else { return }
                let n = Int(head & 0xFF)
                guard n > 0, (payload.count - 1) % n == 0 else { return }
                let stride = (payload.count - 1) / n
                let samples = (0..<n).map { Array(payload[1 + $0 * stride ..< 1 + ($0 + 1) * stride]) }
                found.append((sequence, .samples(fault: UInt8(truncatingIfNeeded: head &>> 24), first: Int((head &>> 8) & 0xFFFF), words: samples)))
            default:
                break
            }
        }
        self.scan = scan
        entries = found.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }.map(\.element.1)
    }

    /// The events alone, in order.
    public var events: [BlackBoxEvent] {
        entries.compactMap { if case .event(let e) = $0 { return e } else { return nil } }
    }

    /// One line per event and per snapshot sample; `cells` and `sensors` split the samples (from
    /// BMS_Identity; without them the samples are printed as words).
    public func lines(cells: Int?, sensors: Int?) -> [String] {
        var out: [String] = []
        var tripAt: UInt32 = 0
        for entry in entries {
            switch entry {
            case .event(let e):
                if e.kind == BlackBoxEventKind.snapshot.rawValue { tripAt = e.milliseconds }
                out.append("boot \(e.boot)  \(EventLog.time(e.milliseconds))  \(EventLog.describe(e))")
            case .samples(_, _, let samples):
                for s in samples { out.append("    " + EventLog.describeSample(s, tripAt: tripAt, cells: cells, sensors: sensors)) }
            }
        }
        return out
    }

    /// "+1:02:03.456" (hours since the boot).
    static func time(_ ms: UInt32) -> String {
        let h = ms / 3_600_000, m = ms / 60_000 % 60, s = ms / 1_000 % 60, f = ms % 1_000
        func two(_ x: UInt32) -> String { x < 10 ? "0\(x)" : "\(x)" }
        return "+\(h):\(two(m)):\(two(s)).\(f < 10 ? "00" : f < 100 ? "0" : "")\(f)"
    }

    static func state(_ code: UInt8) -> String {
        let mode = OperatingMode(rawValue: code & 0x0F)?.name ?? "?"
        switch code >> 4 {
        case 0: return "standby"
        case 1: return "connecting (\(mode))"
        case 2: return "connected (\(mode))"
        case 3: return "disconnecting"
        case 4: return "error"
        default: return "state \(code)"
        }
    }

    static func faults(_ bits: UInt32) -> String {
        let names = FaultSet(bits: bits).members.map(\.name)
        return names.isEmpty ? "none" : names.joined(separator: ", ")
    }

    static func describe(_ e: BlackBoxEvent) -> String {
        switch BlackBoxEventKind(rawValue: e.kind) {
        case .boot:
            let outcomes = ["no store", "empty store: defaults", "restored checkpoint \(e.value)", "checkpoint \(e.value) of another configuration: latches and counters kept", "checkpoint \(e.value) in an unknown format: defaults"]
            return "boot: " + (Int(e.code) < outcomes.count ? outcomes[Int(e.code)] : "outcome \(e.code)")
        case .state: return "state \(state(UInt8(truncatingIfNeeded: e.value))) -> \(state(e.code))"
        case .faultLatched:
            return "fault latched: \(FaultID(rawValue: e.code)?.name ?? "fault \(e.code)") (latched: \(faults(e.value)))"
        case .latchesCleared: return "latches cleared by a reset: \(faults(e.value))"
        case .shutdown: return "shutdown requested"
        case .snapshot:
            return "snapshot of \(FaultID(rawValue: e.code)?.name ?? "fault \(e.code)"): \(e.value & 0xFF) samples before, "
                + "\((e.value >> 8) & 0xFF) after, every \(e.value >> 16) ms"
        case .alert:
            let level = UInt8(truncatingIfNeeded: e.value), reason = UInt8(truncatingIfNeeded: e.value >> 8)
            return "alert: cell \(Int(e.code) + 1) \(AlertLevel(rawValue: level)?.name ?? "level \(level)")"
                + " (\(RiskReason(rawValue: reason)?.name ?? "reason \(reason)"), score \(e.value >> 16))"
        case nil: return "event \(e.kind) (\(e.code), \(e.value))"
        }
    }

    /// "-1.400 s  connected (drive)  I -20.013 A  cells 3.012…3.105 V (lowest 7)  25.1…26.0 °C".
    static func describeSample(_ w: [UInt32], tripAt: UInt32, cells: Int?, sensors: Int?) -> String {
        guard w.count >= 3 else { return "sample \(w)" }
        let dt = Double(Int64(w[0]) - Int64(tripAt)) / 1_000
        let current = Int32(bitPattern: w[1])
        var text = "\(Fixed.text(dt, decimals: 3)) s  \(state(UInt8(truncatingIfNeeded: w[2])))  "
        text += current == Int32.min ? "I invalid" : "I \(Fixed.text(Double(current) / 1_000, decimals: 3)) A"
        guard let cells, let sensors, w.count == 3 + (cells + 1) / 2 + (sensors + 1) / 2 else {
            return text + "  " + w.dropFirst(3).map { String($0, radix: 16) }.joined(separator: " ")
        }
        var volts: [(Int, Int)] = []
        for i in 0..<cells {
            let half = (w[3 + i / 2] >> (i % 2 == 0 ? 0 : 16)) & 0xFFFF
            if half != 0xFFFF { volts.append((i + 1, Int(half))) }
        }
        var temps: [Double] = []
        for i in 0..<sensors {
            let half = UInt16(truncatingIfNeeded: w[3 + (cells + 1) / 2 + i / 2] >> (i % 2 == 0 ? 0 : 16))
            if half != 0x7FFF { temps.append(Double(Int16(bitPattern: half)) / 10) }
        }
        if let low = volts.min(by: { $0.1 < $1.1 }), let high = volts.max(by: { $0.1 < $1.1 }) {
            text += "  cells \(low.1)…\(high.1) mV (lowest \(low.0), highest \(high.0))"
            if volts.count < cells { text += ", \(cells - volts.count) invalid" }
        } else {
            text += "  cells invalid"
        }
        if let lo = temps.min(), let hi = temps.max() {
            text += "  \(Fixed.text(lo, decimals: 1))…\(Fixed.text(hi, decimals: 1)) °C"
        }
        return text
    }
}
