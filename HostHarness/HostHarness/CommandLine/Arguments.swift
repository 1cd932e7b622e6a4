// A small command-line parser (the project takes no package dependencies): declared options
// with help text, `--name value` or `--name=value`, and one-line errors for anything else.

/// One option a subcommand accepts.
public struct OptionSpec: Sendable {
    public var name: String          // without the leading "--"
    public var valueName: String?    // nil for a flag
    public var help: String
    public init(_ name: String, value valueName: String? = nil, help: String) {
        self.name = name
        self.valueName = valueName
        self.help = help
    }
}

/// A usage mistake: reported as one line, exit status 2.
public struct UsageError: Error, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// The options found on a command line.
public struct ParsedArguments: Equatable {
    public var values: [String: String] = [:]
    public var flags: Set<String> = []
    public var positionals: [String] = []

    /// Parses `arguments` against `specs`; `--help` is always accepted as a flag.
    public static func parse(_ arguments: [String], specs: [OptionSpec], positionals allowed: Int = 0)
        throws(UsageError) -> ParsedArguments {
        var result = ParsedArguments()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else {
                guard result.positionals.count < allowed else { throw UsageError("unexpected argument '\(argument)'") }
                result.positionals.append(argument)
                continue
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if name == "help" { result.flags.insert("help"); continue }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw UsageError("unknown option '--\(name)'")
            }
            guard spec.valueName != nil else {
                guard inlineValue == nil else { throw UsageError("--\(name) takes no value") }
                result.flags.insert(name)
                continue
            }
            guard result.values[name] == nil else { throw UsageError("--\(name) given twice") }
            if let inlineValue {
                result.values[name] = inlineValue
            } else {
                guard index < arguments.count, !arguments[index].hasPrefix("--") else {
                    throw UsageError("--\(name) needs a value")
                }
                result.values[name] = arguments[index]
                index += 1
            }
        }
        return result
    }

    /// Help text for a subcommand's options.
    public static func helpText(_ specs: [OptionSpec]) -> String {
        let all = specs + [OptionSpec("help", help: "Show this help.")]
        let labels = all.map { "--\($0.name)" + ($0.valueName.map { " \($0)" } ?? "") }
        let width = labels.map(\.count).max() ?? 0
        return zip(labels, all).map { label, spec in
            "  " + label + String(repeating: " ", count: width - label.count + 2) + spec.help
        }.joined(separator: "\n")
    }
}
