// Scenario and cell-model files: shipped ones load, and every mistake names the file and key.
import Foundation
import HAL
import HostHarness
import Testing

@Suite struct ScenarioFileTests {
    static let valid = """
    {"name": "t", "description": "d", "cell_model": "lg-m50", "series": 4, "parallel": 1, "temperature_sensors": 2,
     "ambient": {"type": "constant", "celsius": 25}, "initial_soc": 0.5,
     "spread": {"capacity_fraction": 0, "resistance_fraction": 0, "initial_soc": 0},
     "sensors": {"cell_voltage_noise_mv": 0, "current_noise_ma": 0}, "load": {"type": "constant-current", "current_a": -5},
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
        #expect(scenario.load == .constantCurrent(amperes: -5) && scenario.seed == 3)
        #expect(scenario.truthInterval == .seconds(60) && scenario.faults.isEmpty)
    }

    @Test(arguments: [
        ("\"series\": 4", "\"series\": 33", "test.json: 'series': 33.0 is out of range 1.0...32.0"),
        ("\"series\": 4", "\"series\": 4.5", "test.json: 'series': expected a whole number, got 4.5"),
        ("\"seed\": 3}", "\"seed\": 3, \"colour\": 1}", "test.json: 'colour': unknown key"),
        ("\"current_a\": -5", "\"current_a\": true", "test.json: 'load.current_a': expected a number"),
        ("\"type\": \"constant-current\"", "\"type\": \"ramp\"", "test.json: 'load.type': unknown load 'ramp' (known: rest, delivery, delivery-day, constant-current, constant-power, cc-cv, profile, sequence)"),
        ("\"seed\": 3}", "\"seed\": 3, \"faults\": [{\"type\": \"internal-short\", \"cell\": 5, \"ohms\": 50, \"at\": \"6h\"}]}", "test.json: 'faults[1].cell': 5.0 is out of range 1.0...4.0"),
        ("\"seed\": 3}", "\"seed\": 3, \"faults\": [{\"type\": \"meltdown\", \"at\": \"6h\"}]}", "test.json: 'faults[1].type': unknown fault 'meltdown' (see Docs/virtual-pack.md, fault catalogue)"),
        ("\"celsius\": 25}", "\"celsius\": 25, \"humidity\": 1}", "test.json: 'ambient.humidity': unknown key"),
        ("\"duration\": \"10s\"", "\"duration\": \"ten\"", "test.json: 'duration': 'ten' is not a duration like 1h, 30m, 90s or 1h30m"),
        ("\"initial_soc\": 0.5,", "", "test.json: 'initial_soc': missing"),
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
        #expect { _ = try Scenario.load("nope") } throws: { error in
            (error as? HarnessError)?.message.hasPrefix("no scenario named 'nope' (shipped: delivery-day, delivery-hour") == true
        }
    }

    @Test func faultsParseWithTheirTiming() throws {
        let text = Self.valid.replacingOccurrences(of: "\"seed\": 3}", with: """
        "seed": 3, "faults": [{"type": "internal-short", "cell": 2, "ohms": 50, "at": "6h"},
                              {"type": "resistance-rise", "cell": 1, "factor": 2, "at": "0s", "ramp": "1d"},
                              {"type": "front-end-timeout", "at": "90s", "duration": "300ms"}]}
        """)
        let faults = try Self.parse(text).faults
        #expect(faults.count == 3)
        #expect(faults[0] == ScheduledFault(.internalShort(cell: 1, ohms: 50), at: .seconds(6 * 3_600)))
        #expect(faults[1].ramp == .seconds(86_400))
        #expect(faults[2].duration == .milliseconds(300))
        #expect(faults[2].severity(at: Instant.origin + .seconds(90)) == 1)
        #expect(faults[2].severity(at: Instant.origin + .milliseconds(90_300)) == 0)
    }
}
