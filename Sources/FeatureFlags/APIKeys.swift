#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeCore
import Synchronization

/// Optional API keys for the evaluation endpoints, read from a Secret: each data entry is named after the namespace
/// its keys may read (``allNamespaces``, `_all`, for every namespace: no namespace has an underscore) and holds one
/// key per line. A request then carries a key
/// (`X-API-Key: KEY`, or `Authorization: Bearer KEY` on the evaluation endpoints) and reads that namespace only.
///
/// Guarantees: fails closed. Until the Secret has been read, or while it is missing, every request is refused; the
/// keys never reach a log, an Event or a metric.
public final class APIKeys: Sendable {
    private struct State {
        var keys: [String: String] = [:]
        var loaded = false
    }
    private let state = Mutex(State())
    public init() {}

    /// The Secret entry whose keys read every namespace.
    public static let allNamespaces = "_all"

    /// What a presented key is worth.
    public enum Decision: Equatable, Sendable {
        /// The key may read this namespace (nil: any).
        case allowed(namespace: String?)
        case refused(String)
    }

    /// Replaces the keys with those of `secret` (nil: the Secret is gone, so nothing is allowed).
    public func load(_ secret: Secret?) {
        var keys: [String: String] = [:]
        // `_all` first, so a key also listed under one namespace is bound to it; otherwise in name order: the same
        // answer in every replica.
        let entries = (secret?.data ?? [:]).sorted { a, b in (a.key == Self.allNamespaces ? 0 : 1, a.key) < (b.key == Self.allNamespaces ? 0 : 1, b.key) }
        for (namespace, encoded) in entries {
            guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8) else { continue }
            for line in text.split(whereSeparator: \.isNewline) {
                let key = String(line.filter { !$0.isWhitespace })
                if !key.isEmpty { keys[key] = namespace }
            }
        }
        state.withLock { s in
            s.keys = keys
            s.loaded = secret != nil
        }
    }

    public func check(_ presented: String?) -> Decision {
        state.withLock { s in
            guard s.loaded else { return .refused("the API keys are not loaded yet (their Secret is missing or unread)") }
            guard let presented, !presented.isEmpty else { return .refused("an API key is required (header X-API-Key)") }
            guard let namespace = s.keys[presented] else { return .refused("the API key is not valid") }
            return .allowed(namespace: namespace == Self.allNamespaces ? nil : namespace)
        }
    }
}
