// The loop's CAN stages: reception of state requests at the start of the 1 ms path, the cyclic
// messages of Fixtures/bms.dbc from the tick slots, and the transmit flush at the end of a tick.
import HAL

extension ControlLoop {
    /// The most frames taken from the bus in one tick (a burst beyond it waits for the next).
    static var receiveBudget: Int { 16 }

    /// Stage `canReceive`: drains the bus and handles the request streams' timeouts.
    mutating func receiveCAN(now: Instant) {
        var taken = 0
        while taken < Self.receiveBudget {
            let frame: CANFrame?
            do { frame = try board.canBus.receive() } catch {
                can.receiveFailures.record(error.kind)
                break
            }
            guard let frame else { break }
            taken += 1
            if frame.id.rawValue == CANMatrix.VCURequest.identifier && !frame.id.isExtended {
                do {
                    let m = try CANMatrix.VCURequest.decode(frame)
                    handleRequest(m.stateRequest, counter: m.counter, from: .vehicleController, now: now)
                } catch { can.countIntegrityError() }
            } else if frame.id.rawValue == CANMatrix.CHARGERRequest.identifier && !frame.id.isExtended {
                do {
                    let m = try CANMatrix.CHARGERRequest.decode(frame)
                    handleRequest(m.stateRequest, counter: m.counter, from: .charger, now: now)
                } catch { can.countIntegrityError() }
            } else if frame.id.rawValue == CANMatrix.TOOLRequest.identifier && !frame.id.isExtended {
                do {
                    if try CANMatrix.TOOLRequest.decode(frame).command == CANMatrix.ToolCommand.readEventLog.rawValue { startEventLogReadout() }
                } catch { can.countIntegrityError() }
            } else {
                can.ignoredFrames &+= 1
            }
        }
        let timeout = Microseconds.milliseconds(Int32(truncatingIfNeeded: CANMatrix.VCURequest.timeoutMilliseconds))
        if can.vehicleController.checkTimeout(now: now, timeout: timeout) { reactToLostRequests(from: .vehicleController) }
        if can.charger.checkTimeout(now: now, timeout: timeout) { reactToLostRequests(from: .charger) }
    }

    /// One decoded request frame: sequence, range and authorisation, then into the queue.
    mutating func handleRequest(_ raw: UInt8, counter: UInt8, from source: RequestSource, now: Instant) {
        let check: RequestStream.CounterCheck
        let step = can.configuration.maximumCounterStep
        switch source {
        case .vehicleController: check = can.vehicleController.accept(counter: counter, now: now, maximumStep: step)
        case .charger: check = can.charger.accept(counter: counter, now: now, maximumStep: step)
        case .local: check = .accepted
        }
        switch check {
        case .repeated: return
        case .wrongSequence:
            can.countIntegrityError()
            return
        case .accepted: break
        }
        if can.requestTimeout && can.connectionOwner == source { can.requestTimeout = false }
        if raw == CANMatrix.StateRequest.noRequest.rawValue || raw == CANMatrix.StateRequest.sna.rawValue { return }
        if raw == CANMatrix.StateRequest.shutdown.rawValue {
            // The vehicle is switching off: open the contactors (through standby), checkpoint,
            // then StateSaved in BMS_Status says power may go (Docs/persistence.md).
            guard source == .vehicleController else {
                can.answer(raw, from: source, with: .unauthorised)
                return
            }
            persistence.requestShutdown()
            blackBox.record(.shutdown, code: 0, value: 0, milliseconds: UInt32(truncatingIfNeeded: schedule.tickCount), boot: persistence.bootCount)
            switch stateMachine.state {
            case .connecting, .connected: _ = requests.submit(.standby, from: source)
            case .standby, .disconnecting, .error: break
            }
            can.answer(raw, from: source, with: .accepted)
            return
        }
        guard let request = BMSRequest(rawValue: raw) else {
            can.countIntegrityError()
            can.answer(raw, from: source, with: .outOfRange)
            return
        }
        guard CANProtocol.isAuthorised(request, from: source) else {
            can.answer(raw, from: source, with: .unauthorised)
            return
        }
        if !requests.submit(request, from: source) { can.answer(raw, from: source, with: .busy) }
    }

    /// The stream that connected the pack went silent: go to standby (not latched; the next
    /// request connects again).
    mutating func reactToLostRequests(from source: RequestSource) {
        switch stateMachine.state {
        case .connecting, .connected:
            guard can.connectionOwner == source else { return }
            can.requestTimeout = true
            _ = requests.submit(.standby, from: .local)
        case .standby, .disconnecting, .error:
            break
        }
    }

    /// Sends `frame` now, or queues it behind frames still waiting for the bus.
    mutating func transmit(_ frame: CANFrame) {
        if can.queue.count == 0 {
            do {
                try board.canBus.send(frame)
                return
            } catch { can.sendFailures.record(error.kind) }
        }
        can.queue.push(frame)
    }

    /// Stage `canTransmit` (last before the watchdog): hands queued frames to the bus until it
    /// refuses one.
    mutating func flushCAN() {
        while let frame = can.queue.firstInPlace() {
            do { try board.canBus.send(frame) } catch {
                can.sendFailures.record(error.kind)
                return
            }
            can.queue.removeFirst()
        }
    }

    // MARK: - the cyclic messages

    /// Every 10 ms: pack values, current limits, one group of cell voltages.
    mutating func queueFastFrames() {
        var fast = CANMatrix.BMSPackFast()
        fast.counter = can.nextCounter(.packFast)
        let pack = measurements.pack
        fast.packCurrent = pack.current.isValid ? Int16(truncatingIfNeeded: Self.clamp(pack.current.validValue!.rawValue / 10, -32_768, 32_766)) : CANMatrix.BMSPackFast.packCurrentSNA
        fast.packVoltage = Self.centivolts(pack.packVoltage)
        fast.linkVoltage = Self.centivolts(pack.linkVoltage)
        transmit(fast.encode())

        var limits = CANMatrix.BMSCurrentLimits()
        limits.counter = can.nextCounter(.currentLimits)
        let l = powerLimiter.limits
        limits.maxChargeCurrent = Self.deciamperes(l.charge2s)
        limits.maxDischargeCurrent = Self.deciamperes(l.discharge2s)
        limits.maxChargeCurrentContinuous = Self.deciamperes(l.charge30s)
        limits.maxDischargeCurrentContinuous = Self.deciamperes(l.discharge30s)
        transmit(limits.encode())

        let groups = (configuration.cellCount + 3) / 4
        if Int(can.cellVoltageGroup) >= groups { can.cellVoltageGroup = 0 }
        var cells = CANMatrix.BMSCellVoltages()
        cells.cellVoltageGroup = can.cellVoltageGroup
        for k in 0..<4 {
            let cell = Int(can.cellVoltageGroup) * 4 + k
            guard cell < configuration.cellCount else { continue }
            let r = measurements.cells.cellVoltages[cell]
            switch r.status {
            case .valid: cells.cellVoltage[k] = UInt16(truncatingIfNeeded: Self.clamp(r.value.rawValue, 0, 16_380))
            case .notMeasured, .stale: cells.cellVoltage[k] = CANMatrix.BMSCellVoltages.cellVoltageSNA
            case .openWire, .channelFault, .implausible: cells.cellVoltage[k] = CANMatrix.BMSCellVoltages.cellVoltageInvalid
            }
        }
        can.cellVoltageGroup += 1
        transmit(cells.encode())
    }

    /// Every 100 ms: status, faults, limits, SOC, statistics, balancing, one temperature group.
    mutating func queueStatusFrames() {
        transmit(statusMessage().encode())
        transmit(faultTiersMessage().encode())
        transmit(faultLatchesMessage().encode())

        var voltages = CANMatrix.BMSVoltageLimits()
        let n = Int32(truncatingIfNeeded: configuration.cellCount)
        let high = configuration.protection.cellOvervoltage.maximumOperating
        let low = configuration.protection.cellUndervoltage.maximumOperating
        voltages.maxChargeVoltage = UInt16(truncatingIfNeeded: Self.clamp(high * n / 10, 0, 65_534))
        voltages.minDischargeVoltage = UInt16(truncatingIfNeeded: Self.clamp(low * n / 10, 0, 65_534))
        voltages.maxCellVoltageLimit = UInt16(truncatingIfNeeded: Self.clamp(high, 0, 65_534))
        voltages.minCellVoltageLimit = UInt16(truncatingIfNeeded: Self.clamp(low, 0, 65_534))
        transmit(voltages.encode())

        transmit(stateOfChargeMessage().encode())

        var cellStats = CANMatrix.BMSCellVoltageMinMax()
        if let s = cellStatistics {
            cellStats.minCellVoltage = UInt16(truncatingIfNeeded: Self.clamp(s.minimum.rawValue, 0, 65_534))
            cellStats.maxCellVoltage = UInt16(truncatingIfNeeded: Self.clamp(s.maximum.rawValue, 0, 65_534))
            cellStats.meanCellVoltage = UInt16(truncatingIfNeeded: Self.clamp(s.mean.rawValue, 0, 65_534))
            cellStats.minCellIndex = UInt8(truncatingIfNeeded: s.minimumIndex + 1)
            cellStats.maxCellIndex = UInt8(truncatingIfNeeded: s.maximumIndex + 1)
        }
        transmit(cellStats.encode())

        var temperatures = CANMatrix.BMSTemperatureMinMax()
        if let t = temperatureStatistics {
            temperatures.minTemperature = Self.clampTemperature(t.minimum)
            temperatures.maxTemperature = Self.clampTemperature(t.maximum)
            temperatures.meanTemperature = Self.clampTemperature(t.mean)
            temperatures.minSensorIndex = UInt8(truncatingIfNeeded: t.minimumIndex + 1)
            temperatures.maxSensorIndex = UInt8(truncatingIfNeeded: t.maximumIndex + 1)
        }
        transmit(temperatures.encode())

        var balancing = CANMatrix.BMSBalancing()
        balancing.balancingCells = balancer.active.bits
        balancing.balancingCount = UInt8(truncatingIfNeeded: balancer.active.count)
        let bledMilliampereHours = Float(approximating: balancer.bledTotal.rawValue) / 3_600
        balancing.bledCharge = UInt32(truncatingIfNeeded: Int(max(0, min(bledMilliampereHours, 16_777_214))))
        transmit(balancing.encode())

        let groups = (configuration.temperatureSensorCount + 3) / 4
        if groups > 0 {
            if Int(can.temperatureGroup) >= groups { can.temperatureGroup = 0 }
            var sensors = CANMatrix.BMSCellTemperatures()
            sensors.temperatureGroup = can.temperatureGroup
            for k in 0..<4 {
                let sensor = Int(can.temperatureGroup) * 4 + k
                guard sensor < configuration.temperatureSensorCount else { continue }
                let r = measurements.cells.temperatures[sensor]
                switch r.status {
                case .valid: sensors.temperature[k] = Int16(truncatingIfNeeded: Self.clamp(Int32(truncatingIfNeeded: r.value.rawValue), -2_048, 2_045))
                case .notMeasured, .stale: sensors.temperature[k] = CANMatrix.BMSCellTemperatures.temperatureSNA
                case .openWire, .channelFault, .implausible: sensors.temperature[k] = CANMatrix.BMSCellTemperatures.temperatureInvalid
                }
            }
            can.temperatureGroup += 1
            transmit(sensors.encode())
        }
    }

    /// Every 1 s: health, risk ranking, identity.
    mutating func queueSlowFrames() {
        can.overrunsLastSecond = timing.overruns &- can.overrunsAtLastSecond
        can.missedLastSecond = timing.missedTicks &- can.missedAtLastSecond
        can.overrunsAtLastSecond = timing.overruns
        can.missedAtLastSecond = timing.missedTicks

        var health = CANMatrix.BMSStateOfHealth()
        #if !BMS_NO_ESTIMATOR
        if estimator.isEnabled && estimator.isStarted {
            health.sohCapacity = UInt8(truncatingIfNeeded: Self.scaled(estimator.capacityHealthInPlace(), 200, 254))
            health.sohResistance = UInt16(truncatingIfNeeded: Self.scaled(estimator.resistanceHealthInPlace(), 200, 1_022))
            health.equivalentFullCycles = UInt16(truncatingIfNeeded: Self.scaled(estimator.equivalentFullCycles, 10, 65_534))
            // Surveyed one element per midway slot over the last ticks before this one.
            if let usable = estimator.surveyedUsableCharge {
                health.usableCharge = UInt16(truncatingIfNeeded: Self.scaled(usable.ampereHours, 100, 65_534))
                health.weakestElement = UInt8(truncatingIfNeeded: usable.element + 1)
            }
        }
        #endif
        transmit(health.encode())
        transmit(riskRankingMessage().encode())

        var identity = CANMatrix.BMSIdentity()
        identity.firmwareMajor = can.configuration.firmwareMajor
        identity.firmwareMinor = can.configuration.firmwareMinor
        identity.firmwarePatch = can.configuration.firmwarePatch
        identity.protocolVersion = 1
        identity.cellCount = UInt8(truncatingIfNeeded: configuration.cellCount)
        identity.temperatureSensorCount = UInt8(truncatingIfNeeded: configuration.temperatureSensorCount)
        transmit(identity.encode())
    }

    /// BMS_RiskRanking: the three cells most at risk (SNA beyond those with a score), the highest
    /// alert level, and the first suspect voltage channel.
    mutating func riskRankingMessage() -> CANMatrix.BMSRiskRanking {
        var m = CANMatrix.BMSRiskRanking()
        let ranked = health.ranked
        for k in 0..<ranked.count {
            let i = Int(ranked[k])
            let cell = UInt8(truncatingIfNeeded: i + 1)
            let score = UInt8(truncatingIfNeeded: Int(health.cells[i].score + 0.5))
            let reason = health.cells[i].reason.rawValue
            switch k {
            case 0: m.rank1Cell = cell; m.rank1Score = score; m.rank1Reason = reason
            case 1: m.rank2Cell = cell; m.rank2Score = score; m.rank2Reason = reason
            default: m.rank3Cell = cell; m.rank3Score = score; m.rank3Reason = reason
            }
        }
        m.alertLevel = health.highestLevel.rawValue
        let suspects = health.suspectCells
        m.sensorSuspect = suspects.isEmpty ? 0 : 1
        m.suspectCell = suspects.isEmpty ? 63 : UInt8(truncatingIfNeeded: suspects.bits.trailingZeroBitCount + 1)
        return m
    }

    mutating func statusMessage() -> CANMatrix.BMSStatus {
        var m = CANMatrix.BMSStatus()
        m.counter = can.nextCounter(.status)
        switch stateMachine.state {
        case .standby: m.bmsState = CANMatrix.BmsState.standby.rawValue
        case .connecting(let mode):
            m.bmsState = CANMatrix.BmsState.connecting.rawValue
            m.operatingMode = mode.rawValue
        case .connected(let mode):
            m.bmsState = CANMatrix.BmsState.connected.rawValue
            m.operatingMode = mode.rawValue
        case .disconnecting: m.bmsState = CANMatrix.BmsState.disconnecting.rawValue
        case .error: m.bmsState = CANMatrix.BmsState.error.rawValue
        }
        let status = faultMonitor.status
        m.highestTier = !status.safety.isEmpty ? 3 : !status.derating.isEmpty ? 2 : !status.warnings.isEmpty ? 1 : 0
        m.mainPositive = contactorFeedback.mainPositive.rawValue
        m.mainNegative = contactorFeedback.mainNegative.rawValue
        m.precharge = contactorFeedback.precharge.rawValue
        m.balancingActive = balancer.active.isEmpty ? 0 : 1
        m.powerDerated = status.derating.isEmpty ? 0 : 1
        m.requestTimeout = can.requestTimeout ? 1 : 0
        m.stateSaved = persistence.stateSaved ? 1 : 0
        m.integrityErrors = UInt8(truncatingIfNeeded: min(can.integrityErrors, 254))
        m.stateReason = 0
        let latched = stateMachine.latched.bits
        if latched != 0 { m.stateReason = UInt8(truncatingIfNeeded: latched.trailingZeroBitCount) }
        m.loopOverruns = UInt8(truncatingIfNeeded: min(can.overrunsLastSecond, 254))
        m.missedTicks = UInt8(truncatingIfNeeded: min(can.missedLastSecond, 254))
        return m
    }

    mutating func faultTiersMessage() -> CANMatrix.BMSFaultTiers {
        var m = CANMatrix.BMSFaultTiers()
        m.counter = can.nextCounter(.faultTiers)
        let s = faultMonitor.status
        func tier(_ id: FaultID) -> UInt8 { s.safety.contains(id) ? 3 : s.derating.contains(id) ? 2 : s.warnings.contains(id) ? 1 : 0 }
        m.cellOvervoltage = tier(.cellOvervoltage)
        m.cellUndervoltage = tier(.cellUndervoltage)
        m.overtemperatureCharge = tier(.overtemperatureCharge)
        m.overtemperatureDischarge = tier(.overtemperatureDischarge)
        m.undertemperatureCharge = tier(.undertemperatureCharge)
        m.undertemperatureDischarge = tier(.undertemperatureDischarge)
        m.overcurrentCharge = tier(.overcurrentCharge)
        m.overcurrentDischarge = tier(.overcurrentDischarge)
        m.temperatureRiseRate = tier(.temperatureRiseRate)
        m.cellVoltageImplausible = tier(.cellVoltageImplausible)
        m.cellVoltageStale = tier(.cellVoltageStale)
        m.temperatureSensorFault = tier(.temperatureSensorFault)
        m.currentMeasurementFault = tier(.currentMeasurementFault)
        m.sumOfCellsMismatch = tier(.sumOfCellsMismatch)
        m.stuckCellVoltage = tier(.stuckCellVoltage)
        m.contactorFeedback = tier(.contactorFeedback)
        m.contactorWelded = tier(.contactorWelded)
        m.prechargeFailed = tier(.prechargeFailed)
        return m
    }

    mutating func faultLatchesMessage() -> CANMatrix.BMSFaultLatches {
        var m = CANMatrix.BMSFaultLatches()
        m.counter = can.nextCounter(.faultLatches)
        let l = stateMachine.latched
        func bit(_ id: FaultID) -> UInt8 { l.contains(id) ? 1 : 0 }
        m.cellOvervoltageLatched = bit(.cellOvervoltage)
        m.cellUndervoltageLatched = bit(.cellUndervoltage)
        m.overtemperatureChargeLatched = bit(.overtemperatureCharge)
        m.overtemperatureDischargeLatched = bit(.overtemperatureDischarge)
        m.undertemperatureChargeLatched = bit(.undertemperatureCharge)
        m.undertemperatureDischargeLatched = bit(.undertemperatureDischarge)
        m.overcurrentChargeLatched = bit(.overcurrentCharge)
        m.overcurrentDischargeLatched = bit(.overcurrentDischarge)
        m.temperatureRiseRateLatched = bit(.temperatureRiseRate)
        m.cellVoltageImplausibleLatched = bit(.cellVoltageImplausible)
        m.cellVoltageStaleLatched = bit(.cellVoltageStale)
        m.temperatureSensorFaultLatched = bit(.temperatureSensorFault)
        m.currentMeasurementFaultLatched = bit(.currentMeasurementFault)
        m.sumOfCellsMismatchLatched = bit(.sumOfCellsMismatch)
        m.stuckCellVoltageLatched = bit(.stuckCellVoltage)
        m.contactorFeedbackLatched = bit(.contactorFeedback)
        m.contactorWeldedLatched = bit(.contactorWelded)
        m.prechargeFailedLatched = bit(.prechargeFailed)
        return m
    }

    mutating func stateOfChargeMessage() -> CANMatrix.BMSStateOfCharge {
        var m = CANMatrix.BMSStateOfCharge()
        m.socSource = CANMatrix.SOCSource.unknown.rawValue
        let stateOfCharge = stateOfChargeInPlace()
        if let soc = stateOfCharge { m.soc = UInt16(truncatingIfNeeded: Self.scaled(soc, 1_000, 1_022)) }
        #if !BMS_NO_ESTIMATOR
        if estimator.isEnabled {
            if stateOfCharge != nil { m.socSource = CANMatrix.SOCSource.estimator.rawValue }
            if let b = estimator.bound { m.socBound = UInt8(truncatingIfNeeded: Self.scaled(b, 1_000, 254)) }
            if let low = estimator.lowestStateOfCharge { m.socMin = UInt16(truncatingIfNeeded: Self.scaled(low, 1_000, 1_022)) }
            if let high = estimator.highestStateOfCharge { m.socMax = UInt16(truncatingIfNeeded: Self.scaled(high, 1_000, 1_022)) }
            return m
        }
        #endif
        if stateOfCharge != nil { m.socSource = CANMatrix.SOCSource.countedCharge.rawValue }
        return m
    }

    // MARK: - scaling

    /// `value × factor` rounded to the nearest integer and clamped to 0...`maximum`.
    @inline(__always) static func scaled(_ value: Float, _ factor: Float, _ maximum: Int) -> Int {
        let x = value * factor
        guard x == x, x > 0 else { return 0 }
        return x >= Float(maximum) ? maximum : Int(x + 0.5)
    }

    @inline(__always) static func clamp(_ v: Int32, _ low: Int32, _ high: Int32) -> Int32 { v < low ? low : v > high ? high : v }

    /// A pack or link voltage in 10 mV steps, SNA when not valid.
    @inline(__always) static func centivolts(_ r: Reading<Millivolts>) -> UInt16 {
        r.isValid ? UInt16(truncatingIfNeeded: Self.clamp(r.value.rawValue / 10, 0, 65_534)) : 65_535
    }

    /// A current limit in 100 mA steps, rounded down (a limit never rounds up).
    @inline(__always) static func deciamperes(_ limit: Milliamperes) -> UInt16 {
        UInt16(truncatingIfNeeded: Self.clamp(limit.rawValue / 100, 0, 4_094))
    }

    @inline(__always) static func clampTemperature(_ t: DeciCelsius) -> Int16 {
        t.rawValue >= 32_766 ? 32_766 : t.rawValue
    }
}
