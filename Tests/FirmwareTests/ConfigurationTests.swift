// Configuration checks: every parameter's boundaries, and the loop refuses a bad configuration.
import Firmware
import HAL
import Testing

@Suite struct ConfigurationTests {
    typealias Edit = @Sendable (inout PackConfiguration) -> Void

    static let rejected: [(String, Edit, ConfigurationError)] = [
        ("0 cells", { $0.cellCount = 0 }, .cellCountOutOfRange),
        ("33 cells", { $0.cellCount = 33 }, .cellCountOutOfRange),
        ("17 sensors", { $0.temperatureSensorCount = 17 }, .temperatureSensorCountOutOfRange),
        ("-1 sensors", { $0.temperatureSensorCount = -1 }, .temperatureSensorCountOutOfRange),
        ("0 capacity", { $0.ratedCapacity = .zero }, .ratedCapacityOutOfRange),
        ("10,001 Ah", { $0.ratedCapacity = .milliampereHours(10_000_001) }, .ratedCapacityOutOfRange),
        ("empty voltage range", { $0.plausibleCellVoltage = Millivolts(3_000)...Millivolts(3_000) }, .plausibleCellVoltageOutOfRange),
        ("10.001 V cells", { $0.plausibleCellVoltage = Millivolts(0)...Millivolts(10_001) }, .plausibleCellVoltageOutOfRange),
        ("temperature above 300 °C", { $0.plausibleTemperature = DeciCelsius(-400)...DeciCelsius(3_001) }, .plausibleTemperatureOutOfRange),
        ("current range without 0", { $0.plausibleCurrent = Milliamperes(1)...Milliamperes(100) }, .plausibleCurrentOutOfRange),
        ("current beyond 1 kA", { $0.plausibleCurrent = Milliamperes(-1_000_001)...Milliamperes(100) }, .plausibleCurrentOutOfRange),
        ("timeout below a tick", { $0.measurementTimeout = .microseconds(999) }, .measurementTimeoutOutOfRange),
        ("timeout above 10 s", { $0.measurementTimeout = .milliseconds(10_001) }, .measurementTimeoutOutOfRange),
        ("negative rest current", { $0.restCurrent = Milliamperes(-1) }, .restCurrentOutOfRange),
        ("one-point OCV", { var c = OCVCurve(); c.append(socPermille: 0, voltage: Millivolts(3_000)); $0.openCircuitVoltage = c }, .openCircuitVoltageTooFewPoints),
        ("OCV to 90 %", { var c = OCVCurve(); c.append(socPermille: 0, voltage: Millivolts(3_000)); c.append(socPermille: 900, voltage: Millivolts(4_100)); $0.openCircuitVoltage = c }, .openCircuitVoltageOutsideZeroToOne),
        ("flat OCV", { var c = OCVCurve(); c.append(socPermille: 0, voltage: Millivolts(3_000)); c.append(socPermille: 500, voltage: Millivolts(3_000)); c.append(socPermille: 1_000, voltage: Millivolts(4_000)); $0.openCircuitVoltage = c }, .openCircuitVoltageNotIncreasing),
    ]

    @Test(arguments: rejected)
    func outOfRangeParametersAreRejected(_ name: String, _ edit: Edit, _ error: ConfigurationError) {
        var configuration = testConfiguration()
        edit(&configuration)
        #expect(throws: error, "\(name)") { try configuration.validate() }
        #expect(throws: error) { _ = try ControlLoop(board: TestBoard(cellVoltages: [3_700]), configuration: configuration) }
    }

    static let accepted: [(String, Edit)] = [
        ("1 cell", { $0.cellCount = 1 }),
        ("32 cells", { $0.cellCount = 32 }),
        ("0 sensors", { $0.temperatureSensorCount = 0 }),
        ("16 sensors", { $0.temperatureSensorCount = 16 }),
        ("1 mAh", { $0.ratedCapacity = .milliampereHours(1) }),
        ("timeout of one tick", { $0.measurementTimeout = .milliseconds(1) }),
        ("timeout of 10 s", { $0.measurementTimeout = .seconds(10) }),
        ("zero rest current", { $0.restCurrent = .zero }),
    ]

    @Test(arguments: accepted)
    func boundaryValuesAreAccepted(_ name: String, _ edit: Edit) throws {
        var configuration = testConfiguration()
        edit(&configuration)
        try configuration.validate()
    }

    @Test func errorRawValuesAreStable() {
        #expect(ConfigurationError.cellCountOutOfRange.rawValue == 1)
        #expect(ConfigurationError.openCircuitVoltageOutsideZeroToOne.rawValue == 11)
    }
}
