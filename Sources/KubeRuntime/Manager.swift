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
import Logging
import ServiceLifecycle
import Synchronization

/// A controller the ``Manager`` can run.
public protocol ManagedController: Sendable {
    var name: String { get }
    /// Whether its caches have completed their first list.
    var hasSynced: Bool { get }
    /// Runs one term: until cancelled (reconciles in flight are cancelled too) or drained. Each call starts clean.
    func run() async
    /// The graceful stop: no new reconciles; those in flight finish; ``run()`` then returns.
    func drain() async
}

extension Controller: ManagedController {}

/// Runs controllers with the operator's endpoints and, optionally, leader election: a ServiceLifecycle `Service`,
/// so SIGTERM/SIGINT in a `ServiceGroup` stop it gracefully (workers finish what they hold, then it returns).
public struct Manager: ServiceLifecycle.Service {
    /// How the manager runs.
    public struct Options: Sendable {
        /// Host of /metrics, /healthz and /readyz. Default 127.0.0.1 (use 0.0.0.0 in a pod).
        public var endpointsHost = "127.0.0.1"
        /// Port; 0 picks a free one. Default 8080.
        public var endpointsPort = 8080
        /// A second address for /healthz and /readyz only (controller-runtime's --health-probe-bind-address);
        /// `nil` serves the probes on the metrics address.
        public var probesHost: String?
        public var probesPort: Int?
        /// Elect a leader on a Lease before reconciling. Default off.
        public var leaderElection = false
        public var leaseName = "salespot-operator"
        public var leaseNamespace = "default"
        public var identity = ProcessInfo.processInfo.hostName + "-\(getpid())"
        public var leaderConfig = LeaderElector.Config()
        public init() {}
    }

    public let client: KubeClient
    public let controllers: [any ManagedController]
    public let options: Options
    public let registry: MetricsRegistry
    let logger: Logger
    /// Called with the bound endpoints port once it is listening.
    let onListening: @Sendable (Int) -> Void
    /// More conditions of readiness that hold in every replica, leading or not (e.g. the flag server's cache).
    let readiness: [@Sendable () -> Bool]

    public init(client: KubeClient, controllers: [any ManagedController], options: Options = Options(),
                registry: MetricsRegistry, logger: Logger, readiness: [@Sendable () -> Bool] = [],
                onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.client = client
        self.controllers = controllers
        self.options = options
        self.registry = registry
        self.logger = logger
        self.readiness = readiness
        self.onListening = onListening
    }

    public func run() async throws {
        let controllers = self.controllers
        // Ready once every controller has synced its caches. A standby (not leading) runs no caches and is ready,
        // so a rollout of several replicas is not held up by the ones waiting for the lease.
        let leading = Flag(options.leaderElection ? false : true)
        let readiness = self.readiness
        let isReady: @Sendable () -> Bool = {
            readiness.allSatisfy { $0() } && (!leading.value || controllers.allSatisfy(\.hasSynced))
        }
        let endpoints = try await OperatorEndpoints.start(host: options.endpointsHost, port: options.endpointsPort,
                                                          registry: registry, isReady: isReady, logger: logger)
        onListening(endpoints.port)
        var probes: OperatorEndpoints.Handle?
        if let port = options.probesPort {
            probes = try await OperatorEndpoints.start(host: options.probesHost ?? options.endpointsHost, port: port,
                                                       registry: registry, isReady: isReady, logger: logger)
        }
        let elector = options.leaderElection
            ? try LeaderElector(api: Api<Lease>(client, namespace: options.leaseNamespace), name: options.leaseName,
                                identity: options.identity, config: options.leaderConfig, metrics: registry, logger: logger)
            : nil
        let logger = self.logger
        // SIGTERM drains: no new reconciles, those in flight finish, a standby stops campaigning; the leader
        // releases the lease on the way out. If that outlasts the shutdown timeout, the ServiceGroup cancels this
        // task, and cancellation reaches every reconcile (they are child tasks).
        let draining = Flag(false)
        let work = Task {
            if let elector {
                // Once a graceful stop began, a lease lost meanwhile is not campaigned for again.
                await elector.run(keepCampaigning: { !draining.value }) {
                    leading.set(true)
                    await Self.runAll(controllers)
                    leading.set(false)
                }
            } else {
                await Self.runAll(controllers)
            }
        }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await work.value
            } onCancel: {
                work.cancel()
            }
        } onGracefulShutdown: {
            draining.set(true)
            Task {
                for c in controllers { await c.drain() }
                // Not leading: nothing to drain, stop campaigning. (Leading: the drained work returns by itself.)
                if !leading.value { work.cancel() }
            }
        }
        logger.info("controllers stopped")
        await endpoints.stop()
        await probes?.stop()
    }

    static func runAll(_ controllers: [any ManagedController]) async {
        await withTaskGroup(of: Void.self) { group in
            for c in controllers { group.addTask { await c.run() } }
        }
    }

    /// Runs the manager (and any other services, such as a LocalCluster) until SIGTERM or SIGINT, giving reconciles
    /// in flight up to `shutdownTimeout` to finish.
    public static func runUntilSignalled(_ services: [any ServiceLifecycle.Service], shutdownTimeout: Duration, logger: Logger) async throws {
        var config = ServiceGroupConfiguration(services: services.map { .init(service: $0) },
                                               gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        config.maximumGracefulShutdownDuration = shutdownTimeout
        config.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: config).run()
    }
}

/// A boolean shared between tasks: whether this instance leads (readiness), whether a controller was drained.
final class Flag: Sendable {
    private let flag: Mutex<Bool>
    init(_ v: Bool) { flag = Mutex(v) }
    func set(_ v: Bool) { flag.withLock { $0 = v } }
    var value: Bool { flag.withLock { $0 } }
}
