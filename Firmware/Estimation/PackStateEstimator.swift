// The pack's state estimation: one SOC filter per series element, the pack SOC for display and
// for limits, capacity and resistance per element (SOH), equivalent full cycles, remaining useful
// life, and the charge the pack can still deliver at a load (Docs/estimation.md).
import HAL

/// What the pack's estimation needs beyond the rest of the configuration.
public struct StateEstimationConfiguration: Sendable {
    /// One series element's model (a parallel group is modelled as one big cell) and the filter's tuning.
    public var cellModel: CellModelTable
    public var tuning: EstimatorTuning
    /// Capacity updates: two relaxed points (rests of at least `relaxation` s, on a part of the
    /// OCV curve steeper than the tuning's `anchorSlope`; the filter's RC voltages are taken off
    /// the rest voltage, so a few minutes suffice) at least `capacityMinimumSpan` of SOC apart,
    /// both inside `capacityTemperatureWindow` (°C); later updates are smoothed with weight
    /// `capacitySmoothing` per unit of span.
    public var relaxation: Float
    public var capacityMinimumSpan: Float
    public var capacityTemperatureWindow: ClosedRange<Float>
    public var capacitySmoothing: Float
    /// Resistance updates: a current change of at least `resistanceMinimumStepC` (C) between two
    /// updates (100 ms), whose model voltage step is at least `resistanceMinimumVoltageStep` (V, so the
    /// 1 mV resolution costs at most a few per cent). The first estimate is the mean of the first
    /// `resistanceFirstSteps` steps; later steps are smoothed with weight `resistanceSmoothing`.
    public var resistanceMinimumStepC: Float
    public var resistanceMinimumVoltageStep: Float
    public var resistanceSmoothing: Float
    public var resistanceFirstSteps: UInt16
    /// End of life: capacity (fraction of new) at which the remaining useful life runs out.
    public var endOfLifeCapacity: Float
    /// How far an element's capacity may be from the model's before it has been measured (cells
    /// age unevenly; a weak cell can hold a fifth less), and from its measurement after.
    public var newCapacityUncertainty: Float
    public var measuredCapacityUncertainty: Float
    /// The element each temperature sensor sits on (0-based, in sensor order). Each element is
    /// given its nearest valid sensor's temperature; empty: every element the sensors' mean.
    public var sensorElements: FixedList<16, UInt8>
    /// The pack's thermal chain, for each element's temperature between the sensors and the usable
    /// charge with heating (`none`: off).
    public var thermal: ThermalChain

    public init(cellModel: CellModelTable, tuning: EstimatorTuning = EstimatorTuning(), relaxation: Float = 420,
                capacityMinimumSpan: Float = 0.4, capacityTemperatureWindow: ClosedRange<Float> = 10...45,
                capacitySmoothing: Float = 0.2, resistanceMinimumStepC: Float = 0.3, resistanceMinimumVoltageStep: Float = 0.015,
                resistanceSmoothing: Float = 0.05, resistanceFirstSteps: UInt16 = 4, endOfLifeCapacity: Float = 0.8,
                newCapacityUncertainty: Float = 0.2, measuredCapacityUncertainty: Float = 0.02,
                sensorElements: FixedList<16, UInt8> = FixedList(filler: 0), thermal: ThermalChain = .none) {
        self.cellModel = cellModel
        self.tuning = tuning
        self.relaxation = relaxation
        self.capacityMinimumSpan = capacityMinimumSpan
        self.capacityTemperatureWindow = capacityTemperatureWindow
        self.capacitySmoothing = capacitySmoothing
        self.resistanceMinimumStepC = resistanceMinimumStepC
        self.resistanceMinimumVoltageStep = resistanceMinimumVoltageStep
        self.resistanceSmoothing = resistanceSmoothing
        self.resistanceFirstSteps = resistanceFirstSteps
        self.endOfLifeCapacity = endOfLifeCapacity
        self.newCapacityUncertainty = newCapacityUncertainty
        self.measuredCapacityUncertainty = measuredCapacityUncertainty
        self.sensorElements = sensorElements
        self.thermal = thermal
    }

    /// A placeholder for a pack without a cell model (never used to estimate).
    static func idle() -> StateEstimationConfiguration {
        let one = CellParameterGrid(constant: 1)
        return StateEstimationConfiguration(cellModel: CellModelTable(
            ocv: { 3 + $0 }, entropic: { _ in 0 }, r0: one, exchangeCurrent: one, r1: one, tau1: one, r2: one, tau2: one,
            hysteresisVoltage: 0, hysteresisRate: 0, capacityAh: 1, coulombicEfficiency: 1, minimumVoltage: 2.5, maximumVoltage: 4.2))
    }

    /// Sets this configuration in place to `idle()`'s (no 3 KB temporary: a board that keeps its
    /// loop in static storage builds the configuration there).
    mutating func setIdle() {
        cellModel.setIdle()
        setDefaults()
    }

    /// Sets every field but the cell model to the defaults of `init` (a test checks that they agree).
    mutating func setDefaults() {
        tuning = EstimatorTuning()
        relaxation = 420
        capacityMinimumSpan = 0.4
        capacityTemperatureWindow = 10...45
        capacitySmoothing = 0.2
        resistanceMinimumStepC = 0.3
        resistanceMinimumVoltageStep = 0.015
        resistanceSmoothing = 0.05
        resistanceFirstSteps = 4
        endOfLifeCapacity = 0.8
        newCapacityUncertainty = 0.2
        measuredCapacityUncertainty = 0.02
        sensorElements = FixedList(filler: 0)
        thermal = .none
    }

    @_addressableSelf func validate() throws(ConfigurationError) {
        try cellModel.validate()
        let t = tuning
        guard t.voltageNoise > 0, t.voltageNoisePerC >= 0, t.voltageNoisePerStepC >= 0, t.stepMemory > 0, t.innovationWindow > 0,
              t.currentNoise >= 0, t.currentGainError >= 0, t.rcVoltageWander >= 0, t.offsetWander >= 0, t.initialSOCSigma > 0,
              t.initialOffsetSigma >= 0, t.maximumCorrectionRate > 0, t.boundFloor > 0, t.boundGrowthPerThroughput >= 0,
              t.anchorRest > 0, t.anchorSlope >= 0,
              relaxation > 0, capacityMinimumSpan > 0.05, capacityMinimumSpan <= 1, capacitySmoothing > 0, capacitySmoothing <= 1,
              resistanceMinimumStepC > 0, resistanceMinimumVoltageStep > 0, resistanceSmoothing > 0, resistanceSmoothing <= 1, resistanceFirstSteps >= 1,
              endOfLifeCapacity > 0, endOfLifeCapacity < 1, newCapacityUncertainty >= 0, newCapacityUncertainty < 1,
              measuredCapacityUncertainty >= 0, measuredCapacityUncertainty < 1, thermal.isValid else { throw .estimatorTuningOutOfRange }
        for j in 0..<sensorElements.count where Int(sensorElements[j]) >= maximumCellCount { throw .estimatorTuningOutOfRange }
    }
}

/// One element's estimates. (The fields are ordered so that none needs padding: the 8-byte
/// counter first, the filter, which ends in a flag, the small fields after it, then the 4-byte
/// ones: 208 B on the Cortex-M, 8 B less than in declaration order of meaning.)
public struct ElementEstimate: Sendable {
    /// At the element's last turn: the counter (nC).
    var lastChargeNanocoulombs: Int64 = 0
    public var filter = CellEstimator()
    /// Whether the present rest has already given a relaxed point.
    var restUsed = false
    /// How many capacity measurements went into `capacityAh` (0: the model's, as new), how many
    /// resistance estimates were made (0: none yet), and the steps collected towards the first.
    public var capacityUpdates: UInt16 = 0
    public var resistanceUpdates: UInt16 = 0
    var firstSteps: UInt16 = 0
    /// Capacity (Ah).
    public var capacityAh: Float
    /// Resistance relative to the model at the same SOC and temperature (1 = as new; the model's
    /// until the first estimate).
    public var resistanceFactor: Float = 1
    var firstStepSum: Float = 0
    /// The charge through the element (in and out, As) since the last relaxed point (`anchor`).
    var throughputSinceAnchorAs: Float = 0
    /// Charge counted into the element (As; balancing taken out).
    var chargeAs: Float = 0
    /// At the element's last turn: its bled charge (mAs), the sampled current (A; NaN: none) and
    /// its voltage (mV; 0: none).
    var lastBled: Int32 = 0
    var previousCurrent: Float = .nan
    var previousMillivolts: Int32 = 0
    /// The element's temperature (°C): its nearest valid sensor's, else the sensors' mean, else the last.
    public var celsius: Float = 25
    /// The element's temperature by the pack's thermal chain (°C; NaN before the first turn): a
    /// sensor's reading (ahead by its lag) where a valid sensor sits on the element, between the
    /// sensors the chain's heat balance (`PackStateEstimator.advanceThermalChain`).
    public var chainCelsius: Float = .nan
    /// The voltage (V) and rest time (s) of the present rest's early sample (0: none yet).
    var earlyRestVoltage: Float = 0
    var earlyRestSeconds: Float = 0
    /// The SOC at which the element reaches the cell's minimum voltage under the pack's
    /// `cutoffCurrent`, and the temperature and resistance factor it was found for (factor 0:
    /// none; a factor is always positive). It depends on nothing else, so the usable charge
    /// searches again only when one of them moved (`PackStateEstimator.usableCharge(element:atDischarge:celsius:)`).
    var cutoff = (soc: Float(0), celsius: Float(0), factor: Float(0))
    /// The last relaxed point: its SOC from the rest voltage and the charge counted into the
    /// element until then (As, net of what its balancing resistor took); a NaN SOC: none yet (not
    /// an optional, whose flag would take a padded word).
    var anchor = (soc: Float.nan, chargeAs: Float(0))

    init(capacityAh: Float) { self.capacityAh = capacityAh }
}

// An element's usable charge, in place (`elements[i].usableCharge(…)`), like its turn below.
extension ElementEstimate {
    /// The usable charge (Ah) at a discharge `current` (A, > 0) and `celsius`: see
    /// `PackStateEstimator.usableCharge(element:atDischarge:celsius:)`, which keeps `current` the
    /// one `cutoff` was found for (this method does not check it).
    mutating func usableCharge(atDischarge current: Float, celsius t: Float, _ model: borrowing @_addressable CellModelTable) -> Float {
        // The RC grids' temperature rows, once for every evaluation below.
        let at = PackStateEstimator.LoadedVoltageLookup(model, celsius: t)
        let moved = t - cutoff.celsius
        if !(moved < 0.15 && moved > -0.15 && cutoff.factor == resistanceFactor) {
            var low: Float = -0.1, high: Float = 1.1
            for _ in 0..<24 {
                let mid = (low + high) / 2
                if PackStateEstimator.loadedVoltage(model, soc: mid, at: at, current: current, resistanceFactor: resistanceFactor)
                    > model.minimumVoltage {
                    high = mid
                } else {
                    low = mid
                }
            }
            cutoff = ((low + high) / 2, t, resistanceFactor)
        }
        // Already at or below the minimum at its own SOC: nothing is usable. (A model whose loaded
        // voltage dips as SOC rises — ncr18650pf's cold rows — can cross the minimum more than once;
        // the kept cut-off is one crossing, this check the one the element is at.)
        let soc = filter.soc
        guard PackStateEstimator.loadedVoltage(model, soc: soc, at: at, current: current, resistanceFactor: resistanceFactor)
            > model.minimumVoltage else { return 0 }
        return max(0, soc - cutoff.soc) * capacityAh
    }
}

// An element's own turn, in place (`elements[i].step(…)`): the pack's `step` reading and writing
// `elements[i].x` field by field copied the whole list per access in the host's optimised build.
extension ElementEstimate {
    /// The element's turn (its temperature assigned): its filter step, a resistance measurement
    /// when the current changed enough since its last turn, and a relaxed point at the end of a
    /// rest. True when the relaxed point measured the capacity (the pack's trend takes it).
    mutating func step(sampled: Float?, millivolts: Int32?, charge: Int64, bled: Int32, seconds dt: Float,
                       _ configuration: borrowing @_addressable StateEstimationConfiguration) -> Bool {
        let elementCoulombs = Float(approximating: charge &- lastChargeNanocoulombs) * 1e-9
            - Float(Int(bled &- lastBled)) / 1_000
        lastChargeNanocoulombs = charge
        lastBled = bled
        chargeAs += elementCoulombs
        throughputSinceAnchorAs += elementCoulombs < 0 ? -elementCoulombs : elementCoulombs
        if let current = sampled, let millivolts { measureResistance(current: current, millivolts: millivolts, configuration) }
        previousCurrent = sampled ?? .nan
        previousMillivolts = millivolts ?? 0
        let voltage = millivolts.map { Float(Int($0)) / 1_000 }
        filter.step(current: elementCoulombs / dt, voltage: voltage, celsius: celsius, seconds: dt, capacityAh: capacityAh,
                    capacityUncertainty: capacityUpdates > 0 ? configuration.measuredCapacityUncertainty : configuration.newCapacityUncertainty,
                    resistanceFactor: resistanceFactor, model: configuration.cellModel, tuning: configuration.tuning)
        let current = elementCoulombs / dt
        if (current < 0 ? -current : current) <= configuration.cellModel.capacityAh / 50 {
            if let voltage {
                let rest = filter.restSeconds
                if earlyRestVoltage == 0 && rest >= PackStateEstimator.earlyRestSample {
                    earlyRestVoltage = voltage
                    earlyRestSeconds = rest
                }
                return relaxedPoint(voltage: voltage, celsius: celsius, configuration)
            }
        } else {
            restUsed = false
            earlyRestVoltage = 0
        }
        return false
    }

    /// A change of the current since the element's last turn (100 ms: the load's ramps take a
    /// few hundred milliseconds) measures its resistance: ΔV/ΔI against the model's own
    /// instantaneous ΔV for the same change. The RC branches move little in 100 ms when their time
    /// constants are tens of seconds (Docs/estimation.md states the limit).
    mutating func measureResistance(current: Float, millivolts now: Int32, _ configuration: borrowing @_addressable StateEstimationConfiguration) {
        let before = previousCurrent
        guard before == before, previousMillivolts != 0 else { return }          // NaN: no sample
        let change = current - before
        guard (change < 0 ? -change : change) >= configuration.resistanceMinimumStepC * configuration.cellModel.capacityAh else { return }
        let soc = filter.soc
        let t = celsius
        let expected = configuration.cellModel.instantaneousOverpotential(current: current, soc: soc, celsius: t).volts
            - configuration.cellModel.instantaneousOverpotential(current: before, soc: soc, celsius: t).volts
        guard (expected < 0 ? -expected : expected) >= configuration.resistanceMinimumVoltageStep else { return }
        let factor = Float(Int(now &- previousMillivolts)) / 1_000 / expected
        guard factor > 0.2, factor < 10 else { return }      // not a step of this element (a glitch, a fault)
        if resistanceUpdates == 0 {
            firstSteps += 1
            firstStepSum += factor
            guard firstSteps >= configuration.resistanceFirstSteps else { return }
            resistanceFactor = firstStepSum / Float(Int(firstSteps))
        } else {
            resistanceFactor += configuration.resistanceSmoothing * (factor - resistanceFactor)
        }
        if resistanceUpdates < .max { resistanceUpdates += 1 }
    }

    /// At the end of a long enough rest: the SOC from the rest voltage, and a capacity measurement
    /// when the previous relaxed point is far enough away (then true).
    mutating func relaxedPoint(voltage: Float, celsius: Float, _ configuration: borrowing @_addressable StateEstimationConfiguration) -> Bool {
        // The rest voltage is corrected with the RC voltages, which need the element's resistance,
        // unless the rest has lasted as long as an anchor needs (the RC voltages have decayed).
        let rest = filter.restSeconds
        guard !restUsed, rest >= configuration.relaxation,
              resistanceUpdates > 0 || rest >= configuration.tuning.anchorRest,
              configuration.capacityTemperatureWindow.contains(celsius) else { return false }
        restUsed = true
        // The slow RC branch's remaining relaxation, from the rest's own voltage: with an early
        // sample the exponential (the model's τ2) is extrapolated to its end; without one (a
        // long rest) the filter's RC voltages are taken off.
        var relaxed = voltage - filter.v1 - filter.v2
        let early = earlyRestVoltage, gap = rest - earlyRestSeconds
        if early != 0 && gap >= 60 && rest < configuration.tuning.anchorRest {
            let decay = FloatMath.exp(-gap / max(configuration.cellModel.tau2.value(soc: filter.soc, celsius: celsius), 1))
            relaxed = voltage - filter.v1 + (voltage - early) * decay / (1 - decay)
        }
        relaxed -= configuration.cellModel.hysteresisVoltage * filter.hysteresis
        let soc = configuration.cellModel.stateOfCharge(openCircuitVoltage: relaxed, celsius: celsius)
        guard configuration.cellModel.openCircuitVoltage(soc: soc, celsius: celsius).slope >= configuration.tuning.anchorSlope else { return false }
        let point = (soc: soc, chargeAs: chargeAs)
        var measured = false
        if anchor.soc.isFinite {
            let span = point.soc - anchor.soc
            let spanMagnitude = span < 0 ? -span : span
            if spanMagnitude >= configuration.capacityMinimumSpan {
                let measuredAh = (point.chargeAs - anchor.chargeAs) / span / 3_600
                // A capacity outside half to 1.5 times new is a measurement gone wrong, not a cell.
                let newAh = configuration.cellModel.capacityAh
                if measuredAh > 0.5 * newAh && measuredAh < 1.5 * newAh {
                    if capacityUpdates == 0 {
                        capacityAh = measuredAh
                        filter.forgetOffset(tuning: configuration.tuning)
                    } else {
                        let weight = min(1, configuration.capacitySmoothing * spanMagnitude)
                        capacityAh += weight * (measuredAh - capacityAh)
                    }
                    if capacityUpdates < .max { capacityUpdates += 1 }
                    measured = true
                }
            } else if throughputSinceAnchorAs <= 2 * 3_600 * capacityAh {
                return false      // too close to the old point: keep it (its charge count is still trusted)
            }
        }
        // This point becomes the anchor: the first, after a measurement, or when the old one is
        // too far back in charge counted for its count to be trusted.
        anchor = point
        throughputSinceAnchorAs = 0
        return measured
    }
}

/// The estimation for all elements.
public struct PackStateEstimator: Sendable {
    public internal(set) var elements: PerCell<ElementEstimate>
    /// The pack SOC shown to the rider (fraction): 0 when the weakest element is empty, 1 when the
    /// strongest is full, `min / (min + 1 − max)` between (continuous when the current reverses).
    public private(set) var stateOfCharge: Float? = nil
    /// Its error bound (fraction).
    public private(set) var bound: Float? = nil
    /// The SOC of the weakest and strongest element (fractions), for the discharge and charge limits.
    public private(set) var lowestStateOfCharge: Float? = nil
    public private(set) var highestStateOfCharge: Float? = nil
    /// Equivalent full cycles: the discharged charge over the model's capacity.
    public internal(set) var equivalentFullCycles: Float = 0
    /// The usable charge of the latest complete survey (`surveyUsableCharge`: one element per
    /// call, the pack's figure once every element is done); nil before the first survey ends, or
    /// when the filters had not started during it.
    public private(set) var surveyedUsableCharge: (ampereHours: Float, element: Int)? = nil
    /// The survey in progress: the smallest usable charge so far, and whether every element so
    /// far had a started filter.
    var survey: (ampereHours: Float, element: Int)? = nil
    var surveyStarted = false
    /// The discharge current (A) of every element's `cutoff`.
    var cutoffCurrent: Float = .nan
    /// The counter reading (nC) at the last call, whether the filters have started, and whose turn is next.
    var lastChargeNanocoulombs: Int64 = 0
    public private(set) var isStarted = false
    var turn = 0
    /// Capacity trend for the remaining useful life: least-squares sums over (EFC, mean SOH).
    var trend = (n: Float(0), x: Float(0), y: Float(0), xx: Float(0), xy: Float(0))
    /// The temperature used when no sensor is valid: the last valid mean (°C).
    public private(set) var heldCelsius: Float = 25
    /// The air temperature the thermal chain cools towards (°C; NaN before a sensor was read):
    /// `estimateAmbient`.
    public internal(set) var ambientCelsius: Float = .nan
    /// The configuration (held here so the per-tick calls pass nothing large), and whether the
    /// pack has one (without, the estimator stays idle and every figure stays nil).
    public private(set) var configuration: StateEstimationConfiguration
    public private(set) var isEnabled: Bool

    /// An estimator for `cellCount` elements; idle when `configuration` is nil.
    public init(cellCount: Int, configuration given: StateEstimationConfiguration?) {
        let c = given ?? StateEstimationConfiguration.idle()
        configuration = c
        isEnabled = given != nil
        elements = PerCell(repeating: ElementEstimate(capacityAh: c.cellModel.capacityAh), count: cellCount)
    }

    /// Sets this estimator up in place as `init(cellCount:configuration:)` does: when `enabled`,
    /// with the configuration `build` writes over `StateEstimationConfiguration.idle()`'s values;
    /// otherwise idle (no cell model). For a loop in static storage: nothing large is built in a
    /// stack frame. The caller validates the configuration.
    mutating func setUp(cellCount: Int, enabled: Bool, estimation build: (inout StateEstimationConfiguration) -> Void) {
        configuration.setIdle()
        if enabled { build(&configuration) }
        isEnabled = enabled
        elements.removeAll()
        for _ in 0..<cellCount { elements.append(ElementEstimate(capacityAh: configuration.cellModel.capacityAh)) }
        stateOfCharge = nil
        bound = nil
        lowestStateOfCharge = nil
        highestStateOfCharge = nil
        equivalentFullCycles = 0
        surveyedUsableCharge = nil
        survey = nil
        surveyStarted = false
        cutoffCurrent = .nan
        lastChargeNanocoulombs = 0
        ambientCelsius = .nan
        isStarted = false
        turn = 0
        trend = (0, 0, 0, 0, 0)
        heldCelsius = 25
    }

    // Integer → Float conversions go through Int: the generic one walks the integer's words
    // (an Array) on 32-bit Embedded targets, which `-no-allocations` rejects.

    /// How many calls of `update` make one filter step of an element: the elements take turns,
    /// so a call (every 10 ms) steps a tenth of them and each steps every 100 ms.
    public static let turns = 10
    /// When in a rest the early voltage sample is taken (s): the fast RC branch has decayed.
    static let earlyRestSample: Float = 120

    /// Every 10 ms: the next tenth of the elements (each every 100 ms, with the mean current of
    /// its own last 100 ms, its latest voltage and the mean temperature); then the pack figures
    /// and, at the end of a long enough rest, the capacity. Spreading the elements over the 10 ms
    /// slots keeps the work per slot small (Docs/estimation.md has the cost).
    mutating func update(measurements m: inout Measurements, temperatures: PackStatistics<DeciCelsius>?, counter: CoulombCounter,
                         bled: inout PerCell<Int32>, seconds period: Float) {
        guard isEnabled else { return }
        if let t = temperatures {
            heldCelsius = Float(Int(t.mean.rawValue)) / 10
            estimateAmbient(coolest: Float(Int(t.minimum.rawValue)) / 10)
        }
        let charge = counter.netChargeNanocoulombs
        let sampled = m.pack.current.validValue.map { Float(Int($0.rawValue)) / 1_000 }
        if !isStarted {
            // Start each filter from its voltage at the present current, all at once.
            guard let current = sampled else { return }
            for i in 0..<elements.count {
                guard let mv = m.cellVoltage(i).validValue else { return }
                assignTemperature(i, &m)
                elements[i].filter.start(voltage: Float(Int(mv.rawValue)) / 1_000, current: current, celsius: elements[i].celsius,
                                         model: configuration.cellModel, tuning: configuration.tuning)
                elements[i].lastChargeNanocoulombs = charge
                elements[i].lastBled = bled[i]
            }
            lastChargeNanocoulombs = charge
            isStarted = true
            refreshPack()
            return
        }
        let packCoulombs = Float(approximating: charge &- lastChargeNanocoulombs) * 1e-9
        lastChargeNanocoulombs = charge
        if packCoulombs < 0 { equivalentFullCycles += -packCoulombs / (3_600 * configuration.cellModel.capacityAh) }
        let dt = period * Float(PackStateEstimator.turns)
        var i = turn
        while i < elements.count {
            step(i, measurements: &m, sampled: sampled, charge: charge, bled: bled[i], seconds: dt)
            i += PackStateEstimator.turns
        }
        turn = turn + 1 == PackStateEstimator.turns ? 0 : turn + 1
        refreshPack()
    }

    /// Gives element `i` the temperature of its nearest sensor with a valid reading (by position
    /// in the string), or the sensors' mean (`heldCelsius`) when the sensors' places are not known
    /// or none is valid. Done on the element's turn: nothing reads it in between. True when that
    /// sensor sits on the element itself.
    @discardableResult mutating func assignTemperature(_ i: Int, _ m: inout Measurements) -> Bool {
        let places = configuration.sensorElements
        var best = -1, bestDistance = Int.max
        for j in 0..<min(places.count, m.cells.temperatures.count) where m.temperature(j).validValue != nil {
            let d = Int(places[j]) - i
            let distance = d < 0 ? -d : d
            if distance < bestDistance { best = j; bestDistance = distance }
        }
        if best >= 0, let reading = m.temperature(best).validValue {
            elements[i].celsius = Float(Int(reading.rawValue)) / 10
            return bestDistance == 0
        }
        elements[i].celsius = heldCelsius
        return false
    }

    /// Element `i`'s turn: its temperature, then its own step (`ElementEstimate.step`) in place.
    mutating func step(_ i: Int, measurements m: inout Measurements, sampled: Float?, charge: Int64, bled: Int32, seconds dt: Float) {
        let sensed = assignTemperature(i, &m)
        let millivolts = m.cellVoltage(i).validValue?.rawValue
        if elements[i].step(sampled: sampled, millivolts: millivolts, charge: charge, bled: bled, seconds: dt, configuration) {
            recordTrend()
        }
        advanceThermalChain(i, sensed: sensed, seconds: dt)
    }

    /// A relaxed point of element `i` (`ElementEstimate.relaxedPoint`), with the capacity trend
    /// when it measured the capacity.
    mutating func relaxedPoint(_ i: Int, voltage: Float, celsius: Float) {
        if elements[i].relaxedPoint(voltage: voltage, celsius: celsius, configuration) { recordTrend() }
    }

    /// Resumes element `i` from a checkpoint (Persistence): what was learned of it (capacity,
    /// resistance) and, when `soc` is a number, its filter. Without a SOC (not trusted, or a
    /// checkpoint written before the filter had started) the element starts from its voltage as
    /// on a first start. The pack counts as started once every element's filter is resumed.
    mutating func resume(element i: Int, soc: Float, displayed: Float, socVariance: Float, currentOffset: Float, drift: Float,
                         hysteresis: Float, capacityAh: Float, resistanceFactor: Float, updates: UInt32) {
        if capacityAh.isFinite && capacityAh > 0 {
            elements[i].capacityAh = capacityAh
            elements[i].capacityUpdates = UInt16(truncatingIfNeeded: updates &>> 16)
        }
        if resistanceFactor.isFinite && resistanceFactor > 0 {
            elements[i].resistanceFactor = resistanceFactor
            elements[i].resistanceUpdates = UInt16(truncatingIfNeeded: updates)
        }
        guard soc.isFinite, displayed.isFinite, socVariance.isFinite else { return }
        elements[i].filter.resume(soc: soc, displayed: displayed, socVariance: socVariance,
                                  currentOffset: currentOffset.isFinite ? currentOffset : 0, drift: drift.isFinite ? drift : 0,
                                  hysteresis: hysteresis.isFinite ? hysteresis : 0, tuning: configuration.tuning)
        for k in 0..<elements.count where !elements[k].filter.isStarted { return }
        isStarted = true
        refreshPack()
    }

    /// The capacity trend of a checkpoint (Persistence).
    mutating func restoreTrend(_ t: (Float, Float, Float, Float, Float)) {
        guard t.0.isFinite, t.1.isFinite, t.2.isFinite, t.3.isFinite, t.4.isFinite else { return }
        trend = (t.0, t.1, t.2, t.3, t.4)
    }

    /// Adds the present mean capacity SOH to the trend the remaining useful life extrapolates.
    mutating func recordTrend() {
        let y = meanCapacityHealth(), x = equivalentFullCycles
        trend.n += 1; trend.x += x; trend.y += y; trend.xx += x * x; trend.xy += x * y
    }

    mutating func refreshPack() {
        guard elements.count > 0 else { return }
        var lowest: Float = 2, highest: Float = -2, widest: Float = 0
        for i in 0..<elements.count {
            let f = elements.inPlace(i).filter
            lowest = min(lowest, f.displayed)
            highest = max(highest, f.displayed)
            widest = max(widest, f.bound(configuration.tuning))
        }
        let low = min(max(lowest, 0), 1), high = min(max(highest, 0), 1)
        lowestStateOfCharge = low
        highestStateOfCharge = high
        let window = low + 1 - high
        stateOfCharge = window > 0 ? low / window : low
        bound = widest
    }

    // The queries below read the estimator in place: the loop's own calls (the 1 s CAN frames)
    // use the `mutating` forms, because a getter or `func` on this 9 KB struct copied it into
    // the caller's frame on the Cortex-M (Docs/firmware-budget.md). The public forms are for
    // readers outside the loop (the harness) and work on a copy.

    /// Capacity SOH (fraction of new) of the weakest element.
    public var capacityHealth: Float {
        var copy = self
        return copy.capacityHealthInPlace()
    }

    mutating func capacityHealthInPlace() -> Float {
        let newAh = configuration.cellModel.capacityAh
        var lowest: Float = 2
        for i in 0..<elements.count { lowest = min(lowest, elements[i].capacityAh / newAh) }
        return elements.count > 0 ? lowest : 1
    }

    /// The mean capacity SOH over elements.
    mutating func meanCapacityHealth() -> Float {
        let newAh = configuration.cellModel.capacityAh
        var sum: Float = 0
        for i in 0..<elements.count { sum += elements[i].capacityAh / newAh }
        return elements.count > 0 ? sum / Float(elements.count) : 1
    }

    /// Resistance SOH: the highest element's factor (1 = as new).
    public var resistanceHealth: Float {
        var copy = self
        return copy.resistanceHealthInPlace()
    }

    mutating func resistanceHealthInPlace() -> Float {
        var highest: Float = 0
        for i in 0..<elements.count { highest = max(highest, elements[i].resistanceFactor) }
        return highest
    }

    /// Remaining useful life in equivalent full cycles: where the straight line through the
    /// capacity SOH against cycles reaches the end of life; nil until two measurements show a fade.
    public var remainingCycles: Float? {
        let c = configuration
        let t = trend
        guard t.n >= 2 else { return nil }
        let d = t.n * t.xx - t.x * t.x
        guard d > 0 else { return nil }
        let slope = (t.n * t.xy - t.x * t.y) / d
        guard slope < 0 else { return nil }
        let intercept = (t.y - slope * t.x) / t.n
        let end = (c.endOfLifeCapacity - intercept) / slope
        return max(0, end - equivalentFullCycles)
    }

    /// The charge (Ah) the pack can still deliver at a constant discharge `current` (A, > 0)
    /// before its weakest element's terminal voltage reaches the cell's minimum, with the
    /// element's estimated resistance (the RC branches at their steady state), and which
    /// element that is. Nil before the filters start.
    public func usableCharge(atDischarge current: Float, celsius: Float? = nil) -> (ampereHours: Float, element: Int)? {
        var copy = self
        return copy.usableChargeInPlace(atDischarge: current, celsius: celsius)
    }

    mutating func usableChargeInPlace(atDischarge current: Float, celsius: Float? = nil) -> (ampereHours: Float, element: Int)? {
        guard elements.count > 0, elements[0].filter.isStarted else { return nil }
        var best: (ampereHours: Float, element: Int)? = nil
        for i in 0..<elements.count {
            let ampereHours = usableCharge(element: i, atDischarge: current, celsius: celsius)
            if let b = best, b.ampereHours <= ampereHours { continue }
            best = (ampereHours, i)
        }
        return best
    }

    /// One step of a survey of the usable charge at a discharge `current` (A, > 0), for a caller
    /// that cannot afford every element at once (the loop: a 24-step bisection per element): element
    /// `i`'s usable charge joins the survey that `i == 0` begins; after the last element the
    /// survey's result — what `usableCharge(atDischarge:)` gives when every element's state is
    /// the one it had at its step — becomes `surveyedUsableCharge`.
    mutating func surveyUsableCharge(element i: Int, atDischarge current: Float) {
        guard i >= 0, i < elements.count else { return }
        if i == 0 {
            survey = nil
            surveyStarted = true
        }
        if surveyStarted && elements[0].filter.isStarted {
            let ampereHours = usableCharge(element: i, atDischarge: current, celsius: nil)
            if let b = survey, b.ampereHours <= ampereHours {
                // an earlier element is as weak: it stays the one named (as in `usableCharge`)
            } else { survey = (ampereHours, i) }
        } else {
            surveyStarted = false
        }
        if i == elements.count - 1 { surveyedUsableCharge = surveyStarted ? survey : nil }
    }

    /// Element `i`'s usable charge (Ah) at a discharge `current` (A, > 0): the charge between its
    /// SOC and the SOC at which its loaded voltage reaches the cell's minimum, at its capacity.
    /// That SOC (a 24-step bisection over −0.1…1.1, taking the loaded voltage to rise with SOC) depends
    /// only on the current, the temperature and the resistance factor: the element keeps it and
    /// searches again when the current or the factor changed or the temperature moved by 0.15 K
    /// or more (a sensor's last digit flickering does not count; the figure may lag the
    /// temperature by that much: Docs/estimation.md). Nothing is usable when the loaded voltage at
    /// the element's own SOC is already at or below the minimum.
    mutating func usableCharge(element i: Int, atDischarge current: Float, celsius: Float?) -> Float {
        if current != cutoffCurrent {
            cutoffCurrent = current
            for j in 0..<elements.count { elements[j].cutoff.factor = 0 }
        }
        return elements[i].usableCharge(atDischarge: current, celsius: celsius ?? elements.inPlace(i).celsius, configuration.cellModel)
    }

    /// The temperature's part of an element's loaded voltage: the rows of the RC grids it reads.
    struct LoadedVoltageLookup {
        var celsius: Float
        var r1: (row: Int, weight: Float), r2: (row: Int, weight: Float)

        @inline(__always) init(_ model: borrowing @_addressable CellModelTable, celsius t: Float) {
            celsius = t
            r1 = model.r1.row(celsius: t)
            r2 = model.r2.row(celsius: t)
        }
    }

    /// An element's terminal voltage (V) at `soc` under a steady discharge `current` (A, > 0):
    /// the OCV less the instantaneous and the settled RC overpotentials, scaled by its resistance
    /// (at the temperature `at` was looked up for). The instantaneous part is the estimator's own
    /// `instantaneousOverpotential` (one copy of that code in the image).
    static func loadedVoltage(_ model: borrowing @_addressable CellModelTable, soc: Float, at: LoadedVoltageLookup, current: Float,
                              resistanceFactor: Float) -> Float {
        let r = (model.r1.value(soc: soc, at: at.r1) + model.r2.value(soc: soc, at: at.r2)) * current
        let eta = model.instantaneousOverpotential(current: -current, soc: soc, celsius: at.celsius).volts
        return model.openCircuitVoltage(soc: soc, celsius: at.celsius).voltage + resistanceFactor * (eta - r) - model.hysteresisVoltage
    }
}
