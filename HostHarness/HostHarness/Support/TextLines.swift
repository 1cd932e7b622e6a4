// Splitting a text file into numbered lines: "\n", "\r\n" and a lone "\r" each end a line.

extension StringProtocol {
    /// The text's lines without their "\n", "\r\n" or "\r" ends, empty lines kept (so that line
    /// numbers count them as an editor does). Swift's `Character` takes "\r\n" as one, so
    /// `split(separator: "\n")` would leave a whole CRLF file (a log saved on Windows) as one line.
    var textLines: [SubSequence] {
        split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
    }
}
