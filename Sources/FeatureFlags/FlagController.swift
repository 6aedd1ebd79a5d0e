import KubeClient
import KubeCore
import KubeRuntime
import Logging
import Synchronization

/// The leader's side of feature flags: validates each FeatureFlag as the servers do and writes what they serve
/// into its status (Ready with the reason, observedGeneration, servedGeneration and the served spec, the summary
/// columns), a Warning Event for each invalid generation, and, at most once per ``usageInterval``, the usage
/// summed over every replica.
///
/// Guarantees: an invalid generation never replaces `status.served`: the servers keep serving the last valid one,
/// and Ready=False says which generation that is.
public struct FlagController: ManagedController {
    public static let fieldManager = "salespot-flags"
    public let controller: Controller<FeatureFlag>
    let ledger: UsageLedger?
    let totals: UsageTotalsBox
    let usageInterval: Duration
    let logger: Logger

    public var name: String { controller.name }
    public var hasSynced: Bool { controller.hasSynced }

    /// - Parameters:
    ///   - ledger: where the replicas' usage is read; nil leaves `status.usage` alone.
    ///   - usageInterval: how often usage is collected and written. Default one minute.
    public init(client: KubeClient, namespaces: [String]? = nil, shardSelector: String? = nil, workers: Int = 2,
                metrics: ControllerMetrics? = nil, events: EventRecorder? = nil, ledger: UsageLedger? = nil,
                usageInterval: Duration = .seconds(60), logger: Logger = Logger(label: "salespot.flags")) {
        let totals = UsageTotalsBox()
        self.totals = totals
        self.ledger = ledger
        self.usageInterval = usageInterval
        self.logger = logger
        let written = WrittenVersions()
        let controllerQueue = QueueBox()
        let controller = Controller(name: "featureflag", api: Api<FeatureFlag>(client), namespaces: namespaces,
                                    labelSelector: shardSelector, workers: workers, metrics: metrics, logger: logger) { request in
            guard let flag = request.object else {
                written.forget(request.ref)
                // A deleted object may have held a key another object waits for.
                for other in request.store.list(namespace: request.ref.namespace)
                where other.status?.conditions?.first(where: { $0.type == "Ready" })?.reason == "DuplicateKey" {
                    await controllerQueue.value?.add(ObjectRef(other.metadata))
                }
                return .awaitChange
            }
            return try await Self.reconcile(flag, store: request.store, client: client, events: events, totals: totals, written: written,
                                            queue: controllerQueue)
        }
        controllerQueue.set(controller.queue)
        self.controller = controller
            .onNewTerm { written.reset() }
            .filter { new, _ in !written.echoed(ObjectRef(new.metadata), new.metadata.resourceVersion) }
    }

    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await controller.run() }
            if let ledger {
                group.addTask { await collectUsage(ledger) }
            }
            await group.next()
            group.cancelAll()
        }
    }

    public func drain() async { await controller.drain() }

    /// Every interval: reads the replicas' usage and reconciles the flags whose usage changed.
    func collectUsage(_ ledger: UsageLedger) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: usageInterval) } catch { return }
            do {
                let t = try await ledger.collect()
                totals.set(t)
                for flag in controller.store.list() {
                    let usage = t.usage(namespace: flag.metadata.namespace ?? "default", key: Self.servedKey(flag), current: flag.status?.usage)
                    if let usage, usage != flag.status?.usage { await controller.queue.add(ObjectRef(flag.metadata)) }
                }
            } catch {
                logger.warning("flag usage not collected", metadata: ["error": .string("\(error)")])
            }
        }
    }

    /// The status a flag should have, and the Event its current generation deserves (if invalid).
    static func desiredStatus(_ flag: FeatureFlag, duplicateOf: String?, usage: FeatureFlag.Usage?, now: Time = .now())
        -> (FeatureFlag.Status, invalid: FlagValidationError?) {
        var status = flag.status ?? FeatureFlag.Status()
        let generation = flag.metadata.generation ?? 0
        var invalid: FlagValidationError?
        var compiled: CompiledFlag?
        do {
            compiled = try CompiledFlag.compile(flag.spec, name: flag.metadata.name ?? "")
        } catch {
            invalid = error
        }
        if let duplicateOf, invalid == nil {
            invalid = FlagValidationError("DuplicateKey", "key '\(flag.key)' is already served by FeatureFlag \(duplicateOf) (the older object keeps it)")
            compiled = nil
        }
        status.observedGeneration = generation
        var conditions = status.conditions ?? []
        if let compiled {
            status.servedGeneration = generation
            // The copy lets replicas started while the flag is invalid serve it; a very large spec (long user lists)
            // is not copied, so the object stays well inside etcd's limit.
            status.served = compiled.definition.serialized().count <= maxServedBytes ? compiled.definition : nil
            status.type = compiled.type.rawValue
            status.enabled = compiled.enabled
            status.default = compiled.defaultValue.map(summary) ?? "(caller's default)"
            status.rules = compiled.ruleCount
            Conditions.set(&conditions, type: "Ready", status: true, reason: "Served",
                           message: "generation \(generation) is valid and served", observedGeneration: generation, now: now)
        } else if let invalid {
            let still = status.servedGeneration.map { "; generation \($0) is still served" } ?? "; nothing is served for this key"
            Conditions.set(&conditions, type: "Ready", status: false, reason: invalid.reason,
                           message: "generation \(generation) is invalid: \(invalid.message)\(still)", observedGeneration: generation, now: now)
        }
        status.conditions = conditions
        if let usage { status.usage = usage }
        return (status, invalid)
    }

    /// The largest spec copied into `status.served` (256 KiB): the object, spec and copy, stays far below etcd's 1.5 MiB.
    static let maxServedBytes = 256 * 1024

    /// A value as `kubectl get` shows it: compact JSON, at most 64 characters.
    static func summary(_ value: JSONValue) -> String {
        let text = value.serializedString(sortedKeys: true)
        return text.count <= 64 ? text : String(text.prefix(63)) + "…"
    }

    /// The key a flag is served under: its spec's when valid, else the last valid generation's (as the catalog does).
    static func servedKey(_ flag: FeatureFlag) -> String {
        if (try? CompiledFlag.compile(flag.spec, name: flag.metadata.name ?? "")) != nil { return flag.key }
        if let served = flag.status?.served, let spec = try? JSONValueDecoder().decode(FeatureFlag.Spec.self, from: served) {
            return spec.key ?? flag.metadata.name ?? ""
        }
        return flag.key
    }

    static func reconcile(_ flag: FeatureFlag, store: Store<FeatureFlag>, client: KubeClient, events: EventRecorder?,
                          totals: UsageTotalsBox, written: WrittenVersions, queue: QueueBox) async throws -> Action {
        let ns = flag.metadata.namespace ?? "default"
        // Two objects with one key: the older (then the first by name) keeps it, as the servers decide; an object with
        // nothing valid to serve holds no key. Keys as served: an invalid edit that changed the key still serves the
        // last valid generation under the old one.
        let key = servedKey(flag)
        let me = (flag.metadata.creationTimestamp?.description ?? "", flag.metadata.name ?? "")
        let sharing = store.list(namespace: ns).filter { $0.metadata.name != flag.metadata.name && servedKey($0) == key }
        let older = sharing.filter { other in
            (other.metadata.creationTimestamp?.description ?? "", other.metadata.name ?? "") < me
                && (other.status?.servedGeneration != nil || (try? CompiledFlag.compile(other.spec, name: other.metadata.name ?? "")) != nil)
        }.first
        let usage = totals.value?.usage(namespace: ns, key: key, current: flag.status?.usage)
        let (status, invalid) = desiredStatus(flag, duplicateOf: older?.metadata.name, usage: usage)
        let newlyInvalid = invalid != nil && flag.status?.observedGeneration != flag.metadata.generation
        guard status != flag.status else { return invalid?.reason == "DuplicateKey" ? .requeue(after: .seconds(60)) : .awaitChange }
        var updated = flag
        updated.status = status
        let stored = try await Api<FeatureFlag>(client, namespace: ns).updateStatus(updated, fieldManager: fieldManager)
        written.record(ObjectRef(stored.metadata), stored.metadata.resourceVersion)
        // Whether this object holds its key may have changed: the others claiming it decide again.
        if flag.status?.conditions?.first(where: { $0.type == "Ready" })?.reason != status.conditions?.first(where: { $0.type == "Ready" })?.reason {
            for other in sharing { await queue.value?.add(ObjectRef(other.metadata)) }
        }
        let reference = ObjectReference(apiVersion: FeatureFlag.resource.apiVersion, kind: FeatureFlag.resource.kind,
                                        name: flag.metadata.name, namespace: ns, uid: flag.metadata.uid)
        if let invalid, newlyInvalid {
            events?.emit(regarding: reference, type: "Warning", reason: invalid.reason, action: "Validate",
                         note: String("generation \(flag.metadata.generation ?? 0) not served: \(invalid.message)".prefix(1000)))
        } else if invalid == nil, flag.status?.servedGeneration != status.servedGeneration {
            events?.emit(regarding: reference, reason: "Served", action: "Serve",
                         note: "generation \(status.servedGeneration ?? 0) is served")
        }
        // A duplicate is looked at again now and then: the holder may change its key.
        return invalid?.reason == "DuplicateKey" ? .requeue(after: .seconds(60)) : .awaitChange
    }
}

/// The controller's queue, for the reconcile that needs to enqueue other objects.
final class QueueBox: Sendable {
    private let queue = Mutex<WorkQueue<ObjectRef>?>(nil)
    func set(_ q: WorkQueue<ObjectRef>) { queue.withLock { $0 = q } }
    var value: WorkQueue<ObjectRef>? { queue.withLock { $0 } }
}

/// The last usage the leader collected, shared with the reconciles.
final class UsageTotalsBox: Sendable {
    private let totals = Mutex<UsageLedger.Totals?>(nil)
    func set(_ t: UsageLedger.Totals) { totals.withLock { $0 = t } }
    var value: UsageLedger.Totals? { totals.withLock { $0 } }
}
