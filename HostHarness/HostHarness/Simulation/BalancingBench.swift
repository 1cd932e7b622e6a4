// The balancing benchmark: the delivery day on a 16-cell pack built unbalanced (SOC offsets
// spread evenly over 10 %: more than 100 mV of rest voltage and 5 % of SOC), day after day, with
// the rest-voltage spread recorded at every top of charge and the charge and energy bled.
import Firmware
import HAL

/// One top of charge: when, and the firmware's measured cell-voltage spread then.
public struct TopOfCharge: Sendable {
    public var time: Instant
    public var spreadMillivolts: Int32
    /// Charge bled so far (Ah, true) at that moment.
    public var bledAh: Double
}

public struct BalancingBenchResult: Sendable {
    /// The pack's initial rest-voltage spread (mV, true OCV) and SOC spread (fraction).
    public var initialSpreadMillivolts: Double
    public var initialStateOfChargeSpread: Double
    public var tops: [TopOfCharge]
    /// The first top of charge at or below the target, if any.
    public var reached: TopOfCharge?
    public var energyBledWh: Double
    public var chargeBledAh: Double
    /// The least charge that balances the pack: each element's initial excess over the emptiest (Ah).
    public var minimumChargeAh: Double
    public var days: Double
}

public enum BalancingBench {
    /// The target: rest-voltage spread at the top of charge (mV).
    public static let targetMillivolts: Int32 = 10
    /// How long a top-of-charge rest is watched before the spread is read (or until it ends).
    static let settle = Microseconds.seconds(1_800)

    /// `delivery-day`, 16s2p, starting at 70 % with the elements' SOC offsets from −5 % to +5 %.
    public static func scenario(days: Int32) throws(HarnessError) -> Scenario {
        var s = try Scenario.load("delivery-day")
        s.name = "balancing-bench"
        s.pack.initialStateOfCharge = 0.7
        let n = s.pack.seriesCount
        // Deterministic and interleaved (so neighbours differ): element i gets the offset of rank (i·7 mod n).
        s.pack.stateOfChargeOffsets = (0..<n).map { i in -0.05 + 0.1 * Double((i * 7) % n) / Double(n - 1) }
        s.duration = .seconds(days * 86_400)
        return s
    }

    /// Runs up to `days` delivery days; stops one top of charge after the target is first met.
    public static func run(days: Int32) throws(HarnessError) -> BalancingBenchResult {
        let s = try scenario(days: days)
        var simulation = try Simulation(scenario: s)
        let ocvs = (0..<s.pack.seriesCount).map { s.pack.cellModel.openCircuitVoltage[simulation.pack.stateOfCharge($0)] }
        let socs = (0..<s.pack.seriesCount).map { simulation.pack.stateOfCharge($0) }
        let charges = (0..<s.pack.seriesCount).map { simulation.pack.stateOfCharge($0) * simulation.pack.elements[$0].capacityAmpereSeconds }
        let minimumCharge = charges.map { $0 - (charges.min() ?? 0) }.reduce(0, +) / 3_600
        var tops: [TopOfCharge] = [], reached: TopOfCharge? = nil
        var previous = simulation.load.activity
        var restAfterCharge: Instant? = nil
        let end = Instant.origin + s.duration
        while simulation.now < end {
            simulation.step()
            let activity = simulation.load.activity
            if previous == .charging && activity == .resting { restAfterCharge = simulation.now }
            if let start = restAfterCharge, activity != .resting || simulation.now - start >= settle,
               let stats = simulation.loop.cellStatistics {
                let top = TopOfCharge(time: simulation.now, spreadMillivolts: stats.spread,
                                      bledAh: simulation.pack.chargeBled.reduce(0, +) / 3_600)
                tops.append(top)
                restAfterCharge = nil
                if let first = reached {
                    if top.time > first.time { break }          // one more top of charge, to show it holds
                } else if top.spreadMillivolts <= targetMillivolts {
                    reached = top
                }
            }
            previous = activity
        }
        return BalancingBenchResult(
            initialSpreadMillivolts: ((ocvs.max() ?? 0) - (ocvs.min() ?? 0)) * 1_000,
            initialStateOfChargeSpread: (socs.max() ?? 0) - (socs.min() ?? 0),
            tops: tops, reached: reached, energyBledWh: simulation.pack.energyBled / 3_600,
            chargeBledAh: simulation.pack.chargeBled.reduce(0, +) / 3_600, minimumChargeAh: minimumCharge,
            days: Double(simulation.now.microsecondsSinceOrigin) / 8.64e10)
    }
}
