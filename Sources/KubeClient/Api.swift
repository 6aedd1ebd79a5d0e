#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeCore

/// Typed operations on one resource, in one namespace or across the cluster.
///
/// `Api<Deployment>(client, namespace: "prod")`, or for any kind: `Api<DynamicObject>(client, resource: ..., namespace:)`.
/// A `nil` namespace on a namespaced resource lists and watches across all namespaces; get, create, update,
/// delete and patch then need the object's own namespace and use the client's default when it has none.
public struct Api<T: KubernetesObject>: Sendable {
    public let client: KubeClient
    public let resource: ResourceDescriptor
    public let namespace: String?

    public init(_ client: KubeClient, resource: ResourceDescriptor, namespace: String? = nil) {
        self.client = client
        self.resource = resource
        self.namespace = resource.namespaced ? namespace : nil
    }

    /// The result of a delete: gone at once, or still there (finalizers pending) with its new state.
    public enum DeleteResult: Sendable {
        /// The object is gone.
        case deleted
        /// Deletion started; finalizers keep the object until they are removed.
        case pending(T)
    }

    // MARK: paths

    func collectionPath(namespace ns: String?) -> String {
        var p = resource.groupVersionPath
        if resource.namespaced, let ns { p += "/namespaces/\(KubeClient.encodePathSegment(ns))" }
        return p + "/\(resource.resource)"
    }

    func objectPath(_ name: String, namespace ns: String?, subresource: String? = nil) throws -> String {
        guard !name.isEmpty else {
            throw KubeError.api(APIError(code: 400, status: Status(message: "a name is required", reason: "BadRequest", code: 400),
                                         method: "", path: collectionPath(namespace: ns)))
        }
        var p = collectionPath(namespace: resource.namespaced ? (ns ?? client.defaultNamespace) : nil)
        p += "/\(KubeClient.encodePathSegment(name))"
        if let subresource { p += "/\(subresource)" }
        return p
    }

    func namespaceOf(_ object: T) -> String? {
        resource.namespaced ? (object.metadata.namespace ?? namespace ?? client.defaultNamespace) : nil
    }

    func body(_ object: T) throws -> [UInt8] {
        var o = object
        o.apiVersion = resource.apiVersion
        o.kind = resource.kind
        if resource.namespaced, o.metadata.namespace == nil { o.metadata.namespace = namespaceOf(object) }
        return try o.mergingUnknownFields().serialized()
    }

    static func writeQuery(fieldManager: String?, dryRun: Bool, force: Bool? = nil) -> [(String, String)] {
        var q: [(String, String)] = []
        if let fieldManager { q.append(("fieldManager", fieldManager)) }
        if dryRun { q.append(("dryRun", "All")) }
        if let force { q.append(("force", force ? "true" : "false")) }
        return q
    }

    // MARK: read

    /// Reads one object.
    public func get(_ name: String, namespace ns: String? = nil) async throws -> T {
        let r = try await client.send(method: "GET", path: try objectPath(name, namespace: ns ?? namespace))
        return try client.decodeObject(T.self, r.body)
    }

    /// Reads one object, or `nil` if it does not exist.
    public func getIfExists(_ name: String, namespace ns: String? = nil) async throws -> T? {
        do { return try await get(name, namespace: ns) } catch let e as KubeError where e.isNotFound { return nil }
    }

    /// Lists one page.
    public func list(_ options: ListOptions = ListOptions()) async throws -> ObjectList<T> {
        let r = try await client.send(method: "GET", path: collectionPath(namespace: namespace), query: options.query)
        let json: JSONValue
        do { json = try JSONParser.parse(r.body) } catch { throw KubeError.decoding("list \(resource): \(error)") }
        let meta = (try? JSONValueDecoder().decode(ListMeta.self, from: json["metadata"] ?? .emptyObject)) ?? ListMeta()
        var items: [T] = []
        for item in json["items"]?.arrayValue ?? [] {
            do { items.append(try T.decodePreserving(item)) } catch {
                throw KubeError.decoding("list \(resource) item \(item[path: ["metadata", "name"]]?.stringValue ?? "?"): \(error)")
            }
        }
        var list = ObjectList<T>(metadata: meta, items: items)
        list.apiVersion = json["apiVersion"]?.stringValue
        list.kind = json["kind"]?.stringValue
        return list
    }

    /// Lists every page (following `continue` tokens) and returns all items with the resource version of the list.
    /// - Parameter pageSize: items per page; 500 as client-go's pager.
    public func listAll(_ options: ListOptions = ListOptions(), pageSize: Int = 500) async throws -> (items: [T], resourceVersion: String?) {
        var opts = options
        opts.limit = pageSize
        var items: [T] = []
        var version: String?
        while true {
            let page = try await list(opts)
            items.append(contentsOf: page.items)
            version = page.metadata.resourceVersion ?? version
            guard let next = page.metadata.continue, !next.isEmpty else { return (items, version) }
            opts.continueToken = next
            // Later pages come from the snapshot named by the token; a resourceVersion with continue is rejected.
            opts.resourceVersion = nil
            opts.resourceVersionMatch = nil
        }
    }

    // MARK: write

    /// Creates an object. Its namespace is the object's, else this Api's, else the client's default.
    public func create(_ object: T, fieldManager: String? = nil, dryRun: Bool = false) async throws -> T {
        let r = try await client.send(method: "POST", path: collectionPath(namespace: namespaceOf(object)),
                                      query: Self.writeQuery(fieldManager: fieldManager, dryRun: dryRun),
                                      body: try body(object), contentType: "application/json")
        return try client.decodeObject(T.self, r.body)
    }

    /// Replaces an object (PUT). Sends its `metadata.resourceVersion`, so a stale copy gets 409 Conflict.
    /// Fields the typed model does not know are sent back as they were read.
    public func update(_ object: T, fieldManager: String? = nil, dryRun: Bool = false) async throws -> T {
        let r = try await client.send(method: "PUT", path: try objectPath(object.metadata.name ?? "", namespace: namespaceOf(object)),
                                      query: Self.writeQuery(fieldManager: fieldManager, dryRun: dryRun),
                                      body: try body(object), contentType: "application/json")
        return try client.decodeObject(T.self, r.body)
    }

    /// Deletes an object.
    public func delete(_ name: String, namespace ns: String? = nil, options: DeleteOptions = DeleteOptions()) async throws -> DeleteResult {
        let r = try await client.send(method: "DELETE", path: try objectPath(name, namespace: ns ?? namespace),
                                      body: try JSONValueEncoder().encode(options).serialized(), contentType: "application/json")
        let json: JSONValue
        do { json = try JSONParser.parse(r.body) } catch { throw KubeError.decoding("delete: \(error)") }
        // The server answers with a Status or with the object; the object is still there only while finalizers are pending.
        if json["kind"]?.stringValue == "Status" { return .deleted }
        let finalizers = json[path: ["metadata", "finalizers"]]?.arrayValue ?? []
        guard json[path: ["metadata", "deletionTimestamp"]] != nil, !finalizers.isEmpty else { return .deleted }
        do { return .pending(try T.decodePreserving(json)) } catch { throw KubeError.decoding("delete: \(error)") }
    }

    /// Patches an object (merge, JSON or strategic merge patch).
    public func patch(_ name: String, namespace ns: String? = nil, _ patch: Patch, fieldManager: String? = nil,
                      dryRun: Bool = false) async throws -> T {
        let r = try await client.send(method: "PATCH", path: try objectPath(name, namespace: ns ?? namespace),
                                      query: Self.writeQuery(fieldManager: fieldManager, dryRun: dryRun),
                                      body: try patch.body(), contentType: patch.contentType)
        return try client.decodeObject(T.self, r.body)
    }

    /// Server-side apply: sends the fields this manager wants to own (`application/apply-patch+yaml`; JSON is YAML).
    /// - Parameters:
    ///   - fieldManager: required; the owner of the applied fields.
    ///   - force: take over fields owned by other managers instead of failing with 409.
    public func apply(_ object: JSONValue, fieldManager: String, force: Bool = false, dryRun: Bool = false,
                      subresource: String? = nil) async throws -> T {
        var o = object
        if o["apiVersion"] == nil { o["apiVersion"] = .string(resource.apiVersion) }
        if o["kind"] == nil { o["kind"] = .string(resource.kind) }
        guard let name = o[path: ["metadata", "name"]]?.stringValue else {
            throw KubeError.api(APIError(code: 400, status: Status(message: "metadata.name is required for apply",
                                                                   reason: "BadRequest", code: 400),
                                         method: "PATCH", path: collectionPath(namespace: namespace)))
        }
        let ns = o[path: ["metadata", "namespace"]]?.stringValue ?? namespace
        let r = try await client.send(method: "PATCH", path: try objectPath(name, namespace: ns, subresource: subresource),
                                      query: Self.writeQuery(fieldManager: fieldManager, dryRun: dryRun, force: force),
                                      body: o.serialized(), contentType: "application/apply-patch+yaml")
        return try client.decodeObject(T.self, r.body)
    }

    /// Server-side apply of a typed object (only its set fields are sent, so only those are owned).
    public func apply(_ object: T, fieldManager: String, force: Bool = false, dryRun: Bool = false) async throws -> T {
        var o = try JSONValueEncoder().encode(object)
        if resource.namespaced, o[path: ["metadata", "namespace"]] == nil, let ns = namespaceOf(object) {
            o[path: ["metadata", "namespace"]] = .string(ns)
        }
        return try await apply(o, fieldManager: fieldManager, force: force, dryRun: dryRun)
    }

    // MARK: status subresource

    /// Reads the status subresource.
    public func getStatus(_ name: String, namespace ns: String? = nil) async throws -> T {
        let r = try await client.send(method: "GET", path: try objectPath(name, namespace: ns ?? namespace, subresource: "status"))
        return try client.decodeObject(T.self, r.body)
    }

    /// Replaces the status (PUT /status): only status changes are kept by the server; resourceVersion is checked.
    public func updateStatus(_ object: T, fieldManager: String? = nil) async throws -> T {
        let r = try await client.send(method: "PUT",
                                      path: try objectPath(object.metadata.name ?? "", namespace: namespaceOf(object), subresource: "status"),
                                      query: Self.writeQuery(fieldManager: fieldManager, dryRun: false),
                                      body: try body(object), contentType: "application/json")
        return try client.decodeObject(T.self, r.body)
    }

    /// Patches the status subresource.
    public func patchStatus(_ name: String, namespace ns: String? = nil, _ patch: Patch, fieldManager: String? = nil) async throws -> T {
        let r = try await client.send(method: "PATCH", path: try objectPath(name, namespace: ns ?? namespace, subresource: "status"),
                                      query: Self.writeQuery(fieldManager: fieldManager, dryRun: false),
                                      body: try patch.body(), contentType: patch.contentType)
        return try client.decodeObject(T.self, r.body)
    }

    // MARK: watch

    /// Watches for changes. The stream ends when the server closes the watch (e.g. at `timeoutSeconds`); it throws
    /// ``KubeError/resourceExpired(_:)`` when the resource version is too old, and other errors as they come.
    /// Resuming from the last seen resource version is the caller's job (the runtime's watcher does it).
    public func watch(_ options: WatchOptions = WatchOptions()) -> AsyncThrowingStream<WatchEvent<T>, any Error> {
        let path = collectionPath(namespace: namespace)
        let idle = options.idleTimeout ?? options.timeoutSeconds.map { .seconds($0 + 30) }
        let client = self.client
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let response = try await client.stream(path: path, query: options.query, idleTimeout: idle)
                    var decoder = WatchStreamDecoder<T>()
                    for try await chunk in response.body {
                        for event in try decoder.feed(chunk) { continuation.yield(event) }
                    }
                    for event in try decoder.finish() { continuation.yield(event) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

extension Api where T: KubernetesResource {
    /// An Api for a typed resource.
    public init(_ client: KubeClient, namespace: String? = nil) {
        self.init(client, resource: T.resource, namespace: namespace)
    }
}
