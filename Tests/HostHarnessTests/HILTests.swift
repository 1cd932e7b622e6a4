// The HIL rig and the CAN-linked firmware on an in-memory wire, stepped in simulated time: over
// CAN they reach the end state `simulate` reaches in one process (the real-time version over
// vcan0 runs in the CAN VM, CANVMTests).
import Firmware
import Foundation
import HAL
@testable import HostHarness
import Testing

/// The rig and the firmware joined by a wire: each millisecond the rig steps, its frames reach
/// the firmware, the firmware ticks, its frames reach the rig on the next step.
struct Wire {
    var rig: PackRig<QueueLink>
    var firmware: LinkedFirmware<QueueLink>

    init(_ scenario: Scenario, store: InMemoryStore = InMemoryStore()) throws {
        rig = PackRig(scenario: scenario, bus: QueueLink(keepsSent: true))
        firmware = try LinkedFirmware(pack: scenario.pack, link: QueueLink(keepsSent: true), clock: .simulated, store: store)
    }

    mutating func run(for duration: Microseconds) {
        let end = rig.now + duration
        while rig.now < end {
            rig.step()
            for frame in rig.bus.takeSent() { firmware.loop.board.canBus.link.deliver(frame) }
            firmware.step(now: rig.now)
            for frame in firmware.loop.board.canBus.link.takeSent() { rig.bus.deliver(frame) }
        }
    }
}

@Suite struct HILTests {
    @Test(arguments: ["rogue-charger-overvoltage", "delivery-hour"])
    func overCANTheFirmwareReachesTheEndStateOfSimulate(scenarioName: String) throws {
        let scenario = try Scenario.load(scenarioName)
        let duration = Microseconds.seconds(20)
        var simulation = try Simulation(scenario: scenario)
        simulation.run(for: duration) { _ in }
        var wire = try Wire(scenario)
        wire.run(for: duration)

        let loop = wire.firmware.loop
        #expect(loop.stateMachine.state == simulation.loop.stateMachine.state)
        #expect(loop.stateMachine.latched == simulation.loop.stateMachine.latched)
        #expect(loop.board.refusedFrames == 0)
        #expect(loop.can.integrityErrors == 0)
        let soc = try #require(loop.stateOfCharge), simulatedSOC = try #require(simulation.loop.stateOfCharge)
        #expect(abs(soc - simulatedSOC) < 0.005, "SOC over CAN \(soc), in one process \(simulatedSOC)")
        #expect(abs(wire.rig.world.pack.displayStateOfCharge - simulation.pack.displayStateOfCharge) < 0.002)
        // The rig heard the BMS: its view of the state is the firmware's.
        #expect(wire.rig.bms.state == loop.stateMachine.state)
        #expect(wire.rig.refusedFrames == 0)
    }

    @Test func theRigOpensNothingWithoutTheBMS() throws {
        var rig = PackRig(scenario: try Scenario.load("delivery-hour"), bus: QueueLink(keepsSent: true))
        for _ in 0..<2_000 { rig.step() }
        #expect(rig.world.pack.current == 0)
        let sent = rig.bus.takeSent()
        // Every millisecond: cell voltages, current, voltages, feedback; temperatures every 10th;
        // a request every 100th.
        #expect(sent.count == 2_000 * 4 + 200 + 20)
        #expect(sent.filter { $0.id.rawValue == CANMatrix.VCURequest.identifier }.count == 20)
    }
}
