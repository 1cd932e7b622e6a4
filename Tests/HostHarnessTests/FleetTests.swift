// `bms-harness fleet` (Docs/early-warning.md): the plan draws the chosen faults, each fault acts on
// the pack as chosen, the pack stepped at 1 s follows the 1 ms pack, the scoring follows its
// definitions on hand-made timelines, a small fleet gives byte-identical outputs (twice, and with
// one job or two), and bad command lines get one line and status 2.
import Firmware
import Foundation
import HAL
@testable import HostHarness
import Testing

@Suite struct FleetTests {
    static let month = Microseconds(30 * 86_400 * 1_000_000)
    static let sensorCells = [0, 5, 10, 15]

    // MARK: - the plan

    @Test func aFifthOfThePacksGetAFaultOfEveryCategoryInTurn() {
        let plan = FleetPlan.make(packs: 100, duration: Self.month, seed: 7, faultyFraction: 0.2, seriesCount: 16, sensorCells: Self.sensorCells)
        let faults = plan.compactMap(\.fault)
        #expect(plan.count == 100)
        #expect(faults.count == 20)
        let sensor = faults.filter { $0.kind.isSensorFault }.count
        for kind in [FleetFaultKind.internalShort, .resistanceRise, .capacityFade, .localHeating] {
            #expect(faults.filter { $0.kind == kind }.count == 4, "\(kind)")
        }
        #expect(sensor == 4)
        for f in faults {
            #expect((0..<16).contains(f.cell))
            #expect(f.onset >= .zero && f.onset.rawValue <= Self.month.rawValue * 6 / 10)
            #expect(f.ramp.rawValue >= 2 * 86_400_000_000 && f.ramp.rawValue <= 8 * 86_400_000_000)
            switch f.kind {
            case .internalShort: #expect(f.startOhms >= 1_000 && f.startOhms <= 5_000 && f.size >= 4 && f.size <= 7)
            case .resistanceRise: #expect(f.size >= 2.2 && f.size <= 3)
            case .capacityFade: #expect(f.size >= 0.25 && f.size <= 0.35)
            case .localHeating: #expect(Self.sensorCells.contains(f.cell) && f.size >= 9 && f.size <= 14)
            case .voltageSensorOffset: #expect(abs(f.size) >= 0.02 && abs(f.size) <= 0.06)
            case .voltageSensorNoise: #expect(f.size >= 0.005 && f.size <= 0.02)
            }
        }
        // Every pack differs, and the plan is a function of the seed.
        #expect(Set(plan.map(\.seed)).count == 100)
        #expect(plan == FleetPlan.make(packs: 100, duration: Self.month, seed: 7, faultyFraction: 0.2, seriesCount: 16, sensorCells: Self.sensorCells))
        #expect(plan != FleetPlan.make(packs: 100, duration: Self.month, seed: 8, faultyFraction: 0.2, seriesCount: 16, sensorCells: Self.sensorCells))
        #expect(FleetPlan.make(packs: 10, duration: Self.month, seed: 7, faultyFraction: 0, seriesCount: 16, sensorCells: Self.sensorCells)
            .allSatisfy { $0.fault == nil })
    }

    @Test func aDevelopingShortIsAChainOfFallingResistancesAndTheOtherFaultsRamp() {
        let short = FleetFault(kind: .internalShort, cell: 6, onset: .seconds(3_600), ramp: .seconds(64_000), size: 5, startOhms: 4_000)
        let chain = short.scheduled
        #expect(chain.count == FleetFault.shortSteps)
        var previousEnd = Microseconds.seconds(3_600), previousOhms = Double.infinity
        for (k, step) in chain.enumerated() {
            guard case .internalShort(let cell, let ohms) = step.kind else { Issue.record("not a short"); return }
            #expect(cell == 6 && ohms < previousOhms)
            #expect(step.at == previousEnd)          // one step after the other, no overlap
            previousEnd = step.at + (step.duration ?? .zero)
            previousOhms = ohms
            #expect((k == chain.count - 1) == (step.duration == nil))
        }
        #expect(abs(previousOhms - 5) < 1e-9)
        let rise = FleetFault(kind: .resistanceRise, cell: 2, onset: .seconds(10), ramp: .seconds(100), size: 2.5)
        #expect(rise.scheduled == [ScheduledFault(.resistanceRise(cell: 2, factor: 2.5), at: .seconds(10), ramp: .seconds(100))])
        let drift = FleetFault(kind: .voltageSensorOffset, cell: 3, onset: .zero, ramp: .seconds(100), size: -0.03)
        #expect(drift.scheduled == [ScheduledFault(.voltageSensorOffset(cell: 3, volts: -0.03), at: .zero, ramp: .seconds(100))])
    }

    /// Each fault kind, at full size after a short ramp, as the pack's truth and sensors show it.
    @Test(arguments: FleetFaultKind.allCases)
    func eachFaultActsOnThePackAsChosen(kind: FleetFaultKind) throws {
        let base = try Scenario.load("delivery-day")
        let sizes: [FleetFaultKind: Double] = [.internalShort: 5, .resistanceRise: 3, .capacityFade: 0.3, .localHeating: 12,
                                               .voltageSensorOffset: 0.04, .voltageSensorNoise: 0.02]
        let cell = 5
        let fault = FleetFault(kind: kind, cell: cell, onset: .seconds(60), ramp: .seconds(640), size: sizes[kind]!, startOhms: 2_000)
        var spec = FleetPlan.make(packs: 1, duration: .seconds(3_600), seed: 1, faultyFraction: 0, seriesCount: 16, sensorCells: Self.sensorCells)[0]
        spec.fault = fault
        spec.ambient = .constant(celsius: 25)
        var base1 = base
        base1.load = .rest
        var world = PackWorld(scenario: spec.scenario(base: base1, duration: .seconds(3_600)))
        var contactors = VirtualContactorDriver()
        var readings = CellMonitorReadings(cellCount: 16, temperatureSensorCount: 4)
        var deviations: [Double] = []
        let rest = BMSOutputs(limits: .zero, displayedStateOfCharge: 0.5, state: .standby)
        for second in 0..<1_800 {
            _ = world.advance(contactors: &contactors, bms: rest, step: FleetPackRun.step)
            if second >= 1_000 {
                _ = world.sense(cells: &readings)
                deviations.append(Double(readings.cellVoltages[cell].value.rawValue) / 1_000 - world.pack.terminalVoltage(cell))
            }
        }
        let pack = world.pack, e = pack.elements[cell]
        let limit = HardLimits.check(pack, fault: fault, ratedAh: 10)
        let meanDeviation = deviations.reduce(0, +) / Double(deviations.count)
        let rms = (deviations.map { ($0 - meanDeviation) * ($0 - meanDeviation) }.reduce(0, +) / Double(deviations.count)).squareRoot()
        switch kind {
        case .internalShort:
            #expect(abs(pack.leakCurrent(cell) - pack.terminalVoltage(cell) / 5) < 0.01)
            #expect(limit?.0 == .leakage && limit?.1 == cell)       // ~0.75 A ≥ C/20 = 0.5 A
        case .resistanceRise:
            #expect(abs(e.resistanceFactor / e.builtResistanceFactor - 3) < 0.01)
            #expect(limit?.0 == .resistance)
        case .capacityFade:
            #expect(abs(e.capacityAmpereSeconds / e.builtCapacityAmpereSeconds - 0.7) < 0.001)
            #expect(limit?.0 == .capacity)
        case .localHeating:
            // 12 W at an interior cell: well above its neighbours after 20 min (a 10 K lead takes longer).
            #expect(e.temperature - pack.elements[cell - 1].temperature > 5)
            #expect(limit == nil || limit?.0 == .heating)
        case .voltageSensorOffset:
            #expect(abs(meanDeviation - 0.04) < 0.002)
            #expect(limit == nil)
        case .voltageSensorNoise:
            #expect(rms > 0.015 && rms < 0.025)
            #expect(limit == nil)
        }
    }

    // MARK: - the pack at 1 s

    /// The circuit is exact for a constant current, the thermal step follows the step length:
    /// stepped at 1 s, the pack stays within a fraction of a millivolt and a hundredth of a kelvin
    /// of the same pack stepped at 1 ms through steps of constant current.
    @Test func thePackSteppedAtOneSecondFollowsTheMillisecondPack() throws {
        let scenario = try Scenario.load("delivery-day")
        var fine = PackWorld.makePack(scenario), coarse = fine
        let profile: [(seconds: Int, amperes: Double)] = [(60, -25), (30, 0), (60, -8), (30, 5), (60, 0)]
        var worstVolts = 0.0, worstKelvin = 0.0, worstSOC = 0.0
        for (seconds, amperes) in profile {
            for _ in 0..<seconds {
                for _ in 0..<1_000 { fine.advance(current: amperes, dt: .milliseconds(1), linkCurrentPath: .closed) }
                coarse.advance(current: amperes, dt: .seconds(1), linkCurrentPath: .closed)
                for i in 0..<16 {
                    worstVolts = max(worstVolts, abs(fine.terminalVoltage(i) - coarse.terminalVoltage(i)))
                    worstKelvin = max(worstKelvin, abs(fine.elements[i].temperature - coarse.elements[i].temperature))
                    worstSOC = max(worstSOC, abs(fine.stateOfCharge(i) - coarse.stateOfCharge(i)))
                }
            }
        }
        #expect(worstVolts < 0.001, "worst voltage difference \(worstVolts) V")
        #expect(worstKelvin < 0.02, "worst temperature difference \(worstKelvin) K")
        #expect(worstSOC < 1e-5, "worst SOC difference \(worstSOC)")
    }

    @Test func theFleetBMSConfiguresTheEarlyWarningAsTheLoopDoes() throws {
        let scenario = try Scenario.load("delivery-day")
        let bms = try FleetBMS(pack: scenario.pack)
        let loop = try Simulation(scenario: scenario).loop
        #expect(bms.health.configuration.ratedCapacityAh == loop.health.configuration.ratedCapacityAh)
        #expect(bms.health.configuration.restCurrent == loop.health.configuration.restCurrent)
        #expect(bms.health.cells.count == loop.health.cells.count)
    }

    // MARK: - scoring

    static let hour = 3_600.0

    @Test func aHealthyPacksWarningsAreFalseAlertsOverItsWholeRun() {
        let t = PackTimeline(duration: 15 * 86_400, warnings: [WarningEpisode(cell: 3, start: 1_000, end: 2_000, rankedFirst: 3, reason: .leakage),
                                                               WarningEpisode(cell: 9, start: 5_000, rankedFirst: 9, reason: .capacityFade)])
        let s = FleetScoring.score(t)
        #expect(s.falseAlerts == 2)
        #expect(s.exposureSeconds == 15 * 86_400)
        #expect(FleetScoring.perPackMonth(s.falseAlerts, exposureSeconds: s.exposureSeconds) == 4)
        #expect(!s.detected && !s.hardLimitReached)
    }

    @Test func aCellFaultWarnedBeforeItsHardLimitIsDetectedWithItsLeadTime() {
        let h = Self.hour
        let t = PackTimeline(duration: 50 * h, fault: .resistanceRise, faultCell: 6, onset: 10 * h,
                             hardLimit: HardLimitEvent(seconds: 50 * h, cause: .resistance, cell: 6),
                             warnings: [WarningEpisode(cell: 2, start: 5 * h, end: 6 * h, rankedFirst: 2, reason: .leakage),
                                        WarningEpisode(cell: 6, start: 20 * h, end: 21 * h, rankedFirst: 6, reason: .resistanceGrowth),
                                        WarningEpisode(cell: 6, start: 30 * h, rankedFirst: 6, reason: .resistanceGrowth),
                                        WarningEpisode(cell: 11, start: 40 * h, rankedFirst: 6, reason: .leakage)])
        let s = FleetScoring.score(t)
        #expect(s.hardLimitReached && s.detected && s.packAlerted && s.rankedFirst)
        #expect(s.warningSeconds == 20 * h)
        #expect(s.leadSeconds == 30 * h)
        #expect(s.falseAlerts == 1 && s.exposureSeconds == 10 * h)     // cell 2, before onset
        #expect(s.otherCellAlerts == 1)                                  // cell 11, after onset
    }

    @Test(arguments: [
        // (the faulty cell's episode start, end, ranked first) → detected, lead (h), rank 1
        (30.0, nil, 6, true, 20.0, true),     // 20 h ahead, ranked first
        (30.0, nil, 2, true, 20.0, false),    // another cell ranked first when the alert came
        (50.0, nil, 6, false, nil, false),    // at the hard limit itself: too late
        (55.0, nil, 6, false, nil, false),    // after it
        (4.0, nil, 6, true, 40.0, true),      // open since before onset: counts from onset (10 h)
        (4.0, 8.0, 6, false, nil, false),     // closed before onset: a false alert, no detection
    ] as [(Double, Double?, Int, Bool, Double?, Bool)])
    func detectionLeadAndRankFollowTheFaultyCellsFirstWarning(start: Double, end: Double?, ranked: Int, detected: Bool,
                                                            lead: Double?, rank1: Bool) {
        let h = Self.hour
        let t = PackTimeline(duration: 50 * h, fault: .capacityFade, faultCell: 6, onset: 10 * h,
                             hardLimit: HardLimitEvent(seconds: 50 * h, cause: .capacity, cell: 6),
                             warnings: [WarningEpisode(cell: 6, start: start * h, end: end.map { $0 * h }, rankedFirst: ranked, reason: .capacityFade)])
        let s = FleetScoring.score(t)
        #expect(s.detected == detected)
        #expect(s.leadSeconds.map { $0 / h } == lead)
        #expect(s.rankedFirst == rank1)
        #expect(s.falseAlerts == (start < 10 ? 1 : 0))
    }

    @Test func aCellFaultWithoutAHardLimitInTheRunIsLeftOutOfTheRates() {
        let h = Self.hour
        let t = PackTimeline(duration: 50 * h, fault: .localHeating, faultCell: 5, onset: 10 * h,
                             warnings: [WarningEpisode(cell: 5, start: 30 * h, rankedFirst: 5, reason: .thermalAnomaly)])
        let s = FleetScoring.score(t)
        #expect(!s.hardLimitReached && s.detected && s.leadSeconds == nil)
        var f = FleetFigures()
        f.add(t, s)
        #expect(f.reached == 0 && f.notReached == 1 && f.alertedNotReached == 1)
        #expect(f.detectionRate == nil && f.medianLeadHours == nil)
    }

    @Test func aSensorFaultIsReportedAsASensorFaultOrTakenForACellRisk() {
        let h = Self.hour
        let reported = PackTimeline(duration: 50 * h, fault: .voltageSensorNoise, faultCell: 4, onset: 10 * h,
                                    suspectCells: [(cell: 4, seconds: 12 * h)])
        let s = FleetScoring.score(reported)
        #expect(s.reportedAsSensorFault && !s.reportedAsCellRisk && s.sensorReportSeconds == 12 * h)
        let mistaken = PackTimeline(duration: 50 * h, fault: .voltageSensorOffset, faultCell: 4, onset: 10 * h,
                                    warnings: [WarningEpisode(cell: 4, start: 20 * h, rankedFirst: 4, reason: .leakage)],
                                    suspectCells: [(cell: 9, seconds: 12 * h)])
        let m = FleetScoring.score(mistaken)
        #expect(!m.reportedAsSensorFault && m.reportedAsCellRisk)
        var f = FleetFigures()
        f.add(reported, s)
        f.add(mistaken, m)
        #expect(f.sensorReportedRate == 0.5 && f.cellRiskRate == 0.5 && f.reached == 0)
    }

    @Test func theFleetFiguresAreRatesOverTheFaultsThatReachedTheirHardLimit() {
        let h = Self.hour
        var f = FleetFigures()
        for (warning, ranked) in [(40.0, 1), (20.0, 1), (0.0, 1), (45.0, 2)] {
            let t = PackTimeline(duration: 50 * h, fault: .internalShort, faultCell: 1, onset: 0,
                                 hardLimit: HardLimitEvent(seconds: 50 * h, cause: .leakage, cell: 1),
                                 warnings: warning > 0 ? [WarningEpisode(cell: 1, start: warning * h, rankedFirst: ranked, reason: .leakage)] : [])
            f.add(t, FleetScoring.score(t))
        }
        #expect(f.reached == 4 && f.detected == 3)
        #expect(f.detectionRate == 0.75)
        #expect(f.medianLeadHours == 10)             // leads 10, 30 and 5 h
        #expect(f.rank1Rate! > 0.66 && f.rank1Rate! < 0.67)
        #expect(f.causes[.leakage] == 4)
        #expect(FleetScoring.quantile([1, 2, 3, 4, 5], 0.1) == 1.4)
        #expect(FleetScoring.median([]) == nil)
    }

    // MARK: - the command

    @Test func aSmallFleetGivesTheSameBytesTwiceAndWithOneJobOrTwo() throws {
        var outputs: [(json: String, files: [Data])] = []
        for jobs in ["2", "2", "1"] {
            let out = temporaryDirectory("fleet")
            let result = run(["fleet", "--packs", "4", "--days", "0.25", "--seed", "3", "--faulty", "0.5", "--json",
                              "--jobs", jobs, "--out", out.path])
            #expect(result.status == 0, "\(result.error)")
            #expect(result.error.contains("fleet: 4/4 packs"))
            outputs.append((result.output, try ["summary.json", "packs.csv"].map { try Data(contentsOf: out.appendingPathComponent($0)) }))
        }
        let json = outputs[0].json
        for key in ["\"detection_rate\"", "\"median_lead_time_h\"", "\"false_alerts_per_pack_month\"", "\"rank1_rate\"", "\"per_fault_type\"",
                    "\"internal_short\"", "\"voltage_sensor_noise\""] {
            #expect(json.contains(key), "\(key)")
        }
        #expect(json.hasPrefix("{\n") && json.hasSuffix("}\n"))
        #expect(json.contains("\"faulty_packs\": 2"))
        for other in outputs.dropFirst() {
            #expect(other.json == json)
            #expect(other.files == outputs[0].files)
        }
        #expect(outputs[0].files[0] == Data(json.utf8))
        let csv = String(decoding: outputs[0].files[1], as: UTF8.self).split(separator: "\n")
        #expect(csv.count == 5)      // header + one row per pack
    }

    @Test(arguments: [
        (["fleet", "--packs", "0"], "bms-harness fleet: --packs: '0' is not a whole number from 1 to 10000 (see --help)\n"),
        (["fleet", "--packs", "many"], "bms-harness fleet: --packs: 'many' is not a whole number from 1 to 10000 (see --help)\n"),
        (["fleet", "--days", "-2"], "bms-harness fleet: --days: '-2' is not a number of days from 0 to 366, like 30 or 0.5 (see --help)\n"),
        (["fleet", "--days", "a month"], "bms-harness fleet: --days: 'a month' is not a number of days from 0 to 366, like 30 or 0.5 (see --help)\n"),
        (["fleet", "--seed", "-1"], "bms-harness fleet: --seed: '-1' is not a whole number from 0 to 18446744073709551615 (see --help)\n"),
        (["fleet", "--jobs", "0"], "bms-harness fleet: --jobs: '0' is not a whole number from 1 to 256 (see --help)\n"),
        (["fleet", "--faulty", "1.5"], "bms-harness fleet: --faulty: '1.5' is not a fraction from 0 to 1 (see --help)\n"),
        (["fleet", "--json", "yes"], "bms-harness fleet: unexpected argument 'yes' (see --help)\n"),
        (["fleet", "--cars", "3"], "bms-harness fleet: unknown option '--cars' (see --help)\n"),
    ] as [([String], String)])
    func badOptionsExitTwoWithOneLine(arguments: [String], message: String) {
        let result = run(arguments)
        #expect(result.status == 2)
        #expect(result.error == message)
        #expect(result.output.isEmpty)
    }
}
