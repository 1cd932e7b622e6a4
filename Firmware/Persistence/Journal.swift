// A journal of records in a ring of erase-before-write pages (HAL `NonVolatileStore`): records
// carry a sequence number, a CRC-32 and a commit word written last, so the latest committed
// record is always recoverable — a write cut at any point leaves the previous record valid, a
// corrupted record is detected, counted and skipped. Pages are used in turn (wear levelling).
// Writes are incremental — at most one page erase or a few words per call — so a 1 ms tick never
// waits for a whole record (Docs/persistence.md).
import HAL

/// Pages `firstPage ..< firstPage + pageCount` of a store.
public struct JournalRegion: Equatable, Sendable {
    public var firstPage: Int
    public var pageCount: Int
    public init(firstPage: Int, pageCount: Int) {
        self.firstPage = firstPage
        self.pageCount = pageCount
    }
}

/// One record as it lies in the store: header, sequence number, payload, CRC, commit word.
public enum JournalRecordFormat {
    /// Bits 31…24 of the header word.
    public static let magic: UInt32 = 0xB5
    /// Written last; its presence commits the record (an erased word reads 0xFFFF_FFFF).
    public static let commit: UInt32 = 0x5AFE_C0DE
    /// Words around the payload: header, sequence, CRC, commit.
    public static let overheadWords = 4

    // The journal's reading side, static (not generic in the record buffer's size): one copy in
    // the image for every journal.

    @inline(__always) static func word<Store: NonVolatileStore>(_ store: inout Store, _ page: Int, _ word: Int) -> UInt32 {
        do { return try store.read(page: page, word: word) } catch { return 0 }
    }

    /// The latest committed record of a region, and the latest of `kind` (see `Journal.recover`).
    public static func scan<Store: NonVolatileStore>(_ store: inout Store, region: JournalRegion, wordsPerPage: Int,
                                                    selecting kind: UInt8?) -> JournalScan {
        var scan = JournalScan()
        visitRecords(&store, region: region, wordsPerPage: wordsPerPage, &scan) { recordKind, sequence, p, w, words, scan in
            if scan.latestSequence.map({ sequence > $0 }) ?? true {
                scan.latestSequence = sequence
                scan.latestKind = recordKind
                scan.latestPage = p
                scan.latestWord = w
                scan.latestPayloadWords = words
            }
            if kind.map({ $0 == recordKind }) ?? true, scan.selectedSequence.map({ sequence > $0 }) ?? true {
                scan.selectedSequence = sequence
                scan.selectedPage = p
                scan.selectedWord = w
                scan.selectedPayloadWords = words
            }
        }
        return scan
    }

    public static func visitRecords<Store: NonVolatileStore>(_ store: inout Store, region: JournalRegion, wordsPerPage: Int,
                                                             _ scan: inout JournalScan,
                                                             _ body: (UInt8, UInt32, Int, Int, Int, inout JournalScan) -> Void) {
        for p in region.firstPage..<region.firstPage + region.pageCount {
            var w = 0
            var stepping = false
            while w + JournalRecordFormat.overheadWords <= wordsPerPage {
                let header = word(&store, p, w)
                if header == 0xFFFF_FFFF { break }
                let words = Int(header & 0xFFFF)
                let end = w + 2 + words
                var problem = 0   // 1: not a header, 2: not committed, 3: bad CRC
                if header &>> 24 != JournalRecordFormat.magic || end + 2 > wordsPerPage {
                    problem = 1
                } else if word(&store, p, end + 1) != JournalRecordFormat.commit {
                    problem = 2
                } else {
                    var crc: UInt32 = 0xFFFF_FFFF
                    for i in w..<end { crc = JournalRecordFormat.crc(crc, word(&store, p, i)) }
                    if ~crc != word(&store, p, end) { problem = 3 }
                }
                if problem != 0 {
                    if !stepping {
                        switch problem {
                        case 2: scan.tornRecords += 1
                        case 3: scan.corruptRecords += 1
                        default: scan.damagedStretches += 1
                        }
                    }
                    stepping = true
                    w += 1
                    continue
                }
                stepping = false
                scan.validRecords += 1
                body(UInt8(truncatingIfNeeded: header &>> 16), word(&store, p, w + 1), p, w, words, &scan)
                w = end + 2
            }
        }
    }


    /// header = magic (8 bits) | kind (8 bits) | payload length in words (16 bits).
    @inline(__always) static func header(kind: UInt8, payloadWords: Int) -> UInt32 {
        magic &<< 24 | UInt32(truncatingIfNeeded: kind) &<< 16 | UInt32(truncatingIfNeeded: payloadWords)
    }

    /// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) of one more word, little-endian:
    /// the 32 shifts of `crc ^ word`, four bits at a time through `crcTable` (a bit loop cost
    /// about 200 instructions a word on the Cortex-M; a byte table 1 KB of flash, this one 64 B).
    @inline(__always) public static func crc(_ crc: UInt32, _ word: UInt32) -> UInt32 {
        var c = crc ^ word
        for _ in 0..<8 { c = (c &>> 4) ^ crcTable[Int(c & 0xF)] }
        return c
    }

    /// Entry n: n shifted through the reflected polynomial 0xEDB88320 four times (a test
    /// recomputes every entry bit by bit).
    public static let crcTable: InlineArray<16, UInt32> = [
        0x0000_0000, 0x1DB7_1064, 0x3B6E_20C8, 0x26D9_30AC, 0x76DC_4190, 0x6B6B_51F4, 0x4DB2_6158, 0x5005_713C,
        0xEDB8_8320, 0xF00F_9344, 0xD6D6_A3E8, 0xCB61_B38C, 0x9B64_C2B0, 0x86D3_D2D4, 0xA00A_E278, 0xBDBD_F21C,
    ]
}

/// What a recovery scan found.
public struct JournalScan: Equatable, Sendable {
    /// The sequence number of the latest committed record (nil: none).
    public var latestSequence: UInt32? = nil
    /// Its kind, and where it starts.
    public var latestKind: UInt8 = 0
    public var latestPage = 0, latestWord = 0, latestPayloadWords = 0
    /// The latest committed record of the kind the scan was asked for (all kinds when none was):
    /// its sequence number (nil: none), where it starts and its length. `payloadWord` reads it.
    public var selectedSequence: UInt32? = nil
    public var selectedPage = 0, selectedWord = 0, selectedPayloadWords = 0
    /// Records whose commit word is there but whose CRC does not match (bit flips): skipped.
    public var corruptRecords = 0
    /// Records begun but never committed (a write that was cut): skipped.
    public var tornRecords = 0
    /// Committed records found.
    public var validRecords = 0
    /// Stretches of words that are neither a record nor free space (a damaged header, what is
    /// left of a cut erase), stepped over.
    public var damagedStretches = 0
    /// Records or stretches that could not be used, of every kind.
    public var skipped: Int { corruptRecords + tornRecords + damagedStretches }

    public init() {}
}

/// A journal in one region of a store (see the file comment), whose records carry up to
/// `capacity − 2` payload words (the header and sequence number wait in the same buffer). It
/// holds only that buffer; the `JournalCursor` does the rest, so every journal size shares one
/// copy of the code (flash: Docs/firmware-budget.md).
public struct Journal<let capacity: Int>: Sendable {
    public internal(set) var cursor: JournalCursor
    /// The record being written: its words (header, sequence number, payload).
    var pending = InlineArray<capacity, UInt32>(repeating: 0xFFFF_FFFF)

    public init(region: JournalRegion, wordsPerPage: Int) {
        cursor = JournalCursor(region: region, wordsPerPage: wordsPerPage, capacity: capacity)
    }

    /// A journal for another region, before its recovery (in place: the record buffer stays).
    @inline(__always) public mutating func reset(region: JournalRegion, wordsPerPage: Int) {
        cursor.reset(region: region, wordsPerPage: wordsPerPage, capacity: capacity)
    }

    public var region: JournalRegion { cursor.region }
    public var wordsPerPage: Int { cursor.wordsPerPage }
    public var lastSequence: UInt32 { cursor.lastSequence }
    /// Words programmed per `step` (a flash driver's budget within one tick).
    public var wordsPerStep: Int {
        get { cursor.wordsPerStep }
        set { cursor.wordsPerStep = newValue }
    }
    public var erases: UInt32 { cursor.erases }
    public var wordsWritten: UInt32 { cursor.wordsWritten }
    public var recordsWritten: UInt32 { cursor.recordsWritten }
    /// Records abandoned because the store refused a write or an erase.
    public var failedRecords: UInt32 { cursor.failedRecords }
    /// Whether a record is being written.
    public var isWriting: Bool { cursor.isWriting }
    /// The largest payload this journal takes (a record never spans pages).
    public var maximumPayloadWords: Int { cursor.maximumPayloadWords }

    /// Scans the region for the latest committed record and sets the journal to append after it.
    @inline(__always) public mutating func recover<Store: NonVolatileStore>(_ store: inout Store, selecting kind: UInt8? = nil) -> JournalScan {
        cursor.recover(&store, selecting: kind)
    }

    /// Word `payloadIndex` of the record `scan` selected (call right after `recover`).
    @inline(__always) public func payloadWord<Store: NonVolatileStore>(_ store: inout Store, _ scan: JournalScan, _ payloadIndex: Int) -> UInt32 {
        cursor.payloadWord(&store, scan, payloadIndex)
    }

    /// Every committed record with a good CRC, in store order (`JournalCursor.visitRecords`).
    @inline(__always) public func visitRecords<Store: NonVolatileStore>(_ store: inout Store, _ scan: inout JournalScan,
                                                      _ body: (UInt8, UInt32, Int, Int, Int, inout JournalScan) -> Void) {
        cursor.visitRecords(&store, &scan, body)
    }

    /// Opens a record of `kind`; its payload follows with `put`, `close` finishes it. False when
    /// a record is still being written (nothing is opened then).
    @inline(__always) public mutating func open(kind: UInt8) -> Bool { cursor.open(kind: kind) }

    /// Appends one payload word to the open record (beyond the maximum it is refused and the
    /// record will not close).
    @inline(never) public mutating func put(_ value: UInt32) {
        if let i = cursor.claimPayloadWord() { pending[i] = value }
    }

    /// `put` for a Float (its bit pattern).
    @inline(__always) public mutating func put(_ value: Float) { put(value.bitPattern) }

    /// Closes the open record: it is written by the following `step` calls. False (and nothing
    /// written) when the payload overflowed.
    @inline(__always) public mutating func close() -> Bool {
        guard let header = cursor.close() else { return false }
        pending[0] = header.0
        pending[1] = header.1
        return true
    }

    /// Continues the record being written: one page erase, or up to `wordsPerStep` words. True
    /// when the record is committed by this call.
    @inline(__always) public mutating func step<Store: NonVolatileStore>(_ store: inout Store) -> Bool {
        cursor.step(&store, pending.span)
    }

    /// Writes the pending record to the end (tests, shutdown with time to spare).
    public mutating func flush<Store: NonVolatileStore>(_ store: inout Store) {
        while cursor.isWriting {
            let before = cursor.failedRecords
            _ = step(&store)
            if cursor.failedRecords != before { return }
        }
    }
}

/// Everything of a journal but its record buffer: where records go, the record being written
/// (counts and CRC; its words are the journal's), and the counters.
public struct JournalCursor: Sendable {
    public private(set) var region: JournalRegion
    public private(set) var wordsPerPage: Int
    /// Where the next record goes (an absolute page), and whether that page must be erased first.
    var page: Int
    var word = 0
    var eraseFirst = true
    public private(set) var lastSequence: UInt32 = 0
    /// The journal's buffer size (words), and the record being written: how many words, how many
    /// are in the store already.
    var capacity: Int
    var pendingCount = 0
    var pendingWritten = 0
    /// The CRC of the words written so far (the CRC word is computed as the record goes out).
    var pendingCRC: UInt32 = 0xFFFF_FFFF
    var isOpen = false, overflow = false
    var openKind: UInt8 = 0
    var openCount = 0
    /// Words programmed per `step` (a flash driver's budget within one tick).
    public var wordsPerStep = 16
    public private(set) var erases: UInt32 = 0
    public private(set) var wordsWritten: UInt32 = 0
    public private(set) var recordsWritten: UInt32 = 0
    /// Records abandoned because the store refused a write or an erase.
    public private(set) var failedRecords: UInt32 = 0

    public init(region: JournalRegion, wordsPerPage: Int, capacity: Int) {
        precondition(region.pageCount >= 2, "Journal: a region needs at least two pages")
        precondition(wordsPerPage >= JournalRecordFormat.overheadWords + 1, "Journal: pages too small")
        self.region = region
        self.wordsPerPage = wordsPerPage
        self.capacity = capacity
        page = region.firstPage
    }

    /// For another region, before its recovery.
    public mutating func reset(region: JournalRegion, wordsPerPage: Int, capacity: Int) {
        precondition(region.pageCount >= 2, "Journal: a region needs at least two pages")
        precondition(wordsPerPage >= JournalRecordFormat.overheadWords + 1, "Journal: pages too small")
        self.region = region
        self.wordsPerPage = wordsPerPage
        self.capacity = capacity
        page = region.firstPage
        word = 0
        eraseFirst = true
        lastSequence = 0
        pendingCount = 0
        pendingWritten = 0
        isOpen = false
        wordsPerStep = 16      // as `init`: a loop set up in static storage (zeroed) otherwise never wrote
        erases = 0
        wordsWritten = 0
        recordsWritten = 0
        failedRecords = 0
    }

    /// Whether a record is being written.
    public var isWriting: Bool { pendingCount > 0 }

    /// The largest payload this journal takes (a record never spans pages).
    public var maximumPayloadWords: Int {
        min(capacity - 2, wordsPerPage - JournalRecordFormat.overheadWords)
    }

    // MARK: - recovery

    /// Scans the region for the latest committed record and sets the journal to append after it.
    /// Reading failures count as unreadable words (the record is skipped).
    public mutating func recover<Store: NonVolatileStore>(_ store: inout Store, selecting kind: UInt8? = nil) -> JournalScan {
        let scan = JournalRecordFormat.scan(&store, region: region, wordsPerPage: wordsPerPage, selecting: kind)
        pendingCount = 0
        pendingWritten = 0
        isOpen = false
        if let sequence = scan.latestSequence {
            lastSequence = sequence
            page = scan.latestPage
            word = scan.latestWord + scan.latestPayloadWords + JournalRecordFormat.overheadWords
            eraseFirst = false
            // Append after it only where the page is still erased; otherwise on the next page.
            for w in word..<wordsPerPage where read(&store, page, w) != 0xFFFF_FFFF {
                moveToNextPage()
                break
            }
        } else {
            lastSequence = 0
            page = region.firstPage
            word = 0
            eraseFirst = true
        }
        return scan
    }

    /// Word `payloadIndex` of the record `scan` selected (call right after `recover`).
    public func payloadWord<Store: NonVolatileStore>(_ store: inout Store, _ scan: JournalScan, _ payloadIndex: Int) -> UInt32 {
        read(&store, scan.selectedPage, scan.selectedWord + 2 + payloadIndex)
    }

    /// Every committed record with a good CRC, in store order (not sequence order): its kind,
    /// sequence number, page, first word and payload length (the payload starts 2 words in).
    /// Damaged and cut records are counted in `scan` and stepped over one word at a time, so a
    /// damaged record never hides the ones after it; an erased header word is a page's free space.
    public func visitRecords<Store: NonVolatileStore>(_ store: inout Store, _ scan: inout JournalScan,
                                                      _ body: (UInt8, UInt32, Int, Int, Int, inout JournalScan) -> Void) {
        JournalRecordFormat.visitRecords(&store, region: region, wordsPerPage: wordsPerPage, &scan, body)
    }

    @inline(__always) func read<Store: NonVolatileStore>(_ store: inout Store, _ page: Int, _ word: Int) -> UInt32 {
        do { return try store.read(page: page, word: word) } catch { return 0 }
    }

    // MARK: - writing

    /// Opens a record of `kind`; its payload follows with `put`, `close` finishes it. False when
    /// a record is still being written (nothing is opened then).
    public mutating func open(kind: UInt8) -> Bool {
        guard pendingCount == 0, !isOpen else { return false }
        isOpen = true
        openKind = kind
        openCount = 0
        overflow = false
        return true
    }

    /// Where the next payload word of the open record goes in the buffer (nil: no record open,
    /// or the payload is full — the record will not close).
    mutating func claimPayloadWord() -> Int? {
        guard isOpen else { return nil }
        guard openCount < maximumPayloadWords else { overflow = true; return nil }
        openCount += 1
        return 1 + openCount
    }

    /// Closes the open record: the buffer's first two words (header, sequence number) to write,
    /// then the following `step` calls write it. Nil (and nothing written) when the payload
    /// overflowed.
    mutating func close() -> (UInt32, UInt32)? {
        guard isOpen else { return nil }
        isOpen = false
        guard !overflow else { return nil }
        lastSequence &+= 1
        pendingCount = openCount + JournalRecordFormat.overheadWords
        pendingWritten = 0
        pendingCRC = 0xFFFF_FFFF
        if word + pendingCount > wordsPerPage { moveToNextPage() }
        return (JournalRecordFormat.header(kind: openKind, payloadWords: openCount), lastSequence)
    }

    /// Continues the record being written (its words in `pending`): one page erase, or up to
    /// `wordsPerStep` words. True when the record is committed by this call.
    mutating func step<Store: NonVolatileStore>(_ store: inout Store, _ pending: Span<UInt32>) -> Bool {
        guard pendingCount > 0 else { return false }
        if eraseFirst {
            do { try store.erase(page: page) } catch { abandon(); return false }
            erases &+= 1
            eraseFirst = false
            word = 0
            return false
        }
        var n = 0
        while n < wordsPerStep && pendingWritten < pendingCount {
            let value: UInt32
            switch pendingCount - pendingWritten {
            case 2: value = ~pendingCRC
            case 1: value = JournalRecordFormat.commit
            default:
                value = pending[pendingWritten]
                pendingCRC = JournalRecordFormat.crc(pendingCRC, value)
            }
            do { try store.write(page: page, word: word + pendingWritten, value: value) } catch {
                abandon()
                return false
            }
            pendingWritten += 1
            wordsWritten &+= 1
            n += 1
        }
        guard pendingWritten == pendingCount else { return false }
        word += pendingCount
        pendingCount = 0
        pendingWritten = 0
        recordsWritten &+= 1
        if word + JournalRecordFormat.overheadWords + 1 > wordsPerPage { moveToNextPage() }
        return true
    }

    /// A refused erase or write: the record is dropped and the next one starts on a fresh page
    /// (the words already written there are not trusted).
    mutating func abandon() {
        failedRecords &+= 1
        pendingCount = 0
        pendingWritten = 0
        moveToNextPage()
    }

    mutating func moveToNextPage() {
        page += 1
        if page == region.firstPage + region.pageCount { page = region.firstPage }
        word = 0
        eraseFirst = true
    }
}
