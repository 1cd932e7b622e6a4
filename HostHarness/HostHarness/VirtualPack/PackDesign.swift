// How a virtual pack is built: its cells, their spread, wiring, cooling, sensors and link
// circuit. Read from a scenario (Docs/virtual-pack.md lists every key and its default).

/// The thermal surroundings of every cell.
public struct ThermalDesign: Equatable, Sendable {
    /// Heat conductance from one cell to the ambient air (W/K).
    public var cellToAmbient: Double
    /// Heat conductance between neighbouring elements (W/K).
    public var cellToNeighbour: Double
    public var ambient: AmbientProfile

    public init(cellToAmbient: Double, cellToNeighbour: Double, ambient: AmbientProfile) {
        self.cellToAmbient = cellToAmbient
        self.cellToNeighbour = cellToNeighbour
        self.ambient = ambient
    }
}

/// The front end and the sensors, as built (errors drawn per channel from the seed).
public struct SensorDesign: Equatable, Sendable {
    /// Cell-voltage measurement: noise (σ, V), gain error spread (σ, relative), offset spread (σ, V), resolution (V).
    public var cellVoltageNoise: Double
    public var cellVoltageGainSpread: Double
    public var cellVoltageOffsetSpread: Double
    public var cellVoltageResolution: Double
    /// Current measurement: noise (σ, A), offset (A), gain error (relative), resolution (A).
    public var currentNoise: Double
    public var currentOffset: Double
    public var currentGainError: Double
    public var currentResolution: Double
    /// Temperature sensors: noise (σ, K), first-order lag (s), resolution (K).
    public var temperatureNoise: Double
    public var temperatureLag: Double
    public var temperatureResolution: Double

    public static let ideal = SensorDesign(cellVoltageNoise: 0, cellVoltageGainSpread: 0, cellVoltageOffsetSpread: 0,
                                           cellVoltageResolution: 0.001, currentNoise: 0, currentOffset: 0, currentGainError: 0,
                                           currentResolution: 0.001, temperatureNoise: 0, temperatureLag: 0, temperatureResolution: 0.1)
}

/// The DC link on the load side of the contactors (for precharge).
public struct LinkDesign: Equatable, Sendable {
    /// Link capacitance (F), precharge resistor (Ω), and the resistance that bleeds the link when
    /// the contactors are open (Ω).
    public var capacitance: Double
    public var prechargeResistance: Double
    public var bleedResistance: Double

    public init(capacitance: Double, prechargeResistance: Double, bleedResistance: Double) {
        self.capacitance = capacitance
        self.prechargeResistance = prechargeResistance
        self.bleedResistance = bleedResistance
    }
}

/// Everything needed to build a virtual pack.
public struct PackDesign: Equatable, Sendable {
    public var cellModel: CellModel
    public var seriesCount: Int
    public var parallelCount: Int
    /// The element each temperature sensor sits on (0-based).
    public var temperatureSensorCells: [Int]
    /// Resistance of each busbar between neighbouring elements (Ω); in the pack voltage, not in
    /// any cell's sensed voltage.
    public var busbarResistance: Double
    /// Resistance of each element's contacts inside its sense taps (Ω): seen in its cell voltage.
    public var contactResistance: Double
    public var thermal: ThermalDesign
    /// Mean initial SOC, and standard deviations of the cell-to-cell spread (relative for
    /// capacity, resistance and self-discharge; absolute for SOC).
    public var initialStateOfCharge: Double
    public var capacitySpread: Double
    public var resistanceSpread: Double
    public var stateOfChargeSpread: Double
    public var selfDischargeSpread: Double
    public var sensors: SensorDesign
    public var link: LinkDesign
    /// Ageing runs this many times faster than real time (1 = real), so a month can stand for years.
    public var ageingAcceleration: Double
    /// Deliberate initial SOC offsets per element (added to the mean; e.g. a pack built unbalanced).
    public var stateOfChargeOffsets: [Double] = []

    public init(cellModel: CellModel, seriesCount: Int, parallelCount: Int, temperatureSensorCells: [Int], busbarResistance: Double, contactResistance: Double, thermal: ThermalDesign, initialStateOfCharge: Double, capacitySpread: Double, resistanceSpread: Double, stateOfChargeSpread: Double, selfDischargeSpread: Double, sensors: SensorDesign, link: LinkDesign, ageingAcceleration: Double) {
        self.cellModel = cellModel
        self.seriesCount = seriesCount
        self.parallelCount = parallelCount
        self.temperatureSensorCells = temperatureSensorCells
        self.busbarResistance = busbarResistance
        self.contactResistance = contactResistance
        self.thermal = thermal
        self.initialStateOfCharge = initialStateOfCharge
        self.capacitySpread = capacitySpread
        self.resistanceSpread = resistanceSpread
        self.stateOfChargeSpread = stateOfChargeSpread
        self.selfDischargeSpread = selfDischargeSpread
        self.sensors = sensors
        self.link = link
        self.ageingAcceleration = ageingAcceleration
    }

    /// Evenly spread sensor positions for `count` sensors on `series` elements.
    public static func evenlySpread(_ count: Int, over series: Int) -> [Int] {
        (0..<count).map { count == 1 ? series / 2 : ($0 * (series - 1) + (count - 1) / 2) / (count - 1) }
    }
}

/// The ambient temperature over the day.
public enum AmbientProfile: Equatable, Sendable {
    case constant(celsius: Double)
    /// A daily cycle: coldest at `coldestHour`, warmest at `warmestHour` (half-cosine between).
    case daily(minimum: Double, maximum: Double, coldestHour: Double, warmestHour: Double)

    /// The ambient temperature at `seconds` since the start of the run (which starts at midnight).
    public func celsius(at seconds: Double) -> Double {
        switch self {
        case .constant(let c):
            return c
        case .daily(let low, let high, let coldest, let warmest):
            let hour = (seconds / 3_600).truncatingRemainder(dividingBy: 24)
            let rising = (warmest - coldest + 24).truncatingRemainder(dividingBy: 24)
            let sinceColdest = (hour - coldest + 24).truncatingRemainder(dividingBy: 24)
            let fraction = sinceColdest < rising ? sinceColdest / rising : 1 - (sinceColdest - rising) / (24 - rising)
            return low + (high - low) * (1 - cos(Double.pi * fraction)) / 2
        }
    }
}

/// Standard-normal-like noise, deterministic on every platform: 4,096 precomputed draws (each
/// the sum of 12 uniforms minus 6, Irwin–Hall), picked by 12-bit slices of the seeded generator's
/// words — five draws per 64-bit word, so sensing 16 cells costs a handful of instructions each.
public struct NoiseSource: Sendable {
    static let table: [Double] = {
        var generator = SplitMix64(seed: 0x5EED_0F_A0_15E)
        return (0..<4_096).map { _ in (0..<12).reduce(0) { sum, _ in sum + generator.unit() } - 6 }
    }()
    var generator: SplitMix64
    var word: UInt64 = 0
    var slicesLeft = 0

    public init(generator: SplitMix64) { self.generator = generator }

    @inline(__always) public mutating func next() -> Double {
        NoiseSource.table.withUnsafeBufferPointer { next($0) }
    }

    /// The next draw, with the table pointer taken once by a hot loop.
    @inline(__always) public mutating func next(_ table: UnsafeBufferPointer<Double>) -> Double {
        if slicesLeft == 0 { word = generator.next(); slicesLeft = 5 }
        let index = Int(truncatingIfNeeded: word & 0xFFF)
        word >>= 12
        slicesLeft -= 1
        return table[index]
    }
}

#if canImport(Glibc)
import Glibc
#endif
