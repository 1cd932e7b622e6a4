// Splitting a text file into numbered lines: "\n" and "\r\n" both end a line.

extension StringProtocol {
    /// The text's lines without their "\n" or "\r\n" ends, empty lines kept (so that line numbers
    /// count them). Swift's `Character` takes "\r\n" as one, so `split(separator: "\n")` would
    /// leave a whole CRLF file (a log saved on Windows) as one line.
    var textLines: [SubSequence] {
        split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
    }
}
