#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import HummingbirdTLS
import NIOSSL
import KubeClient
import KubeCore
import Logging
import ServiceLifecycle
import NIOCore
import Synchronization

/// An embedded Kubernetes API server on 127.0.0.1: the `dev` mode's cluster and the tests' API server.
///
/// Strict enough that real kubectl works against it: discovery, server-side printing, CRDs with schema validation,
/// optimistic concurrency, generation, the status subresource, finalizers, garbage collection, selectors,
/// pagination, watches with bookmarks and a bounded history (older versions get 410 Gone), merge, JSON and strategic
/// merge patches and server-side apply. See README for where it differs from kube-apiserver.
public final class LocalCluster: Sendable {
    /// How the cluster starts.
    public struct Options: Sendable {
        /// Port on 127.0.0.1; 0 picks a free one. Default 0.
        public var port: Int = 0
        /// Watch events kept per resource for resuming watches: at most ``historyLimit``; past ``historyMinimum``,
        /// only those of the last ``historyWindow``. Defaults 10,000, 75 s and 100, as kube-apiserver's watch cache
        /// (at least 75 s of events per resource, 100 at the least). Resuming from an older version gets 410 Gone,
        /// and so does any version from before the server started.
        public var historyLimit: Int = 10_000
        public var historyWindow: Duration = .seconds(75)
        public var historyMinimum: Int = 100
        /// How often watches that asked for bookmarks get one. Default 60 s, as kube-apiserver.
        public var bookmarkInterval: Duration = .seconds(60)
        /// Where to write the kubeconfig; default a file in a new temporary directory.
        public var kubeconfigPath: String?
        /// Keep state here across restarts (written within a second of every change and at stop).
        public var dataDirectory: String?
        /// Where the CA and serving certificate live (made if missing). Default: `pki/` in the data directory, or
        /// next to the kubeconfig. Tests share one to save key generation.
        public var pkiDirectory: String?
        /// Simulate workloads: Deployments become ready and Jobs run. Default on.
        public var simulateWorkloads: Bool = true
        /// How long a Deployment takes to become ready in the simulation. Default 1 s.
        public var deploymentReadyDelay: Duration = .seconds(1)
        /// How long a Job that is not this project's executable takes to complete. Default 1 s.
        public var jobDuration: Duration = .seconds(1)
        /// Jobs whose first command word has one of these names run as local processes, at the mapped path
        /// (`dev` maps `salespot-operator` to its own executable). Default: none; other Jobs complete after ``jobDuration``.
        public var localJobExecutables: [String: String] = [:]
        /// More bearer tokens, each a user who may only read (get, list, watch): anything else gets 403 Forbidden
        /// in kube-apiserver's words, as RBAC would refuse it. Token → user name. Default none.
        public var readOnlyTokens: [String: String] = [:]
        /// More bearer tokens, each a user (e.g. `system:serviceaccount:salespot-system:salespot-operator`) whose
        /// requests RBAC decides by the Roles, ClusterRoles and bindings stored in this cluster, as kube-apiserver's
        /// RBAC authorizer would; refusals are 403 in its words and kept (``rbacDenials``). Token → user. Default none.
        public var rbacTokens: [String: String] = [:]
        public init() {}
    }

    public let options: Options
    /// The bearer token every request must carry.
    public let token: String
    /// The port the server listens on.
    public let port: Int
    /// A kubeconfig that points at this cluster.
    public let kubeconfigPath: String
    let state: ClusterState
    let faults: FaultInjector
    private let serverTask: Task<Void, any Error>
    private let serviceGroup: ServiceGroup
    private let persistence: Persistence?
    private let simulator: WorkloadSimulator?

    /// The PEM of the CA that signed the serving certificate.
    public let caPEM: [UInt8]
    /// Base URL, e.g. `https://127.0.0.1:41234`.
    public var server: String { "https://127.0.0.1:\(port)" }

    /// Starts the server and returns once it accepts connections.
    public static func start(_ options: Options = Options(), logger: Logger = Logger(label: "salespot.localcluster")) async throws -> LocalCluster {
        let state = ClusterState(historyLimit: options.historyLimit, historyWindow: options.historyWindow, historyMinimum: options.historyMinimum)
        var persistence: Persistence?
        if let dir = options.dataDirectory {
            let p = try Persistence(directory: dir, state: state)
            try await p.load()
            persistence = p
        }
        let token = (0..<32).map { _ in let b = UInt8.random(in: 0...255); return (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
        let faults = FaultInjector()
        var responder = APIResponder(state: state, token: token, readOnlyTokens: options.readOnlyTokens, faults: faults,
                                     bookmarkInterval: options.bookmarkInterval)
        responder.rbacTokens = options.rbacTokens
        let directory = try options.kubeconfigPath.map { Paths.directory(of: $0) } ?? {
            let dir = Paths.join(ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp", "salespot-localcluster-" + UUID().uuidString)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return dir
        }()
        // kubectl sends credentials only over TLS, so LocalCluster serves HTTPS with its own CA.
        let certs = try await ServingCertificates.ensure(in: options.pkiDirectory ?? options.dataDirectory.map { $0 + "/pki" } ?? directory + "/pki")
        let chain = try NIOSSLCertificate.fromPEMFile(certs.certPath).map { NIOSSLCertificateSource.certificate($0) }
        let tls = NIOSSL.TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: certs.keyPath, format: .pem)))
        let caPEM = Array(try Data(contentsOf: URL(fileURLWithPath: certs.caPath)))
        let portBox = Mutex<Int?>(nil)
        let (ready, readyContinuation) = AsyncStream<Int>.makeStream()
        var quiet = logger
        quiet.logLevel = .warning
        let app = Application(responder: responder,
                              server: try .tls(.http1(), tlsConfiguration: tls),
                              configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: options.port),
                                                                      serverName: "salespot-localcluster"),
                              onServerRunning: { channel in
                                  let p = channel.localAddress?.port ?? 0
                                  portBox.withLock { $0 = p }
                                  readyContinuation.yield(p)
                                  readyContinuation.finish()
                              },
                              logger: quiet)
        // Run the server as a ServiceLifecycle service so that stopping it is a graceful shutdown: cancelling the task
        // that runs it races with connections being accepted, which NIO's async channels do not allow.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: quiet))
        let task = Task { try await group.run() }
        var port = 0
        for await p in ready { port = p }
        guard port > 0 else {
            task.cancel()
            throw APIFailure(code: 500, reason: "InternalError", message: "LocalCluster could not listen on 127.0.0.1:\(options.port)")
        }
        let path = options.kubeconfigPath ?? directory + "/kubeconfig"
        let kubeconfig = """
        apiVersion: v1
        kind: Config
        current-context: salespot-local
        clusters:
        - name: salespot-local
          cluster:
            server: https://127.0.0.1:\(port)
            certificate-authority-data: \(Data(caPEM).base64EncodedString())
        users:
        - name: salespot-local
          user:
            token: \(token)
        contexts:
        - name: salespot-local
          context:
            cluster: salespot-local
            user: salespot-local
            namespace: default
        """
        try Data(kubeconfig.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let simulator = options.simulateWorkloads ? WorkloadSimulator(state: state, options: options) : nil
        let cluster = LocalCluster(options: options, token: token, port: port, kubeconfigPath: path, caPEM: caPEM, state: state,
                                   faults: faults, serverTask: task, serviceGroup: group, persistence: persistence, simulator: simulator)
        let sim = simulator
        let pers = persistence
        await state.setOnChange { typeKey, eventType, object in
            sim?.observe(typeKey: typeKey, eventType: eventType, object: object)
            pers?.scheduleSave()
        }
        // State restored from the data directory: what was waiting for a delay when it was saved carries on.
        if persistence != nil { await simulator?.resume() }
        return cluster
    }

    private init(options: Options, token: String, port: Int, kubeconfigPath: String, caPEM: [UInt8], state: ClusterState,
                 faults: FaultInjector, serverTask: Task<Void, any Error>, serviceGroup: ServiceGroup, persistence: Persistence?,
                 simulator: WorkloadSimulator?) {
        self.options = options
        self.token = token
        self.port = port
        self.kubeconfigPath = kubeconfigPath
        self.caPEM = caPEM
        self.state = state
        self.faults = faults
        self.serverTask = serverTask
        self.serviceGroup = serviceGroup
        self.persistence = persistence
        self.simulator = simulator
    }

    /// Stops the server (open watches end) and saves state if a data directory is set. Returns without waiting for
    /// idle client connections to close.
    public func stop() async {
        simulator?.stop()
        await state.closeAllWatches()
        try? await persistence?.save()
        // Graceful shutdown finishes in the background (it waits for idle keep-alive connections to close);
        // the state is already saved and no watch is open.
        await serviceGroup.triggerGracefulShutdown()
    }

    /// A client configured for this cluster.
    public func clientConfiguration(namespace: String = "default") -> ClientConfiguration {
        ClientConfiguration(server: server, tls: ClientTLSConfiguration(caPEM: caPEM), auth: .token(token), namespace: namespace, source: kubeconfigPath,
                            contextName: "salespot-local", clusterName: "salespot-local", userName: "salespot-local")
    }

    // MARK: fault injection

    /// Fails the next `count` requests whose path contains `pathContains` (and whose method matches, if given).
    public func failNext(_ count: Int, pathContains: String, method: String? = nil, status: Int = 500, retryAfterSeconds: Int? = nil) {
        faults.add(.init(remaining: count, pathContains: pathContains, method: method, status: status, retryAfter: retryAfterSeconds))
    }

    /// Removes every pending injected failure.
    public func clearFaults() { faults.clear() }

    /// Ends every open watch stream, as a server restart or proxy timeout would.
    public func closeAllWatches() async { await state.closeAllWatches() }

    /// Drops the watch history so resuming from any earlier version gets 410 Gone.
    public func compactHistory() async { await state.compactHistory() }

    /// Delays every response by this long (zero to stop).
    public func delayResponses(_ delay: Duration) { faults.setDelay(delay) }

    /// Number of open watches (for tests).
    public var openWatches: Int { get async { await state.openWatches } }
    /// The requests RBAC refused (``Options/rbacTokens``), oldest first, as `user: verb group/resource[/sub] [name] [in ns]`.
    public var rbacDenials: [String] { get async { await state.rbacDenials } }
    /// A client authenticated with one of ``Options/rbacTokens`` (what a pod with that service account's token sees).
    public func clientConfiguration(token: String) -> ClientConfiguration {
        var c = clientConfiguration()
        c.auth = .token(token)
        return c
    }

    /// Installs CRDs (YAML documents of kind CustomResourceDefinition), replacing ones with the same name.
    public func installCRDs(_ yaml: String) async throws {
        let crdType = await state.type(group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions")!
        for doc in try YAML.parseAll(yaml) where doc["kind"]?.stringValue == "CustomResourceDefinition" {
            let name = doc[path: ["metadata", "name"]]?.stringValue ?? ""
            // As `kubectl apply` (field validation Strict) would have it: a field the CRD kind does not declare is
            // an error, not something to drop.
            let unknown = FieldValidation.check(doc, type: crdType).unknown
            if !unknown.isEmpty {
                throw APIFailure.badRequest("CustomResourceDefinition \(name): strict decoding error: " + unknown.map { "unknown field \"\($0)\"" }.joined(separator: ", "))
            }
            if (try? await state.get(crdType, namespace: nil, name: name)) != nil {
                _ = try await state.delete(crdType, namespace: nil, name: name, propagation: nil, preconditions: nil)
            }
            _ = try await state.create(crdType, namespace: nil, body: doc)
        }
    }
}

/// Requests to fail on purpose, and an optional delay for every response.
final class FaultInjector: Sendable {
    struct Rule: Sendable {
        var remaining: Int
        var pathContains: String
        var method: String?
        var status: Int
        var retryAfter: Int?
    }
    private let rules = Mutex<[Rule]>([])
    private let delay = Mutex<Duration>(.zero)

    func add(_ rule: Rule) { rules.withLock { $0.append(rule) } }
    func setDelay(_ d: Duration) { delay.withLock { $0 = d } }
    func clear() { rules.withLock { $0.removeAll() } }
    var currentDelay: Duration { delay.withLock { $0 } }

    /// The failure to answer with, if a rule matches (consuming one of its uses).
    func match(method: String, path: String) -> APIFailure? {
        rules.withLock { rules in
            guard let i = rules.firstIndex(where: { $0.remaining > 0 && path.contains($0.pathContains) && ($0.method == nil || $0.method == method) }) else { return nil }
            rules[i].remaining -= 1
            let r = rules[i]
            if rules[i].remaining == 0 { rules.remove(at: i) }
            let reason = r.status == 429 ? "TooManyRequests" : (r.status >= 500 ? "InternalError" : "BadRequest")
            return APIFailure(code: r.status, reason: reason, message: "injected fault", retryAfterSeconds: r.retryAfter)
        }
    }
}
