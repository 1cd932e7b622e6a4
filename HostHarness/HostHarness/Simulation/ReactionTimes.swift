// Reaction times of the protection, measured on the virtual pack: for each fault that opens the
// contactors, a scenario injects it (a rogue charger or load, a heating cell, a failing sensor),
// and the time from the fault's onset to the contactors reported open is measured; a twin
// scenario keeps the value just inside the limit and must not open anything.
import Firmware
import HAL

/// One row of the reaction-time table.
public struct ReactionCase: Sendable {
    public var fault: FaultID
    /// The detection threshold in words, and what "onset" means for this fault.
    public var threshold: String
    public var onsetDefinition: String
    /// The documented bound (Docs/protection.md): onset to both main contactors reported open.
    public var documentedBound: Microseconds
    /// The fault scenario, and when its onset is (checked after every tick, with a scratch
    /// array the check may keep history in).
    public var scenario: Scenario
    public var onset: @Sendable (Simulation, inout [Double]) -> Bool
    /// The twin that stays just inside the limit, what "inside" means, and how long it runs.
    public var inside: Scenario
    public var insideDefinition: String
}

/// What one case measured.
public struct ReactionResult: Sendable {
    public var fault: FaultID
    /// Onset to both mains reported open (nil: never both).
    public var reaction: Microseconds?
    /// The faults latched at the end of the fault run, and whether the twin opened anything.
    public var latched: FaultSet
    public var insideOpened: Bool
    public var insideLatched: FaultSet
}

public enum ReactionTimes {
    /// The scenarios share the 16s2p LG M50 scooter pack of `delivery-hour`.
    static let base = "delivery-hour"

    /// Every case of the table.
    public static func cases() throws(HarnessError) -> [ReactionCase] {
        let template = try Scenario.load(base)
        let policy = StandardPolicy.protection(FirmwareSetup.elementRatings(for: template.pack))

        /// The template with a rogue load, no spread in SOC, and the given changes.
        func scenario(_ name: String, soc: Double, load: LoadProfile, seconds: Int32, faults: [ScheduledFault] = [],
                      _ change: (inout Scenario) -> Void = { _ in }) -> Scenario {
            var s = template
            s.name = "reaction-\(name)"
            s.description = "protection reaction: \(name)"
            s.pack.initialStateOfCharge = soc
            s.pack.stateOfChargeSpread = 0
            s.load = load
            s.faults = faults
            s.duration = .seconds(seconds)
            s.loadObeysLimits = false
            change(&s)
            return s
        }
        func mV(_ v: Int32) -> String { "\(Double(v) / 1_000) V" }
        func A(_ mA: Int32) -> String { "\(Double(mA) / 1_000) A" }
        func C(_ dC: Int32) -> String { "\(Double(dC) / 10) °C" }
        /// Quiet sensors for the twins, so "just inside" is exact.
        func quiet(_ s: inout Scenario) {
            s.pack.sensors.cellVoltageNoise = 0
            s.pack.sensors.cellVoltageGainSpread = 0
            s.pack.sensors.cellVoltageOffsetSpread = 0
            s.pack.sensors.currentNoise = 0
        }

        let ov = policy.cellOvervoltage.maximumSafety, uv = policy.cellUndervoltage.maximumSafety
        let ocCharge = policy.overcurrentCharge.maximumSafety, ocDischarge = policy.overcurrentDischarge.maximumSafety
        let ot = policy.overtemperatureDischarge.maximumSafety
        let oneC = Double(template.pack.cellModel.ratedCapacityAh) * Double(template.pack.parallelCount)
        // Offsets that put a quiet cell-1 reading a few mV inside a voltage limit: the twin's
        // pack rests at `soc` under a 0.5 A drive load, its cell 1 reading is moved next to the limit.
        func insideVoltage(_ name: String, soc: Double, limit: Int32, by margin: Int32) throws(HarnessError) -> Scenario {
            var twin = scenario(name + "-inside", soc: soc, load: .constantCurrent(amperes: -0.5), seconds: 10, quiet)
            var probe = try Simulation(scenario: twin)
            for _ in 0..<2_000 { probe.step() }                  // connected and settled
            let reading = Double(probe.loop.measurements.cells.cellVoltages[0].value.rawValue) / 1_000
            let target = Double(limit + margin) / 1_000
            twin.faults = [ScheduledFault(.voltageSensorOffset(cell: 0, volts: target - reading), at: .seconds(3))]
            return twin
        }

        /// A measurement fault from 3 s on a pack driving at 5 A; the twin's lasts only `inside`.
        func outage(_ fault: FaultID, _ kind: FaultKind, _ name: String, threshold: String, onset: String,
                    inside: Microseconds, insideDefinition: String) -> ReactionCase {
            let drive = LoadProfile.constantCurrent(amperes: -5)
            return ReactionCase(
                fault: fault, threshold: threshold, onsetDefinition: "\(onset) (scheduled at 3 s)", documentedBound: .milliseconds(500),
                scenario: scenario(name, soc: 0.6, load: drive, seconds: 5, faults: [ScheduledFault(kind, at: .seconds(3))]),
                onset: { s, _ in s.now >= Instant(microsecondsSinceOrigin: 3_000_000) },
                inside: scenario(name + "-inside", soc: 0.6, load: drive, seconds: 5,
                                 faults: [ScheduledFault(kind, at: .seconds(3), duration: inside)]),
                insideDefinition: insideDefinition)
        }

        /// A 100 W hot spot at sensor 1's cell from 2 s, in air 1.5 K below the limit; sensor lag
        /// set to zero. The twin: the pack 0.3 K below the limit, no hot spot.
        func overtemperature(_ fault: FaultID, _ name: String, limit: Int32, load amperes: Double, window: String) -> ReactionCase {
            let sensed = template.pack.temperatureSensorCells[0]
            let celsius = Double(limit) / 10
            return ReactionCase(
                fault: fault,
                threshold: "hottest sensor above \(C(limit)) for 300 ms (100 ms statistics), then 200 ms reaction delay",
                onsetDefinition: "the first tick the sensed cell's true temperature exceeds \(C(limit)) (a 100 W hot spot at sensor 1's cell"
                    + " in \(celsius - 1.5) °C air, \(window); sensor lag set to 0)",
                documentedBound: .milliseconds(1_000),
                scenario: scenario(name, soc: 0.6, load: .constantCurrent(amperes: amperes), seconds: 60,
                                   faults: [ScheduledFault(.localHeating(cell: sensed, watts: 100), at: .seconds(2))]) { s in
                    s.pack.thermal.ambient = .constant(celsius: celsius - 1.5)
                    s.pack.sensors.temperatureLag = 0
                },
                onset: { s, _ in s.pack.elements[sensed].temperature * 10 > Double(limit) },
                inside: scenario(name + "-inside", soc: 0.6, load: .constantCurrent(amperes: amperes), seconds: 10) { s in
                    s.pack.thermal.ambient = .constant(celsius: celsius - 0.3)
                    s.pack.sensors.temperatureLag = 0
                },
                insideDefinition: "the pack 0.3 K below \(C(limit)) for 10 s, \(window)")
        }

        return [
            ReactionCase(
                fault: .cellOvervoltage, threshold: "highest cell above \(mV(ov)) for 30 ms, then 50 ms reaction delay",
                onsetDefinition: "the first tick a true cell terminal voltage exceeds \(mV(ov)) (a rogue charger pushes 1C into a 97 % pack)",
                documentedBound: .milliseconds(200),
                scenario: scenario("cell-overvoltage", soc: 0.97, load: .constantCurrent(amperes: oneC), seconds: 20),
                onset: { s, _ in (0..<s.pack.hot.count).contains { s.pack.terminalVoltage($0) * 1_000 > Double(ov) } },
                inside: try insideVoltage("cell-overvoltage", soc: 0.97, limit: ov, by: -3),
                insideDefinition: "cell 1 reads 3 mV below \(mV(ov)) for 7 s (sensor offset, quiet sensors)"),
            ReactionCase(
                fault: .cellUndervoltage, threshold: "lowest cell below \(mV(uv)) for 30 ms, then 50 ms reaction delay",
                onsetDefinition: "the first tick a true cell terminal voltage falls below \(mV(uv)) (a rogue 3C load on a 4 % pack)",
                documentedBound: .milliseconds(200),
                scenario: scenario("cell-undervoltage", soc: 0.04, load: .constantCurrent(amperes: -3 * oneC), seconds: 60),
                onset: { s, _ in (0..<s.pack.hot.count).contains { s.pack.terminalVoltage($0) * 1_000 < Double(uv) } },
                inside: try insideVoltage("cell-undervoltage", soc: 0.10, limit: uv, by: 3),
                insideDefinition: "cell 1 reads 3 mV above \(mV(uv)) for 7 s (sensor offset, quiet sensors)"),
            ReactionCase(
                fault: .overcurrentDischarge, threshold: "discharge current beyond \(A(-ocDischarge)) for 5 ms, then 5 ms reaction delay",
                onsetDefinition: "the first tick the true pack current exceeds \(A(-ocDischarge)) in discharge (a rogue 5C load)",
                documentedBound: .milliseconds(50),
                scenario: scenario("overcurrent-discharge", soc: 0.6, load: .constantCurrent(amperes: -5 * oneC), seconds: 5),
                onset: { s, _ in s.pack.current * 1_000 < Double(ocDischarge) },
                inside: scenario("overcurrent-discharge-inside", soc: 0.6,
                                 load: .constantCurrent(amperes: Double(ocDischarge) / 1_000 + 0.5), seconds: 3, quiet),
                insideDefinition: "a discharge 0.5 A inside \(A(-ocDischarge)) for 3 s"),
            ReactionCase(
                fault: .overcurrentCharge, threshold: "charge current above \(A(ocCharge)) for 5 ms, then 5 ms reaction delay",
                onsetDefinition: "the first tick the true pack current exceeds \(A(ocCharge)) in charge (a rogue 2C charger)",
                documentedBound: .milliseconds(50),
                scenario: scenario("overcurrent-charge", soc: 0.5, load: .constantCurrent(amperes: 2 * oneC), seconds: 5),
                onset: { s, _ in s.pack.current * 1_000 > Double(ocCharge) },
                inside: scenario("overcurrent-charge-inside", soc: 0.5,
                                 load: .constantCurrent(amperes: Double(ocCharge) / 1_000 - 0.5), seconds: 3, quiet),
                insideDefinition: "a charge 0.5 A inside \(A(ocCharge)) for 3 s"),
            overtemperature(.overtemperatureDischarge, "overtemperature-discharge", limit: ot, load: -2,
                            window: "discharge (a 2 A drive load)"),
            overtemperature(.overtemperatureCharge, "overtemperature-charge", limit: policy.overtemperatureCharge.maximumSafety,
                            load: 5, window: "charge (a 0.5C charger)"),
            outage(.cellVoltageStale, .frontEndTimeout, "cell-voltage-stale",
                   threshold: "no cell voltages for 100 ms (measurement timeout), 100 ms debounce, 100 ms reaction delay",
                   onset: "the front end stops answering", inside: .milliseconds(100),
                   insideDefinition: "the front end silent for 100 ms (no longer than the measurement timeout)"),
            outage(.cellVoltageImplausible, .openWire(cell: 4), "cell-voltage-implausible",
                   threshold: "a channel reports an open wire (or is implausible) for 100 ms, then 100 ms reaction delay",
                   onset: "cell 5's sense wire opens", inside: .milliseconds(99),
                   insideDefinition: "an open wire reported for 99 ms (shorter than the debounce)"),
            outage(.currentMeasurementFault, .currentSensorTimeout, "current-measurement",
                   threshold: "no current reading for 100 ms (measurement timeout), 100 ms debounce, 100 ms reaction delay",
                   onset: "the current sensor stops answering", inside: .milliseconds(100),
                   insideDefinition: "the current sensor silent for 100 ms (no longer than the measurement timeout)"),
            ReactionCase(
                fault: .temperatureRiseRate,
                threshold: "fastest sensor rising faster than \(Double(policy.temperatureRiseRate.maximumSafety) / 10) K/min over 10 s"
                    + " (sampled every second) for 2 s",
                onsetDefinition: "the first whole second at which the sensed cell's true temperature rose faster than that over the"
                    + " preceding 10 s (a 100 W hot spot at sensor 1's cell from 15 s, once the firmware has 10 s of history;"
                    + " 25 °C air, sensor lag 0)",
                documentedBound: .milliseconds(4_000),
                scenario: scenario("temperature-rise-rate", soc: 0.6, load: .constantCurrent(amperes: -2), seconds: 60,
                                   faults: [ScheduledFault(.localHeating(cell: template.pack.temperatureSensorCells[0], watts: 100),
                                                           at: .seconds(15))]) { s in s.pack.sensors.temperatureLag = 0 },
                onset: { s, history in
                    guard s.now.microsecondsSinceOrigin % 1_000_000 == 0 else { return false }
                    history.append(s.pack.elements[s.scenario.pack.temperatureSensorCells[0]].temperature)
                    guard history.count > 10 else { return false }
                    let perMinute = (history[history.count - 1] - history[history.count - 11]) * 6       // K per minute
                    return perMinute * 10 > Double(policy.temperatureRiseRate.maximumSafety)
                },
                inside: scenario("temperature-rise-rate-inside", soc: 0.6, load: .constantCurrent(amperes: -2), seconds: 45,
                                 faults: [ScheduledFault(.localHeating(cell: template.pack.temperatureSensorCells[0], watts: 15),
                                                         at: .seconds(15))]) { s in s.pack.sensors.temperatureLag = 0 },
                insideDefinition: "a 15 W hot spot (about half the limit's rate) for 30 s"),
            ReactionCase(
                fault: .temperatureSensorFault,
                threshold: "more than half of the temperature sensors implausible for 200 ms, then 100 ms reaction delay (one of them: derate only)",
                onsetDefinition: "three of the four sensors open (read −50 °C; scheduled at 3 s)",
                documentedBound: .milliseconds(500),
                scenario: scenario("temperature-sensors", soc: 0.6, load: .constantCurrent(amperes: -5), seconds: 5,
                                   faults: (0..<3).map { ScheduledFault(.temperatureSensorOpen(sensor: $0), at: .seconds(3)) }),
                onset: { s, _ in s.now >= Instant(microsecondsSinceOrigin: 3_000_000) },
                inside: scenario("temperature-sensors-inside", soc: 0.6, load: .constantCurrent(amperes: -5), seconds: 6,
                                 faults: (0..<2).map { ScheduledFault(.temperatureSensorOpen(sensor: $0), at: .seconds(3)) }),
                insideDefinition: "two of the four sensors open for 3 s (half: derate, no opening)"),
            ReactionCase(
                fault: .sumOfCellsMismatch,
                threshold: "Σ cells and the pack voltage apart by more than 1.5 V + 5 mV/A for 300 ms, then 100 ms reaction delay",
                onsetDefinition: "the pack-voltage measurement jumps 2 V high (scheduled at 3 s)",
                documentedBound: .milliseconds(500),
                scenario: scenario("sum-of-cells", soc: 0.6, load: .constantCurrent(amperes: -5), seconds: 5,
                                   faults: [ScheduledFault(.packVoltageSensorOffset(volts: 2), at: .seconds(3))]),
                onset: { s, _ in s.now >= Instant(microsecondsSinceOrigin: 3_000_000) },
                inside: scenario("sum-of-cells-inside", soc: 0.6, load: .constantCurrent(amperes: -5), seconds: 6,
                                 faults: [ScheduledFault(.packVoltageSensorOffset(volts: 1.45), at: .seconds(3))]),
                insideDefinition: "the pack voltage 1.45 V high for 3 s (inside 1.5 V + 5 mV/A)"),
        ]
    }

    /// Runs one case: the fault scenario until both mains report open (or it ends), and the twin.
    public static func measure(_ c: ReactionCase) throws(HarnessError) -> ReactionResult {
        var simulation = try Simulation(scenario: c.scenario)
        let end = Instant.origin + c.scenario.duration
        var onset: Instant? = nil, opened: Instant? = nil, scratch: [Double] = []
        var wasClosed = false
        while simulation.now < end && opened == nil {
            simulation.step()
            let feedback = simulation.loop.contactorFeedback
            let bothOpen = feedback.mainPositive == .open && feedback.mainNegative == .open
            if !bothOpen { wasClosed = true }
            if onset == nil && c.onset(simulation, &scratch) { onset = simulation.now }
            if let _ = onset, wasClosed, bothOpen { opened = simulation.now }
        }
        var twin = try Simulation(scenario: c.inside)
        let twinEnd = Instant.origin + c.inside.duration
        var twinConnected = false, twinOpened = false
        while twin.now < twinEnd {
            twin.step()
            if case .connected = twin.loop.stateMachine.state { twinConnected = true }
            if twinConnected, twin.loop.stateMachine.state != .connected(.drive), twin.loop.stateMachine.state != .connected(.charge) {
                twinOpened = true
            }
        }
        var reaction: Microseconds? = nil
        if let onset, let opened { reaction = opened - onset }
        return ReactionResult(fault: c.fault, reaction: reaction, latched: simulation.loop.stateMachine.latched,
                              insideOpened: twinOpened || !twinConnected, insideLatched: twin.loop.stateMachine.latched)
    }
}
