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

/// The `salespot-operator` command: argument parsing and wiring only.
@main
struct SaleSpotOperator: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "salespot-operator",
        abstract: "Runs SaleSpot's blue/green deployments, feature flags, backups and disaster recovery on Kubernetes.",
        version: version,
        subcommands: [Run.self, Dev.self, BlueGreenCommand.self, FlagsCommand.self, BackupCommand.self, RestoreCommand.self, DRCommand.self, Manifests.self, Example.self, Config.self]
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

/// Every controller the operator runs. The domain controllers (blue/green, flags, backups, DR) register here as
/// they land; until then the runtime's reference controller is the one that runs.
enum Controllers {
    static let available = ["bluegreen", "featureflag", "backup", "dr", "mirror"]

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

    @Option(help: "Comma-separated controllers to run. Default: all (\(Controllers.available.joined(separator: ", "))).")
    var controllers: String?

    func run() async throws {
        _ = manager.bootstrapLogging()
        let names = controllers.map { $0.split(separator: ",").map(String.init) } ?? Controllers.available
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

struct Example: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Runnable example controllers.", subcommands: [Mirror.self])

    struct Mirror: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep a Secret mirroring every ConfigMap labelled mirror=true (owned by it, same name and namespace).")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var manager: ManagerOptions

        func run() async throws {
            _ = manager.bootstrapLogging()
            try await runManager(configuration: try connection.loadConfiguration(), controllers: ["mirror"], options: manager,
                                 defaultAddress: "127.0.0.1:8080") { port in
                print("mirror controller running; metrics on http://127.0.0.1:\(port)/metrics")
                fflush(nil)
            }
        }
    }
}

/// LocalCluster as a ServiceLifecycle service, so `dev` stops it with the manager.
struct LocalClusterService: ServiceLifecycle.Service {
    let cluster: LocalCluster
    func run() async throws {
        try? await gracefulShutdown()
        await cluster.stop()
    }
}

struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the operator against an embedded local Kubernetes API server with this project's CRDs and samples, until Ctrl+C.")

    @Option(help: "Port of the API server on 127.0.0.1 (0 picks a free one).")
    var port: Int = 0

    @Option(help: "Keep the cluster's state in this directory across restarts.")
    var dataDir: String?

    @Option(help: "Directory of CustomResourceDefinition manifests to install. Default: the CRDs built into this binary.")
    var crds: String?

    @Option(help: "Directory of manifests to apply at start. Default: the samples built into this binary.")
    var samples: String?

    @Flag(help: "Apply no samples.")
    var noSamples = false

    @Option(help: "Where to write the kubeconfig.")
    var kubeconfig: String = ".salespot/kubeconfig"

    @Option(name: .customLong("service-address"), parsing: .singleValue,
            help: "Where health checks reach a Service here (nothing routes to Services in dev mode): NAME.NAMESPACE.svc:PORT=HOST:PORT. Repeatable.")
    var serviceAddresses: [String] = []

    @OptionGroup var manager: ManagerOptions
    @OptionGroup(title: "Feature flags") var flags: FlagOptions

    /// (file name, content) of every *.yaml in a directory, or an error that says what is missing.
    static func manifests(in directory: String, what: String) throws -> [(name: String, yaml: String)] {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw ValidationError("\(what): cannot read directory '\(directory)'")
        }
        let yaml = files.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        guard !yaml.isEmpty else { throw ValidationError("\(what): no *.yaml manifests in '\(directory)'") }
        return try yaml.map { ($0, try String(contentsOfFile: Paths.join(directory, $0), encoding: .utf8)) }
    }

    func validate() throws {
        for mapping in serviceAddresses where mapping.split(separator: "=").count != 2 {
            throw ValidationError("--service-address '\(mapping)': expected NAME.NAMESPACE.svc:PORT=HOST:PORT")
        }
    }

    func run() async throws {
        let logger = manager.bootstrapLogging()
        let crdManifests = try crds.map { try Self.manifests(in: $0, what: "--crds") } ?? EmbeddedManifests.crds
        let sampleManifests = noSamples ? [] : try samples.map { try Self.manifests(in: $0, what: "--samples") } ?? EmbeddedManifests.samples
        try FileManager.default.createDirectory(atPath: Paths.directory(of: kubeconfig).isEmpty ? "." : Paths.directory(of: kubeconfig),
                                                withIntermediateDirectories: true)
        var options = LocalCluster.Options()
        options.port = port
        options.dataDirectory = dataDir
        // Absolute, so the kubeconfig path printed works from any directory.
        options.kubeconfigPath = kubeconfig.hasPrefix("/") ? kubeconfig : Paths.join(FileManager.default.currentDirectoryPath, kubeconfig)
        options.localJobExecutables = ["salespot-operator": CommandLine.arguments[0]]
        let cluster = try await LocalCluster.start(options, logger: logger)
        for (name, yaml) in crdManifests {
            do { try await cluster.installCRDs(yaml) } catch {
                await cluster.stop()
                throw ValidationError("CRD \(name) could not be installed: \(error)")
            }
        }
        // The samples, so a newcomer sees a rollout happen.
        let client = KubeClient(configuration: cluster.clientConfiguration())
        var appliedSamples: [String] = []
        for (file, yaml) in sampleManifests {
            for doc in try YAML.parseAll(yaml) {
                guard let kind = doc["kind"]?.stringValue, let apiVersion = doc["apiVersion"]?.stringValue else { continue }
                let known: [ResourceDescriptor] = [Service.resource, BlueGreenDeployment.resource, FeatureFlag.resource, ConfigMap.resource,
                                                   Secret.resource, Deployment.resource]
                guard let resource = known.first(where: { $0.kind == kind && $0.apiVersion == apiVersion }) else {
                    logger.warning("sample not applied: dev mode applies Services, ConfigMaps, Secrets, Deployments, BlueGreenDeployments and FeatureFlags",
                                   metadata: ["file": .string(file), "kind": .string("\(apiVersion)/\(kind)")])
                    continue
                }
                do {
                    _ = try await Api<DynamicObject>(client, resource: resource, namespace: doc[path: ["metadata", "namespace"]]?.stringValue ?? "default")
                        .apply(doc, fieldManager: "salespot-dev", force: true)
                    if appliedSamples.last != file { appliedSamples.append(file) }
                } catch {
                    await cluster.stop()
                    throw ValidationError("sample \(file): \(kind) \(doc[path: ["metadata", "name"]]?.stringValue ?? ""): \(error)")
                }
            }
        }
        let sampleList = appliedSamples.isEmpty ? "none" : appliedSamples.joined(separator: ", ")
        let crdList = crdManifests.map(\.name).joined(separator: ", ")
        let kubeconfigPath = cluster.kubeconfigPath
        let server = cluster.server
        var addresses: [String: String] = [:]
        for mapping in serviceAddresses {
            let parts = mapping.split(separator: "=").map(String.init)
            addresses[parts[0]] = parts[1]
        }
        let me = CommandLine.arguments[0]
        // The same manager as `run`, against the embedded cluster; every Event is also a log line.
        let flagHost = flags.host
        try await runManager(configuration: cluster.clientConfiguration(), controllers: Controllers.available, options: manager,
                             defaultAddress: "127.0.0.1:0", extraServices: [LocalClusterService(cluster: cluster)],
                             eventLogLevel: .info, serviceAddresses: addresses, flags: flags, defaultEnvironment: "dev",
                             announceFlags: { port in
                                 print("""
                                 flag server on http://\(flagHost):\(port) (environment \(flags.environment ?? "dev")); try:
                                   curl -s http://\(flagHost):\(port)/feature-flags
                                   curl -s 'http://\(flagHost):\(port)/feature-flags/new-checkout/value?userId=alice'
                                   curl -s -X POST http://\(flagHost):\(port)/ofrep/v1/evaluate/flags/banner-text -d '{"context":{"targetingKey":"u1","role":"ADMIN"}}'
                                   \(me) flags list
                                 """)
                                 fflush(nil)
                             }) { metricsPort in
            print("""
            LocalCluster is serving on \(server)
            kubeconfig: \(kubeconfigPath)
            CRDs installed: \(crdList)\(crds == nil ? " (built in)" : "")
            samples applied: \(sampleList)
            operator: controllers \(Controllers.available.joined(separator: ", ")); metrics on http://127.0.0.1:\(metricsPort)/metrics
            each rollout step is logged below (and recorded as an Event: kubectl get events)

            Try, in another terminal:
              export KUBECONFIG=\(kubeconfigPath)
              kubectl get bluegreendeployments,featureflags,deployments,pods,services
              \(me) bluegreen deploy api --image registry.salespot.by/api:1.1.0
              \(me) bluegreen status
              kubectl describe bgd api
              curl -s http://127.0.0.1:\(metricsPort)/metrics | grep salespot_bluegreen

            Dev mode does not run containers or route traffic: Pods are simulated (Ready after a second), and nothing
            answers on a Service's address, so HTTP health checks need --service-address NAME.NAMESPACE.svc:PORT=HOST:PORT
            pointing at something you run. Jobs run only when their command is salespot-operator (run locally).

            Press Ctrl+C to stop.
            """)
            fflush(nil)
        }
    }
}

/// `salespot-operator manifests`: the CRDs and samples built into this binary.
struct Manifests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the built-in CRDs (for kubectl apply -f -) or samples.")

    @Argument(help: "crds or samples.")
    var what: String = "crds"

    func validate() throws {
        if what != "crds" && what != "samples" { throw ValidationError("give crds or samples") }
    }

    func run() async throws {
        let docs = what == "crds" ? EmbeddedManifests.crds : EmbeddedManifests.samples
        print(docs.map { $0.yaml.hasSuffix("\n") ? String($0.yaml.dropLast()) : $0.yaml }.joined(separator: "\n---\n"))
    }
}

struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Inspect the client configuration.", subcommands: [View.self])

    struct View: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the resolved server, context, namespace and auth method (never a secret).")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            print(try connection.loadConfiguration().summary)
        }
    }
}

/// `salespot-operator bluegreen ...`: the original design's blue-green-deploy.sh, by patching the resources.
struct BlueGreenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bluegreen", abstract: "Drive BlueGreenDeployments: deploy, promote, abort, status, history, undo.",
        subcommands: [Deploy.self, Promote.self, Abort.self, Status.self, History.self, Undo.self])

    /// Which resources a command acts on: one by name, or every one matching a label selector with --all.
    struct Target: ParsableArguments {
        @Argument(help: "The BlueGreenDeployment (omit with --all).")
        var name: String?

        @Flag(help: "Act on every BlueGreenDeployment in the namespace (narrowed with --selector), as the original design's `all`.")
        var all = false

        @Option(name: [.customShort("l"), .long], help: "Label selector for --all, e.g. app.kubernetes.io/part-of=salespot.")
        var selector: String?

        func validate() throws {
            if all == (name != nil) { throw ValidationError("give a name or --all") }
        }

        func resolve(_ api: Api<BlueGreenDeployment>) async throws -> [BlueGreenDeployment] {
            if let name { return [try await api.get(name)] }
            return try await api.listAll(ListOptions(labelSelector: selector)).items
        }
    }

    static func api(_ connection: ConnectionOptions) throws -> Api<BlueGreenDeployment> {
        let configuration = try connection.loadConfiguration()
        return Api<BlueGreenDeployment>(KubeClient(configuration: configuration), namespace: configuration.namespace)
    }

    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Roll out to a colour, optionally with a new image for the first container.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var target: Target
        @Option(help: "The colour to deploy to: blue or green. Default: the idle colour.")
        var color: String?
        @Option(help: "New image of the first container.")
        var image: String?

        func validate() throws {
            if let color, Color(rawValue: color) == nil { throw ValidationError("--color must be blue or green") }
            if color == nil && image == nil { throw ValidationError("give --color, --image or both") }
        }

        func run() async throws {
            let api = try BlueGreenCommand.api(connection)
            for bgd in try await target.resolve(api) {
                var spec: JSONValue = [:]
                if let color { spec["activeColor"] = .string(color) }
                if let image {
                    var template = bgd.spec.template
                    guard var containers = template[path: ["spec", "containers"]]?.arrayValue, !containers.isEmpty else {
                        throw ValidationError("\(bgd.metadata.name ?? ""): the template has no containers")
                    }
                    containers[0]["image"] = .string(image)
                    template[path: ["spec", "containers"]] = .array(containers)
                    spec["template"] = template
                }
                let name = bgd.metadata.name ?? ""
                // A new deploy withdraws a promote that has not been acted on: it approved what was there before.
                var withdrawn = false
                if bgd.spec.promote == true {
                    spec["promote"] = .null
                    withdrawn = true
                }
                var patch: JSONValue = ["spec": spec]
                if withdrawn {
                    patch["metadata"] = ["annotations": .object(JSONObject([BlueGreenController.promoteTemplateAnnotation: .null]))]
                    print("bluegreendeployment/\(name): a pending promote was withdrawn (it was for the previous template)")
                }
                _ = try await api.patch(name, .merge(patch), fieldManager: "salespot-cli")
                if bgd.spec.abort == true {
                    // The controller holds an aborted resource still: say so rather than "deploying".
                    print("bluegreendeployment/\(name) updated, but its rollout is aborted: nothing is deployed until `salespot-operator bluegreen abort \(name) --resume`")
                } else {
                    print("bluegreendeployment/\(name) deploying\(color.map { " to \($0)" } ?? "")\(image.map { " with \($0)" } ?? "")")
                }
            }
        }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Promote a preview that waits for manual promotion.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var target: Target

        /// Why `bgd` has nothing to promote, or nil when a preview waits (or is on its way) for a manual promotion.
        static func refusal(_ bgd: BlueGreenDeployment) -> String? {
            let name = bgd.metadata.name ?? ""
            if bgd.spec.promotion?.mode != "Manual" {
                return "promotion is automatic: traffic switches as soon as the new colour is ready"
            }
            if bgd.spec.abort == true {
                return "the rollout is aborted; resume it first with `salespot-operator bluegreen abort \(name) --resume`"
            }
            // A spec the controller has not seen yet may start a rollout: the controller decides then (and clears a
            // promote that turns out to have nothing to promote, with a Warning Event).
            if (bgd.status?.observedGeneration ?? 0) < (bgd.metadata.generation ?? 0) { return nil }
            let phase = bgd.status?.phase ?? "Pending"
            if phase != "Paused" && phase != "Progressing" {
                return "nothing awaits promotion (phase \(phase))"
            }
            return nil
        }

        func run() async throws {
            let api = try BlueGreenCommand.api(connection)
            var refused: [String] = []
            let resources = try await target.resolve(api)
            for var bgd in resources {
                let name = bgd.metadata.name ?? ""
                // Sent with the resourceVersion read, so a promote decided on a stale read is not applied: read again.
                for attempt in 1...3 {
                    if let why = Self.refusal(bgd) {
                        printError("bluegreendeployment/\(name) not promoted: \(why)")
                        refused.append(name)
                        break
                    }
                    // Pinned to the template on preview now: if it changes before the controller reaches the gate,
                    // the controller drops this promote rather than approve a template nobody looked at.
                    let hash = BlueGreenController.templateHash(bgd.spec.template)
                    do {
                        _ = try await api.patch(name, .merge(["metadata": ["resourceVersion": .string(bgd.metadata.resourceVersion ?? ""),
                                                                           "annotations": [BlueGreenController.promoteTemplateAnnotation: .string(hash)]],
                                                              "spec": ["promote": true]]), fieldManager: "salespot-cli")
                        print("bluegreendeployment/\(name) promoted (template \(hash))")
                        break
                    } catch let error as KubeError where error.isConflict {
                        guard attempt < 3 else {
                            printError("bluegreendeployment/\(name) not promoted: it kept changing while being promoted; try again")
                            refused.append(name)
                            break
                        }
                        bgd = try await api.get(name)
                    }
                }
            }
            // A named resource that was refused is an error; with --all, only when nothing at all was promoted.
            if !refused.isEmpty && (target.name != nil || refused.count == resources.count) {
                throw ExitCode(1)
            }
        }
    }

    struct Abort: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Abort a rollout (traffic back, new colour scaled down); --resume undoes it.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var target: Target
        @Flag(help: "Clear a previous abort so the rollout can go on.")
        var resume = false

        func run() async throws {
            let api = try BlueGreenCommand.api(connection)
            for bgd in try await target.resolve(api) {
                _ = try await api.patch(bgd.metadata.name ?? "", .merge(["spec": ["abort": resume ? nil : true]]), fieldManager: "salespot-cli")
                print("bluegreendeployment/\(bgd.metadata.name ?? "") \(resume ? "resumed" : "aborted")")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the colours, phase and readiness of one resource, or of every one in the namespace.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The BlueGreenDeployment. Default: every one in the namespace (narrowed with --selector).")
        var name: String?
        @Flag(help: "Every BlueGreenDeployment in the namespace (the default without a name).")
        var all = false
        @Option(name: [.customShort("l"), .long], help: "Label selector, e.g. app.kubernetes.io/part-of=salespot.")
        var selector: String?

        func validate() throws {
            if all && name != nil { throw ValidationError("give a name or --all, not both") }
        }

        func run() async throws {
            let api = try BlueGreenCommand.api(connection)
            let resources = if let name { [try await api.get(name)] } else { try await api.listAll(ListOptions(labelSelector: selector)).items }
            if resources.isEmpty {
                printError("No BlueGreenDeployments found in namespace \(api.namespace ?? "default").")
                return
            }
            let rows = resources.map { b -> [String] in
                let s = b.status
                let ready = s?.conditions?.first { $0.type == "Ready" }
                let colors = Color.allCases.compactMap { c in
                    s?.colors?[c.rawValue].map { "\(c.rawValue)=\($0.image ?? "?") \($0.readyReplicas ?? 0)/\($0.replicas ?? 0)" }
                }.joined(separator: ", ")
                return [b.metadata.name ?? "", s?.activeColor ?? "-", s?.previewColor ?? "-", s?.phase ?? "Pending",
                        ready.map { "\($0.status) (\($0.reason ?? ""))" } ?? "Unknown", colors]
            }
            let header = ["NAME", "ACTIVE", "PREVIEW", "PHASE", "READY", "COLOURS"]
            let widths = header.indices.map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
            for row in [header] + rows {
                print(row.enumerated().map { $0.element + String(repeating: " ", count: widths[$0.offset] + 2 - $0.element.count) }.joined())
            }
        }
    }
}
