// Scenario and cell-model files: shipped ones load, and every mistake names the file and key.
import Foundation
import HostHarness
import Testing

@Suite struct ScenarioFileTests {
    static let valid = """
    {"name": "t", "description": "d", "cell_model": "lg-m50", "series": 4, "parallel": 1, "temperature_sensors": 2,
     "ambient_c": 25, "initial_soc": 0.5, "spread": {"capacity_fraction": 0, "resistance_fraction": 0, "initial_soc": 0},
     "sensors": {"cell_voltage_noise_mv": 0, "current_noise_ma": 0}, "load": {"type": "constant", "current_a": -5},
     "duration": "10s", "seed": 3}
    """

    static func parse(_ text: String) throws(HarnessError) -> Scenario {
        try Scenario.parse(Data(text.utf8), file: "test.json")
    }

    @Test func theShippedDefaultLoads() throws {
        let scenario = try Scenario.load("delivery-hour")
        #expect(scenario.pack.seriesCount == 16 && scenario.pack.parallelCount == 2)
        #expect(scenario.duration == .seconds(3_600))
        #expect(scenario.load == .delivery)
    }

    @Test func aValidFileParses() throws {
        let scenario = try Self.parse(Self.valid)
        #expect(scenario.load == .constant(amperes: -5) && scenario.seed == 3)
    }

    @Test(arguments: [
        ("\"series\": 4", "\"series\": 33", "test.json: 'series': 33.0 is out of range 1.0...32.0"),
        ("\"series\": 4", "\"series\": 4.5", "test.json: 'series': expected a whole number, got 4.5"),
        ("\"seed\": 3}", "\"seed\": 3, \"colour\": 1}", "test.json: 'colour': unknown key"),
        ("\"current_a\": -5", "\"current_a\": true", "test.json: 'load.current_a': expected a number"),
        ("\"type\": \"constant\"", "\"type\": \"ramp\"", "test.json: 'load.type': unknown load 'ramp' (known: delivery, constant)"),
        ("\"duration\": \"10s\"", "\"duration\": \"ten\"", "test.json: 'duration': 'ten' is not a duration like 1h, 30m, 90s or 1h30m"),
        ("\"initial_soc\": 0.5, ", "", "test.json: 'initial_soc': missing"),
        ("\"cell_voltage_noise_mv\": 0,", "\"cell_voltage_noise_mv\": 0, \"gain\": 1,", "test.json: 'sensors.gain': unknown key"),
    ] as [(String, String, String)])
    func mistakesAreReportedWithFileAndKey(original: String, replacement: String, message: String) {
        let text = Self.valid.replacingOccurrences(of: original, with: replacement)
        #expect(throws: HarnessError(message)) { _ = try Self.parse(text) }
    }

    @Test func brokenJSONIsReportedWithTheFile() {
        #expect { _ = try Self.parse("{\"name\": ") } throws: { error in
            (error as? HarnessError)?.message.hasPrefix("test.json: not valid JSON") == true
        }
    }

    @Test func anUnknownScenarioNameListsTheShippedOnes() {
        #expect(throws: HarnessError("no scenario named 'nope' (shipped: delivery-hour)")) { _ = try Scenario.load("nope") }
    }
}
