// The cell monitor (analog front end): cell voltages, temperatures and balancing switches.

/// What kind of balancing the front end can do.
public enum BalancingCapability: Equatable, Sendable {
    /// No balancing hardware.
    case none
    /// Resistive bleed per cell, at most `maximumChannels` at once, `bleedCurrent` each (nominal).
    case passive(maximumChannels: Int, bleedCurrent: Milliamperes)
    /// Charge transfer between cells, up to `transferCurrent` per channel.
    case active(maximumChannels: Int, transferCurrent: Milliamperes)
}

/// A balancing request for the front end.
public struct BalancingCommand: Equatable, Sendable {
    /// Cells whose bleed switch (passive) or transfer channel (active, discharging) is on.
    public var cells: CellSet
    public init(cells: CellSet = .empty) { self.cells = cells }
    /// Every switch off.
    public static let off = BalancingCommand()
}

/// The analog front end that measures every cell.
public protocol CellMonitor {
    associatedtype Failure: HALFailure

    /// The balancing hardware this front end has.
    var balancingCapability: BalancingCapability { get }

    /// Measures all cells and temperature sensors. The caller passes readings sized for the
    /// configured pack with every entry `.notMeasured`; the monitor fills each channel it measured
    /// (`.valid`, or `.openWire`/`.channelFault` when it detected a problem on that channel).
    mutating func measure(into readings: inout CellMonitorReadings) throws(Failure)

    /// Sets the balancing switches. Cells not in the command are switched off.
    mutating func setBalancing(_ command: BalancingCommand) throws(Failure)
}
