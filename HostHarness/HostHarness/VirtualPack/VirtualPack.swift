// The virtual pack: series elements (cells or parallel groups) with true state, advanced only
// when told, and sensed the way a front end would sense them (quantised, with seeded noise).
import HAL

/// How the virtual pack is built.
public struct VirtualPackConfiguration: Equatable, Sendable {
    public var cellModel: CellModel
    public var seriesCount: Int
    public var parallelCount: Int
    public var temperatureSensorCount: Int
    public var ambientCelsius: Double
    /// Mean initial state of charge (0...1).
    public var initialStateOfCharge: Double
    /// Standard deviations of the cell-to-cell spread: relative capacity, relative resistance,
    /// absolute initial SOC.
    public var capacitySpread: Double
    public var resistanceSpread: Double
    public var stateOfChargeSpread: Double
    /// Standard deviation of the cell-voltage measurement noise (mV) and current noise (mA).
    public var cellVoltageNoiseMillivolts: Double
    public var currentNoiseMilliamperes: Double

    public init(cellModel: CellModel, seriesCount: Int, parallelCount: Int, temperatureSensorCount: Int,
                ambientCelsius: Double, initialStateOfCharge: Double, capacitySpread: Double,
                resistanceSpread: Double, stateOfChargeSpread: Double, cellVoltageNoiseMillivolts: Double,
                currentNoiseMilliamperes: Double) {
        self.cellModel = cellModel
        self.seriesCount = seriesCount
        self.parallelCount = parallelCount
        self.temperatureSensorCount = temperatureSensorCount
        self.ambientCelsius = ambientCelsius
        self.initialStateOfCharge = initialStateOfCharge
        self.capacitySpread = capacitySpread
        self.resistanceSpread = resistanceSpread
        self.stateOfChargeSpread = stateOfChargeSpread
        self.cellVoltageNoiseMillivolts = cellVoltageNoiseMillivolts
        self.currentNoiseMilliamperes = currentNoiseMilliamperes
    }
}

/// The true state of the pack. Current is positive when charging.
public struct VirtualPack: Sendable {
    /// One series element: `parallelCount` cells in parallel, treated as one big cell.
    public struct Element: Equatable, Sendable {
        /// True state of charge (0...1 in normal use; not clamped, so over-discharge shows).
        public var stateOfCharge: Double
        /// True capacity in ampere-seconds.
        public var capacityAmpereSeconds: Double
        /// Series resistance in ohms.
        public var resistanceOhm: Double
    }

    public let configuration: VirtualPackConfiguration
    public private(set) var elements: [Element]
    /// Each element's terminal voltage (V) at the present state, refreshed by `advance`.
    public private(set) var terminalVoltages: [Double]
    /// The cell model's OCV curve, resampled for constant-time lookup.
    let openCircuitVoltage: UniformTable
    /// The current flowing now (A, positive = charging).
    public private(set) var current: Double = 0
    /// The exact charge that has flowed in (As, net, positive = charged), for checking counters.
    public private(set) var netChargeAmpereSeconds: Double = 0

    /// Builds the pack, drawing the cell-to-cell spread from `random`.
    public init(configuration c: VirtualPackConfiguration, random: inout SplitMix64) {
        configuration = c
        let groupCapacity = c.cellModel.referenceCapacityAh * 3_600 * Double(c.parallelCount)
        let groupResistance = c.cellModel.seriesResistance.value(stateOfCharge: 0.5, temperatureCelsius: 25) / Double(c.parallelCount)
        openCircuitVoltage = UniformTable(points: 2_001) { c.cellModel.openCircuitVoltage[$0] }
        elements = (0..<c.seriesCount).map { _ in
            Element(stateOfCharge: c.initialStateOfCharge + c.stateOfChargeSpread * random.standardNormalish(),
                    capacityAmpereSeconds: groupCapacity * (1 + c.capacitySpread * random.standardNormalish()),
                    resistanceOhm: groupResistance * (1 + c.resistanceSpread * random.standardNormalish()))
        }
        terminalVoltages = Array(repeating: 0, count: c.seriesCount)
        refreshTerminalVoltages()
    }

    /// Lets `current` (A, positive = charging) flow for `seconds`.
    public mutating func advance(current: Double, seconds: Double) {
        self.current = current
        let charge = current * seconds
        netChargeAmpereSeconds += charge
        for i in elements.indices {
            elements[i].stateOfCharge += charge / elements[i].capacityAmpereSeconds
        }
        refreshTerminalVoltages()
    }

    mutating func refreshTerminalVoltages() {
        for i in elements.indices {
            terminalVoltages[i] = openCircuitVoltage[elements[i].stateOfCharge] + current * elements[i].resistanceOhm
        }
    }

    /// The pack's true state of charge, as the mean of its elements' (for comparison with a
    /// pack-level estimate).
    public var meanStateOfCharge: Double {
        elements.reduce(0) { $0 + $1.stateOfCharge } / Double(elements.count)
    }

    /// Fills a front end's readings: every cell quantised to 1 mV after noise; temperatures at
    /// ambient quantised to 0.1 °C.
    public func senseCells(into readings: inout CellMonitorReadings, random: inout SplitMix64) {
        let noise = configuration.cellVoltageNoiseMillivolts
        for i in 0..<min(readings.cellVoltages.count, elements.count) {
            let millivolts = terminalVoltages[i] * 1_000 + noise * random.standardNormalish()
            readings.cellVoltages[i] = Reading(Millivolts(Int32(millivolts.rounded())))
        }
        let deciCelsius = DeciCelsius(Int16((configuration.ambientCelsius * 10).rounded()))
        for i in readings.temperatures.indices { readings.temperatures[i] = Reading(deciCelsius) }
    }

    /// What the current sensor measures: the current quantised to 1 mA after noise, and the
    /// stack voltage quantised to 1 mV.
    public func senseCurrent(random: inout SplitMix64) -> PackSensorReadings {
        let milliamperes = current * 1_000 + configuration.currentNoiseMilliamperes * random.standardNormalish()
        var stack = 0.0
        for v in terminalVoltages { stack += v }
        return PackSensorReadings(current: Reading(Milliamperes(Int32(milliamperes.rounded()))),
                                  packVoltage: Reading(Millivolts(Int32((stack * 1_000).rounded()))))
    }
}

