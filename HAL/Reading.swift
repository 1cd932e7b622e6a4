// A measured value together with its validity: validity lives in the element, never in a
// parallel array.

/// Why a reading can or cannot be used. Raw values are stable (they go on CAN and into storage).
public enum ReadingStatus: UInt8, Sendable {
    /// Measured this cycle and plausible.
    case valid = 0
    /// No measurement has been delivered for this channel (yet).
    case notMeasured = 1
    /// The front end reports an open sense wire on this channel.
    case openWire = 2
    /// The front end reports a fault on this channel (ADC, multiplexer, reference).
    case channelFault = 3
    /// Delivered, but outside the plausible range for the quantity (firmware validation).
    case implausible = 4
    /// The last good value is older than the configured measurement timeout (firmware validation).
    case stale = 5
}

/// A value and whether it can be used.
public struct Reading<Value: Sendable & Equatable>: Equatable, Sendable {
    public var value: Value
    public var status: ReadingStatus
    @inline(__always) public init(_ value: Value, status: ReadingStatus = .valid) {
        self.value = value
        self.status = status
    }
    @inline(__always) public var isValid: Bool { status == .valid }
    /// The value if it can be used.
    @inline(__always) public var validValue: Value? { status == .valid ? value : nil }
}

/// What a cell monitor (analog front end) delivers per measurement cycle.
public struct CellMonitorReadings: Equatable, Sendable {
    /// One reading per cell in series, index 0 = the cell at the pack's negative end.
    public var cellVoltages: PerCell<Reading<Millivolts>>
    /// One reading per temperature sensor.
    public var temperatures: PerTemperatureSensor<Reading<DeciCelsius>>

    /// Readings for `cellCount` cells and `temperatureSensorCount` sensors, all `.notMeasured`.
    public init(cellCount: Int, temperatureSensorCount: Int) {
        cellVoltages = PerCell(repeating: Reading(Millivolts.zero, status: .notMeasured), count: cellCount)
        temperatures = PerTemperatureSensor(repeating: Reading(DeciCelsius(0), status: .notMeasured),
                                            count: temperatureSensorCount)
    }

    /// Marks every reading `.notMeasured` (done before each measurement so nothing old survives).
    public mutating func invalidateAll() {
        for i in cellVoltages.indices { cellVoltages[i].status = .notMeasured }
        for i in temperatures.indices { temperatures[i].status = .notMeasured }
    }
}

/// What the current sensor delivers per measurement: the pack current and, for sensors with
/// voltage channels (e.g. a shunt module such as the IVT-S), the pack and link (DC bus) voltages.
public struct PackSensorReadings: Equatable, Sendable {
    /// Positive = charging.
    public var current: Reading<Milliamperes>
    /// Voltage across the cell stack (before the contactors).
    public var packVoltage: Reading<Millivolts>
    /// Voltage on the load side of the contactors (for precharge supervision).
    public var linkVoltage: Reading<Millivolts>

    public init(current: Reading<Milliamperes>,
                packVoltage: Reading<Millivolts> = Reading(.zero, status: .notMeasured),
                linkVoltage: Reading<Millivolts> = Reading(.zero, status: .notMeasured)) {
        self.current = current
        self.packVoltage = packVoltage
        self.linkVoltage = linkVoltage
    }
}
