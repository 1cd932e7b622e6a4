// FixedList: fixed capacity that refuses when full, never grows, compares only what it holds.
import HAL
import Testing

@Suite struct FixedListTests {
    @Test func appendRefusesWhenFullAndKeepsContents() {
        var list = FixedList<3, Int32>(filler: 0)
        let accepted = [list.append(10), list.append(20), list.append(30)]
        #expect(accepted == [true, true, true])
        #expect(list.isFull)
        let overflow = list.append(40)
        #expect(!overflow)
        #expect(list.count == 3)
        #expect([list[0], list[1], list[2]] == [10, 20, 30])
    }

    @Test func repeatingFillsExactlyCount() {
        let list = FixedList<32, Int16>(repeating: 7, count: 16)
        #expect(list.count == 16)
        #expect(list.indices == 0..<16)
        #expect(list[15] == 7)
    }

    @Test func subscriptUpdatesInPlace() {
        var list = FixedList<4, Int32>(repeating: 1, count: 4)
        list[2] += 41
        #expect(list[2] == 42)
        #expect(list[1] == 1)
    }

    @Test func removeAllEmptiesButKeepsCapacity() {
        var list = FixedList<2, Int32>(repeating: 5, count: 2)
        list.removeAll()
        #expect(list.isEmpty)
        let accepted = list.append(9)
        #expect(accepted)
        #expect(list[0] == 9)
    }

    @Test func equalityIgnoresUnusedSlots() {
        var a = FixedList<4, Int32>(filler: 0)
        var b = FixedList<4, Int32>(filler: 99)
        a.append(1); b.append(1)
        #expect(a == b)
        b.append(2)
        #expect(a != b)
    }

    @Test func buildCapacityIsDeclaredOnce() {
        #expect(maximumCellCount == 32)
        #expect(maximumTemperatureSensorCount == 16)
        var cells = PerCell<Int32>(filler: 0)
        var accepted = 0
        for i in 0..<maximumCellCount where cells.append(Int32(i)) { accepted += 1 }
        #expect(accepted == maximumCellCount)
        let overflow = cells.append(99)
        #expect(!overflow)
    }
}

@Suite struct CellSetTests {
    @Test func insertContainsRemove() {
        var set = CellSet()
        set.insert(0); set.insert(7); set.insert(31)
        #expect(set.contains(0) && set.contains(7) && set.contains(31))
        #expect(!set.contains(1))
        #expect(set.count == 3)
        set.remove(7)
        #expect(!set.contains(7))
        #expect(set.bits == 0x8000_0001)
    }

    @Test(arguments: [-1, 32, 1000])
    func outOfRangeCellsAreNeverMembers(cell: Int) {
        var set = CellSet(bits: UInt32.max)
        #expect(!set.contains(cell))
        set.remove(cell)
        #expect(set.bits == UInt32.max)
    }
}
