import KubeCore

/// kube-apiserver keeps one Event store and serves it in two APIs: core/v1 (what `kubectl get events` and
/// `kubectl describe` read) and events.k8s.io/v1 (what controllers write). Objects are stored in the core/v1 form and
/// converted field by field, as the API server's conversion does.
enum EventConversion {
    /// events.k8s.io/v1 name → core/v1 name; the other fields (action, reason, type, related, eventTime, series,
    /// reportingInstance, metadata) are the same in both.
    static let renamed: [(events: String, core: String)] = [
        ("regarding", "involvedObject"), ("note", "message"), ("reportingController", "reportingComponent"),
        ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"),
    ]

    /// Whether `type` is the events.k8s.io view of the core store.
    static func isEventsView(_ type: ResourceType) -> Bool { type.storageKey == "/events" && type.key != "/events" }

    /// The stored (core/v1) form of an events.k8s.io/v1 object.
    static func toCore(_ o: JSONValue) -> JSONValue { rename(o, renamed.map { ($0.events, $0.core) }) }

    /// The events.k8s.io/v1 view of a stored core/v1 object.
    static func toEvents(_ o: JSONValue) -> JSONValue { rename(o, renamed.map { ($0.core, $0.events) }) }

    /// Moves each top-level field `from` to `to`.
    static func rename(_ o: JSONValue, _ pairs: [(from: String, to: String)]) -> JSONValue {
        guard case .object(var entries) = o else { return o }
        for (from, to) in pairs {
            if let v = entries[from] {
                entries[from] = nil
                entries[to] = v
            }
        }
        return .object(entries)
    }

    /// A field selector's field for the stored form: events.k8s.io names map to the core ones.
    static func coreField(_ field: String) -> String {
        for (events, core) in renamed where field == events || field.hasPrefix(events + ".") {
            return core + field.dropFirst(events.count)
        }
        return field
    }
}
