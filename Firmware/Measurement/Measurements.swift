// The 1 ms sampling and validation stages: what the front end and current sensor delivered,
// checked for plausibility and staleness. Everything downstream reads the validated values.
import HAL

/// How often a peripheral failed, and how the last failure was classified.
public struct FailureCount: Equatable, Sendable {
    public private(set) var count: UInt32 = 0
    public private(set) var lastKind: HALErrorKind? = nil
    public init() {}
    mutating func record(_ kind: HALErrorKind) {
        if count < UInt32.max { count += 1 }
        lastKind = kind
    }
}

/// The validated measurements of the pack, updated every tick.
///
/// Validation rules (per channel):
/// - a value the device delivered as valid and inside the configured plausible range is `.valid`;
/// - outside that range it is `.implausible`; a channel the device reported as open wire or faulty
///   keeps that status; neither is used by any algorithm;
/// - when a channel delivered nothing this tick (the device failed, or skipped it), its last
///   good value keeps standing in until it is older than `measurementTimeout`, then it is `.stale`.
public struct Measurements: Sendable {
    /// Validated cell voltages and temperatures (index 0 = most negative cell / first sensor).
    public private(set) var cells = CellMonitorReadings(cellCount: 0, temperatureSensorCount: 0)
    /// Validated pack current (positive = charging) and pack/link voltages.
    public private(set) var pack = PackSensorReadings(current: Reading(.zero, status: .notMeasured))
    /// When each validated reading was last refreshed by a good measurement.
    var cellVoltageRefreshed = PerCell<Instant>(filler: .origin)
    var temperatureRefreshed = PerTemperatureSensor<Instant>(filler: .origin)
    var currentRefreshed = Instant.origin
    var packVoltageRefreshed = Instant.origin
    var linkVoltageRefreshed = Instant.origin
    /// What the devices delivered this tick, before validation.
    var raw = CellMonitorReadings(cellCount: 0, temperatureSensorCount: 0)
    var rawPack = PackSensorReadings(current: Reading(.zero, status: .notMeasured))
    /// After validation: cell channels that are implausible or faulty (open wire, channel fault),
    /// cell channels with no current value (stale, never measured), and temperature sensors that
    /// are not valid. Counted here, in the one pass validation makes anyway.
    public private(set) var badCellChannels = 0
    public private(set) var staleCellChannels = 0
    public private(set) var invalidTemperatureSensors = 0
    public private(set) var cellMonitorFailures = FailureCount()
    public private(set) var currentSensorFailures = FailureCount()
    /// Pack and link voltages are plausible from −1 V up to the stack of plausible cell maxima.
    var plausibleStackVoltage = Millivolts(-1_000)...Millivolts(0)

    /// (Public for the fleet benchmark, which runs the early warning's stages at 1 s without the loop.)
    public init(configuration: borrowing @_addressable PackConfiguration) {
        reset(configuration: configuration)
    }

    /// Sets the measurements up for `configuration`: nothing measured yet. In place, so that a loop
    /// in static storage does not build them in a stack frame first.
    mutating func reset(configuration: borrowing @_addressable PackConfiguration) {
        plausibleStackVoltage = Millivolts(-1_000)...Millivolts(
            configuration.plausibleCellVoltage.upperBound.rawValue * Int32(truncatingIfNeeded: configuration.cellCount))
        cells = CellMonitorReadings(cellCount: configuration.cellCount,
                                    temperatureSensorCount: configuration.temperatureSensorCount)
        raw = cells
        let unmeasured = PackSensorReadings(current: Reading(.zero, status: .notMeasured))
        pack = unmeasured
        rawPack = unmeasured
        cellVoltageRefreshed = PerCell(repeating: .origin, count: configuration.cellCount)
        temperatureRefreshed = PerTemperatureSensor(repeating: .origin, count: configuration.temperatureSensorCount)
        currentRefreshed = .origin
        packVoltageRefreshed = .origin
        linkVoltageRefreshed = .origin
        badCellChannels = 0
        staleCellChannels = 0
        invalidTemperatureSensors = 0
        cellMonitorFailures = FailureCount()
        currentSensorFailures = FailureCount()
    }

    /// Cell `i`'s validated voltage, and temperature sensor `i`'s validated reading, read in place.
    /// The stages read the lists through these, not `cells.cellVoltages[i]`: in a loop, the
    /// optimiser hoisted a load of the whole list out of it and then copied the list into a
    /// temporary for every element read (the Embedded Cortex-M build; Docs/firmware-budget.md).
    /// `mutating` and not inlined only for that.
    @inline(never) mutating func cellVoltage(_ i: Int) -> Reading<Millivolts> { cells.cellVoltages.inPlace(i) }
    @inline(never) mutating func temperature(_ i: Int) -> Reading<DeciCelsius> { cells.temperatures[i] }

    /// Statistics over the validated cell voltages and temperatures, read in place (stages
    /// `cellStatistics` and `temperatureStatistics`).
    public mutating func cellVoltageStatistics() -> PackStatistics<Millivolts>? { PackStatistics.over(&cells.cellVoltages) }
    public mutating func temperatureStatistics() -> PackStatistics<DeciCelsius>? { PackStatistics.over(&cells.temperatures) }

    /// Stage `sample`, first half: reads the cell monitor. A failed read leaves every raw cell
    /// reading `.notMeasured` and is counted by kind.
    public mutating func sample<Monitor: CellMonitor>(cellMonitor: inout Monitor) {
        raw.invalidateAll()
        do {
            try cellMonitor.measure(into: &raw)
        } catch {
            raw.invalidateAll()   // a failed cycle delivers nothing, even if it wrote some channels
            cellMonitorFailures.record(error.kind)
        }
    }

    /// Stage `sample`, second half: reads the current sensor (same failure rule).
    public mutating func sample<Sensor: CurrentSensor>(currentSensor: inout Sensor) {
        do {
            rawPack = try currentSensor.measure()
        } catch {
            rawPack = PackSensorReadings(current: Reading(.zero, status: .notMeasured))
            currentSensorFailures.record(error.kind)
        }
    }

    /// Stage `validate`: applies the plausibility and staleness rules to this tick's raw readings.
    public mutating func validate(now: Instant, configuration c: borrowing @_addressable PackConfiguration) {
        // Locals: a borrowed parameter cannot be captured by the closures below.
        let timeout = c.measurementTimeout, plausibleCellVoltage = c.plausibleCellVoltage
        let plausibleTemperature = c.plausibleTemperature
        var bad = 0, stale = 0, invalidTemperatures = 0
        cells.cellVoltages.update(paired: &cellVoltageRefreshed, from: &raw.cellVoltages) { validated, refreshed, reading in
            Self.update(&validated, refreshed: &refreshed, with: reading, plausible: plausibleCellVoltage, now: now, timeout: timeout)
            switch validated.status {
            case .valid: break
            case .stale, .notMeasured: stale += 1
            case .implausible, .openWire, .channelFault: bad += 1
            }
        }
        cells.temperatures.update(paired: &temperatureRefreshed, from: &raw.temperatures) { validated, refreshed, reading in
            Self.update(&validated, refreshed: &refreshed, with: reading, plausible: plausibleTemperature, now: now, timeout: timeout)
            if validated.status != .valid { invalidTemperatures += 1 }
        }
        badCellChannels = bad
        staleCellChannels = stale
        invalidTemperatureSensors = invalidTemperatures
        let sensed = rawPack
        Self.update(&pack.current, refreshed: &currentRefreshed, with: sensed.current,
                    plausible: c.plausibleCurrent, now: now, timeout: timeout)
        Self.update(&pack.packVoltage, refreshed: &packVoltageRefreshed, with: sensed.packVoltage,
                    plausible: plausibleStackVoltage, now: now, timeout: timeout)
        Self.update(&pack.linkVoltage, refreshed: &linkVoltageRefreshed, with: sensed.linkVoltage,
                    plausible: plausibleStackVoltage, now: now, timeout: timeout)
    }

    /// The rule for one channel (see the type's documentation).
    @inline(__always)
    static func update<Value: Comparable & Sendable>(_ validated: inout Reading<Value>, refreshed: inout Instant,
                                                     with raw: Reading<Value>, plausible: ClosedRange<Value>,
                                                     now: Instant, timeout: Microseconds) {
        switch raw.status {
        case .valid:
            if plausible.contains(raw.value) {
                validated = raw
                refreshed = now
            } else {
                validated = Reading(raw.value, status: .implausible)
            }
        case .openWire, .channelFault, .implausible:
            validated = raw
        case .notMeasured, .stale:
            // Nothing new: the last good value stands in until it is older than the timeout.
            if validated.status == .valid && now - refreshed > timeout {
                validated.status = .stale
            }
        }
    }
}
