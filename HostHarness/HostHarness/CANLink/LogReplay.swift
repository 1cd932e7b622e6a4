// `replay`'s engine: a candump log's input frames through the firmware on a CAN-linked board,
// with the log's timing — one tick every millisecond from the first frame, each frame delivered
// to the first tick at or after its timestamp — and the firmware's outputs as log lines
// timestamped on the same time base. Pure simulated time: the same log gives the same bytes.
import Firmware
import HAL

public struct LogReplay {
    /// What a replay did.
    public struct Summary: Sendable {
        /// Input frames delivered to the firmware (everything not sent by the BMS).
        public var inputFrames = 0
        /// Frames the BMS sent in the log (compared with `--compare`, never delivered).
        public var loggedOutputFrames = 0
        /// Error frames in the log (not delivered: a log cannot recreate a bus state).
        public var errorFrames = 0
        /// Frames the firmware sent.
        public var outputFrames = 0
        public var ticks: UInt64 = 0
        /// Measurement frames the board refused (CRC, counter, length).
        public var refusedFrames = 0
        /// Simulated time from the first frame to the last tick (µs).
        public var duration = Microseconds.zero
    }

    public private(set) var firmware: LinkedFirmware<QueueLink>
    public private(set) var summary = Summary()
    /// The first frame's time: tick 0 runs at it (µs on the log's clock).
    var origin: Int64? = nil
    var nextTick: Int64 = 0
    var lastInput: Int64 = 0
    var interface = "can0"
    /// The BMS frames of the log, per identifier, for the comparison (nil: not compared).
    public private(set) var logged: [UInt32: [LoggedFrame]]? = nil

    /// A replay through the firmware configured for `pack`; `compare` keeps the log's own BMS
    /// frames for `compare(with:)`.
    public init(pack: PackDesign, compare: Bool) throws(HarnessError) {
        firmware = try LinkedFirmware(pack: pack, link: QueueLink(), clock: .simulated)
        firmware.recordsSent = true
        if compare { logged = [:] }
    }

    /// µs on the log's clock (nanoseconds truncated).
    static func microseconds(_ t: LoggedFrame.Timestamp) -> Int64 {
        Int64(bitPattern: t.seconds) &* 1_000_000 &+ Int64(t.nanoseconds / 1_000)
    }

    static func timestamp(_ microseconds: Int64) -> LoggedFrame.Timestamp {
        let us = UInt64(max(0, microseconds))
        return LoggedFrame.Timestamp(seconds: us / 1_000_000, microseconds: UInt32(us % 1_000_000))
    }

    /// Takes the next line of the log; runs the ticks that come before it. Outputs go to `output`.
    public mutating func feed(_ line: LoggedFrame, output: (LoggedFrame) -> Void) {
        let t = LogReplay.microseconds(line.timestamp)
        if origin == nil {
            origin = t
            nextTick = t
            interface = line.interface
        }
        guard case .frame(let frame) = line.content else {
            summary.errorFrames += 1
            return
        }
        if CANMatrix.isSentByBMS(frame.id) {
            summary.loggedOutputFrames += 1
            if logged != nil { logged![DBCDecoder.key(frame.id.rawValue, extended: frame.id.isExtended), default: []].append(line) }
            return
        }
        while nextTick < t { tick(output: output) }
        firmware.loop.board.canBus.link.deliver(frame)
        summary.inputFrames += 1
        lastInput = t
    }

    /// Runs the ticks up to the last input frame's time (call once, after the last line).
    public mutating func finish(output: (LoggedFrame) -> Void) {
        guard origin != nil else { return }
        while nextTick <= lastInput { tick(output: output) }
        summary.refusedFrames = firmware.loop.board.refusedFrames
    }

    mutating func tick(output: (LoggedFrame) -> Void) {
        let now = Instant(microsecondsSinceOrigin: nextTick - origin!)
        firmware.step(now: now)
        let stamp = LogReplay.timestamp(nextTick)
        for frame in firmware.loop.board.canBus.sent {
            output(LoggedFrame(timestamp: stamp, interface: interface, content: .frame(frame), direction: nil))
        }
        summary.outputFrames += firmware.loop.board.canBus.sent.count
        firmware.loop.board.canBus.clearSent()
        summary.ticks += 1
        summary.duration = Microseconds(nextTick - origin!)
        nextTick += ControlLoopTiming.tickPeriod.rawValue
    }
}

/// The firmware's outputs against the BMS frames of the log, message by message: the n-th frame
/// of an identifier from the firmware against the n-th in the log.
public struct ReplayComparison: Sendable {
    /// One frame that differs (or exists on one side only).
    public struct Difference: Sendable {
        public var identifier: UInt32
        public var logged: LoggedFrame?
        public var replayed: LoggedFrame?
    }
    public var compared = 0
    public var identical = 0
    /// Frames of an identifier beyond the other side's count.
    public var onlyInLog = 0
    public var onlyReplayed = 0
    public var differing = 0
    /// The first differences in time order (at most `keep`).
    public var first: [Difference] = []
    /// The largest timestamp difference between paired frames (µs).
    public var largestTimeShift: Int64 = 0
    public var isIdentical: Bool { differing == 0 && onlyInLog == 0 && onlyReplayed == 0 }

    public init(logged: [UInt32: [LoggedFrame]], replayed: [UInt32: [LoggedFrame]], keep: Int = 10) {
        var all: [Difference] = []
        for key in Set(logged.keys).union(replayed.keys) {
            let a = logged[key] ?? [], b = replayed[key] ?? []
            for i in 0..<max(a.count, b.count) {
                let x = i < a.count ? a[i] : nil, y = i < b.count ? b[i] : nil
                guard let x, let y else {
                    if x != nil { onlyInLog += 1 } else { onlyReplayed += 1 }
                    all.append(Difference(identifier: key, logged: x, replayed: y))
                    continue
                }
                compared += 1
                largestTimeShift = max(largestTimeShift, abs(LogReplay.microseconds(x.timestamp) - LogReplay.microseconds(y.timestamp)))
                if x.content == y.content { identical += 1 } else {
                    differing += 1
                    all.append(Difference(identifier: key, logged: x, replayed: y))
                }
            }
        }
        func time(_ d: Difference) -> Int64 { LogReplay.microseconds((d.logged ?? d.replayed)!.timestamp) }
        first = Array(all.sorted { (time($0), $0.identifier) < (time($1), $1.identifier) }.prefix(keep))
    }
}
