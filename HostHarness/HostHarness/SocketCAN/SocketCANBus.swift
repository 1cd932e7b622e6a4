// The HAL's CANBus on Linux SocketCAN: one non-blocking PF_CAN/CAN_RAW socket bound to one
// interface (can0 on the SBC, vcan0 in tests), classic and FD frames, error frames reported.
import Glibc
import HAL

/// Why a CAN interface could not be opened: one line each, saying what to do about it.
public enum SocketCANError: Error, Equatable, Sendable, CustomStringConvertible {
    /// socket(PF_CAN, SOCK_RAW, CAN_RAW) failed: the kernel has no CAN (EAFNOSUPPORT) or no
    /// CAN_RAW protocol (EPROTONOSUPPORT).
    case kernelHasNoCAN(Errno)
    /// No network interface has this name (or the name cannot be one).
    case noSuchInterface(String)
    /// The interface exists but is not a CAN device (bind gave ENODEV).
    case notACANInterface(String)
    /// The interface exists and is CAN, but it is down (it would report ENETDOWN).
    case interfaceDown(String)
    /// The kernel refused an operation (EPERM/EACCES).
    case permissionDenied(interface: String, operation: String)
    /// Any other failure of a system call.
    case systemCall(interface: String, operation: String, Errno)

    public var description: String {
        switch self {
        case .kernelHasNoCAN(let error):
            return "this kernel has no SocketCAN (socket(PF_CAN, SOCK_RAW, CAN_RAW): \(error)): load it with "
                + "`modprobe can-raw` (and `modprobe vcan` for a test bus), or run inside the project's CAN VM: "
                + "HostHarness/Scripts/run-in-can-vm.sh -- COMMAND"
        case .noSuchInterface(let name):
            return "no CAN interface '\(name)' (ip link show; for a test bus: "
                + "ip link add dev vcan0 type vcan && ip link set vcan0 up)"
        case .notACANInterface(let name):
            return "'\(name)' is not a CAN interface (ip -details link show \(name))"
        case .interfaceDown(let name):
            return "CAN interface '\(name)' is down (ip link set \(name) up; a real controller needs its "
                + "bitrate first: ip link set \(name) type can bitrate 500000)"
        case .permissionDenied(let name, let operation):
            return "permission denied opening CAN interface '\(name)' (\(operation)): run as root or with CAP_NET_RAW"
        case .systemCall(let name, let operation, let error):
            return "cannot open CAN interface '\(name)': \(operation): \(error)"
        }
    }
}

/// A failed send or receive on an open SocketCANBus, with the HAL kind the firmware counts.
public enum SocketCANFailure: HALFailure, Equatable, Sendable, CustomStringConvertible {
    /// write(2) failed. Kind: EAGAIN/ENOBUFS `.wouldBlock` (socket or device queue full: retry
    /// later); ENETDOWN `.busOff` (the interface went down, and a controller the driver takes off
    /// the bus is brought down the same way: either way nothing is sent until someone restarts
    /// it); EINVAL `.invalidRequest` (e.g. an FD frame on a classic-only interface); else `.other`.
    case send(Errno)
    /// read(2) failed (EAGAIN is not a failure: `receive` returns nil). ENETDOWN `.busOff`,
    /// else `.other`.
    case receive(Errno)
    /// The driver reported an error frame. Kind: `.busOff` for CAN_ERR_BUSOFF, `.timeout` for
    /// CAN_ERR_TX_TIMEOUT, else `.other`. Only `receive()` throws it; `receiveEvent()` returns it.
    case errorFrame(CANErrorFrame)
    /// A read or write moved a byte count that is not a CAN frame (never seen from Linux).
    case unexpectedSize(Int)
    /// A received frame's `len` does not fit its format (more than 8 classic or 64 FD bytes).
    case invalidLength(UInt8)

    public var kind: HALErrorKind {
        switch self {
        case .send(let error):
            switch error.rawValue {
            case EAGAIN, EWOULDBLOCK, ENOBUFS: return .wouldBlock
            case ENETDOWN: return .busOff
            case EINVAL: return .invalidRequest
            default: return .other
            }
        case .receive(let error):
            return error.rawValue == ENETDOWN ? .busOff : .other
        case .errorFrame(let frame):
            if frame.errorClass.contains(.busOff) { return .busOff }
            if frame.errorClass.contains(.transmitTimeout) { return .timeout }
            return .other
        case .unexpectedSize, .invalidLength:
            return .other
        }
    }

    /// The error frame's classes, when this failure is one (for a log line).
    public var errorClass: CANErrorClass? {
        if case .errorFrame(let frame) = self { return frame.errorClass }
        return nil
    }

    public var description: String {
        switch self {
        case .send(let error): return "CAN send: \(error)"
        case .receive(let error): return "CAN receive: \(error)"
        case .errorFrame(let frame): return "CAN error frame: \(frame)"
        case .unexpectedSize(let count): return "CAN: \(count) bytes is not a CAN frame (16 or 72)"
        case .invalidLength(let length): return "CAN: received frame with invalid length \(length)"
        }
    }
}

/// One CAN interface through a non-blocking CAN_RAW socket with CAN FD and error frames on.
///
/// Error frames: `receiveEvent()` returns them as `.error` next to `.frame`, for tools that log
/// bus state; `receive()`, the HAL call the firmware uses, throws them as
/// `SocketCANFailure.errorFrame` so that a bus-off reaches the firmware as a `.busOff` failure
/// through the only channel the HAL has (the next call goes on with the next frame, nothing is
/// lost). A separate event call keeps the common path free of error handling for callers that
/// want both, while the HAL contract stays a plain "frame or nil".
///
/// Copies share the socket; it is closed when the last copy goes away.
public struct SocketCANBus: CANBus, Sendable {
    /// The interface name, e.g. "can0".
    public let interface: String
    /// The kernel's index of the interface.
    public let interfaceIndex: Int32
    let socket: FileDescriptor

    /// The socket's descriptor, e.g. for an event loop's own poll (still owned by this value).
    public var fileDescriptor: Int32 { socket.rawValue }

    /// Opens a CAN_RAW socket on `interface`: non-blocking, CAN FD frames on, all error classes
    /// on, a receive buffer of `receiveBufferBytes` (SO_RCVBUFFORCE when allowed, else SO_RCVBUF,
    /// which the kernel caps at net.core.rmem_max), bound to the interface, which must be up.
    public init(interface: String, receiveBufferBytes: Int = 4 << 20) throws(SocketCANError) {
        precondition(receiveBufferBytes > 0, "SocketCANBus: receive buffer must be positive")
        self.interface = interface
        // IFNAMSIZ is 16 including the NUL; '/' and NUL never occur in interface names.
        guard !interface.isEmpty, interface.utf8.count < Int(IFNAMSIZ),
              !interface.utf8.contains(0), !interface.contains("/") else { throw .noSuchInterface(interface) }

        func failure(_ operation: String, _ error: Errno) -> SocketCANError {
            switch error.rawValue {
            case EPERM, EACCES: return .permissionDenied(interface: interface, operation: operation)
            default: return .systemCall(interface: interface, operation: operation, error)
            }
        }
        do {
            socket = try CANSocket.open()
        } catch {
            switch error.rawValue {
            case EAFNOSUPPORT, EPROTONOSUPPORT: throw .kernelHasNoCAN(error)
            default: throw failure("socket(PF_CAN, SOCK_RAW, CAN_RAW)", error)
            }
        }
        do {
            try socket.setOption(level: CANSocket.rawLevel, name: CANSocket.fdFrames, Int32(1))
        } catch { throw failure("setsockopt(CAN_RAW_FD_FRAMES)", error) }
        let bytes = Int32(clamping: receiveBufferBytes)
        do {
            try socket.setOption(level: SOL_SOCKET, name: SO_RCVBUFFORCE, bytes)
        } catch {
            guard error.rawValue == EPERM else { throw failure("setsockopt(SO_RCVBUFFORCE)", error) }
            do { try socket.setOption(level: SOL_SOCKET, name: SO_RCVBUF, bytes) }
            catch { throw failure("setsockopt(SO_RCVBUF)", error) }
        }
        do {
            try socket.setOption(level: CANSocket.rawLevel, name: CANSocket.errorFilter, SocketCANWireFormat.errorMask)
        } catch { throw failure("setsockopt(CAN_RAW_ERR_FILTER)", error) }
        do {
            interfaceIndex = try CANSocket.index(of: interface)
        } catch {
            if error.rawValue == ENODEV || error.rawValue == ENXIO { throw .noSuchInterface(interface) }
            throw failure("if_nametoindex", error)
        }
        do {
            try CANSocket.bind(socket, interfaceIndex: interfaceIndex)
        } catch {
            if error.rawValue == ENODEV { throw .notACANInterface(interface) }
            throw failure("bind", error)
        }
        // Binding to a down interface succeeds (the socket then reports ENETDOWN once), so the
        // state is asked for explicitly.
        let up: Bool
        do { up = try CANSocket.isUp(socket, interface: interface) } catch { throw failure("ioctl(SIOCGIFFLAGS)", error) }
        guard up else { throw .interfaceDown(interface) }
    }

    /// Writes `frame`: classic frames as a 16-byte `struct can_frame`, FD frames as a 72-byte
    /// `struct canfd_frame` (see `SocketCANFailure.send` for the kinds).
    public func send(_ frame: CANFrame) throws(SocketCANFailure) {
        var (wire, count) = SocketCANWireFormat.wire(frame)
        let written: Int
        do {
            written = try withUnsafeBytes(of: &wire) { buffer throws(Errno) in
                try socket.write(UnsafeRawBufferPointer(rebasing: buffer.prefix(count)))
            }
        } catch { throw .send(error) }
        guard written == count else { throw .unexpectedSize(written) }
    }

    /// The next received frame, nil when none is pending; an error frame is thrown as
    /// `SocketCANFailure.errorFrame` (see the type's comment).
    public func receive() throws(SocketCANFailure) -> CANFrame? {
        switch try receiveEvent() {
        case .frame(let frame): return frame
        case .error(let errorFrame): throw .errorFrame(errorFrame)
        case nil: return nil
        }
    }

    /// The next frame or error frame, nil when nothing is pending.
    public func receiveEvent() throws(SocketCANFailure) -> SocketCANEvent? {
        var wire = WireFrame()
        let count: Int
        do {
            count = try withUnsafeMutableBytes(of: &wire) { buffer throws(Errno) in try socket.read(into: buffer) }
        } catch {
            if error.rawValue == EAGAIN || error.rawValue == EWOULDBLOCK { return nil }
            throw .receive(error)
        }
        return try SocketCANWireFormat.event(wire, byteCount: count)
    }

    /// Waits until something can be received (a frame, an error frame, or a socket error) or
    /// `timeout` has passed (rounded up to whole milliseconds; zero or negative: just checks).
    /// False on time-out, and also if poll itself fails (ENOMEM), after which the caller just
    /// goes on with its loop.
    public func waitReadable(timeout: Microseconds) -> Bool {
        let clock = MonotonicClock()
        let deadline = timeout > .zero ? clock.now() + timeout : .origin
        let events: Int16
        do {
            events = try socket.poll(events: Int16(POLLIN)) {
                guard timeout > .zero else { return 0 }
                let left = max(0, (deadline - clock.now()).rawValue)
                return Int32(clamping: (left + 999) / 1_000)
            }
        } catch { return false }
        return events & Int16(POLLIN | POLLERR | POLLHUP) != 0
    }
}

/// The PF_CAN-specific calls and constants (linux/can.h, linux/can/raw.h), one shim each.
enum CANSocket {
    static let rawProtocol: Int32 = 1                  // CAN_RAW
    static let rawLevel: Int32 = 101                   // SOL_CAN_RAW = SOL_CAN_BASE + CAN_RAW
    static let errorFilter: Int32 = 2                  // CAN_RAW_ERR_FILTER
    static let fdFrames: Int32 = 5                     // CAN_RAW_FD_FRAMES

    /// `struct sockaddr_can` (24 bytes): family, interface index, and a protocol union unused by CAN_RAW.
    struct Address {
        var family = UInt16(AF_CAN)
        var padding: UInt16 = 0
        var interfaceIndex: Int32 = 0
        var protocolAddress: (UInt64, UInt64) = (0, 0)
    }

    /// socket(PF_CAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_RAW).
    static func open() throws(Errno) -> FileDescriptor {
        let type = Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        return FileDescriptor(adopting: try retryingOnInterrupt { Glibc.socket(PF_CAN, type, rawProtocol) })
    }

    /// if_nametoindex(name), which reports a missing interface as 0 with ENODEV.
    static func index(of name: String) throws(Errno) -> Int32 {
        let index = if_nametoindex(name)
        guard index != 0 else { throw errno == 0 ? Errno(ENODEV) : Errno.current }
        return Int32(bitPattern: index)
    }

    /// bind(fd, sockaddr_can{AF_CAN, index}).
    static func bind(_ socket: FileDescriptor, interfaceIndex: Int32) throws(Errno) {
        precondition(MemoryLayout<Address>.size == 24, "SocketCAN: Address does not match struct sockaddr_can")
        var address = Address(interfaceIndex: interfaceIndex)
        _ = try retryingOnInterrupt {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(socket.rawValue, $0, socklen_t(MemoryLayout<Address>.size))
                }
            }
        }
    }

    /// Whether the interface is administratively up (ioctl SIOCGIFFLAGS, IFF_UP).
    static func isUp(_ socket: FileDescriptor, interface: String) throws(Errno) -> Bool {
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { name in
            for (i, byte) in interface.utf8.enumerated() { name[i] = byte }
        }
        try socket.control(UInt(SIOCGIFFLAGS), &request)
        return Int(request.ifr_ifru.ifru_flags) & IFF_UP != 0
    }
}
