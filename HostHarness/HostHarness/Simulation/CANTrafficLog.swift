// A candump log written in chunks: the bus traffic of a simulation (`simulate --can-log FILE`:
// every frame the firmware sent and every frame it was sent, timestamped with simulated time) or
// the firmware's outputs of a replay, written exactly as `candump -L` writes them.
import Foundation
import HAL

/// A candump log being written in chunks (the whole log never sits in memory).
public struct CANTrafficLog {
    public let path: String
    public let interface: String
    var buffer: [UInt8] = []
    var handle: FileHandle
    public private(set) var frames = 0

    /// Creates (or truncates) the file at `path`.
    public init(path: String, interface: String = "can0") throws(HarnessError) {
        self.path = path
        self.interface = interface
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw HarnessError("cannot write the CAN log \(path)")
        }
        self.handle = handle
        buffer.reserveCapacity(1 << 20)
    }

    /// Appends one frame seen at simulated time `time` (seconds from the start of the run).
    public mutating func record(_ frame: CANFrame, at time: Instant) {
        let us = UInt64(max(0, time.microsecondsSinceOrigin))
        append(LoggedFrame(timestamp: .init(seconds: us / 1_000_000, microseconds: UInt32(us % 1_000_000)),
                           interface: interface, content: .frame(frame), direction: nil))
    }

    /// Appends one line as it is.
    public mutating func append(_ logged: LoggedFrame) {
        CandumpWriter.append(logged, to: &buffer)
        frames += 1
        if buffer.count >= 1 << 20 { flush() }
    }

    /// Writes what is buffered.
    public mutating func flush() {
        guard !buffer.isEmpty else { return }
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes the rest and closes the file.
    public mutating func close() {
        flush()
        try? handle.close()
    }
}
