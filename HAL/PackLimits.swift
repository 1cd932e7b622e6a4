// The fixed capacity of a build, declared once: how many cells and temperature sensors the
// firmware can handle. A configured pack uses up to this many.

#if BMS_16_CELLS
/// Per-cell storage for the largest pack this build supports (16 cells in series: the
/// Cortex-M4F image is built for a 16-cell pack, Docs/firmware-budget.md).
public typealias PerCell<Element: Sendable> = FixedList<16, Element>

/// The most cells in series this build supports.
public let maximumCellCount = 16
#else
/// Per-cell storage for the largest pack this build supports (32 cells in series).
public typealias PerCell<Element: Sendable> = FixedList<32, Element>

/// The most cells in series this build supports.
public let maximumCellCount = 32
#endif

/// Per-sensor storage for the largest number of temperature sensors this build supports (16).
public typealias PerTemperatureSensor<Element: Sendable> = FixedList<16, Element>

/// The most temperature sensors this build supports.
public let maximumTemperatureSensorCount = 16

/// A set of cells by index (0-based), one bit per cell; used for balancing masks and fault flags.
public struct CellSet: Equatable, Sendable {
    public var bits: UInt32
    @inline(__always) public init(bits: UInt32 = 0) { self.bits = bits }
    public static let empty = CellSet()
    public var isEmpty: Bool { bits == 0 }
    public var count: Int { bits.nonzeroBitCount }
    @inline(__always) public func contains(_ cell: Int) -> Bool {
        cell >= 0 && cell < maximumCellCount && bits & (1 &<< UInt32(truncatingIfNeeded: cell)) != 0
    }
    @inline(__always) public mutating func insert(_ cell: Int) {
        precondition(cell >= 0 && cell < maximumCellCount, "CellSet: cell index out of range")
        bits |= 1 &<< UInt32(truncatingIfNeeded: cell)
    }
    @inline(__always) public mutating func remove(_ cell: Int) {
        guard cell >= 0 && cell < maximumCellCount else { return }
        bits &= ~(1 &<< UInt32(truncatingIfNeeded: cell))
    }
}
