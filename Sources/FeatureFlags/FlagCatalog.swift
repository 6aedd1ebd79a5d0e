import KubeCore
import KubeRuntime
import Synchronization

/// The flags an evaluation server serves, kept from a watch of FeatureFlags in every replica (leader or not).
///
/// Each object's current generation is served when it is valid; when it is not, the last valid generation this
/// replica saw keeps being served, or the one the leader recorded in `status.served` (so a replica started while a
/// flag is invalid serves what the others serve). Two objects of one namespace with the same key: the older one is
/// served (the controller marks the other Ready=False, DuplicateKey).
///
/// Guarantees: a lookup takes one short lock and copies out an immutable ``CompiledFlag``; it never waits for the
/// watch or the API server.
public final class FlagCatalog: Sendable {
    /// One FeatureFlag object as served.
    public struct Entry: Sendable {
        // Copied out of the lock on every evaluation: the few fields it has are references (the compiled flag is a class).
        public var ref: ObjectRef
        public var key: String
        /// The object's current generation.
        public var generation: Int64
        /// The flag served (nil: no valid generation known).
        public var flag: CompiledFlag?
        /// The generation of `flag`.
        public var servedGeneration: Int64?
        /// Why the current generation is not served.
        public var invalid: FlagValidationError?
        /// Orders objects that claim the same key: the older is served.
        var createdAt: String
        var uid: String
        /// Evaluation counts of this object (kept across its generations).
        public let usage: UsageCell
    }

    private struct State {
        var objects: [ObjectRef: Entry] = [:]
        /// namespace → key → the refs claiming it.
        var keys: [String: [String: [ObjectRef]]] = [:]
        var cells: [ObjectRef: UsageCell] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    /// The served entry for a key in a namespace.
    public func lookup(namespace: String, key: String) -> Entry? {
        state.withLock { s in
            guard let refs = s.keys[namespace]?[key], let first = refs.first else { return nil }
            return s.objects[first]
        }
    }

    /// Every served entry of a namespace (one per key), sorted by key.
    public func entries(namespace: String) -> [Entry] {
        state.withLock { s in
            (s.keys[namespace] ?? [:]).sorted { $0.key < $1.key }.compactMap { $0.value.first.flatMap { s.objects[$0] } }
        }
    }

    /// Every entry of every namespace, including objects whose key another object holds.
    public func allEntries() -> [Entry] { state.withLock { Array($0.objects.values) } }

    /// Adds or replaces an object (a watch event or a list's item).
    public func apply(_ flag: FeatureFlag) {
        state.withLock { Self.put(&$0, flag) }
    }

    /// Removes an object (deleted, or gone from a re-list).
    public func remove(_ ref: ObjectRef) {
        state.withLock { Self.remove(&$0, ref) }
    }

    private static func put(_ s: inout State, _ object: FeatureFlag) {
        let ref = ObjectRef(object.metadata)
        // A previous entry of another object of the same name (deleted and made again while the watch was away) is
        // not this object's past.
        let previous = s.objects[ref].flatMap { $0.uid == (object.metadata.uid ?? "") ? $0 : nil }
        let generation = object.metadata.generation ?? 0
        // Counts belong to the object: one made again under the same name starts from zero.
        let cell = (previous != nil ? s.cells[ref] : nil) ?? UsageCell()
        s.cells[ref] = cell
        var entry = Entry(ref: ref, key: object.key, generation: generation, flag: nil, servedGeneration: nil, invalid: nil,
                          createdAt: object.metadata.creationTimestamp?.description ?? "", uid: object.metadata.uid ?? "", usage: cell)
        if let previous, previous.generation == generation {
            // A status change or a resync: the spec is the same.
            entry.key = previous.key
            entry.flag = previous.flag
            entry.servedGeneration = previous.servedGeneration
            entry.invalid = previous.invalid
        } else {
            do {
                entry.flag = try CompiledFlag.compile(object.spec, name: ref.name)
                entry.servedGeneration = generation
            } catch {
                entry.invalid = error
                // The last valid generation keeps being served, under its own key: this replica's, or the leader's
                // record if that is newer.
                if let previous, let flag = previous.flag {
                    entry.flag = flag
                    entry.servedGeneration = previous.servedGeneration
                    entry.key = flag.key
                }
                if let status = object.status, let servedGeneration = status.servedGeneration,
                   servedGeneration > (entry.servedGeneration ?? -1), let served = status.served,
                   let spec = try? JSONValueDecoder().decode(FeatureFlag.Spec.self, from: served),
                   let flag = try? CompiledFlag.compile(spec, name: ref.name) {
                    entry.flag = flag
                    entry.servedGeneration = servedGeneration
                    entry.key = flag.key
                }
            }
        }
        if let old = s.objects[ref], old.key != entry.key { unclaim(&s, ref, key: old.key) }
        s.objects[ref] = entry
        var claims = s.keys[ref.namespace, default: [:]][entry.key, default: []]
        if !claims.contains(ref) { claims.append(ref) }
        // The older object holds a key; one that has nothing valid to serve never shadows one that has.
        claims.sort { a, b in
            let ea = s.objects[a]!, eb = s.objects[b]!
            return (ea.flag == nil ? 1 : 0, ea.createdAt, a.name) < (eb.flag == nil ? 1 : 0, eb.createdAt, b.name)
        }
        s.keys[ref.namespace, default: [:]][entry.key] = claims
    }

    private static func unclaim(_ s: inout State, _ ref: ObjectRef, key: String) {
        s.keys[ref.namespace]?[key]?.removeAll { $0 == ref }
        if s.keys[ref.namespace]?[key]?.isEmpty == true { s.keys[ref.namespace]?[key] = nil }
        if s.keys[ref.namespace]?.isEmpty == true { s.keys[ref.namespace] = nil }
    }

    private static func remove(_ s: inout State, _ ref: ObjectRef) {
        guard let entry = s.objects.removeValue(forKey: ref) else { return }
        unclaim(&s, ref, key: entry.key)
        s.cells[ref] = nil
    }
}
