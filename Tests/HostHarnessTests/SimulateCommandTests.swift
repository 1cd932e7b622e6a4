// `bms-harness simulate` end to end: it runs, writes its outputs, gives byte-identical files for
// the same scenario and seed, and answers bad command lines with one line and a non-zero status.
import Foundation
import HostHarness
import Testing

/// Captures what the harness prints.
final class Capture: @unchecked Sendable {
    var output = "", error = ""
    var console: Console {
        Console(standardOutput: { [self] in output += $0 }, standardError: { [self] in error += $0 })
    }
}

func temporaryDirectory(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("swiftbms-tests-\(UUID().uuidString)/\(name)")
}

func run(_ arguments: [String]) -> (status: Int32, output: String, error: String) {
    let capture = Capture()
    let status = Harness.main(arguments, console: capture.console)
    return (status, capture.output, capture.error)
}

@Suite struct SimulateCommandTests {
    @Test func runsAndWritesItsOutputs() throws {
        let out = temporaryDirectory("run")
        let result = run(["simulate", "--duration", "20s", "--out", out.path])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("simulated      20s in 20000 ticks of 1 ms"))
        #expect(result.output.contains("speed-up"))
        #expect(result.output.contains("final SOC      true"))
        #expect(result.output.contains("0 overruns, 0 missed ticks"))
        let csv = try String(contentsOf: out.appendingPathComponent("timeseries.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 21)   // header + one row per simulated second
        let summary = try String(contentsOf: out.appendingPathComponent("summary.json"), encoding: .utf8)
        #expect(summary.contains("\"ticks\": 20000"))
        #expect(summary.contains("\"watchdog_feeds\": 20000"))
    }

    @Test func theSameScenarioAndSeedGiveByteIdenticalOutputs() throws {
        let a = temporaryDirectory("a"), b = temporaryDirectory("b"), c = temporaryDirectory("c")
        for (dir, seed) in [(a, "7"), (b, "7"), (c, "8")] {
            #expect(run(["simulate", "--duration", "30s", "--seed", seed, "--out", dir.path]).status == 0)
        }
        for file in ["summary.json", "timeseries.csv"] {
            let first = try Data(contentsOf: a.appendingPathComponent(file))
            #expect(first == (try Data(contentsOf: b.appendingPathComponent(file))), "\(file)")
            #expect(first != (try Data(contentsOf: c.appendingPathComponent(file))), "\(file) with another seed")
        }
    }

    @Test func theFirmwareCountsWhatThePackDelivered() throws {
        var simulation = try Simulation(scenario: try Scenario.load("delivery-hour"))
        simulation.run(for: .seconds(120)) { _ in }
        let counted = Double(simulation.loop.coulombCounter.netChargeNanocoulombs) / 1e9
        let delivered = simulation.pack.netChargeAmpereSeconds
        // Sensor noise (10 mA) and trapezoid vs. rectangle differ by far less than 0.1 %.
        #expect(delivered < -100)
        #expect(abs(counted - delivered) < 0.001 * abs(delivered))
        #expect(simulation.loop.stateOfCharge != nil)
    }

    @Test(arguments: [
        (["simulate", "--speed", "2"], "bms-harness simulate: unknown option '--speed' (see --help)\n"),
        (["simulate", "--seed", "x1"], "bms-harness simulate: --seed: 'x1' is not a whole number from 0 to 18446744073709551615 (see --help)\n"),
        (["simulate", "--seed", "-1"], "bms-harness simulate: --seed: '-1' is not a whole number from 0 to 18446744073709551615 (see --help)\n"),
        (["simulate", "--duration", "forever"], "bms-harness simulate: --duration: 'forever' is not a duration like 90s, 30m, 1h or 1h30m (up to 10 years) (see --help)\n"),
        (["simulate", "--duration"], "bms-harness simulate: --duration needs a value (see --help)\n"),
        (["simulate", "extra"], "bms-harness simulate: unexpected argument 'extra' (see --help)\n"),
        (["fly"], "bms-harness: unknown subcommand 'fly' (known: simulate, cell, protection, estimate, decode, replay, run, pack, fleet)\n"),
        (["protection", "everything"], "bms-harness protection: say what to measure: reaction-times, power-limits or balancing (not 'everything') (see --help)\n"),
        (["protection", "balancing", "--days", "0"], "bms-harness protection: --days: '0' is not a whole number from 1 to 60 (see --help)\n"),
    ] as [([String], String)])
    func badCommandLinesExitTwoWithOneLine(arguments: [String], message: String) {
        let result = run(arguments)
        #expect(result.status == 2)
        #expect(result.error == message)
        #expect(result.output.isEmpty)
    }

    @Test func aMissingScenarioFailsWithOneLineAndStatusOne() {
        let result = run(["simulate", "--scenario", "/nonexistent/s.json"])
        #expect(result.status == 1)
        #expect(result.error == "bms-harness simulate: scenario '/nonexistent/s.json': cannot read /nonexistent/s.json\n")
    }

    @Test func helpIsAvailableEverywhere() {
        let top = run(["--help"])
        #expect(top.status == 0 && top.output.contains("simulate"))
        let simulate = run(["simulate", "--help"])
        #expect(simulate.status == 0)
        for option in ["--scenario NAME|FILE", "--seed N", "--duration D", "--out DIR", "--help"] {
            #expect(simulate.output.contains(option))
        }
        #expect(run([]).status == 2)
    }
}
