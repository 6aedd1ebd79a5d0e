import ArgumentParser
import DisasterRecovery
import KubeClient
import KubeCore

/// `salespot-operator dr ...`: the original design's auto-failover.sh, through the DRPolicy resources.
struct DRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dr", abstract: "Disaster recovery: the state of the DRPolicies, and failing over and back by hand.",
        subcommands: [Status.self, Failover.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each DRPolicy: the active site, the sites' health, the last switch and its measured times, the achieved RPO.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "One policy (default: all of the namespace).") var policy: String?

        func run() async throws {
            let configuration = try connection.loadConfiguration()
            let api = Api<DRPolicy>(KubeClient(configuration: configuration), namespace: configuration.namespace)
            let items: [DRPolicy]
            if let policy { items = [try await api.get(policy)] } else { items = try await api.listAll().items }
            if items.isEmpty {
                printError("No DRPolicies found in namespace \(configuration.namespace ?? "default").")
                return
            }
            var rows = [["NAME", "ACTIVE", "PRIMARY", "SECONDARY", "FAILOVER-READY", "LAST-SWITCH", "DETECTED", "SWITCHED", "RPO"]]
            for p in items {
                let s = p.status
                func health(_ site: String) -> String {
                    guard let x = s?.sites?.first(where: { $0.name == site }) else { return "-" }
                    return x.healthy.map { $0 ? "healthy" : "down (\(x.consecutiveFailures ?? 0) failed)" } ?? "probing"
                }
                let ready = s?.conditions?.first { $0.type == "FailoverReady" }
                let active: String = (s?.activeSite ?? "-") + (p.spec.activeSite != nil ? " (pinned)" : "")
                var readyText = "-"
                if let ready { readyText = ready.status == "True" ? "yes" : "no: \(ready.reason ?? "")" }
                var switchText = "-", detected = "-", switched = "-"
                if let l = s?.lastSwitch {
                    switchText = "\(l.from)→\(l.to) \(l.switchedTime ?? "pending")"
                    if let d = l.detectionSeconds { detected = "\(d) s" }
                    if let w = l.switchSeconds { switched = "\(w) s" }
                }
                var rpo = "-"
                if let a = s?.achievedRPOSeconds { rpo = "\(a) s / \(p.spec.objectives?.rpoSeconds ?? 300) s" }
                let row: [String] = [p.metadata.name ?? "", active, health("primary"), health("secondary"), readyText, switchText, detected, switched, rpo]
                rows.append(row)
            }
            FlagsCommand.table(rows)
        }
    }

    struct Failover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pin the site to serve (sets spec.activeSite), or with --auto, hand the choice back to the probes.",
            discussion: "A GitOps repository that owns the DRPolicy should carry the same change, or it will set it back.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The DRPolicy.") var policy: String
        @Option(help: "primary or secondary.") var to: String?
        @Flag(help: "Remove the pin: automatic failover (and failback, if configured) again.") var auto = false
        @Flag(help: "Wait until the record points at the site.") var wait = false

        func run() async throws {
            guard auto != (to != nil) else { throw ValidationError("give --to primary|secondary, or --auto") }
            if let to, !["primary", "secondary"].contains(to) { throw ValidationError("--to must be primary or secondary") }
            let configuration = try connection.loadConfiguration()
            let api = Api<DRPolicy>(KubeClient(configuration: configuration), namespace: configuration.namespace)
            let patch: JSONValue = ["spec": ["activeSite": to.map { .string($0) } ?? .null]]
            _ = try await api.patch(policy, .merge(patch))
            print(to.map { "drpolicy.ops.salespot.by/\(policy) pinned to the \($0) site" } ?? "drpolicy.ops.salespot.by/\(policy) is automatic again")
            guard wait, let to else { return }
            while true {
                let p = try await api.get(policy)
                if p.status?.activeSite == to && p.status?.pendingSwitch == nil {
                    print("the record points at the \(to) site")
                    return
                }
                if let r = p.status?.conditions?.first(where: { $0.type == "Ready" }), r.status == "False", r.reason == "SwitchWithheld" || r.reason == "SwitchFailed" {
                    printError("\(r.reason ?? ""): \(r.message ?? "")")
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
