// The fleet benchmark's packs (Docs/early-warning.md, "How the fleet is run"): every pack is the
// shipped delivery-day duty (16s2p LG M50) with its own rider, shifts, ambient, cell spread and
// seeds, and about a fifth of them carry one latent fault that develops slowly over days. All of
// it is drawn from the fleet's seed and the pack's index, before any pack runs, so the plan — and
// with it every output — is the same whatever the number of jobs.
import Foundation
import HAL

/// The latent faults the fleet injects (the list; one per faulty pack).
public enum FleetFaultKind: String, CaseIterable, Sendable {
    /// A developing internal short: its resistance falls geometrically from kilohms to ohms.
    case internalShort = "internal-short"
    /// Resistance growth: the cell's resistances grow to 2.2–3 times.
    case resistanceRise = "resistance-rise"
    /// Accelerated fade: the cell loses 25–35 % of its capacity.
    case capacityFade = "capacity-fade"
    /// A thermal anomaly: an extra heat source of 9–14 W grows at a cell with a temperature sensor.
    case localHeating = "local-heating"
    /// Sensor degradation: the cell's voltage channel drifts by ±20–60 mV…
    case voltageSensorOffset = "voltage-sensor-offset"
    /// …or gets noisier, up to 5–20 mV (σ).
    case voltageSensorNoise = "voltage-sensor-noise"

    /// Sensor faults have no hard limit: they must be reported as sensor faults, not cell risks.
    public var isSensorFault: Bool { self == .voltageSensorOffset || self == .voltageSensorNoise }

    /// The name in JSON keys (`internal_short`).
    public var key: String { rawValue.replacingOccurrences(of: "-", with: "_") }

    /// The five categories of the issue, in the order faulty packs cycle through them (sensor
    /// degradation is one category: offset or noise, drawn per pack).
    static let categories: [FleetFaultKind] = [.internalShort, .resistanceRise, .capacityFade, .localHeating, .voltageSensorOffset]
}

/// One pack's latent fault: its kind, cell, onset, how long it takes to develop and its full size.
public struct FleetFault: Equatable, Sendable {
    public var kind: FleetFaultKind
    /// The faulty cell (0-based; the voltage channel for sensor faults).
    public var cell: Int
    /// Onset and ramp (the fault reaches its full size at onset + ramp).
    public var onset: Microseconds
    public var ramp: Microseconds
    /// Full size: Ω at the end of the ramp (short), factor (resistance), fraction lost
    /// (capacity), W (heating), V offset or V σ (sensor).
    public var size: Double
    /// Internal short only: the resistance at onset (Ω).
    public var startOhms: Double = 0

    public init(kind: FleetFaultKind, cell: Int, onset: Microseconds, ramp: Microseconds, size: Double, startOhms: Double = 0) {
        self.kind = kind
        self.cell = cell
        self.onset = onset
        self.ramp = ramp
        self.size = size
        self.startOhms = startOhms
    }

    /// Steps of a developing short: the virtual pack applies an internal short's full
    /// conductance as soon as it starts, whatever its ramp (VirtualPack.refreshSlowState), so a
    /// falling resistance is a chain of shorts, each lasting one step.
    static let shortSteps = 64

    /// The virtual pack's scheduled faults for this one. Every other kind scales with the
    /// ramp's severity (0 → 1, linear): resistance `1 + (factor − 1)·s`, capacity `1 − fraction·s`,
    /// heat `watts·s`, channel offset `volts·s`, extra noise `σ·s`.
    public var scheduled: [ScheduledFault] {
        switch kind {
        case .internalShort:
            let n = FleetFault.shortSteps
            let step = ramp.rawValue / Int64(n)
            return (0..<n).map { k in
                let ohms = startOhms * pow(size / startOhms, Double(k) / Double(n - 1))
                let at = Microseconds(onset.rawValue + Int64(k) * step)
                return ScheduledFault(.internalShort(cell: cell, ohms: ohms), at: at, duration: k == n - 1 ? nil : Microseconds(step))
            }
        case .resistanceRise: return [ScheduledFault(.resistanceRise(cell: cell, factor: size), at: onset, ramp: ramp)]
        case .capacityFade: return [ScheduledFault(.capacityFade(cell: cell, fraction: size), at: onset, ramp: ramp)]
        case .localHeating: return [ScheduledFault(.localHeating(cell: cell, watts: size), at: onset, ramp: ramp)]
        case .voltageSensorOffset: return [ScheduledFault(.voltageSensorOffset(cell: cell, volts: size), at: onset, ramp: ramp)]
        case .voltageSensorNoise: return [ScheduledFault(.voltageSensorNoise(cell: cell, volts: size), at: onset, ramp: ramp)]
        }
    }

    /// "cell 7, onset 3.2 d, ramp 5.1 d, 4.8 kOhm -> 5.2 Ohm".
    public var text: String {
        let days = { (t: Microseconds) in Fixed.text(Double(t.rawValue) / 86_400e6, decimals: 1) + " d" }
        let size: String
        switch kind {
        case .internalShort: size = "\(Fixed.text(startOhms, decimals: 0)) -> \(Fixed.text(self.size, decimals: 1)) ohm"
        case .resistanceRise: size = "x\(Fixed.text(self.size, decimals: 2))"
        case .capacityFade: size = "-\(Fixed.text(self.size * 100, decimals: 1)) %"
        case .localHeating: size = "\(Fixed.text(self.size, decimals: 1)) W"
        case .voltageSensorOffset: size = "\(Fixed.text(self.size * 1_000, decimals: 1)) mV"
        case .voltageSensorNoise: size = "\(Fixed.text(self.size * 1_000, decimals: 1)) mV rms"
        }
        return "cell \(cell + 1), onset \(days(onset)), ramp \(days(ramp)), \(size)"
    }
}

/// A rider's working day: shifts, in hours of the day.
public struct ShiftPattern: Equatable, Sendable {
    public var name: String
    public var shifts: [(start: Double, end: Double)]

    public static func == (a: ShiftPattern, b: ShiftPattern) -> Bool {
        a.name == b.name && a.shifts.map(\.start) == b.shifts.map(\.start) && a.shifts.map(\.end) == b.shifts.map(\.end)
    }

    /// The patterns riders work (the first is delivery-day's own); every one leaves a night's
    /// rest, as depots do.
    public static let all: [ShiftPattern] = [
        ShiftPattern(name: "three-shifts", shifts: [(7, 11), (12.5, 16.5), (18, 21.5)]),
        ShiftPattern(name: "day", shifts: [(8, 12), (13, 17)]),
        ShiftPattern(name: "lunch-dinner", shifts: [(11, 14.5), (17.5, 22)]),
        ShiftPattern(name: "early", shifts: [(6, 10), (10.5, 14)]),
        ShiftPattern(name: "long-day", shifts: [(7, 12), (13, 18), (19, 22)]),
        ShiftPattern(name: "evening", shifts: [(16, 23)]),
    ]

    /// "07:00-11:00 12:30-16:30".
    public var text: String {
        func clock(_ h: Double) -> String {
            let minutes = Int((h * 60).rounded())
            return String(format: "%02d:%02d", minutes / 60, minutes % 60)
        }
        return shifts.map { "\(clock($0.start))-\(clock($0.end))" }.joined(separator: " ")
    }
}

/// One pack of the fleet: everything that differs from the shipped delivery day.
public struct FleetPackSpec: Equatable, Sendable {
    public var index: Int
    /// The pack scenario's seed (cells as built, sensors, rides).
    public var seed: UInt64
    public var shiftPattern: ShiftPattern
    /// The rider's currents relative to the delivery profile (0.75–1.15).
    public var riderIntensity: Double
    /// Displayed SOC at which the rider heads to the depot (0.10–0.25).
    public var returnStateOfCharge: Double
    public var ambient: AmbientProfile
    /// "constant", "daily" or "summer-heat" (a daily 26–40 °C with poor cooling, as summer-heat.json).
    public var climate: String
    public var cellToAmbient: Double
    /// Cell-to-cell spread (σ, relative): capacity 1–2 %, resistance 3–8 %.
    public var capacitySpread: Double
    public var resistanceSpread: Double
    public var fault: FleetFault?

    /// The pack's scenario: `base` (the delivery day) with this pack's variations, for `duration`.
    public func scenario(base: Scenario, duration: Microseconds) -> Scenario {
        var s = base
        s.name = "fleet-pack-\(index + 1)"
        s.description = "Fleet pack \(index + 1): \(shiftPattern.name) shifts, \(climate) ambient" + (fault.map { ", \($0.kind.rawValue) \($0.text)" } ?? "")
        s.pack.thermal.ambient = ambient
        s.pack.thermal.cellToAmbient = cellToAmbient
        s.pack.capacitySpread = capacitySpread
        s.pack.resistanceSpread = resistanceSpread
        if case .deliveryDay(var plan) = base.load {
            plan.shifts = shiftPattern.shifts
            plan.returnStateOfCharge = returnStateOfCharge
            s.load = .deliveryDay(plan)
        }
        s.faults = fault?.scheduled ?? []
        s.duration = duration
        s.seed = seed
        return s
    }

    /// "constant 23.4 C", "daily 12.0-21.5 C", "summer-heat 26.0-40.0 C".
    public var ambientText: String {
        switch ambient {
        case .constant(let c): return "\(climate) \(Fixed.text(c, decimals: 1)) C"
        case .daily(let low, let high, _, _): return "\(climate) \(Fixed.text(low, decimals: 1))-\(Fixed.text(high, decimals: 1)) C"
        }
    }
}

/// The plan of a fleet: which packs, which faults.
public enum FleetPlan {
    /// Random streams of the plan (adding draws to one never shifts another).
    enum Stream: UInt64 { case faultyPacks = 1, categories = 2, pack = 1_000 }

    /// `packs` packs for `duration` from `seed`: each pack's variation from its own stream (the
    /// seed and its index); `faultyFraction` of them (rounded) chosen at random carry a latent
    /// fault, the categories taken in turn (so each gets its share) from a random starting one.
    /// `sensorCells`: the cells with a temperature sensor (a thermal anomaly is put on one).
    public static func make(packs: Int, duration: Microseconds, seed: UInt64, faultyFraction: Double,
                            seriesCount: Int, sensorCells: [Int]) -> [FleetPackSpec] {
        let root = SplitMix64(seed: seed)
        var chooser = root.derived(stream: Stream.faultyPacks.rawValue)
        var order = Array(0..<packs)
        for i in stride(from: packs - 1, to: 0, by: -1) {
            let j = Int(chooser.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        let faultyCount = min(packs, Int((Double(packs) * faultyFraction).rounded()))
        var categories = root.derived(stream: Stream.categories.rawValue)
        let first = Int(categories.next() % UInt64(FleetFaultKind.categories.count))
        var category = [Int: FleetFaultKind]()
        for (k, pack) in order.prefix(faultyCount).enumerated() {
            category[pack] = FleetFaultKind.categories[(first + k) % FleetFaultKind.categories.count]
        }
        return (0..<packs).map { index in
            var random = root.derived(stream: Stream.pack.rawValue + UInt64(index))
            return pack(index: index, random: &random, fault: category[index], duration: duration, seriesCount: seriesCount, sensorCells: sensorCells)
        }
    }

    /// One pack's draws, always in the same order (a faulty pack draws the same variation as it
    /// would without its fault).
    static func pack(index: Int, random r: inout SplitMix64, fault category: FleetFaultKind?, duration: Microseconds,
                     seriesCount: Int, sensorCells: [Int]) -> FleetPackSpec {
        let seed = r.next()
        let pattern = ShiftPattern.all[Int(r.next() % UInt64(ShiftPattern.all.count))]
        let intensity = r.uniform(0.75, 1.15)
        let returnSOC = r.uniform(0.10, 0.25)
        let u = r.unit()
        let ambient: AmbientProfile, climate: String
        var cellToAmbient = 0.03
        if u < 0.5 {
            ambient = .constant(celsius: r.uniform(10, 35)); climate = "constant"
        } else if u < 0.85 {
            let low = r.uniform(5, 22)
            ambient = .daily(minimum: low, maximum: low + r.uniform(6, 12), coldestHour: 5, warmestHour: 15); climate = "daily"
        } else {
            ambient = .daily(minimum: 26, maximum: 40, coldestHour: 5, warmestHour: 15); climate = "summer-heat"
            cellToAmbient = 0.02
        }
        let capacitySpread = r.uniform(0.01, 0.02)
        let resistanceSpread = r.uniform(0.03, 0.08)
        var fault: FleetFault? = nil
        if let category {
            var f = r.derived(stream: 1)
            let days = Double(duration.rawValue) / 86_400e6
            let onset = Microseconds(Int64(f.uniform(0, 0.6) * Double(duration.rawValue)))
            // Ramps of 2–8 days (shortened in proportion for fleets run for less than 30 days).
            let ramp = Microseconds(Int64(f.uniform(2, 8) * min(1, days / 30) * 86_400e6))
            var cell = Int(f.next() % UInt64(seriesCount))
            var kind = category
            let size: Double
            var startOhms = 0.0
            switch category {
            case .internalShort:
                startOhms = f.uniform(1_000, 5_000)
                size = f.uniform(4, 7)
            case .resistanceRise: size = f.uniform(2.2, 3.0)
            case .capacityFade: size = f.uniform(0.25, 0.35)
            case .localHeating:
                cell = sensorCells.isEmpty ? cell : sensorCells[Int(f.next() % UInt64(sensorCells.count))]
                size = f.uniform(9, 14)
            case .voltageSensorOffset, .voltageSensorNoise:
                if f.unit() < 0.5 {
                    kind = .voltageSensorOffset
                    size = (f.unit() < 0.5 ? -1 : 1) * f.uniform(0.020, 0.060)
                } else {
                    kind = .voltageSensorNoise
                    size = f.uniform(0.005, 0.020)
                }
            }
            fault = FleetFault(kind: kind, cell: cell, onset: onset, ramp: ramp, size: size, startOhms: startOhms)
        }
        return FleetPackSpec(index: index, seed: seed, shiftPattern: pattern, riderIntensity: intensity, returnStateOfCharge: returnSOC,
                             ambient: ambient, climate: climate, cellToAmbient: cellToAmbient, capacitySpread: capacitySpread,
                             resistanceSpread: resistanceSpread, fault: fault)
    }
}
