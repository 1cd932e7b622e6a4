// The loop's static storage for the images (the bench and the on-chip scenario).
import Firmware
import HAL

/// Static storage for an image's loop (.bss, zeroed at reset), owned by the image's entry point:
/// a loop this size must not live in a stack frame (Docs/firmware-budget.md). Sized per build
/// with a little room to grow; `staticLoop` stops the image with the size it needs when a loop
/// outgrows it.
#if BMS_16_CELLS
typealias BenchStorage = InlineArray<1740, UInt64>          // 13,920 B (the loops: bench 13,603 B, scenario 13,779 B on the M4F)
#elseif _pointerBitWidth(_64)
typealias BenchStorage = InlineArray<2296, UInt64>          // 18,368 B (bench 18,059 B, scenario 18,227 B on x86_64)
#else
typealias BenchStorage = InlineArray<2244, UInt64>          // 17,952 B (bench 17,635 B, scenario 17,811 B on the M4F)
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
