// Finds the project's Fixtures/ folder: $BMS_FIXTURES, or the nearest Fixtures/ above the
// current directory or above the executable (so `make run` and an installed binary both work).
import Foundation

public enum FixtureLocator {
    /// The Fixtures folder, or an error that says where it looked.
    public static func fixturesDirectory() throws(HarnessError) -> URL {
        if let explicit = ProcessInfo.processInfo.environment["BMS_FIXTURES"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit, isDirectory: true)
        }
        var starts = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)]
        if let executable = Bundle.main.executableURL { starts.append(executable.deletingLastPathComponent()) }
        for start in starts {
            var directory = start.standardizedFileURL
            while true {
                let candidate = directory.appendingPathComponent("Fixtures", isDirectory: true)
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("scenarios").path) {
                    return candidate
                }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        throw HarnessError("cannot find the Fixtures folder (set BMS_FIXTURES, or run inside the SwiftBMS checkout)")
    }

    /// The contents of a fixture given by name (`Fixtures/FOLDER/NAME.json`) or by path (anything
    /// with a `/` or ending in `.json`), and the path it was read from. `kind` names the fixture in
    /// errors; an unknown name lists the shipped ones.
    public static func read(_ nameOrPath: String, folder: String, kind: String) throws(HarnessError) -> (data: Data, path: String) {
        let url: URL
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".json") {
            url = URL(fileURLWithPath: nameOrPath)
        } else {
            let directory = try fixturesDirectory().appendingPathComponent(folder)
            url = directory.appendingPathComponent("\(nameOrPath).json")
            guard FileManager.default.fileExists(atPath: url.path) else {
                let shipped = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
                    .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
                throw HarnessError("no \(kind) named '\(nameOrPath)' (shipped: \(shipped.joined(separator: ", ")))")
            }
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw HarnessError("\(kind) '\(nameOrPath)': cannot read \(url.path)")
        }
        return (data, url.path)
    }
}
