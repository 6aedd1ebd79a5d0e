import Foundation

/// Which site should serve, from the policy, the sites' health and what happened before: a pure function, so the
/// rules (thresholds, no failover to an unhealthy site, hold-down, pins) are tested without a network.
public enum Decision: Equatable, Sendable {
    /// Serve `site` (the record is to point there); `reason` goes to the Event and the switch's record.
    case serve(site: String, reason: String)
    /// Stay where the record points; `warning`, when set, is why a wanted switch is not made.
    case stay(warning: String?)

    /// - Parameters:
    ///   - active: where the record points now (nil: at neither site's value, or not read yet).
    ///   - lastSwitch: when the record was last moved by this policy.
    public static func decide(_ spec: DRPolicy.Spec, active: String?, primary: SiteHealth, secondary: SiteHealth,
                              lastSwitch: Date?, now: Date) -> Decision {
        let holdDown = TimeInterval(max(0, spec.failbackHoldDownSeconds ?? 300))
        func health(_ site: String) -> SiteHealth { site == "secondary" ? secondary : primary }
        // A pin (manual failover or failback) is served, unless its site is known to be down.
        if let pinned = spec.activeSite {
            if pinned == active { return .stay(warning: nil) }
            if health(pinned).healthy == false {
                return .stay(warning: "activeSite asks for the \(pinned) site, which is unhealthy: the record stays")
            }
            return .serve(site: pinned, reason: "activeSite is \(pinned)")
        }
        let current = active ?? "primary"
        if active == nil {
            // The record points at neither site (a first run): once the probes have spoken, the primary if it is
            // healthy, else the secondary if it is.
            if primary.healthy == true { return .serve(site: "primary", reason: "the record pointed at neither site") }
            if primary.healthy == false && secondary.healthy == true {
                return .serve(site: "secondary", reason: "the record pointed at neither site and the primary is down")
            }
            if primary.healthy == nil { return .stay(warning: nil) }  // the first probes decide
            return .stay(warning: "the record points at neither site and neither is healthy")
        }
        if current == "primary" {
            guard primary.healthy == false else { return .stay(warning: nil) }
            guard (spec.failover ?? "automatic") == "automatic" else {
                return .stay(warning: "the primary is down and failover is manual: set activeSite: secondary to fail over")
            }
            guard secondary.healthy == true else {
                return .stay(warning: "the primary is down but the secondary is not healthy: no failover")
            }
            if let lastSwitch, now.timeIntervalSince(lastSwitch) < holdDown {
                return .stay(warning: "the primary is down; the last automatic switch is within the \(Int(holdDown)) s hold-down")
            }
            return .serve(site: "secondary", reason: "the primary failed \(primary.consecutiveFailures) consecutive probes")
        }
        // On the secondary.
        if (spec.failback ?? "manual") == "automatic", primary.healthy == true,
           let since = primary.since, now.timeIntervalSince(since) >= holdDown,
           lastSwitch.map({ now.timeIntervalSince($0) >= holdDown }) ?? true {
            return .serve(site: "primary", reason: "the primary has been healthy for \(Int(now.timeIntervalSince(since))) s (hold-down \(Int(holdDown)) s)")
        }
        if secondary.healthy == false && primary.healthy == true && (spec.failover ?? "automatic") == "automatic" {
            // The secondary failed while the primary is back: going back is a failover too.
            return .serve(site: "primary", reason: "the secondary failed \(secondary.consecutiveFailures) consecutive probes and the primary is healthy")
        }
        return .stay(warning: nil)
    }
}
