// The loop's static storage for the images (the bench and the on-chip scenario).
import Firmware
import HAL

/// Static storage for an image's loop (.bss, zeroed at reset), owned by the image's entry point:
/// a loop this size must not live in a stack frame (Docs/firmware-budget.md). Sized per build
/// with a little room to grow; `staticLoop` stops the image with the size it needs when a loop
/// outgrows it.
#if BMS_16_CELLS
typealias BenchStorage = InlineArray<1780, UInt64>          // 14,240 B (the bench's loop: 14,107 B on the M4F)
#elseif _pointerBitWidth(_64)
typealias BenchStorage = InlineArray<2340, UInt64>          // 18,720 B (the bench's loop: 18,555 B on x86_64)
#else
typealias BenchStorage = InlineArray<2290, UInt64>          // 18,320 B (the bench's loop: 18,139 B on the M4F)
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
