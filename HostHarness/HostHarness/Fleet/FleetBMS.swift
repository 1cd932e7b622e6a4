// The fleet benchmark's BMS: exactly the firmware stages the early warning needs — sampling and
// validation (`Measurements`), the coulomb counter, balancing and the early warning
// (`CellHealthMonitor`) — called in the control loop's order, but once per simulated second
// instead of from a 1 ms loop. Protection, contactor sequencing, power limits, the SOC estimator
// and CAN are not here: in the fleet the contactors stay closed and the load keeps to fixed
// limits (Docs/early-warning.md, "How the fleet is run"). The full 1 ms loop runs in `simulate`
// and in the scenario tests.
import Firmware
import HAL

/// The early warning's firmware stages on latched sensors, stepped by the caller.
public struct FleetBMS {
    /// The front end and current sensor, latched by the caller before each step (as the
    /// simulation latches a VirtualBoard before each tick); the balancing switches land here.
    public var cellMonitor: VirtualCellMonitor
    public var currentSensor = VirtualCurrentSensor()
    public let configuration: PackConfiguration
    public private(set) var measurements: Measurements
    public private(set) var coulombCounter = CoulombCounter()
    public private(set) var balancer: BalancingController
    public private(set) var health: CellHealthMonitor
    public private(set) var cellStatistics: PackStatistics<Millivolts>? = nil
    public private(set) var temperatureStatistics: PackStatistics<DeciCelsius>? = nil
    /// Seconds since start, as the loop's uptime.
    var uptimeSeconds: Float = 0

    /// The firmware's configuration for `pack` (as `simulate` configures it), and the early
    /// warning's configuration from it as the control loop makes it
    /// (`HealthConfiguration(pack:)`: rated capacity and rest current).
    public init(pack: PackDesign) throws(HarnessError) {
        configuration = try FirmwareSetup.configuration(for: pack)
        cellMonitor = VirtualCellMonitor(cellCount: pack.seriesCount, temperatureSensorCount: pack.temperatureSensorCells.count)
        measurements = Measurements(configuration: configuration)
        balancer = BalancingController(cellCount: configuration.cellCount)
        health = CellHealthMonitor(cellCount: configuration.cellCount, sensorCells: FirmwareSetup.estimation(for: pack).sensorElements,
                                   configuration: HealthConfiguration(pack: configuration))
    }

    /// One step of `dt` ending at `now`, after the caller latched the sensors: sample → validate →
    /// cell statistics → coulomb count (1 ms slot), temperature statistics → balancing → the
    /// monitor's observation (100 ms slot), the monitor's evaluation (1 s slot). Returns the
    /// balancing command when it changed (it is also on `cellMonitor.balancing`).
    public mutating func step(now: Instant, dt: Microseconds) -> BalancingCommand? {
        measurements.sample(cellMonitor: &cellMonitor)
        measurements.sample(currentSensor: &currentSensor)
        measurements.validate(now: now, configuration: configuration)
        cellStatistics = measurements.cellVoltageStatistics()
        // The loop integrates every 1 ms and drops intervals longer than the measurement timeout
        // (100 ms): here every interval is one step long, and each is integrated.
        coulombCounter.integrate(current: measurements.pack.current.validValue, dt: dt, maximumStep: dt)
        temperatureStatistics = measurements.temperatureStatistics()
        // No fault monitor here: no protection fault derates balancing, and no channel is flagged
        // stuck (the loop passes the monitor's stuck channels as `suspect`).
        let command = balancer.update(now: now, measurements: &measurements, cells: cellStatistics, temperatures: temperatureStatistics,
                                      faults: FaultStatus(), suspect: CellSet(), capability: cellMonitor.balancingCapability,
                                      configuration: configuration, dt: dt)
        if let command { try? cellMonitor.setBalancing(command) }
        let current = measurements.pack.current.validValue
        // As the loop's fault monitor measures it (no fault monitor here).
        let sumOfCellsDifference = FaultMonitor.sumOfCellsDifference(cellStatistics, stack: measurements.pack.packVoltage.validValue)
        health.observe(cells: measurements.cells, current: current)
        let seconds = Float(Double(dt.rawValue) / 1e6)
        uptimeSeconds += seconds
        health.evaluate(cells: measurements.cells, current: current, sumOfCellsDifference: sumOfCellsDifference, chargeNanocoulombs: coulombCounter.netChargeNanocoulombs,
                        bled: balancer.bled, curve: configuration.openCircuitVoltage, seconds: seconds, uptimeSeconds: uptimeSeconds)
        return command
    }
}
