// Loads and chargers that draw from or feed the virtual pack: rest, constant current or power,
// a CC-CV charger, CSV profiles, delivery riding, a delivery day (shifts, depot charging), and
// sequences of these. Current is positive when charging; so is power.
import Firmware
import Foundation
import HAL

/// What a load can see when it decides its current.
public struct LoadContext: Sendable {
    public var time: Instant
    /// Pack terminal voltage (V) and the number of series elements.
    public var packVoltage: Double
    public var seriesCount: Int
    /// The pack's resistance as a charger would estimate it (Ω), for voltage regulation.
    public var packResistance: Double
    /// The state of charge the BMS displays (nil: not known yet).
    public var displayedStateOfCharge: Double?
    /// The BMS's 2 s charge current limit (A, positive; nil: no BMS limit, as on a bench supply).
    public var chargeLimit: Double?

    public init(time: Instant, packVoltage: Double, seriesCount: Int, packResistance: Double, displayedStateOfCharge: Double?,
                chargeLimit: Double? = nil) {
        self.time = time
        self.packVoltage = packVoltage
        self.seriesCount = seriesCount
        self.packResistance = packResistance
        self.displayedStateOfCharge = displayedStateOfCharge
        self.chargeLimit = chargeLimit
    }
}

/// A CC-CV charger's settings.
public struct ChargerSettings: Equatable, Sendable {
    /// Constant current (A, positive), the voltage per cell to hold (V), and the current at which
    /// the constant-voltage phase ends (A).
    public var current: Double
    public var cellVoltage: Double
    public var cutoffCurrent: Double

    public init(current: Double, cellVoltage: Double, cutoffCurrent: Double) {
        self.current = current
        self.cellVoltage = cellVoltage
        self.cutoffCurrent = cutoffCurrent
    }
}

/// A delivery day: riding shifts, heading to the depot when the displayed SOC runs low or the
/// shift ends, CC-CV charging there, resting otherwise; every day the same.
public struct DeliveryDayPlan: Equatable, Sendable {
    /// Shifts as (start, end) hours of the day.
    public var shifts: [(start: Double, end: Double)]
    /// Displayed SOC at which the rider heads back to charge.
    public var returnStateOfCharge: Double
    public var charger: ChargerSettings

    public static func == (a: DeliveryDayPlan, b: DeliveryDayPlan) -> Bool {
        a.returnStateOfCharge == b.returnStateOfCharge && a.charger == b.charger
            && a.shifts.map(\.start) == b.shifts.map(\.start) && a.shifts.map(\.end) == b.shifts.map(\.end)
    }

    public init(shifts: [(start: Double, end: Double)], returnStateOfCharge: Double, charger: ChargerSettings) {
        self.shifts = shifts
        self.returnStateOfCharge = returnStateOfCharge
        self.charger = charger
    }
}

/// A time series (seconds → value), linear between points, optionally repeating.
public struct ProfileSeries: Equatable, Sendable {
    public var time: [Double]
    public var value: [Double]
    public var repeats: Bool

    /// Reads a CSV with `time_s` and either `current_a` or `power_w`; returns the series and
    /// whether it is power. Errors name the file and line.
    public static func load(_ path: String, repeats: Bool) throws(HarnessError) -> (ProfileSeries, isPower: Bool) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw HarnessError("\(path): cannot read the profile") }
        let lines = text.textLines.map(String.init)
        guard let header = lines.first?.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }),
              let t = header.firstIndex(of: "time_s") else { throw HarnessError("\(path):1: missing column 'time_s'") }
        let power = header.firstIndex(of: "power_w"), current = header.firstIndex(of: "current_a")
        guard let v = current ?? power else { throw HarnessError("\(path):1: needs a 'current_a' or a 'power_w' column") }
        var series = ProfileSeries(time: [], value: [], repeats: repeats)
        for (n, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard max(t, v) < fields.count, let time = Double(fields[t].trimmingCharacters(in: .whitespaces)),
                  let value = Double(fields[v].trimmingCharacters(in: .whitespaces)), time.isFinite, value.isFinite else {
                throw HarnessError("\(path):\(n + 1): expected numbers in 'time_s' and '\(header[v])'")
            }
            if let last = series.time.last, time <= last { throw HarnessError("\(path):\(n + 1): time must increase") }
            series.time.append(time); series.value.append(value)
        }
        guard series.time.count >= 2 else { throw HarnessError("\(path): needs at least two rows") }
        return (series, current == nil)
    }

    /// The value at `seconds` since the start of the series.
    public func value(at seconds: Double) -> Double {
        var t = seconds
        let span = time[time.count - 1] - time[0]
        if repeats && span > 0 { t = time[0] + (t - time[0]).truncatingRemainder(dividingBy: span) }
        guard t > time[0] else { return value[0] }
        guard t < time[time.count - 1] else { return repeats ? value[0] : value[value.count - 1] }
        var low = 0, high = time.count - 1
        while high - low > 1 { let m = (low + high) / 2; if time[m] <= t { low = m } else { high = m } }
        return value[low] + (value[high] - value[low]) * (t - time[low]) / (time[high] - time[low])
    }
}

/// A load as specified in a scenario.
public indirect enum LoadProfile: Equatable, Sendable {
    case rest
    /// A constant current (A, negative = discharge).
    case constantCurrent(amperes: Double)
    /// A constant power (W, negative = discharge).
    case constantPower(watts: Double)
    /// A CC-CV charger.
    case charge(ChargerSettings)
    /// A current or power series from a CSV file.
    case profile(ProfileSeries, isPower: Bool)
    /// Delivery riding without end.
    case delivery
    /// Shifts of delivery riding and depot charging, every day.
    case deliveryDay(DeliveryDayPlan)
    /// Loads one after the other, each for its duration.
    case sequence([(LoadProfile, Microseconds)])

    public static func == (a: LoadProfile, b: LoadProfile) -> Bool {
        switch (a, b) {
        case (.rest, .rest), (.delivery, .delivery): return true
        case (.constantCurrent(let x), .constantCurrent(let y)), (.constantPower(let x), .constantPower(let y)): return x == y
        case (.charge(let x), .charge(let y)): return x == y
        case (.profile(let x, let p), .profile(let y, let q)): return x == y && p == q
        case (.deliveryDay(let x), .deliveryDay(let y)): return x == y
        case (.sequence(let x), .sequence(let y)): return x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
        default: return false
        }
    }

    /// A controller that produces this load's current, for a pack of `packCapacityAh`.
    public func makeController(packCapacityAh: Double, random: SplitMix64) -> LoadController {
        LoadController(profile: self, capacityAh: packCapacityAh, random: random)
    }
}

/// Produces a load's current as the simulation advances (time only moves forward).
public struct LoadController: Sendable {
    let profile: LoadProfile
    let capacityAh: Double
    var ride: DeliveryRide
    var charger = ChargerState()
    /// Delivery day: what the rider is doing, and until when a finished charge rests.
    public enum Activity: String, Sendable { case resting, riding, charging }
    public private(set) var activity = Activity.resting
    var activityStarted = Instant.origin
    /// Sequence: the step in force and its controller.
    var step = 0
    var stepStart = Instant.origin
    var stepController: [LoadController] = []
    /// Delivery day: the plan, kept apart from `profile` so that the per-tick `current` reads it
    /// in place (binding the enum's payload copied it, shifts array and all: a retain and a
    /// release every millisecond).
    let dayPlan: DeliveryDayPlan?
    /// `isInShift`'s last answer and the time (µs) until which it holds.
    var shiftAnswer = (inShift: false, until: Int64.min)

    init(profile: LoadProfile, capacityAh: Double, random: SplitMix64) {
        self.profile = profile
        self.capacityAh = capacityAh
        if case .deliveryDay(let plan) = profile { dayPlan = plan } else { dayPlan = nil }
        ride = DeliveryRide(capacityAh: capacityAh, random: random)
        if case .sequence(let steps) = profile {
            stepController = steps.enumerated().map { i, s in
                LoadController(profile: s.0, capacityAh: capacityAh, random: random.derived(stream: UInt64(i + 1)))
            }
        }
    }

    /// The current (A, positive = charging) the load asks for now.
    public mutating func current(_ context: LoadContext) -> Double {
        switch profile {
        case .rest:
            return 0
        case .constantCurrent(let amperes):
            return amperes
        case .constantPower(let watts):
            return watts / max(context.packVoltage, 1)
        case .charge(let settings):
            return charger.current(settings, context)
        case .profile(let series, let isPower):
            let value = series.value(at: Double(context.time.microsecondsSinceOrigin) * 1e-6)
            return isPower ? value / max(context.packVoltage, 1) : value
        case .delivery:
            return ride.current(at: context.time)
        case .deliveryDay:
            return deliveryDay(context)
        case .sequence(let steps):
            while step < steps.count && context.time - stepStart >= steps[step].1 {
                stepStart = stepStart + steps[step].1
                step += 1
            }
            guard step < steps.count else { return 0 }
            var shifted = context
            shifted.time = Instant(microsecondsSinceOrigin: (context.time - stepStart).rawValue)
            return stepController[step].current(shifted)
        }
    }

    /// What the load needs the pack connected for now (nil: nothing, the contactors may open):
    /// discharging loads and drive cycles need drive (regeneration included), chargers charge.
    public var wantedMode: OperatingMode? {
        switch profile {
        case .rest: return nil
        case .constantCurrent(let x), .constantPower(let x): return x > 0 ? .charge : (x < 0 ? .drive : nil)
        case .charge: return charger.finished ? nil : .charge
        case .profile, .delivery: return .drive
        case .deliveryDay:
            switch activity {
            case .resting: return nil
            case .riding: return .drive
            case .charging: return .charge
            }
        case .sequence: return step < stepController.count ? stepController[step].wantedMode : nil
        }
    }

    /// Whether `t` (µs) falls in one of the day plan's shifts (by the hour of the day, in floating
    /// point). The answer is kept until 2 ms before the next shift boundary or midnight; from
    /// there it is computed every tick, so it changes on exactly the tick it did when every tick
    /// computed it.
    public mutating func isInShift(at t: Int64) -> Bool {
        if t < shiftAnswer.until { return shiftAnswer.inShift }
        let hour = (Double(t) / 3.6e9).truncatingRemainder(dividingBy: 24)
        var inShift = false, next = 24.0
        for shift in dayPlan!.shifts {
            if hour >= shift.start && hour < shift.end { inShift = true }
            if shift.start > hour { next = min(next, shift.start) }
            if shift.end > hour { next = min(next, shift.end) }
        }
        let ahead = Int64((next - hour) * 3.6e9) - 2_000
        shiftAnswer = (inShift, ahead > 0 ? t + ahead : t)
        return inShift
    }

    mutating func deliveryDay(_ context: LoadContext) -> Double {
        let inShift = isInShift(at: context.time.microsecondsSinceOrigin)
        switch activity {
        case .resting:
            if inShift && (context.displayedStateOfCharge ?? 1) > dayPlan!.returnStateOfCharge + 0.1 {
                activity = .riding
                ride.startShift(at: context.time)
            }
        case .riding:
            if !inShift || (context.displayedStateOfCharge.map { $0 <= dayPlan!.returnStateOfCharge } ?? false) {
                activity = .charging
                charger = ChargerState()
            }
        case .charging:
            if charger.finished { activity = .resting }
        }
        switch activity {
        case .resting: return 0
        case .riding: return ride.current(at: context.time)
        case .charging: return charger.current(dayPlan!.charger, context)
        }
    }
}

/// A CC-CV charger: constant current until the pack reaches the voltage per cell, then the
/// current that holds that voltage (an integrating controller on the measured pack voltage),
/// until it falls to the cut-off. It never asks for more than the BMS's charge limit, and it
/// also ends when that limit stays below the cut-off for 30 s (the BMS calls the pack full).
public struct ChargerState: Sendable {
    var command = 0.0
    var inConstantVoltage = false
    var limitedSince: Instant? = nil
    public private(set) var finished = false

    mutating func current(_ s: ChargerSettings, _ context: LoadContext) -> Double {
        guard !finished else { return 0 }
        if let limit = context.chargeLimit, limit < s.cutoffCurrent {
            if let since = limitedSince {
                if context.time - since >= .seconds(30) { finished = true; command = 0; return 0 }
            } else {
                limitedSince = context.time
            }
        } else {
            limitedSince = nil
        }
        let target = s.cellVoltage * Double(context.seriesCount)
        // Move half-way to the current that would put the pack exactly at the target voltage.
        let correction = (target - context.packVoltage) / max(context.packResistance, 1e-3)
        command = min(s.current, context.chargeLimit ?? .infinity, max(0, command + 0.5 * correction))
        if context.packVoltage >= target - 0.001 * Double(context.seriesCount) { inConstantVoltage = true }
        if inConstantVoltage && command < s.cutoffCurrent {
            finished = true
            command = 0
        }
        return command
    }
}

/// The delivery-scooter duty profile as a stream of segments. Levels are C-rates of the pack
/// (launches 2–3C for 3–8 s, cruising 0.3–1C, climbs 1.5–2.5C, braking with regeneration at
/// 0.3–1C, stops at lights of 5–45 s, a 2–8 min rest at each delivery after a 4–12 min ride).
/// Between levels the current ramps linearly over 0.3 s, as a motor controller would.
public struct DeliveryRide: Sendable {
    /// One piece of the profile: from `start` to `end` (µs) the current goes from `from` to `to` (A).
    struct Segment: Sendable {
        var start: Int64, end: Int64
        var from: Double, to: Double
    }

    static let rampMicroseconds: Int64 = 300_000
    let capacityAh: Double
    var random: SplitMix64
    /// The segment in force and the ones planned after it.
    var segment = Segment(start: 0, end: 0, from: 0, to: 0)
    var planned: [Segment] = []
    /// Riding time left before the next delivery stop (µs).
    var rideLeft: Int64 = 0

    /// The shift starts with a ride.
    init(capacityAh: Double, random: SplitMix64) {
        self.capacityAh = capacityAh
        self.random = random
        rideLeft = Int64(self.random.uniform(240, 720) * 1_000_000)
    }

    /// Restarts the ride at `time` (a new shift): standing still, a ride ahead.
    mutating func startShift(at time: Instant) {
        segment = Segment(start: time.microsecondsSinceOrigin, end: time.microsecondsSinceOrigin, from: 0, to: 0)
        planned = []
        rideLeft = Int64(random.uniform(240, 720) * 1_000_000)
    }

    mutating func current(at time: Instant) -> Double {
        let t = time.microsecondsSinceOrigin
        while t >= segment.end {
            if planned.isEmpty { planNextStep() }
            segment = planned.removeFirst()
        }
        let fraction = Double(t - segment.start) / Double(segment.end - segment.start)
        return segment.from + (segment.to - segment.from) * fraction
    }

    /// Plans a ramp from the present level to `target` and a hold there for `seconds`.
    mutating func plan(_ target: Double, holdSeconds seconds: Double) {
        let start = planned.last?.end ?? segment.end
        let level = planned.last?.to ?? segment.to
        let rampEnd = start + DeliveryRide.rampMicroseconds
        planned.append(Segment(start: start, end: rampEnd, from: level, to: target))
        planned.append(Segment(start: rampEnd, end: rampEnd + Int64(seconds * 1_000_000), from: target, to: target))
    }

    mutating func planNextStep() {
        let c = capacityAh
        let level = segment.to
        if rideLeft <= 0 {
            // Deliver, then ride to the next address.
            plan(0, holdSeconds: random.uniform(120, 480))
            rideLeft = Int64(random.uniform(240, 720) * 1_000_000)
            return
        }
        let u = random.unit()
        let hold: Double
        if level == 0 {
            hold = random.uniform(3, 8); plan(-c * random.uniform(2, 3), holdSeconds: hold)               // launch
        } else if level < -1.4 * c && u < 0.8 {
            hold = random.uniform(20, 90); plan(-c * random.uniform(0.3, 1), holdSeconds: hold)           // cruise
        } else if level < 0 && u < 0.15 {
            hold = random.uniform(10, 40); plan(-c * random.uniform(1.5, 2.5), holdSeconds: hold)         // climb
        } else if level < 0 && u < 0.45 {
            hold = random.uniform(3, 8); plan(c * random.uniform(0.3, 1), holdSeconds: hold)              // brake, regen
        } else if level < 0 || u >= 0.4 {
            hold = random.uniform(20, 90); plan(-c * random.uniform(0.3, 1), holdSeconds: hold)           // (roll on) cruising
        } else {
            hold = random.uniform(5, 45); plan(0, holdSeconds: hold)                                      // stop at a light
        }
        rideLeft -= Int64(hold * 1_000_000) + DeliveryRide.rampMicroseconds
    }
}
