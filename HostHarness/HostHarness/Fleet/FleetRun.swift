// One fleet pack's life: the virtual pack (PackWorld) stepped a second at a time with the
// fleet's BMS (FleetBMS) on its sensors, and what the benchmark scores recorded on the way — the
// early warning's alerts, the channels it calls suspect, and the hard-limit event from the pack's
// truth (Docs/early-warning.md).
import Firmware
import Foundation
import HAL

/// What ends a fault's latent phase: the first hard-limit event after onset.
public enum HardLimitCause: String, Sendable {
    /// A cell's terminal voltage below 2.5 V or above 4.25 V.
    case undervoltage, overvoltage
    /// A cell above 60 °C.
    case overtemperature
    /// The fault at its defined severity: leak ≥ C/20 of the element, resistance ≥ 2× as built,
    /// capacity ≤ 80 % of as built, the cell ≥ 10 K hotter than its neighbours.
    case leakage, resistance, capacity, heating
}

/// A hard-limit event: when, why, which cell (0-based).
public struct HardLimitEvent: Equatable, Sendable {
    public var seconds: Double
    public var cause: HardLimitCause
    public var cell: Int
    public init(seconds: Double, cause: HardLimitCause, cell: Int) {
        self.seconds = seconds
        self.cause = cause
        self.cell = cell
    }
}

/// A cell at `warning` or above, from when it got there until it fell back (nil: still at the end).
public struct WarningEpisode: Equatable, Sendable {
    public var cell: Int
    public var start: Double
    public var end: Double?
    /// The cell the monitor ranked first when the episode started (nil: none ranked), and the
    /// reason given for this cell.
    public var rankedFirst: Int?
    public var reason: RiskReason
    public init(cell: Int, start: Double, end: Double? = nil, rankedFirst: Int?, reason: RiskReason) {
        self.cell = cell
        self.start = start
        self.end = end
        self.rankedFirst = rankedFirst
        self.reason = reason
    }
}

/// What the scoring needs of one pack's run (times in seconds from the start).
public struct PackTimeline: Equatable, Sendable {
    /// How long the pack ran (a cell-fault pack stops at its hard-limit event).
    public var duration: Double
    public var fault: FleetFaultKind?
    public var faultCell: Int
    public var onset: Double
    public var hardLimit: HardLimitEvent?
    public var warnings: [WarningEpisode]
    /// When each voltage channel and temperature sensor was first called suspect.
    public var suspectCells: [(cell: Int, seconds: Double)]
    public var suspectSensors: [(sensor: Int, seconds: Double)]
    /// When the faulty cell first reached `watch` after onset.
    public var firstWatch: Double?

    public init(duration: Double, fault: FleetFaultKind? = nil, faultCell: Int = -1, onset: Double = 0, hardLimit: HardLimitEvent? = nil,
                warnings: [WarningEpisode] = [], suspectCells: [(cell: Int, seconds: Double)] = [],
                suspectSensors: [(sensor: Int, seconds: Double)] = [], firstWatch: Double? = nil) {
        self.duration = duration
        self.fault = fault
        self.faultCell = faultCell
        self.onset = onset
        self.hardLimit = hardLimit
        self.warnings = warnings
        self.suspectCells = suspectCells
        self.suspectSensors = suspectSensors
        self.firstWatch = firstWatch
    }

    public static func == (a: PackTimeline, b: PackTimeline) -> Bool {
        a.duration == b.duration && a.fault == b.fault && a.faultCell == b.faultCell && a.onset == b.onset && a.hardLimit == b.hardLimit
            && a.warnings == b.warnings && a.firstWatch == b.firstWatch
            && a.suspectCells.map(\.cell) == b.suspectCells.map(\.cell) && a.suspectCells.map(\.seconds) == b.suspectCells.map(\.seconds)
            && a.suspectSensors.map(\.sensor) == b.suspectSensors.map(\.sensor) && a.suspectSensors.map(\.seconds) == b.suspectSensors.map(\.seconds)
    }
}

/// One pack's outcome: its plan, its timeline, and a few end figures for the per-pack file.
public struct FleetPackResult: Sendable {
    public var spec: FleetPackSpec
    public var timeline: PackTimeline
    /// The hottest any cell got (°C), the lowest and highest terminal voltage (V), the charge
    /// bled by balancing (mAh, as the firmware counted it), and the monitor's ranking at the end.
    public var hottestCell: Double
    public var lowestVoltage: Double
    public var highestVoltage: Double
    public var bledMilliampereHours: Double
    public var rankedAtEnd: [Int]
}

/// The hard limits (Docs/early-warning.md).
public enum HardLimits {
    public static let minimumVoltage = 2.5
    public static let maximumVoltage = 4.25
    public static let maximumTemperature = 60.0
    /// Leak current as a fraction of the element's rated capacity per hour (C/20).
    public static let leakageCRate = 1.0 / 20
    public static let resistanceFactor = 2.0
    public static let capacityFraction = 0.8
    public static let heatingKelvin = 10.0

    /// The first hard limit the pack is at now (voltage, temperature, then the fault's own
    /// severity); nil when none. A pack with a cell fault is checked on its faulty cell only: the
    /// fault's hard-limit event is that cell's. (The fleet's load keeps to fixed limits, not the
    /// firmware's dynamic ones, so on a full pack in the cold a regenerative brake can push a
    /// healthy cell past 4.25 V for a moment; such events are counted for every pack without a
    /// cell fault, but they are no cell fault's event.)
    static func check(_ pack: VirtualPack, fault: FleetFault?, ratedAh: Double) -> (HardLimitCause, Int)? {
        let elements = pack.elements, hot = pack.hot
        let cellFault = fault.map { !$0.kind.isSensorFault && $0.cell < hot.count } ?? false
        for i in hot.indices where !cellFault || i == fault!.cell {
            let v = hot[i].terminalVoltage
            if v < minimumVoltage { return (.undervoltage, i) }
            if v > maximumVoltage { return (.overvoltage, i) }
            if elements[i].temperature > maximumTemperature { return (.overtemperature, i) }
        }
        guard let fault, fault.cell < hot.count else { return nil }
        let c = fault.cell, e = elements[c]
        switch fault.kind {
        case .internalShort:
            if hot[c].shortConductance * hot[c].terminalVoltage >= leakageCRate * ratedAh { return (.leakage, c) }
        case .resistanceRise:
            if e.resistanceFactor >= resistanceFactor * e.builtResistanceFactor { return (.resistance, c) }
        case .capacityFade:
            if e.capacityAmpereSeconds <= capacityFraction * e.builtCapacityAmpereSeconds { return (.capacity, c) }
        case .localHeating:
            var sum = 0.0, count = 0.0
            if c > 0 { sum += elements[c - 1].temperature; count += 1 }
            if c + 1 < elements.count { sum += elements[c + 1].temperature; count += 1 }
            if count > 0 && e.temperature - sum / count >= heatingKelvin { return (.heating, c) }
        case .voltageSensorOffset, .voltageSensorNoise:
            break
        }
        return nil
    }
}

/// Runs one fleet pack.
public enum FleetPackRun {
    /// The fleet's step: one second.
    public static let step = Microseconds.seconds(1)

    /// The load's fixed limits: the element's 1C charge rating and 2 s peak discharge rating (the
    /// limits the firmware's power limiter starts from; here nothing derates them).
    static func limits(_ pack: PackDesign) -> PowerLimits {
        let ratings = FirmwareSetup.elementRatings(for: pack)
        var limits = PowerLimits()
        limits.charge2s = ratings.continuousCharge
        limits.discharge2s = ratings.peakDischarge
        return limits
    }

    /// Runs `spec` from `base` for `duration` (a cell-fault pack stops at its hard-limit event:
    /// it would be taken out of service, and nothing after it is scored).
    public static func run(_ spec: FleetPackSpec, base: Scenario, duration: Microseconds) throws(HarnessError) -> FleetPackResult {
        let scenario = spec.scenario(base: base, duration: duration)
        var world = PackWorld(scenario: scenario, riderIntensity: spec.riderIntensity)
        var bms = try FleetBMS(pack: scenario.pack)
        var contactors = VirtualContactorDriver()
        for c in [Contactor.mainNegative, .mainPositive] { try? contactors.command(c, closed: true) }
        contactors.advance(to: Instant.origin + .seconds(1))
        let limits = limits(scenario.pack)
        let ratedAh = scenario.pack.cellModel.ratedCapacityAh * Double(scenario.pack.parallelCount)
        let fault = spec.fault
        let stopsAtHardLimit = fault.map { !$0.kind.isSensorFault } ?? false
        let onset = fault.map { Double($0.onset.rawValue) / 1e6 } ?? 0
        let cellCount = scenario.pack.seriesCount

        var timeline = PackTimeline(duration: 0, fault: fault?.kind, faultCell: fault?.cell ?? -1, onset: onset)
        var open = [Int?](repeating: nil, count: cellCount)      // index of the open episode per cell
        var suspectCells = CellSet(), suspectSensors = CellSet()
        var hottest = -Double.infinity, lowest = Double.infinity, highest = -Double.infinity
        let end = Instant.origin + duration
        while world.now < end {
            let displayed = Float(world.pack.displayStateOfCharge)
            _ = world.advance(contactors: &contactors, bms: BMSOutputs(limits: limits, displayedStateOfCharge: displayed, state: .connected(.drive)),
                              step: step)
            bms.currentSensor.latched = world.sense(cells: &bms.cellMonitor.latched)
            if bms.step(now: world.now, dt: step) != nil { world.follow(balancing: bms.cellMonitor.balancing) }
            let t = Double(world.now.microsecondsSinceOrigin) / 1e6

            // The early warning's alerts.
            for i in 0..<cellCount {
                let level = bms.health.cells[i].level
                if level >= .warning, open[i] == nil {
                    open[i] = timeline.warnings.count
                    timeline.warnings.append(WarningEpisode(cell: i, start: t, rankedFirst: bms.health.ranked.count > 0 ? Int(bms.health.ranked[0]) : nil,
                                                            reason: bms.health.cells[i].reason))
                } else if level < .warning, let k = open[i] {
                    timeline.warnings[k].end = t
                    open[i] = nil
                }
            }
            if let fault, timeline.firstWatch == nil, t >= onset, bms.health.cells[fault.cell].level >= .watch { timeline.firstWatch = t }
            let suspects = bms.health.suspectCells, sensors = bms.health.suspectTemperatureSensors
            if suspects != suspectCells {
                for i in 0..<cellCount where suspects.contains(i) && !suspectCells.contains(i) { timeline.suspectCells.append((i, t)) }
                suspectCells = suspects
            }
            if sensors != suspectSensors {
                for s in 0..<16 where sensors.contains(s) && !suspectSensors.contains(s) { timeline.suspectSensors.append((s, t)) }
                suspectSensors = sensors
            }

            // The truth: extremes, and the hard limits.
            for i in 0..<cellCount {
                let v = world.pack.hot[i].terminalVoltage
                if v < lowest { lowest = v }
                if v > highest { highest = v }
                if world.pack.elements[i].temperature > hottest { hottest = world.pack.elements[i].temperature }
            }
            if timeline.hardLimit == nil, let (cause, cell) = HardLimits.check(world.pack, fault: fault, ratedAh: ratedAh) {
                timeline.hardLimit = HardLimitEvent(seconds: t, cause: cause, cell: cell)
                if stopsAtHardLimit && t >= onset { break }
            }
        }
        timeline.duration = Double(world.now.microsecondsSinceOrigin) / 1e6
        var ranked: [Int] = []
        for k in 0..<bms.health.ranked.count { ranked.append(Int(bms.health.ranked[k])) }
        return FleetPackResult(spec: spec, timeline: timeline, hottestCell: hottest, lowestVoltage: lowest, highestVoltage: highest,
                               bledMilliampereHours: Double(bms.balancer.bledTotal.rawValue) / 3_600, rankedAtEnd: ranked)
    }
}

/// Runs a fleet's packs on `jobs` threads. Each worker takes the next pack index; results are
/// stored by index, so nothing in them depends on the scheduling.
public enum FleetRunner {
    /// Runs every pack of `specs`; `progress(done, total)` is called (from the worker that
    /// finished, one at a time) after each pack.
    public static func run(_ specs: [FleetPackSpec], base: Scenario, duration: Microseconds, jobs: Int,
                           progress: @escaping @Sendable (Int, Int) -> Void) throws(HarnessError) -> [FleetPackResult] {
        let state = SharedResults(count: specs.count)
        let workers = max(1, min(jobs, specs.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let index = state.nextIndex() {
                let result: Result<FleetPackResult, HarnessError>
                do throws(HarnessError) {
                    result = .success(try FleetPackRun.run(specs[index], base: base, duration: duration))
                } catch {
                    result = .failure(error)
                }
                state.store(result, at: index) { done in progress(done, specs.count) }
            }
        }
        return try state.collect()
    }

    /// The workers' shared state, behind one lock.
    final class SharedResults: @unchecked Sendable {
        let lock = NSLock()
        var next = 0
        var done = 0
        var failed = false
        var results: [Result<FleetPackResult, HarnessError>?]

        init(count: Int) { results = Array(repeating: nil, count: count) }

        /// The next pack to run (nil when none is left, or a pack failed).
        func nextIndex() -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard !failed, next < results.count else { return nil }
            next += 1
            return next - 1
        }

        /// Stores a pack's result and reports how many are done (under the lock, so that the
        /// reports come in order).
        func store(_ result: Result<FleetPackResult, HarnessError>, at index: Int, report: (Int) -> Void) {
            lock.lock(); defer { lock.unlock() }
            results[index] = result
            if case .failure = result { failed = true }
            done += 1
            report(done)
        }

        func collect() throws(HarnessError) -> [FleetPackResult] {
            var all: [FleetPackResult] = []
            for r in results {
                switch r {
                case .success(let value)?: all.append(value)
                case .failure(let error)?: throw error
                case nil: throw HarnessError("a fleet pack did not run")
                }
            }
            return all
        }
    }
}
