// A scenario: the pack, its surroundings, the load, the faults, the seed and how long to run —
// read from Fixtures/scenarios/NAME.json or any file (format and defaults in Docs/virtual-pack.md).
import Foundation
import HAL

/// Everything a simulation run needs to start.
public struct Scenario: Equatable, Sendable {
    public var name: String
    public var description: String
    public var pack: PackDesign
    public var load: LoadProfile
    public var faults: [ScheduledFault]
    public var duration: Microseconds
    public var seed: UInt64
    /// How often the truth channel is written.
    public var truthInterval: Microseconds
    /// Whether the load and charger keep to the BMS's current limits (false: a rogue load or
    /// charger, for protection tests).
    public var loadObeysLimits = true

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
        let sensorCount = try json.integer("temperature_sensors", in: 0...maximumTemperatureSensorCount)
        let initialSOC = try json.double("initial_soc", in: 0...1)

        var ambient = AmbientProfile.constant(celsius: 25)
        if json.has("ambient") {
            var a = try json.object("ambient")
            switch try a.string("type") {
            case "constant": ambient = .constant(celsius: try a.double("celsius", in: -40...80))
            case "daily":
                ambient = .daily(minimum: try a.double("min_c", in: -40...80), maximum: try a.double("max_c", in: -40...80),
                                 coldestHour: try a.double("coldest_hour", in: 0...24, default: 5),
                                 warmestHour: try a.double("warmest_hour", in: 0...24, default: 15))
            case let other: throw HarnessError("\(file): 'ambient.type': unknown ambient '\(other)' (known: constant, daily)")
            }
            try a.finish()
        }
        var spread = try json.object("spread")
        let capacitySpread = try spread.double("capacity_fraction", in: 0...0.5)
        let resistanceSpread = try spread.double("resistance_fraction", in: 0...0.5)
        let socSpread = try spread.double("initial_soc", in: 0...0.2)
        let socOffsets = spread.has("initial_soc_offsets") ? try spread.doubles("initial_soc_offsets") : []
        guard socOffsets.count <= series, socOffsets.allSatisfy({ abs($0) <= 0.5 }) else {
            throw HarnessError("\(file): 'spread.initial_soc_offsets': at most one offset per series element, each within ±0.5")
        }
        let leakSpread = try spread.double("self_discharge_fraction", in: 0...2, default: 0.2)
        try spread.finish()

        var construction = json.has("construction") ? try json.object("construction") : StrictJSONObject(values: [:], path: "construction", file: file)
        let busbar = try construction.double("busbar_mohm", in: 0...100, default: 0.2) / 1_000
        let contact = try construction.double("contact_mohm", in: 0...100, default: 0) / 1_000
        let toAmbient = try construction.double("cell_to_ambient_w_per_k", in: 0.001...10, default: 0.03)
        let toNeighbour = try construction.double("cell_to_neighbour_w_per_k", in: 0...10, default: 0.3)
        let linkCapacitance = try construction.double("link_capacitance_uf", in: 1...1_000_000, default: 1_000) * 1e-6
        let precharge = try construction.double("precharge_ohm", in: 0.1...10_000, default: 20)
        let bleed = try construction.double("bleed_ohm", in: 1...10_000_000, default: 10_000)
        try construction.finish()

        var sensing = try json.object("sensors")
        let sensors = SensorDesign(
            cellVoltageNoise: try sensing.double("cell_voltage_noise_mv", in: 0...100) / 1_000,
            cellVoltageGainSpread: try sensing.double("cell_voltage_gain_fraction", in: 0...0.1, default: 0.0002),
            cellVoltageOffsetSpread: try sensing.double("cell_voltage_offset_mv", in: 0...100, default: 0.5) / 1_000,
            cellVoltageResolution: try sensing.double("cell_voltage_resolution_mv", in: 0.1...100, default: 1) / 1_000,
            currentNoise: try sensing.double("current_noise_ma", in: 0...10_000) / 1_000,
            currentOffset: try sensing.double("current_offset_ma", in: -10_000...10_000, default: 0) / 1_000,
            currentGainError: try sensing.double("current_gain_fraction", in: -0.1...0.1, default: 0),
            currentResolution: try sensing.double("current_resolution_ma", in: 1...10_000, default: 1) / 1_000,
            temperatureNoise: try sensing.double("temperature_noise_c", in: 0...10, default: 0.05),
            temperatureLag: try sensing.double("temperature_lag_s", in: 0...600, default: 10),
            temperatureResolution: 0.1)
        try sensing.finish()

        var loadObject = try json.object("load")
        let load = try parseLoad(&loadObject, file: file)
        var faults: [ScheduledFault] = []
        if json.has("faults") {
            for var f in try json.objects("faults") {
                faults.append(try parseFault(&f, file: file, series: series, sensors: sensorCount))
                try f.finish()
            }
        }
        let acceleration = try json.double("ageing_acceleration", in: 1...10_000, default: 1)
        let obeys = json.has("load_obeys_limits") ? try json.bool("load_obeys_limits") : true
        let truthInterval = json.has("truth_interval") ? try duration(&json, "truth_interval", file: file) : .seconds(60)
        let duration = try duration(&json, "duration", file: file)
        let seed = try json.unsigned64("seed")
        try json.finish()
        var pack = PackDesign(
            cellModel: cellModel, seriesCount: series, parallelCount: parallel,
            temperatureSensorCells: PackDesign.evenlySpread(sensorCount, over: series),
            busbarResistance: busbar, contactResistance: contact,
            thermal: ThermalDesign(cellToAmbient: toAmbient, cellToNeighbour: toNeighbour, ambient: ambient),
            initialStateOfCharge: initialSOC, capacitySpread: capacitySpread, resistanceSpread: resistanceSpread,
            stateOfChargeSpread: socSpread, selfDischargeSpread: leakSpread, sensors: sensors,
            link: LinkDesign(capacitance: linkCapacitance, prechargeResistance: precharge, bleedResistance: bleed),
            ageingAcceleration: acceleration)
        pack.stateOfChargeOffsets = socOffsets
        return Scenario(name: name, description: description, pack: pack, load: load, faults: faults, duration: duration,
                        seed: seed, truthInterval: truthInterval, loadObeysLimits: obeys)
    }

    static func duration(_ json: inout StrictJSONObject, _ key: String, file: String, allowZero: Bool = false) throws(HarnessError) -> Microseconds {
        let text = try json.string(key)
        guard let value = DurationText.parse(text, allowZero: allowZero) else {
            throw HarnessError("\(file): '\(json.key(key))': '\(text)' is not a duration like 1h, 30m, 90s or 1h30m")
        }
        return value
    }

    static func parseCharger(_ o: inout StrictJSONObject) throws(HarnessError) -> ChargerSettings {
        ChargerSettings(current: try o.double("current_a", in: 0.001...10_000), cellVoltage: try o.double("cell_voltage_v", in: 1...5),
                        cutoffCurrent: try o.double("cutoff_a", in: 0...10_000))
    }

    static func parseLoad(_ o: inout StrictJSONObject, file: String) throws(HarnessError) -> LoadProfile {
        let type = try o.string("type")
        switch type {
        case "rest": return .rest
        case "delivery": return .delivery
        case "constant-current": return .constantCurrent(amperes: try o.double("current_a", in: -10_000...10_000))
        case "constant-power": return .constantPower(watts: try o.double("power_w", in: -1_000_000...1_000_000))
        case "cc-cv": return .charge(try parseCharger(&o))
        case "profile":
            let path = try o.string("file")
            let resolved = path.hasPrefix("/") ? path : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).path
            let repeats = o.has("repeat") ? (try o.string("repeat")) == "yes" : false
            let (series, isPower) = try ProfileSeries.load(resolved, repeats: repeats)
            return .profile(series, isPower: isPower)
        case "delivery-day":
            var shifts: [(start: Double, end: Double)] = []
            for text in try o.stringArray("shifts") {
                let parts = text.split(separator: "-").map { $0.split(separator: ":").compactMap { Double($0) } }
                guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }) else {
                    throw HarnessError("\(file): '\(o.key("shifts"))': '\(text)' is not a shift like 07:00-11:30")
                }
                let start = parts[0][0] + parts[0][1] / 60, end = parts[1][0] + parts[1][1] / 60
                guard start < end, end <= 24 else { throw HarnessError("\(file): '\(o.key("shifts"))': '\(text)' must start before it ends, within a day") }
                shifts.append((start, end))
            }
            var charge = try o.object("charge")
            let charger = try parseCharger(&charge)
            try charge.finish()
            return .deliveryDay(DeliveryDayPlan(shifts: shifts, returnStateOfCharge: try o.double("return_soc", in: 0...1),
                                                charger: charger))
        case "sequence":
            var steps: [(LoadProfile, Microseconds)] = []
            for var step in try o.objects("steps") {
                var inner = try step.object("load")
                let load = try parseLoad(&inner, file: file)
                try inner.finish()
                steps.append((load, try duration(&step, "duration", file: file)))
                try step.finish()
            }
            return .sequence(steps)
        default:
            throw HarnessError("\(file): '\(o.key("type"))': unknown load '\(type)' (known: rest, delivery, delivery-day, constant-current, constant-power, cc-cv, profile, sequence)")
        }
    }

    static func parseFault(_ o: inout StrictJSONObject, file: String, series: Int, sensors: Int) throws(HarnessError) -> ScheduledFault {
        func cell() throws(HarnessError) -> Int { try o.integer("cell", in: 1...series) - 1 }
        func sensor() throws(HarnessError) -> Int { try o.integer("sensor", in: 1...max(1, sensors)) - 1 }
        func contactor() throws(HarnessError) -> Contactor {
            switch try o.string("contactor") {
            case "main-positive": return .mainPositive
            case "main-negative": return .mainNegative
            case "precharge": return .precharge
            case let other: throw HarnessError("\(file): '\(o.key("contactor"))': unknown contactor '\(other)' (main-positive, main-negative, precharge)")
            }
        }
        let type = try o.string("type")
        let kind: FaultKind
        switch type {
        case "internal-short": kind = .internalShort(cell: try cell(), ohms: try o.double("ohms", in: 0.001...1_000_000))
        case "resistance-rise": kind = .resistanceRise(cell: try cell(), factor: try o.double("factor", in: 1...100))
        case "capacity-fade": kind = .capacityFade(cell: try cell(), fraction: try o.double("fraction", in: 0...0.9))
        case "local-heating": kind = .localHeating(cell: try cell(), watts: try o.double("watts", in: 0...1_000))
        case "voltage-sensor-stuck": kind = .voltageSensorStuck(cell: try cell())
        case "voltage-sensor-offset": kind = .voltageSensorOffset(cell: try cell(), volts: try o.double("mv", in: -5_000...5_000) / 1_000)
        case "voltage-sensor-noise": kind = .voltageSensorNoise(cell: try cell(), volts: try o.double("mv", in: 0...5_000) / 1_000)
        case "open-wire": kind = .openWire(cell: try cell())
        case "temperature-sensor-open": kind = .temperatureSensorOpen(sensor: try sensor())
        case "temperature-sensor-short": kind = .temperatureSensorShort(sensor: try sensor())
        case "temperature-sensor-stuck": kind = .temperatureSensorStuck(sensor: try sensor())
        case "current-sensor-drift": kind = .currentSensorDrift(amperesPerHour: try o.double("ma_per_hour", in: -100_000...100_000) / 1_000)
        case "contactor-welded": kind = .contactorWelded(try contactor())
        case "contactor-fails-to-close": kind = .contactorFailsToClose(try contactor())
        case "contactor-welded-behind-feedback": kind = .contactorWeldedBehindFeedback(try contactor())
        case "can-loss": kind = .canLoss(fraction: try o.double("fraction", in: 0...1))
        case "can-corruption": kind = .canCorruption(fraction: try o.double("fraction", in: 0...1))
        case "front-end-timeout": kind = .frontEndTimeout
        case "pack-voltage-sensor-offset": kind = .packVoltageSensorOffset(volts: try o.double("mv", in: -100_000...100_000) / 1_000)
        case "current-sensor-timeout": kind = .currentSensorTimeout
        default:
            throw HarnessError("\(file): '\(o.key("type"))': unknown fault '\(type)' (see Docs/virtual-pack.md, fault catalogue)")
        }
        let at = try duration(&o, "at", file: file, allowZero: true)
        let ramp = o.has("ramp") ? try duration(&o, "ramp", file: file, allowZero: true) : .zero
        let lasting = o.has("duration") ? try duration(&o, "duration", file: file) : nil
        return ScheduledFault(kind, at: at, ramp: ramp, duration: lasting)
    }
}
