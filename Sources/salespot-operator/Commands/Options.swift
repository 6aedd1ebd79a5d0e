import ArgumentParser
import Backups
import BlueGreen
import DisasterRecovery
import FeatureFlags
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KubeClient
import KubeCore
import KubeRuntime
import LocalCluster
import Logging
import ServiceLifecycle


/// Connection flags shared by every command that talks to a cluster.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Path of a kubeconfig file. Default: KUBECONFIG, then in-cluster, then ~/.kube/config.")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context to use. Default: its current-context.")
    var context: String?

    @Option(name: [.customShort("n"), .long], help: "The namespace. Default: the context's, else 'default'.")
    var namespace: String?

    func loadConfiguration() throws -> ClientConfiguration {
        try ConfigLoader().load(explicitPath: kubeconfig, context: context, namespace: namespace)
    }
}

/// Flags of the long-running commands: what to watch, endpoints, leader election, logging, shutdown.
struct ManagerOptions: ParsableArguments {
    @Option(help: "Comma-separated namespaces to watch. Default: all.")
    var namespaces: String?

    @Option(help: "Only reconcile objects matching this label selector (to shard work across instances).")
    var labelSelector: String?

    @Option(help: "Address of /metrics, /healthz and /readyz (host:port; port 0 picks a free one).")
    var metricsBindAddress: String?

    @Option(help: "A separate address for /healthz and /readyz (host:port). Default: served on the metrics address.")
    var healthProbeBindAddress: String?

    @Flag(inversion: .prefixedEnableDisable, help: "Leader election on a Lease, so only one instance reconciles.")
    var leaderElection = false

    @Option(help: "Namespace of the leader election Lease.")
    var leaderElectionNamespace = "default"

    @Option(help: "Name of the leader election Lease.")
    var leaderElectionId = "salespot-operator"

    @Option(help: "How long a standby waits before taking over a Lease that was not renewed (a duration: 15s, 1m, 500ms).")
    var leaderElectionLeaseDuration = "15s"

    @Option(help: "How long the leader keeps trying to renew before it stops leading (less than the lease duration).")
    var leaderElectionRenewDeadline = "10s"

    @Option(help: "How often to try to acquire or renew the Lease (renew deadline > 1.2 × retry period).")
    var leaderElectionRetryPeriod = "2s"

    @Option(help: "Seconds to let reconciles in flight finish after SIGTERM/SIGINT.")
    var shutdownTimeout = 30

    @Option(help: "Concurrent reconciles per controller (reconciles wait on the API server and on health checks, so several run at once).")
    var workers = 8

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Flag(help: "Write logs as JSON lines.")
    var jsonLogs = false

    @Option(help: "The image backup and restore Jobs run (it must contain salespot-operator). Default: this operator's release image.")
    var jobImage: String?

    @Option(help: "The service account backup and restore Jobs run as, unless a policy says otherwise. Default: the namespace's default.")
    var jobServiceAccount: String?

    /// The leader election timings, checked as client-go checks them.
    func leaderConfig() throws -> LeaderElector.Config {
        var c = LeaderElector.Config()
        c.leaseDuration = try parseDuration(leaderElectionLeaseDuration, flag: "--leader-election-lease-duration")
        c.renewDeadline = try parseDuration(leaderElectionRenewDeadline, flag: "--leader-election-renew-deadline")
        c.retryPeriod = try parseDuration(leaderElectionRetryPeriod, flag: "--leader-election-retry-period")
        do { try c.validate() } catch { throw ValidationError("leader election: \(error)") }
        return c
    }

    func validate() throws {
        _ = try leaderConfig()
    }

    func bootstrapLogging() -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = jsonLogs
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "salespot.operator")
    }

    func managerOptions(defaultAddress: String) -> Manager.Options {
        let address = metricsBindAddress ?? defaultAddress
        var o = Manager.Options()
        o.endpointsHost = String(address.split(separator: ":").first ?? "127.0.0.1")
        o.endpointsPort = Int(address.split(separator: ":").last ?? "8080") ?? 8080
        if let probes = healthProbeBindAddress {
            o.probesHost = String(probes.split(separator: ":").first ?? "127.0.0.1")
            o.probesPort = Int(probes.split(separator: ":").last ?? "8081") ?? 8081
        }
        o.leaderElection = leaderElection
        o.leaseNamespace = leaderElectionNamespace
        o.leaseName = leaderElectionId
        if let config = try? leaderConfig() { o.leaderConfig = config }  // validated when the flags were parsed
        return o
    }

    var namespaceList: [String]? { namespaces.map { $0.split(separator: ",").map(String.init) } }
}

/// Writes a line to standard error.
func printError(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

/// A duration as Kubernetes components take it: a decimal number with a unit (`ms`, `s`, `m`, `h`), units may be
/// chained (`1m30s`); a bare number is seconds.
func parseDuration(_ text: String, flag: String) throws -> Duration {
    // Up to ten years: anything longer is a mistake, and would overflow the conversion.
    let maxSeconds = 315_360_000.0
    if let seconds = Double(text), seconds.isFinite, seconds >= 0 {
        guard seconds <= maxSeconds else { throw ValidationError("\(flag): '\(text)' is too long") }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
    var total = 0.0
    var rest = Substring(text)
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    while !rest.isEmpty {
        let number = rest.prefix { $0.isNumber || $0 == "." }
        rest = rest.dropFirst(number.count)
        guard let value = Double(number), let unit = units.first(where: { rest.hasPrefix($0.0) }) else {
            throw ValidationError("\(flag): '\(text)' is not a duration (e.g. 15s, 500ms, 1m)")
        }
        rest = rest.dropFirst(unit.0.count)
        total += value * unit.1
    }
    guard !text.isEmpty else { throw ValidationError("\(flag): empty duration") }
    guard total.isFinite, total <= maxSeconds else { throw ValidationError("\(flag): '\(text)' is too long") }
    return .milliseconds(Int64((total * 1000).rounded()))
}
