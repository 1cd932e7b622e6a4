// The pack current sensor (shunt or Hall), with its voltage channels where it has them.

/// Measures the pack current (positive = charging) and, optionally, pack and link voltages.
public protocol CurrentSensor {
    associatedtype Failure: HALFailure

    /// The latest measurement.
    mutating func measure() throws(Failure) -> PackSensorReadings
}
