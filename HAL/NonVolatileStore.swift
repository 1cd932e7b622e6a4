// Non-volatile memory as erase-before-write pages of 32-bit words, like on-chip flash or an
// EEPROM emulation: erasing a page sets every word to 0xFFFF_FFFF, and a word can be written
// once after each erase.

/// The shape of a store.
public struct StoreGeometry: Equatable, Sendable {
    public var pageCount: Int
    public var wordsPerPage: Int
    public init(pageCount: Int, wordsPerPage: Int) {
        self.pageCount = pageCount
        self.wordsPerPage = wordsPerPage
    }
}

/// Page-erasable, word-programmable persistent memory.
public protocol NonVolatileStore {
    associatedtype Failure: HALFailure

    var geometry: StoreGeometry { get }

    /// Sets every word of `page` to 0xFFFF_FFFF.
    mutating func erase(page: Int) throws(Failure)

    /// Programs one word of an erased location (writing a word twice without an erase is an
    /// `.invalidRequest` failure).
    mutating func write(page: Int, word: Int, value: UInt32) throws(Failure)

    /// Reads one word.
    mutating func read(page: Int, word: Int) throws(Failure) -> UInt32
}
