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
    /// The watches of secondary resources.
    var secondaries: [Secondary] = []
    /// Whether ``drain()`` was called.
    let lifecycle = Flag(false)
    /// Called as each term begins (before its first list), to drop per-term state such as ``WrittenVersions``.
    var termHooks: [@Sendable () -> Void] = []
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

    /// The watches of one secondary resource (one per namespace), their sync state and cache.
    struct Secondary: Sendable {
        var feeds: [@Sendable (WorkQueue<ObjectRef>) async -> Void]
        var synced: @Sendable () -> Bool
        /// Forgets the first list (a new term must list again).
        var beginTerm: @Sendable () -> Void
    }

    /// Runs `hook` as each term begins, before its first list: state kept across reconciles that a new term must
    /// not inherit (a leader that lost its lease missed events meanwhile) is dropped there.
    public func onNewTerm(_ hook: @escaping @Sendable () -> Void) -> Controller<T> {
        var copy = self
        copy.termHooks.append(hook)
        return copy
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
    ///
    /// As controller-runtime's handlers: a change enqueues what the object maps to now and what it mapped to
    /// before (an object moved to another owner reconciles both), a deletion enqueues what it mapped to, and so
    /// does an object found gone by a re-list (deleted while the watch was down, after a 410).
    /// - Parameters:
    ///   - store: a cache to keep of these objects, for reconciles to read instead of calling the API. Without one
    ///     the controller keeps its own (compact), to know what a re-list no longer contains.
    ///   - predicate: only changes for which it holds enqueue (deletions always do); the cache is updated either way.
    public func watches<O: KubernetesObject>(_ api: Api<O>, labelSelector: String? = nil, store: Store<O>? = nil,
                                            predicate: (@Sendable (_ new: O, _ old: O?) -> Bool)? = nil,
                                            mapper: @escaping @Sendable (O) -> [ObjectRef]) -> Controller<T> {
        var copy = self
        let apis = Self.scoped(api, namespaces)
        let store = store ?? Store<O>(representation: .compact)
        store.expectScopes(apis.count)
        let listed = Mutex(Set<String?>())
        var feeds: [@Sendable (WorkQueue<ObjectRef>) async -> Void] = []
        for scoped in apis {
            let watcher = Watcher(api: scoped, labelSelector: labelSelector, logger: logger)
            feeds.append { queue in
                var listedOnce = false  // as for the primary: the term's first list has no old objects
                for await event in watcher.events() {
                    if case .initDone = event { _ = listed.withLock { $0.insert(scoped.namespace) } }
                    for change in store.apply(event, scope: scoped.namespace) {
                        if let new = change.object, let predicate, !predicate(new, listedOnce ? change.old : nil) { continue }
                        var keys = change.object.map(mapper) ?? []
                        for key in change.old.map(mapper) ?? [] where !keys.contains(key) { keys.append(key) }
                        for key in keys { await queue.add(key) }
                    }
                    if case .initDone = event { listedOnce = true }
                }
            }
        }
        copy.secondaries.append(Secondary(
            feeds: feeds,
            synced: { listed.withLock { $0.count } >= apis.count },
            beginTerm: {
                listed.withLock { $0.removeAll() }
                store.beginTerm()
            }))
        return copy
    }

    /// Runs until the task is cancelled or ``drain()`` is called: watchers, workers and resync.
    ///
    /// Each run is a term of its own (a new term of leadership runs it again): the queue starts empty and the
    /// caches must list again before any reconcile, so nothing of an earlier term carries over.
    ///
    /// Cancellation stops at once: reconciles in flight are cancelled with it (their requests are aborted), as
    /// when leadership is lost. ``drain()`` is the graceful stop: no new keys, reconciles in flight finish.
    public func run() async {
        let term = await queue.reopen()
        for hook in termHooks { hook() }
        // A drain that came before this term began (a shutdown racing an election) stops it before it starts.
        if lifecycle.value {
            await queue.shutDown()
            return
        }
        await withTaskGroup(of: Void.self) { group in
            for watcher in primaries {
                group.addTask {
                    // The term's first list delivers every object as created (old nil), as a new informer does in
                    // controller-runtime: what the previous term cached must not filter this term's work out.
                    var listed = false
                    for await event in watcher.events() {
                        for change in store.apply(event, scope: watcher.api.namespace) {
                            let old = listed ? change.old : nil
                            if let new = change.object, !predicates.allSatisfy({ $0(new, old) }) { continue }
                            await queue.add(change.ref)
                        }
                        if case .initDone = event { listed = true }
                    }
                }
            }
            for secondary in secondaries {
                for feed in secondary.feeds { group.addTask { await feed(queue) } }
            }
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
            // Workers are child tasks: cancelling the run cancels the reconciles they are in.
            await withTaskGroup(of: Void.self) { workers in
                for _ in 0..<self.workers { workers.addTask { await self.work() } }
                await withTaskCancellationHandler {
                    await workers.waitForAll()
                } onCancel: {
                    // Tagged with the term: landing after a new term's reopen, it does nothing.
                    Task { await queue.shutDown(term: term) }
                }
            }
            group.cancelAll()
        }
        // Delayed adds of this term go with it, and its caches no longer count as synced (for /readyz).
        await queue.shutDown()
        store.beginTerm()
        for s in secondaries { s.beginTerm() }
    }

    /// The graceful stop (SIGTERM): hands out no more keys, lets reconciles in flight finish, then ``run()``
    /// returns. Final: a later ``run()`` returns at once.
    public func drain() async {
        lifecycle.set(true)
        await queue.shutDown()
    }

    /// Whether every cache has completed its first list (for /readyz; reconciles wait for it too).
    public var hasSynced: Bool { store.hasSynced && secondaries.allSatisfy { $0.synced() } }

    func work() async {
        // Keys are handed out only once the cache is complete, so reconciles never see a partial world. A stop
        // before that (a watch that keeps failing, then SIGTERM) ends the wait.
        while !hasSynced {
            if Task.isCancelled { return }
            if await queue.isShutDown { return }
            try? await Task.sleep(for: .milliseconds(5))
        }
        while !Task.isCancelled, let ref = await queue.next() {
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

