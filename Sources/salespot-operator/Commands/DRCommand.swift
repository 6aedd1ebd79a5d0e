import ArgumentParser
import DisasterRecovery
import KubeClient
import KubeCore

/// `salespot-operator dr ...`: the original design's auto-failover.sh, through the DRPolicy resources.
struct DRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dr", abstract: "Disaster recovery: the state of the DRPolicies, failing over and back by hand, and drills.",
        subcommands: [Status.self, Failover.self, Drill.self])

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
            var rows = [["NAME", "ACTIVE", "PRIMARY", "SECONDARY", "FAILOVER-READY", "LAST-SWITCH", "DETECTED", "SWITCHED", "RPO", "LAST-DRILL"]]
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
                var drill = "-"
                if let d = s?.lastDrill { drill = "\(d.mode) \(d.result)\(d.completionTime.map { " \($0)" } ?? "")" }
                let row: [String] = [p.metadata.name ?? "", active, health("primary"), health("secondary"), readyText, switchText, detected, switched, rpo, drill]
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
                if let r = p.status?.conditions?.first(where: { $0.type == "Ready" }), r.status == "False", ["SwitchWithheld", "SwitchFailed", "RestoreFailed"].contains(r.reason ?? "") {
                    printError("\(r.reason ?? ""): \(r.message ?? "")")
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    struct Drill: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a drill of a DRPolicy (creates a DRDrill, run by the operator) and report its steps: the original design's test-dr-plan.sh.",
            discussion: """
                backup: the latest backup exists, is verified and inside the RPO. restore: that, and the backup restored into the \
                policy's scratch database (spec.drills.restore) with its check query, timed. partial: the sites' probes and a dry run \
                at the DNS provider. full: all of these and the test record (spec.drills.testRecord) switched to the secondary and back.
                Exit status 1 if the drill failed.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The DRPolicy.") var policy: String
        @Option(help: "backup, restore, partial or full.") var mode: String
        @Option(help: "The DRDrill's name. Default: POLICY-MODE-TIMESTAMP.") var name: String?
        @Flag(inversion: .prefixedNo, help: "Wait for the result and print the steps.") var wait = true

        func run() async throws {
            guard let m = DRDrill.Mode(rawValue: mode) else { throw ValidationError("--mode must be backup, restore, partial or full") }
            let configuration = try connection.loadConfiguration()
            let client = KubeClient(configuration: configuration)
            let api = Api<DRDrill>(client, namespace: configuration.namespace)
            _ = try await Api<DRPolicy>(client, namespace: configuration.namespace).get(policy)
            let stamp = Time.now().rfc3339.filter(\.isNumber).prefix(14)
            let drill = DRDrill(metadata: ObjectMeta(name: name ?? "\(policy.prefix(220))-\(m.rawValue)-\(stamp)", namespace: configuration.namespace),
                                spec: DRDrill.Spec(policy: policy, mode: m))
            let created = try await api.create(drill)
            let drillName = created.metadata.name ?? ""
            print("drdrill.ops.salespot.by/\(drillName) created")
            guard wait else { return }
            var printed = 0
            var said = ""
            while true {
                let d = try await api.get(drillName)
                let steps = d.status?.steps ?? []
                for step in steps.dropFirst(printed) {
                    print("  \(step.passed ? "ok  " : "FAIL") \(step.name)\(step.durationSeconds.map { " (\($0) s)" } ?? ""): \(step.message)")
                }
                printed = max(printed, steps.count)
                if let ready = d.status?.conditions?.first(where: { $0.type == "Ready" }), ready.reason == "Waiting" || ready.reason == "Running",
                   ready.message != said {
                    said = ready.message ?? ""
                    print("  ... \(said)")
                }
                switch d.status?.phase {
                case "Passed":
                    print("Passed\(d.status?.rto.map { ": RTO \($0.totalSeconds) s of \($0.objectiveSeconds) s" } ?? "")")
                    return
                case "Failed":
                    printError("Failed")
                    throw ExitCode(1)
                default:
                    try await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}
