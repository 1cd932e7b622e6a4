// A single-cell test file in the schema of the shared datasets: time_s, current_a (positive =
// charge), voltage_v, temperature_c, and optionally soc_ref; other columns are ignored. Bad
// files fail with the file and line.
import Foundation

/// The columns of a cell-test CSV file.
public struct CellTestData: Sendable {
    public var file: String
    public var time: [Double]
    public var current: [Double]
    public var voltage: [Double]
    public var temperature: [Double]
    /// The reference SOC when the file has one (only identification and scoring may read it).
    public var referenceStateOfCharge: [Double]?

    public var count: Int { time.count }

    public init(file: String, time: [Double], current: [Double], voltage: [Double], temperature: [Double],
                referenceStateOfCharge: [Double]? = nil) {
        self.file = file
        self.time = time
        self.current = current
        self.voltage = voltage
        self.temperature = temperature
        self.referenceStateOfCharge = referenceStateOfCharge
    }

    /// Reads a file; `requireReference` makes a missing `soc_ref` column an error, and
    /// `readReference: false` leaves the column unread even when it is there (estimators).
    public static func load(_ path: String, requireReference: Bool = false, readReference: Bool = true) throws(HarnessError) -> CellTestData {
        guard let data = FileManager.default.contents(atPath: path) else { throw HarnessError("\(path): cannot read the file") }
        guard let text = String(data: data, encoding: .utf8) else { throw HarnessError("\(path): not UTF-8 text") }
        return try parse(text, file: path, requireReference: requireReference, readReference: readReference)
    }

    public static func parse(_ text: String, file: String, requireReference: Bool = false,
                             readReference: Bool = true) throws(HarnessError) -> CellTestData {
        var lines = text.textLines
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let header = lines.first else { throw HarnessError("\(file):1: empty file (expected a header row)") }
        let names = header.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        func column(_ name: String, required: Bool = true) throws(HarnessError) -> Int? {
            if let index = names.firstIndex(of: name) { return index }
            if required { throw HarnessError("\(file):1: missing column '\(name)' (found: \(names.joined(separator: ",")))") }
            return nil
        }
        let t = try column("time_s")!, i = try column("current_a")!, v = try column("voltage_v")!
        let temperatureColumn = try column("temperature_c")!
        let s = readReference ? try column("soc_ref", required: requireReference) : nil
        var result = CellTestData(file: file, time: [], current: [], voltage: [], temperature: [],
                                  referenceStateOfCharge: s == nil ? nil : [])
        result.time.reserveCapacity(lines.count)
        for (offset, line) in lines.enumerated().dropFirst() {
            let number = offset + 1
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            func value(_ index: Int, _ name: String) throws(HarnessError) -> Double {
                guard index < fields.count else { throw HarnessError("\(file):\(number): missing value for '\(name)'") }
                guard let x = Double(fields[index].trimmingCharacters(in: .whitespaces)), x.isFinite else {
                    throw HarnessError("\(file):\(number): '\(name)' is not a number: '\(fields[index])'")
                }
                return x
            }
            let time = try value(t, "time_s")
            if let previous = result.time.last, time < previous {
                throw HarnessError("\(file):\(number): time goes backwards (\(time) s after \(previous) s)")
            }
            result.time.append(time)
            result.current.append(try value(i, "current_a"))
            result.voltage.append(try value(v, "voltage_v"))
            result.temperature.append(try value(temperatureColumn, "temperature_c"))
            if let s { result.referenceStateOfCharge!.append(try value(s, "soc_ref")) }
        }
        guard result.count >= 2 else { throw HarnessError("\(file): fewer than two data rows") }
        return result
    }
}
