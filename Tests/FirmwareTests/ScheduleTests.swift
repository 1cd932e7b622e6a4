// The loop's schedule: which stages run on which tick, in which order, and the watchdog last.
import Firmware
import HAL
import Testing

@Suite struct ScheduleTests {
    static let everyTick: [Stage] = [.sample, .validate, .cellStatistics, .coulombCount, .faultChecks, .stateMachine,
                                     .contactorSequencing, .canReceive, .persistence, .canTransmit, .feedWatchdog]

    /// The stages tick `n` (counted from 0) must run, by the documented dividers.
    static func expectedStages(tick n: Int) -> StageSet {
        var set = StageSet()
        for stage in everyTick { set.insert(stage) }
        if n % 10 == 0 { set.insert(.stateOfCharge); set.insert(.powerLimits); set.insert(.fastFrames) }
        if n % 100 == 0 { set.insert(.temperatureStatistics); set.insert(.stuckChannels); set.insert(.balancing); set.insert(.statusFrames) }
        if n % 1000 == 0 { set.insert(.temperatureRise); set.insert(.timingReport) }
        if n % 1000 == 505 { set.insert(.riskScoring); set.insert(.slowFrames) }
        return set
    }

    @Test func stagesOverTheFirstTwoSeconds() throws {
        var h = try LoopHarness(board: TestBoard(cellVoltages: [3_700, 3_700, 3_700, 3_700]))
        var counts = (soc: 0, temperature: 0, timing: 0)
        for n in 0..<2_000 {
            h.tick()
            #expect(h.loop.lastTickStages == Self.expectedStages(tick: n), "tick \(n)")
            if h.loop.lastTickStages.contains(.stateOfCharge) { counts.soc += 1 }
            if h.loop.lastTickStages.contains(.temperatureStatistics) { counts.temperature += 1 }
            if h.loop.lastTickStages.contains(.timingReport) { counts.timing += 1 }
        }
        #expect(counts.soc == 200 && counts.temperature == 20 && counts.timing == 2)
        #expect(h.loop.schedule.tickCount == 2_000)
    }

    @Test func peripheralsAreUsedInTheDocumentedOrderAndTheWatchdogIsFedLast() throws {
        var h = try LoopHarness(board: TestBoard(cellVoltages: [3_700, 3_700, 3_700, 3_700]))
        // Tick 0 runs every slot: 3 fast and 9 status frames go out (4 cells: one cell-voltage
        // group; 2 sensors: one temperature group), after every other stage; the 3 slow frames
        // come with the risk scoring at tick 505.
        for (tick, frames) in [(0, 12), (1, 0), (2, 0)] {
            h.loop.board.log.calls.removeAll()
            h.tick()
            #expect(h.loop.board.log.calls == ["cellMonitor.measure", "currentSensor.measure", "canBus.receive", "contactors.feedback"]
                        + Array(repeating: "canBus.send", count: frames) + ["timestamp", "watchdog.feed"], "tick \(tick)")
        }
        #expect(h.loop.board.watchdog.feeds == 3)
    }

    @Test func scheduleDividersCountFromTickZero() {
        var schedule = Schedule()
        var due: [Schedule.Due] = []
        for _ in 0..<1_001 { due.append(schedule.due); schedule.advance() }
        #expect(due[0] == Schedule.Due(every10ms: true, every100ms: true, every1s: true))
        #expect(due[1] == Schedule.Due(every10ms: false, every100ms: false, every1s: false))
        #expect(due[10] == Schedule.Due(every10ms: true, every100ms: false, every1s: false))
        #expect(due[100] == Schedule.Due(every10ms: true, every100ms: true, every1s: false))
        #expect(due[999] == Schedule.Due(every10ms: false, every100ms: false, every1s: false))
        #expect(due[1_000] == Schedule.Due(every10ms: true, every100ms: true, every1s: true))
        #expect(due[5] == Schedule.Due(every10ms: false, every100ms: false, every1s: false, midway10ms: true))
        #expect(due[995] == Schedule.Due(every10ms: false, every100ms: false, every1s: false, midway10ms: true))
        #expect(due.filter(\.midway10ms).count == 100)
        #expect(!due.contains { $0.midway10ms && ($0.every10ms || $0.every100ms || $0.every1s) })
    }

    @Test func midwaySlotsAreCountedDownToTheNextSecond() {
        var schedule = Schedule()
        var left: [Int: Int] = [:]
        for n in 0..<2_000 {
            if schedule.due.midway10ms { left[n] = schedule.midwaySlotsBeforeSecond }
            schedule.advance()
        }
        #expect(left[5] == 100 && left[15] == 99 && left[845] == 16 && left[995] == 1 && left[1_005] == 100 && left[1_995] == 1)
        #expect(left.count == 200)
    }

    @Test func theUsableChargeIsSurveyedOneElementPerMidwaySlotBeforeEachSecond() throws {
        // 4 elements with a cell model: the midway slots at 965, 975, 985 and 995 of every second.
        var h = try LoopHarness(board: TestBoard(cellVoltages: [3_700, 3_700, 3_700, 3_700]),
                                configuration: testConfiguration(capacitymAh: 10_000), estimation: linearElement())
        var surveyed: [Int] = []
        for n in 0..<2_000 {
            h.tick()
            var expected = Self.expectedStages(tick: n)
            if n % 10 == 0 { expected.insert(.stateEstimation) }
            if n % 1_000 >= 965 && n % 10 == 5 { expected.insert(.usableCharge); surveyed.append(n) }
            #expect(h.loop.lastTickStages == expected, "tick \(n)")
            if n == 994 { #expect(h.loop.estimator.surveyedUsableCharge == nil) }
        }
        #expect(surveyed == [965, 975, 985, 995, 1_965, 1_975, 1_985, 1_995])
        // The survey gives what the estimator computes over every element at once (nothing moved: at rest).
        let all = try #require(h.loop.estimator.usableCharge(atDischarge: 10))
        let survey = try #require(h.loop.estimator.surveyedUsableCharge)
        #expect(survey.ampereHours == all.ampereHours && survey.element == all.element)
    }

    @Test func stageRawValuesAreStable() {
        let stages: [Stage] = [.sample, .validate, .cellStatistics, .coulombCount, .faultChecks, .stateMachine,
                               .contactorSequencing, .stateOfCharge, .powerLimits, .temperatureStatistics, .stuckChannels,
                               .balancing, .temperatureRise, .timingReport, .feedWatchdog, .stateEstimation, .canReceive,
                               .fastFrames, .statusFrames, .slowFrames, .canTransmit, .persistence, .usableCharge, .riskScoring]
        #expect(stages.map(\.rawValue) == Array(0...23))
    }
}
