import Synchronization

/// The resourceVersion of a controller's last write to each object, until its cache shows that write. With it a
/// reconcile can trust the cache except in the moment after its own write (read the object afresh then), and the
/// watch echo of its own write need not be reconciled again (see ``Controller/filter(_:)``).
/// Versions are compared only for equality, as the API conventions ask (they are opaque).
public final class WrittenVersions: Sendable {
    private let versions = Mutex([ObjectRef: String]())

    public init() {}

    /// Records the version a write returned.
    public func record(_ ref: ObjectRef, _ version: String?) {
        versions.withLock { $0[ref] = version }
    }

    /// Forgets everything (a new term: echoes of the last term's writes may never come).
    public func reset() {
        versions.withLock { $0.removeAll() }
    }

    /// Forgets an object (deleted).
    public func forget(_ ref: ObjectRef) {
        _ = versions.withLock { $0.removeValue(forKey: ref) }
    }

    /// Whether a watch event (already applied to the cache) is the echo of our last write; if so the cache now
    /// includes it, and the record is dropped.
    public func echoed(_ ref: ObjectRef, _ version: String?) -> Bool {
        versions.withLock { v in
            guard let version, v[ref] == version else { return false }
            v[ref] = nil
            return true
        }
    }

    /// Whether the cached copy includes our last write: nothing written since it was cached, or it is that write.
    public func cacheIsCurrent(_ ref: ObjectRef, _ cachedVersion: String?) -> Bool {
        versions.withLock { v in
            guard let last = v[ref] else { return true }
            guard last == cachedVersion else { return false }
            v[ref] = nil
            return true
        }
    }
}
