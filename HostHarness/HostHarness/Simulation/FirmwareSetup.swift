// How the harness configures the firmware for a virtual pack: what a BMS engineer would write
// into the configuration for this pack from the cell's datasheet and OCV table.
import Firmware
import Foundation
import HAL

public enum FirmwareSetup {
    /// SOC points (permille) at which the cell's OCV table is sampled for the firmware: dense
    /// where the curve bends at low SOC, every 5 % above (24 of the 32 points the firmware holds).
    static let curvePermille: [Int32] = [0, 20, 40, 60, 80, 100] + stride(from: 150, through: 1_000, by: 50).map { Int32($0) }

    /// The firmware's configuration for `pack`.
    public static func configuration(for pack: PackDesign) throws(HarnessError) -> PackConfiguration {
        var curve = OCVCurve()
        for permille in curvePermille {
            let volts = pack.cellModel.openCircuitVoltage[Double(permille) / 1_000]
            curve.append(socPermille: permille, voltage: Millivolts(Int32((volts * 1_000).rounded())))
        }
        let ratedmAh = pack.cellModel.ratedCapacityAh * Double(pack.parallelCount) * 1_000
        let ratings = elementRatings(for: pack)
        let configuration = PackConfiguration(
            cellCount: pack.seriesCount, temperatureSensorCount: pack.temperatureSensorCells.count,
            ratedCapacity: .milliampereHours(Int32(ratedmAh.rounded())),
            plausibleCellVoltage: Millivolts(500)...Millivolts(5_000),
            plausibleTemperature: DeciCelsius(-400)...DeciCelsius(1_200),
            plausibleCurrent: Milliamperes(-1_000_000)...Milliamperes(1_000_000),
            measurementTimeout: .milliseconds(100),
            openCircuitVoltage: curve,
            // C/20 or less counts as rest.
            restCurrent: Milliamperes(Int32((ratedmAh / 20).rounded())),
            protection: StandardPolicy.protection(ratings), contactors: StandardPolicy.contactors(ratings, breakCurrent: breakCurrent),
            powerLimits: StandardPolicy.powerLimits(ratings), balancing: StandardPolicy.balancing(ratings))
        do throws(ConfigurationError) {
            try configuration.validate()
        } catch {
            throw HarnessError("the firmware rejected the configuration for this pack: \(error.explanation)")
        }
        return configuration
    }

    /// The firmware's state estimation for `pack`: the cell model as the firmware's table, one
    /// series element (a parallel group as one big cell), the default tuning; the temperature
    /// sensors' places are the pack's (which element each sits on); the thermal chain is the
    /// pack's design (what its engineer knows: the cells' mass and specific heat, the conductances
    /// of the build, the sensors' lag), never the air temperature.
    public static func estimation(for pack: PackDesign) -> StateEstimationConfiguration {
        var places = FixedList<16, UInt8>(filler: 0)
        for cell in pack.temperatureSensorCells { places.append(UInt8(cell)) }
        let model = pack.cellModel, parallel = Double(pack.parallelCount)
        let chain = ThermalChain(heatCapacityJoulesPerKelvin: Float(model.massKilograms * model.specificHeat * parallel),
                                 neighbourConductanceWattsPerKelvin: Float(pack.thermal.cellToNeighbour),
                                 ambientConductanceWattsPerKelvin: Float(pack.thermal.cellToAmbient * parallel),
                                 sensorLagSeconds: Float(pack.sensors.temperatureLag))
        return StateEstimationConfiguration(cellModel: EstimatorSetup.table(for: pack.cellModel, parallel: pack.parallelCount),
                                            sensorElements: places, thermal: chain)
    }

    /// The main contactors' break rating: 150 A (a typical 48 V, 100 A-class DC contactor).
    public static let breakCurrent = Milliamperes(150_000)

    /// The element's ratings as a datasheet would state them, for the cell model's chemistry:
    /// charge at 1C, discharge at 2.5C continuously and 3.5C for 2 s (a high-power scooter cell);
    /// the equivalent circuit of one series element at 25 °C and 50 % SOC, with the charge
    /// transfer linearised at 1C (what an engineer would fit from a 1C pulse test); the thermal
    /// values from the pack's design.
    public static func elementRatings(for pack: PackDesign) -> ElementRatings {
        let model = pack.cellModel, parallel = Double(pack.parallelCount)
        let oneC = model.ratedCapacityAh * parallel                         // A, per element
        func milliohms(_ grid: ArrheniusGrid, _ celsius: Double) -> Double {
            grid.value(stateOfCharge: 0.5, temperatureCelsius: celsius) / parallel * 1_000
        }
        // Charge transfer η(i) = (2RT/F)·asinh(i / 2I0) at 1C per cell, as a resistance.
        func chargeTransferMilliohms(_ celsius: Double) -> Double {
            let cellCurrent = model.ratedCapacityAh
            let thermalVoltage = 8.314_462 * (celsius + 273.15) / 96_485.33
            let i0 = model.exchangeCurrent.value(stateOfCharge: 0.5, temperatureCelsius: celsius)
            return 2 * thermalVoltage * asinh(cellCurrent / (2 * i0)) / cellCurrent / parallel * 1_000
        }
        let r0 = milliohms(model.seriesResistance, 25) + chargeTransferMilliohms(25)
        let r0Cold = milliohms(model.seriesResistance, 15) + chargeTransferMilliohms(15)
        func mA(_ amperes: Double) -> Milliamperes { Milliamperes(Int32((amperes * 1_000).rounded())) }
        return ElementRatings(
            maximumVoltage: Millivolts(Int32((model.maximumVoltage * 1_000).rounded())),
            minimumVoltage: Millivolts(Int32((model.minimumVoltage * 1_000).rounded())),
            capacitymAh: Int32((oneC * 1_000).rounded()),
            continuousCharge: mA(oneC), continuousDischarge: mA(2.5 * oneC), peakDischarge: mA(3.5 * oneC),
            r0Milliohms: Float(r0), r1Milliohms: Float(milliohms(model.r1, 25)),
            tau1Seconds: Float(model.tau1.value(stateOfCharge: 0.5, temperatureCelsius: 25)),
            r2Milliohms: Float(milliohms(model.r2, 25)),
            tau2Seconds: Float(model.tau2.value(stateOfCharge: 0.5, temperatureCelsius: 25)),
            resistanceRisePerKelvinBelow25: Float(max(0, (r0Cold / r0 - 1) / 10)),
            // The pack's thermal design: heat capacity of the element, conductance to both
            // neighbours and the air.
            heatCapacity: Float(model.massKilograms * model.specificHeat * parallel),
            thermalConductance: Float(pack.thermal.cellToAmbient * parallel + 2 * pack.thermal.cellToNeighbour))
    }
}

extension ConfigurationError {
    /// One line for people.
    public var explanation: String {
        switch self {
        case .cellCountOutOfRange: return "cell count must be 1...\(maximumCellCount)"
        case .temperatureSensorCountOutOfRange: return "temperature sensor count must be 0...\(maximumTemperatureSensorCount)"
        case .ratedCapacityOutOfRange: return "rated capacity must be 1 mAh ... 10,000 Ah"
        case .plausibleCellVoltageOutOfRange: return "plausible cell voltage range must be non-empty and within -5 V ... 10 V"
        case .plausibleTemperatureOutOfRange: return "plausible temperature range must be non-empty and within -100 °C ... 300 °C"
        case .plausibleCurrentOutOfRange: return "plausible current range must include 0 and lie within ±1,000 A"
        case .measurementTimeoutOutOfRange: return "measurement timeout must be 1 ms ... 10 s"
        case .restCurrentOutOfRange: return "rest current must be at least 0 and below the plausible maximum"
        case .openCircuitVoltageTooFewPoints: return "OCV curve needs at least 2 points"
        case .openCircuitVoltageNotIncreasing: return "OCV curve must increase strictly in SOC and voltage"
        case .openCircuitVoltageOutsideZeroToOne: return "OCV curve must start at SOC 0 and end at SOC 1000 permille"
        case .protectionLimitOutOfOrder:
            return "protection tiers must be ordered (maximum operating, recommended safety, maximum safety) with non-negative hysteresis and times"
        case .protectionTimingOutOfRange:
            return "protection timing out of range (rise window 1...20 s, debounces and delays >= 0, tolerances > 0)"
        case .contactorTimingOutOfRange: return "contactor timing out of range (timeouts > 0, at least one precharge attempt, breakers are main contactors)"
        case .powerLimitOutOfRange: return "power-limit parameters out of range (resistances >= 0, R0 and time constants > 0, ceilings > 0 and not rising with the horizon, factors 0...1, ramp > 0)"
        case .cellModelOutOfRange:
            return "cell model out of range (OCV must increase; resistances, time constants and exchange currents positive; capacity > 0)"
        case .estimatorTuningOutOfRange: return "estimator tuning out of range (noises and rates positive)"
        case .protectionLimitBeyondPlausibleRange:
            return "a maximum-safety threshold lies beyond the plausible range of its measurement (it could never be reached)"
        case .balancingOutOfRange: return "balancing parameters out of range (start threshold above stop threshold, channels 0...\(maximumCellCount))"
        }
    }
}
