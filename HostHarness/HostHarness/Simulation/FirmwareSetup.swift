// How the harness configures the firmware for a virtual pack: what a BMS engineer would write
// into the configuration for this pack from the cell's datasheet and OCV table.
import Firmware
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
        let configuration = PackConfiguration(
            cellCount: pack.seriesCount, temperatureSensorCount: pack.temperatureSensorCells.count,
            ratedCapacity: .milliampereHours(Int32(ratedmAh.rounded())),
            plausibleCellVoltage: Millivolts(500)...Millivolts(5_000),
            plausibleTemperature: DeciCelsius(-400)...DeciCelsius(1_200),
            plausibleCurrent: Milliamperes(-1_000_000)...Milliamperes(1_000_000),
            measurementTimeout: .milliseconds(100),
            openCircuitVoltage: curve,
            // C/20 or less counts as rest.
            restCurrent: Milliamperes(Int32((ratedmAh / 20).rounded())))
        do {
            try configuration.validate()
        } catch {
            throw HarnessError("the firmware rejected the configuration for this pack: \(error.explanation)")
        }
        return configuration
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
        }
    }
}
