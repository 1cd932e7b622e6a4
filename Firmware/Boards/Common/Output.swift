// Prints `key=value` lines with StaticString and integers only (no String, no heap), for the
// Embedded host executable and the bare-metal images alike.

/// `key=value` for an integer of at most a word: one printer for signed and one for unsigned
/// values (a `print` per integer type cost 150 B of flash each on the Cortex-M4F).
func keyValue<T: FixedWidthInteger>(_ key: StaticString, _ value: T) {
    precondition(T.bitWidth <= Int.bitWidth, "keyValue: integers of at most a word")
    print(key, terminator: "=")
    if T.isSigned { printLine(Int(truncatingIfNeeded: value)) } else { printLine(UInt(truncatingIfNeeded: value)) }
}

@inline(never) func printLine(_ value: Int) { print(value) }
@inline(never) func printLine(_ value: UInt) { print(value) }
