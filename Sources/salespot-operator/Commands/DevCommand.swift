import ArgumentParser
import BackupAPI
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


/// The demo's servers as a ServiceLifecycle service, so `dev` stops them with the manager.
struct DemoService: ServiceLifecycle.Service {
    let demo: DevDemo
    func run() async throws {
        try? await gracefulShutdown()
        demo.stop()
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

    @Flag(help: "Start no PostgreSQL, SeaweedFS, BIND or site health endpoints for the backup and DR samples.")
    var noDemoServers = false

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

    /// Server-side apply of one manifest as dev's field manager, in its namespace (default: `default`).
    static func apply(_ doc: JSONValue, as resource: ResourceDescriptor, client: KubeClient) async throws {
        _ = try await Api<DynamicObject>(client, resource: resource, namespace: doc[path: ["metadata", "namespace"]]?.stringValue ?? "default")
            .apply(doc, fieldManager: "salespot-dev", force: true)
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
        let sampleKinds: [ResourceDescriptor] = [Service.resource, BlueGreenDeployment.resource, FeatureFlag.resource, ConfigMap.resource,
                                                 Secret.resource, Deployment.resource]
        for (file, yaml) in sampleManifests {
            for doc in try YAML.parseAll(yaml) {
                guard let kind = doc["kind"]?.stringValue, let apiVersion = doc["apiVersion"]?.stringValue else { continue }
                guard let resource = sampleKinds.first(where: { $0.kind == kind && $0.apiVersion == apiVersion }) else {
                    logger.info("sample not applied: dev applies Services, ConfigMaps, Secrets, Deployments, BlueGreenDeployments and FeatureFlags; the backup and DR samples name production hosts (dev has its own, dev-full and dev-site, on local servers when they are installed)",
                                metadata: ["file": .string(file), "kind": .string("\(apiVersion)/\(kind)")])
                    continue
                }
                do {
                    try await Self.apply(doc, as: resource, client: client)
                    if appliedSamples.last != file { appliedSamples.append(file) }
                } catch {
                    await cluster.stop()
                    throw ValidationError("sample \(file): \(kind) \(doc[path: ["metadata", "name"]]?.stringValue ?? ""): \(error)")
                }
            }
        }
        // Backups and DR on local servers: what the production-pointed samples do, on this machine.
        var extra: [any ServiceLifecycle.Service] = [LocalClusterService(cluster: cluster)]
        var demo: DevDemo?
        if !noDemoServers {
            let started = await DevDemo.start(stateDirectory: Paths.directory(of: cluster.kubeconfigPath), logger: logger)
            demo = started
            extra.append(DemoService(demo: started))
            if let sites = started.sites { extra.append(sites) }
            let demoKinds: [ResourceDescriptor] = [Secret.resource, BackupPolicy.resource, Backup.resource, Restore.resource, DRPolicy.resource]
            for (what, yaml) in started.manifests {
                for doc in try YAML.parseAll(yaml) {
                    let kind = doc["kind"]?.stringValue ?? ""
                    guard let resource = demoKinds.first(where: { $0.kind == kind }) else { continue }
                    do {
                        try await Self.apply(doc, as: resource, client: client)
                    } catch {
                        started.stop()
                        await cluster.stop()
                        throw ValidationError("\(what): \(kind) \(doc[path: ["metadata", "name"]]?.stringValue ?? ""): \(error)")
                    }
                }
            }
        }
        var demoTry = ""
        if demo?.manifests.contains(where: { $0.name == "dev backups" }) == true {
            demoTry += "\n  kubectl get backuppolicies,backups,restores"
        }
        if let sites = demo?.sites {
            demoTry += "\n  curl -s -X POST http://127.0.0.1:\(sites.port)/primary/fail"
            demoTry += "\n  kubectl get drpolicy dev-site -w"
        }
        let demoCommands = demoTry
        let demoBanner = demo.map { $0.banner.isEmpty ? "" : "\n" + $0.banner.joined(separator: "\n") } ?? ""
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
        try await runManager(configuration: cluster.clientConfiguration(), controllers: Controllers.defaults, options: manager,
                             defaultAddress: "127.0.0.1:0", extraServices: extra,
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
            operator: controllers \(Controllers.defaults.joined(separator: ", ")); metrics on http://127.0.0.1:\(metricsPort)/metrics
            each rollout step is logged below (and recorded as an Event: kubectl get events)\(demoBanner)

            Try, in another terminal:
              export KUBECONFIG=\(kubeconfigPath)
              kubectl get bluegreendeployments,featureflags,deployments,pods,services
              \(me) bluegreen deploy api --image registry.salespot.by/api:1.1.0
              \(me) bluegreen status
              kubectl describe bgd api
              curl -s http://127.0.0.1:\(metricsPort)/metrics | grep salespot_bluegreen\(demoCommands)

            Dev mode does not run containers or route traffic: Pods are simulated (Ready after a second), and nothing
            answers on a Service's address, so HTTP health checks need --service-address NAME.NAMESPACE.svc:PORT=HOST:PORT
            pointing at something you run. Jobs run only when their command is salespot-operator (run locally).

            Press Ctrl+C to stop.
            """)
            fflush(nil)
        }
    }
}
