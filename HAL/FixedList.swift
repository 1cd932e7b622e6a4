// Fixed-capacity inline storage: a list that never allocates, never grows and refuses when full.

/// Up to `capacity` elements stored inline (no heap). `append` returns `false` when the list is
/// full instead of growing or trapping; reading past `count` is a programming error and traps.
public struct FixedList<let capacity: Int, Element: Sendable>: Sendable {
    @usableFromInline var storage: InlineArray<capacity, Element>
    @usableFromInline var storedCount: Int
    /// How many elements the list holds.
    @inlinable public var count: Int { storedCount }

    /// An empty list; `filler` initialises the unused slots (never observable).
    public init(filler: Element) {
        storage = InlineArray(repeating: filler)
        storedCount = 0
    }

    /// A list of `count` copies of `element`; `count` must not exceed the capacity.
    public init(repeating element: Element, count: Int) {
        precondition(count >= 0 && count <= capacity, "FixedList: count exceeds capacity")
        storage = InlineArray(repeating: element)
        storedCount = count
    }

    @inlinable public var isEmpty: Bool { count == 0 }
    @inlinable public var isFull: Bool { count == capacity }
    /// `0..<count`. (The precondition is the list's invariant, stated where loops start: with it
    /// the optimiser drops the per-element bounds check of the storage, ~2 instructions an element.)
    @inlinable public var indices: Range<Int> {
        precondition(storedCount <= capacity, "FixedList: count exceeds capacity")
        return 0..<storedCount
    }

    /// Appends `element`; returns `false` (and changes nothing) when the list is full.
    @discardableResult @inlinable
    public mutating func append(_ element: Element) -> Bool {
        guard count < capacity else { return false }
        storage[count] = element
        storedCount += 1
        return true
    }

    /// The capacity (as a value, for code generic over lists).
    @inlinable public var capacityValue: Int { capacity }

    /// Removes the last element; the list must not be empty.
    @inlinable public mutating func removeLast() {
        precondition(storedCount > 0, "FixedList: removeLast on an empty list")
        storedCount -= 1
    }

    /// Removes every element (the capacity stays).
    @inlinable public mutating func removeAll() { storedCount = 0 }

    /// Calls `body` for every index with this list's element (in place) and the same-index
    /// elements of `paired` (in place) and `source` (only read). Walking the lists here, instead
    /// of indexing them from the caller, keeps the optimiser of a non-Embedded cross-module build
    /// from copying `source` for every element; `source` is `inout` only so that it is passed by
    /// address (a by-value list is copied per call on the Cortex-M, and a `borrowing` one trips a
    /// compiler bug in Swift 6.3.1).
    @inlinable
    public mutating func update<Paired: Sendable, Source: Sendable>(
        paired: inout FixedList<capacity, Paired>, from source: inout FixedList<capacity, Source>,
        _ body: (inout Element, inout Paired, Source) -> Void
    ) {
        precondition(paired.storedCount == storedCount && source.storedCount == storedCount, "FixedList.update: lists differ in length")
        precondition(storedCount <= capacity, "FixedList: count exceeds capacity")
        for i in 0..<storedCount { body(&storage[i], &paired.storage[i], source.storage[i]) }
    }

    /// Calls `body` with every index and element, in order.
    @inlinable
    public func forEachElement(_ body: (Int, Element) -> Void) {
        precondition(storedCount <= capacity, "FixedList: count exceeds capacity")
        for i in 0..<storedCount { body(i, storage[i]) }
    }

    /// Element `index` (0..<count), read through the list's address. For hot loops of the host's
    /// optimised build: there `list[i]` on a list held in a larger struct copied the whole list
    /// into a temporary for every read (a `mutating` read is in place).
    @inlinable public mutating func inPlace(_ index: Int) -> Element {
        precondition(index >= 0 && index < count, "FixedList: index out of range")
        return storage[index]
    }

    /// Element `index` (0..<count). Yielded in place (`_read`/`_modify`), so reading or
    /// updating one element never copies the list.
    @inlinable public subscript(index: Int) -> Element {
        _read {
            precondition(index >= 0 && index < count, "FixedList: index out of range")
            yield storage[index]
        }
        _modify {
            precondition(index >= 0 && index < count, "FixedList: index out of range")
            yield &storage[index]
        }
    }
}

extension FixedList: Equatable where Element: Equatable {
    public static func == (a: FixedList, b: FixedList) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a.storage[i] != b.storage[i] { return false }
        return true
    }
}
