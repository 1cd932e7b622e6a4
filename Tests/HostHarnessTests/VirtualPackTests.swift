// The virtual pack: conservation of charge, energy and heat over long runs, the thermal model
// against hand-computed cases, ageing, faults, sensors as the firmware sees them, and loads.
import Foundation
import HAL
import HostHarness
import Testing

/// A pack design for tests: ideal sensors, no spread, constant 25 °C ambient.
func testDesign(_ model: CellModel, series: Int = 4, parallel: Int = 1, toAmbient: Double = 0.05, toNeighbour: Double = 0.2,
                sensors: SensorDesign = .ideal, busbar: Double = 0, contact: Double = 0) -> PackDesign {
    PackDesign(cellModel: model, seriesCount: series, parallelCount: parallel,
               temperatureSensorCells: PackDesign.evenlySpread(2, over: series), busbarResistance: busbar, contactResistance: contact,
               thermal: ThermalDesign(cellToAmbient: toAmbient, cellToNeighbour: toNeighbour, ambient: .constant(celsius: 25)),
               initialStateOfCharge: 0.5, capacitySpread: 0, resistanceSpread: 0, stateOfChargeSpread: 0, selfDischargeSpread: 0,
               sensors: sensors, link: LinkDesign(capacitance: 1e-3, prechargeResistance: 20, bleedResistance: 10_000),
               ageingAcceleration: 1)
}

/// LG M50 with no self-discharge, perfect coulombic efficiency and no ageing (so charge and
/// capacity balance exactly).
func losslessM50() throws -> CellModel {
    var model = try CellModel.load("lg-m50")
    model.coulombicEfficiency = 1
    model.selfDischargePerMonth = 0
    model.ageing = AgeingParameters(cycleFadePerFullCycle: 0, depthExponent: 1, calendarFadePerSqrtDay: 0, activationEnergy: 0,
                                    resistanceGrowthPerFade: 0)
    return model
}

@Suite struct VirtualPackConservationTests {
    /// One hour of a repeating discharge/charge/rest profile, 10 ms steps.
    static func exercise(_ pack: inout VirtualPack, seconds: Int = 3_600) {
        for k in 0..<(seconds * 100) {
            let phase = (k / 100) % 120
            let current = phase < 60 ? -8.0 : (phase < 90 ? 5.0 : 0.0)
            pack.advance(current: current, dt: .milliseconds(10), linkCurrentPath: .closed)
        }
    }

    @Test func chargeIsConserved() throws {
        let model = try losslessM50()
        var random = SplitMix64(seed: 1)
        var pack = VirtualPack(design: testDesign(model, parallel: 2), random: &random)
        let before = (0..<4).map { pack.stateOfCharge($0) }
        Self.exercise(&pack)
        for i in 0..<4 {
            let stored = (pack.stateOfCharge(i) - before[i]) * pack.elements[i].capacityAmpereSeconds
            #expect(abs(stored - pack.netChargeAmpereSeconds) < 1e-6 * abs(pack.netChargeAmpereSeconds) + 1e-6)
        }
    }

    @Test func storedEnergyEqualsTheIntegralOfTheOCV() throws {
        let model = try losslessM50()
        var random = SplitMix64(seed: 1)
        var pack = VirtualPack(design: testDesign(model), random: &random)
        let before = (0..<4).map { pack.stateOfCharge($0) }
        Self.exercise(&pack)
        // Σ Q·∫OCV(s)ds over each cell's SOC change, by the trapezoid rule on a fine grid.
        var expected = 0.0
        for i in 0..<4 {
            let a = before[i], b = pack.stateOfCharge(i), n = 20_000
            var integral = 0.0
            for k in 0..<n {
                let s0 = a + (b - a) * Double(k) / Double(n), s1 = a + (b - a) * Double(k + 1) / Double(n)
                integral += (model.openCircuitVoltage[s0] + model.openCircuitVoltage[s1]) / 2 * (s1 - s0)
            }
            expected += integral * pack.elements[i].capacityAmpereSeconds
        }
        #expect(abs(pack.energyStored - expected) < 1e-4 * abs(expected))
        // And every joule through the terminals is either stored or dissipated.
        #expect(abs(pack.energyThroughTerminals - pack.energyStored - pack.energyDissipated) < 1e-6 * abs(pack.energyThroughTerminals))
    }

    @Test func dissipatedHeatWarmsAnAdiabaticPack() throws {
        let model = try losslessM50()
        var random = SplitMix64(seed: 1)
        var pack = VirtualPack(design: testDesign(model, toAmbient: 0, toNeighbour: 0.5, busbar: 0.0005, contact: 0.001), random: &random)
        Self.exercise(&pack, seconds: 600)
        let capacity = model.massKilograms * model.specificHeat
        let thermal = pack.elements.reduce(0) { $0 + ($1.temperature - 25) * capacity }
        // All heat (cells, contacts, busbars) ends up as temperature; the last <100 ms of heat is
        // not yet applied.
        #expect(pack.energyDissipated > 100)
        #expect(abs(thermal - pack.energyDissipated) < 0.01 * pack.energyDissipated)
    }
}

@Suite struct VirtualPackModelTests {
    @Test func steadyStateTemperatureRiseIsHeatOverConductance() throws {
        // One cell, constant 5 A: after many time constants ΔT = I²R_dc / G (G = 0.05 W/K).
        var model = try losslessM50()
        let r = 0.030
        model.seriesResistance = .constant(r); model.exchangeCurrent = .constant(500_000)
        model.r1 = .constant(1e-9); model.r2 = .constant(1e-9)
        var random = SplitMix64(seed: 1)
        var pack = VirtualPack(design: testDesign(model, series: 1, toAmbient: 0.05), random: &random)
        for _ in 0..<(3 * 3_600 * 10) { pack.advance(current: -5, dt: .milliseconds(100), linkCurrentPath: .closed) }
        // τ = m·c/G = 0.069·1100/0.05 = 1518 s; after 3 h the rise is within 0.1 % of 25 · 0.03 / 0.05 = 15 K.
        #expect(abs((pack.elements[0].temperature - 25) - 15) < 0.05)
    }

    @Test func terminalVoltageIsOCVPlusOverpotentials() throws {
        let model = try CellModel.load("lg-m50")
        var random = SplitMix64(seed: 1)
        var pack = VirtualPack(design: testDesign(model, parallel: 2), random: &random)
        pack.advance(current: -20, dt: .milliseconds(1), linkCurrentPath: .closed)
        // After 1 ms: OCV − R0·20 A − charge transfer (RC branches barely charged).
        let soc = pack.stateOfCharge(0)
        let c = CircuitCoefficients(model: model, stateOfCharge: 0.5, celsius: 25, capacityAmpereSeconds: 1, resistanceFactor: 0.5, step: 0.001)
        let expected = model.openCircuitVoltage[soc] + CircuitState.instantaneousOverpotential(current: -20, c)
        #expect(abs(pack.terminalVoltage(0) - expected) < 0.002)
    }

    @Test func cyclingAndTimeAgeTheCells() throws {
        let model = try CellModel.load("lg-m50")
        var design = testDesign(model, series: 1)
        design.ageingAcceleration = 100
        var random = SplitMix64(seed: 1)
        var pack = VirtualPack(design: design, random: &random)
        let built = pack.elements[0].capacityAmpereSeconds
        // 10 h of full 1C cycles (accelerated 100×): about 500 equivalent full cycles' worth.
        for k in 0..<(10 * 3_600 * 10) {
            let phase = (k / 10) % 7_200
            pack.advance(current: phase < 3_240 ? -5 : (phase >= 3_600 && phase < 6_840 ? 5 : 0), dt: .milliseconds(100), linkCurrentPath: .closed)
        }
        let e = pack.elements[0]
        #expect(e.cycleFade > 0.01 && e.cycleFade < 0.2)
        #expect(e.calendarFade > 0)
        #expect(e.capacityAmpereSeconds < built)
        #expect(e.resistanceFactor > 1)
    }
}

@Suite struct VirtualPackFaultTests {
    static func pack(_ faults: [ScheduledFault], sensors: SensorDesign = .ideal) throws -> (VirtualPack, PackSensors) {
        let design = testDesign(try losslessM50(), sensors: sensors)
        var random = SplitMix64(seed: 3)
        let pack = VirtualPack(design: design, faults: faults, random: &random)
        var sensorRandom = SplitMix64(seed: 4)
        return (pack, PackSensors(design: design.sensors, pack: design, random: &sensorRandom))
    }

    @Test func anInternalShortDrainsAndHeatsItsCell() throws {
        // 1 Ω across cell 2 (index 1) from t = 0: ≈3.7 A leak for 60 s ≈ 0.06 Ah ≈ 1.2 % of 5.15 Ah.
        var (pack, _) = try Self.pack([ScheduledFault(.internalShort(cell: 1, ohms: 1), at: .zero)])
        for _ in 0..<60_000 { pack.advance(current: 0, dt: .milliseconds(1), linkCurrentPath: .open) }
        let drop = pack.stateOfCharge(0) - pack.stateOfCharge(1)
        #expect(drop > 0.010 && drop < 0.014)
        #expect(pack.elements[1].temperature > pack.elements[0].temperature + 0.5)
        #expect(pack.activeFaults == ["cell 2 internal short 1.0 ohm"])
    }

    @Test func gradualFaultsReachTheirSizeOverTheRamp() throws {
        var (pack, _) = try Self.pack([ScheduledFault(.resistanceRise(cell: 0, factor: 3), at: .seconds(10), ramp: .seconds(10)),
                                       ScheduledFault(.capacityFade(cell: 3, fraction: 0.2), at: .seconds(10))])
        let built = pack.elements[3].capacityAmpereSeconds
        for _ in 0..<15_000 { pack.advance(current: 0, dt: .milliseconds(1), linkCurrentPath: .open) }
        #expect(abs(pack.elements[0].resistanceFactor - 2) < 0.05)          // half-way up the ramp
        #expect(abs(pack.elements[3].capacityAmpereSeconds / built - 0.8) < 1e-9)
        for _ in 0..<10_000 { pack.advance(current: 0, dt: .milliseconds(1), linkCurrentPath: .open) }
        #expect(abs(pack.elements[0].resistanceFactor - 3) < 1e-9)
    }

    @Test func sensorFaultsShowInTheReadings() throws {
        var (pack, sensors) = try Self.pack([ScheduledFault(.voltageSensorStuck(cell: 0), at: .zero),
                                             ScheduledFault(.voltageSensorOffset(cell: 1, volts: 0.050), at: .zero),
                                             ScheduledFault(.openWire(cell: 2), at: .zero),
                                             ScheduledFault(.temperatureSensorOpen(sensor: 0), at: .zero),
                                             ScheduledFault(.temperatureSensorShort(sensor: 1), at: .zero)])
        sensors.refreshFaults(pack.faults, at: pack.time)
        var readings = CellMonitorReadings(cellCount: 4, temperatureSensorCount: 2)
        sensors.senseCells(pack, into: &readings)
        let frozen = readings.cellVoltages[0].value
        for _ in 0..<6_000 { pack.advance(current: -5, dt: .milliseconds(100), linkCurrentPath: .closed) }
        sensors.senseCells(pack, into: &readings)
        #expect(readings.cellVoltages[0].value == frozen)                                      // stuck
        let offset = readings.cellVoltages[1].value.rawValue - readings.cellVoltages[3].value.rawValue
        #expect(abs(offset - 50) <= 1)                                                         // +50 mV
        #expect(readings.cellVoltages[2].status == .openWire)
        #expect(readings.temperatures[0].value == DeciCelsius(-500) && readings.temperatures[1].value == DeciCelsius(1_500))
    }

    @Test func currentSensorDriftGrowsWithTime() throws {
        var (pack, sensors) = try Self.pack([ScheduledFault(.currentSensorDrift(amperesPerHour: 0.1), at: .zero)])
        for _ in 0..<18_000 { pack.advance(current: 0, dt: .milliseconds(100), linkCurrentPath: .open) }
        sensors.refreshFaults(pack.faults, at: pack.time)
        #expect(sensors.sensePack(pack).current.value == Milliamperes(50))                   // 0.1 A/h × 0.5 h
    }

    @Test func temperatureSensorsLagTheirCells() throws {
        var sensorsDesign = SensorDesign.ideal
        sensorsDesign.temperatureLag = 10
        var (pack, sensors) = try Self.pack([ScheduledFault(.localHeating(cell: 0, watts: 20), at: .zero)], sensors: sensorsDesign)
        for _ in 0..<100 {
            for _ in 0..<100 { pack.advance(current: 0, dt: .milliseconds(1), linkCurrentPath: .open) }
            sensors.followTemperatures(pack, seconds: 0.1)
        }
        // After 10 s of a rising cell temperature, a 10 s lag reads well below the cell.
        let cell = pack.elements[0].temperature
        #expect(cell > 26)
        #expect(sensors.sensorTemperatures[0] < cell - 0.5 && sensors.sensorTemperatures[0] > 25)
    }

    @Test func sensorErrorsAreDrawnPerChannelAndQuantised() throws {
        var design = SensorDesign.ideal
        design.cellVoltageOffsetSpread = 0.002
        let (pack, _) = try Self.pack([])
        var random = SplitMix64(seed: 9)
        var sensors = PackSensors(design: design, pack: testDesign(try losslessM50(), sensors: design), random: &random)
        var readings = CellMonitorReadings(cellCount: 4, temperatureSensorCount: 2)
        sensors.senseCells(pack, into: &readings)
        let values = (0..<4).map { readings.cellVoltages[$0].value.rawValue }
        #expect(Set(values).count > 1)                                                         // offsets differ
        for v in values { #expect(abs(Double(v) / 1_000 - pack.terminalVoltage(0)) < 0.0075) }  // within 3σ + 1 LSB
    }
}

@Suite struct LoadTests {
    static func context(_ t: Instant, volts: Double = 60, soc: Double? = 0.8) -> LoadContext {
        LoadContext(time: t, packVoltage: volts, seriesCount: 16, packResistance: 0.3, displayedStateOfCharge: soc)
    }

    @Test func deliveryLoadStaysWithinItsCRatesAndHasEveryPhase() {
        var load = LoadProfile.delivery.makeController(packCapacityAh: 10, random: SplitMix64(seed: 5))
        var (launch, regen, rest, cruise) = (false, false, false, false)
        var t = Instant.origin
        for _ in 0..<(4 * 3_600 * 10) {
            let amperes = load.current(Self.context(t))
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
        var a = LoadProfile.delivery.makeController(packCapacityAh: 10, random: SplitMix64(seed: 5))
        var b = LoadProfile.delivery.makeController(packCapacityAh: 10, random: SplitMix64(seed: 5))
        var c = LoadProfile.delivery.makeController(packCapacityAh: 10, random: SplitMix64(seed: 6))
        var t = Instant.origin, differs = false
        for _ in 0..<36_000 {
            let x = a.current(Self.context(t))
            #expect(x == b.current(Self.context(t)))
            if x != c.current(Self.context(t)) { differs = true }
            t = t + .milliseconds(100)
        }
        #expect(differs)
    }

    @Test func chargerHoldsTheVoltageAndStopsAtTheCutoff() {
        // A pack of 16 ideal cells: EMF 3.9 V each, 0.3 Ω total; charge 5 A to 4.1 V/cell, cut-off 0.5 A.
        var load = LoadProfile.charge(ChargerSettings(current: 5, cellVoltage: 4.1, cutoffCurrent: 0.5))
            .makeController(packCapacityAh: 10, random: SplitMix64(seed: 1))
        var emf = 16 * 3.9, t = Instant.origin, current = 0.0, maximum = 0.0
        for _ in 0..<200_000 {
            current = load.current(LoadContext(time: t, packVoltage: emf + 0.3 * current, seriesCount: 16, packResistance: 0.3,
                                               displayedStateOfCharge: nil))
            maximum = max(maximum, emf + 0.3 * current)
            emf += current * 0.001 * 0.05       // the EMF rises as charge goes in
            t = t + .milliseconds(1)
        }
        #expect(current == 0)                                 // reached the cut-off and stopped
        #expect(maximum <= 16 * 4.1 + 0.02)                   // never above the CV setpoint
    }

    @Test func deliveryDayRidesInShiftsAndChargesAtTheDepot() {
        let plan = DeliveryDayPlan(shifts: [(7, 11)], returnStateOfCharge: 0.15,
                                   charger: ChargerSettings(current: 5, cellVoltage: 4.15, cutoffCurrent: 0.5))
        var load = LoadProfile.deliveryDay(plan).makeController(packCapacityAh: 10, random: SplitMix64(seed: 1))
        #expect(load.current(Self.context(Instant.origin + .seconds(6 * 3_600))) == 0)
        #expect(load.activity == .resting)
        _ = load.current(Self.context(Instant.origin + .seconds(7 * 3_600)))
        #expect(load.activity == .riding)
        _ = load.current(Self.context(Instant.origin + .seconds(8 * 3_600), soc: 0.14))       // displayed SOC low
        #expect(load.activity == .charging)
    }

    @Test func theKeptShiftAnswerChangesOnTheSameTickAsTheHourComputedEveryTick() {
        // Ticks of 1 ms around a shift's start, its end and midnight of the next day (one of them
        // fractional: 10.5 h), each answer against the hour computed on that tick.
        let plan = DeliveryDayPlan(shifts: [(7, 10.5), (22, 23.999)], returnStateOfCharge: 0.15,
                                   charger: ChargerSettings(current: 5, cellVoltage: 4.15, cutoffCurrent: 0.5))
        var load = LoadProfile.deliveryDay(plan).makeController(packCapacityAh: 10, random: SplitMix64(seed: 1))
        var mismatches = 0, changes = 0, previous: Bool? = nil
        for around in [7.0, 10.5, 23.999, 24.0, 31.0] {
            let centre = Int64(around * 3.6e9)
            for t in stride(from: centre - 10_000, through: centre + 10_000, by: 1_000) {
                let hour = (Double(t) / 3.6e9).truncatingRemainder(dividingBy: 24)
                let direct = plan.shifts.contains { hour >= $0.start && hour < $0.end }
                let kept = load.isInShift(at: t)
                if kept != direct { mismatches += 1 }
                if let p = previous, p != kept { changes += 1 }
                previous = kept
            }
        }
        #expect(mismatches == 0)
        #expect(changes >= 4)
    }

    @Test func profilesAreReadFromCSVWithFileAndLineErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbms-profile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let good = dir.appendingPathComponent("p.csv"), bad = dir.appendingPathComponent("q.csv")
        try "time_s,power_w\n0,-100\n10,-300\n".write(to: good, atomically: true, encoding: .utf8)
        try "time_s,current_a\n0,1\n5,x\n".write(to: bad, atomically: true, encoding: .utf8)
        let (series, isPower) = try ProfileSeries.load(good.path, repeats: true)
        #expect(isPower)
        #expect(series.value(at: 5) == -200)
        #expect(series.value(at: 15) == -200)                                                  // repeats every 10 s
        // The same profile with Windows line ends reads the same.
        let crlf = dir.appendingPathComponent("r.csv")
        try "time_s,power_w\r\n0,-100\r\n10,-300\r\n".write(to: crlf, atomically: true, encoding: .utf8)
        let (twin, twinIsPower) = try ProfileSeries.load(crlf.path, repeats: true)
        #expect(twinIsPower && twin.value(at: 5) == -200 && twin.value(at: 15) == -200)
        #expect(throws: HarnessError("\(bad.path):3: expected numbers in 'time_s' and 'current_a'")) {
            _ = try ProfileSeries.load(bad.path, repeats: false)
        }
    }

    @Test(arguments: [(0.0, 25.0), (5.0, 20.0), (15.0, 38.0), (10.0, 29.0)] as [(Double, Double)])
    func dailyAmbientFollowsAHalfCosine(hour: Double, celsius: Double) {
        // 20 °C at 05:00, 38 °C at 15:00; 10:00 is half-way; midnight is 5/14 of the way down.
        let profile = AmbientProfile.daily(minimum: 20, maximum: 38, coldestHour: 5, warmestHour: 15)
        let expected = hour == 0 ? 20 + 18 * (1 - cos(Double.pi * (1 - 9.0 / 14))) / 2 : celsius
        #expect(abs(profile.celsius(at: hour * 3_600) - expected) < 1e-9)
    }
}
