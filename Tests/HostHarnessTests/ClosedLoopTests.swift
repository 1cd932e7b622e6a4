// The firmware in charge of the virtual pack: contactors switch the load path (with precharge
// and mechanical delays), loads and chargers obey the firmware's limits, welded and failing
// contactors are caught, and a full discharge at the limits stays inside the safety limits.
import Firmware
import HAL
import HostHarness
import Testing

@Suite struct ClosedLoopTests {
    /// `delivery-hour`'s pack with another load, SOC and duration.
    static func scenario(load: LoadProfile, soc: Double = 0.6, seconds: Int32 = 10, faults: [ScheduledFault] = [],
                         series: Int = 16) throws -> Scenario {
        var s = try Scenario.load("delivery-hour")
        s.load = load
        s.pack.initialStateOfCharge = soc
        s.pack.seriesCount = series
        s.pack.temperatureSensorCells = PackDesign.evenlySpread(min(4, series), over: series)
        s.faults = faults
        s.duration = .seconds(seconds)
        return s
    }

    @Test func aDriveLoadGetsCurrentOnlyAfterThePrechargeAndTheMainContactorsClose() throws {
        var sim = try Simulation(scenario: Self.scenario(load: .constantCurrent(amperes: -10)))
        var firstCurrent: Instant? = nil, sawPrecharge = false, closedAt: Instant? = nil
        for _ in 0..<2_000 {
            sim.step()
            let f = sim.loop.board.contactors.positions
            if f.precharge == .closed && f.mainNegative == .closed && f.mainPositive == .open {
                sawPrecharge = true
                #expect(sim.pack.current <= 0 && sim.pack.current > -5, "only the precharge current flows")
            }
            if closedAt == nil, sim.loop.stateMachine.state == .connected(.drive) { closedAt = sim.now }
            if firstCurrent == nil && sim.pack.current < -9 { firstCurrent = sim.now }
        }
        #expect(sawPrecharge)
        let closed = try #require(closedAt), first = try #require(firstCurrent)
        #expect(first >= closed, "the load drew before the firmware reported connected")
        // Request at 100 ms, main negative 15 ms, precharge to 2 V (~5 τ of 20 ms), main positive 15 ms.
        #expect(closed - Instant.origin < .milliseconds(400))
        // Then the limit ramps up: the full 10 A within a second or two.
        #expect(abs(sim.pack.current + 10) < 0.01)
    }

    @Test func whenTheLoadNoLongerNeedsThePackTheContactorsOpen() throws {
        let load = LoadProfile.sequence([(.constantCurrent(amperes: -5), .seconds(3)), (.rest, .seconds(3))])
        var sim = try Simulation(scenario: Self.scenario(load: load, seconds: 6))
        sim.run(for: .seconds(6), record: { _ in })
        #expect(sim.loop.stateMachine.state == .standby)
        #expect(sim.loop.board.contactors.positions.mainPositive == .open && sim.loop.board.contactors.positions.mainNegative == .open)
        #expect(sim.pack.current == 0)
        #expect(sim.loop.stateMachine.latched.isEmpty)
    }

    @Test func aChargerIsLimitedToTheFirmwaresChargeLimitAndEndsWhenThePackIsFull() throws {
        let charger = ChargerSettings(current: 50, cellVoltage: 4.2, cutoffCurrent: 0.5)       // asks for 5C
        var sim = try Simulation(scenario: Self.scenario(load: .charge(charger), soc: 0.5, seconds: 20))
        var highest = 0.0
        for _ in 0..<20_000 {
            sim.step()
            highest = max(highest, sim.pack.current)
            let limit = Double(sim.loop.powerLimits.charge2s.rawValue) / 1_000
            #expect(sim.pack.current <= limit + 1e-9, "charger above the limit at \(sim.now.microsecondsSinceOrigin) µs")
            if sim.pack.current > limit + 1e-9 { break }
        }
        // The continuous charge rating (1C = 10 A for 16s2p M50) caps it.
        #expect(highest > 9 && highest <= 10.001)
    }

    @Test func aWeldedMainContactorIsDetectedWhenTheFirmwareOpens() throws {
        let load = LoadProfile.sequence([(.constantCurrent(amperes: -5), .seconds(2)), (.rest, .seconds(3))])
        var sim = try Simulation(scenario: Self.scenario(load: load, seconds: 5,
                                                         faults: [ScheduledFault(.contactorWelded(.mainPositive), at: .seconds(1))]))
        sim.run(for: .seconds(5), record: { _ in })
        #expect(sim.loop.stateMachine.latched.contains(.contactorWelded))
        #expect(sim.loop.stateMachine.state == .error)
        // Everything else is commanded open; the weld keeps main positive closed, main negative breaks the path.
        #expect(sim.loop.board.contactors.positions.mainNegative == .open)
        #expect(sim.pack.current == 0)
    }

    /// A main positive welded behind a feedback contact that still follows the coil: only the
    /// link voltage jumping to the pack voltage as main negative closes tells; the firmware stops
    /// there, before any precharge or load current.
    @Test func aWeldHiddenBehindTheFeedbackIsFoundFromTheLinkVoltage() throws {
        var sim = try Simulation(scenario: Self.scenario(load: .constantCurrent(amperes: -5), seconds: 2,
                                                         faults: [ScheduledFault(.contactorWeldedBehindFeedback(.mainPositive), at: .zero)]))
        var loadCurrent = false
        for _ in 0..<2_000 {
            sim.step()
            if sim.pack.current < -1 { loadCurrent = true }
        }
        #expect(sim.loop.stateMachine.latched.contains(.contactorWelded))
        #expect(sim.loop.board.contactors.commanded.mainNegative == .open)
        #expect(!loadCurrent, "the load drew current through the welded contact")
    }

    @Test func aContactorThatNeverClosesEndsInAFeedbackFaultWithEverythingOpen() throws {
        var sim = try Simulation(scenario: Self.scenario(load: .constantCurrent(amperes: -5), seconds: 2,
                                                         faults: [ScheduledFault(.contactorFailsToClose(.mainPositive), at: .zero)]))
        sim.run(for: .seconds(2), record: { _ in })
        #expect(sim.loop.stateMachine.latched.contains(.contactorFeedback))
        #expect(sim.loop.board.contactors.commanded.mainNegative == .open && sim.loop.board.contactors.commanded.precharge == .open)
        #expect(sim.pack.current == 0)
    }

    /// A small weak-cell pack (4s2p, cell 2 with −17 % capacity and ×1.8 resistance) from 5 %
    /// SOC with a load that wants 2.5C: the firmware's limits bring it to empty without any cell
    /// crossing a maximum-safety limit, delivering at least 95 % of what the oracle delivers.
    @Test func aDischargeAtTheLimitsStaysInsideTheSafetyLimitsAndDeliversWhatTheOracleDoes() throws {
        var s = try Self.scenario(load: .constantCurrent(amperes: -25), soc: 0.05, seconds: 1_800, series: 4)
        s.faults = [ScheduledFault(.capacityFade(cell: 1, fraction: 0.17), at: .zero),
                    ScheduledFault(.resistanceRise(cell: 1, factor: 1.8), at: .zero)]
        let r = try PowerLimitBench.run(scenario: s, stopFraction: 0.05)        // C/20 ends both (a shorter tail)
        #expect(!r.crossedSafetyLimit, "lowest \(r.lowestCellVoltage) V, hottest \(r.hottestCell) °C")
        #expect(r.latched.isEmpty, "latched \(r.latched.names)")
        #expect(r.ratio >= 0.95, "firmware \(r.firmwareAh) Ah vs oracle \(r.oracleAh) Ah")
    }
}
