// A scenario: the pack, the load, the seed and how long to run — read from
// Fixtures/scenarios/NAME.json or any file (format in Docs/virtual-pack.md).
import Foundation
import HAL

/// Everything a simulation run needs to start.
public struct Scenario: Equatable, Sendable {
    public var name: String
    public var description: String
    public var pack: VirtualPackConfiguration
    public var load: LoadProfile
    public var duration: Microseconds
    public var seed: UInt64

    /// Loads the shipped scenario `NAME`, or the file at a path (anything with a `/` or `.json`).
    public static func load(_ nameOrPath: String) throws(HarnessError) -> Scenario {
        let file = try FixtureLocator.read(nameOrPath, folder: "scenarios", kind: "scenario")
        return try parse(file.data, file: file.path)
    }

    /// Parses a scenario file; the cell model it names is loaded from Fixtures/cells/.
    public static func parse(_ data: Data, file: String) throws(HarnessError) -> Scenario {
        var json = try StrictJSONObject.parse(data, file: file)
        let name = try json.string("name")
        let description = try json.string("description")
        let cellModel = try CellModel.load(try json.string("cell_model"))
        let series = try json.integer("series", in: 1...maximumCellCount)
        let parallel = try json.integer("parallel", in: 1...100)
        let sensors = try json.integer("temperature_sensors", in: 0...maximumTemperatureSensorCount)
        let ambient = try json.double("ambient_c", in: -40...80)
        let initialSOC = try json.double("initial_soc", in: 0...1)
        var spread = try json.object("spread")
        let capacitySpread = try spread.double("capacity_fraction", in: 0...0.5)
        let resistanceSpread = try spread.double("resistance_fraction", in: 0...0.5)
        let socSpread = try spread.double("initial_soc", in: 0...0.2)
        try spread.finish()
        var sensing = try json.object("sensors")
        let voltageNoise = try sensing.double("cell_voltage_noise_mv", in: 0...100)
        let currentNoise = try sensing.double("current_noise_ma", in: 0...10_000)
        try sensing.finish()
        var loadObject = try json.object("load")
        let load: LoadProfile
        switch try loadObject.string("type") {
        case "delivery": load = .delivery
        case "constant": load = .constant(amperes: try loadObject.double("current_a", in: -10_000...10_000))
        case let other: throw HarnessError("\(file): 'load.type': unknown load '\(other)' (known: delivery, constant)")
        }
        try loadObject.finish()
        let durationText = try json.string("duration")
        guard let duration = DurationText.parse(durationText) else {
            throw HarnessError("\(file): 'duration': '\(durationText)' is not a duration like 1h, 30m, 90s or 1h30m")
        }
        let seed = try json.unsigned64("seed")
        try json.finish()
        let pack = VirtualPackConfiguration(
            cellModel: cellModel, seriesCount: series, parallelCount: parallel, temperatureSensorCount: sensors,
            ambientCelsius: ambient, initialStateOfCharge: initialSOC, capacitySpread: capacitySpread,
            resistanceSpread: resistanceSpread, stateOfChargeSpread: socSpread,
            cellVoltageNoiseMillivolts: voltageNoise, currentNoiseMilliamperes: currentNoise)
        return Scenario(name: name, description: description, pack: pack, load: load, duration: duration, seed: seed)
    }
}
