// The on-chip scenario in an image: its loop in static storage, and its report.
import Firmware

/// Runs the on-chip scenario (Scenario.swift) on a loop in `benchStorage`; nil when its
/// configuration is rejected.
@inline(never)
func runScenario() -> Scenario.Result? {
    let loop = staticLoop(ScenarioBoard.self)
    do throws(ConfigurationError) { try Scenario.setUp(&loop.pointee) } catch { return nil }
    return Scenario.run(&loop.pointee)
}

func report(_ r: Scenario.Result) {
    keyValue("scenario_ticks", Scenario.ticks)
    keyValue("scenario_frames_sent", r.framesSent)
    keyValue("scenario_digest", r.digest)
    keyValue("scenario_state", r.state)
    keyValue("scenario_latched", r.latched)
    keyValue("scenario_contactors", r.contactors)
    keyValue("scenario_soc_permille", r.socPermille)
    keyValue("scenario_watchdog_feeds", r.watchdogFeeds)
    // The scenario's loop in static storage (StaticLoop.swift sizes the storage for it and the bench's).
    keyValue("loop_state_bytes", MemoryLayout<ControlLoop<ScenarioBoard>>.size)
}
