// A deterministic, Embedded-clean bench board for the firmware images: a 16-cell pack made of
// integer arithmetic, enough to run every stage of the loop. It proves that the firmware
// compiles, links and runs without a heap on the host and on the Cortex-M4F; it is not the
// virtual pack (that lives in HostHarness).
import Firmware
import HAL

/// The one failure a bench peripheral can report.
struct BenchFailure: HALFailure {
    var kind: HALErrorKind
}

/// The bench pack: 16 cells, 5,000 mAh each, a 2 mΩ cell resistance, a repeating load profile.
struct BenchPack {
    static let cellCount = 16
    static let capacitymAs: Int32 = 5_000 * 3_600
    /// Per-cell manufacturing offset in the charge (mAs) so cells differ.
    static let chargeOffset: InlineArray<16, Int32> = [0, 90_000, -40_000, 180_000, 30_000, -120_000, 270_000, 60_000,
                                                      -30_000, 150_000, -90_000, 120_000, 0, 210_000, -150_000, 60_000]
    /// OCV in mV at SOC 0 %, 10 %, ... 100 % (NMC-like).
    static let ocvTable: InlineArray<11, Int32> = [3_000, 3_300, 3_450, 3_550, 3_620, 3_680, 3_750, 3_850, 3_950, 4_050, 4_180]

    var chargemAs: Int32 = 14_400_000       // 80 %
    var current: Milliamperes = .zero
    var millisecond: UInt32 = 0
    var remaindermAus: Int32 = 0            // sub-mAs remainder of the charge integral

    /// Moves 1 ms on: a 40 s cycle of 8 A discharge, 18 A launches, 3 A regen and rests.
    mutating func advance() {
        millisecond &+= 1
        let phase = millisecond % 40_000
        let currentmA: Int32
        switch phase {
        case 0..<2_000: currentmA = -18_000
        case 2_000..<25_000: currentmA = -8_000
        case 25_000..<28_000: currentmA = 3_000
        default: currentmA = 0
        }
        current = Milliamperes(currentmA)
        // mA × 1 ms = mA·ms; keep whole mAs in the charge and the rest in the remainder.
        remaindermAus += currentmA
        chargemAs += remaindermAus / 1_000
        remaindermAus %= 1_000
    }

    func ocv(chargemAs charge: Int32) -> Int32 {
        let permille = max(0, min(1_000, charge / (BenchPack.capacitymAs / 1_000)))
        let index = Int(permille / 100), fraction = permille % 100
        if index >= 10 { return BenchPack.ocvTable[10] }
        return BenchPack.ocvTable[index] + (BenchPack.ocvTable[index + 1] - BenchPack.ocvTable[index]) * fraction / 100
    }

    func cellVoltage(_ cell: Int) -> Millivolts {
        Millivolts(ocv(chargemAs: chargemAs + BenchPack.chargeOffset[cell]) + current.rawValue * 2 / 1_000)
    }
}

/// A front end with latched registers, as a real one has: the bench writes what the pack shows
/// before each tick (`latch`), and `measure` reads it out (the pack's arithmetic is not the
/// firmware's cost).
struct BenchCellMonitor: CellMonitor {
    var pack = BenchPack()
    var latched = InlineArray<16, Int32>(repeating: 0)
    var balancing = BalancingCommand.off
    var balancingCapability: BalancingCapability { .passive(maximumChannels: 8, bleedCurrent: Milliamperes(100)) }
    /// Latches every cell's voltage; returns their sum (mV).
    mutating func latch() -> Int32 {
        var sum: Int32 = 0
        for i in 0..<BenchPack.cellCount {
            let v = pack.cellVoltage(i).rawValue
            latched[i] = v
            sum &+= v
        }
        return sum
    }
    mutating func measure(into readings: inout CellMonitorReadings) throws(BenchFailure) {
        for i in readings.cellVoltages.indices { readings.cellVoltages[i] = Reading(Millivolts(latched[i])) }
        for i in readings.temperatures.indices { readings.temperatures[i] = Reading(DeciCelsius(250 + Int16(i))) }
    }
    mutating func setBalancing(_ command: BalancingCommand) throws(BenchFailure) { balancing = command }
}

struct BenchCurrentSensor: CurrentSensor {
    var current = Milliamperes.zero
    var packVoltage = Millivolts.zero
    var linkVoltage = Millivolts.zero
    mutating func measure() throws(BenchFailure) -> PackSensorReadings {
        PackSensorReadings(current: Reading(current), packVoltage: Reading(packVoltage), linkVoltage: Reading(linkVoltage))
    }
}

struct BenchContactors: ContactorDriver {
    var feedbackState = ContactorFeedback(mainPositive: .open, mainNegative: .open, precharge: .open)
    mutating func command(_ contactor: Contactor, closed: Bool) throws(BenchFailure) {
        feedbackState[contactor] = closed ? .closed : .open
    }
    mutating func feedback() throws(BenchFailure) -> ContactorFeedback { feedbackState }
}

/// Counts frames and folds them into a checksum instead of sending them.
struct BenchCANBus: CANBus {
    var framesSent: UInt32 = 0
    var checksum: UInt32 = 0
    mutating func send(_ frame: CANFrame) throws(BenchFailure) {
        framesSent &+= 1
        checksum = BenchCANBus.fold(checksum, frame)
    }
    /// `h` with `frame` folded in (the frame by address: reading the bytes of a frame passed by
    /// value copied it per byte).
    static func fold(_ h: UInt32, _ frame: borrowing @_addressable CANFrame) -> UInt32 {
        var h = h ^ frame.id.rawValue
        for i in 0..<frame.length { h = (h &* 31) &+ UInt32(frame[i]) }
        return h
    }
    mutating func receive() throws(BenchFailure) -> CANFrame? { nil }
}

/// The bench's non-volatile store: 4 pages of 256 words (room for the checkpoint journal: a
/// 16-cell checkpoint is 180 words) in memory the image hands over. On the M4F that is the
/// `.flash_emulation` section of link.ld, the last 4 KiB of the flash region (NOLOAD: outside
/// the loop's static storage and outside RAM; QEMU's mps2-an386 lets the program write it), on
/// the host a static buffer. The bench erases it before set-up, as a new part's flash is.
struct BenchStore: NonVolatileStore {
    static let pages = 4, wordsPerPage = 256
    static let words = pages * wordsPerPage
    /// The first of the `words` words.
    var base: UnsafeMutablePointer<UInt32>
    var geometry: StoreGeometry { StoreGeometry(pageCount: BenchStore.pages, wordsPerPage: BenchStore.wordsPerPage) }
    func index(page: Int, word: Int) throws(BenchFailure) -> Int {
        guard page >= 0 && page < BenchStore.pages && word >= 0 && word < BenchStore.wordsPerPage else {
            throw BenchFailure(kind: .invalidRequest)
        }
        return page * BenchStore.wordsPerPage + word
    }
    mutating func erase(page: Int) throws(BenchFailure) {
        let first = try index(page: page, word: 0)
        for i in 0..<BenchStore.wordsPerPage { base[first + i] = 0xFFFF_FFFF }
    }
    mutating func write(page: Int, word: Int, value: UInt32) throws(BenchFailure) {
        let i = try index(page: page, word: word)
        guard base[i] == 0xFFFF_FFFF else { throw BenchFailure(kind: .invalidRequest) }
        base[i] = value
    }
    mutating func read(page: Int, word: Int) throws(BenchFailure) -> UInt32 {
        base[try index(page: page, word: word)]
    }
    /// Every word erased (0xFFFF_FFFF).
    func eraseAll() {
        for i in 0..<BenchStore.words { base[i] = 0xFFFF_FFFF }
    }
}

struct BenchWatchdog: Watchdog {
    var feeds: UInt32 = 0
    mutating func feed() { feeds &+= 1 }
}

struct BenchBoard: BMSBoard {
    var cellMonitor = BenchCellMonitor()
    var currentSensor = BenchCurrentSensor()
    var contactors = BenchContactors()
    var canBus = BenchCANBus()
    var store: BenchStore
    var watchdog = BenchWatchdog()
    /// Simulated time: the bench clock does not advance during a tick (zero execution time).
    var clock = Instant.origin
    mutating func timestamp() -> Instant { clock }
    init(store: BenchStore) { self.store = store }
}

/// The bench cell's OCV curve.
func benchOCVCurve() -> OCVCurve {
    var ocv = OCVCurve()
    for i in 0..<11 { ocv.append(socPermille: Int32(truncatingIfNeeded: i) * 100, voltage: Millivolts(BenchPack.ocvTable[i])) }
    return ocv
}

/// The bench pack's configuration (a 5 Ah NMC cell; the same policy the harness derives), written
/// in place into `c` (the loop's own configuration), every field.
func benchConfiguration(into c: inout PackConfiguration) {
    let ratings = benchRatings()
    c.cellCount = BenchPack.cellCount
    c.temperatureSensorCount = 4
    c.ratedCapacity = .milliampereHours(5_000)
    c.plausibleCellVoltage = Millivolts(500)...Millivolts(5_000)
    c.plausibleTemperature = DeciCelsius(-400)...DeciCelsius(1_200)
    c.plausibleCurrent = Milliamperes(-500_000)...Milliamperes(500_000)
    c.measurementTimeout = .milliseconds(100)
    c.openCircuitVoltage = benchOCVCurve()
    c.restCurrent = Milliamperes(500)
    c.protection = StandardPolicy.protection(ratings)
    c.contactors = StandardPolicy.contactors(ratings, breakCurrent: Milliamperes(150_000))
    c.powerLimits = StandardPolicy.powerLimits(ratings)
    c.balancing = StandardPolicy.balancing(ratings)
}

/// A 5 Ah NMC cell: 4.2 V / 2.5 V, 1C charge, 3C continuous and 4C peak discharge.
func benchRatings() -> ElementRatings {
    ElementRatings(
        maximumVoltage: Millivolts(4_200), minimumVoltage: Millivolts(2_500), capacitymAh: 5_000,
        continuousCharge: Milliamperes(5_000), continuousDischarge: Milliamperes(15_000), peakDischarge: Milliamperes(20_000),
        r0Milliohms: 20, r1Milliohms: 8, tau1Seconds: 5, r2Milliohms: 8, tau2Seconds: 200, resistanceRisePerKelvinBelow25: 0.03,
        heatCapacity: 70, thermalConductance: 0.35)
}

/// The bench pack's state estimation: its own circuit (2 mΩ, no RC branches) on its OCV curve,
/// written in place into `c` (the loop's own configuration: 3 KB that must not be built in a
/// stack frame on the Cortex-M).
func benchEstimation(into c: inout StateEstimationConfiguration) {
    var circuit = benchRatings()
    circuit.r0Milliohms = 2
    circuit.r1Milliohms = 0
    circuit.r2Milliohms = 0
    circuit.resistanceRisePerKelvinBelow25 = 0
    StandardPolicy.estimation(circuit, openCircuitVoltage: benchOCVCurve(), into: &c)
    // The thermal chain of the ratings' heat capacity and conductance: 0.05 W/K of it to the
    // air, the rest shared by the two neighbours.
    c.thermal = ThermalChain(heatCapacityJoulesPerKelvin: circuit.heatCapacity,
                             neighbourConductanceWattsPerKelvin: (circuit.thermalConductance - 0.05) / 2,
                             ambientConductanceWattsPerKelvin: 0.05, sensorLagSeconds: 10)
}

/// What a bench run reports.
struct BenchSummary {
    /// Whether the run did what a healthy bench must: every tick, every watchdog feed, connected
    /// for driving with nothing latched (the whole protection path ran) unless it ended in the
    /// standby of `BenchSequence`, and checkpoints in the store once the contactors have opened.
    func passed(ticks expected: UInt32) -> Bool {
        let inStandby = expected > BenchSequence.standbyAt && expected < BenchSequence.driveAgainAt + 1_000
        let driving = expected < 1_000 || inStandby || connected == 1
        let stored = expected < BenchSequence.standbyAt + 1_000 || lastCheckpointReason != 0
        return ticks == expected && watchdogFeeds == expected && driving && latchedFaults == 0 && stored
    }

    var ticks: UInt32 = 0
    var minimumCell: Int32 = 0
    var maximumCell: Int32 = 0
    var minimumCellIndex: Int = 0
    var maximumCellIndex: Int = 0
    var socPermilleEstimated: Int32 = -1
    var socPermilleTrue: Int32 = 0
    var watchdogFeeds: UInt32 = 0
    var overruns: UInt32 = 0
    var missedTicks: UInt32 = 0
    /// Whether the loop connected for driving (0/1), faults latched (bits), and the 2 s
    /// discharge limit at the end (mA).
    var connected: UInt32 = 0
    var latchedFaults: UInt32 = 0
    var dischargeLimit: Int32 = 0
    /// The CAN frames the loop sent and their checksum (`BenchCANBus.fold`): what the firmware
    /// said over the run, so that a change meant to keep its behaviour can be checked on the chip.
    var framesSent: UInt32 = 0
    var framesChecksum: UInt32 = 0
    /// The store: records committed to the checkpoint journal (checkpoints and "connected"
    /// markers), words programmed, and why the last checkpoint was written (`CheckpointReason`,
    /// 0: none).
    var storeRecordsWritten: UInt32 = 0
    var storeWordsWritten: UInt32 = 0
    var lastCheckpointReason: UInt8 = 0
}

/// The bench's loop, in `benchStorage`.
var benchLoop: UnsafeMutablePointer<ControlLoop<BenchBoard>> { staticLoop(BenchBoard.self) }

/// Sets the bench's loop up in place on `store`; false when the configuration is rejected.
@inline(never)
func startBench(store: BenchStore) -> Bool {
    do throws(ConfigurationError) {
        #if BMS_NO_ESTIMATOR
        try benchLoop.pointee.setUp(board: BenchBoard(store: store), configuration: { benchConfiguration(into: &$0) })
        #else
        try benchLoop.pointee.setUp(board: BenchBoard(store: store), configuration: { benchConfiguration(into: &$0) },
                                    estimation: { benchEstimation(into: &$0) })
        #endif
    } catch {
        return false
    }
    return true
}

/// Markers right before and after each `ControlLoop.tick`: the QEMU plugin of `make
/// firmware-budget` counts the instructions between them (HostHarness/Scripts/qemu-tick-insns.c).
/// They count calls so that the optimiser keeps them, and differ so that they are not merged.
nonisolated(unsafe) var benchTickMarks: UInt32 = 0
@c(bms_tick_begin) @inline(never) func benchTickBegins() { benchTickMarks &+= 1 }
@c(bms_tick_end) @inline(never) func benchTickEnds() { benchTickMarks &+= 2 }

/// One bench millisecond: the pack moves on, the sensors latch, the loop ticks.
@inline(never)
func benchTick(_ loop: inout ControlLoop<BenchBoard>) {
    loop.board.cellMonitor.pack.advance()
    // Current flows through the closed mains only; the link follows the pack once the
    // precharge path or the mains are closed (an ideal precharge).
    let f = loop.board.contactors.feedbackState
    let mains = f.mainPositive == .closed && f.mainNegative == .closed
    loop.board.currentSensor.current = mains ? loop.board.cellMonitor.pack.current : .zero
    let packmV = loop.board.cellMonitor.latch()
    loop.board.currentSensor.packVoltage = Millivolts(packmV)
    loop.board.currentSensor.linkVoltage = f.mainNegative == .closed && (mains || f.precharge == .closed) ? Millivolts(packmV) : .zero
    loop.board.clock = loop.board.clock + ControlLoopTiming.tickPeriod
    let now = loop.board.clock
    benchTickBegins()
    loop.tick(now: now)
    benchTickEnds()
}

/// What the bench reports about `loop` after `n` ticks.
@inline(never)
func benchSummary(_ loop: inout ControlLoop<BenchBoard>, ticks n: UInt32) -> BenchSummary {
    var s = BenchSummary()
    s.ticks = n
    if let stats = loop.cellStatistics {
        s.minimumCell = stats.minimum.rawValue
        s.maximumCell = stats.maximum.rawValue
        s.minimumCellIndex = stats.minimumIndex
        s.maximumCellIndex = stats.maximumIndex
    }
    if let soc = loop.stateOfChargeInPlace() { s.socPermilleEstimated = Int32(soc * 1_000) }
    s.socPermilleTrue = loop.board.cellMonitor.pack.chargemAs / (BenchPack.capacitymAs / 1_000)
    s.watchdogFeeds = loop.board.watchdog.feeds
    s.overruns = UInt32(truncatingIfNeeded: loop.timing.overruns)
    s.missedTicks = UInt32(truncatingIfNeeded: loop.timing.missedTicks)
    if case .connected(.drive) = loop.stateMachine.state { s.connected = 1 }
    s.latchedFaults = loop.stateMachine.latched.bits
    s.dischargeLimit = loop.powerLimits.discharge2s.rawValue
    s.framesSent = loop.board.canBus.framesSent
    s.framesChecksum = loop.board.canBus.checksum
    s.storeRecordsWritten = loop.persistence.checkpoints.recordsWritten
    s.storeWordsWritten = loop.persistence.checkpoints.wordsWritten
    s.lastCheckpointReason = loop.persistence.lastReason?.rawValue ?? 0
    return s
}

/// The vehicle's requests over a bench run: drive from the start; at 30 s standby (the
/// contactors open: a checkpoint is written), at 32 s drive again. 30 s is a tick where every
/// slot runs, so the checkpoint's first words are counted on top of the 1 s slot's work.
enum BenchSequence {
    static let standbyAt: UInt32 = 30_000
    static let driveAgainAt: UInt32 = 32_000
}

/// Runs the loop for `ticks` milliseconds of bench time, its store in the `storeWords` words at
/// `store` (erased first); nil when the configuration is rejected or the store is too small.
@inline(never)
func runBench(ticks: UInt32, store: UnsafeMutablePointer<UInt32>, storeWords: Int) -> BenchSummary? {
    guard storeWords >= BenchStore.words else { return nil }
    let benchStore = BenchStore(base: store)
    benchStore.eraseAll()
    guard startBench(store: benchStore) else { return nil }
    var n: UInt32 = 0
    let loop = benchLoop
    _ = loop.pointee.submit(.drive)             // the vehicle asks to drive: precharge, then the mains close
    while n < ticks {
        if n == BenchSequence.standbyAt { _ = loop.pointee.submit(.standby) }
        if n == BenchSequence.driveAgainAt { _ = loop.pointee.submit(.drive) }
        benchTick(&loop.pointee)
        n &+= 1
    }
    return benchSummary(&loop.pointee, ticks: n)
}
