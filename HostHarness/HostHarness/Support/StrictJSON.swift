// Strict reading of the harness's JSON files (scenarios, cell models): every key is checked,
// unknown keys are errors, and every error names the file and the key path.
import Foundation

/// A JSON object being read. Call `finish()` at the end to reject keys nobody asked for.
public struct StrictJSONObject {
    let values: [String: Any]
    let path: String
    let file: String
    var used: Set<String> = []

    /// Parses `data` as a JSON object.
    public static func parse(_ data: Data, file: String) throws(HarnessError) -> StrictJSONObject {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw HarnessError("\(file): not valid JSON (\(Self.describe(error)))")
        }
        guard let dictionary = object as? [String: Any] else { throw HarnessError("\(file): expected a JSON object at the top level") }
        return StrictJSONObject(values: dictionary, path: "", file: file)
    }

    private static func describe(_ error: Error) -> String {
        let nsError = error as NSError
        if let detail = nsError.userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
        return nsError.localizedDescription
    }

    func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    func fail(_ name: String, _ problem: String) -> HarnessError {
        HarnessError("\(file): '\(key(name))': \(problem)")
    }

    public func has(_ name: String) -> Bool { values[name] != nil && !(values[name] is NSNull) }

    /// `double(name, in:)` when the key is present, else `fallback`.
    public mutating func double(_ name: String, in range: ClosedRange<Double>, default fallback: Double) throws(HarnessError) -> Double {
        guard has(name) else { used.insert(name); return fallback }
        return try double(name, in: range)
    }

    /// An array of objects.
    public mutating func objects(_ name: String) throws(HarnessError) -> [StrictJSONObject] {
        guard let array = try raw(name) as? [Any] else { throw fail(name, "expected an array of objects") }
        var result: [StrictJSONObject] = []
        for (i, element) in array.enumerated() {
            guard let dictionary = element as? [String: Any] else { throw fail(name, "element \(i + 1) is not an object") }
            result.append(StrictJSONObject(values: dictionary, path: "\(key(name))[\(i + 1)]", file: file))
        }
        return result
    }

    /// An array of strings.
    public mutating func stringArray(_ name: String) throws(HarnessError) -> [String] {
        guard let array = try raw(name) as? [String] else { throw fail(name, "expected an array of strings") }
        return array
    }

    /// The value as a number, or nil for anything else (JSON booleans included: Foundation hands
    /// them out as NSNumber too).
    static func number(_ value: Any) -> NSNumber? {
        guard let number = value as? NSNumber, !String(describing: type(of: value)).contains("Boolean") else { return nil }
        return number
    }

    mutating func raw(_ name: String) throws(HarnessError) -> Any {
        guard let value = values[name] else { throw fail(name, "missing") }
        used.insert(name)
        return value
    }

    public mutating func string(_ name: String) throws(HarnessError) -> String {
        guard let value = try raw(name) as? String else { throw fail(name, "expected a string") }
        return value
    }

    public mutating func bool(_ name: String) throws(HarnessError) -> Bool {
        let value = try raw(name)
        guard let number = value as? NSNumber, String(describing: type(of: value)).contains("Boolean") else {
            throw fail(name, "expected true or false")
        }
        return number.boolValue
    }

    public mutating func double(_ name: String, in range: ClosedRange<Double>) throws(HarnessError) -> Double {
        guard let number = Self.number(try raw(name)) else { throw fail(name, "expected a number") }
        let double = number.doubleValue
        guard double.isFinite, range.contains(double) else {
            throw fail(name, "\(double) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return double
    }

    public mutating func integer(_ name: String, in range: ClosedRange<Int>) throws(HarnessError) -> Int {
        let value = try double(name, in: Double(range.lowerBound)...Double(range.upperBound))
        guard value == value.rounded() else { throw fail(name, "expected a whole number, got \(value)") }
        return Int(value)
    }

    public mutating func unsigned64(_ name: String) throws(HarnessError) -> UInt64 {
        guard let number = Self.number(try raw(name)), number.doubleValue >= 0,
              number.doubleValue == number.doubleValue.rounded(), number.doubleValue < 0x1p64 else {
            throw fail(name, "expected a whole number from 0 to \(UInt64.max)")
        }
        return number.uint64Value
    }

    public mutating func doubles(_ name: String) throws(HarnessError) -> [Double] {
        guard let array = try raw(name) as? [Any] else { throw fail(name, "expected an array of numbers") }
        var result: [Double] = []
        for (i, element) in array.enumerated() {
            guard let number = Self.number(element), number.doubleValue.isFinite else {
                throw fail(name, "element \(i) is not a number")
            }
            result.append(number.doubleValue)
        }
        return result
    }

    /// An array of arrays of numbers (rows of a table).
    public mutating func doubleRows(_ name: String) throws(HarnessError) -> [[Double]] {
        guard let array = try raw(name) as? [Any] else { throw fail(name, "expected an array of arrays of numbers") }
        var rows: [[Double]] = []
        for (r, row) in array.enumerated() {
            guard let elements = row as? [Any] else { throw fail(name, "row \(r) is not an array") }
            var values: [Double] = []
            for (i, element) in elements.enumerated() {
                guard let number = Self.number(element), number.doubleValue.isFinite else {
                    throw fail(name, "row \(r) element \(i) is not a number")
                }
                values.append(number.doubleValue)
            }
            rows.append(values)
        }
        return rows
    }

    /// An object whose values are all strings (any keys).
    public mutating func strings(_ name: String) throws(HarnessError) -> [String: String] {
        guard let dictionary = try raw(name) as? [String: Any] else { throw fail(name, "expected an object of strings") }
        var result: [String: String] = [:]
        for (key, value) in dictionary {
            guard let string = value as? String else { throw HarnessError("\(file): '\(self.key(name)).\(key)': expected a string") }
            result[key] = string
        }
        return result
    }

    public mutating func object(_ name: String) throws(HarnessError) -> StrictJSONObject {
        guard let dictionary = try raw(name) as? [String: Any] else { throw fail(name, "expected an object") }
        return StrictJSONObject(values: dictionary, path: key(name), file: file)
    }

    /// Fails on the first key (in sorted order) that was never read.
    public func finish() throws(HarnessError) {
        if let unknown = values.keys.sorted().first(where: { !used.contains($0) }) {
            throw HarnessError("\(file): '\(key(unknown))': unknown key")
        }
    }
}
