// The power-limit benchmark: a full discharge of the pack at the firmware's commanded limits
// (a load that wants the continuous rating and takes what the 2 s limit allows), against an
// oracle that knows every cell's true voltage and temperature and draws the most current that
// keeps every cell inside the same recommended-safety window.
import Firmware
import HAL

/// What one benchmark run measured.
public struct PowerLimitBenchResult: Sendable {
    public var scenario: String
    /// Charge delivered (Ah) by the pack under the firmware's limits and under the oracle.
    public var firmwareAh: Double
    public var oracleAh: Double
    /// The extremes any cell reached under the firmware (true values: V and °C).
    public var lowestCellVoltage: Double
    public var hottestCell: Double
    /// The maximum-safety limits (V, °C), and whether any cell crossed one, or a fault latched.
    public var undervoltageLimit: Double
    public var overtemperatureLimit: Double
    public var latched: FaultSet
    /// How long each discharge took (h).
    public var firmwareHours: Double
    public var oracleHours: Double

    public var ratio: Double { firmwareAh / oracleAh }
    public var crossedSafetyLimit: Bool { lowestCellVoltage < undervoltageLimit || hottestCell > overtemperatureLimit }
}

public enum PowerLimitBench {
    /// The benchmark's scenarios.
    public static let scenarios = ["summer-heat", "weak-cell"]

    /// The scenario's pack and surroundings with a discharge load: the continuous rating (2.5C),
    /// for at most 8 h; summer heat at its hottest (the afternoon's ambient all along).
    public static func dischargeScenario(_ name: String) throws(HarnessError) -> Scenario {
        var s = try Scenario.load(name)
        if case .daily(_, let maximum, _, _) = s.pack.thermal.ambient { s.pack.thermal.ambient = .constant(celsius: maximum) }
        let ratings = FirmwareSetup.elementRatings(for: s.pack)
        s.load = .constantCurrent(amperes: -Double(ratings.continuousDischarge.rawValue) / 1_000)
        s.duration = .seconds(8 * 3_600)
        s.loadObeysLimits = true
        return s
    }

    public static func run(_ name: String) throws(HarnessError) -> PowerLimitBenchResult {
        try run(scenario: dischargeScenario(name))
    }

    /// The benchmark on any discharge scenario (its load should want more than the pack gives);
    /// both discharges end when their current stays below `stopFraction` × 1C for a minute.
    public static func run(scenario: Scenario, stopFraction: Double = 0.01) throws(HarnessError) -> PowerLimitBenchResult {
        let name = scenario.name
        let ratings = FirmwareSetup.elementRatings(for: scenario.pack)
        let policy = StandardPolicy.protection(ratings)
        let oneC = Double(ratings.capacitymAh) / 1_000
        let stopCurrent = oneC * stopFraction

        // The firmware's discharge: ends when the limit stays below C/100 for a minute.
        var simulation = try Simulation(scenario: scenario)
        var lowest = Double.infinity, hottest = -Double.infinity
        var belowSince: Instant? = nil, connected = false
        let end = Instant.origin + scenario.duration
        var tick = 0
        while simulation.now < end {
            simulation.step()
            tick += 1
            for i in simulation.pack.hot.indices { lowest = min(lowest, simulation.pack.terminalVoltage(i)) }
            if tick % 100 == 0 { for e in simulation.pack.elements { hottest = max(hottest, e.temperature) } }
            if case .connected = simulation.loop.stateMachine.state { connected = true }
            guard connected else { continue }
            if simulation.loop.stateMachine.state == .error { break }
            if Double(simulation.loop.powerLimits.discharge2s.rawValue) / 1_000 < stopCurrent {
                if let since = belowSince { if simulation.now - since >= .seconds(60) { break } } else { belowSince = simulation.now }
            } else {
                belowSince = nil
            }
        }
        let firmwareAh = -simulation.pack.netChargeAmpereSeconds / 3_600
        let firmwareHours = Double(simulation.now.microsecondsSinceOrigin) / 3.6e9

        let oracle = runOracle(scenario, demand: oneC * 2.5, stopCurrent: stopCurrent,
                               minimumVoltage: Double(policy.cellUndervoltage.recommendedSafety) / 1_000,
                               maximumTemperature: Double(policy.overtemperatureDischarge.recommendedSafety) / 10)
        return PowerLimitBenchResult(
            scenario: name, firmwareAh: firmwareAh, oracleAh: oracle.ampereHours, lowestCellVoltage: lowest, hottestCell: hottest,
            undervoltageLimit: Double(policy.cellUndervoltage.maximumSafety) / 1_000,
            overtemperatureLimit: Double(policy.overtemperatureDischarge.maximumSafety) / 10,
            latched: simulation.loop.stateMachine.latched, firmwareHours: firmwareHours, oracleHours: oracle.hours)
    }

    /// The oracle: the same pack (same seed, same cells), no sensors, no estimation. Every 10 ms
    /// it sets the current that would put the weakest cell exactly at `minimumVoltage` (from the
    /// true terminal voltages and the true R0 of each element: move half-way there, as a charger
    /// holds its voltage), capped by `demand` and scaled down over the last kelvin below
    /// `maximumTemperature` of the hottest cell; it stops when that current stays below
    /// `stopCurrent` for a minute.
    static func runOracle(_ scenario: Scenario, demand: Double, stopCurrent: Double, minimumVoltage: Double,
                          maximumTemperature: Double) -> (ampereHours: Double, hours: Double) {
        var pack = Simulation.makePack(scenario)
        let step = Microseconds.milliseconds(10)
        var allowed = 0.0, belowFor = Microseconds.zero
        while pack.time < Instant.origin + scenario.duration {
            var room = Double.infinity
            for i in pack.hot.indices {
                let resistance = max(pack.seriesResistance(i), 1e-4)
                room = min(room, (pack.terminalVoltage(i) - minimumVoltage) / resistance)
            }
            let hottest = pack.elements.map(\.temperature).max() ?? 0
            let thermal = min(1, max(0, maximumTemperature - hottest))
            allowed = min(demand * thermal, max(0, allowed + 0.5 * room))
            pack.advance(current: -allowed, dt: step, linkCurrentPath: .closed)
            if allowed < stopCurrent {
                belowFor = belowFor + step
                if belowFor >= .seconds(60) { break }
            } else {
                belowFor = .zero
            }
        }
        return (-pack.netChargeAmpereSeconds / 3_600, Double(pack.time.microsecondsSinceOrigin) / 3.6e9)
    }
}
