// Reaction-time rows of Docs/protection.md, each checked on the virtual pack: the fault injected,
// the contactors reported open within the documented bound, the fault latched; and the twin just
// inside the limit keeps the contactors closed.
import Firmware
import HAL
import HostHarness
import Testing

@Suite struct ProtectionReactionTests {
    static let cases: [ReactionCase] = (try? ReactionTimes.cases()) ?? []

    @Test func everyFaultThatOpensTheContactorsHasARow() {
        let faults = Set(Self.cases.map(\.fault.rawValue))
        for fault in [FaultID.cellOvervoltage, .cellUndervoltage, .overcurrentCharge, .overcurrentDischarge, .overtemperatureDischarge,
                      .overtemperatureCharge, .temperatureRiseRate, .cellVoltageStale, .cellVoltageImplausible,
                      .currentMeasurementFault, .temperatureSensorFault, .sumOfCellsMismatch] {
            #expect(faults.contains(fault.rawValue), "no reaction-time row for \(fault.name)")
        }
    }

    @Test(arguments: 0..<12)
    func reactsWithinTheDocumentedTimeAndNotJustInside(_ index: Int) throws {
        try #require(Self.cases.count == 12 && index < Self.cases.count)
        let c = Self.cases[index]
        let r = try ReactionTimes.measure(c)
        let reaction = try #require(r.reaction, "\(c.fault.name): the contactors never opened")
        #expect(reaction <= c.documentedBound, "\(c.fault.name): \(reaction.rawValue / 1_000) ms > \(c.documentedBound.rawValue / 1_000) ms")
        #expect(r.latched.contains(c.fault), "\(c.fault.name): latched \(r.latched.names)")
        #expect(!r.insideOpened, "\(c.fault.name): the twin just inside the limit opened (latched \(r.insideLatched.names))")
    }

    /// Another seed changes the sensors' offsets and noise: the bounds hold there too.
    @Test(arguments: [2, 3] as [UInt64])
    func voltageReactionsHoldForOtherSeeds(_ seed: UInt64) throws {
        for c in Self.cases where c.fault == .cellOvervoltage || c.fault == .cellUndervoltage {
            var other = c
            other.scenario.seed = seed
            let r = try ReactionTimes.measure(other)
            let reaction = try #require(r.reaction)
            #expect(reaction <= c.documentedBound, "\(c.fault.name), seed \(seed): \(reaction.rawValue / 1_000) ms")
        }
    }
}
