import ArgumentParser
import Foundation
import KubeRuntime
import LocalCluster
import Logging
import Synchronization
import KubeClient
import KubeCore

/// The `salespot-operator` command: argument parsing and wiring only.
@main
struct SaleSpotOperator: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "salespot-operator",
        abstract: "Runs SaleSpot's blue/green deployments, feature flags, backups and disaster recovery on Kubernetes.",
        version: version,
        subcommands: [Dev.self, Example.self, Config.self]
    )
}

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

struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect the client configuration.",
        subcommands: [View.self]
    )

    struct View: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the resolved server, context, namespace and auth method (never a secret).")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            print(try connection.loadConfiguration().summary)
        }
    }
}

struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start an embedded local Kubernetes API server with this project's CRDs and run until Ctrl+C.")

    @Option(help: "Port on 127.0.0.1 (0 picks a free one).")
    var port: Int = 0

    @Option(help: "Keep the cluster's state in this directory across restarts.")
    var dataDir: String?

    @Option(help: "Directory of CustomResourceDefinition manifests to install.")
    var crds: String = "crds"

    @Option(help: "Where to write the kubeconfig. Default: .salespot/kubeconfig in the current directory.")
    var kubeconfig: String = ".salespot/kubeconfig"

    func run() async throws {
        try FileManager.default.createDirectory(atPath: (kubeconfig as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var options = LocalCluster.Options()
        options.port = port
        options.dataDirectory = dataDir
        options.kubeconfigPath = kubeconfig
        options.localJobExecutables = ["salespot-operator": CommandLine.arguments[0]]
        let cluster = try await LocalCluster.start(options)
        var installed: [String] = []
        if let files = try? FileManager.default.contentsOfDirectory(atPath: crds) {
            for file in files.sorted() where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
                let text = try String(contentsOfFile: (crds as NSString).appendingPathComponent(file), encoding: .utf8)
                try await cluster.installCRDs(text)
                installed.append(file)
            }
        }
        print("""
        LocalCluster is serving on \(cluster.server)
        kubeconfig: \(cluster.kubeconfigPath)
        CRDs installed: \(installed.isEmpty ? "none" : installed.joined(separator: ", "))

        Try:
          kubectl --kubeconfig \(cluster.kubeconfigPath) get namespaces
          kubectl --kubeconfig \(cluster.kubeconfigPath) api-resources

        Press Ctrl+C to stop.
        """)
        fflush(nil)
        await waitForTermination()
        print("stopping...")
        await cluster.stop()
    }
}

/// Waits for SIGINT or SIGTERM.
func waitForTermination() async {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let (stream, continuation) = AsyncStream<Void>.makeStream()
    let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
        let source = DispatchSource.makeSignalSource(signal: sig)
        source.setEventHandler { continuation.yield() }
        source.resume()
        return source
    }
    for await _ in stream { break }
    sources.forEach { $0.cancel() }
}

/// Flags of every long-running command: endpoints, leader election, logging, shutdown.
struct ManagerOptions: ParsableArguments {
    @Option(help: "Address of /metrics, /healthz and /readyz (host:port; port 0 picks one).")
    var metricsBindAddress = "127.0.0.1:8080"

    @Flag(inversion: .prefixedEnableDisable, help: "Leader election on a Lease, so only one instance reconciles.")
    var leaderElection = false

    @Option(help: "Namespace of the leader election Lease.")
    var leaderElectionNamespace = "default"

    @Option(help: "Seconds to let reconciles in flight finish after SIGTERM/SIGINT.")
    var shutdownTimeout = 30

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    var host: String { String(metricsBindAddress.split(separator: ":").first ?? "127.0.0.1") }
    var port: Int { Int(metricsBindAddress.split(separator: ":").last ?? "8080") ?? 8080 }
}

struct Example: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Runnable example controllers.", subcommands: [Mirror.self])

    struct Mirror: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep a Secret mirroring every ConfigMap labelled mirror=true (owned by it, same name and namespace).")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var manager: ManagerOptions

        @Option(help: "Concurrent reconciles.")
        var workers = 2

        func run() async throws {
            var logger = Logger(label: "salespot.mirror")
            logger.logLevel = Logger.Level(rawValue: manager.logLevel) ?? .info
            let registry = MetricsRegistry()
            let metrics = ControllerMetrics(registry: registry)
            let configuration = try connection.loadConfiguration()
            let host = configuration.server
            let client = KubeClient(configuration: configuration, observer: { record in
                metrics.recordRequest(method: record.method, code: record.code, host: URLComponents(string: host)?.host ?? host)
            })
            let controller = MirrorController.make(client: client, workers: workers, metrics: metrics, logger: logger)
            let endpoints = try await OperatorEndpoints.start(host: manager.host, port: manager.port, registry: registry,
                                                              isReady: { controller.hasSynced })
            print("mirror controller running; metrics on http://\(manager.host):\(endpoints.port)/metrics")
            fflush(nil)
            let work: Task<Void, Never>
            if manager.leaderElection {
                let elector = try LeaderElector(api: Api<Lease>(client, namespace: manager.leaderElectionNamespace),
                                                name: "salespot-mirror", identity: ProcessInfo.processInfo.hostName + "-\(getpid())",
                                                metrics: registry, logger: logger)
                work = Task { await elector.run { await controller.run() } }
            } else {
                work = Task { await controller.run() }
            }
            await waitForTermination()
            logger.info("shutting down", metadata: ["timeout": .stringConvertible(manager.shutdownTimeout)])
            work.cancel()
            endpoints.task.cancel()
            if await finishes(work, within: .seconds(manager.shutdownTimeout)) {
                logger.info("stopped cleanly")
            } else {
                logger.error("reconciles did not finish within the shutdown timeout; exiting")
                throw ExitCode(1)
            }
        }
    }
}

/// Waits for a task to finish, at most `timeout`.
func finishes(_ task: Task<Void, Never>, within timeout: Duration) async -> Bool {
    let done = DoneFlag()
    Task { await task.value; done.set() }
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if done.isSet { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return done.isSet
}

final class DoneFlag: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}
