// The virtual pack: series elements (a cell or a parallel group) with true electrical, thermal
// and ageing state, advanced only when told, and sensed the way a front end would sense it.
import HAL

/// The true state of the pack. Current is positive when charging.
public struct VirtualPack: Sendable {
    /// What the 1 ms step touches for one element, kept small and contiguous so the step runs in
    /// place (no copies of the larger `Element`).
    public struct HotElement: Sendable {
        public var circuit: CircuitState
        var coefficients: CircuitCoefficients
        /// Terminal voltage at the element's sense taps, contacts included (V).
        public var terminalVoltage: Double = 0
        /// Heat since the last thermal step (J), internal leak (A), short conductance (S),
        /// dOCV/dT (V/K) and temperature (K) for the entropic heat.
        var heat: Double = 0
        var leakCurrent: Double = 0
        var shortConductance: Double = 0
        var entropic: Double = 0
        var kelvin: Double = 298.15
        /// The current the charge-transfer overpotential was last computed for, and its value:
        /// reused while the current holds (most of a drive cycle), recomputed when it changes.
        var chargeTransferCurrent: Double = .nan
        var chargeTransfer: Double = 0
        /// SOC, temperature (°C) and resistance factor the coefficients were computed at.
        var coefficientsAt = (soc: Double.nan, celsius: Double.nan, factor: Double.nan, capacity: Double.nan)
    }

    /// One series element: `parallelCount` cells in parallel, treated as one big cell (the slowly
    /// changing state; the fast state is in `hot`).
    public struct Element: Sendable {
        /// Lumped temperature (°C).
        public var temperature: Double
        /// Present capacity (As): as built × ageing × faults.
        public var capacityAmpereSeconds: Double
        /// Capacity as built (As).
        public let builtCapacityAmpereSeconds: Double
        /// Resistance multiplier: spread × ageing × faults.
        public var resistanceFactor: Double
        let builtResistanceFactor: Double
        let selfDischargeCurrent: Double
        /// Relative capacity lost to calendar and cycle ageing.
        public var calendarFade: Double = 0
        public var cycleFade: Double = 0
        // Fault state (refreshed every 100 ms from the schedule).
        var shortConductance: Double = 0
        var extraHeat: Double = 0
        /// The balancing bleed resistor across the element, when switched on (S; its heat goes
        /// to the board, not the cell).
        var bleedConductance: Double = 0
        var faultResistanceFactor: Double = 1
        var faultCapacityFactor: Double = 1
        // Cycle counting.
        var lastExtreme: Double              // SOC at the end of the last half-cycle
        var runningExtreme: Double           // furthest SOC of the present half-cycle
        var direction: Double = 0            // +1 charging, −1 discharging, 0 unknown
    }

    public let design: PackDesign
    public private(set) var elements: [Element]
    public private(set) var hot: [HotElement]
    /// The current flowing now (A, positive = charging) and the time since the start.
    public private(set) var current: Double = 0
    public private(set) var time = Instant.origin
    /// The exact net charge that has flowed through the terminals (As), for checking counters.
    public private(set) var netChargeAmpereSeconds: Double = 0
    /// Energy bookkeeping (J): in through the terminals, into the cells' open-circuit voltage
    /// (stored), and dissipated as heat (cells, contacts, busbars). In = stored + heat.
    public private(set) var energyThroughTerminals: Double = 0
    public private(set) var energyStored: Double = 0
    public private(set) var energyDissipated: Double = 0
    /// Energy (J) and charge per element (As) burnt in the balancing resistors.
    public private(set) var energyBled: Double = 0
    public private(set) var chargeBled: [Double] = []
    var bleeding = false
    /// Stack voltage including busbars (V), and the DC link on the load side of the contactors (V).
    public private(set) var packVoltage: Double = 0
    public private(set) var linkVoltage: Double = 0
    /// Faults scheduled for this pack, and the labels of those active now.
    public let faults: [ScheduledFault]
    public private(set) var activeFaults: [String] = []
    /// Heat dissipated in each busbar since the last thermal step (J; the busbars carry the same
    /// current, so one figure serves all `busbarCount`).
    var busbarHeat = 0.0
    let busbarCount: Int
    let ocv: UniformTable
    var sinceThermalStep: Int64 = 0
    /// The time step the element coefficients are computed for (s).
    var step = 0.001
    /// The link's decay factors over one step of `seconds` (s): towards the pack through the
    /// precharge resistor, and through the bleed resistor when open (computed once per step length).
    var linkDecay = (seconds: -1.0, precharge: 1.0, open: 1.0)
    var sinceAgeingStep: Int64 = 0
    static let thermalStep: Int64 = 100_000      // µs
    static let ageingStep: Int64 = 1_000_000     // µs

    /// Builds the pack, drawing the cell-to-cell spread from `random`.
    public init(design d: PackDesign, faults: [ScheduledFault] = [], random: inout SplitMix64) {
        design = d
        self.faults = faults
        ocv = UniformTable(points: 4_001) { d.cellModel.openCircuitVoltage[$0] }
        let model = d.cellModel
        let capacity = model.referenceCapacityAh * 3_600 * Double(d.parallelCount)
        let ambient = d.thermal.ambient.celsius(at: 0)
        var elements: [Element] = [], hot: [HotElement] = []
        for index in 0..<d.seriesCount {
            let offset = index < d.stateOfChargeOffsets.count ? d.stateOfChargeOffsets[index] : 0
            let soc = min(1, max(0, d.initialStateOfCharge + offset + d.stateOfChargeSpread * random.standardNormalish()))
            let q = capacity * (1 + d.capacitySpread * random.standardNormalish())
            let r = (1 + d.resistanceSpread * random.standardNormalish()) / Double(d.parallelCount)
            let leak = model.selfDischargePerMonth * q / (30 * 86_400) * max(0, 1 + d.selfDischargeSpread * random.standardNormalish())
            let c = CircuitCoefficients(model: model, stateOfCharge: soc, celsius: ambient, capacityAmpereSeconds: q,
                                        resistanceFactor: r, step: 0.001)
            elements.append(Element(temperature: ambient, capacityAmpereSeconds: q, builtCapacityAmpereSeconds: q, resistanceFactor: r,
                                    builtResistanceFactor: r, selfDischargeCurrent: leak, lastExtreme: soc, runningExtreme: soc))
            hot.append(HotElement(circuit: CircuitState(stateOfCharge: soc), coefficients: c))
        }
        self.elements = elements
        self.hot = hot
        chargeBled = Array(repeating: 0, count: hot.count)
        busbarCount = max(0, d.seriesCount - 1)
        refreshSlowState()
        refreshVoltages()
        linkVoltage = 0
    }

    // MARK: - Time

    /// Lets `current` (A, positive = charging) flow through the terminals for `dt` (1 ms in a
    /// simulation; any step up to 100 ms works, the RC factors follow the step).
    public mutating func advance(current: Double, dt: Microseconds, linkCurrentPath: LinkPath) {
        let seconds = Double(dt.rawValue) * 1e-6
        if seconds != step {
            step = seconds
            for i in hot.indices { hot[i].coefficients.setStep(seconds) }
        }
        self.current = current
        netChargeAmpereSeconds += current * seconds
        time = time + dt
        let contact = design.contactResistance, contactDrop = contact * current
        var stack = 0.0, open = 0.0
        let scale = ocv.scale
        Asinh.table.withUnsafeBufferPointer { asinh in
          ocv.values.withUnsafeBufferPointer { table in
            hot.withUnsafeMutableBufferPointer { elements in
              for i in elements.indices {
                let c = elements[i].coefficients
                elements[i].circuit.advance(current: current, leak: elements[i].leakCurrent, c)
                if current != elements[i].chargeTransferCurrent {
                    elements[i].chargeTransferCurrent = current
                    elements[i].chargeTransfer = CircuitState.instantaneousOverpotential(current: current, c, asinh: asinh)
                }
                let state = elements[i].circuit
                let overpotential = elements[i].chargeTransfer + state.v1 + state.v2
                let v = UniformTable.lookup(state.stateOfCharge, scale: scale, table) + c.ocvShift
                    + c.hysteresisVoltage * state.hysteresis + overpotential
                // Irreversible heat I·(v − U), entropic heat I·T·dU/dT, the contacts' I²R and the
                // internal short's V²·G.
                let g = elements[i].shortConductance
                if current != 0 || g != 0 {
                    elements[i].heat += (current * (overpotential + elements[i].kelvin * elements[i].entropic + contactDrop)
                                         + g * v * v) * seconds
                }
                elements[i].terminalVoltage = v + contactDrop
                stack += v + contactDrop
                open += v - overpotential
              }
            }
          }
        }
        let busbar = design.busbarResistance * current * current * seconds
        busbarHeat += busbar
        // Bookkeeping: every joule through the terminals is stored at the open-circuit voltage
        // or dissipated (overpotentials, contacts, busbars); leaks and the entropic term are
        // accounted in the stored energy's drift and the heat.
        energyStored += open * current * seconds
        energyDissipated += (stack - open) * current * seconds + Double(busbarCount) * busbar
        packVoltage = stack + Double(busbarCount) * design.busbarResistance * current
        energyThroughTerminals += packVoltage * current * seconds
        advanceLink(path: linkCurrentPath, seconds: seconds)

        sinceThermalStep += dt.rawValue
        if sinceThermalStep >= VirtualPack.thermalStep {
            if bleeding { accountBleed(seconds: Double(sinceThermalStep) * 1e-6) }
            thermalStep(seconds: Double(sinceThermalStep) * 1e-6)
            sinceThermalStep = 0
            refreshSlowState()
        }
        sinceAgeingStep += dt.rawValue
        if sinceAgeingStep >= VirtualPack.ageingStep {
            ageingStep(seconds: Double(sinceAgeingStep) * 1e-6)
            sinceAgeingStep = 0
        }
    }

    /// How the load side connects to the stack.
    public enum LinkPath: Sendable {
        /// Main contactors closed: the link follows the pack.
        case closed
        /// Only the precharge path: the link charges through the precharge resistor.
        case precharging
        /// Open: the link bleeds down.
        case open
    }

    /// The current the precharge path draws from the pack now (A, negative: out of the pack).
    public var prechargeCurrent: Double {
        -(packVoltage - linkVoltage) / design.link.prechargeResistance
    }

    /// Moves the link's voltage over one step of `seconds` along `path`.
    mutating func advanceLink(path: LinkPath, seconds: Double) {
        if seconds != linkDecay.seconds {
            let link = design.link
            linkDecay = (seconds, exp(-seconds / (link.prechargeResistance * link.capacitance)),
                         exp(-seconds / (link.bleedResistance * link.capacitance)))
        }
        switch path {
        case .closed:
            linkVoltage = packVoltage
        case .precharging:
            linkVoltage = packVoltage + (linkVoltage - packVoltage) * linkDecay.precharge
        case .open:
            linkVoltage *= linkDecay.open
        }
    }

    /// Recomputes the element voltages for the present state (after construction or a fault).
    mutating func refreshVoltages() {
        for i in hot.indices {
            let h = hot[i]
            hot[i].terminalVoltage = h.circuit.terminalVoltage(current: current, openCircuitVoltage: ocv[h.circuit.stateOfCharge],
                                                               h.coefficients) + design.contactResistance * current
        }
        packVoltage = hot.reduce(0) { $0 + $1.terminalVoltage } + Double(busbarCount) * design.busbarResistance * current
    }

    // MARK: - Slow state: faults, circuit coefficients (every 100 ms)

    mutating func refreshSlowState() {
        for i in elements.indices {
            hot[i].shortConductance = 0
            elements[i].extraHeat = 0
            elements[i].faultResistanceFactor = 1
            elements[i].faultCapacityFactor = 1
        }
        var labels: [String] = []
        for fault in faults {
            let s = fault.severity(at: time)
            guard s > 0 else { continue }
            labels.append(fault.label)
            switch fault.kind {
            case .internalShort(let c, let ohms) where c < elements.count: hot[c].shortConductance = 1 / ohms
            case .resistanceRise(let c, let factor) where c < elements.count: elements[c].faultResistanceFactor *= 1 + (factor - 1) * s
            case .capacityFade(let c, let fraction) where c < elements.count: elements[c].faultCapacityFactor *= 1 - fraction * s
            case .localHeating(let c, let watts) where c < elements.count: elements[c].extraHeat += watts * s
            default: break
            }
        }
        activeFaults = labels
        let model = design.cellModel
        for i in elements.indices {
            var e = elements[i]
            let ageing = e.calendarFade + e.cycleFade
            e.capacityAmpereSeconds = e.builtCapacityAmpereSeconds * max(0.05, 1 - ageing) * e.faultCapacityFactor
            e.resistanceFactor = e.builtResistanceFactor * (1 + model.ageing.resistanceGrowthPerFade * ageing) * e.faultResistanceFactor
            let soc = hot[i].circuit.stateOfCharge
            hot[i].leakCurrent = e.selfDischargeCurrent * arrhenius(e.temperature)
                + (hot[i].shortConductance + e.bleedConductance) * hot[i].terminalVoltage
            // The circuit's elements change smoothly with SOC and temperature: recompute them when
            // SOC moved by 0.2 % or the temperature by 0.05 K, or ageing or a fault changed them.
            let at = hot[i].coefficientsAt
            if !(abs(soc - at.soc) < 0.002 && abs(e.temperature - at.celsius) < 0.05
                 && e.resistanceFactor == at.factor && e.capacityAmpereSeconds == at.capacity) {
                hot[i].coefficients = CircuitCoefficients(model: model, stateOfCharge: soc, celsius: e.temperature,
                                                          capacityAmpereSeconds: e.capacityAmpereSeconds, resistanceFactor: e.resistanceFactor,
                                                          step: step)
                hot[i].entropic = model.entropicCoefficient[soc]
                hot[i].kelvin = e.temperature + 273.15
                hot[i].chargeTransferCurrent = .nan
                hot[i].coefficientsAt = (soc, e.temperature, e.resistanceFactor, e.capacityAmpereSeconds)
            }
            elements[i] = e
        }
    }

    /// exp(Ea/R·(1/298.15 − 1/T)): how much faster a thermally activated process runs at `celsius`.
    func arrhenius(_ celsius: Double) -> Double {
        exp(design.cellModel.ageing.activationEnergy / 8.314_462_618 * (1 / 298.15 - 1 / (celsius + 273.15)))
    }

    // MARK: - Thermal (every 100 ms)

    mutating func thermalStep(seconds: Double) {
        let d = design, model = d.cellModel
        let capacity = model.massKilograms * model.specificHeat * Double(d.parallelCount)
        let toAmbient = d.thermal.cellToAmbient * Double(d.parallelCount)
        let ambient = d.thermal.ambient.celsius(at: Double(time.microsecondsSinceOrigin) * 1e-6)
        let before = elements.map(\.temperature)
        for i in elements.indices {
            var power = hot[i].heat / seconds + elements[i].extraHeat
            if i > 0 { power += busbarHeat / 2 / seconds }
            if i < busbarCount { power += busbarHeat / 2 / seconds }
            power -= toAmbient * (before[i] - ambient)
            if i > 0 { power -= d.thermal.cellToNeighbour * (before[i] - before[i - 1]) }
            if i < elements.count - 1 { power -= d.thermal.cellToNeighbour * (before[i] - before[i + 1]) }
            elements[i].temperature = before[i] + power * seconds / capacity
            hot[i].heat = 0
        }
        busbarHeat = 0
    }

    /// The ambient temperature now (°C).
    public var ambientTemperature: Double { design.thermal.ambient.celsius(at: Double(time.microsecondsSinceOrigin) * 1e-6) }

    // MARK: - Ageing (every second, times the acceleration)

    mutating func ageingStep(seconds: Double) {
        let a = design.cellModel.ageing
        let days = seconds * design.ageingAcceleration / 86_400
        for i in elements.indices {
            var e = elements[i]
            let speed = arrhenius(e.temperature)
            // Calendar: loss = k·A(T)·f(SOC)·√t, advanced through the equivalent time of the loss so far.
            let soc = hot[i].circuit.stateOfCharge
            let rate = a.calendarFadePerSqrtDay * speed * (0.5 + max(0, min(1, soc)))
            if rate > 0 {
                let equivalentDays = (e.calendarFade / rate) * (e.calendarFade / rate)
                e.calendarFade = rate * (equivalentDays + days).squareRoot()
            }
            // Cycling: a half-cycle of depth d costs ½·k·d^β, counted when the SOC turns back by 2 %.
            let moving: Double = soc > e.runningExtreme ? 1 : (soc < e.runningExtreme ? -1 : 0)
            if e.direction == 0 { e.direction = moving }
            if moving == e.direction || moving == 0 {
                if (e.direction > 0 && soc > e.runningExtreme) || (e.direction < 0 && soc < e.runningExtreme) { e.runningExtreme = soc }
            } else if abs(soc - e.runningExtreme) > 0.02 {
                let depth = abs(e.runningExtreme - e.lastExtreme)
                e.cycleFade += 0.5 * a.cycleFadePerFullCycle * pow(depth, a.depthExponent) * speed * design.ageingAcceleration
                e.lastExtreme = e.runningExtreme
                e.runningExtreme = soc
                e.direction = moving
            }
            elements[i] = e
        }
    }

    // MARK: - Balancing

    /// Switches the bleed resistors (`ohms` each) of the elements in `cells` on and every other
    /// one off (what the front end's balancing switches do).
    public mutating func setBleed(cells: CellSet, ohms: Double) {
        bleeding = false
        for i in elements.indices {
            let g = cells.contains(i) ? 1 / ohms : 0
            elements[i].bleedConductance = g
            if g > 0 { bleeding = true }
            hot[i].leakCurrent = elements[i].selfDischargeCurrent * arrhenius(elements[i].temperature)
                + (hot[i].shortConductance + g) * hot[i].terminalVoltage
        }
    }

    mutating func accountBleed(seconds: Double) {
        for i in elements.indices where elements[i].bleedConductance > 0 {
            let v = hot[i].terminalVoltage, q = elements[i].bleedConductance * v * seconds
            energyBled += q * v
            chargeBled[i] += q
        }
    }

    // MARK: - Truth

    /// The pack's true state of charge as the mean of its elements'.
    public var meanStateOfCharge: Double {
        hot.reduce(0) { $0 + $1.circuit.stateOfCharge } / Double(hot.count)
    }

    /// The pack's true state of charge as the firmware defines the one it displays
    /// (Docs/estimation.md): `min / (min + 1 − max)` of the elements' SOCs, each clamped to 0…1 —
    /// 0 when the weakest element is empty, 1 when the strongest is full.
    public var displayStateOfCharge: Double {
        var low = 1.0, high = 0.0
        for element in hot {
            let soc = min(max(element.circuit.stateOfCharge, 0), 1)
            low = min(low, soc)
            high = max(high, soc)
        }
        let window = low + 1 - high
        return window > 0 ? low / window : low
    }

    /// Element `i`'s true state of charge, terminal voltage (V) and leak current (A).
    public func stateOfCharge(_ i: Int) -> Double { hot[i].circuit.stateOfCharge }
    public func terminalVoltage(_ i: Int) -> Double { hot[i].terminalVoltage }
    public func leakCurrent(_ i: Int) -> Double { hot[i].leakCurrent }
    /// Element `i`'s present R0 (Ω).
    public func seriesResistance(_ i: Int) -> Double { hot[i].coefficients.r0 }
}

#if canImport(Glibc)
import Glibc
#endif
