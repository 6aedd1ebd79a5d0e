import KubeCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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
    /// How cached objects are held.
    public enum Representation: Sendable {
        /// As decoded values: reads are free, memory is what the typed model costs (about 10 KiB for a
        /// Deployment with two containers).
        case decoded
        /// As compact JSON bytes, decoded on every read: about a third of the memory, a few tens of microseconds
        /// per read. For controllers that cache many large objects and read few per reconcile.
        case compact
    }

    private enum Entry {
        case decoded(T)
        case bytes([UInt8])
    }

    private struct State {
        var objects: [ObjectRef: Entry] = [:]
        var byNamespace: [String: Set<ObjectRef>] = [:]
        var byOwner: [String: Set<ObjectRef>] = [:]
        var byLabel: [String: Set<ObjectRef>] = [:]
        /// Indexes a controller adds (``addIndex(_:_:)``): index name → value → refs.
        var custom: [String: [String: Set<ObjectRef>]] = [:]
        var indexFunctions: [String: @Sendable (T) -> [String]] = [:]
        /// Objects seen so far in the list under way, per watch scope (a namespace, or nil for all).
        var relisting: [String?: Set<ObjectRef>] = [:]
        var syncedScopes: Set<String?> = []
        var expectedScopes = 1
    }
    private let state = Mutex(State())
    private let transform: @Sendable (T) -> T
    private let representation: Representation

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

    /// - Parameters:
    ///   - transform: applied to every object before it is cached. Default ``stripManagedFields``.
    ///   - representation: how objects are held. Default ``Representation/decoded``.
    public init(transform: @escaping @Sendable (T) -> T = Store.stripManagedFields, representation: Representation = .decoded) {
        self.transform = transform
        self.representation = representation
    }

    private func entry(_ o: T) -> Entry {
        guard representation == .compact, let json = try? JSONValueEncoder().encode(o) else { return .decoded(o) }
        let built = json.serialized(sortedKeys: false)
        // Exact capacity: the serializer's buffer grows by doubling, which would waste up to half.
        let exact = [UInt8](unsafeUninitializedCapacity: built.count) { buffer, count in
            _ = buffer.initialize(from: built)
            count = built.count
        }
        return .bytes(exact)
    }

    private static func value(_ e: Entry) -> T? {
        switch e {
        case .decoded(let o): return o
        case .bytes(let b):
            guard let json = try? JSONParser.parse(b) else { return nil }
            return try? JSONValueDecoder().decode(T.self, from: json)
        }
    }

    /// Whether the first list has completed (of every watch feeding the store; see ``expectScopes(_:)``).
    public var hasSynced: Bool { state.withLock { $0.syncedScopes.count >= $0.expectedScopes } }

    /// How many watches (one per namespace, or one for all) feed this store; it has synced once each has listed.
    public func expectScopes(_ n: Int) {
        state.withLock { $0.expectedScopes = max(1, n) }
    }
    public var count: Int { state.withLock { $0.objects.count } }

    /// Forgets that the first list completed, for a new term of leadership: ``hasSynced`` is false again until every
    /// watch has listed anew. The objects stay until that list replaces them (so objects deleted in the meantime are
    /// reported as gone by it, and their owners reconciled).
    public func beginTerm() {
        state.withLock { s in
            s.syncedScopes.removeAll()
            s.relisting.removeAll()
        }
    }

    public func get(_ ref: ObjectRef) -> T? { state.withLock { $0.objects[ref] }.flatMap(Self.value) }
    public func list() -> [T] { state.withLock { Array($0.objects.values) }.compactMap(Self.value) }
    /// The refs of every cached object (cheap in either representation).
    public func refs() -> [ObjectRef] { state.withLock { Array($0.objects.keys) } }
    public func list(namespace: String) -> [T] {
        state.withLock { s in (s.byNamespace[namespace] ?? []).compactMap { s.objects[$0] } }.compactMap(Self.value)
    }
    /// Objects with an owner reference to this uid.
    public func owned(by uid: String) -> [T] {
        state.withLock { s in (s.byOwner[uid] ?? []).compactMap { s.objects[$0] } }.compactMap(Self.value)
    }

    /// Objects carrying the label `key=value`.
    public func labelled(_ key: String, _ value: String) -> [T] {
        state.withLock { s in (s.byLabel["\(key)=\(value)"] ?? []).compactMap { s.objects[$0] } }.compactMap(Self.value)
    }

    /// Adds an index: `values` names the keys an object is found under (as client-go's Indexers), e.g. the
    /// Services a resource refers to, so a watch of Services finds the resources to reconcile without a scan.
    public func addIndex(_ name: String, _ values: @escaping @Sendable (T) -> [String]) {
        state.withLock { s in
            s.indexFunctions[name] = values
            s.custom[name] = [:]
            for (ref, entry) in s.objects {
                guard let o = Self.value(entry) else { continue }
                Self.index(&s, name, values(o), ref)
            }
        }
    }

    /// The refs of objects under `value` in the index `name` (no objects are copied or decoded).
    public func refs(index name: String, value: String) -> [ObjectRef] {
        state.withLock { Array($0.custom[name]?[value] ?? []) }
    }

    /// Applies a watcher event; returns the refs it touched (for enqueueing).
    /// - Parameter scope: the namespace the watch covers (nil: all), so that a re-list of one namespace removes
    ///   only that namespace's vanished objects when several watches feed one store.
    @discardableResult
    public func apply(_ event: WatcherEvent<T>, scope: String? = nil) -> [(ref: ObjectRef, object: T?, old: T?)] {
        // Transform and encode before taking the lock, so readers wait only for the dictionary update.
        var prepared: (T, Entry)?
        switch event {
        case .initApply(let raw), .apply(let raw):
            let o = transform(raw)
            prepared = (o, entry(o))
        default: break
        }
        return state.withLock { s in
            switch event {
            case .initStart:
                s.relisting[scope] = []
                return []
            case .initApply:
                let (o, e) = prepared!
                let ref = ObjectRef(o.metadata)
                s.relisting[scope]?.insert(ref)
                let old = Self.put(&s, ref, o, e)
                return [(ref, o, old)]
            case .initDone:
                var gone: [(ObjectRef, T?, T?)] = []
                if let seen = s.relisting.removeValue(forKey: scope) {
                    let candidates = scope.map { Array(s.byNamespace[$0] ?? []) } ?? Array(s.objects.keys)
                    for ref in candidates where !seen.contains(ref) {
                        let old = Self.remove(&s, ref)
                        gone.append((ref, nil, old))
                    }
                }
                s.syncedScopes.insert(scope)
                return gone
            case .apply:
                let (o, e) = prepared!
                let ref = ObjectRef(o.metadata)
                let old = Self.put(&s, ref, o, e)
                return [(ref, o, old)]
            case .delete(let o):
                let ref = ObjectRef(o.metadata)
                let old = Self.remove(&s, ref)
                return [(ref, nil, old ?? o)]
            }
        }
    }

    private static func put(_ s: inout State, _ ref: ObjectRef, _ o: T, _ e: Entry) -> T? {
        let old = s.objects.updateValue(e, forKey: ref).flatMap(value)
        if let old { unindex(&s, ref, old) }
        s.byNamespace[ref.namespace, default: []].insert(ref)
        for owner in o.metadata.ownerReferences ?? [] { s.byOwner[owner.uid, default: []].insert(ref) }
        for (k, v) in o.metadata.labels ?? [:] { s.byLabel["\(k)=\(v)", default: []].insert(ref) }
        for (name, values) in s.indexFunctions { index(&s, name, values(o), ref) }
        return old
    }

    private static func index(_ s: inout State, _ name: String, _ values: [String], _ ref: ObjectRef) {
        for v in values { s.custom[name, default: [:]][v, default: []].insert(ref) }
    }

    private static func remove(_ s: inout State, _ ref: ObjectRef) -> T? {
        guard let old = s.objects.removeValue(forKey: ref).flatMap(value) else { return nil }
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
        for (name, values) in s.indexFunctions {
            for v in values(o) {
                s.custom[name]?[v]?.remove(ref)
                if s.custom[name]?[v]?.isEmpty == true { s.custom[name]?[v] = nil }
            }
        }
    }
}

#if canImport(Glibc)
/// glibc's malloc_trim (not exported by Swift's Glibc module).
@_silgen_name("malloc_trim") private func mallocTrim(_ pad: Int) -> Int32
#endif

/// Hands the heap freed by a large initial list (the decoded pages, the JSON trees) back to the system, so the
/// steady RSS is what the cache holds rather than the list's high-water mark.
public func returnFreedMemory() {
    #if canImport(Glibc)
    _ = mallocTrim(0)
    #endif
}
