import KubeClient
import KubeCore
import KubeRuntime
import Logging
import ServiceLifecycle
import Synchronization

/// Everything every replica runs for flags, leader or not: the watch that fills the ``FlagCatalog``, the
/// evaluation server, the usage publisher and, when configured, the watch of the API-key Secret. A
/// ServiceLifecycle `Service`: it starts serving once the catalog has listed, and stops on a graceful shutdown.
public struct FlagService: ServiceLifecycle.Service {
    public let client: KubeClient
    public let server: FlagServer
    /// The namespaces whose flags are served (nil: all).
    public let namespaces: [String]?
    /// Where the API keys are read from (`namespace`, `name`), when they are asked for.
    public let apiKeysSecret: (namespace: String, name: String)?
    public let ledger: UsageLedger?
    let onListening: @Sendable (Int) -> Void
    let logger: Logger

    public init(client: KubeClient, server: FlagServer, namespaces: [String]? = nil, apiKeysSecret: (namespace: String, name: String)? = nil,
                ledger: UsageLedger? = nil, logger: Logger = Logger(label: "salespot.flags"), onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.client = client
        self.server = server
        self.namespaces = namespaces
        self.apiKeysSecret = apiKeysSecret
        self.ledger = ledger
        self.logger = logger
        self.onListening = onListening
    }

    public var catalog: FlagCatalog { server.evaluator.catalog }
    /// Whether the server answers: the flags of every watched namespace have been listed and it listens.
    public var hasSynced: Bool { listening.value }
    let listening = ListeningFlag()

    public func run() async throws {
        let catalog = self.catalog
        let apis = namespaces.map { $0.map { Api<FeatureFlag>(client, namespace: $0) } } ?? [Api<FeatureFlag>(client)]
        try await withThrowingTaskGroup(of: Void.self) { group in
            // One watch for all namespaces, or one per namespace, merged into one catalog: it has listed once each has.
            let scopes = FlagScopes(count: apis.count)
            for api in apis {
                group.addTask {
                    for await event in Watcher(api: api, logger: logger).events() {
                        scopes.apply(event, scope: api.namespace, to: catalog)
                    }
                }
            }
            if let (ns, name) = apiKeysSecret, let keys = server.apiKeys {
                group.addTask {
                    let watcher = Watcher(api: Api<Secret>(client, namespace: ns), fieldSelector: "metadata.name=\(name)", logger: logger)
                    // The keys in use are replaced when a list completes, never emptied at its start: a re-list
                    // while the API server is unreachable must not refuse every request meanwhile.
                    var listed: Secret?
                    for await event in watcher.events() {
                        switch event {
                        case .initStart: listed = nil
                        case .initApply(let s): listed = s
                        case .initDone: keys.load(listed)
                        case .apply(let s): keys.load(s)
                        case .delete: keys.load(nil)
                        }
                    }
                }
            }
            if let ledger { group.addTask { await ledger.run(catalog) } }
            // Serve once the catalog has listed: before that, every flag would be "not found".
            while !scopes.synced {
                // A stop before the first list (no CRD installed, say) ends the wait.
                if Task.isShuttingDownGracefully {
                    group.cancelAll()
                    return
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let handle = try await server.start()
            listening.set(true)
            logger.info("flag server listening", metadata: ["port": .stringConvertible(handle.port)])
            onListening(handle.port)
            try? await gracefulShutdown()
            listening.set(false)
            await handle.stop()
            group.cancelAll()
        }
    }
}

/// Whether the server listens (for readiness).
final class ListeningFlag: Sendable {
    private let flag = Mutex(false)
    func set(_ v: Bool) { flag.withLock { $0 = v } }
    var value: Bool { flag.withLock { $0 } }
}

/// Merges per-namespace watches into one catalog: a re-list of one namespace must only drop that namespace's flags.
final class FlagScopes: Sendable {
    private let state: Mutex<(listed: Set<String>, count: Int, relisting: [String: Set<ObjectRef>])>
    init(count: Int) { state = Mutex(([], count, [:])) }
    var synced: Bool { state.withLock { $0.listed.count >= $0.count } }

    func apply(_ event: WatcherEvent<FeatureFlag>, scope: String?, to catalog: FlagCatalog) {
        let key = scope ?? ""
        switch event {
        case .initStart:
            state.withLock { $0.relisting[key] = [] }
        case .initApply(let flag):
            state.withLock { _ = $0.relisting[key]?.insert(ObjectRef(flag.metadata)) }
            catalog.apply(flag)
        case .initDone:
            let seen = state.withLock { s in s.relisting.removeValue(forKey: key) ?? [] }
            for entry in catalog.allEntries() where (scope == nil || entry.ref.namespace == scope) && !seen.contains(entry.ref) {
                catalog.remove(entry.ref)
            }
            state.withLock { _ = $0.listed.insert(key) }
        case .apply(let flag):
            catalog.apply(flag)
        case .delete(let flag):
            catalog.remove(ObjectRef(flag.metadata))
        }
    }
}
