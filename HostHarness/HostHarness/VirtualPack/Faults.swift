// The fault catalogue of the virtual pack, scripted in time ("at 6 h, cell 7 develops a 50 Ω
// internal short"). Cells and sensors are numbered from 1 in scenario files, from 0 here.
import HAL

/// What goes wrong.
public enum FaultKind: Equatable, Sendable {
    /// A leak resistance across the cell: drains it and heats it (V²/R).
    case internalShort(cell: Int, ohms: Double)
    /// The cell's resistances grow to `factor` times their value (over the ramp).
    case resistanceRise(cell: Int, factor: Double)
    /// The cell loses `fraction` of its capacity (over the ramp).
    case capacityFade(cell: Int, fraction: Double)
    /// An extra heat source at the cell (W), e.g. a poor weld heating up.
    case localHeating(cell: Int, watts: Double)
    /// Cell-voltage channel faults: frozen at its last value, offset, extra noise, open sense wire.
    case voltageSensorStuck(cell: Int)
    case voltageSensorOffset(cell: Int, volts: Double)
    case voltageSensorNoise(cell: Int, volts: Double)
    case openWire(cell: Int)
    /// Temperature sensor faults: open (reads −50 °C), shorted (reads 150 °C), frozen.
    case temperatureSensorOpen(sensor: Int)
    case temperatureSensorShort(sensor: Int)
    case temperatureSensorStuck(sensor: Int)
    /// The current sensor's offset drifts (A per hour).
    case currentSensorDrift(amperesPerHour: Double)
    /// The pack-voltage measurement reads `volts` high.
    case packVoltageSensorOffset(volts: Double)
    /// Contactor faults: the contact stays closed whatever the coil does, or never closes.
    case contactorWelded(Contactor)
    case contactorFailsToClose(Contactor)
    /// The contact is welded but its auxiliary (feedback) contact still follows the coil.
    case contactorWeldedBehindFeedback(Contactor)
    /// CAN: a fraction of frames is lost or corrupted (both directions).
    case canLoss(fraction: Double)
    case canCorruption(fraction: Double)
    /// The front end stops answering (every measurement times out).
    case frontEndTimeout
    /// The current sensor stops answering.
    case currentSensorTimeout
}

/// A fault with its onset, how long it takes to develop, and how long it lasts.
public struct ScheduledFault: Equatable, Sendable {
    public var kind: FaultKind
    /// Onset, from the start of the run.
    public var at: Microseconds
    /// Time over which a gradual fault reaches its full size (zero: at once).
    public var ramp: Microseconds
    /// How long it lasts (nil: to the end of the run).
    public var duration: Microseconds?

    public init(_ kind: FaultKind, at: Microseconds, ramp: Microseconds = .zero, duration: Microseconds? = nil) {
        self.kind = kind
        self.at = at
        self.ramp = ramp
        self.duration = duration
    }

    /// 0 before onset, rising to 1 over the ramp, 0 again after the duration.
    public func severity(at time: Instant) -> Double {
        let t = time.microsecondsSinceOrigin
        guard t >= at.rawValue else { return 0 }
        if let duration, t >= at.rawValue + duration.rawValue { return 0 }
        guard ramp.rawValue > 0 else { return 1 }
        return min(1, Double(t - at.rawValue) / Double(ramp.rawValue))
    }

    /// A short name for truth files and reports.
    public var label: String {
        switch kind {
        case .internalShort(let c, let r): return "cell \(c + 1) internal short \(Fixed.text(r, decimals: 1)) ohm"
        case .resistanceRise(let c, let f): return "cell \(c + 1) resistance x\(Fixed.text(f, decimals: 2))"
        case .capacityFade(let c, let f): return "cell \(c + 1) capacity -\(Fixed.text(f * 100, decimals: 1)) %"
        case .localHeating(let c, let w): return "cell \(c + 1) local heating \(Fixed.text(w, decimals: 2)) W"
        case .voltageSensorStuck(let c): return "cell \(c + 1) voltage sensor stuck"
        case .voltageSensorOffset(let c, let v): return "cell \(c + 1) voltage sensor offset \(Fixed.text(v * 1_000, decimals: 1)) mV"
        case .voltageSensorNoise(let c, let v): return "cell \(c + 1) voltage sensor noise \(Fixed.text(v * 1_000, decimals: 1)) mV"
        case .openWire(let c): return "cell \(c + 1) open sense wire"
        case .temperatureSensorOpen(let s): return "temperature sensor \(s + 1) open"
        case .temperatureSensorShort(let s): return "temperature sensor \(s + 1) shorted"
        case .temperatureSensorStuck(let s): return "temperature sensor \(s + 1) stuck"
        case .currentSensorDrift(let a): return "current sensor drift \(Fixed.text(a * 1_000, decimals: 1)) mA/h"
        case .packVoltageSensorOffset(let v): return "pack voltage sensor offset \(Fixed.text(v, decimals: 3)) V"
        case .contactorWelded(let c): return "contactor \(c) welded"
        case .contactorFailsToClose(let c): return "contactor \(c) fails to close"
        case .contactorWeldedBehindFeedback(let c): return "contactor \(c) welded (feedback still follows the coil)"
        case .canLoss(let f): return "CAN loss \(Fixed.text(f * 100, decimals: 1)) %"
        case .canCorruption(let f): return "CAN corruption \(Fixed.text(f * 100, decimals: 1)) %"
        case .frontEndTimeout: return "front end timeout"
        case .currentSensorTimeout: return "current sensor timeout"
        }
    }
}
