// The firmware's CAN protocol (Fixtures/bms.dbc) through the loop: cyclic transmission per the
// DBC's cycle times, request handling with E2E checks, range and authorisation, the request
// timeout and its reaction, the bounded transmit queue, and the content of the main messages.
import Firmware
import HAL
import Testing

@Suite struct CANProtocolTests {
    /// A connected-ready pack at rest: cells, pack and link voltages consistent.
    static func harness(cells: [Int32] = [3_700, 3_700, 3_700, 3_700], configuration: PackConfiguration = testConfiguration()) throws -> LoopHarness {
        var h = try LoopHarness(board: TestBoard(cellVoltages: cells), configuration: configuration)
        let sum = Millivolts(cells.reduce(0, +))
        h.loop.board.currentSensor.packVoltage = sum
        h.loop.board.currentSensor.linkVoltage = sum
        return h
    }

    static func vcu(_ request: CANMatrix.StateRequest, counter: UInt8) -> CANFrame {
        var m = CANMatrix.VCURequest()
        m.stateRequest = request.rawValue
        m.counter = counter
        return m.encode()
    }

    static func charger(_ request: CANMatrix.StateRequest, counter: UInt8) -> CANFrame {
        var m = CANMatrix.CHARGERRequest()
        m.stateRequest = request.rawValue
        m.counter = counter
        return m.encode()
    }

    /// The answers the loop has sent so far.
    static func answers(_ h: LoopHarness) -> [CANMatrix.BMSRequestAnswer] {
        h.loop.board.canBus.sent.filter { $0.id.rawValue == CANMatrix.BMSRequestAnswer.identifier }.compactMap { try? CANMatrix.BMSRequestAnswer.decode($0) }
    }

    static func lastStatus(_ h: LoopHarness) throws -> CANMatrix.BMSStatus {
        let frame = try #require(h.loop.board.canBus.sent.last { $0.id.rawValue == CANMatrix.BMSStatus.identifier })
        return try CANMatrix.BMSStatus.decode(frame)
    }

    /// Sends a VCU request every 100 ms (counter stepping) for `ticks` ticks.
    static func drive(_ h: inout LoopHarness, _ request: CANMatrix.StateRequest, ticks: Int, counter: inout UInt8) {
        for n in 0..<ticks {
            if n % 100 == 0 {
                h.loop.board.canBus.incoming.append(vcu(request, counter: counter))
                counter = counter == 14 ? 0 : counter + 1
            }
            h.tick()
        }
    }

    // MARK: cyclic transmission

    @Test func oneSecondCarriesEveryMessageAtItsCycleTime() throws {
        var h = try Self.harness(configuration: testConfiguration(cellCount: 16, temperatureSensors: 6))
        h.loop.board.cellMonitor.cellVoltages = Array(repeating: Millivolts(3_700), count: 16)
        h.loop.board.cellMonitor.temperatures = Array(repeating: DeciCelsius(250), count: 6)
        for _ in 0..<1_000 { h.tick() }
        var count: [UInt32: Int] = [:]
        for f in h.loop.board.canBus.sent { count[f.id.rawValue, default: 0] += 1 }
        let expected: [(UInt32, Int)] = [
            (CANMatrix.BMSPackFast.identifier, 100), (CANMatrix.BMSCurrentLimits.identifier, 100), (CANMatrix.BMSCellVoltages.identifier, 100),
            (CANMatrix.BMSStatus.identifier, 10), (CANMatrix.BMSFaultTiers.identifier, 10), (CANMatrix.BMSFaultLatches.identifier, 10),
            (CANMatrix.BMSVoltageLimits.identifier, 10), (CANMatrix.BMSStateOfCharge.identifier, 10), (CANMatrix.BMSCellVoltageMinMax.identifier, 10),
            (CANMatrix.BMSTemperatureMinMax.identifier, 10), (CANMatrix.BMSBalancing.identifier, 10), (CANMatrix.BMSCellTemperatures.identifier, 10),
            (CANMatrix.BMSStateOfHealth.identifier, 1), (CANMatrix.BMSRiskRanking.identifier, 1), (CANMatrix.BMSIdentity.identifier, 1),
        ]
        for (id, n) in expected { #expect(count[id] == n, "id \(id)") }
        #expect(count.values.reduce(0, +) == expected.map(\.1).reduce(0, +))
        // Every frame is a DBC message and decodes with its codec's E2E checks.
        for f in h.loop.board.canBus.sent { #expect(CANMatrix.isDefined(f.id)) }
        let statuses = h.loop.board.canBus.sent.filter { $0.id.rawValue == CANMatrix.BMSStatus.identifier }
        let counters = try statuses.map { try CANMatrix.BMSStatus.decode($0).counter }
        #expect(counters == Array(0...9))
    }

    @Test func cellVoltageGroupsRotateOverTheConfiguredCellsOnly() throws {
        var h = try Self.harness(configuration: testConfiguration(cellCount: 10))
        h.loop.board.cellMonitor.cellVoltages = (0..<10).map { Millivolts(3_600 + Int32($0)) }
        for _ in 0..<60 { h.tick() }
        let groups = try h.loop.board.canBus.sent.filter { $0.id.rawValue == CANMatrix.BMSCellVoltages.identifier }.map { try CANMatrix.BMSCellVoltages.decode($0) }
        #expect(groups.map(\.cellVoltageGroup) == [0, 1, 2, 0, 1, 2])
        // Group 2 holds cells 9 and 10; its last two slots are beyond the pack: SNA.
        #expect(groups[2].cellVoltage[0] == 3_608 && groups[2].cellVoltage[1] == 3_609)
        #expect(groups[2].cellVoltage[2] == CANMatrix.BMSCellVoltages.cellVoltageSNA && groups[2].cellVoltage[3] == CANMatrix.BMSCellVoltages.cellVoltageSNA)
    }

    @Test func packValuesKeepTheCurrentSignAndTheDBCScaling() throws {
        var h = try Self.harness()
        h.loop.board.currentSensor.current = Milliamperes(-12_345)   // discharging 12.345 A
        h.tick()
        let fast = try CANMatrix.BMSPackFast.decode(try #require(h.loop.board.canBus.sent.first { $0.id.rawValue == CANMatrix.BMSPackFast.identifier }))
        #expect(fast.packCurrent == -1_234)           // 0.01 A, toward zero
        #expect(fast.packVoltage == 1_480)            // 14.800 V
        h.loop.board.currentSensor.packVoltage = nil  // no longer measured: held for the 100 ms timeout, then stale: SNA
        for _ in 0..<50 { h.tick() }
        let held = try CANMatrix.BMSPackFast.decode(try #require(h.loop.board.canBus.sent.last { $0.id.rawValue == CANMatrix.BMSPackFast.identifier }))
        #expect(held.packVoltage == 1_480)
        for _ in 0..<100 { h.tick() }
        let later = try CANMatrix.BMSPackFast.decode(try #require(h.loop.board.canBus.sent.last { $0.id.rawValue == CANMatrix.BMSPackFast.identifier }))
        #expect(later.packVoltage == CANMatrix.BMSPackFast.packVoltageSNA)
    }

    // MARK: requests

    @Test func aDriveRequestOverCANConnectsAndIsAnsweredOnce() throws {
        var h = try Self.harness()
        var counter: UInt8 = 0
        Self.drive(&h, .drive, ticks: 1_000, counter: &counter)
        #expect(h.loop.stateMachine.state == .connected(.drive))
        #expect(h.loop.lastAnswer?.source == .vehicleController)
        let answers = Self.answers(h)
        // Ten identical requests; the first is accepted, the repeats while connecting or
        // connected give one more answer only when the answer changes.
        #expect(answers.first?.answer == CANMatrix.Answer.accepted.rawValue)
        #expect(answers.first?.requestSource == RequestSource.vehicleController.rawValue)
        #expect(answers.first?.answeredRequest == CANMatrix.StateRequest.drive.rawValue)
        #expect(answers.count <= 3)
        #expect(h.loop.can.connectionOwner == .vehicleController)
        let status = try Self.lastStatus(h)
        #expect(status.bmsState == CANMatrix.BmsState.connected.rawValue && status.operatingMode == CANMatrix.OperatingMode.drive.rawValue)
        #expect(status.mainPositive == CANMatrix.ContactorPosition.closed.rawValue && status.mainNegative == CANMatrix.ContactorPosition.closed.rawValue)
    }

    @Test(arguments: [(CANMatrix.StateRequest.drive, CANMatrix.Answer.unauthorised), (.reset, .unauthorised)])
    func theChargerMayNotAskForDriveOrReset(request: CANMatrix.StateRequest, answer: CANMatrix.Answer) throws {
        var h = try Self.harness()
        h.loop.board.canBus.incoming.append(Self.charger(request, counter: 0))
        for _ in 0..<200 { h.tick() }
        #expect(h.loop.stateMachine.state == .standby)
        #expect(h.loop.lastAnswer == nil)   // never reached the state machine
        #expect(Self.answers(h).map(\.answer) == [answer.rawValue])
        #expect(Self.answers(h).first?.requestSource == RequestSource.charger.rawValue)
    }

    @Test func theChargerMayAskForCharge() throws {
        var h = try Self.harness()
        h.loop.board.canBus.incoming.append(Self.charger(.charge, counter: 0))
        for _ in 0..<500 { h.tick() }
        #expect(h.loop.stateMachine.state == .connected(.charge))
        #expect(h.loop.can.connectionOwner == .charger)
    }

    @Test func anUndefinedRequestValueIsRefusedAndCounted() throws {
        var h = try Self.harness()
        var m = CANMatrix.VCURequest()
        m.stateRequest = 7
        h.loop.board.canBus.incoming.append(m.encode())
        for _ in 0..<10 { h.tick() }
        #expect(h.loop.stateMachine.state == .standby)
        #expect(Self.answers(h).map(\.answer) == [CANMatrix.Answer.outOfRange.rawValue])
        #expect(h.loop.can.integrityErrors == 1)
    }

    @Test func noRequestAndNotAvailableAreNotActedOn() throws {
        var h = try Self.harness()
        h.loop.board.canBus.incoming.append(Self.vcu(.noRequest, counter: 0))
        h.loop.board.canBus.incoming.append(Self.vcu(.sna, counter: 1))
        for _ in 0..<10 { h.tick() }
        #expect(Self.answers(h).isEmpty && h.loop.lastAnswer == nil && h.loop.can.integrityErrors == 0)
    }

    @Test func aCorruptedFrameIsDroppedAndCounted() throws {
        var h = try Self.harness()
        var frame = Self.vcu(.drive, counter: 0)
        frame[1] ^= 0x40   // one payload bit: the request becomes another value, the CRC no longer matches
        h.loop.board.canBus.incoming.append(frame)
        let short = CANFrame(id: CANIdentifier(standard: CANMatrix.VCURequest.identifier)!, length: 4)!
        h.loop.board.canBus.incoming.append(short)
        for _ in 0..<200 { h.tick() }
        #expect(h.loop.stateMachine.state == .standby && h.loop.lastAnswer == nil)
        #expect(h.loop.can.integrityErrors == 2)
        #expect(try Self.lastStatus(h).integrityErrors == 2)
    }

    @Test func repeatedCountersAreIgnoredAndJumpsAreSequenceErrors() throws {
        var h = try Self.harness()
        // 0 accepted (standby request: harmless), 0 again is a repeat, 1 accepted, 6 is a jump of
        // 5 (> 3: refused), 7 follows the resynchronised 6 and is accepted.
        for c: UInt8 in [0, 0, 1, 6, 7] {
            h.loop.board.canBus.incoming.append(Self.vcu(.standby, counter: c))
            h.tick()
        }
        #expect(h.loop.can.integrityErrors == 1)
        #expect(h.loop.lastAnswer?.sequence == 3)   // 0, 1 and 7 reached the state machine
    }

    @Test func counterWrapsFrom14To0() throws {
        var h = try Self.harness()
        for c: UInt8 in [13, 14, 0, 1] {
            h.loop.board.canBus.incoming.append(Self.vcu(.standby, counter: c))
            h.tick()
        }
        #expect(h.loop.can.integrityErrors == 0 && h.loop.lastAnswer?.sequence == 4)
    }

    @Test func counter15IsNeverValid() throws {
        var h = try Self.harness()
        var m = CANMatrix.VCURequest()
        m.stateRequest = CANMatrix.StateRequest.drive.rawValue
        m.counter = 15
        h.loop.board.canBus.incoming.append(m.encode())
        for _ in 0..<100 { h.tick() }
        #expect(h.loop.stateMachine.state == .standby && h.loop.can.integrityErrors == 1)
    }

    // MARK: timeout

    @Test func losingTheVehicleControllerWhileConnectedGoesToStandbyAndRecovers() throws {
        var h = try Self.harness()
        var counter: UInt8 = 0
        Self.drive(&h, .drive, ticks: 1_000, counter: &counter)
        try #require(h.loop.stateMachine.state == .connected(.drive))
        // The last request arrived at the start of the last 100 ms block: silence from now on.
        for _ in 0..<400 { h.tick() }
        #expect(h.loop.stateMachine.state == .connected(.drive))   // 500 ms not yet over
        for _ in 0..<300 { h.tick() }
        #expect(h.loop.stateMachine.state == .standby)
        #expect(h.loop.stateMachine.latched.isEmpty)              // not a latched fault
        #expect(try Self.lastStatus(h).requestTimeout == 1)
        // The vehicle controller comes back and asks again: connected, flag cleared.
        Self.drive(&h, .drive, ticks: 1_000, counter: &counter)
        #expect(h.loop.stateMachine.state == .connected(.drive))
        #expect(try Self.lastStatus(h).requestTimeout == 0)
    }

    @Test func aSilentChargerDoesNotOpenADriveConnection() throws {
        var h = try Self.harness()
        var counter: UInt8 = 0
        h.loop.board.canBus.incoming.append(Self.charger(.standby, counter: 0))   // the charger was there once
        Self.drive(&h, .drive, ticks: 2_000, counter: &counter)
        #expect(h.loop.can.charger.timedOut)
        #expect(h.loop.stateMachine.state == .connected(.drive))
    }

    // MARK: transmit queue

    @Test func framesTheBusRefusesWaitInOrderAndTheQueueIsBounded() throws {
        var h = try Self.harness()
        h.loop.board.canBus.sendFailure = TestFailure(kind: .wouldBlock)
        for _ in 0..<20 { h.tick() }
        #expect(h.loop.can.queue.count == TransmitQueue.capacity)
        #expect(h.loop.can.queue.overflows > 0)
        #expect(h.loop.can.sendFailures.lastKind == .wouldBlock)
        h.loop.board.canBus.sendFailure = nil
        h.tick()
        #expect(h.loop.can.queue.count == 0)
        // The queue keeps the oldest frames: tick 0's (every slot) come out first.
        let first = h.loop.board.canBus.sent.prefix(3).map(\.id.rawValue)
        #expect(first == [CANMatrix.BMSPackFast.identifier, CANMatrix.BMSCurrentLimits.identifier, CANMatrix.BMSCellVoltages.identifier])
    }

    // MARK: content

    @Test func aLatchedOvervoltageShowsInStatusTiersAndLatches() throws {
        var h = try Self.harness()
        var counter: UInt8 = 0
        Self.drive(&h, .drive, ticks: 1_000, counter: &counter)
        h.loop.board.cellMonitor.cellVoltages[2] = Millivolts(4_300)   // above the 4.25 V maximum safety limit
        for _ in 0..<500 { h.tick() }
        #expect(h.loop.stateMachine.state == .error)
        let status = try Self.lastStatus(h)
        #expect(status.bmsState == CANMatrix.BmsState.error.rawValue)
        #expect(status.stateReason == CANMatrix.StateReason.cellOvervoltage.rawValue)
        #expect(status.highestTier == CANMatrix.FaultTier.maximumSafety.rawValue)
        let tiers = try CANMatrix.BMSFaultTiers.decode(try #require(h.loop.board.canBus.sent.last { $0.id.rawValue == CANMatrix.BMSFaultTiers.identifier }))
        #expect(tiers.cellOvervoltage == CANMatrix.FaultTier.maximumSafety.rawValue && tiers.cellUndervoltage == 0)
        let latches = try CANMatrix.BMSFaultLatches.decode(try #require(h.loop.board.canBus.sent.last { $0.id.rawValue == CANMatrix.BMSFaultLatches.identifier }))
        #expect(latches.cellOvervoltageLatched == 1 && latches.cellUndervoltageLatched == 0)
        let minMax = try CANMatrix.BMSCellVoltageMinMax.decode(try #require(h.loop.board.canBus.sent.last { $0.id.rawValue == CANMatrix.BMSCellVoltageMinMax.identifier }))
        #expect(minMax.maxCellVoltage == 4_300 && minMax.maxCellIndex == 3 && minMax.minCellVoltage == 3_700 && minMax.minCellIndex == 1)
        // Drive requests keep coming: refused while latched, answered once.
        Self.drive(&h, .drive, ticks: 1_000, counter: &counter)
        #expect(Self.answers(h).last?.answer == CANMatrix.Answer.latchedFault.rawValue)
        #expect(Self.answers(h).filter { $0.answer == CANMatrix.Answer.latchedFault.rawValue }.count == 1)
    }

    @Test func identityAndVoltageLimitsDescribeTheConfiguredPack() throws {
        var h = try Self.harness()
        // The 1 s frames go out on tick 505 of each second (with the risk scoring).
        for _ in 0...505 { h.tick() }
        let id = try CANMatrix.BMSIdentity.decode(try #require(h.loop.board.canBus.sent.first { $0.id.rawValue == CANMatrix.BMSIdentity.identifier }))
        #expect(id.cellCount == 4 && id.temperatureSensorCount == 2 && id.protocolVersion == 1)
        let v = try CANMatrix.BMSVoltageLimits.decode(try #require(h.loop.board.canBus.sent.first { $0.id.rawValue == CANMatrix.BMSVoltageLimits.identifier }))
        // The datasheet's 4.2 V / 2.5 V cell: maximum operating limits 4.2 V and 3.0 V (Docs/protection.md).
        #expect(v.maxCellVoltageLimit == 4_200 && v.maxChargeVoltage == 1_680)
        #expect(v.minCellVoltageLimit == 3_000 && v.minDischargeVoltage == 1_200)
    }

    @Test func theCRC8TableIsThePolynomialDivisionOfEveryByte() {
        // Entry n: n shifted through x⁸ + x⁴ + x³ + x² + 1 (0x1D) eight times, MSB first.
        for n in 0..<256 {
            var c = UInt8(n)
            for _ in 0..<8 { c = c & 0x80 != 0 ? (c << 1) ^ 0x1D : c << 1 }
            #expect(E2E.crc8Table[n] == c, "entry \(n)")
            #expect(E2E.crc8(0, UInt8(n)) == c)
        }
    }
}
