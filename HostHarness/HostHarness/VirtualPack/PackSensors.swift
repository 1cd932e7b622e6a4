// The front end and sensors as built: per-channel gain and offset errors drawn from the seed,
// noise, quantisation, lagged temperature sensors, and the sensor faults of the schedule. They
// turn the pack's true state into the readings the firmware gets.
import HAL

public struct PackSensors: Sendable {
    let design: SensorDesign
    /// Per cell-voltage channel: gain error (relative) and offset (V).
    let gain: [Double], offset: [Double]
    /// The element each temperature sensor sits on, and the sensor's own (lagged) temperature.
    let sensorCells: [Int]
    public private(set) var sensorTemperatures: [Double]
    var noise: NoiseSource
    /// The values stuck channels froze at (their reading on the first tick of the fault).
    var frozenCells: [Int: Int32] = [:]
    var frozenTemperatures: [Int: Int16] = [:]
    // Active sensor faults (refreshed with the pack's slow state).
    var stuckCells = Set<Int>(), openWires = Set<Int>()
    var cellOffsetFault: [Int: Double] = [:], cellNoiseFault: [Int: Double] = [:]
    var temperatureFault: [Int: FaultKind] = [:]
    var currentDrift = 0.0        // A
    var packVoltageOffset = 0.0   // V
    public private(set) var frontEndTimedOut = false

    public init(design: SensorDesign, pack: PackDesign, random: inout SplitMix64) {
        self.design = design
        gain = (0..<pack.seriesCount).map { _ in design.cellVoltageGainSpread * random.standardNormalish() }
        offset = (0..<pack.seriesCount).map { _ in design.cellVoltageOffsetSpread * random.standardNormalish() }
        sensorCells = pack.temperatureSensorCells
        let ambient = pack.thermal.ambient.celsius(at: 0)
        sensorTemperatures = sensorCells.map { _ in ambient }
        noise = NoiseSource(generator: random.derived(stream: 0x5E_AB05))
    }

    /// The number of `resolution` steps nearest to `value` (halves to even, as an ADC rounds):
    /// adding 1.5·2⁵² leaves the rounded integer in the low bits of the Double (|steps| < 2³¹).
    @inline(__always) static func quantise(_ value: Double, _ resolution: Double) -> Int64 {
        Int64(Int32(truncatingIfNeeded: (value / resolution + 6_755_399_441_055_744.0).bitPattern))
    }

    /// Applies the sensor faults active at `time` (with the pack's 100 ms refresh).
    public mutating func refreshFaults(_ faults: [ScheduledFault], at time: Instant) {
        stuckCells = []; openWires = []; cellOffsetFault = [:]; cellNoiseFault = [:]; temperatureFault = [:]
        defer {
            // A channel that is no longer stuck forgets its frozen value.
            frozenCells = frozenCells.filter { stuckCells.contains($0.key) }
            frozenTemperatures = frozenTemperatures.filter { if case .temperatureSensorStuck = temperatureFault[$0.key] { true } else { false } }
        }
        currentDrift = 0; frontEndTimedOut = false; packVoltageOffset = 0
        for fault in faults {
            let s = fault.severity(at: time)
            guard s > 0 else { continue }
            switch fault.kind {
            case .voltageSensorStuck(let c): stuckCells.insert(c)
            case .openWire(let c): openWires.insert(c)
            case .voltageSensorOffset(let c, let v): cellOffsetFault[c] = v * s
            case .voltageSensorNoise(let c, let v): cellNoiseFault[c] = v * s
            case .temperatureSensorOpen(let i), .temperatureSensorShort(let i), .temperatureSensorStuck(let i):
                temperatureFault[i] = fault.kind
            case .currentSensorDrift(let perHour):
                currentDrift = perHour * Double(time.microsecondsSinceOrigin - fault.at.rawValue) / 3.6e9
            case .frontEndTimeout: frontEndTimedOut = true
            case .packVoltageSensorOffset(let v): packVoltageOffset = v * s
            default: break
            }
        }
    }

    /// Lags the temperature sensors towards their cells' temperatures over `seconds`.
    public mutating func followTemperatures(_ pack: VirtualPack, seconds: Double) {
        let k = design.temperatureLag > 0 ? 1 - exp(-seconds / design.temperatureLag) : 1
        for (s, cell) in sensorCells.enumerated() where cell < pack.elements.count {
            sensorTemperatures[s] += (pack.elements[cell].temperature - sensorTemperatures[s]) * k
        }
    }

    /// What the front end reports for every cell and temperature sensor.
    public mutating func senseCells(_ pack: VirtualPack, into readings: inout CellMonitorReadings) {
        senseCells(pack.hot, into: &readings)
    }

    /// The same from the pack's element array (passing the array, not the whole pack, avoids a
    /// copy of the pack's fields per tick).
    public mutating func senseCells(_ elements: [VirtualPack.HotElement], into readings: inout CellMonitorReadings) {
        let resolution = design.cellVoltageResolution, sigma = design.cellVoltageNoise
        let millivoltsPerStep = Int64(resolution * 1_000 + 0.5)
        let count = min(readings.cellVoltages.count, elements.count)
        let anyFault = !cellOffsetFault.isEmpty || !cellNoiseFault.isEmpty || !stuckCells.isEmpty || !openWires.isEmpty
        elements.withUnsafeBufferPointer { hot in
          gain.withUnsafeBufferPointer { gain in
            offset.withUnsafeBufferPointer { offset in
              NoiseSource.table.withUnsafeBufferPointer { noiseTable in
                for i in 0..<count {
                    var volts = hot[i].terminalVoltage * (1 + gain[i]) + offset[i] + sigma * noise.next(noiseTable)
                    if anyFault {
                        if let extra = cellOffsetFault[i] { volts += extra }
                        if let extra = cellNoiseFault[i] { volts += extra * noise.next(noiseTable) }
                    }
                    var millivolts = Int32(truncatingIfNeeded: PackSensors.quantise(volts, resolution) * millivoltsPerStep)
                    if anyFault {
                        if stuckCells.contains(i) {
                            if let frozen = frozenCells[i] { millivolts = frozen } else { frozenCells[i] = millivolts }
                        }
                        if openWires.contains(i) {
                            readings.cellVoltages[i] = Reading(Millivolts(0), status: .openWire)
                            continue
                        }
                    }
                    readings.cellVoltages[i] = Reading(Millivolts(millivolts))
                }
              }
            }
          }
        }
        for s in 0..<min(readings.temperatures.count, sensorTemperatures.count) {
            var tenths = Int16(truncatingIfNeeded: PackSensors.quantise(sensorTemperatures[s] + design.temperatureNoise * noise.next(),
                                                                         design.temperatureResolution) * Int64(design.temperatureResolution * 10 + 0.5))
            switch temperatureFault[s] {
            case .temperatureSensorOpen: tenths = -500
            case .temperatureSensorShort: tenths = 1_500
            case .temperatureSensorStuck:
                if let frozen = frozenTemperatures[s] { tenths = frozen } else { frozenTemperatures[s] = tenths }
            default: break
            }
            readings.temperatures[s] = Reading(DeciCelsius(tenths))
        }
    }

    /// What the current sensor reports: current (with offset, gain, drift and noise), and the
    /// pack and link voltages.
    public mutating func sensePack(_ pack: VirtualPack) -> PackSensorReadings {
        sensePack(current: pack.current, packVoltage: pack.packVoltage, linkVoltage: pack.linkVoltage)
    }

    /// The same from the three quantities (no copy of the pack per tick).
    public mutating func sensePack(current: Double, packVoltage: Double, linkVoltage: Double) -> PackSensorReadings {
        let d = design
        let amperes = current * (1 + d.currentGainError) + d.currentOffset + currentDrift + d.currentNoise * noise.next()
        let milliamperes = PackSensors.quantise(amperes, d.currentResolution) * Int64(d.currentResolution * 1_000 + 0.5)
        return PackSensorReadings(current: Reading(Milliamperes(Int32(truncatingIfNeeded: milliamperes))),
                                  packVoltage: Reading(Millivolts(Int32(truncatingIfNeeded: PackSensors.quantise(packVoltage + packVoltageOffset, 0.001)))),
                                  linkVoltage: Reading(Millivolts(Int32(truncatingIfNeeded: PackSensors.quantise(linkVoltage, 0.001)))))
    }
}

#if canImport(Glibc)
import Glibc
#endif
