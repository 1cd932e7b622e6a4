// The `bms-harness` command: subcommand dispatch, help, and exit statuses
// (0 success, 1 the run failed, 2 a usage mistake).
import Foundation

/// Where the harness writes (the process's stdout/stderr, or a capture in tests).
public struct Console: Sendable {
    public var standardOutput: @Sendable (String) -> Void
    public var standardError: @Sendable (String) -> Void
    public init(standardOutput: @escaping @Sendable (String) -> Void, standardError: @escaping @Sendable (String) -> Void) {
        self.standardOutput = standardOutput
        self.standardError = standardError
    }
    /// The process's own streams.
    public static let process = Console(
        standardOutput: { text in FileHandle.standardOutput.write(Data(text.utf8)) },
        standardError: { text in FileHandle.standardError.write(Data(text.utf8)) })
}

/// A subcommand of `bms-harness`.
public protocol HarnessCommand {
    static var name: String { get }
    static var summary: String { get }
    static var usage: String { get }
    static var options: [OptionSpec] { get }
    /// How many positional arguments the subcommand takes (default none).
    static var positionalCount: Int { get }
    /// Runs with parsed options; throws a UsageError for bad values, a HarnessError for a failed run.
    static func run(_ arguments: ParsedArguments, console: Console) throws -> Int32
}

extension HarnessCommand {
    public static var positionalCount: Int { 0 }
}

public enum Harness {
    /// The subcommands, in the order `--help` lists them.
    nonisolated(unsafe) public static let commands: [any HarnessCommand.Type] = [SimulateCommand.self, CellCommand.self, ProtectionCommand.self, EstimateCommand.self, DecodeCommand.self, ReplayCommand.self, RunCommand.self, PackCommand.self, FleetCommand.self]

    static let usage = "usage: bms-harness <subcommand> [options]   (bms-harness <subcommand> --help for its options)"

    /// Runs the command line `arguments` (without the program name); returns the exit status.
    public static func main(_ arguments: [String], console: Console = .process) -> Int32 {
        guard let first = arguments.first, first != "--help", first != "help" else {
            var text = "bms-harness: the SwiftBMS host harness.\n\(usage)\n\nsubcommands:\n"
            for command in commands { text += "  \(command.name.padding(toLength: 10, withPad: " ", startingAt: 0))\(command.summary)\n" }
            console.standardOutput(text)
            return arguments.isEmpty ? 2 : 0
        }
        guard let command = commands.first(where: { $0.name == first }) else {
            console.standardError("bms-harness: unknown subcommand '\(first)' (known: \(commands.map { $0.name }.joined(separator: ", ")))\n")
            return 2
        }
        do {
            let parsed = try ParsedArguments.parse(Array(arguments.dropFirst()), specs: command.options, positionals: command.positionalCount)
            if parsed.flags.contains("help") {
                console.standardOutput("\(command.summary)\n\nusage: bms-harness \(command.name) \(command.usage)\n\noptions:\n"
                                       + ParsedArguments.helpText(command.options) + "\n")
                return 0
            }
            return try command.run(parsed, console: console)
        } catch let error as UsageError {
            console.standardError("bms-harness \(command.name): \(error.message) (see --help)\n")
            return 2
        } catch let error as HarnessError {
            console.standardError("bms-harness \(command.name): \(error.message)\n")
            return 1
        } catch {
            console.standardError("bms-harness \(command.name): \(error)\n")
            return 1
        }
    }
}
