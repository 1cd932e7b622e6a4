// The firmware as it runs when its peripherals are CAN nodes: a control loop on a
// CANLinkedBoard, configured for a scenario's pack, one step per 1 ms tick. `replay`, `run
// --can` and the tests drive it; only the link (log queue, SocketCAN) and the clock differ.
import Firmware
import HAL

/// A link fed by its owner (a log being replayed, a wire in a test): frames queued for receive;
/// sends always succeed and are kept in `sent` when `keepsSent` (the owner takes them).
public struct QueueLink: CANBus {
    var incoming: [CANFrame] = []
    var next = 0
    public var keepsSent = false
    public private(set) var sent: [CANFrame] = []
    public init(keepsSent: Bool = false) { self.keepsSent = keepsSent }
    /// The frames sent since the last call.
    public mutating func takeSent() -> [CANFrame] {
        defer { sent.removeAll(keepingCapacity: true) }
        return sent
    }
    /// Queues `frame` to be received.
    public mutating func deliver(_ frame: CANFrame) {
        if next == incoming.count { incoming.removeAll(keepingCapacity: true); next = 0 }
        incoming.append(frame)
    }
    public mutating func send(_ frame: CANFrame) throws(LinkFailure) {
        if keepsSent { sent.append(frame) }
    }
    public mutating func receive() throws(LinkFailure) -> CANFrame? {
        guard next < incoming.count else { return nil }
        defer { next += 1 }
        return incoming[next]
    }
}

/// The firmware on a CAN-linked board.
public struct LinkedFirmware<Link: CANBus> {
    public var loop: ControlLoop<CANLinkedBoard<Link>>

    /// The firmware configured for `pack` (what `simulate` configures for the same pack).
    /// `store` is the board's non-volatile memory (a state file's for `run --state`), read as the
    /// loop starts.
    public init(pack: PackDesign, link: Link, clock: BoardClock, store: InMemoryStore = InMemoryStore()) throws(HarnessError) {
        let configuration = try FirmwareSetup.configuration(for: pack)
        let board = CANLinkedBoard(link: link, cellCount: pack.seriesCount, temperatureSensorCount: pack.temperatureSensorCells.count,
                                   clock: clock, store: store)
        do {
            loop = try ControlLoop(board: board, configuration: configuration, estimation: FirmwareSetup.estimation(for: pack))
        } catch {
            throw HarnessError("the firmware rejected the configuration: \(error.explanation)")
        }
    }

    /// One tick at `now`: what the link holds goes to the peripherals and the inbox, the loop
    /// ticks, the I/O command goes out when due.
    public mutating func step(now: Instant) {
        loop.board.pump(now: now)
        loop.tick(now: now)
        loop.board.sendCommands(now: now)
    }

    /// Whether frames the firmware sends are kept in `loop.board.canBus.sent` (cleared by the owner).
    public var recordsSent: Bool {
        get { loop.board.canBus.recordsSent }
        set { loop.board.canBus.recordsSent = newValue }
    }
}
