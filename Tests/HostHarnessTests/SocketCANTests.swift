// SocketCANBus and its wire format. The open errors and the byte layouts are checked on any
// kernel; real traffic on vcan0 only inside the CAN VM (CANVM=1, set by
// HostHarness/Scripts/run-in-can-vm.sh; `make can-vm-test` runs these suites there).
import Foundation
import Glibc
import HAL
import HostHarness
import Testing

/// What the environment offers: a kernel with CAN, and the CAN VM's vcan0.
enum SocketCANEnvironment {
    /// Whether socket(PF_CAN, SOCK_RAW, CAN_RAW) works here, asked without SocketCANBus.
    static let kernelHasCAN: Bool = {
        let fd = socket(AF_CAN, Int32(SOCK_RAW.rawValue), 1)
        if fd >= 0 { close(fd); return true }
        return false
    }()
    /// Set by run-in-can-vm.sh in the guest.
    static let insideCANVM = ProcessInfo.processInfo.environment["CANVM"] == "1"
    /// The VM-only tests run when the VM says so and vcan0 opens.
    static let vcan0Available = insideCANVM && (try? SocketCANBus(interface: "vcan0")) != nil
}

@Suite struct SocketCANOpenTests {
    @Test func reportsAKernelWithoutCANOrAMissingInterface() throws {
        if !SocketCANEnvironment.kernelHasCAN {
            // The host of this project: CONFIG_CAN is not set, socket() gives EAFNOSUPPORT (97).
            let error = #expect(throws: SocketCANError.kernelHasNoCAN(Errno(EAFNOSUPPORT))) {
                _ = try SocketCANBus(interface: "vcan0")
            }
            let message = try #require(error).description
            #expect(message.hasPrefix("this kernel has no SocketCAN"))
            #expect(message.contains("modprobe can-raw"))
            #expect(message.contains("HostHarness/Scripts/run-in-can-vm.sh"))
            #expect(!message.contains("\n"))
        } else {
            let error = #expect(throws: SocketCANError.noSuchInterface("nosuchcan9")) {
                _ = try SocketCANBus(interface: "nosuchcan9")
            }
            #expect(error?.description == "no CAN interface 'nosuchcan9' (ip link show; for a test bus: "
                + "ip link add dev vcan0 type vcan && ip link set vcan0 up)")
        }
    }

    @Test(arguments: ["", "sixteen-chars-xx", "can/0"])
    func rejectsNamesNoInterfaceCanHave(name: String) {
        #expect(throws: SocketCANError.noSuchInterface(name)) { _ = try SocketCANBus(interface: name) }
    }

    @Test func everyOpenErrorIsOneLine() {
        let errors: [SocketCANError] = [
            .kernelHasNoCAN(Errno(EAFNOSUPPORT)), .noSuchInterface("can0"), .notACANInterface("lo"),
            .interfaceDown("can0"), .permissionDenied(interface: "can0", operation: "bind"),
            .systemCall(interface: "can0", operation: "bind", Errno(EADDRINUSE)),
        ]
        #expect(Set(errors.map(\.description)).count == errors.count)
        for error in errors { #expect(!error.description.contains("\n")) }
        #expect(SocketCANError.interfaceDown("can0").description.hasPrefix("CAN interface 'can0' is down"))
    }

    /// A VM whose vcan0 does not open must fail the run, not skip the VM tests silently.
    @Test(.enabled(if: SocketCANEnvironment.insideCANVM)) func theCANVMHasVcan0() throws {
        _ = try SocketCANBus(interface: "vcan0")
    }
}

@Suite struct SocketCANWireFormatTests {
    static func frame(_ id: CANIdentifier, _ format: CANFrameFormat = .classic, _ payload: [UInt8]) -> CANFrame {
        var frame = CANFrame(id: id, format: format, length: payload.count)!
        if format != .classicRemote { for (i, byte) in payload.enumerated() { frame[i] = byte } }
        return frame
    }

    @Test func classicStandardFrameIsA16ByteCanFrame() {
        let bytes = SocketCANWireFormat.bytes(of: Self.frame(CANIdentifier(standard: 0x123)!, .classic, [0xDE, 0xAD, 0xBE]))
        #expect(bytes == [0x23, 0x01, 0x00, 0x00, 3, 0, 0, 0, 0xDE, 0xAD, 0xBE, 0, 0, 0, 0, 0])
    }

    @Test func extendedIdentifierSetsCAN_EFF_FLAG() {
        let bytes = SocketCANWireFormat.bytes(of: Self.frame(CANIdentifier(extended: 0x1ABC_DEF0)!, .classic, [1]))
        #expect(Array(bytes.prefix(5)) == [0xF0, 0xDE, 0xBC, 0x9A, 1])   // 0x1ABCDEF0 | 0x80000000
    }

    @Test func remoteFrameSetsCAN_RTR_FLAGAndCarriesTheDLCInLen() {
        let bytes = SocketCANWireFormat.bytes(of: Self.frame(CANIdentifier(standard: 0x7FF)!, .classicRemote, [0, 0, 0, 0]))
        #expect(bytes.count == 16)
        #expect(Array(bytes.prefix(5)) == [0xFF, 0x07, 0x00, 0x40, 4])
        #expect(bytes[8...].allSatisfy { $0 == 0 })
    }

    @Test func fdFrameIsA72ByteCanfdFrameWithFDFAndBRS() {
        let payload = (0..<64).map { UInt8($0) }
        let bytes = SocketCANWireFormat.bytes(of: Self.frame(CANIdentifier(standard: 0x10)!, .fd(bitRateSwitch: true, errorStateIndicator: false), payload))
        #expect(bytes.count == 72)
        #expect(Array(bytes.prefix(8)) == [0x10, 0, 0, 0, 64, 0x05, 0, 0])
        #expect(Array(bytes[8...]) == payload)
    }

    @Test func decodesWhatItEncodes() throws {
        let frames = [
            Self.frame(CANIdentifier(standard: 0x123)!, .classic, [1, 2, 3, 4, 5, 6, 7, 8]),
            Self.frame(CANIdentifier(extended: 0x18FF_50E5)!, .classic, []),
            Self.frame(CANIdentifier(extended: 0x0000_0001)!, .classicRemote, [0, 0]),
            Self.frame(CANIdentifier(standard: 0x0)!, .fd(bitRateSwitch: false, errorStateIndicator: true), Array(repeating: 0xA5, count: 12)),
            Self.frame(CANIdentifier(extended: 0x1FFF_FFFF)!, .fd(bitRateSwitch: true, errorStateIndicator: true), [9]),
        ]
        for frame in frames {
            #expect(try SocketCANWireFormat.event(fromBytes: SocketCANWireFormat.bytes(of: frame)) == .frame(frame))
        }
    }

    @Test func fdLengthBetweenDLCStepsIsRoundedUpWithZeroPadding() throws {
        var bytes = [UInt8](repeating: 0, count: 72)
        bytes[0] = 0x42; bytes[4] = 13; bytes[5] = 0x04
        for i in 0..<13 { bytes[8 + i] = 0xEE }
        guard case .frame(let frame) = try SocketCANWireFormat.event(fromBytes: bytes) else { Issue.record("not a frame"); return }
        #expect(frame.length == 16)
        #expect((0..<16).map { frame[$0] } == Array(repeating: 0xEE, count: 13) + [0, 0, 0])
    }

    @Test func busOffErrorFrameIsABusOffFailureWithItsClasses() throws {
        // can_id = CAN_ERR_FLAG | CAN_ERR_BUSOFF | CAN_ERR_CRTL, data[1] = CAN_ERR_CRTL_TX_PASSIVE.
        let bytes: [UInt8] = [0x44, 0x00, 0x00, 0x20, 8, 0, 0, 0, 0x00, 0x20, 0, 0, 0, 0, 0, 0]
        let event = try SocketCANWireFormat.event(fromBytes: bytes)
        guard case .error(let errorFrame) = event else { Issue.record("not an error frame: \(event)"); return }
        #expect(errorFrame.errorClass == [.busOff, .controller])
        #expect(errorFrame.data[1] == 0x20)
        let failure = SocketCANFailure.errorFrame(errorFrame)
        #expect(failure.kind == .busOff)
        #expect(failure.errorClass == [.busOff, .controller])
        #expect(failure.description == "CAN error frame: controller+busOff [00 20 00 00 00 00 00 00]")
    }

    @Test(arguments: [(CANErrorClass.transmitTimeout, HALErrorKind.timeout), (.noAcknowledge, .other),
                      ([.busOff, .transmitTimeout], .busOff), (.protocolViolation, .other)] as [(CANErrorClass, HALErrorKind)])
    func errorFrameKinds(errorClass: CANErrorClass, kind: HALErrorKind) {
        #expect(SocketCANFailure.errorFrame(CANErrorFrame(errorClass: errorClass)).kind == kind)
    }

    @Test(arguments: [(EAGAIN, HALErrorKind.wouldBlock), (ENOBUFS, .wouldBlock), (ENETDOWN, .busOff),
                      (EINVAL, .invalidRequest), (EIO, .other)] as [(Int32, HALErrorKind)])
    func sendErrnoKinds(errno: Int32, kind: HALErrorKind) {
        #expect(SocketCANFailure.send(Errno(errno)).kind == kind)
    }

    @Test func aReadThatIsNotAFrameSizeIsRejected() {
        #expect(throws: SocketCANFailure.unexpectedSize(8)) { try SocketCANWireFormat.event(fromBytes: Array(repeating: 0, count: 8)) }
    }
}

/// Real traffic on vcan0 in the CAN VM. Serialized: all tests share the one bus, and a socket
/// sees every frame sent on it while it is open.
@Suite(.serialized, .enabled(if: SocketCANEnvironment.vcan0Available, "needs vcan0: make can-vm-test"))
struct SocketCANVMTests {
    let sender: SocketCANBus
    let receiver: SocketCANBus

    init() throws {
        sender = try SocketCANBus(interface: "vcan0")
        receiver = try SocketCANBus(interface: "vcan0")
    }

    /// The next frame on `bus` within 2 s, or nil.
    func next(on bus: SocketCANBus) throws -> CANFrame? {
        let deadline = MonotonicClock().now() + .seconds(2)
        while MonotonicClock().now() < deadline {
            if let frame = try bus.receive() { return frame }
            _ = bus.waitReadable(timeout: deadline - MonotonicClock().now())
        }
        return nil
    }

    func roundTrip(_ frame: CANFrame) throws {
        try sender.send(frame)
        #expect(try next(on: receiver) == frame)
        #expect(try receiver.receive() == nil)
        #expect(try sender.receive() == nil)   // a socket does not receive its own frames
    }

    @Test(arguments: [CANIdentifier(standard: 0x123)!, CANIdentifier(standard: 0x7FF)!,
                      CANIdentifier(extended: 0x18FF_50E5)!, CANIdentifier(extended: 0x1FFF_FFFF)!])
    func classicFrameRoundTrips(id: CANIdentifier) throws {
        try roundTrip(SocketCANWireFormatTests.frame(id, .classic, [0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4]))
    }

    @Test func zeroLengthFrameRoundTrips() throws {
        try roundTrip(SocketCANWireFormatTests.frame(CANIdentifier(standard: 0x001)!, .classic, []))
    }

    @Test func remoteFrameRoundTripsWithItsDLC() throws {
        try roundTrip(SocketCANWireFormatTests.frame(CANIdentifier(extended: 0x0ABC_DEF0)!, .classicRemote, [0, 0, 0, 0, 0, 0]))
    }

    @Test func fdFramesRoundTrip() throws {
        try roundTrip(SocketCANWireFormatTests.frame(CANIdentifier(standard: 0x321)!, .fd(bitRateSwitch: true, errorStateIndicator: false),
                                                     (0..<64).map { UInt8(255 - $0) }))
        try roundTrip(SocketCANWireFormatTests.frame(CANIdentifier(extended: 0x1234_5678)!, .fd(bitRateSwitch: false, errorStateIndicator: false),
                                                     [1, 2, 3]))
    }

    /// Sends `frame`, waiting 200 µs after each `.wouldBlock` (the socket's queue is full);
    /// false after `retries` such waits in all.
    func sendWaitingForRoom(_ frame: CANFrame, retries: inout Int) throws -> Bool {
        while retries < 100_000 {
            let failure: SocketCANFailure
            do {
                try sender.send(frame)
                return true
            } catch {
                failure = error
            }
            guard failure.kind == .wouldBlock else { throw failure }
            retries += 1
            MonotonicClock().sleep(until: MonotonicClock().now() + .microseconds(200))
        }
        return false
    }

    @Test func burstOf5000FramesArrivesCompleteAndInOrder() throws {
        let count = 5_000
        var retries = 0
        for i in 0..<count {
            var frame = CANFrame(id: CANIdentifier(standard: UInt32(i % 0x800))!, length: 8)!
            frame[0] = UInt8(truncatingIfNeeded: i); frame[1] = UInt8(truncatingIfNeeded: i >> 8); frame[7] = 0x5A
            guard try sendWaitingForRoom(frame, retries: &retries) else {
                Issue.record("sender still blocked after 100,000 retries"); return
            }
        }
        var received = 0
        while received < count, receiver.waitReadable(timeout: .seconds(2)) {
            while let frame = try receiver.receive() {
                let n = Int(frame[0]) | Int(frame[1]) << 8
                guard n == received, frame.id.rawValue == UInt32(received % 0x800), frame[7] == 0x5A else {
                    Issue.record("frame \(received) arrived as \(frame)"); return
                }
                received += 1
            }
        }
        #expect(received == count)
    }

    @Test func receiveReturnsNilWhenNothingIsPending() throws {
        #expect(try receiver.receive() == nil)
        #expect(try receiver.receiveEvent() == nil)
    }

    @Test func waitReadableTimesOutAndThenSeesAFrame() throws {
        #expect(receiver.waitReadable(timeout: .milliseconds(20)) == false)
        #expect(receiver.waitReadable(timeout: .zero) == false)
        try sender.send(SocketCANWireFormatTests.frame(CANIdentifier(standard: 0x55)!, .classic, [1]))
        #expect(receiver.waitReadable(timeout: .seconds(2)) == true)
        #expect(try receiver.receive() != nil)
    }

    @Test func missingInterfaceIsReported() {
        #expect(throws: SocketCANError.noSuchInterface("nosuchcan9")) { _ = try SocketCANBus(interface: "nosuchcan9") }
    }

    @Test func nonCANInterfaceIsReported() {
        #expect(throws: SocketCANError.notACANInterface("lo")) { _ = try SocketCANBus(interface: "lo") }
    }

    /// Runs `ip ARGS` (the guest runs as root); false if it failed.
    func ip(_ arguments: String...) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip"] + arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    @Test func downInterfaceIsReportedAndSendingOnItIsBusOff() throws {
        try #require(try ip("link", "add", "dev", "vcantest9", "type", "vcan"))
        defer { _ = try? ip("link", "del", "dev", "vcantest9") }
        #expect(throws: SocketCANError.interfaceDown("vcantest9")) { _ = try SocketCANBus(interface: "vcantest9") }
        try #require(try ip("link", "set", "vcantest9", "up"))
        let bus = try SocketCANBus(interface: "vcantest9")
        try #require(try ip("link", "set", "vcantest9", "down"))
        let failure = #expect(throws: SocketCANFailure.send(Errno(ENETDOWN))) {
            try bus.send(SocketCANWireFormatTests.frame(CANIdentifier(standard: 1)!, .classic, [1]))
        }
        #expect(failure?.kind == .busOff)
    }
}
