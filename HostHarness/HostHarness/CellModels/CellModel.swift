// A cell model: everything the virtual pack needs to behave like one cell type — open-circuit
// voltage with its temperature coefficient and hysteresis, a two-RC equivalent circuit whose
// elements depend on SOC and temperature, efficiency, self-discharge, thermal mass and ageing.
// Read from Fixtures/cells/NAME.json (format in Docs/virtual-pack.md).
import Foundation

/// How a cell type ages (semi-empirical; see Docs/virtual-pack.md for the equations).
public struct AgeingParameters: Equatable, Sendable {
    /// Relative capacity lost per equivalent full cycle at 100 % depth of discharge and 25 °C.
    public var cycleFadePerFullCycle: Double
    /// A half-cycle of depth d (fraction) costs d^exponent half-cycles' worth of 100 % fade.
    public var depthExponent: Double
    /// Relative capacity lost per √day at rest, 25 °C and 50 % SOC.
    public var calendarFadePerSqrtDay: Double
    /// Arrhenius activation energy for both kinds of fade (J/mol).
    public var activationEnergy: Double
    /// Relative resistance rise per relative capacity lost.
    public var resistanceGrowthPerFade: Double

    public init(cycleFadePerFullCycle: Double, depthExponent: Double, calendarFadePerSqrtDay: Double, activationEnergy: Double,
                resistanceGrowthPerFade: Double) {
        self.cycleFadePerFullCycle = cycleFadePerFullCycle
        self.depthExponent = depthExponent
        self.calendarFadePerSqrtDay = calendarFadePerSqrtDay
        self.activationEnergy = activationEnergy
        self.resistanceGrowthPerFade = resistanceGrowthPerFade
    }
}

/// The description of one cell type.
public struct CellModel: Equatable, Sendable {
    public var name: String
    public var description: String
    public var chemistry: String
    /// The datasheet capacity (what a BMS is configured with).
    public var ratedCapacityAh: Double
    /// The capacity between the OCV table's SOC 0 and 1 (what the cell really holds when new).
    public var referenceCapacityAh: Double
    public var minimumVoltage: Double
    public var maximumVoltage: Double
    /// Rest voltage against SOC at 25 °C, midway between the charge and discharge branches (V).
    public var openCircuitVoltage: Curve
    /// dOCV/dT against SOC (V/K); moves the OCV with temperature and gives the reversible heat.
    public var entropicCoefficient: Curve
    /// Half the gap between the charge and discharge rest-voltage branches (V), and how fast the
    /// hysteresis state follows the current (per unit of SOC moved; Plett's one-state model).
    public var hysteresisVoltage: Double
    public var hysteresisRate: Double
    /// The equivalent circuit: R0 in series with R1‖C1 and R2‖C2 (time constants τ = RC).
    public var seriesResistance: ArrheniusGrid      // Ω
    /// Exchange current of the charge-transfer (Butler–Volmer) overpotential (A).
    public var exchangeCurrent: ArrheniusGrid
    public var r1: ArrheniusGrid                    // Ω
    public var tau1: ArrheniusGrid                  // s
    public var r2: ArrheniusGrid                    // Ω
    public var tau2: ArrheniusGrid                  // s
    /// Charge stored per charge put in (≤ 1).
    public var coulombicEfficiency: Double
    /// Fraction of capacity lost per 30 days at rest at 25 °C (an internal leak, recoverable).
    public var selfDischargePerMonth: Double
    public var massKilograms: Double
    public var specificHeat: Double                 // J/(kg·K)
    public var ageing: AgeingParameters
    /// Where each number comes from (key: the parameter; value: the source and method).
    public var provenance: [String: String]
    /// How the circuit was identified and with what fit error (informative).
    public var identification: [String: String]
    /// The capacity a state of charge of 0…1 is measured against (Ah): SOC 1 is full, and each
    /// ampere-hour out lowers it by 1/this. Nil: the reference capacity (what the cell holds).
    /// A model sets it where the data it serves define SOC on another basis (the Panasonic data
    /// count against the rated 2.9 Ah).
    public var socBasisCapacityAh: Double? = nil

    /// The SOC basis in effect (Ah).
    public var socBasis: Double { socBasisCapacityAh ?? referenceCapacityAh }

    /// Loads `Fixtures/cells/NAME.json` when `nameOrPath` is a plain name, else the file at the path.
    public static func load(_ nameOrPath: String) throws(HarnessError) -> CellModel {
        let file = try FixtureLocator.read(nameOrPath, folder: "cells", kind: "cell model")
        return try parse(file.data, file: file.path)
    }

    /// Parses a cell-model file.
    public static func parse(_ data: Data, file: String) throws(HarnessError) -> CellModel {
        var json = try StrictJSONObject.parse(data, file: file)
        func curve(_ object: inout StrictJSONObject, _ xKey: String, _ yKey: String, scale: Double = 1) throws(HarnessError) -> Curve {
            let x = try object.doubles(xKey), y = try object.doubles(yKey).map { $0 * scale }
            guard let curve = Curve(x: x, y: y) else {
                throw HarnessError("\(file): '\(object.key(xKey))': needs at least 2 points, strictly increasing, as many as '\(yKey)'")
            }
            return curve
        }
        let name = try json.string("name")
        let description = try json.string("description")
        let chemistry = try json.string("chemistry")
        let rated = try json.double("rated_capacity_ah", in: 0.001...10_000)
        let reference = try json.double("reference_capacity_ah", in: 0.001...10_000)
        let minimum = try json.double("voltage_min_v", in: 0.5...5)
        let maximum = try json.double("voltage_max_v", in: 0.5...5)
        guard minimum < maximum else { throw HarnessError("\(file): 'voltage_min_v' must be below 'voltage_max_v'") }
        let mass = try json.double("mass_kg", in: 0.001...100)
        let heat = try json.double("specific_heat_j_per_kg_k", in: 100...5_000)
        let efficiency = try json.double("coulombic_efficiency", in: 0.9...1)
        let selfDischarge = try json.double("self_discharge_per_month", in: 0...0.5)

        var ocvObject = try json.object("ocv")
        let ocv = try curve(&ocvObject, "soc", "voltage_v")
        try ocvObject.finish()
        guard ocv.x.first == 0, ocv.x.last == 1 else { throw HarnessError("\(file): 'ocv.soc' must run from 0 to 1") }
        for i in 1..<ocv.y.count where !(ocv.y[i] > ocv.y[i - 1]) {
            throw HarnessError("\(file): 'ocv': SOC and voltage must increase strictly (point \(i))")
        }
        var entropicObject = try json.object("entropic")
        let entropic = try curve(&entropicObject, "soc", "mv_per_k", scale: 1e-3)
        try entropicObject.finish()
        var hysteresisObject = try json.object("hysteresis")
        let hysteresisVoltage = try hysteresisObject.double("max_mv", in: 0...200) / 1_000
        let hysteresisRate = try hysteresisObject.double("rate", in: 0...1_000)
        try hysteresisObject.finish()

        var circuit = try json.object("resistance")
        let soc = try circuit.doubles("soc"), temperatures = try circuit.doubles("temperature_c")
        func grid(_ key: String, scale: Double) throws(HarnessError) -> ArrheniusGrid {
            let rows = try circuit.doubleRows(key).map { $0.map { $0 * scale } }
            guard let grid = ArrheniusGrid(stateOfCharge: soc, temperatureCelsius: temperatures, values: rows) else {
                throw HarnessError("\(file): 'resistance.\(key)': needs one row of \(soc.count) positive values per temperature (\(temperatures.count)); 'soc' and 'temperature_c' must increase")
            }
            return grid
        }
        let r0 = try grid("r0_mohm", scale: 1e-3), i0 = try grid("i0_a", scale: 1)
        let r1 = try grid("r1_mohm", scale: 1e-3), tau1 = try grid("tau1_s", scale: 1)
        let r2 = try grid("r2_mohm", scale: 1e-3), tau2 = try grid("tau2_s", scale: 1)
        try circuit.finish()

        var ageingObject = try json.object("ageing")
        let ageing = AgeingParameters(
            cycleFadePerFullCycle: try ageingObject.double("cycle_fade_per_full_cycle", in: 0...0.1),
            depthExponent: try ageingObject.double("depth_exponent", in: 0.5...3),
            calendarFadePerSqrtDay: try ageingObject.double("calendar_fade_per_sqrt_day", in: 0...0.1),
            activationEnergy: try ageingObject.double("activation_energy_j_per_mol", in: 0...200_000),
            resistanceGrowthPerFade: try ageingObject.double("resistance_growth_per_fade", in: 0...20))
        try ageingObject.finish()
        let basis = json.has("soc_basis_capacity_ah") ? try json.double("soc_basis_capacity_ah", in: 0.001...10_000) : nil
        let provenance = try json.strings("provenance")
        let identification = try json.strings("identification")
        try json.finish()
        return CellModel(name: name, description: description, chemistry: chemistry, ratedCapacityAh: rated,
                         referenceCapacityAh: reference, minimumVoltage: minimum, maximumVoltage: maximum,
                         openCircuitVoltage: ocv, entropicCoefficient: entropic, hysteresisVoltage: hysteresisVoltage,
                         hysteresisRate: hysteresisRate, seriesResistance: r0, exchangeCurrent: i0, r1: r1, tau1: tau1, r2: r2, tau2: tau2,
                         coulombicEfficiency: efficiency, selfDischargePerMonth: selfDischarge, massKilograms: mass,
                         specificHeat: heat, ageing: ageing, provenance: provenance, identification: identification,
                         socBasisCapacityAh: basis)
    }

    /// The model as cell-model JSON, keys in a fixed order, numbers in plain decimal notation.
    public var json: String {
        func numbers(_ values: [Double], scale: Double = 1, decimals: Int) -> String {
            "[" + values.map { Fixed.text($0 * scale, decimals: decimals) }.joined(separator: ", ") + "]"
        }
        func rows(_ grid: ArrheniusGrid, scale: Double, decimals: Int) -> String {
            "[\n      " + grid.values.map { numbers($0, scale: scale, decimals: decimals) }.joined(separator: ",\n      ") + "\n    ]"
        }
        func text(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        func strings(_ dictionary: [String: String]) -> String {
            "{\n" + dictionary.keys.sorted().map { "    \(text($0)): \(text(dictionary[$0]!))" }.joined(separator: ",\n") + "\n  }"
        }
        let r = seriesResistance
        return """
        {
          "name": \(text(name)),
          "description": \(text(description)),
          "chemistry": \(text(chemistry)),
          "rated_capacity_ah": \(Fixed.text(ratedCapacityAh, decimals: 4)),
          "reference_capacity_ah": \(Fixed.text(referenceCapacityAh, decimals: 4)),\(socBasisCapacityAh.map { "\n  \"soc_basis_capacity_ah\": \(Fixed.text($0, decimals: 4))," } ?? "")
          "voltage_min_v": \(Fixed.text(minimumVoltage, decimals: 3)),
          "voltage_max_v": \(Fixed.text(maximumVoltage, decimals: 3)),
          "mass_kg": \(Fixed.text(massKilograms, decimals: 4)),
          "specific_heat_j_per_kg_k": \(Fixed.text(specificHeat, decimals: 1)),
          "coulombic_efficiency": \(Fixed.text(coulombicEfficiency, decimals: 5)),
          "self_discharge_per_month": \(Fixed.text(selfDischargePerMonth, decimals: 4)),
          "ocv": {
            "soc": \(numbers(openCircuitVoltage.x, decimals: 4)),
            "voltage_v": \(numbers(openCircuitVoltage.y, decimals: 5))
          },
          "entropic": {
            "soc": \(numbers(entropicCoefficient.x, decimals: 4)),
            "mv_per_k": \(numbers(entropicCoefficient.y, scale: 1_000, decimals: 4))
          },
          "hysteresis": { "max_mv": \(Fixed.text(hysteresisVoltage * 1_000, decimals: 2)), "rate": \(Fixed.text(hysteresisRate, decimals: 3)) },
          "resistance": {
            "soc": \(numbers(r.stateOfCharge, decimals: 4)),
            "temperature_c": \(numbers(r.temperatureCelsius, decimals: 2)),
            "r0_mohm": \(rows(seriesResistance, scale: 1_000, decimals: 3)),
            "i0_a": \(rows(exchangeCurrent, scale: 1, decimals: 3)),
            "r1_mohm": \(rows(r1, scale: 1_000, decimals: 3)),
            "tau1_s": \(rows(tau1, scale: 1, decimals: 3)),
            "r2_mohm": \(rows(r2, scale: 1_000, decimals: 3)),
            "tau2_s": \(rows(tau2, scale: 1, decimals: 2))
          },
          "ageing": {
            "cycle_fade_per_full_cycle": \(Fixed.text(ageing.cycleFadePerFullCycle, decimals: 7)),
            "depth_exponent": \(Fixed.text(ageing.depthExponent, decimals: 3)),
            "calendar_fade_per_sqrt_day": \(Fixed.text(ageing.calendarFadePerSqrtDay, decimals: 7)),
            "activation_energy_j_per_mol": \(Fixed.text(ageing.activationEnergy, decimals: 0)),
            "resistance_growth_per_fade": \(Fixed.text(ageing.resistanceGrowthPerFade, decimals: 3))
          },
          "provenance": \(strings(provenance)),
          "identification": \(strings(identification))
        }

        """
    }
}
