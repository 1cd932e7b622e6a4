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

    /// header = magic (8 bits) | kind (8 bits) | payload length in words (16 bits).
    @inline(__always) static func header(kind: UInt8, payloadWords: Int) -> UInt32 {
        magic &<< 24 | UInt32(truncatingIfNeeded: kind) &<< 16 | UInt32(truncatingIfNeeded: payloadWords)
    }

    /// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) of one more word, little-endian:
    /// the 32 shifts of `crc ^ word`, a byte at a time through `crcTable` (a bit loop cost about
    /// 200 instructions a word on the Cortex-M: a 180-word checkpoint's CRC took a tick's budget).
    @inline(__always) public static func crc(_ crc: UInt32, _ word: UInt32) -> UInt32 {
        var c = crc ^ word
        for _ in 0..<4 { c = (c &>> 8) ^ crcTable[Int(c & 0xFF)] }
        return c
    }

    /// Entry n: n shifted through the reflected polynomial 0xEDB88320 eight times (a test
    /// recomputes every entry bit by bit).
    public static let crcTable: InlineArray<256, UInt32> = [
        0x0000_0000, 0x7707_3096, 0xEE0E_612C, 0x9909_51BA, 0x076D_C419, 0x706A_F48F, 0xE963_A535, 0x9E64_95A3,
        0x0EDB_8832, 0x79DC_B8A4, 0xE0D5_E91E, 0x97D2_D988, 0x09B6_4C2B, 0x7EB1_7CBD, 0xE7B8_2D07, 0x90BF_1D91,
        0x1DB7_1064, 0x6AB0_20F2, 0xF3B9_7148, 0x84BE_41DE, 0x1ADA_D47D, 0x6DDD_E4EB, 0xF4D4_B551, 0x83D3_85C7,
        0x136C_9856, 0x646B_A8C0, 0xFD62_F97A, 0x8A65_C9EC, 0x1401_5C4F, 0x6306_6CD9, 0xFA0F_3D63, 0x8D08_0DF5,
        0x3B6E_20C8, 0x4C69_105E, 0xD560_41E4, 0xA267_7172, 0x3C03_E4D1, 0x4B04_D447, 0xD20D_85FD, 0xA50A_B56B,
        0x35B5_A8FA, 0x42B2_986C, 0xDBBB_C9D6, 0xACBC_F940, 0x32D8_6CE3, 0x45DF_5C75, 0xDCD6_0DCF, 0xABD1_3D59,
        0x26D9_30AC, 0x51DE_003A, 0xC8D7_5180, 0xBFD0_6116, 0x21B4_F4B5, 0x56B3_C423, 0xCFBA_9599, 0xB8BD_A50F,
        0x2802_B89E, 0x5F05_8808, 0xC60C_D9B2, 0xB10B_E924, 0x2F6F_7C87, 0x5868_4C11, 0xC161_1DAB, 0xB666_2D3D,
        0x76DC_4190, 0x01DB_7106, 0x98D2_20BC, 0xEFD5_102A, 0x71B1_8589, 0x06B6_B51F, 0x9FBF_E4A5, 0xE8B8_D433,
        0x7807_C9A2, 0x0F00_F934, 0x9609_A88E, 0xE10E_9818, 0x7F6A_0DBB, 0x086D_3D2D, 0x9164_6C97, 0xE663_5C01,
        0x6B6B_51F4, 0x1C6C_6162, 0x8565_30D8, 0xF262_004E, 0x6C06_95ED, 0x1B01_A57B, 0x8208_F4C1, 0xF50F_C457,
        0x65B0_D9C6, 0x12B7_E950, 0x8BBE_B8EA, 0xFCB9_887C, 0x62DD_1DDF, 0x15DA_2D49, 0x8CD3_7CF3, 0xFBD4_4C65,
        0x4DB2_6158, 0x3AB5_51CE, 0xA3BC_0074, 0xD4BB_30E2, 0x4ADF_A541, 0x3DD8_95D7, 0xA4D1_C46D, 0xD3D6_F4FB,
        0x4369_E96A, 0x346E_D9FC, 0xAD67_8846, 0xDA60_B8D0, 0x4404_2D73, 0x3303_1DE5, 0xAA0A_4C5F, 0xDD0D_7CC9,
        0x5005_713C, 0x2702_41AA, 0xBE0B_1010, 0xC90C_2086, 0x5768_B525, 0x206F_85B3, 0xB966_D409, 0xCE61_E49F,
        0x5EDE_F90E, 0x29D9_C998, 0xB0D0_9822, 0xC7D7_A8B4, 0x59B3_3D17, 0x2EB4_0D81, 0xB7BD_5C3B, 0xC0BA_6CAD,
        0xEDB8_8320, 0x9ABF_B3B6, 0x03B6_E20C, 0x74B1_D29A, 0xEAD5_4739, 0x9DD2_77AF, 0x04DB_2615, 0x73DC_1683,
        0xE363_0B12, 0x9464_3B84, 0x0D6D_6A3E, 0x7A6A_5AA8, 0xE40E_CF0B, 0x9309_FF9D, 0x0A00_AE27, 0x7D07_9EB1,
        0xF00F_9344, 0x8708_A3D2, 0x1E01_F268, 0x6906_C2FE, 0xF762_575D, 0x8065_67CB, 0x196C_3671, 0x6E6B_06E7,
        0xFED4_1B76, 0x89D3_2BE0, 0x10DA_7A5A, 0x67DD_4ACC, 0xF9B9_DF6F, 0x8EBE_EFF9, 0x17B7_BE43, 0x60B0_8ED5,
        0xD6D6_A3E8, 0xA1D1_937E, 0x38D8_C2C4, 0x4FDF_F252, 0xD1BB_67F1, 0xA6BC_5767, 0x3FB5_06DD, 0x48B2_364B,
        0xD80D_2BDA, 0xAF0A_1B4C, 0x3603_4AF6, 0x4104_7A60, 0xDF60_EFC3, 0xA867_DF55, 0x316E_8EEF, 0x4669_BE79,
        0xCB61_B38C, 0xBC66_831A, 0x256F_D2A0, 0x5268_E236, 0xCC0C_7795, 0xBB0B_4703, 0x2202_16B9, 0x5505_262F,
        0xC5BA_3BBE, 0xB2BD_0B28, 0x2BB4_5A92, 0x5CB3_6A04, 0xC2D7_FFA7, 0xB5D0_CF31, 0x2CD9_9E8B, 0x5BDE_AE1D,
        0x9B64_C2B0, 0xEC63_F226, 0x756A_A39C, 0x026D_930A, 0x9C09_06A9, 0xEB0E_363F, 0x7207_6785, 0x0500_5713,
        0x95BF_4A82, 0xE2B8_7A14, 0x7BB1_2BAE, 0x0CB6_1B38, 0x92D2_8E9B, 0xE5D5_BE0D, 0x7CDC_EFB7, 0x0BDB_DF21,
        0x86D3_D2D4, 0xF1D4_E242, 0x68DD_B3F8, 0x1FDA_836E, 0x81BE_16CD, 0xF6B9_265B, 0x6FB0_77E1, 0x18B7_4777,
        0x8808_5AE6, 0xFF0F_6A70, 0x6606_3BCA, 0x1101_0B5C, 0x8F65_9EFF, 0xF862_AE69, 0x616B_FFD3, 0x166C_CF45,
        0xA00A_E278, 0xD70D_D2EE, 0x4E04_8354, 0x3903_B3C2, 0xA767_2661, 0xD060_16F7, 0x4969_474D, 0x3E6E_77DB,
        0xAED1_6A4A, 0xD9D6_5ADC, 0x40DF_0B66, 0x37D8_3BF0, 0xA9BC_AE53, 0xDEBB_9EC5, 0x47B2_CF7F, 0x30B5_FFE9,
        0xBDBD_F21C, 0xCABA_C28A, 0x53B3_9330, 0x24B4_A3A6, 0xBAD0_3605, 0xCDD7_0693, 0x54DE_5729, 0x23D9_67BF,
        0xB366_7A2E, 0xC461_4AB8, 0x5D68_1B02, 0x2A6F_2B94, 0xB40B_BE37, 0xC30C_8EA1, 0x5A05_DF1B, 0x2D02_EF8D,
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
/// `capacity − 2` payload words (the header and sequence number wait in the same buffer).
public struct Journal<let capacity: Int>: Sendable {
    public private(set) var region: JournalRegion
    public private(set) var wordsPerPage: Int
    /// Where the next record goes (an absolute page), and whether that page must be erased first.
    var page: Int
    var word = 0
    var eraseFirst = true
    public private(set) var lastSequence: UInt32 = 0
    /// The record being written: its words, how many, how many are in the store already.
    var pending = InlineArray<capacity, UInt32>(repeating: 0xFFFF_FFFF)
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

    public init(region: JournalRegion, wordsPerPage: Int) {
        precondition(region.pageCount >= 2, "Journal: a region needs at least two pages")
        precondition(wordsPerPage >= JournalRecordFormat.overheadWords + 1, "Journal: pages too small")
        self.region = region
        self.wordsPerPage = wordsPerPage
        page = region.firstPage
    }

    /// A journal for another region, before its recovery (in place: the record buffer stays).
    public mutating func reset(region: JournalRegion, wordsPerPage: Int) {
        precondition(region.pageCount >= 2, "Journal: a region needs at least two pages")
        precondition(wordsPerPage >= JournalRecordFormat.overheadWords + 1, "Journal: pages too small")
        self.region = region
        self.wordsPerPage = wordsPerPage
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
        var scan = JournalScan()
        visitRecords(&store, &scan) { recordKind, sequence, p, w, words, scan in
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
        for p in region.firstPage..<region.firstPage + region.pageCount {
            var w = 0
            var stepping = false
            while w + JournalRecordFormat.overheadWords <= wordsPerPage {
                let header = read(&store, p, w)
                if header == 0xFFFF_FFFF { break }
                let words = Int(header & 0xFFFF)
                let end = w + 2 + words
                var problem = 0   // 1: not a header, 2: not committed, 3: bad CRC
                if header &>> 24 != JournalRecordFormat.magic || end + 2 > wordsPerPage {
                    problem = 1
                } else if read(&store, p, end + 1) != JournalRecordFormat.commit {
                    problem = 2
                } else {
                    var crc: UInt32 = 0xFFFF_FFFF
                    for i in w..<end { crc = JournalRecordFormat.crc(crc, read(&store, p, i)) }
                    if ~crc != read(&store, p, end) { problem = 3 }
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
                body(UInt8(truncatingIfNeeded: header &>> 16), read(&store, p, w + 1), p, w, words, &scan)
                w = end + 2
            }
        }
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

    /// Appends one payload word to the open record (beyond the maximum it is refused and the
    /// record will not close).
    public mutating func put(_ value: UInt32) {
        guard isOpen else { return }
        guard openCount < maximumPayloadWords else { overflow = true; return }
        pending[2 + openCount] = value
        openCount += 1
    }

    /// `put` for a Float (its bit pattern).
    public mutating func put(_ value: Float) { put(value.bitPattern) }

    /// Closes the open record: it is written by the following `step` calls. False (and nothing
    /// written) when the payload overflowed.
    public mutating func close() -> Bool {
        guard isOpen else { return false }
        isOpen = false
        guard !overflow else { return false }
        lastSequence &+= 1
        pending[0] = JournalRecordFormat.header(kind: openKind, payloadWords: openCount)
        pending[1] = lastSequence
        pendingCount = openCount + JournalRecordFormat.overheadWords
        pendingWritten = 0
        pendingCRC = 0xFFFF_FFFF
        if word + pendingCount > wordsPerPage { moveToNextPage() }
        return true
    }

    /// Continues the record being written: one page erase, or up to `wordsPerStep` words. True
    /// when the record is committed by this call.
    public mutating func step<Store: NonVolatileStore>(_ store: inout Store) -> Bool {
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

    /// Writes the pending record to the end (tests, shutdown with time to spare).
    public mutating func flush<Store: NonVolatileStore>(_ store: inout Store) {
        while pendingCount > 0 {
            let before = failedRecords
            _ = step(&store)
            if failedRecords != before { return }
        }
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
