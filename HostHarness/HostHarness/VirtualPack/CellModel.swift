// A cell model as the virtual pack uses it, loaded from Fixtures/cells/NAME.json (format in
// Docs/virtual-pack.md): open-circuit voltage against SOC, capacity, series resistance.
import Foundation

/// The electrical description of one cell type.
public struct CellModel: Equatable, Sendable {
    public var name: String
    public var description: String
    public var chemistry: String
    /// The datasheet capacity (what a BMS is configured with).
    public var ratedCapacityAh: Double
    /// The capacity between the OCV table's SOC 0 and 1 (what the cell really holds).
    public var referenceCapacityAh: Double
    public var minimumVoltage: Double
    public var maximumVoltage: Double
    public var seriesResistanceOhm: Double
    /// The OCV table: strictly increasing SOC (0...1) and voltage (V).
    public var ocvStateOfCharge: [Double]
    public var ocvVoltage: [Double]

    /// The rest voltage at `soc` (linear between table points, clamped at the ends).
    public func openCircuitVoltage(stateOfCharge soc: Double) -> Double {
        let s = ocvStateOfCharge, v = ocvVoltage
        if soc <= s[0] { return v[0] }
        if soc >= s[s.count - 1] { return v[v.count - 1] }
        // The tables are evenly spaced in practice; a binary search keeps any table fast.
        var low = 0, high = s.count - 1
        while high - low > 1 {
            let middle = (low + high) / 2
            if s[middle] <= soc { low = middle } else { high = middle }
        }
        return v[low] + (v[high] - v[low]) * (soc - s[low]) / (s[high] - s[low])
    }

    /// Loads `Fixtures/cells/NAME.json` when `nameOrPath` is a plain name, else the file at the path.
    public static func load(_ nameOrPath: String) throws(HarnessError) -> CellModel {
        let file = try FixtureLocator.read(nameOrPath, folder: "cells", kind: "cell model")
        return try parse(file.data, file: file.path)
    }

    /// Parses a cell-model file.
    public static func parse(_ data: Data, file: String) throws(HarnessError) -> CellModel {
        var json = try StrictJSONObject.parse(data, file: file)
        let name = try json.string("name")
        let description = try json.string("description")
        let chemistry = try json.string("chemistry")
        let rated = try json.double("rated_capacity_ah", in: 0.001...10_000)
        let reference = try json.double("reference_capacity_ah", in: 0.001...10_000)
        let minimum = try json.double("voltage_min_v", in: 0.5...5)
        let maximum = try json.double("voltage_max_v", in: 0.5...5)
        let resistance = try json.double("series_resistance_mohm", in: 0.001...10_000) / 1_000
        _ = try json.object("provenance")
        var ocv = try json.object("ocv")
        let soc = try ocv.doubles("soc"), voltage = try ocv.doubles("voltage_v")
        try ocv.finish()
        try json.finish()
        guard minimum < maximum else { throw HarnessError("\(file): 'voltage_min_v' must be below 'voltage_max_v'") }
        guard soc.count >= 2, soc.count == voltage.count else {
            throw HarnessError("\(file): 'ocv': 'soc' and 'voltage_v' need the same number (at least 2) of points")
        }
        guard soc.first == 0, soc.last == 1 else { throw HarnessError("\(file): 'ocv.soc' must run from 0 to 1") }
        for i in 1..<soc.count where !(soc[i] > soc[i - 1] && voltage[i] > voltage[i - 1]) {
            throw HarnessError("\(file): 'ocv': SOC and voltage must increase strictly (point \(i))")
        }
        return CellModel(name: name, description: description, chemistry: chemistry, ratedCapacityAh: rated,
                         referenceCapacityAh: reference, minimumVoltage: minimum, maximumVoltage: maximum,
                         seriesResistanceOhm: resistance, ocvStateOfCharge: soc, ocvVoltage: voltage)
    }
}
