// Prints `key=value` lines with StaticString and integers only (no String, no heap), for the
// Embedded host executable and the bare-metal images alike.

func keyValue<T: FixedWidthInteger>(_ key: StaticString, _ value: T) {
    print(key, terminator: "=")
    print(value)
}
