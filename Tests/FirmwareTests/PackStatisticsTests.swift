// Pack statistics on hand-computed cases: minimum/maximum with indices, mean, spread, validity.
import Firmware
import HAL
import Testing

@Suite struct PackStatisticsTests {
    static func cells(_ values: [Int32], invalid: Set<Int> = []) -> PerCell<Reading<Millivolts>> {
        var list = PerCell<Reading<Millivolts>>(filler: Reading(.zero))
        for (i, v) in values.enumerated() { list.append(Reading(Millivolts(v), status: invalid.contains(i) ? .openWire : .valid)) }
        return list
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var values: [Int32]
        var invalid: Set<Int> = []
        var min: Int32, minIndex: Int, max: Int32, maxIndex: Int, mean: Int32, spread: Int32, sum: Int32
        var testDescription: String { "\(values) invalid \(invalid.sorted())" }
    }

    // Worked by hand: sum / count, rounded half away from zero; first index wins ties.
    static let cases: [Case] = [
        // 3600+3650+3590+3700 = 14540; /4 = 3635.
        Case(values: [3_600, 3_650, 3_590, 3_700], min: 3_590, minIndex: 2, max: 3_700, maxIndex: 3, mean: 3_635, spread: 110, sum: 14_540),
        // 3700+3701 = 7401; /2 = 3700.5 -> 3701.
        Case(values: [3_700, 3_701], min: 3_700, minIndex: 0, max: 3_701, maxIndex: 1, mean: 3_701, spread: 1, sum: 7_401),
        // Ties: the first of equal values is reported.
        Case(values: [3_650, 3_600, 3_700, 3_600, 3_700], min: 3_600, minIndex: 1, max: 3_700, maxIndex: 2, mean: 3_650, spread: 100, sum: 18_250),
        // The open-wire reading (index 1, 500 mV) is left out: (3700+3710+3690)/3 = 3700.
        Case(values: [3_700, 500, 3_710, 3_690], invalid: [1], min: 3_690, minIndex: 3, max: 3_710, maxIndex: 2, mean: 3_700, spread: 20, sum: 11_100),
        // One valid cell.
        Case(values: [4_200], min: 4_200, minIndex: 0, max: 4_200, maxIndex: 0, mean: 4_200, spread: 0, sum: 4_200),
        // 1+2+2 = 5; /3 = 1.667 -> 2.
        Case(values: [1, 2, 2], min: 1, minIndex: 0, max: 2, maxIndex: 1, mean: 2, spread: 1, sum: 5),
    ]

    @Test(arguments: cases)
    func cellVoltageStatistics(_ c: Case) throws {
        let stats = try #require(PackStatistics(of: Self.cells(c.values, invalid: c.invalid)))
        #expect(stats.minimum == Millivolts(c.min) && stats.minimumIndex == c.minIndex)
        #expect(stats.maximum == Millivolts(c.max) && stats.maximumIndex == c.maxIndex)
        #expect(stats.mean == Millivolts(c.mean))
        #expect(stats.spread == c.spread)
        #expect(stats.sum == c.sum)
        #expect(stats.validCount == c.values.count - c.invalid.count && stats.invalidCount == c.invalid.count)
    }

    @Test func noValidReadingMeansNoStatistics() {
        #expect(PackStatistics(of: Self.cells([3_700, 3_700], invalid: [0, 1])) == nil)
        #expect(PackStatistics(of: PerCell<Reading<Millivolts>>(filler: Reading(.zero))) == nil)
    }

    @Test func negativeTemperaturesRoundHalfAwayFromZero() throws {
        var temperatures = PerTemperatureSensor<Reading<DeciCelsius>>(filler: Reading(DeciCelsius(0)))
        for t: Int16 in [-101, -100, -250] { temperatures.append(Reading(DeciCelsius(t))) }
        // (-101 - 100 - 250) / 3 = -150.33 -> -150; min -25.0 °C at sensor 2, max -10.0 °C at sensor 1.
        let stats = try #require(PackStatistics(of: temperatures))
        #expect(stats.mean == DeciCelsius(-150))
        #expect(stats.minimum == DeciCelsius(-250) && stats.minimumIndex == 2)
        #expect(stats.maximum == DeciCelsius(-100) && stats.maximumIndex == 1)
        var halves = PerTemperatureSensor<Reading<DeciCelsius>>(filler: Reading(DeciCelsius(0)))
        for t: Int16 in [-1, -2] { halves.append(Reading(DeciCelsius(t))) }
        #expect(PackStatistics(of: halves)?.mean == DeciCelsius(-2))   // -1.5 -> -2
    }

    @Test func fullPackOf32CellsAtTheEdgesOfPlausibility() throws {
        let values = (0..<32).map { Int32($0 % 2 == 0 ? 5_000 : 500) }
        let stats = try #require(PackStatistics(of: Self.cells(values)))
        #expect(stats.sum == 88_000 && stats.mean == Millivolts(2_750) && stats.spread == 4_500)
        #expect(stats.minimumIndex == 1 && stats.maximumIndex == 0)
    }

    @Test func theLoopPublishesStatisticsEveryTick() throws {
        var h = try LoopHarness(board: TestBoard(cellVoltages: [3_600, 3_650, 3_590, 3_700]))
        h.tick()
        #expect(h.loop.cellStatistics?.minimumIndex == 2)
        h.loop.board.cellMonitor.cellVoltages[0] = Millivolts(3_500)
        h.tick()
        #expect(h.loop.cellStatistics?.minimum == Millivolts(3_500))
        #expect(h.loop.cellStatistics?.minimumIndex == 0)
        // Temperatures refresh on the 100 ms slot only: ticks 0 and 100.
        #expect(h.loop.temperatureStatistics?.maximum == DeciCelsius(251))
    }
}
