// Property-style checks of the protection over long random event sequences through the whole
// control loop: random cell voltages, temperatures, currents, sensor and contactor failures and
// requests, with the invariants checked after every tick.
import Firmware
import HAL
import Testing

/// A small deterministic generator (xorshift64*), so every run sees the same sequences.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
    /// Uniform in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ oneIn: Int) -> Bool { below(oneIn) == 0 }
    mutating func between(_ low: Int32, _ high: Int32) -> Int32 { low + Int32(below(Int(high - low) + 1)) }
}

@Suite struct ProtectionPropertyTests {
    /// Drives the loop with random inputs for `ticks` ticks and checks, after every tick:
    /// - no contactor is commanded closed in a tick that ends with a latched fault;
    /// - every current limit lies in [0, its configured ceiling];
    /// - no limit rises by more than the ramp rate allows since the previous limit update.
    static func run(seed: UInt64, ticks: Int) throws -> (latchedTicks: Int, connectedTicks: Int, trips: Int) {
        let configuration = testConfiguration()
        var h = try LoopHarness(board: TestBoard(cellVoltages: [3_700, 3_700, 3_700, 3_700]), configuration: configuration)
        var random = TestRandom(seed: seed)
        var cells: [Int32] = [3_700, 3_710, 3_690, 3_705]
        var temperatures: [Int16] = [250, 255]
        var current: Int32 = 0
        var outage = 0, welded = 0
        var previous = PowerLimits()
        var counts = (latchedTicks: 0, connectedTicks: 0, trips: 0)
        let p = configuration.powerLimits
        let rampPerUpdate = p.rampRate.rawValue / 100          // 10 ms between limit updates
        for _ in 0..<ticks {
            // Inputs.
            for i in cells.indices {
                cells[i] += random.between(-2, 2) + (3_700 - cells[i]) / 1_000        // excursions decay over seconds
                if random.chance(20_000) { cells[i] = random.between(2_300, 4_400) }       // a jump, maybe beyond a limit
                cells[i] = min(4_500, max(2_200, cells[i]))
            }
            for i in temperatures.indices {
                temperatures[i] += Int16(random.between(-1, 1)) + (250 - temperatures[i]) / 500
                if random.chance(50_000) { temperatures[i] = Int16(random.between(-350, 700)) }
                temperatures[i] = min(900, max(-400, temperatures[i]))
            }
            if random.chance(300) {
                let choices: [Int32] = [0, 0, -10_000, -25_000, 5_000, 8_000, -50_000, 12_000, -1_000]
                current = choices[random.below(choices.count)]
            }
            if outage == 0 && random.chance(30_000) { outage = random.below(400) + 1 }
            if welded == 0 && random.chance(60_000) { welded = random.below(3_000) + 1 }
            var board = h.loop.board
            board.cellMonitor.cellVoltages = cells.map { Millivolts($0) }
            board.cellMonitor.temperatures = temperatures.map { DeciCelsius($0) }
            board.cellMonitor.failure = outage > 0 ? TestFailure(kind: .timeout) : nil
            board.contactors.forced = welded > 0 ? ContactorFeedback(mainPositive: .closed) : ContactorFeedback()
            let closedMains = board.contactors.position.mainNegative == .closed && board.contactors.position.mainPositive == .closed
            board.currentSensor.current = Milliamperes(closedMains ? current : 0)
            let pack = Millivolts(cells.reduce(0, +))
            board.currentSensor.packVoltage = pack
            board.currentSensor.linkVoltage = board.contactors.position.mainNegative == .closed
                && (board.contactors.position.precharge == .closed || board.contactors.position.mainPositive == .closed) ? pack : .zero
            board.log.calls.removeAll(keepingCapacity: true)
            board.contactors.commands.removeAll(keepingCapacity: true)
            h.loop.board = board
            if outage > 0 { outage -= 1 }
            if welded > 0 { welded -= 1 }
            if random.chance(250) {
                let requests: [BMSRequest] = [.drive, .drive, .charge, .standby, .reset, .reset]
                _ = h.loop.submit(requests[random.below(requests.count)])
            }

            h.tick()

            // Invariants.
            let latched = h.loop.stateMachine.latched
            if !latched.isEmpty {
                counts.latchedTicks += 1
                let closes = h.loop.board.contactors.commands.filter(\.closed)
                #expect(closes.isEmpty, "seed \(seed), t = \(h.now.microsecondsSinceOrigin) µs: \(closes) commanded with \(latched.bits) latched")
                if !closes.isEmpty { return counts }
            }
            if case .connected = h.loop.stateMachine.state { counts.connectedTicks += 1 }
            if h.loop.faultMonitor.status.tripped.bits != 0 { counts.trips += 1 }
            let l = h.loop.powerLimits
            let pairs: [(Milliamperes, Milliamperes, Milliamperes, String)] = [
                (l.charge2s, previous.charge2s, p.maximumCharge.0, "charge 2 s"),
                (l.charge10s, previous.charge10s, p.maximumCharge.1, "charge 10 s"),
                (l.charge30s, previous.charge30s, p.maximumCharge.2, "charge 30 s"),
                (l.discharge2s, previous.discharge2s, p.maximumDischarge.0, "discharge 2 s"),
                (l.discharge10s, previous.discharge10s, p.maximumDischarge.1, "discharge 10 s"),
                (l.discharge30s, previous.discharge30s, p.maximumDischarge.2, "discharge 30 s"),
            ]
            for (now, before, ceiling, name) in pairs {
                #expect(now.rawValue >= 0 && now <= ceiling, "seed \(seed): \(name) limit \(now.rawValue) mA outside [0, \(ceiling.rawValue)]")
                #expect(now.rawValue - before.rawValue <= rampPerUpdate,
                        "seed \(seed): \(name) limit rose \(now.rawValue - before.rawValue) mA in one update (ramp \(rampPerUpdate))")
            }
            previous = l
        }
        return counts
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func invariantsHoldOverLongRandomSequences(_ seed: UInt64) throws {
        let counts = try Self.run(seed: seed, ticks: 120_000)
        // The sequences must actually exercise the protection: connected periods, trips, latches.
        #expect(counts.connectedTicks > 1_000, "seed \(seed): never connected for long (\(counts.connectedTicks) ticks)")
        #expect(counts.trips > 0 && counts.latchedTicks > 0, "seed \(seed): no trip (\(counts))")
    }

    /// The rarest interleaving, made certain: a drive request arrives in the very tick a
    /// maximum-safety fault trips. Trips are handled first, so the request is refused and no
    /// contactor is commanded closed.
    @Test func aRequestInTheTickOfATripDoesNotCloseAnything() throws {
        func overvoltageRun(requestAtTick: Int?) throws -> (tripTick: Int?, closes: Int, answer: RequestAnswer?) {
            var h = try LoopHarness(board: TestBoard(cellVoltages: [3_700, 3_700, 3_700, 3_700]))
            for _ in 0..<100 { h.tick() }
            h.loop.board.cellMonitor.cellVoltages[0] = Millivolts(4_400)         // beyond the 4.25 V maximum-safety limit
            var tripTick: Int? = nil, closes = 0
            for k in 0..<500 {
                if k == requestAtTick { _ = h.loop.submit(.drive) }
                h.loop.board.contactors.commands.removeAll()
                h.tick()
                closes += h.loop.board.contactors.commands.filter(\.closed).count
                if tripTick == nil && !h.loop.stateMachine.latched.isEmpty { tripTick = k }
            }
            return (tripTick, closes, h.loop.lastAnswer?.answer)
        }
        let dry = try overvoltageRun(requestAtTick: nil)
        let tripTick = try #require(dry.tripTick)
        let same = try overvoltageRun(requestAtTick: tripTick)
        #expect(same.tripTick == tripTick)
        #expect(same.closes == 0)
        #expect(same.answer == .illegal(.latchedFault))
    }
}
