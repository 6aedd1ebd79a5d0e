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


/// The controllers the operator can run.
enum Controllers {
    /// What `run` and `dev` run unless told: the domain controllers.
    static let defaults = ["bluegreen", "featureflag", "backup", "dr"]
    /// Every name `--controllers` takes: the domain controllers and the runtime's reference controller (`mirror`, which
    /// copies labelled ConfigMaps into Secrets: run it only on purpose, as `example mirror` does).
    static let available = defaults + ["mirror"]

    static func make(_ names: [String], client: KubeClient, options: ManagerOptions, metrics: ControllerMetrics, events: EventRecorder,
                     serviceAddresses: [String: String] = [:], flags: FlagOptions, identity: String, logger: Logger) throws -> [any ManagedController] {
        try names.flatMap { name -> [any ManagedController] in
            switch name {
            case "backup":
                var jobs = JobSettings(serviceAccountName: options.jobServiceAccount)
                if let image = options.jobImage { jobs.image = image }
                return BackupControllers.make(client: client, namespaces: options.namespaceList, shardSelector: options.labelSelector,
                                              workers: options.workers, metrics: metrics, events: events, jobs: jobs,
                                              logger: Logger(label: "salespot.backups"))
            case "dr":
                return DRControllers.make(client: client, namespaces: options.namespaceList, shardSelector: options.labelSelector,
                                          workers: options.workers, metrics: metrics, events: events, logger: Logger(label: "salespot.dr"))
            case "featureflag":
                var ledger = UsageLedger(client: client, namespace: options.leaderElectionNamespace, replica: identity)
                ledger.publishInterval = try flags.publishInterval()
                return [FlagController(client: client, namespaces: options.namespaceList, shardSelector: options.labelSelector,
                                      workers: options.workers, metrics: metrics, events: events, ledger: ledger,
                                      usageInterval: try flags.usageInterval(), logger: Logger(label: "salespot.flags"))]
            case "bluegreen":
                return [BlueGreenController.make(client: client, namespaces: options.namespaceList, shardSelector: options.labelSelector,
                                                 workers: options.workers, metrics: metrics,
                                                 events: events, serviceAddresses: serviceAddresses,
                                                 logger: logger)]
            case "mirror":
                return [MirrorController.make(client: client, namespaces: options.namespaceList, shardSelector: options.labelSelector,
                                              workers: options.workers,
                                              metrics: metrics, logger: logger)]
            default:
                throw ValidationError("unknown controller '\(name)'; available: \(available.joined(separator: ", "))")
            }
        }
    }
}

/// Builds the client with request metrics, the controllers and the manager, and runs them until a signal.
/// - Parameters:
///   - eventLogLevel: also log every Event recorded, at this level (dev mode: info, so each rollout step is a line).
///   - serviceAddresses: where to connect for Service hosts (dev mode, where nothing routes to Services).
func runManager(configuration: ClientConfiguration, controllers names: [String], options: ManagerOptions,
                defaultAddress: String, extraServices: [any ServiceLifecycle.Service] = [],
                eventLogLevel: Logger.Level? = .debug, serviceAddresses: [String: String] = [:],
                flags: FlagOptions = FlagOptions(), defaultEnvironment: String = "production",
                announceFlags: @escaping @Sendable (Int) -> Void = { _ in },
                announce: @escaping @Sendable (Int) -> Void) async throws {
    let logger = Logger(label: "salespot.operator")
    let registry = MetricsRegistry()
    let metrics = ControllerMetrics(registry: registry)
    let host = URLComponents(string: configuration.server)?.host ?? configuration.server
    let client = KubeClient(configuration: configuration, observer: { record in
        metrics.recordRequest(method: record.method, code: record.code, host: host)
    })
    let events = EventRecorder(client: client, reportingController: "salespot.by/operator", reportingInstance: ProcessInfo.processInfo.hostName,
                               logger: Logger(label: "salespot.events"), logLevel: eventLogLevel)
    let managerOptions = options.managerOptions(defaultAddress: defaultAddress)
    let controllers = try Controllers.make(names, client: client, options: options, metrics: metrics, events: events,
                                           serviceAddresses: serviceAddresses, flags: flags, identity: managerOptions.identity, logger: logger)
    // Every replica serves flag evaluations from its own cache, leader or not.
    var services = extraServices
    var readiness: [@Sendable () -> Bool] = []
    if names.contains("featureflag"), let service = try flags.service(client: client, configuration: configuration, registry: registry,
                                                                      namespaces: options.namespaceList, identity: managerOptions.identity,
                                                                      operatorNamespace: options.leaderElectionNamespace,
                                                                      defaultEnvironment: defaultEnvironment, announce: announceFlags) {
        services.append(service)
        readiness.append { service.hasSynced }
    }
    let manager = Manager(client: client, controllers: controllers, options: managerOptions,
                          registry: registry, logger: logger, readiness: readiness, onListening: announce)
    try await Manager.runUntilSignalled(services + [manager], shutdownTimeout: .seconds(options.shutdownTimeout), logger: logger)
    // Events of the last reconciles are still queued: send them, but do not hold the exit for long.
    await withTaskGroup(of: Void.self) { group in
        group.addTask { await events.drain() }
        group.addTask { try? await Task.sleep(for: .seconds(2)) }
        await group.next()
        group.cancelAll()
    }
    logger.info("stopped")
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the operator: every registered controller, /metrics, /healthz, /readyz, the flag server and optional leader election.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var manager: ManagerOptions
    @OptionGroup(title: "Feature flags") var flags: FlagOptions

    @Option(help: "Comma-separated controllers to run, of \(Controllers.available.joined(separator: ", ")). Default: \(Controllers.defaults.joined(separator: ",")).")
    var controllers: String?

    func run() async throws {
        _ = manager.bootstrapLogging()
        let names = controllers.map { $0.split(separator: ",").map(String.init) } ?? Controllers.defaults
        let host = manager.managerOptions(defaultAddress: "127.0.0.1:8080").endpointsHost
        try await runManager(configuration: try connection.loadConfiguration(), controllers: names, options: manager,
                             defaultAddress: "127.0.0.1:8080", flags: flags, defaultEnvironment: "production",
                             announceFlags: { port in
                                 print("flag server on http://\(flags.host):\(port) (/feature-flags, /ofrep/v1)")
                                 fflush(nil)
                             }) { port in
            print("salespot-operator running (\(names.joined(separator: ", "))); metrics on http://\(host):\(port)/metrics")
            fflush(nil)
        }
    }
}
