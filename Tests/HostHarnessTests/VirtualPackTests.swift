// The minimal virtual pack: charge conservation, terminal voltage, what the sensors report,
// and the delivery load's bounds.
import HAL
import HostHarness
import Testing

@Suite struct VirtualPackTests {
    static func pack(noise: Double = 0) throws -> VirtualPack {
        let model = try CellModel.load("lg-m50")
        let configuration = VirtualPackConfiguration(
            cellModel: model, seriesCount: 4, parallelCount: 2, temperatureSensorCount: 2, ambientCelsius: 25,
            initialStateOfCharge: 0.5, capacitySpread: 0, resistanceSpread: 0, stateOfChargeSpread: 0,
            cellVoltageNoiseMillivolts: noise, currentNoiseMilliamperes: noise)
        var random = SplitMix64(seed: 1)
        return VirtualPack(configuration: configuration, random: &random)
    }

    @Test func chargeIsConserved() throws {
        var pack = try Self.pack()
        // 10 % of two cells' reference capacity in 360 s.
        let capacity = 2 * pack.configuration.cellModel.referenceCapacityAh * 3_600
        for _ in 0..<360_000 { pack.advance(current: -0.1 * capacity / 360, seconds: 0.001) }
        #expect(abs(pack.netChargeAmpereSeconds + 0.1 * capacity) < 1e-6)
        for element in pack.elements { #expect(abs(element.stateOfCharge - 0.4) < 1e-9) }
    }

    @Test func terminalVoltageIsOCVPlusIR() throws {
        var pack = try Self.pack()
        pack.advance(current: -20, seconds: 0)
        let model = try CellModel.load("lg-m50")
        let r = model.seriesResistance.value(stateOfCharge: 0.5, temperatureCelsius: 25) / 2
        let expected = model.openCircuitVoltage[0.5] - 20 * r
        #expect(abs(pack.terminalVoltages[0] - expected) < 1e-6)
    }

    @Test func sensorsQuantiseToOneMillivoltAndOneMilliampere() throws {
        var pack = try Self.pack()
        pack.advance(current: -1.234_56, seconds: 0)
        var readings = CellMonitorReadings(cellCount: 4, temperatureSensorCount: 2)
        var random = SplitMix64(seed: 9)
        pack.senseCells(into: &readings, random: &random)
        let expected = Int32((pack.terminalVoltages[2] * 1_000).rounded())
        #expect(readings.cellVoltages[2] == Reading(Millivolts(expected)))
        #expect(readings.temperatures[1] == Reading(DeciCelsius(250)))
        #expect(pack.senseCurrent(random: &random).current == Reading(Milliamperes(-1_235)))
    }

    @Test func deliveryLoadStaysWithinItsCRatesAndHasEveryPhase() {
        var source = LoadProfile.delivery.makeSource(packCapacityAh: 10, random: SplitMix64(seed: 5))
        var (launch, regen, rest, cruise) = (false, false, false, false)
        var t = Instant.origin
        for _ in 0..<(4 * 3_600 * 10) {    // 4 h at 100 ms
            let amperes = source.current(at: t)
            #expect(amperes >= -30.0001 && amperes <= 10.0001)
            if amperes <= -20 { launch = true }
            if amperes > 2 { regen = true }
            if amperes == 0 { rest = true }
            if amperes < -3 && amperes > -10 { cruise = true }
            t = t + .milliseconds(100)
        }
        #expect(launch && regen && rest && cruise)
    }

    @Test func theSameSeedGivesTheSameLoad() {
        var a = LoadProfile.delivery.makeSource(packCapacityAh: 10, random: SplitMix64(seed: 5))
        var b = LoadProfile.delivery.makeSource(packCapacityAh: 10, random: SplitMix64(seed: 5))
        var c = LoadProfile.delivery.makeSource(packCapacityAh: 10, random: SplitMix64(seed: 6))
        var t = Instant.origin, differs = false
        for _ in 0..<36_000 {
            let x = a.current(at: t)
            #expect(x == b.current(at: t))
            if x != c.current(at: t) { differs = true }
            t = t + .milliseconds(100)
        }
        #expect(differs)
    }
}
