// The CAN matrix held together: the committed codecs against a fresh generation from the DBC,
// a codec for every message, every codec against the host's DBC decoder (raw values, E2E and
// the refusals), the CRCs against published check values and a frame worked by hand, bit packing
// at awkward offsets, the DBC reader's one-line errors, and `bms-harness decode` end to end.
// (Every suite's name starts with DBC: `swift test --filter DBC` runs them all.)
import Foundation
import Firmware
import HAL
import HostHarness
import Testing

/// The package root and Fixtures/bms.dbc, found as the commands find Fixtures (FixtureLocator:
/// $BMS_FIXTURES or the nearest Fixtures/ above the working directory).
enum Matrix {
    static func root() throws -> URL { try FixtureLocator.fixturesDirectory().deletingLastPathComponent() }
    static func dbcPath() throws -> String { try root().appendingPathComponent("Fixtures/bms.dbc").path }
    static func dbc() throws -> DBCFile { try DBCFile.load(path: dbcPath()) }
    static func decoder() throws -> DBCDecoder { DBCDecoder(try dbc()) }

    /// `frame` with its bytes copied into a new identifier, format or length (missing bytes zero).
    static func reshaped(_ frame: CANFrame, id: UInt32? = nil, format: CANFrameFormat? = nil, length: Int? = nil) -> CANFrame {
        var copy = CANFrame(id: CANIdentifier(standard: id ?? frame.id.rawValue)!, format: format ?? frame.format, length: length ?? frame.length)!
        for i in 0..<min(copy.length, frame.length) { copy[i] = frame[i] }
        return copy
    }

    static func bytes(_ frame: CANFrame) -> [UInt8] { (0..<frame.length).map { frame[$0] } }
}

// MARK: - the generated file and the DBC

@Suite struct DBCGeneratedFileTests {
    @Test func theCommittedCodecsAreWhatTheGeneratorMakesFromTheDBC() throws {
        let root = try Matrix.root()
        let fresh = try DBCCodeGenerator.generate(try Matrix.dbc(), source: "Fixtures/bms.dbc")
        let committedPath = root.appendingPathComponent(DBCCodeGenerator.outputPath).path
        let committed = try String(contentsOfFile: committedPath, encoding: .utf8)
        let a = committed.split(separator: "\n", omittingEmptySubsequences: false)
        let b = fresh.split(separator: "\n", omittingEmptySubsequences: false)
        let line = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }.map { $0.offset } ?? min(a.count, b.count)
        let upToDate = committed == fresh   // a Bool, so a failure prints the message, not two 1,500-line strings
        #expect(upToDate, """
            \(DBCCodeGenerator.outputPath) is not what Fixtures/bms.dbc generates: run `make codegen` and commit the result. \
            First difference at line \(line + 1): committed '\(line < a.count ? a[line] : "<end of file>")', \
            generated '\(line < b.count ? b[line] : "<end of file>")'
            """)
    }

    @Test func theMatrixInDocsCANIsWhatTheGeneratorMakesFromTheDBC() throws {
        let path = try Matrix.root().appendingPathComponent(DBCMatrixDocument.documentPath).path
        let committed = try String(contentsOfFile: path, encoding: .utf8)
        let upToDate = committed == (try DBCMatrixDocument.updating(committed, with: try Matrix.dbc()))
        #expect(upToDate, "the message matrix in \(DBCMatrixDocument.documentPath) is not what Fixtures/bms.dbc generates: run `make codegen`")
        #expect(committed.contains("| `0x110` | BMS_Status | BMS | 8 B | 100 ms | P01 (CRC-8, counter 0…14) | – |"))
    }

    @Test func everyDBCMessageHasACodecAndTheMatrixKnowsExactlyTheDBCIdentifiers() throws {
        let dbc = try Matrix.dbc()
        let generated = try String(contentsOfFile: try Matrix.root().appendingPathComponent(DBCCodeGenerator.outputPath).path, encoding: .utf8)
        #expect(dbc.messages.count == 26)
        for m in dbc.messages {
            #expect(generated.contains("    public struct \(DBCCodeGenerator.typeName(m.name)): Sendable {"), "no codec for \(m.name)")
            #expect(generated.contains("public static let identifier: UInt32 = 0x\(String(format: "%03X", m.id))"), "\(m.name)")
        }
        #expect(CANMatrix.messageCount == dbc.messages.count)
        let ids = Set(dbc.messages.filter { !$0.isExtended }.map(\.id))
        var wrong: [UInt32] = []
        for raw in UInt32(0)...0x7FF where CANMatrix.isDefined(CANIdentifier(standard: raw)!) != ids.contains(raw) { wrong.append(raw) }
        #expect(wrong.isEmpty, "isDefined disagrees with the DBC for \(wrong.map { String($0, radix: 16) })")
        for raw in ids { #expect(!CANMatrix.isDefined(CANIdentifier(extended: raw)!), "extended 0x\(String(raw, radix: 16))") }
    }
}

// MARK: - every codec against the DBC decoder

/// What every generated codec has (the generated structs share no protocol of their own).
protocol GeneratedCodec: Sendable {
    init()
    func encode() -> CANFrame
    static func decode(_ frame: CANFrame) throws(CANDecodeError) -> Self
}

extension CANMatrix.VCURequest: GeneratedCodec {}
extension CANMatrix.TOOLRequest: GeneratedCodec {}
extension CANMatrix.BMSEventLogData: GeneratedCodec {}
extension CANMatrix.CHARGERRequest: GeneratedCodec {}
extension CANMatrix.SHUNTCurrent: GeneratedCodec {}
extension CANMatrix.SHUNTVoltages: GeneratedCodec {}
extension CANMatrix.IOContactorFeedback: GeneratedCodec {}
extension CANMatrix.AFECellVoltages: GeneratedCodec {}
extension CANMatrix.AFETemperatures: GeneratedCodec {}
extension CANMatrix.BMSIOCommand: GeneratedCodec {}
extension CANMatrix.BMSPackFast: GeneratedCodec {}
extension CANMatrix.BMSCurrentLimits: GeneratedCodec {}
extension CANMatrix.BMSRequestAnswer: GeneratedCodec {}
extension CANMatrix.BMSStatus: GeneratedCodec {}
extension CANMatrix.BMSFaultTiers: GeneratedCodec {}
extension CANMatrix.BMSFaultLatches: GeneratedCodec {}
extension CANMatrix.BMSVoltageLimits: GeneratedCodec {}
extension CANMatrix.BMSStateOfCharge: GeneratedCodec {}
extension CANMatrix.BMSCellVoltageMinMax: GeneratedCodec {}
extension CANMatrix.BMSTemperatureMinMax: GeneratedCodec {}
extension CANMatrix.BMSBalancing: GeneratedCodec {}
extension CANMatrix.BMSCellVoltages: GeneratedCodec {}
extension CANMatrix.BMSCellTemperatures: GeneratedCodec {}
extension CANMatrix.BMSStateOfHealth: GeneratedCodec {}
extension CANMatrix.BMSRiskRanking: GeneratedCodec {}
extension CANMatrix.BMSIdentity: GeneratedCodec {}

/// One codec with its fields set: the frame it encodes, the raw values by DBC signal name, and
/// how to read them back through the generated decoder.
struct CodecCase: Sendable, CustomTestStringConvertible {
    let message: String
    let encoded: CANFrame
    /// Every signal the frame carries except the CRC, by DBC name, as set on the codec.
    let fields: [String: Int64]
    let decodeGenerated: @Sendable (CANFrame) throws(CANDecodeError) -> [String: Int64]
    /// For an E2E message: the same values encoded with counter 15.
    let counter15: CANFrame?
    var testDescription: String { message + (fields.keys.first { $0.hasSuffix("Group") }.map { " group \(fields[$0]!)" } ?? "") }

    static func make<C: GeneratedCodec>(_ type: C.Type, _ message: String, counter: WritableKeyPath<C, UInt8>? = nil,
                                        _ set: (inout C) -> Void, _ fields: @escaping @Sendable (C) -> [String: Int64]) -> CodecCase {
        var value = C()
        set(&value)
        var counter15: CANFrame? = nil
        if let counter {
            var copy = value
            copy[keyPath: counter] = 15
            counter15 = copy.encode()
        }
        return CodecCase(message: message, encoded: value.encode(), fields: fields(value),
                         decodeGenerated: { frame throws(CANDecodeError) in fields(try C.decode(frame)) }, counter15: counter15)
    }

    /// `Name_NN` … for `count` signals from number `first`.
    static func series(_ base: String, first: Int, count: Int, _ value: (Int) -> Int64) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for i in 0..<count {
            let n = first + i
            result[base + "_" + (n < 10 ? "0" : "") + String(n)] = value(i)
        }
        return result
    }

}

/// A codec field as a DBC raw value.
func raw(_ v: some BinaryInteger) -> Int64 { Int64(v) }

enum Codecs {
    /// Non-trivial raw values in every field of every codec: high bits set, negative values in
    /// the signed fields, every 2-bit value, the last multiplexer group.
    static let cases: [CodecCase] = {
        typealias C = CodecCase
        var cases: [CodecCase] = [
            C.make(CANMatrix.VCURequest.self, "VCU_Request", counter: \.counter, { m in m.counter = 9; m.stateRequest = 3 }) { m in
                ["VCURequest_Counter": raw(m.counter), "StateRequest": raw(m.stateRequest)]
            },
            C.make(CANMatrix.CHARGERRequest.self, "CHARGER_Request", counter: \.counter, { m in m.counter = 14; m.stateRequest = 1 }) { m in
                ["ChargerRequest_Counter": raw(m.counter), "StateRequest": raw(m.stateRequest)]
            },
            C.make(CANMatrix.SHUNTCurrent.self, "SHUNT_Current", counter: \.counter, { m in m.counter = 5; m.current = -1_234_567_890 }) { m in
                ["ShuntCurrent_Counter": raw(m.counter), "Current": raw(m.current)]
            },
            C.make(CANMatrix.SHUNTVoltages.self, "SHUNT_Voltages", counter: \.counter,
                   { m in m.counter = 11; m.packVoltage = 0xABCDEF; m.linkVoltage = 398_765 }) { m in
                ["ShuntVoltages_Counter": raw(m.counter), "PackVoltage": raw(m.packVoltage), "LinkVoltage": raw(m.linkVoltage)]
            },
            C.make(CANMatrix.IOContactorFeedback.self, "IO_ContactorFeedback", counter: \.counter,
                   { m in m.counter = 2; m.mainPositiveFeedback = 1; m.mainNegativeFeedback = 2; m.prechargeFeedback = 3 }) { m in
                ["ContactorFeedback_Counter": raw(m.counter), "MainPositiveFeedback": raw(m.mainPositiveFeedback),
                 "MainNegativeFeedback": raw(m.mainNegativeFeedback), "PrechargeFeedback": raw(m.prechargeFeedback)]
            },
            C.make(CANMatrix.AFECellVoltages.self, "AFE_CellVoltages", counter: \.counter,
                   { m in m.counter = 42; for k in 0..<32 { m.voltage[k] = UInt16(3300 + 7 * k) } }) { m in
                C.series("Voltage", first: 1, count: 32) { raw(m.voltage[$0]) }.merging(["AFECellVoltages_Counter": raw(m.counter)]) { a, _ in a }
            },
            C.make(CANMatrix.AFETemperatures.self, "AFE_Temperatures", counter: \.counter, { m in
                m.counter = 200
                for k in 0..<16 { m.temperature[k] = Int16(k % 2 == 0 ? -(100 * k + 7) : 100 * k + 7) }
                m.temperature[15] = Int16.min
            }) { m in
                C.series("Temperature", first: 1, count: 16) { raw(m.temperature[$0]) }.merging(["AFETemperatures_Counter": raw(m.counter)]) { a, _ in a }
            },
            C.make(CANMatrix.BMSIOCommand.self, "BMS_IOCommand", counter: \.counter, { m in
                m.counter = 7; m.mainPositiveCoil = 1; m.mainNegativeCoil = 0; m.prechargeCoil = 1; m.balancingMask = 0xDEAD_BEEF
            }) { m in
                ["IOCommand_Counter": raw(m.counter), "MainPositiveCoil": raw(m.mainPositiveCoil), "MainNegativeCoil": raw(m.mainNegativeCoil),
                 "PrechargeCoil": raw(m.prechargeCoil), "BalancingMask": raw(m.balancingMask)]
            },
            C.make(CANMatrix.BMSPackFast.self, "BMS_PackFast", counter: \.counter,
                   { m in m.counter = 13; m.packCurrent = -12_345; m.packVoltage = 40_012; m.linkVoltage = 39_876 }) { m in
                ["PackFast_Counter": raw(m.counter), "PackCurrent": raw(m.packCurrent), "PackVoltage": raw(m.packVoltage), "LinkVoltage": raw(m.linkVoltage)]
            },
            C.make(CANMatrix.BMSCurrentLimits.self, "BMS_CurrentLimits", counter: \.counter, { m in
                m.counter = 4; m.maxChargeCurrent = 1234; m.maxDischargeCurrent = 2345; m.maxChargeCurrentContinuous = 3456
                m.maxDischargeCurrentContinuous = 4094
            }) { m in
                ["CurrentLimits_Counter": raw(m.counter), "MaxChargeCurrent": raw(m.maxChargeCurrent), "MaxDischargeCurrent": raw(m.maxDischargeCurrent),
                 "MaxChargeCurrentContinuous": raw(m.maxChargeCurrentContinuous), "MaxDischargeCurrentContinuous": raw(m.maxDischargeCurrentContinuous)]
            },
            C.make(CANMatrix.BMSRequestAnswer.self, "BMS_RequestAnswer", counter: \.counter, { m in
                m.counter = 10; m.answeredRequest = 2; m.requestSource = 1; m.answer = 5; m.answerSequence = 201
            }) { m in
                ["RequestAnswer_Counter": raw(m.counter), "AnsweredRequest": raw(m.answeredRequest), "RequestSource": raw(m.requestSource),
                 "Answer": raw(m.answer), "AnswerSequence": raw(m.answerSequence)]
            },
            C.make(CANMatrix.BMSStatus.self, "BMS_Status", counter: \.counter, { m in
                m.counter = 3; m.bmsState = 2; m.operatingMode = 1; m.highestTier = 2; m.mainPositive = 1; m.mainNegative = 3
                m.precharge = 2; m.balancingActive = 1; m.powerDerated = 0; m.requestTimeout = 1; m.integrityErrors = 17
                m.stateReason = 14; m.loopOverruns = 3; m.missedTicks = 250; m.stateSaved = 1
            }) { m in
                ["Status_Counter": raw(m.counter), "BmsState": raw(m.bmsState), "OperatingMode": raw(m.operatingMode), "HighestTier": raw(m.highestTier),
                 "MainPositive": raw(m.mainPositive), "MainNegative": raw(m.mainNegative), "Precharge": raw(m.precharge),
                 "BalancingActive": raw(m.balancingActive), "PowerDerated": raw(m.powerDerated), "RequestTimeout": raw(m.requestTimeout),
                 "IntegrityErrors": raw(m.integrityErrors), "StateReason": raw(m.stateReason), "LoopOverruns": raw(m.loopOverruns),
                 "MissedTicks": raw(m.missedTicks), "StateSaved": raw(m.stateSaved)]
            },
            C.make(CANMatrix.BMSFaultTiers.self, "BMS_FaultTiers", counter: \.counter, { m in
                m.counter = 6
                m.cellOvervoltage = 3; m.cellUndervoltage = 2; m.overtemperatureCharge = 1; m.overtemperatureDischarge = 0
                m.undertemperatureCharge = 3; m.undertemperatureDischarge = 1; m.overcurrentCharge = 2; m.overcurrentDischarge = 3
                m.temperatureRiseRate = 1; m.cellVoltageImplausible = 2; m.cellVoltageStale = 3; m.temperatureSensorFault = 1
                m.currentMeasurementFault = 2; m.sumOfCellsMismatch = 1; m.stuckCellVoltage = 3; m.contactorFeedback = 2
                m.contactorWelded = 1; m.prechargeFailed = 3
            }) { m in
                ["FaultTiers_Counter": raw(m.counter),
                 "CellOvervoltage": raw(m.cellOvervoltage), "CellUndervoltage": raw(m.cellUndervoltage),
                 "OvertemperatureCharge": raw(m.overtemperatureCharge), "OvertemperatureDischarge": raw(m.overtemperatureDischarge),
                 "UndertemperatureCharge": raw(m.undertemperatureCharge), "UndertemperatureDischarge": raw(m.undertemperatureDischarge),
                 "OvercurrentCharge": raw(m.overcurrentCharge), "OvercurrentDischarge": raw(m.overcurrentDischarge),
                 "TemperatureRiseRate": raw(m.temperatureRiseRate), "CellVoltageImplausible": raw(m.cellVoltageImplausible),
                 "CellVoltageStale": raw(m.cellVoltageStale), "TemperatureSensorFault": raw(m.temperatureSensorFault),
                 "CurrentMeasurementFault": raw(m.currentMeasurementFault), "SumOfCellsMismatch": raw(m.sumOfCellsMismatch),
                 "StuckCellVoltage": raw(m.stuckCellVoltage), "ContactorFeedback": raw(m.contactorFeedback),
                 "ContactorWelded": raw(m.contactorWelded), "PrechargeFailed": raw(m.prechargeFailed)]
            },
            C.make(CANMatrix.BMSFaultLatches.self, "BMS_FaultLatches", counter: \.counter, { m in
                m.counter = 8
                m.cellOvervoltageLatched = 1; m.cellUndervoltageLatched = 0; m.overtemperatureChargeLatched = 1
                m.overtemperatureDischargeLatched = 1; m.undertemperatureChargeLatched = 0; m.undertemperatureDischargeLatched = 1
                m.overcurrentChargeLatched = 0; m.overcurrentDischargeLatched = 0; m.temperatureRiseRateLatched = 1
                m.cellVoltageImplausibleLatched = 1; m.cellVoltageStaleLatched = 1; m.temperatureSensorFaultLatched = 0
                m.currentMeasurementFaultLatched = 1; m.sumOfCellsMismatchLatched = 0; m.stuckCellVoltageLatched = 1
                m.contactorFeedbackLatched = 1; m.contactorWeldedLatched = 0; m.prechargeFailedLatched = 1
            }) { m in
                ["FaultLatches_Counter": raw(m.counter),
                 "CellOvervoltageLatched": raw(m.cellOvervoltageLatched), "CellUndervoltageLatched": raw(m.cellUndervoltageLatched),
                 "OvertemperatureChargeLatched": raw(m.overtemperatureChargeLatched),
                 "OvertemperatureDischargeLatched": raw(m.overtemperatureDischargeLatched),
                 "UndertemperatureChargeLatched": raw(m.undertemperatureChargeLatched),
                 "UndertemperatureDischargeLatched": raw(m.undertemperatureDischargeLatched),
                 "OvercurrentChargeLatched": raw(m.overcurrentChargeLatched), "OvercurrentDischargeLatched": raw(m.overcurrentDischargeLatched),
                 "TemperatureRiseRateLatched": raw(m.temperatureRiseRateLatched),
                 "CellVoltageImplausibleLatched": raw(m.cellVoltageImplausibleLatched), "CellVoltageStaleLatched": raw(m.cellVoltageStaleLatched),
                 "TemperatureSensorFaultLatched": raw(m.temperatureSensorFaultLatched),
                 "CurrentMeasurementFaultLatched": raw(m.currentMeasurementFaultLatched),
                 "SumOfCellsMismatchLatched": raw(m.sumOfCellsMismatchLatched), "StuckCellVoltageLatched": raw(m.stuckCellVoltageLatched),
                 "ContactorFeedbackLatched": raw(m.contactorFeedbackLatched), "ContactorWeldedLatched": raw(m.contactorWeldedLatched),
                 "PrechargeFailedLatched": raw(m.prechargeFailedLatched)]
            },
            C.make(CANMatrix.BMSVoltageLimits.self, "BMS_VoltageLimits", {
                m in m.maxChargeVoltage = 40_320; m.minDischargeVoltage = 28_800; m.maxCellVoltageLimit = 4_200; m.minCellVoltageLimit = 2_500
            }) { m in
                ["MaxChargeVoltage": raw(m.maxChargeVoltage), "MinDischargeVoltage": raw(m.minDischargeVoltage),
                 "MaxCellVoltageLimit": raw(m.maxCellVoltageLimit), "MinCellVoltageLimit": raw(m.minCellVoltageLimit)]
            },
            C.make(CANMatrix.BMSStateOfCharge.self, "BMS_StateOfCharge",
                   { m in m.soc = 873; m.socBound = 25; m.socMin = 801; m.socMax = 934; m.socSource = 1 }) { m in
                ["SOC": raw(m.soc), "SOCBound": raw(m.socBound), "SOCMin": raw(m.socMin), "SOCMax": raw(m.socMax), "SOCSource": raw(m.socSource)]
            },
            C.make(CANMatrix.BMSCellVoltageMinMax.self, "BMS_CellVoltageMinMax", { m in
                m.minCellVoltage = 3301; m.maxCellVoltage = 3405; m.meanCellVoltage = 3350; m.minCellIndex = 7; m.maxCellIndex = 254
            }) { m in
                ["MinCellVoltage": raw(m.minCellVoltage), "MaxCellVoltage": raw(m.maxCellVoltage), "MeanCellVoltage": raw(m.meanCellVoltage),
                 "MinCellIndex": raw(m.minCellIndex), "MaxCellIndex": raw(m.maxCellIndex)]
            },
            C.make(CANMatrix.BMSTemperatureMinMax.self, "BMS_TemperatureMinMax", { m in
                m.minTemperature = -105; m.maxTemperature = 452; m.meanTemperature = -1; m.minSensorIndex = 3; m.maxSensorIndex = 14
            }) { m in
                ["MinTemperature": raw(m.minTemperature), "MaxTemperature": raw(m.maxTemperature), "MeanTemperature": raw(m.meanTemperature),
                 "MinSensorIndex": raw(m.minSensorIndex), "MaxSensorIndex": raw(m.maxSensorIndex)]
            },
            C.make(CANMatrix.BMSBalancing.self, "BMS_Balancing",
                   { m in m.balancingCells = 0x8000_0001; m.balancingCount = 2; m.bledCharge = 1_234_567 }) { m in
                ["BalancingCells": raw(m.balancingCells), "BalancingCount": raw(m.balancingCount), "BledCharge": raw(m.bledCharge)]
            },
            C.make(CANMatrix.BMSStateOfHealth.self, "BMS_StateOfHealth", { m in
                m.sohCapacity = 187; m.sohResistance = 321; m.equivalentFullCycles = 1234; m.usableCharge = 4321; m.weakestElement = 9
            }) { m in
                ["SOHCapacity": raw(m.sohCapacity), "SOHResistance": raw(m.sohResistance), "EquivalentFullCycles": raw(m.equivalentFullCycles),
                 "UsableCharge": raw(m.usableCharge), "WeakestElement": raw(m.weakestElement)]
            },
            C.make(CANMatrix.BMSRiskRanking.self, "BMS_RiskRanking", { m in
                m.rank1Cell = 62; m.rank1Score = 99; m.rank1Reason = 5; m.rank2Cell = 1; m.rank2Score = 50; m.rank2Reason = 31
                m.rank3Cell = 33; m.rank3Score = 100; m.rank3Reason = 2; m.alertLevel = 2; m.sensorSuspect = 1; m.suspectCell = 7
            }) { m in
                ["Rank1Cell": raw(m.rank1Cell), "Rank1Score": raw(m.rank1Score), "Rank1Reason": raw(m.rank1Reason),
                 "Rank2Cell": raw(m.rank2Cell), "Rank2Score": raw(m.rank2Score), "Rank2Reason": raw(m.rank2Reason),
                 "Rank3Cell": raw(m.rank3Cell), "Rank3Score": raw(m.rank3Score), "Rank3Reason": raw(m.rank3Reason),
                 "AlertLevel": raw(m.alertLevel), "SensorSuspect": raw(m.sensorSuspect), "SuspectCell": raw(m.suspectCell)]
            },
            C.make(CANMatrix.BMSIdentity.self, "BMS_Identity", { m in
                m.firmwareMajor = 1; m.firmwareMinor = 12; m.firmwarePatch = 255; m.protocolVersion = 1; m.cellCount = 16
                m.temperatureSensorCount = 8
            }) { m in
                ["FirmwareMajor": raw(m.firmwareMajor), "FirmwareMinor": raw(m.firmwareMinor), "FirmwarePatch": raw(m.firmwarePatch),
                 "ProtocolVersion": raw(m.protocolVersion), "CellCount": raw(m.cellCount), "TemperatureSensorCount": raw(m.temperatureSensorCount)]
            },
            C.make(CANMatrix.TOOLRequest.self, "TOOL_Request", { m in m.command = 1 }) { m in ["Command": raw(m.command)] },
            C.make(CANMatrix.BMSEventLogData.self, "BMS_EventLogData", { m in
                m.wordIndex = 2_047; m.pageWords = 512; m.pages = 4; m.word = 0xB503_00B4
            }) { m in
                ["WordIndex": raw(m.wordIndex), "PageWords": raw(m.pageWords), "Pages": raw(m.pages), "Word": raw(m.word)]
            },
        ]
        // Multiplexed: the first, a middle and the last group (cells 4g+1 … 4g+4 / sensors 4g+1 … 4g+4).
        for g in [0, 5, 7] {
            cases.append(C.make(CANMatrix.BMSCellVoltages.self, "BMS_CellVoltages", { m in
                m.cellVoltageGroup = UInt8(g)
                m.cellVoltage[0] = UInt16(3301 + g); m.cellVoltage[1] = 16382; m.cellVoltage[2] = 0x2AAA; m.cellVoltage[3] = 1
            }) { m in
                C.series("CellVoltage", first: 4 * Int(m.cellVoltageGroup) + 1, count: 4) { raw(m.cellVoltage[$0]) }
                    .merging(["CellVoltageGroup": raw(m.cellVoltageGroup)]) { a, _ in a }
            })
        }
        for g in [0, 3] {
            cases.append(C.make(CANMatrix.BMSCellTemperatures.self, "BMS_CellTemperatures", { m in
                m.temperatureGroup = UInt8(g)
                m.temperature[0] = -1; m.temperature[1] = -2048; m.temperature[2] = 2047; m.temperature[3] = Int16(123 + g)
            }) { m in
                C.series("Temperature", first: 4 * Int(m.temperatureGroup) + 1, count: 4) { raw(m.temperature[$0]) }
                    .merging(["TemperatureGroup": raw(m.temperatureGroup)]) { a, _ in a }
            })
        }
        return cases
    }()

    static var protected: [CodecCase] { cases.filter { $0.counter15 != nil } }
}

@Suite struct DBCCodecTests {
    @Test func theTableCoversEveryMessageOfTheDBC() throws {
        let dbc = try Matrix.dbc()
        #expect(Set(Codecs.cases.map(\.message)) == Set(dbc.messages.map(\.name)))
        // Exactly the E2E messages have a counter.
        #expect(Set(Codecs.protected.map(\.message)) == Set(dbc.messages.filter { $0.e2eProfile != .none }.map(\.name)))
    }

    @Test(arguments: Codecs.cases)
    func theCodecAndTheDBCDecoderAgreeOnEveryRawValue(_ c: CodecCase) throws {
        let decoder = try Matrix.decoder()
        let message = try #require(decoder.file.message(named: c.message))
        let decoded = try decoder.decode(c.encoded)
        #expect(decoded.name == c.message)
        // The decoder sees exactly the fields the codec was given (plus the CRC), each with its value.
        let carried = decoded.signals.filter { !$0.name.hasSuffix("_CRC") }
        #expect(Set(carried.map(\.name)) == Set(c.fields.keys))
        for value in carried {
            #expect(value.raw == c.fields[value.name], "\(c.message).\(value.name): DBC decoder \(value.raw), codec \(c.fields[value.name].map(String.init) ?? "-")")
            let signal = try #require(message.signals.first { $0.name == value.name })
            let number = signal.isSigned ? Double(value.raw) : Double(UInt64(bitPattern: value.raw))
            #expect(value.physical == number * signal.factor + signal.offset)
            #expect(value.unit == signal.unit)
            #expect(value.label == signal.label(raw: value.raw))
        }
        // E2E: the codec's CRC is the one the decoder computes.
        if message.e2eProfile == .none {
            #expect(decoded.e2e == nil)
        } else {
            let e2e = try #require(decoded.e2e)
            #expect(e2e.crcOK, "\(c.message): \(e2e.summary)")
            #expect(e2e.summary == "crc ok")
            #expect(Int64(e2e.counter) == c.fields.first { $0.key.hasSuffix("_Counter") }?.value)
        }
        // And the generated decoder gives back every field.
        #expect(try c.decodeGenerated(c.encoded) == c.fields)
    }

    @Test(arguments: Codecs.protected)
    func everySingleBitFlipFailsTheCRCInBothDecoders(_ c: CodecCase) throws {
        let decoder = try Matrix.decoder()
        var missed: [String] = []
        for bit in 0..<(c.encoded.length * 8) {
            var frame = c.encoded
            frame[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            do {
                _ = try c.decodeGenerated(frame)
                missed.append("bit \(bit): generated decode accepted it")
            } catch {
                if error != .checksum { missed.append("bit \(bit): generated decode threw \(error), not .checksum") }
            }
            let e2e = try decoder.decode(frame).e2e
            if e2e?.crcOK != false { missed.append("bit \(bit): decoder says \(e2e?.summary ?? "no E2E")") }
            if e2e?.summary.hasPrefix("CRC MISMATCH") != true { missed.append("bit \(bit): summary \(e2e?.summary ?? "-")") }
        }
        #expect(missed.isEmpty, "\(c.message): \(missed.prefix(5))")
    }

    @Test(arguments: Codecs.protected)
    func counter15IsRefusedInProfile1(_ c: CodecCase) throws {
        let decoder = try Matrix.decoder()
        let message = try #require(decoder.file.message(named: c.message))
        let frame = try #require(c.counter15)
        let e2e = try #require(try decoder.decode(frame).e2e)
        #expect(e2e.crcOK, "the CRC is right; only the counter is wrong")
        switch message.e2eProfile {
        case .profile1:
            #expect(throws: CANDecodeError.counterOutOfRange) { try c.decodeGenerated(frame) }
            #expect(!e2e.counterInRange)
            #expect(e2e.summary == "crc ok, COUNTER 15 OUT OF RANGE")
        case .profile5:
            // An 8-bit profile-5 counter takes every value.
            #expect(try c.decodeGenerated(frame)[c.fields.keys.first { $0.hasSuffix("_Counter") }!] == 15)
            #expect(e2e.counterInRange && e2e.isOK)
        case .none:
            Issue.record("\(c.message) has a counter but no E2E profile")
        }
    }

    @Test(arguments: Codecs.cases)
    func aWrongLengthIsRefusedByBoth(_ c: CodecCase) throws {
        let decoder = try Matrix.decoder()
        let wrong = c.encoded.length == 8 ? 7 : c.encoded.length == 64 ? 48 : 64
        let frame = Matrix.reshaped(c.encoded, length: wrong)
        #expect(throws: CANDecodeError.wrongLength) { try c.decodeGenerated(frame) }
        #expect(throws: DBCDecodeError.wrongLength(expected: c.encoded.length, actual: wrong)) { try decoder.decode(frame) }
    }

    @Test(arguments: Codecs.cases)
    func theOtherFrameFormatIsRefusedByBoth(_ c: CodecCase) throws {
        let decoder = try Matrix.decoder()
        let isFD = c.encoded.format != .classic
        // An FD message as a classic frame (at most 8 bytes), a classic one as an FD frame.
        let frame = isFD ? Matrix.reshaped(c.encoded, format: .classic, length: 8)
                         : Matrix.reshaped(c.encoded, format: .fd(bitRateSwitch: true, errorStateIndicator: false))
        #expect(throws: CANDecodeError.wrongFormat) { try c.decodeGenerated(frame) }
        #expect(throws: DBCDecodeError.wrongFormat(expectedFD: isFD)) { try decoder.decode(frame) }
        #expect(throws: DBCDecodeError.remoteFrame) {
            try decoder.decode(CANFrame(id: c.encoded.id, format: .classicRemote, length: min(8, c.encoded.length))!)
        }
    }

    @Test func anotherMessagesIdentifierIsRefused() throws {
        let status = try #require(Codecs.cases.first { $0.message == "BMS_Status" })
        let fast = try #require(Codecs.cases.first { $0.message == "BMS_PackFast" })
        #expect(throws: CANDecodeError.wrongIdentifier) { try status.decodeGenerated(fast.encoded) }
        #expect(throws: CANDecodeError.wrongIdentifier) { try status.decodeGenerated(Matrix.reshaped(status.encoded, id: 0x7FF)) }
        #expect(throws: DBCDecodeError.notInDBC) { try Matrix.decoder().decode(Matrix.reshaped(status.encoded, id: 0x7FF)) }
    }

    @Test(arguments: [(UInt8(8), 8), (255, 8)] as [(UInt8, Int)])
    func anUndefinedCellVoltageGroupIsRefusedByBoth(group: UInt8, groupCount: Int) throws {
        #expect(CANMatrix.BMSCellVoltages.groupCount == groupCount)
        var m = CANMatrix.BMSCellVoltages()
        m.cellVoltageGroup = group
        let frame = m.encode()
        #expect(throws: CANDecodeError.undefinedMultiplexor) { try CANMatrix.BMSCellVoltages.decode(frame) }
        #expect(throws: DBCDecodeError.undefinedMultiplexor(Int64(group))) { try Matrix.decoder().decode(frame) }
    }

    @Test func anUndefinedTemperatureGroupIsRefusedByBoth() throws {
        var m = CANMatrix.BMSCellTemperatures()
        m.temperatureGroup = 4
        let frame = m.encode()
        #expect(throws: CANDecodeError.undefinedMultiplexor) { try CANMatrix.BMSCellTemperatures.decode(frame) }
        #expect(throws: DBCDecodeError.undefinedMultiplexor(4)) { try Matrix.decoder().decode(frame) }
        m.temperatureGroup = 3
        #expect(try Matrix.decoder().decode(m.encode()).multiplexGroup == 3)
    }

    @Test func physicalValuesAndLabelsOfAStatusAndAPackFrame() throws {
        let decoder = try Matrix.decoder()
        let status = try decoder.decode(try #require(Codecs.cases.first { $0.message == "BMS_Status" }).encoded)
        #expect(status.signal("BmsState")?.label == "Connected")
        #expect(status.signal("OperatingMode")?.label == "Drive")
        #expect(status.signal("MainNegative")?.label == "SNA")
        #expect(status.signal("StateReason")?.label == "SumOfCellsMismatch")
        #expect(status.signal("IntegrityErrors")?.label == nil)
        let fast = try decoder.decode(try #require(Codecs.cases.first { $0.message == "BMS_PackFast" }).encoded)
        let current = try #require(fast.signal("PackCurrent"))
        #expect(current.raw == -12_345 && current.unit == "A")
        #expect(abs(current.physical - -123.45) < 1e-9)
        #expect(abs(try #require(fast.signal("PackVoltage")).physical - 400.12) < 1e-9)
    }
}

// MARK: - CRCs

@Suite struct DBCE2ECRCTests {
    static let check = Array("123456789".utf8)

    @Test func crc8IsSAEJ1850WithItsCheckValue() {
        // CRC-8/SAE-J1850: polynomial 0x1D, init 0xFF, final XOR 0xFF; check value 0x4B.
        var firmware: UInt8 = 0xFF, host: UInt8 = 0xFF
        for byte in Self.check { firmware = E2E.crc8(firmware, byte); host = DBCDecoder.crc8(host, byte) }
        #expect(firmware ^ 0xFF == 0x4B)
        #expect(host ^ 0xFF == 0x4B)
    }

    @Test func crc16IsCCITTFalseWithItsCheckValue() {
        // CRC-16/CCITT-FALSE (CRC-16/AUTOSAR): polynomial 0x1021, init 0xFFFF, no final XOR; check 0x29B1.
        var firmware: UInt16 = 0xFFFF, host: UInt16 = 0xFFFF
        for byte in Self.check { firmware = E2E.crc16(firmware, byte); host = DBCDecoder.crc16(host, byte) }
        #expect(firmware == 0x29B1)
        #expect(host == 0x29B1)
    }

    @Test func aProfile1FrameWorkedByHand() throws {
        // VCU_Request (Data ID 0x0080), counter 1, StateRequest 2 (Drive): byte 1 = 0x21, bytes 2–7 = 0.
        // Profile 1 (net: CRC-8 0x1D from 0, no final XOR) runs over 0x80 (ID low), 0x00 (ID high),
        // 0x21, 0, 0, 0, 0, 0, 0. Register after each byte (shift left 8 times, XOR 0x1D whenever a 1
        // falls out): 0x80 → 0x26 (0x80→0x1D→0x3A→0x74→0xE8→0xCD→0x87→0x13→0x26); 0x00 → 0xC9;
        // 0x21 → 0x5A; then the zeros → 0x0C, 0x9C, 0x77, 0x0A, 0xD2, 0xC2. Cross-check: the remainder
        // of 0x80_00_21_00_00_00_00_00_00_00 divided by x⁸+x⁴+x³+x²+1 (0x11D) is 0xC2.
        var m = CANMatrix.VCURequest()
        m.counter = 1
        m.stateRequest = 2
        let frame = m.encode()
        #expect(Matrix.bytes(frame) == [0xC2, 0x21, 0, 0, 0, 0, 0, 0])
        #expect(E2E.profile1CRC(frame, dataID: 0x080) == 0xC2)
        #expect(DBCDecoder.profile1CRC(Matrix.bytes(frame), dataID: 0x080) == 0xC2)
        let e2e = try #require(try Matrix.decoder().decode(frame).e2e)
        #expect(e2e.receivedCRC == 0xC2 && e2e.computedCRC == 0xC2 && e2e.counter == 1)
    }

    @Test func aProfile5FrameAgreesWithCantools() throws {
        // AFE_CellVoltages, counter 42, Voltage_n = 3300 + 7 (n − 1) mV: cantools 45.1.0
        // (`db.encode_message(..., scaling=False)`, then `compute_profile5_crc(payload, 160)`) gives
        // this payload from byte 2 on, and CRC 0xDD47 (bytes 0–1 = 47 DD).
        let payload = "2ae4cc3a23cfe43300cd41e3d054341ccd48a3d2c43438cd4f63d4343554cd5623d6a43570cd5de3d714368ccd64a3d98436a8cd6b63dbf4360000000000"
        let frame = try #require(Codecs.cases.first { $0.message == "AFE_CellVoltages" }).encoded
        #expect(Matrix.bytes(frame).dropFirst(2).map { String(format: "%02x", $0) }.joined() == payload)
        #expect(frame[0] == 0x47 && frame[1] == 0xDD)
        #expect(E2E.profile5CRC(frame, dataID: 0x0A0) == 0xDD47)
        #expect(DBCDecoder.profile5CRC(Matrix.bytes(frame), dataID: 0x0A0) == 0xDD47)
    }

    @Test(arguments: [
        // (message, previous counter, counter, expected step, summary)
        ("BMS_Status", 14, 0, 1, "crc ok"),            // profile 1 wraps 14 → 0
        ("BMS_Status", 3, 5, 2, "crc ok, counter jumped by 2"),
        ("BMS_Status", 7, 7, 0, "crc ok, counter repeated"),
        ("AFE_CellVoltages", 255, 0, 1, "crc ok"),     // profile 5 wraps 255 → 0
        ("AFE_CellVoltages", 250, 4, 10, "crc ok, counter jumped by 10"),
    ] as [(String, Int, Int, Int, String)])
    func theCounterStepFromThePreviousFrame(message: String, previous: Int, counter: Int, step: Int, summary: String) throws {
        let c = try #require(Codecs.cases.first { $0.message == message })
        var frame = c.encoded
        if message == "BMS_Status" {
            CANPayload.insert(UInt32(counter), start: 8, length: 4, into: &frame)
            frame[0] = E2E.profile1CRC(frame, dataID: 0x110)
        } else {
            frame[2] = UInt8(counter)
            let crc = E2E.profile5CRC(frame, dataID: 0x0A0)
            frame[0] = UInt8(crc & 0xFF); frame[1] = UInt8(crc >> 8)
        }
        let e2e = try #require(try Matrix.decoder().decode(frame, previousCounter: previous).e2e)
        #expect(e2e.counter == counter)
        #expect(e2e.counterStep == step)
        #expect(e2e.summary == summary)
        #expect(try Matrix.decoder().decode(frame).e2e?.counterStep == nil)
    }
}

// MARK: - bit packing

@Suite struct DBCBitPackingTests {
    /// (start, length, value, the 8 bytes it makes in a zero frame — worked out by hand).
    static let fields: [(Int, Int, UInt32, [UInt8])] = [
        (0, 8, 0x5A, [0x5A, 0, 0, 0, 0, 0, 0, 0]),                   // byte 0 exactly
        (56, 8, 0xC3, [0, 0, 0, 0, 0, 0, 0, 0xC3]),                  // the last byte
        (8, 16, 0x1234, [0, 0x34, 0x12, 0, 0, 0, 0, 0]),             // two whole bytes, little-endian
        (3, 13, 0x1ABC, [0xE0, 0xD5, 0, 0, 0, 0, 0, 0]),             // 0x1ABC << 3 = 0xD5E0
        (60, 4, 0xA, [0, 0, 0, 0, 0, 0, 0, 0xA0]),                   // the top nibble
        (16, 32, 0xDEAD_BEEF, [0, 0, 0xEF, 0xBE, 0xAD, 0xDE, 0, 0]), // 32 bits at 16
        (7, 2, 0x3, [0x80, 0x01, 0, 0, 0, 0, 0, 0]),                 // straddles bytes 0 and 1
        (5, 1, 0x1, [0x20, 0, 0, 0, 0, 0, 0, 0]),
        (20, 12, 0xFFF, [0, 0, 0xF0, 0xFF, 0, 0, 0, 0]),             // 12-bit −1
    ]

    @Test(arguments: fields)
    func insertAndExtractAtByteBoundariesAndOddOffsets(start: Int, length: Int, value: UInt32, bytes: [UInt8]) {
        var frame = CANFrame(id: CANIdentifier(standard: 0x123)!, length: 8)!
        CANPayload.insert(value, start: start, length: length, into: &frame)
        #expect(Matrix.bytes(frame) == bytes)
        #expect(CANPayload.extract(frame, start: start, length: length) == value)
        #expect(DBCDecoder.bits(bytes, start: start, length: length) == UInt64(value))
        // Bits outside the field are kept: zeros written into all-ones clear exactly the field.
        var ones = CANFrame(id: CANIdentifier(standard: 0x123)!, length: 8)!
        for i in 0..<8 { ones[i] = 0xFF }
        CANPayload.insert(0, start: start, length: length, into: &ones)
        var mask = [UInt8](repeating: 0, count: 8)
        for bit in start..<(start + length) { mask[bit / 8] |= UInt8(1) << UInt8(bit % 8) }
        #expect(Matrix.bytes(ones) == mask.map { ~$0 })
        // Bits above `length` in the value are not written.
        var clipped = CANFrame(id: CANIdentifier(standard: 0x123)!, length: 8)!
        CANPayload.insert(value | (length == 32 ? 0 : ~((UInt32(1) << UInt32(length)) &- 1)), start: start, length: length, into: &clipped)
        #expect(Matrix.bytes(clipped) == bytes)
    }

    @Test(arguments: [(Int32(-1), UInt32(0xFFF)), (-2048, 0x800), (2047, 0x7FF), (0, 0), (-2, 0xFFE)] as [(Int32, UInt32)])
    func twelveBitFieldsSignExtend(value: Int32, bits: UInt32) throws {
        var frame = CANFrame(id: CANIdentifier(standard: 0x131)!, length: 8)!
        for i in 0..<8 { frame[i] = 0xA5 }
        CANPayload.insert(UInt32(bitPattern: value), start: 20, length: 12, into: &frame)
        #expect(CANPayload.extract(frame, start: 20, length: 12) == bits)
        #expect(CANPayload.extractSigned(frame, start: 20, length: 12) == value)
        #expect(frame[2] & 0x0F == 0x05 && frame[4] == 0xA5, "neighbours kept")
        let dbc = try DBCFile.parse("BU_: A B\nBO_ 305 T: 8 A\n SG_ T : 20|12@1- (0.1,0) [-204.8|204.7] \"degC\" B\n", fileName: "t.dbc")
        let signal = try #require(dbc.messages.first?.signals.first)
        #expect(DBCDecoder.raw(of: signal, in: Matrix.bytes(frame)) == Int64(value))
    }

    @Test func thirtyTwoBitSignedExtremes() {
        for value in [Int32.min, Int32.max, -1, -1_234_567_890] {
            var frame = CANFrame(id: CANIdentifier(standard: 0x090)!, length: 8)!
            CANPayload.insert(UInt32(bitPattern: value), start: 16, length: 32, into: &frame)
            #expect(CANPayload.extractSigned(frame, start: 16, length: 32) == value)
            #expect(CANPayload.extract(frame, start: 16, length: 32) == UInt32(bitPattern: value))
        }
    }
}

// MARK: - the DBC reader's errors

/// A malformed DBC, the line its error names and the rest of the message.
struct ParserCase: Sendable, CustomTestStringConvertible {
    var problem: String, text: String, line: Int, message: String
    var testDescription: String { problem }
}

@Suite struct DBCParserErrorTests {
    static let head = "VERSION \"t\"\n\nBU_: A B\n"

    @Test(arguments: [
        // (what is wrong, the text, the line the error names, the rest of the message)
        ("unknown statement", head + "FOO_ 1 2\n", 4, "unknown statement 'FOO_'"),
        ("signal outside a message", head + " SG_ X : 0|8@1+ (1,0) [0|255] \"\" B\n", 4, "SG_ outside a message"),
        ("overlapping signals", head + "BO_ 256 M: 8 A\n SG_ X : 0|8@1+ (1,0) [0|255] \"\" B\n SG_ Y : 4|8@1+ (1,0) [0|255] \"\" B\n",
         4, "M.Y overlaps another signal"),
        ("signal beyond the length", head + "\nBO_ 256 M: 2 A\n SG_ X : 10|8@1+ (1,0) [0|255] \"\" B\n", 5, "M.X does not fit in the message"),
        ("duplicate id", head + "BO_ 256 M: 8 A\n SG_ X : 0|8@1+ (1,0) [0|255] \"\" B\n\nBO_ 256 N: 8 A\n", 7, "duplicate message id 256"),
        ("malformed signal", head + "BO_ 256 M: 8 A\n SG_ X : 0|8@1+ (1,0) [0|255 \"\" B\n", 5, "malformed signal definition"),
        ("FD length", head + "BO_ 256 M: 13 A\n", 4, "M: length 13 is not a valid classic length"),
        ("value table for an unknown signal", head + "BO_ 256 M: 8 A\n SG_ X : 0|8@1+ (1,0) [0|255] \"\" B\nVAL_ 256 Y 1 \"On\" ;\n",
         6, "VAL_ for an unknown signal"),
        ("unclosed comment", head + "BO_ 256 M: 8 A\nCM_ BO_ 256 \"never closed\n", 5, "statement not closed with ';'"),
    ].map { ParserCase(problem: $0.0, text: $0.1, line: $0.2, message: $0.3) } as [ParserCase])
    func aMalformedDBCFailsWithOneLineNamingFileAndLine(_ c: ParserCase) {
        do {
            _ = try DBCFile.parse(c.text, fileName: "t.dbc")
            Issue.record("\(c.problem): parsed without an error")
        } catch {
            #expect(error.message == "t.dbc:\(c.line): \(c.message)", "\(c.problem)")
            #expect(!error.message.contains("\n"), "\(c.problem): one line")
        }
    }

    @Test func aCRLFFileReadsAsItsLFTwinAndNumbersItsLinesAlike() throws {
        let lf = DBCDecoderTests.text, crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try DBCFile.parse(crlf, fileName: "decoder.dbc") == DBCFile.parse(lf, fileName: "decoder.dbc"))
        #expect(try DBCFile.parse(crlf, fileName: "decoder.dbc").messages.count == 3)
        let bad = (Self.head + "BO_ 256 M: 8 A\n SG_ X : 0|8@1+ (1,0) [0|255] \"\" B\n\nBO_ 256 N: 8 A\n")
            .replacingOccurrences(of: "\n", with: "\r\n")
        #expect(throws: HarnessError("t.dbc:7: duplicate message id 256")) { _ = try DBCFile.parse(bad, fileName: "t.dbc") }
    }
}

// MARK: - the decoder on a DBC of its own

@Suite struct DBCDecoderTests {
    /// A standard multiplexed message with a scaled signed field, and two 64-bit messages that
    /// share the number 0x160 as standard and extended identifiers (BO_ 2147484000 = 0x8000_0160).
    static let text = """
        VERSION "decoder"

        BU_: A B

        BO_ 291 Mixed: 8 A
         SG_ Mode M : 0|2@1+ (1,0) [0|3] "" B
         SG_ Temp m0 : 2|12@1- (0.5,-40) [-1064|983.5] "degC" B
         SG_ Volt m1 : 2|16@1+ (0.01,0) [0|655.35] "V" B
         SG_ Flags : 56|8@1+ (1,0) [0|255] "" B

        BO_ 2147484000 Wide: 8 A
         SG_ All : 0|64@1+ (1,0) [0|0] "" B

        BO_ 352 WideSigned: 8 A
         SG_ All : 0|64@1- (2,1) [0|0] "" B

        VAL_ 291 Mode 0 "Temperature" 1 "Voltage" ;
        VAL_ 291 Flags 255 "SNA" ;
        """

    static func decoder() throws -> DBCDecoder { DBCDecoder(try DBCFile.parse(text, fileName: "decoder.dbc")) }

    @Test func theMultiplexerPicksTheSignalsAndScalingAndLabelsApply() throws {
        let d = try Self.decoder()
        // Mode 0, Temp raw −3 (0xFFD) at bit 2: 0xFFD << 2 = 0x3FF4; Flags 0xFF.
        let t = try d.decode(id: 291, extended: false, isFD: false, data: [0xF4, 0x3F, 0, 0, 0, 0, 0, 0xFF])
        #expect(t == DBCDecodedMessage(name: "Mixed", multiplexGroup: 0, signals: [
            DBCSignalValue(name: "Mode", raw: 0, physical: 0, unit: "", label: "Temperature"),
            DBCSignalValue(name: "Temp", raw: -3, physical: -41.5, unit: "degC", label: nil),
            DBCSignalValue(name: "Flags", raw: 255, physical: 255, unit: "", label: "SNA"),
        ], e2e: nil))
        // Mode 1, Volt raw 0xBEEF at bit 2: 0xBEEF << 2 | 1 = 0x2FBBD.
        let v = try d.decode(id: 291, extended: false, isFD: false, data: [0xBD, 0xFB, 0x02, 0, 0, 0, 0, 0x01])
        #expect(v.multiplexGroup == 1)
        #expect(v.signals.map(\.name) == ["Mode", "Volt", "Flags"])
        #expect(v.signal("Volt")?.raw == 0xBEEF)
        #expect(abs((v.signal("Volt")?.physical ?? 0) - 488.79) < 1e-9)
        #expect(v.signal("Flags")?.label == nil)
        #expect(throws: DBCDecodeError.undefinedMultiplexor(2)) { try d.decode(id: 291, extended: false, isFD: false, data: [2, 0, 0, 0, 0, 0, 0, 0]) }
    }

    @Test func sixtyFourBitFieldsAndStandardVersusExtended() throws {
        let d = try Self.decoder()
        let ones = [UInt8](repeating: 0xFF, count: 8)
        let wide = try d.decode(id: 0x160, extended: true, isFD: false, data: ones)
        #expect(wide.name == "Wide")
        #expect(UInt64(bitPattern: try #require(wide.signal("All")).raw) == UInt64.max)
        #expect(wide.signal("All")?.physical == 18_446_744_073_709_551_615.0)
        let signed = try d.decode(id: 0x160, extended: false, isFD: false, data: ones)
        #expect(signed.name == "WideSigned")
        #expect(signed.signal("All")?.raw == -1)
        #expect(signed.signal("All")?.physical == -1)   // −1 × 2 + 1
        let minimum = try d.decode(id: 0x160, extended: false, isFD: false, data: [0, 0, 0, 0, 0, 0, 0, 0x80])
        #expect(minimum.signal("All")?.raw == Int64.min)
        #expect(throws: DBCDecodeError.notInDBC) { try d.decode(id: 291, extended: true, isFD: false, data: ones) }
        #expect(throws: DBCDecodeError.wrongLength(expected: 8, actual: 7)) { try d.decode(id: 291, extended: false, isFD: false, data: [0, 0, 0, 0, 0, 0, 0]) }
    }
}

// MARK: - bms-harness decode

@Suite struct DBCDecodeCommandTests {
    static let second: UInt64 = 1_700_000_000

    static func logged(_ frame: CANFrame, _ microseconds: UInt32) -> LoggedFrame {
        LoggedFrame(timestamp: .init(seconds: second, microseconds: microseconds), interface: "can0", content: .frame(frame))
    }

    /// A short bus log written with CandumpWriter: BMS_Status, BMS_PackFast, an unknown id, an
    /// error frame, BMS_Status two counts on, and BMS_Status with one bit flipped.
    static func busLog() throws -> String {
        var status = CANMatrix.BMSStatus()
        status.counter = 3
        status.bmsState = CANMatrix.BmsState.connected.rawValue
        status.operatingMode = CANMatrix.OperatingMode.drive.rawValue
        status.mainPositive = CANMatrix.ContactorPosition.closed.rawValue
        status.mainNegative = CANMatrix.ContactorPosition.closed.rawValue
        status.loopOverruns = CANMatrix.BMSStatus.loopOverrunsSNA
        status.missedTicks = 2
        var fast = CANMatrix.BMSPackFast()
        fast.counter = 0
        fast.packCurrent = -12_345
        fast.packVoltage = 40_012
        fast.linkVoltage = 39_876
        var later = status
        later.counter = 5
        var corrupted = later.encode()
        corrupted[5] ^= 0x10
        var bytes: [UInt8] = []
        let frames: [LoggedFrame] = [
            logged(status.encode(), 0),
            logged(fast.encode(), 100),
            logged(CANFrame(id: CANIdentifier(standard: 0x7FF)!, length: 2).map { var f = $0; f[0] = 1; f[1] = 2; return f }!, 200),
            LoggedFrame(timestamp: .init(seconds: second, microseconds: 300), interface: "can0",
                        content: .error(classMask: 0xC0, data: LoggedFrame.ErrorData([0, 0x10, 0, 0, 0, 0, 0x80, 0x7F]))),
            logged(later.encode(), 400),
            logged(corrupted, 500),
        ]
        for f in frames { CandumpWriter.append(f, to: &bytes) }
        let directory = temporaryDirectory("decode")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("bus.log").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func printsOneLinePerFrameWithNamesValuesLabelsAndTheE2ECheck() throws {
        let log = try Self.busLog()
        let result = run(["decode", log])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.error.isEmpty)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        try #require(lines.count == 7 && lines[6].isEmpty, "\(result.output)")
        #expect(lines[0].hasPrefix("(1700000000.000000) can0 110 BMS_Status Status_CRC="))
        for part in ["Status_Counter=3", "BmsState=Connected", "OperatingMode=Drive", "HighestTier=Ok", "MainPositive=Closed",
                     "MainNegative=Closed", "Precharge=Open", "BalancingActive=No", "IntegrityErrors=0", "StateReason=NoFault",
                     "LoopOverruns=SNA", "MissedTicks=2"] {
            #expect(lines[0].contains(" \(part) "), "\(part) in \(lines[0])")
        }
        #expect(lines[0].hasSuffix(" [crc ok]"))
        #expect(lines[1].hasPrefix("(1700000000.000100) can0 100 BMS_PackFast "))
        #expect(lines[1].contains(" PackCurrent=-123.45 A PackVoltage=400.12 V LinkVoltage=398.76 V [crc ok]"), "\(lines[1])")
        #expect(lines[2] == "(1700000000.000200) can0 (not in DBC) 7FF#0102")
        #expect(lines[3] == "(1700000000.000300) can0 ERROR FRAME (bus-off, bus-error) 200000C0#001000000000807F")
        #expect(lines[4].contains("Status_Counter=5") && lines[4].hasSuffix(" [crc ok, counter jumped by 2]"), "\(lines[4])")
        #expect(lines[5].contains(" [CRC MISMATCH (received 0x"), "\(lines[5])")
    }

    @Test func theIdFilterKeepsOnlyTheGivenIdentifiers() throws {
        let log = try Self.busLog()
        let result = run(["decode", log, "--id", "110,7ff"])
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines.filter { $0.contains(" 110 BMS_Status ") }.count == 3)
        #expect(lines.contains("(1700000000.000200) can0 (not in DBC) 7FF#0102"))
        #expect(!result.output.contains("ERROR FRAME") && !result.output.contains("BMS_PackFast"))
    }

    @Test func aMalformedLogLineFailsWithItsFileAndLine() throws {
        let directory = temporaryDirectory("decode-bad")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("file.log").path
        var status = CANMatrix.BMSStatus()
        status.bmsState = 1
        let good = CandumpWriter.line(for: Self.logged(status.encode(), 0))
        try Data("\(good)\n# a comment\n(1700000000.000300) can0 110#0G\n\(good)\n".utf8).write(to: URL(fileURLWithPath: path))
        let result = run(["decode", path])
        #expect(result.status == 1)
        #expect(result.error.hasPrefix("bms-harness decode: \(path):3: "), "\(result.error)")
        #expect(result.error.hasSuffix("\n") && result.error.dropLast().firstIndex(of: "\n") == nil, "one line: \(result.error)")
        #expect(result.error.contains("file.log:3:"))
        // The frames before the bad line were printed.
        #expect(result.output.split(separator: "\n").count == 1 && result.output.contains("BmsState=Connecting"))
    }

    @Test(arguments: [
        // (arguments after `decode`, expected status, a phrase of the one-line error)
        ([], 2, "LOG is required"),
        (["LOG", "--id", "XYZ"], 2, "--id: 'XYZ' is not a hexadecimal identifier"),
        (["LOG", "--id", "800"], 2, "--id: '800' is out of range"),
        (["LOG", "extra"], 2, "unexpected argument 'extra'"),
        (["LOG", "--dbc", "/nonexistent/x.dbc"], 1, "/nonexistent/x.dbc: cannot read the DBC file"),
        (["/nonexistent/bus.log"], 1, "/nonexistent/bus.log: cannot read the file"),
    ] as [([String], Int32, String)])
    func badCommandLinesAreRefused(arguments: [String], status: Int32, phrase: String) throws {
        let log = try Self.busLog()
        let result = run(["decode"] + arguments.map { $0 == "LOG" ? log : $0 })
        #expect(result.status == status, "\(result.error)")
        #expect(result.error.hasPrefix("bms-harness decode: ") && result.error.contains(phrase), "\(result.error)")
        #expect(result.output.isEmpty)
    }

    @Test func anotherDBCCanBeGiven() throws {
        let directory = temporaryDirectory("decode-dbc")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let dbc = directory.appendingPathComponent("mine.dbc").path, log = directory.appendingPathComponent("mine.log").path
        try Data(DBCDecoderTests.text.utf8).write(to: URL(fileURLWithPath: dbc))
        try Data("(0000000001.000000) vcan0 123#F43F0000000000FF\n".utf8).write(to: URL(fileURLWithPath: log))
        let result = run(["decode", log, "--dbc", dbc])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output == "(1.000000) vcan0 123 Mixed Mode=Temperature Temp=-41.5 degC Flags=SNA\n")
    }
}
