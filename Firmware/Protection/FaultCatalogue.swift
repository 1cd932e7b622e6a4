// Every fault the firmware can diagnose, with a stable ID, and the tiers of severity.
import HAL

/// How severe a limit violation is (foxBMS's MOL / RSL / MSL). Raw values are stable.
public enum Tier: UInt8, Comparable, Sendable {
    /// Maximum operating limit: a warning; nothing is switched.
    case maximumOperating = 1
    /// Recommended safety limit: the power limits are derated.
    case recommendedSafety = 2
    /// Maximum safety limit: the contactors are opened and the fault is latched.
    case maximumSafety = 3

    public static func < (a: Tier, b: Tier) -> Bool { a.rawValue < b.rawValue }
}

/// A diagnosable fault. Raw values are stable: they go on CAN and into storage.
public enum FaultID: UInt8, Sendable {
    case cellOvervoltage = 1
    case cellUndervoltage = 2
    case overtemperatureCharge = 3
    case overtemperatureDischarge = 4
    case undertemperatureCharge = 5
    case undertemperatureDischarge = 6
    case overcurrentCharge = 7
    case overcurrentDischarge = 8
    case temperatureRiseRate = 9
    /// A cell-voltage channel is implausible, reports an open wire or a channel fault.
    case cellVoltageImplausible = 10
    /// Cell voltages stopped arriving (front end silent beyond the measurement timeout).
    case cellVoltageStale = 11
    /// A temperature sensor is implausible, faulty or stale (all of them: maximum safety).
    case temperatureSensorFault = 12
    /// The pack current stopped arriving or is implausible.
    case currentMeasurementFault = 13
    /// The sum of the cell voltages and the measured pack voltage disagree.
    case sumOfCellsMismatch = 14
    /// A cell-voltage channel has not changed while current flowed (frozen reading).
    case stuckCellVoltage = 15
    /// A contactor's feedback disagrees with its command (stuck open or closed).
    case contactorFeedback = 16
    /// A contactor is welded: current flows or feedback stays closed after it was opened.
    case contactorWelded = 17
    /// Precharge did not bring the link voltage up within the timeout, after every retry.
    case prechargeFailed = 18

    /// The number of IDs; `FaultSet` has one bit per ID.
    public static let count = 18
}

/// A set of faults, one bit per `FaultID` (bit n = ID n).
public struct FaultSet: Equatable, Sendable {
    public var bits: UInt32
    public init(bits: UInt32 = 0) { self.bits = bits }
    public static let empty = FaultSet()
    public var isEmpty: Bool { bits == 0 }
    @inline(__always) public func contains(_ id: FaultID) -> Bool { bits & (1 &<< UInt32(id.rawValue)) != 0 }
    @inline(__always) public mutating func insert(_ id: FaultID) { bits |= 1 &<< UInt32(id.rawValue) }
    @inline(__always) public mutating func remove(_ id: FaultID) { bits &= ~(1 &<< UInt32(id.rawValue)) }
    @inline(__always) public mutating func formUnion(_ other: FaultSet) { bits |= other.bits }
}
