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
}
