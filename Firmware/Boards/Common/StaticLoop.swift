// The loop's static storage for the images (the bench and the on-chip scenario).
import Firmware
import HAL

/// Static storage for an image's loop (.bss, zeroed at reset), owned by the image's entry point:
/// a loop this size must not live in a stack frame (Docs/firmware-budget.md). Sized per build
/// with a little room to grow; `staticLoop` stops the image with the size it needs when a loop
/// outgrows it.
/// (The scenario image's loop is larger than the bench's: its board holds the compact pack
/// model. The bench image's storage is what the firmware needs, and what `ram_bytes` counts.)
#if BMS_16_CELLS && BMS_SCENARIO_IMAGE
typealias BenchStorage = InlineArray<2032, UInt64>          // 16,256 B (the scenario's loop on the M4F: 16,127 B)
#elseif BMS_16_CELLS
typealias BenchStorage = InlineArray<2010, UInt64>          // 16,080 B (the bench's loop on the M4F: 15,951 B)
#elseif _pointerBitWidth(_64)
typealias BenchStorage = InlineArray<2896, UInt64>          // 23,168 B (bench 22,707 B, scenario 22,875 B on x86_64)
#else
typealias BenchStorage = InlineArray<2896, UInt64>          // 23,168 B (the 32-cell loops on the M4F)
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
