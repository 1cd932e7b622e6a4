// The harness's error type: one line that says what was wrong and where.

/// A failure the harness reports to its user as one line (and exits non-zero).
public struct HarnessError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
