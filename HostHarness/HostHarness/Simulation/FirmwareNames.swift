// Names for the firmware's enumerations in reports, CSV and JSON (the firmware itself carries
// only the stable raw values).
import Firmware

extension FaultID {
    /// Every fault, in ID order.
    public static let all: [FaultID] = (1...UInt8(FaultID.count)).compactMap { FaultID(rawValue: $0) }

    /// The fault's kebab-case name (stable: used in files).
    public var name: String {
        switch self {
        case .cellOvervoltage: return "cell-overvoltage"
        case .cellUndervoltage: return "cell-undervoltage"
        case .overtemperatureCharge: return "overtemperature-charge"
        case .overtemperatureDischarge: return "overtemperature-discharge"
        case .undertemperatureCharge: return "undertemperature-charge"
        case .undertemperatureDischarge: return "undertemperature-discharge"
        case .overcurrentCharge: return "overcurrent-charge"
        case .overcurrentDischarge: return "overcurrent-discharge"
        case .temperatureRiseRate: return "temperature-rise-rate"
        case .cellVoltageImplausible: return "cell-voltage-implausible"
        case .cellVoltageStale: return "cell-voltage-stale"
        case .temperatureSensorFault: return "temperature-sensor-fault"
        case .currentMeasurementFault: return "current-measurement-fault"
        case .sumOfCellsMismatch: return "sum-of-cells-mismatch"
        case .stuckCellVoltage: return "stuck-cell-voltage"
        case .contactorFeedback: return "contactor-feedback"
        case .contactorWelded: return "contactor-welded"
        case .prechargeFailed: return "precharge-failed"
        }
    }
}

extension FaultSet {
    /// The faults in the set, in ID order.
    public var members: [FaultID] { FaultID.all.filter { contains($0) } }
    /// Names joined by ';' ("" when empty).
    public var names: String { members.map(\.name).joined(separator: ";") }
}

extension OperatingMode {
    public var name: String { self == .drive ? "drive" : "charge" }
}

extension BMSStateMachine.State {
    /// e.g. "standby", "connecting-drive", "connected-charge", "disconnecting", "error".
    public var name: String {
        switch self {
        case .standby: return "standby"
        case .connecting(let m): return "connecting-\(m.name)"
        case .connected(let m): return "connected-\(m.name)"
        case .disconnecting(let toError): return toError ? "disconnecting-to-error" : "disconnecting"
        case .error: return "error"
        }
    }
}

extension AlertLevel {
    /// As the outputs write it.
    public var name: String {
        switch self {
        case .none: return "none"
        case .watch: return "watch"
        case .warning: return "warning"
        case .critical: return "critical"
        }
    }
}

extension RiskReason {
    /// As the outputs write it.
    public var name: String {
        switch self {
        case .none: return "none"
        case .leakage: return "leakage"
        case .capacityFade: return "capacity-fade"
        case .resistanceGrowth: return "resistance-growth"
        case .voltageSag: return "voltage-sag"
        case .thermalAnomaly: return "thermal-anomaly"
        }
    }
}
