import KubeCore
import Synchronization

/// Names one object: namespace (empty for cluster-scoped) and name.
public struct ObjectRef: Hashable, Sendable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    public init(namespace: String?, name: String) {
        self.namespace = namespace ?? ""
        self.name = name
    }
    public init(_ meta: ObjectMeta) { self.init(namespace: meta.namespace, name: meta.name ?? "") }
    public var description: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }
}

/// The cache of watched objects, with indexes by namespace, owner uid and label.
///
/// Guarantees: readers take a short lock and copy out values (objects are value types), so they never hold up the
/// watcher; memory is the objects plus three small indexes.
public final class Store<T: KubernetesObject>: Sendable {
    private struct State {
        var objects: [ObjectRef: T] = [:]
        var byNamespace: [String: Set<ObjectRef>] = [:]
        var byOwner: [String: Set<ObjectRef>] = [:]
        var byLabel: [String: Set<ObjectRef>] = [:]
        var relisting: Set<ObjectRef>?
        var synced = false
    }
    private let state = Mutex(State())
    private let transform: @Sendable (T) -> T

    /// Drops what a controller rarely reads but costs the most memory: `metadata.managedFields` and the raw JSON
    /// kept for read-modify-write (as controller-runtime's `TransformStripManagedFields`). Update a cached object
    /// with a patch or server-side apply, or read it fresh before a full update.
    public static var stripManagedFields: @Sendable (T) -> T {
        { o in
            var copy = o
            copy.metadata.managedFields = nil
            copy.rawJSON = nil
            return copy
        }
    }

    /// - Parameter transform: applied to every object before it is cached. Default ``stripManagedFields``.
    public init(transform: @escaping @Sendable (T) -> T = Store.stripManagedFields) {
        self.transform = transform
    }

    /// Whether the first list has completed.
    public var hasSynced: Bool { state.withLock { $0.synced } }
    public var count: Int { state.withLock { $0.objects.count } }

    public func get(_ ref: ObjectRef) -> T? { state.withLock { $0.objects[ref] } }
    public func list() -> [T] { state.withLock { Array($0.objects.values) } }
    public func list(namespace: String) -> [T] {
        state.withLock { s in (s.byNamespace[namespace] ?? []).compactMap { s.objects[$0] } }
    }
    /// Objects with an owner reference to this uid.
    public func owned(by uid: String) -> [T] {
        state.withLock { s in (s.byOwner[uid] ?? []).compactMap { s.objects[$0] } }
    }

    /// Objects carrying the label `key=value`.
    public func labelled(_ key: String, _ value: String) -> [T] {
        state.withLock { s in (s.byLabel["\(key)=\(value)"] ?? []).compactMap { s.objects[$0] } }
    }

    /// Applies a watcher event; returns the refs it touched (for enqueueing).
    @discardableResult
    public func apply(_ event: WatcherEvent<T>) -> [(ref: ObjectRef, object: T?, old: T?)] {
        state.withLock { s in
            switch event {
            case .initStart:
                s.relisting = []
                return []
            case .initApply(let raw):
                let o = transform(raw)
                let ref = ObjectRef(o.metadata)
                s.relisting?.insert(ref)
                let old = Self.put(&s, ref, o)
                return [(ref, o, old)]
            case .initDone:
                var gone: [(ObjectRef, T?, T?)] = []
                if let seen = s.relisting {
                    for ref in Array(s.objects.keys) where !seen.contains(ref) {
                        let old = Self.remove(&s, ref)
                        gone.append((ref, nil, old))
                    }
                }
                s.relisting = nil
                s.synced = true
                return gone
            case .apply(let raw):
                let o = transform(raw)
                let ref = ObjectRef(o.metadata)
                let old = Self.put(&s, ref, o)
                return [(ref, o, old)]
            case .delete(let o):
                let ref = ObjectRef(o.metadata)
                let old = Self.remove(&s, ref)
                return [(ref, nil, old ?? o)]
            }
        }
    }

    private static func put(_ s: inout State, _ ref: ObjectRef, _ o: T) -> T? {
        let old = s.objects.updateValue(o, forKey: ref)
        if let old { unindex(&s, ref, old) }
        s.byNamespace[ref.namespace, default: []].insert(ref)
        for owner in o.metadata.ownerReferences ?? [] { s.byOwner[owner.uid, default: []].insert(ref) }
        for (k, v) in o.metadata.labels ?? [:] { s.byLabel["\(k)=\(v)", default: []].insert(ref) }
        return old
    }

    private static func remove(_ s: inout State, _ ref: ObjectRef) -> T? {
        guard let old = s.objects.removeValue(forKey: ref) else { return nil }
        unindex(&s, ref, old)
        return old
    }

    private static func unindex(_ s: inout State, _ ref: ObjectRef, _ o: T) {
        s.byNamespace[ref.namespace]?.remove(ref)
        if s.byNamespace[ref.namespace]?.isEmpty == true { s.byNamespace[ref.namespace] = nil }
        for owner in o.metadata.ownerReferences ?? [] {
            s.byOwner[owner.uid]?.remove(ref)
            if s.byOwner[owner.uid]?.isEmpty == true { s.byOwner[owner.uid] = nil }
        }
        for (k, v) in o.metadata.labels ?? [:] {
            let key = "\(k)=\(v)"
            s.byLabel[key]?.remove(ref)
            if s.byLabel[key]?.isEmpty == true { s.byLabel[key] = nil }
        }
    }
}
