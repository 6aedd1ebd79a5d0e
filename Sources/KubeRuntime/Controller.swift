import KubeClient
import KubeCore
import Logging
import Synchronization

/// What a reconcile asks for next.
public enum Action: Sendable, Equatable {
    /// Nothing until the object (or something mapped to it) changes.
    case awaitChange
    /// Reconcile again after this delay, even without a change.
    case requeue(after: Duration)
}

/// A reconcile failure that retrying cannot fix (invalid spec, missing permission): the key is not retried until
/// the object changes. Any other error is retried with the queue's exponential backoff.
public struct TerminalError: Error, CustomStringConvertible {
    public var underlying: any Error
    public init(_ underlying: any Error) { self.underlying = underlying }
    public var description: String { "terminal: \(underlying)" }
}

/// What a reconcile receives: the object's ref, the cached object (nil once deleted), and the caches.
public struct ReconcileRequest<T: KubernetesObject>: Sendable {
    public var ref: ObjectRef
    public var object: T?
    public var store: Store<T>
    /// Unique per reconcile, for logs.
    public var reconcileID: String
}

/// A controller: a primary resource watched into a ``Store``, secondary resources mapped to primary keys, a
/// ``WorkQueue`` and a number of workers calling the reconcile function.
///
/// Guarantees: a key is never reconciled concurrently with itself; failed reconciles back off per key (5 ms to
/// 1000 s); ``TerminalError``s wait for a change; objects are reconciled again every ``resync`` if set.
public struct Controller<T: KubernetesObject>: Sendable {
    public typealias Reconcile = @Sendable (ReconcileRequest<T>) async throws -> Action

    public let name: String
    public let store: Store<T>
    public let queue: WorkQueue<ObjectRef>
    let primaries: [Watcher<T>]
    /// The namespaces watched (nil: all), for secondary resources too.
    let namespaces: [String]?
    var secondaries: [@Sendable (WorkQueue<ObjectRef>) async -> Void] = []
    /// Whether each secondary watch has completed its first list.
    var secondariesSynced: [@Sendable () -> Bool] = []
    /// Which changes of the primary resource enqueue it (all must agree; deletions always do).
    var predicates: [@Sendable (_ new: T, _ old: T?) -> Bool] = []
    /// Concurrent reconciles (of different keys). Default 1, as controller-runtime.
    public var workers: Int
    /// Reconcile every cached object this often; `nil` for never.
    public var resync: Duration?
    let reconcile: Reconcile
    let logger: Logger
    let sleep: @Sendable (Duration) async throws -> Void
    let metrics: ControllerMetrics?

    /// - Parameters:
    ///   - namespaces: `nil` watches every namespace; otherwise one watch per namespace.
    ///   - labelSelector: only objects matching it (for sharding work across operator instances).
    public init(name: String, api: Api<T>, namespaces: [String]? = nil, labelSelector: String? = nil, workers: Int = 1,
                resync: Duration? = nil, cache: Store<T>.Representation = .decoded, clock: some Clock<Duration> = ContinuousClock(), metrics: ControllerMetrics? = nil,
                logger: Logger = Logger(label: "salespot.controller"), reconcile: @escaping Reconcile) {
        self.name = name
        self.store = Store<T>(representation: cache)
        self.workers = max(1, workers)
        self.resync = resync
        self.reconcile = reconcile
        var l = logger
        l[metadataKey: "controller"] = .string(name)
        self.logger = l
        self.metrics = metrics
        self.sleep = { try await clock.sleep(for: $0) }
        self.queue = WorkQueue(clock: clock, observer: metrics?.queueObserver(name: name))
        self.namespaces = namespaces
        let apis = Self.scoped(api, namespaces)
        self.primaries = apis.map { Watcher(api: $0, labelSelector: labelSelector, clock: clock, logger: l) }
        self.store.expectScopes(apis.count)
    }

    /// One API per watched namespace, or one for all.
    static func scoped<O>(_ api: Api<O>, _ namespaces: [String]?) -> [Api<O>] {
        namespaces.map { $0.map { Api<O>(api.client, resource: api.resource, namespace: $0) } } ?? [Api<O>(api.client, resource: api.resource, namespace: nil)]
    }

    /// Also reconciles the owner when an object of this kind changes: objects whose controller owner reference
    /// names a `T` enqueue that owner.
    public func owns<O: KubernetesObject>(_ api: Api<O>, labelSelector: String? = nil, store: Store<O>? = nil) -> Controller<T> {
        let kind = primaries[0].api.resource.kind
        let group = primaries[0].api.resource.group
        return watches(api, labelSelector: labelSelector, store: store) { (o: O) -> [ObjectRef] in
            guard let owner = o.metadata.ownerReferences?.first(where: { $0.controller == true && $0.kind == kind
                && ($0.apiVersion.split(separator: "/").count == 1 ? group.isEmpty : $0.apiVersion.hasPrefix(group + "/")) }) else { return [] }
            return [ObjectRef(namespace: o.metadata.namespace, name: owner.name)]
        }
    }

    /// Only changes of the primary resource for which `predicate` holds enqueue it (as controller-runtime's
    /// predicates); the cache is updated either way, and deletions always enqueue.
    public func filter(_ predicate: @escaping @Sendable (_ new: T, _ old: T?) -> Bool) -> Controller<T> {
        var copy = self
        copy.predicates.append(predicate)
        return copy
    }

    /// Also reconciles whatever `mapper` names when an object of another resource changes. Watched in the
    /// controller's namespaces; reconciles start once these watches have listed too.
    /// - Parameter store: a cache to keep of these objects, for reconciles to read instead of calling the API.
    public func watches<O: KubernetesObject>(_ api: Api<O>, labelSelector: String? = nil, store: Store<O>? = nil,
                                            mapper: @escaping @Sendable (O) -> [ObjectRef]) -> Controller<T> {
        var copy = self
        let apis = Self.scoped(api, namespaces)
        store?.expectScopes(apis.count)
        let listed = Mutex(Set<String?>())
        for scoped in apis {
            let watcher = Watcher(api: scoped, labelSelector: labelSelector, logger: logger)
            copy.secondaries.append { queue in
                for await event in watcher.events() {
                    store?.apply(event, scope: scoped.namespace)
                    switch event {
                    case .initApply(let o), .apply(let o), .delete(let o):
                        for ref in mapper(o) { await queue.add(ref) }
                    case .initDone:
                        _ = listed.withLock { $0.insert(scoped.namespace) }
                    case .initStart: break
                    }
                }
            }
        }
        copy.secondariesSynced.append { listed.withLock { $0.count } >= apis.count }
        return copy
    }

    /// Runs until the task is cancelled: watchers, workers and resync. On cancellation, stops handing out keys and
    /// waits for reconciles in flight to finish.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for watcher in primaries {
                group.addTask {
                    for await event in watcher.events() {
                        for change in store.apply(event, scope: watcher.api.namespace) {
                            if let new = change.object, !predicates.allSatisfy({ $0(new, change.old) }) { continue }
                            await queue.add(change.ref)
                        }
                    }
                }
            }
            for secondary in secondaries { group.addTask { await secondary(queue) } }
            // Once the first list has been reconciled, give the heap it used back to the system.
            group.addTask {
                while !Task.isCancelled {
                    let depth = await queue.depth
                    if hasSynced && depth == 0 { break }
                    try? await Task.sleep(for: .milliseconds(100))
                }
                if !Task.isCancelled { returnFreedMemory() }
            }
            if let resync {
                group.addTask {
                    while !Task.isCancelled {
                        do { try await sleep(resync) } catch { return }
                        for ref in store.refs() { await queue.add(ref) }
                    }
                }
            }
            let workers = (0..<self.workers).map { _ in
                Task { await self.work() }
            }
            await withTaskCancellationHandler {
                for w in workers { await w.value }
            } onCancel: {
                Task { await queue.shutDown() }
            }
            group.cancelAll()
        }
    }

    /// Whether every cache has completed its first list (for /readyz; reconciles wait for it too).
    public var hasSynced: Bool { store.hasSynced && secondariesSynced.allSatisfy { $0() } }

    func work() async {
        // Keys are handed out only once the cache is complete, so reconciles never see a partial world.
        while !hasSynced && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
        while let ref = await queue.next() {
            let started = ContinuousClock.now
            metrics?.activeWorkers(name, delta: 1)
            let id = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            var log = logger
            log[metadataKey: "object"] = .string(ref.description)
            log[metadataKey: "reconcileID"] = .string(id)
            let request = ReconcileRequest(ref: ref, object: store.get(ref), store: store, reconcileID: id)
            do {
                let action = try await reconcile(request)
                await queue.forget(ref)
                switch action {
                case .awaitChange:
                    metrics?.reconciled(name, result: "success", duration: ContinuousClock.now - started)
                case .requeue(let after):
                    metrics?.reconciled(name, result: "requeue_after", duration: ContinuousClock.now - started)
                    await queue.add(ref, after: after)
                }
            } catch let e as TerminalError {
                await queue.forget(ref)
                metrics?.reconciled(name, result: "error", duration: ContinuousClock.now - started, terminal: true)
                log.error("reconcile failed; not retrying until the object changes", metadata: ["error": .string("\(e.underlying)")])
            } catch {
                let delay = await queue.addRateLimited(ref)
                metrics?.reconciled(name, result: "error", duration: ContinuousClock.now - started)
                log.warning("reconcile failed; retrying", metadata: ["error": .string("\(error)"), "retryIn": .stringConvertible(delay)])
            }
            metrics?.activeWorkers(name, delta: -1)
            await queue.done(ref)
        }
    }
}
