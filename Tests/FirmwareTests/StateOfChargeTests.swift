// The OCV curve and the foundation's charge-based SOC, on hand-worked numbers.
import Firmware
import HAL
import Testing

@Suite struct StateOfChargeTests {
    @Test(arguments: [(2_900, 0.0), (3_000, 0.0), (3_350, 0.25), (3_700, 0.5), (3_950, 0.75), (4_200, 1.0), (4_300, 1.0)] as [(Int32, Float)])
    func ocvCurveInverseInterpolates(millivolts: Int32, soc: Float) {
        // testConfiguration's curve: 0 % = 3.0 V, 50 % = 3.7 V, 100 % = 4.2 V.
        let curve = testConfiguration().openCircuitVoltage
        #expect(abs(curve.stateOfCharge(atRestVoltage: Millivolts(millivolts)) - soc) < 1e-6)
    }

    @Test func socIsUnknownUntilThePackRestsThenFollowsTheCountedCharge() throws {
        // 1 Ah pack; cells at 3.35 V = 25 % at rest.
        var h = try LoopHarness(board: TestBoard(cellVoltages: [3_350, 3_350, 3_350, 3_350]),
                                configuration: testConfiguration(capacitymAh: 1_000))
        h.loop.board.currentSensor.current = Milliamperes(2_000)       // charging: not at rest
        for _ in 0..<20 { h.tick() }
        #expect(h.loop.stateOfCharge == nil)
        h.loop.board.currentSensor.current = Milliamperes(250)         // = rest threshold
        h.tick()                                                        // tick 20: the 10 ms slot
        #expect(h.loop.stateOfCharge.map { abs($0 - 0.25) < 1e-6 } == true)
        // Then 36 s at +10 A (0.1 Ah) moves SOC by 10 points, whatever the voltage says.
        h.loop.board.currentSensor.current = Milliamperes(10_000)
        h.loop.board.cellMonitor.cellVoltages = Array(repeating: Millivolts(4_100), count: 4)
        for _ in 0..<36_000 { h.tick() }
        let soc = try #require(h.loop.stateOfCharge)
        // The first interval after the anchor ramps 0.25 -> 10 A; counted charge 0.1 Ah - 4.875e-6 Ah.
        #expect(abs(soc - 0.35) < 1e-4)
    }

    @Test func socIsClampedToZeroAndOne() throws {
        var h = try LoopHarness(board: TestBoard(cellVoltages: [4_200, 4_200, 4_200, 4_200]),
                                configuration: testConfiguration(capacitymAh: 1))
        h.tick()
        h.loop.board.currentSensor.current = Milliamperes(1_000)        // far past full
        for _ in 0..<10_000 { h.tick() }
        #expect(h.loop.stateOfCharge == 1)
        h.loop.board.currentSensor.current = Milliamperes(-1_000)
        for _ in 0..<30_000 { h.tick() }
        #expect(h.loop.stateOfCharge == 0)
    }

    @Test func anInvalidCellPreventsTheAnchor() throws {
        var h = try LoopHarness(board: TestBoard(cellVoltages: [3_700, 3_700, 3_700, 3_700]))
        h.loop.board.cellMonitor.channelStatus = [0: .openWire]
        for _ in 0..<50 { h.tick() }
        #expect(h.loop.stateOfCharge == nil)
    }
}
