// The loop's static storage for the images (the bench and the on-chip scenario).
import Firmware
import HAL

/// Static storage for an image's loop (.bss, zeroed at reset), owned by the image's entry point:
/// a loop this size must not live in a stack frame (Docs/firmware-budget.md). Sized per build
/// with a little room to grow; `staticLoop` stops the image with the size it needs when a loop
/// outgrows it.
#if BMS_16_CELLS
typealias BenchStorage = InlineArray<1984, UInt64>          // 15,872 B (the loops: bench 15,676 B, scenario about 15,850 B on the M4F)
#elseif _pointerBitWidth(_64)
typealias BenchStorage = InlineArray<2800, UInt64>          // 22,400 B (bench 22,144 B, scenario about 22,320 B on x86_64)
#else
typealias BenchStorage = InlineArray<2800, UInt64>          // 22,400 B (the 32-cell loops on the M4F)
#endif
nonisolated(unsafe) var benchStorage = BenchStorage(repeating: 0)

/// A loop over `board` in `benchStorage` (the bench's or the scenario's: one per run).
func staticLoop<Board: BMSBoard>(_ board: Board.Type) -> UnsafeMutablePointer<ControlLoop<Board>> {
    if MemoryLayout<ControlLoop<Board>>.size > MemoryLayout<BenchStorage>.size {
        keyValue("loop_state_bytes_needed", MemoryLayout<ControlLoop<Board>>.size)
        fatalError("benchStorage is too small for the loop")
    }
    return withUnsafeMutablePointer(to: &benchStorage) {
        UnsafeMutableRawPointer($0).bindMemory(to: ControlLoop<Board>.self, capacity: 1)
    }
}
