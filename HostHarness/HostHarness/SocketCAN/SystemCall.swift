// The thin layer between SocketCAN/MonotonicClock and the OS: errno as a typed error, EINTR
// retried in exactly one place (`retryingOnInterrupt`), and a descriptor type that closes once.
import Glibc

/// A C `errno` value as a typed error (what a failed system call reported).
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    static var current: Errno { Errno(errno) }

    /// The C library's text plus the number, e.g. "Network is down (errno 100)".
    public var description: String { "\(String(cString: strerror(rawValue))) (errno \(rawValue))" }
}

/// Runs a system call written in the "-1 and errno" convention until it is not interrupted:
/// the result, or the errno as a typed error. The only place EINTR is handled; `body` is
/// evaluated again on each retry, so a caller can recompute a remaining timeout in it.
@inline(__always)
func retryingOnInterrupt<Result: BinaryInteger>(_ body: () -> Result) throws(Errno) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Errno.current
        if error.rawValue != EINTR { throw error }
    }
}

/// An open file descriptor, owned: closed exactly once, when the last reference goes away.
/// (A class because the HAL's `CANBus` values must be copyable; copies share the descriptor.)
final class FileDescriptor: Sendable {
    let rawValue: Int32

    init(adopting rawValue: Int32) {
        precondition(rawValue >= 0, "FileDescriptor: negative descriptor")
        self.rawValue = rawValue
    }

    // Not retried on EINTR: Linux releases the descriptor even when close is interrupted,
    // and a retry could close a descriptor another thread has just been given.
    deinit { _ = Glibc.close(rawValue) }
}

// One shim per system call on a descriptor: the C call, its "-1 and errno" result turned into
// a typed error, EINTR retried by `retryingOnInterrupt`.
extension FileDescriptor {
    /// `setsockopt(fd, level, name, &value, sizeof value)`.
    func setOption<Value: BitwiseCopyable>(level: Int32, name: Int32, _ value: Value) throws(Errno) {
        _ = try withUnsafeBytes(of: value) { option throws(Errno) in
            try retryingOnInterrupt { setsockopt(rawValue, level, name, option.baseAddress, socklen_t(option.count)) }
        }
    }

    /// `ioctl(fd, request, &argument)`, for requests that fill in a structure.
    func control<Argument>(_ request: UInt, _ argument: inout Argument) throws(Errno) {
        _ = try withUnsafeMutableBytes(of: &argument) { bytes throws(Errno) in
            try retryingOnInterrupt { ioctl(rawValue, request, bytes.baseAddress!) }
        }
    }

    /// `write(fd, bytes)`: the number of bytes written.
    func write(_ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try retryingOnInterrupt { Glibc.write(rawValue, bytes.baseAddress, bytes.count) }
    }

    /// `read(fd, buffer)`: the number of bytes read.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try retryingOnInterrupt { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// `poll` on this descriptor alone: the events that occurred (0 on time-out). `timeout` is
    /// asked again after an interruption, so it can return what is left of a deadline.
    func poll(events: Int16, timeout milliseconds: () -> Int32) throws(Errno) -> Int16 {
        var entry = pollfd(fd: rawValue, events: events, revents: 0)
        let ready = try retryingOnInterrupt { Glibc.poll(&entry, 1, milliseconds()) }
        return ready == 0 ? 0 : entry.revents
    }
}
