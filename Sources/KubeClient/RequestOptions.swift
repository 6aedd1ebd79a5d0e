import KubeCore

/// Query options for list.
public struct ListOptions: Sendable, Equatable {
    /// e.g. `app=web,tier in (api,web),!canary`.
    public var labelSelector: String?
    /// e.g. `metadata.name=foo`.
    public var fieldSelector: String?
    /// Page size; `nil` asks for everything at once.
    public var limit: Int?
    /// The continue token from the previous page.
    public var continueToken: String?
    /// `nil` or `""` reads the latest; `"0"` accepts any cached version.
    public var resourceVersion: String?
    /// `NotOlderThan` or `Exact`, with `resourceVersion`.
    public var resourceVersionMatch: String?
    public var timeoutSeconds: Int?

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil,
                continueToken: String? = nil, resourceVersion: String? = nil, resourceVersionMatch: String? = nil,
                timeoutSeconds: Int? = nil) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
        self.resourceVersion = resourceVersion
        self.resourceVersionMatch = resourceVersionMatch
        self.timeoutSeconds = timeoutSeconds
    }

    var query: [(String, String)] {
        var q: [(String, String)] = []
        if let labelSelector, !labelSelector.isEmpty { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { q.append(("fieldSelector", fieldSelector)) }
        if let limit { q.append(("limit", String(limit))) }
        if let continueToken, !continueToken.isEmpty { q.append(("continue", continueToken)) }
        if let resourceVersion { q.append(("resourceVersion", resourceVersion)) }
        if let resourceVersionMatch { q.append(("resourceVersionMatch", resourceVersionMatch)) }
        if let timeoutSeconds { q.append(("timeoutSeconds", String(timeoutSeconds))) }
        return q
    }
}

/// Query options for watch.
public struct WatchOptions: Sendable, Equatable {
    public var labelSelector: String?
    public var fieldSelector: String?
    /// Watch changes after this version (from a list or the last event seen).
    public var resourceVersion: String?
    /// Ask for BOOKMARK events, which move the resource version forward without a change. Default `true`.
    public var allowWatchBookmarks: Bool
    /// The server ends the watch after this long; the caller watches again. Default 290 s (client-go picks 5–10 min).
    public var timeoutSeconds: Int?
    /// Abort when the connection is silent this long (dead-connection detection). Default: the server timeout + 30 s.
    public var idleTimeout: Duration?

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, resourceVersion: String? = nil,
                allowWatchBookmarks: Bool = true, timeoutSeconds: Int? = 290, idleTimeout: Duration? = nil) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.resourceVersion = resourceVersion
        self.allowWatchBookmarks = allowWatchBookmarks
        self.timeoutSeconds = timeoutSeconds
        self.idleTimeout = idleTimeout
    }

    var query: [(String, String)] {
        var q: [(String, String)] = [("watch", "1")]
        if let labelSelector, !labelSelector.isEmpty { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { q.append(("fieldSelector", fieldSelector)) }
        if let resourceVersion, !resourceVersion.isEmpty { q.append(("resourceVersion", resourceVersion)) }
        if allowWatchBookmarks { q.append(("allowWatchBookmarks", "true")) }
        if let timeoutSeconds { q.append(("timeoutSeconds", String(timeoutSeconds))) }
        return q
    }
}

/// Options for delete.
public struct DeleteOptions: Sendable, Equatable, Codable {
    /// `Orphan`, `Background` or `Foreground`.
    public enum PropagationPolicy: String, Sendable, Codable { case orphan = "Orphan", background = "Background", foreground = "Foreground" }
    /// Delete only if the object still has this uid / resourceVersion.
    public struct Preconditions: Sendable, Equatable, Codable {
        public var uid: String?
        public var resourceVersion: String?
        public init(uid: String? = nil, resourceVersion: String? = nil) {
            self.uid = uid
            self.resourceVersion = resourceVersion
        }
    }
    public var apiVersion: String? = "v1"
    public var kind: String? = "DeleteOptions"
    public var propagationPolicy: PropagationPolicy?
    public var gracePeriodSeconds: Int64?
    public var preconditions: Preconditions?
    public var dryRun: [String]?

    public init(propagationPolicy: PropagationPolicy? = nil, gracePeriodSeconds: Int64? = nil,
                preconditions: Preconditions? = nil, dryRun: Bool = false) {
        self.propagationPolicy = propagationPolicy
        self.gracePeriodSeconds = gracePeriodSeconds
        self.preconditions = preconditions
        self.dryRun = dryRun ? ["All"] : nil
    }
}

/// One RFC 6902 JSON patch operation.
public struct JSONPatchOperation: Sendable, Equatable, Codable {
    public enum Op: String, Sendable, Codable { case add, remove, replace, move, copy, test }
    public var op: Op
    /// JSON pointer, e.g. `/metadata/finalizers/0`.
    public var path: String
    public var value: JSONValue?
    public var from: String?
    public init(op: Op, path: String, value: JSONValue? = nil, from: String? = nil) {
        self.op = op
        self.path = path
        self.value = value
        self.from = from
    }
    public static func add(_ path: String, _ value: JSONValue) -> Self { .init(op: .add, path: path, value: value) }
    public static func remove(_ path: String) -> Self { .init(op: .remove, path: path) }
    public static func replace(_ path: String, _ value: JSONValue) -> Self { .init(op: .replace, path: path, value: value) }
    public static func test(_ path: String, _ value: JSONValue) -> Self { .init(op: .test, path: path, value: value) }

    /// Escapes a key for a JSON pointer (`~` → `~0`, `/` → `~1`).
    public static func escape(_ key: String) -> String {
        key.replacing("~", with: "~0").replacing("/", with: "~1")
    }
}

/// A patch and its media type.
public enum Patch: Sendable, Equatable {
    /// RFC 7386 JSON merge patch (`application/merge-patch+json`).
    case merge(JSONValue)
    /// RFC 6902 JSON patch (`application/json-patch+json`).
    case json([JSONPatchOperation])
    /// Kubernetes strategic merge patch (built-in kinds only).
    case strategicMerge(JSONValue)

    var contentType: String {
        switch self {
        case .merge: return "application/merge-patch+json"
        case .json: return "application/json-patch+json"
        case .strategicMerge: return "application/strategic-merge-patch+json"
        }
    }

    func body() throws -> [UInt8] {
        switch self {
        case .merge(let v), .strategicMerge(let v): return v.serialized()
        case .json(let ops): return try JSONValueEncoder().encode(ops).serialized()
        }
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
