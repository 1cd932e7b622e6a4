// Loads that draw current from the virtual pack: a constant current, or a delivery-scooter duty
// profile generated from a seed. Current is positive when charging (regenerative braking).
import HAL

/// The current a load draws over time.
public enum LoadProfile: Equatable, Sendable {
    /// A constant current in amperes (negative = discharge).
    case constant(amperes: Double)
    /// Delivery riding: launches, cruising, climbs, regenerative braking, stops and delivery rests.
    case delivery

    /// A stateful source of this profile's current for a pack of `packCapacityAh`.
    public func makeSource(packCapacityAh: Double, random: SplitMix64) -> LoadSource {
        switch self {
        case .constant(let amperes): return LoadSource(constant: amperes)
        case .delivery: return LoadSource(delivery: DeliveryRide(capacityAh: packCapacityAh, random: random))
        }
    }
}

/// Produces a load's current as the simulation advances (time only moves forward).
public struct LoadSource: Sendable {
    var constant: Double?
    var delivery: DeliveryRide?

    init(constant: Double) { self.constant = constant }
    init(delivery: DeliveryRide) { self.delivery = delivery }

    /// The current (A, positive = charging) at `time`.
    public mutating func current(at time: Instant) -> Double {
        if let constant { return constant }
        return delivery!.current(at: time)
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
    var current = Segment(start: 0, end: 0, from: 0, to: 0)
    var planned: [Segment] = []
    /// Riding time left before the next delivery stop (µs).
    var rideLeft: Int64 = 0

    /// The shift starts with a ride.
    init(capacityAh: Double, random: SplitMix64) {
        self.capacityAh = capacityAh
        self.random = random
        rideLeft = Int64(self.random.uniform(240, 720) * 1_000_000)
    }

    mutating func current(at time: Instant) -> Double {
        let t = time.microsecondsSinceOrigin
        while t >= current.end {
            if planned.isEmpty { planNextStep() }
            current = planned.removeFirst()
        }
        let fraction = Double(t - current.start) / Double(current.end - current.start)
        return current.from + (current.to - current.from) * fraction
    }

    /// Plans a ramp from the present level to `target` and a hold there for `seconds`.
    mutating func plan(_ target: Double, holdSeconds seconds: Double) {
        let start = planned.last?.end ?? current.end
        let level = planned.last?.to ?? current.to
        let rampEnd = start + DeliveryRide.rampMicroseconds
        planned.append(Segment(start: start, end: rampEnd, from: level, to: target))
        planned.append(Segment(start: rampEnd, end: rampEnd + Int64(seconds * 1_000_000), from: target, to: target))
    }

    mutating func planNextStep() {
        let c = capacityAh
        let level = current.to
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
