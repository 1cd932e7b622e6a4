// The tick schedule: which stages run on which tick, as explicit dividers of the 1 ms tick.
import HAL

/// The loop's fixed timing.
public enum ControlLoopTiming {
    /// One tick: every 1 ms.
    public static let tickPeriod = Microseconds.milliseconds(1)
    /// The slower slots run on every 10th, 100th and 1000th tick, counted from the first tick
    /// (tick 0 runs every slot). The midway slot runs every 10th tick too, halfway between two
    /// 10 ms slots (ticks 5, 15, …): work that is spread over ticks stays out of the slot ticks.
    public static let ticksPer10ms: UInt16 = 10
    public static let midway10msPhase: UInt16 = 5
    public static let ticksPer100ms: UInt16 = 100
    public static let ticksPerSecond: UInt16 = 1000
}

/// A stage of the tick, in the order it runs. Raw values are stable (they index `StageSet`).
public enum Stage: UInt8, Sendable {
    // Every 1 ms.
    /// Read the cell monitor and the current sensor.
    case sample = 0
    /// Plausibility and staleness of every reading.
    case validate = 1
    /// Cell-voltage minimum, maximum, mean and spread.
    case cellStatistics = 2
    /// Integrate the pack current.
    case coulombCount = 3
    /// Limits and plausibility rules of the protection table, debounced.
    case faultChecks = 4
    /// Requests, trips and the sequencer's outcome through the BMS state machine.
    case stateMachine = 5
    /// Contactor sequencing and the coil commands.
    case contactorSequencing = 6
    // Every 10 ms.
    /// State of charge from the counted charge (anchored once from the rest voltage).
    case stateOfCharge = 7
    /// Charge and discharge current limits.
    case powerLimits = 8
    // Every 100 ms.
    /// Temperature minimum, maximum, mean and spread.
    case temperatureStatistics = 9
    /// Frozen cell-voltage channels.
    case stuckChannels = 10
    /// Balancing decisions.
    case balancing = 11
    // Every 1 s.
    /// Temperature rate of rise.
    case temperatureRise = 12
    /// Close the one-second timing-report window.
    case timingReport = 13
    // Every tick, last.
    /// Feed the watchdog (only reached by a tick that completed every stage before it).
    case feedWatchdog = 14
    // Every 10 ms, after the state of charge (15: raw values are stable, so it is appended).
    /// SOC filters of a tenth of the elements in turn, pack SOC and bound, resistance from current
    /// steps, capacity at relaxed points (when the loop has a cell model).
    case stateEstimation = 15
    // CAN (Firmware/CAN/, Fixtures/bms.dbc); appended, raw values are stable.
    /// Every 1 ms, after the cell statistics: state requests from the bus, E2E checks, timeouts.
    case canReceive = 16
    /// Every 10 ms, after the power limits: pack values, current limits, a cell-voltage group.
    case fastFrames = 17
    /// Every 100 ms, after balancing: status, faults, SOC, statistics, a temperature group.
    case statusFrames = 18
    /// Once a second, after the risk scoring on its midway slot (tick 505 of each second): health,
    /// the risk ranking, identity.
    case slowFrames = 19
    /// Every 1 ms, before the watchdog: frames still queued go to the bus.
    case canTransmit = 20
    /// Every 1 ms, before the CAN transmit: what calls for a checkpoint (contactors opening, a new
    /// latch, a shutdown request; periodically on the 1 s slot), and the journal's writing moved
    /// on by one page erase or a few words (Firmware/Persistence/).
    case persistence = 21
    /// Every 10 ms, midway between the 10 ms slots, over the last ticks before each 1 s slot:
    /// the usable charge of one element in turn; the last element's turn completes the pack's
    /// figure that the 1 s slot sends (when the loop has a cell model).
    case usableCharge = 22
    /// Once a second, on the midway slot half a second after the 1 s slot (tick 505 of each
    /// second, so it never coincides with the slowest tick): per-cell health features, risk
    /// scores, alert levels (Firmware/Health/); the 100 ms slot also feeds it the current steps.
    case riskScoring = 23
}

/// A set of stages, one bit per stage.
public struct StageSet: Equatable, Sendable {
    public var bits: UInt32
    public init(bits: UInt32 = 0) { self.bits = bits }
    @inline(__always) public func contains(_ stage: Stage) -> Bool { bits & (1 &<< UInt32(stage.rawValue)) != 0 }
    @inline(__always) public mutating func insert(_ stage: Stage) { bits |= 1 &<< UInt32(stage.rawValue) }
}

/// Counts ticks and says which slots are due. Phase counters instead of a modulo of the 64-bit
/// tick count: no 64-bit division on 32-bit targets.
public struct Schedule: Sendable {
    /// Ticks run so far (the next tick's index).
    public private(set) var tickCount: UInt64 = 0
    var phase10ms: UInt16 = 0
    var phase100ms: UInt16 = 0
    var phase1s: UInt16 = 0

    public init() {}

    /// Which slots the current tick runs.
    public struct Due: Equatable, Sendable {
        public var every10ms: Bool
        public var every100ms: Bool
        public var every1s: Bool
        /// Halfway between two 10 ms slots (never together with another slot).
        public var midway10ms: Bool
        public init(every10ms: Bool, every100ms: Bool, every1s: Bool, midway10ms: Bool = false) {
            self.every10ms = every10ms
            self.every100ms = every100ms
            self.every1s = every1s
            self.midway10ms = midway10ms
        }
    }

    /// The slots due on the tick about to run.
    @inline(__always) public var due: Due {
        Due(every10ms: phase10ms == 0, every100ms: phase100ms == 0, every1s: phase1s == 0,
            midway10ms: phase10ms == ControlLoopTiming.midway10msPhase)
    }

    /// How many midway slots there are from the tick about to run (included) to the next 1 s
    /// slot: 100 right after a 1 s slot, 1 on the last midway slot before the next.
    @inline(__always) public var midwaySlotsBeforeSecond: Int {
        (Int(ControlLoopTiming.ticksPerSecond &- phase1s) + Int(ControlLoopTiming.midway10msPhase)) / Int(ControlLoopTiming.ticksPer10ms)
    }

    /// Moves to the next tick.
    @inline(__always) public mutating func advance() {
        tickCount &+= 1
        phase10ms = phase10ms + 1 == ControlLoopTiming.ticksPer10ms ? 0 : phase10ms + 1
        phase100ms = phase100ms + 1 == ControlLoopTiming.ticksPer100ms ? 0 : phase100ms + 1
        phase1s = phase1s + 1 == ControlLoopTiming.ticksPerSecond ? 0 : phase1s + 1
    }
}
