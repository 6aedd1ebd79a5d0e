@testable import DisasterRecovery
import Foundation
import Testing

/// The failover rules on their own: thresholds, no failover to an unhealthy secondary, no flapping, hold-down, pins.
@Suite struct DecisionTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func spec(failback: String? = nil, failover: String? = nil, pin: String? = nil, holdDown: Int = 300) -> DRPolicy.Spec {
        let check = DRPolicy.HealthCheck(tcp: .init(host: "127.0.0.1", port: 1))
        var s = DRPolicy.Spec(primary: .init(value: "192.0.2.1", healthCheck: check), secondary: .init(value: "192.0.2.2", healthCheck: check),
                              dns: .init(zone: "example.test", name: "app.example.test", type: "A"))
        s.failback = failback
        s.failover = failover
        s.activeSite = pin
        s.failbackHoldDownSeconds = holdDown
        return s
    }

    func health(_ probes: [Bool], from start: Date? = nil, every: TimeInterval = 10, failures: Int = 3, successes: Int = 2) -> SiteHealth {
        var h = SiteHealth()
        for (i, ok) in probes.enumerated() {
            h.record(ProbeResult(ok: ok, latency: .milliseconds(5), error: ok ? nil : "down", time: (start ?? t0).addingTimeInterval(Double(i) * every)),
                     failureThreshold: failures, successThreshold: successes)
        }
        return h
    }

    @Test func failoverComesAfterTheThresholdAndOnlyToAHealthySecondary() {
        let up = health([true, true])
        // Two failures: not yet.
        #expect(Decision.decide(spec(), active: "primary", primary: health([true, true, false, false]), secondary: up, lastSwitch: nil, now: t0) == .stay(warning: nil))
        // Three: fail over.
        guard case .serve("secondary", _) = Decision.decide(spec(), active: "primary", primary: health([true, true, false, false, false]), secondary: up,
                                                            lastSwitch: nil, now: t0) else { Issue.record("no failover after 3 failures"); return }
        // A secondary that is down is never failed over to.
        let down = health([false, false, false])
        guard case .stay(let warning?) = Decision.decide(spec(), active: "primary", primary: health([false, false, false]), secondary: down,
                                                         lastSwitch: nil, now: t0) else { Issue.record("failed over to a dead secondary"); return }
        #expect(warning.contains("secondary is not healthy"))
        // Manual failover only warns.
        guard case .stay(let w?) = Decision.decide(spec(failover: "manual"), active: "primary", primary: health([false, false, false]), secondary: up,
                                                   lastSwitch: nil, now: t0) else { Issue.record("manual failover switched"); return }
        #expect(w.contains("manual"))
    }

    @Test func aFlappingPrimaryNeverFailsOver() {
        // Up and down on alternate probes, 100 times: never 3 failures in a row.
        let flapping = health([true, true] + (0..<100).map { $0 % 2 == 1 })
        #expect(flapping.healthy == true)
        #expect(Decision.decide(spec(), active: "primary", primary: flapping, secondary: health([true, true]), lastSwitch: nil, now: t0) == .stay(warning: nil))
        // Once unhealthy, it takes successThreshold good probes in a row to be healthy again: alternating does not.
        let recovering = health([false, false, false] + (0..<20).map { $0 % 2 == 0 })
        #expect(recovering.healthy == false)
    }

    @Test func failbackIsManualByDefaultAndAutomaticOnlyAfterTheHoldDown() {
        let back = health([false, false, false, true, true], from: t0)  // healthy again at t0 + 40 s
        let now = t0.addingTimeInterval(100)
        let lastSwitch = t0.addingTimeInterval(20)
        #expect(Decision.decide(spec(), active: "secondary", primary: back, secondary: health([true, true]), lastSwitch: lastSwitch, now: now) == .stay(warning: nil))
        #expect(Decision.decide(spec(failback: "automatic"), active: "secondary", primary: back, secondary: health([true, true]),
                                lastSwitch: lastSwitch, now: now) == .stay(warning: nil), "failed back within the hold-down")
        guard case .serve("primary", _) = Decision.decide(spec(failback: "automatic"), active: "secondary", primary: back, secondary: health([true, true]),
                                                          lastSwitch: lastSwitch, now: t0.addingTimeInterval(400)) else {
            Issue.record("no automatic failback after the hold-down"); return
        }
    }

    @Test func aPinIsServedUnlessItsSiteIsDown() {
        let up = health([true, true]), down = health([false, false, false])
        guard case .serve("secondary", _) = Decision.decide(spec(pin: "secondary"), active: "primary", primary: up, secondary: up, lastSwitch: nil, now: t0) else {
            Issue.record("the pin was not served"); return
        }
        // Pinned to primary: automatic failover is off while the pin stands... unless the pinned site is down (then it
        // stays, with a warning, rather than switch anywhere).
        #expect(Decision.decide(spec(pin: "primary"), active: "primary", primary: down, secondary: up, lastSwitch: nil, now: t0) == .stay(warning: nil))
        guard case .stay(let w?) = Decision.decide(spec(pin: "secondary"), active: "primary", primary: up, secondary: down, lastSwitch: nil, now: t0) else {
            Issue.record("switched to a pinned site that is down"); return
        }
        #expect(w.contains("unhealthy"))
    }

    @Test func theHoldDownStopsSwitchesInQuickSuccession() {
        let now = t0.addingTimeInterval(1000)
        guard case .stay(let w?) = Decision.decide(spec(), active: "primary", primary: health([false, false, false]), secondary: health([true, true]),
                                                   lastSwitch: now.addingTimeInterval(-60), now: now) else {
            Issue.record("switched again within the hold-down"); return
        }
        #expect(w.contains("hold-down"))
    }
}
