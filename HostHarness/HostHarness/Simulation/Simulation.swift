// A simulation run: the firmware's control loop against the virtual pack, one 1 ms tick at a
// time, in simulated time only. The same scenario and seed give the same bytes.
import Firmware
import HAL

/// One row of the time series the simulation records (once per simulated second).
public struct SimulationSample: Equatable, Sendable {
    public var time: Instant
    /// Pack current (A, positive = charging), true.
    public var current: Double
    /// Mean true SOC of the series elements, and the firmware's pack SOC (nil before it knows).
    public var trueStateOfCharge: Double
    public var estimatedStateOfCharge: Float?
    /// The firmware's cell statistics at that tick.
    public var cellStatistics: PackStatistics<Millivolts>?
}

/// The firmware running against a virtual pack.
public struct Simulation {
    public let scenario: Scenario
    public private(set) var pack: VirtualPack
    public var loop: ControlLoop<VirtualBoard>
    public private(set) var now = Instant.origin
    var load: LoadSource
    var sensorNoise: SplitMix64

    /// Random streams, so that adding draws to one never shifts another.
    enum Stream: UInt64 { case packSpread = 1, load = 2, sensors = 3 }

    public init(scenario: Scenario) throws(HarnessError) {
        self.scenario = scenario
        let root = SplitMix64(seed: scenario.seed)
        var spread = root.derived(stream: Stream.packSpread.rawValue)
        pack = VirtualPack(configuration: scenario.pack, random: &spread)
        sensorNoise = root.derived(stream: Stream.sensors.rawValue)
        let packCapacityAh = scenario.pack.cellModel.ratedCapacityAh * Double(scenario.pack.parallelCount)
        load = scenario.load.makeSource(packCapacityAh: packCapacityAh, random: root.derived(stream: Stream.load.rawValue))
        let configuration = try FirmwareSetup.configuration(for: scenario.pack)
        let board = VirtualBoard(cellCount: scenario.pack.seriesCount, temperatureSensorCount: scenario.pack.temperatureSensorCount)
        do {
            loop = try ControlLoop(board: board, configuration: configuration)
        } catch {
            throw HarnessError("the firmware rejected the configuration: \(error.explanation)")
        }
    }

    /// Runs one tick: the load draws current for 1 ms, the sensors latch what the pack shows,
    /// then the firmware ticks at the end of that millisecond.
    public mutating func step() {
        let period = ControlLoopTiming.tickPeriod
        let current = load.current(at: now)
        pack.advance(current: current, seconds: Double(period.rawValue) / 1_000_000)
        now = now + period
        pack.senseCells(into: &loop.board.cellMonitor.latched, random: &sensorNoise)
        loop.board.currentSensor.latched = pack.senseCurrent(random: &sensorNoise)
        loop.board.clock = now
        loop.tick(now: now)
    }

    /// What the pack and the firmware show now.
    public var sample: SimulationSample {
        SimulationSample(time: now, current: pack.current, trueStateOfCharge: pack.meanStateOfCharge,
                         estimatedStateOfCharge: loop.stateOfCharge, cellStatistics: loop.cellStatistics)
    }

    /// Runs until `duration` of simulated time has passed, calling `record` once per simulated
    /// second (after that second's last tick).
    public mutating func run(for duration: Microseconds, record: (SimulationSample) -> Void) {
        let end = now + duration
        let ticksPerRecord = Int(ControlLoopTiming.ticksPerSecond)
        var tick = 0
        while now < end {
            step()
            tick += 1
            if tick == ticksPerRecord {
                tick = 0
                record(sample)
            }
        }
    }
}
