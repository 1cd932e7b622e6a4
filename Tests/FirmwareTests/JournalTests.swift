// The journaled store: the latest committed record survives a power cut at every erase and every
// word of a long write sequence (never a mix, never older than the last committed one), bit
// flips are detected, counted and skipped, and writing goes on correctly after a recovery.
@testable import Firmware
import HAL
import Testing

/// Flash in RAM whose power can be cut after a number of operations: the operation that meets
/// the cut does not happen (an erase cut half-way erases only the first half of its page), and
/// nothing after it does either.
struct CuttableStore: NonVolatileStore {
    struct Failure: HALFailure { var kind: HALErrorKind { .other } }
    let geometry: StoreGeometry
    var words: [UInt32]
    /// Operations left before the cut (nil: no cut).
    var operationsLeft: Int? = nil
    var operations = 0

    init(pages: Int, wordsPerPage: Int) {
        geometry = StoreGeometry(pageCount: pages, wordsPerPage: wordsPerPage)
        words = Array(repeating: 0xFFFF_FFFF, count: pages * wordsPerPage)
    }

    /// Whether the next operation still has power.
    mutating func powered() -> Bool {
        guard let left = operationsLeft else { operations += 1; return true }
        guard left > 0 else { return false }
        operationsLeft = left - 1
        operations += 1
        return true
    }

    mutating func erase(page: Int) throws(Failure) {
        let first = page * geometry.wordsPerPage
        guard powered() else {
            if operationsLeft == 0 {
                // The cut meets the erase half-way.
                for i in first..<first + geometry.wordsPerPage / 2 { words[i] = 0xFFFF_FFFF }
                operationsLeft = -1
            }
            throw Failure()
        }
        for i in first..<first + geometry.wordsPerPage { words[i] = 0xFFFF_FFFF }
    }

    mutating func write(page: Int, word: Int, value: UInt32) throws(Failure) {
        guard powered() else { throw Failure() }
        let i = page * geometry.wordsPerPage + word
        precondition(words[i] == 0xFFFF_FFFF, "write to a word that is not erased (page \(page), word \(word))")
        words[i] = value
    }

    mutating func read(page: Int, word: Int) throws(Failure) -> UInt32 { words[page * geometry.wordsPerPage + word] }
}

typealias TestJournal = Journal<324>

@Suite struct JournalTests {
    static let region = JournalRegion(firstPage: 1, pageCount: 3)   // page 0 belongs to someone else
    static let wordsPerPage = 64

    /// Record r's payload: 1…40 words, each a function of r and its position.
    static func payload(_ r: Int) -> [UInt32] {
        (0..<(1 + (r * 37) % 40)).map { UInt32(truncatingIfNeeded: r &* 2_654_435_761 &+ $0 &* 40_503) }
    }

    static func write(_ r: Int, to journal: inout TestJournal, _ store: inout CuttableStore) {
        let opened = journal.open(kind: 7)
        for w in payload(r) { journal.put(w) }
        let closed = journal.close()
        #expect(opened && closed)
        journal.flush(&store)
    }

    /// The latest record's payload after a restart.
    static func recovered(_ store: inout CuttableStore) -> (scan: JournalScan, payload: [UInt32], journal: TestJournal) {
        var journal = TestJournal(region: region, wordsPerPage: wordsPerPage)
        let scan = journal.recover(&store)
        let payload = (0..<scan.selectedPayloadWords).map { journal.payloadWord(&store, scan, $0) }
        return (scan, payload, journal)
    }

    @Test func aWrittenRecordIsRecoveredWithItsSequence() {
        var store = CuttableStore(pages: 4, wordsPerPage: Self.wordsPerPage)
        var journal = TestJournal(region: Self.region, wordsPerPage: Self.wordsPerPage)
        let empty = journal.recover(&store)
        #expect(empty.latestSequence == nil)
        for r in 0..<10 { Self.write(r, to: &journal, &store) }
        let (scan, payload, _) = Self.recovered(&store)
        #expect(scan.latestSequence == 10)
        #expect(scan.latestKind == 7)
        #expect(payload == Self.payload(9))
        #expect(store.words[0..<Self.wordsPerPage].allSatisfy { $0 == 0xFFFF_FFFF }, "page 0 is outside the region")
    }

    @Test func aWriteIsSpreadOverTicks() {
        var store = CuttableStore(pages: 4, wordsPerPage: Self.wordsPerPage)
        var journal = TestJournal(region: Self.region, wordsPerPage: Self.wordsPerPage)
        _ = journal.recover(&store)
        let opened = journal.open(kind: 1)
        for i in 0..<36 { journal.put(UInt32(i)) }
        let closed = journal.close()
        let second = journal.open(kind: 1)
        #expect(opened && closed)
        #expect(!second, "one record at a time")
        // 1 erase, then 40 words at 16 per step: commits on the 4th step.
        var steps = 0
        while journal.isWriting { _ = journal.step(&store); steps += 1 }
        #expect(steps == 4)
        #expect(journal.erases == 1 && journal.wordsWritten == 40)
    }

    @Test func theCRC32TableIsThePolynomialDivisionOfEveryByte() {
        // Entry n: n shifted through the reflected polynomial 0xEDB88320 eight times; a word's CRC
        // step equals 32 single-bit shifts.
        func bitwise(_ crc: UInt32, _ word: UInt32) -> UInt32 {
            var c = crc ^ word
            for _ in 0..<32 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
            return c
        }
        for n in 0..<16 {
            var c = UInt32(n)
            for _ in 0..<4 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
            #expect(JournalRecordFormat.crcTable[n] == c, "entry \(n)")
        }
        var a: UInt32 = 0xFFFF_FFFF, b: UInt32 = 0xFFFF_FFFF, w: UInt32 = 12_345
        for _ in 0..<1_000 {
            w = w &* 1_664_525 &+ 1_013_904_223
            a = JournalRecordFormat.crc(a, w)
            b = bitwise(b, w)
        }
        #expect(a == b)
    }

    @Test func aJournalResetInStorageThatHeldZerosWritesAsANewOne() {
        // A loop in static storage (.bss, zeroed) is set up in place with `reset`: it must write
        // as one from `init` does (a zero words-per-step never wrote a word).
        var store = CuttableStore(pages: 4, wordsPerPage: Self.wordsPerPage)
        var journal = TestJournal(region: Self.region, wordsPerPage: Self.wordsPerPage)
        journal.wordsPerStep = 0
        journal.reset(region: Self.region, wordsPerPage: Self.wordsPerPage)
        #expect(journal.wordsPerStep == TestJournal(region: Self.region, wordsPerPage: Self.wordsPerPage).wordsPerStep)
        _ = journal.recover(&store)
        let opened = journal.open(kind: 7)
        for w in Self.payload(3) { journal.put(w) }
        let closed = journal.close()
        #expect(opened && closed)
        for _ in 0..<100 where journal.isWriting { _ = journal.step(&store) }      // bounded: a stuck journal fails, not hangs
        #expect(journal.recordsWritten == 1)
    }

    /// The power is cut at every operation of a 60-record sequence (every erase, every word);
    /// after the restart the journal holds exactly the last record whose commit word was written,
    /// and three more records written after the restart come back too.
    @Test func aPowerCutAnywhereLeavesTheLastCommittedRecord() {
        let records = 60
        // The uncut run: how many operations each record's commit took.
        var store = CuttableStore(pages: 4, wordsPerPage: Self.wordsPerPage)
        var journal = TestJournal(region: Self.region, wordsPerPage: Self.wordsPerPage)
        _ = journal.recover(&store)
        var committedAfter: [Int] = []
        for r in 0..<records {
            Self.write(r, to: &journal, &store)
            committedAfter.append(store.operations)
        }
        let total = store.operations
        #expect(journal.erases > 10, "the sequence wraps the region several times")
        for cut in 0...total {
            var store = CuttableStore(pages: 4, wordsPerPage: Self.wordsPerPage)
            var journal = TestJournal(region: Self.region, wordsPerPage: Self.wordsPerPage)
            _ = journal.recover(&store)
            store.operationsLeft = cut
            for r in 0..<records { Self.write(r, to: &journal, &store) }
            store.operationsLeft = nil
            let last = committedAfter.lastIndex { $0 <= cut }
            var (scan, payload, restarted) = Self.recovered(&store)
            if let last {
                #expect(scan.latestSequence == UInt32(last + 1), "cut after \(cut) operations")
                #expect(payload == Self.payload(last), "cut after \(cut) operations")
            } else {
                #expect(scan.latestSequence == nil, "cut after \(cut) operations")
            }
            for r in 100..<103 { Self.write(r, to: &restarted, &store) }
            let again = Self.recovered(&store)
            #expect(again.payload == Self.payload(102), "writes after a restart (cut after \(cut))")
            #expect(again.scan.latestSequence == UInt32((last ?? -1) + 1 + 3))
        }
    }

    /// Every single-bit flip in the latest record: it is detected, counted and never used; the
    /// record before it is recovered instead.
    @Test func aFlippedBitIsDetectedAndTheRecordSkipped() {
        var store = CuttableStore(pages: 4, wordsPerPage: Self.wordsPerPage)
        var journal = TestJournal(region: Self.region, wordsPerPage: Self.wordsPerPage)
        _ = journal.recover(&store)
        for r in 0..<7 { Self.write(r, to: &journal, &store) }
        let clean = Self.recovered(&store).scan
        let start = clean.latestPage * Self.wordsPerPage + clean.latestWord
        let length = clean.latestPayloadWords + JournalRecordFormat.overheadWords
        for word in start..<start + length {
            for bit in 0..<32 {
                var damaged = store
                damaged.words[word] ^= UInt32(1) << UInt32(bit)
                let (scan, payload, _) = Self.recovered(&damaged)
                #expect(scan.latestSequence == 6, "flip in word \(word - start), bit \(bit)")
                #expect(payload == Self.payload(5))
                #expect(scan.skipped >= 1)
            }
        }
    }

    @Test func aFlippedBitInOneRecordDoesNotHideTheRecordsAfterIt() {
        var store = CuttableStore(pages: 4, wordsPerPage: Self.wordsPerPage)
        var journal = TestJournal(region: Self.region, wordsPerPage: Self.wordsPerPage)
        _ = journal.recover(&store)
        // Three short records on one page; damage the first one's header.
        for r in [40, 80, 120] { Self.write(r, to: &journal, &store) }   // 1 word each
        store.words[Self.region.firstPage * Self.wordsPerPage] ^= 0x0001_0000
        let (scan, payload, _) = Self.recovered(&store)
        #expect(scan.latestSequence == 3)
        #expect(payload == Self.payload(120))
        #expect(scan.validRecords == 2)
    }

    @Test func anOverlongPayloadIsRefused() {
        var store = CuttableStore(pages: 4, wordsPerPage: Self.wordsPerPage)
        var journal = TestJournal(region: Self.region, wordsPerPage: Self.wordsPerPage)
        _ = journal.recover(&store)
        let opened = journal.open(kind: 1)
        for i in 0..<61 { journal.put(UInt32(i)) }
        let closed = journal.close()
        #expect(opened && !closed)
        #expect(!journal.isWriting)
        let again = journal.open(kind: 1)
        #expect(again, "the journal is free again")
    }
}
