#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeCore

/// The cluster's state: every object, one cluster-wide resourceVersion, the event history watches resume from,
/// and the open watches. All API semantics (optimistic concurrency, generation, status subresource, finalizers,
/// garbage collection, selectors, pagination) live here, independent of HTTP.
actor ClusterState {
    /// How the watch history is bounded (per resource, as kube-apiserver's watch cache): at most `limit` events;
    /// events older than `window` are dropped once more than `minimum` are kept. A resume from before the oldest
    /// event kept gets 410 Gone.
    let historyLimit: Int
    let historyWindow: Duration
    let historyMinimum: Int
    private(set) var types: [String: ResourceType] = [:]
    var objects: [String: [String: JSONValue]] = [:]
    /// Requests refused by RBAC (bounded), for tests to list what a role lacks.
    var rbacDenials: [String] = []

    func recordDenial(user: String, _ a: RBACAuthorizer.Attributes) {
        if rbacDenials.count < 1000 { rbacDenials.append("\(user): \(a)") }
    }
    /// The uid of every stored object, so the garbage collector can tell a dangling owner reference at once.
    var uids: Set<String> = []
    private(set) var resourceVersion: Int64 = 1
    /// Each resource's watch history (by type key).
    var histories: [String: History] = [:]
    /// Nothing at or below this version can be resumed from, for any resource: the server's start (a fresh server
    /// has no events before it), a restore, or ``compactHistory()``. Continue tokens older than it expire too.
    var compactedThrough: Int64 = 1
    var watchers: [Int: Watcher] = [:]
    var nextWatcherID = 0
    /// Called after every committed change (for persistence and workload simulation).
    var onChange: (@Sendable (String, String, JSONValue) -> Void)?

    struct HistoryEntry {
        var rv: Int64
        var typeKey: String
        var eventType: String
        var object: JSONValue
        var old: JSONValue?
        var at: ContinuousClock.Instant = .now
    }

    /// One resource's events, oldest first from `start`.
    struct History {
        var entries: [HistoryEntry] = []
        var start = 0
        /// Events of this resource at or below this version have been dropped.
        var compactedThrough: Int64
        var retained: ArraySlice<HistoryEntry> { entries[start...] }
    }

    struct Watcher {
        var typeKey: String
        var namespace: String?
        var labels: LabelSelectorQuery?
        var fields: FieldSelectorQuery?
        var channel: WatchChannel
        /// Turns an event into the line this watcher's client asked for (its API version, or a Table).
        var render: @Sendable (String, JSONValue) -> [UInt8]
        /// Whether `render` is the plain storage-version JSON, so a line made once can be shared.
        var plain: Bool
    }

    init(historyLimit: Int, historyWindow: Duration = .seconds(75), historyMinimum: Int = 100) {
        self.historyLimit = historyLimit
        self.historyWindow = historyWindow
        self.historyMinimum = historyMinimum
        for t in ResourceType.builtins { types[t.key] = t }
        for ns in ["default", "kube-system", "kube-public"] {
            let key = "/\(ns)"
            resourceVersion += 1
            objects["/namespaces", default: [:]][key] = Self.initialNamespace(ns, rv: resourceVersion)
        }
        compactedThrough = resourceVersion
    }

    func setOnChange(_ f: @escaping @Sendable (String, String, JSONValue) -> Void) { onChange = f }

    private static func initialNamespace(_ ns: String, rv: Int64) -> JSONValue {
        ["apiVersion": "v1", "kind": "Namespace",
         "metadata": ["name": .string(ns), "uid": .string(UUID().uuidString.lowercased()),
                      "creationTimestamp": .string(Time.now().rfc3339), "resourceVersion": .string(String(rv))],
         "spec": ["finalizers": ["kubernetes"]], "status": ["phase": "Active"]]
    }

    private func stamp(_ object: JSONValue) -> JSONValue {
        var o = object
        resourceVersion += 1
        o[path: ["metadata", "uid"]] = .string(UUID().uuidString.lowercased())
        o[path: ["metadata", "creationTimestamp"]] = .string(Time.now().rfc3339)
        o[path: ["metadata", "resourceVersion"]] = .string(String(resourceVersion))
        return o
    }

    // MARK: lookup

    /// The type served at group/version/resource, if that version is served.
    func type(group: String, version: String, resource: String) -> ResourceType? {
        guard let t = types[ResourceType.key(group: group, resource: resource)], t.servedVersions.contains(version) else { return nil }
        return t
    }

    func allTypes() -> [ResourceType] { Array(types.values) }

    static func objectKey(_ namespace: String?, _ name: String) -> String { "\(namespace ?? "")/\(name)" }

    func get(_ type: ResourceType, namespace: String?, name: String) throws(APIFailure) -> JSONValue {
        guard let o = objects[type.storeKey]?[Self.objectKey(namespace, name)] else { throw .notFound(type, name) }
        return o
    }

    func snapshot() -> (Int64, [String: [String: JSONValue]]) { (resourceVersion, objects) }

    func restore(resourceVersion rv: Int64, objects restored: [String: [String: JSONValue]]) {
        resourceVersion = max(resourceVersion, rv)
        compactedThrough = resourceVersion
        for (savedKey, saved) in restored {
            var typeKey = savedKey
            var items = saved
            // Saved before events.k8s.io Events shared the core store: moved there, in the core form.
            if savedKey == "events.k8s.io/events" {
                typeKey = "/events"
                items = saved.mapValues(EventConversion.toCore)
            }
            objects[typeKey] = (objects[typeKey] ?? [:]).merging(items) { _, restored in restored }
            for o in items.values { if let uid = o[path: ["metadata", "uid"]]?.stringValue { uids.insert(uid) } }
            if typeKey == CustomResourceDefinition.resource.group + "/" + CustomResourceDefinition.resource.resource {
                for crd in items.values { if let t = try? ResourceType.fromCRD(crd) { types[t.key] = t } }
            }
        }
    }

    // MARK: list

    /// A list response. `continue` tokens name the last key returned; pages are read from the current state, so an
    /// object created during paging after the token's position shows up (the real server reads a snapshot).
    func list(_ type: ResourceType, namespace: String?, labels: LabelSelectorQuery?, fields: FieldSelectorQuery?,
              limit: Int?, continueToken: String?) throws(APIFailure) -> JSONValue {
        var after: String?
        if let continueToken, !continueToken.isEmpty {
            guard let data = Data(base64Encoded: continueToken),
                  let token = try? JSONParser.parse(Array(data)), let rv = token["rv"]?.intValue,
                  let start = token["start"]?.stringValue else {
                throw .badRequest("invalid continue token")
            }
            if rv < compactedThrough {
                throw .gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            }
            after = start
        }
        let bucket = objects[type.storeKey] ?? [:]
        var keys = bucket.keys.filter { key in
            guard let namespace else { return true }
            return key.hasPrefix(namespace + "/")
        }.sorted()
        if let after { keys = keys.filter { $0 > after } }
        var items: [JSONValue] = []
        var next: String?
        for key in keys {
            let o = bucket[key]!
            if let labels, !labels.matches(Self.labels(o)) { continue }
            if let fields, !fields.matches(o) { continue }
            if let limit, limit > 0, items.count == limit {
                let token: JSONValue = ["rv": .int(resourceVersion), "start": .string(Self.objectKey(items.last![path: ["metadata", "namespace"]]?.stringValue, items.last![path: ["metadata", "name"]]!.stringValue!))]
                next = Data(token.serialized()).base64EncodedString()
                break
            }
            items.append(o)
        }
        var meta: JSONValue = ["resourceVersion": .string(String(resourceVersion))]
        if let next { meta["continue"] = .string(next) }
        return ["apiVersion": .string(type.descriptor.apiVersion), "kind": .string(type.descriptor.kind + "List"),
                "metadata": meta, "items": .array(items)]
    }

    /// Every stored object of a type in a namespace, in no order (no list envelope, no sorting: for the simulator).
    func objects(_ type: ResourceType, namespace: String) -> [JSONValue] {
        let prefix = namespace + "/"
        return (objects[type.storeKey] ?? [:]).compactMap { $0.key.hasPrefix(prefix) ? $0.value : nil }
    }

    static func labels(_ o: JSONValue) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in o[path: ["metadata", "labels"]]?.objectValue ?? JSONObject() { if let s = v.stringValue { out[k] = s } }
        return out
    }

    // MARK: write

    /// Creates an object after validation. `dryRun` validates and defaults without storing.
    func create(_ type: ResourceType, namespace: String?, body: JSONValue, dryRun: Bool = false) throws(APIFailure) -> JSONValue {
        var o = body
        guard case .object = o else { throw .badRequest("the body must be a JSON object") }
        try checkKind(type, o)
        if type.descriptor.namespaced {
            let ns = o[path: ["metadata", "namespace"]]?.stringValue ?? namespace
            guard let ns, !ns.isEmpty else { throw .badRequest("the namespace of the object must be set") }
            if let namespace, ns != namespace {
                throw .badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            guard objects["/namespaces"]?["/\(ns)"] != nil else {
                throw APIFailure(code: 404, reason: "NotFound", message: "namespaces \"\(ns)\" not found",
                                 details: StatusDetails(name: ns, kind: "namespaces"))
            }
            o[path: ["metadata", "namespace"]] = .string(ns)
        } else {
            o[path: ["metadata", "namespace"]] = nil
        }
        if (o[path: ["metadata", "name"]]?.stringValue ?? "").isEmpty {
            guard let prefix = o[path: ["metadata", "generateName"]]?.stringValue, !prefix.isEmpty else {
                throw .invalid(kind: type.descriptor.kind, group: type.descriptor.group, name: "",
                               causes: [StatusCause(reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name")])
            }
            let letters = Array("bcdfghjklmnpqrstvwxz2456789")
            o[path: ["metadata", "name"]] = .string(prefix + String((0..<5).map { _ in letters.randomElement()! }))
        }
        let name = o[path: ["metadata", "name"]]!.stringValue!
        try validateName(type, name)
        try validateMetadata(type, o, name: name)
        let key = Self.objectKey(o[path: ["metadata", "namespace"]]?.stringValue, name)
        if objects[type.storeKey]?[key] != nil { throw .alreadyExists(type, name) }
        // Server-owned metadata.
        for field in ["uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
            o[path: ["metadata", field]] = nil
        }
        o[path: ["metadata", "generation"]] = 1
        if type.storeKey == "/services" { o = Self.defaultService(o, next: resourceVersion) }
        if type.storeKey == "/secrets" {
            o = Self.mergeStringData(o)
            if o["type"] == nil { o["type"] = "Opaque" }
        }
        if type.storeKey == "/namespaces", o[path: ["status", "phase"]] == nil { o["status"] = ["phase": "Active"] }
        if type.hasStatusSubresource && type.definedBy != nil { o["status"] = nil }
        o = try validated(type, o, name: name)
        if type.storeKey == CustomResourceDefinition.resource.group + "/" + CustomResourceDefinition.resource.resource {
            let crdType = try ResourceType.fromCRD(o)
            if let existing = types[crdType.key], existing.definedBy == nil {
                throw .invalid(kind: "CustomResourceDefinition", group: "apiextensions.k8s.io", name: name,
                               causes: [StatusCause(reason: "FieldValueInvalid", message: "conflicts with a built-in resource", field: "spec.names.plural")])
            }
            if !dryRun {
                types[crdType.key] = crdType
                o["status"] = ["conditions": [["type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                                               "lastTransitionTime": .string(Time.now().rfc3339)],
                                              ["type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                                               "lastTransitionTime": .string(Time.now().rfc3339)]],
                               "acceptedNames": o[path: ["spec", "names"]] ?? .null,
                               "storedVersions": [.string(crdType.descriptor.version)]]
            }
        }
        if dryRun {
            o[path: ["metadata", "uid"]] = .string(UUID().uuidString.lowercased())
            o[path: ["metadata", "creationTimestamp"]] = .string(Time.now().rfc3339)
            return o
        }
        o = stamp(o)
        objects[type.storeKey, default: [:]][key] = o
        if let uid = o[path: ["metadata", "uid"]]?.stringValue { uids.insert(uid) }
        record(type.storeKey, "ADDED", o, old: nil)
        collectIfOwnersAreGone(type, o)
        return o
    }

    /// What kube-apiserver fills in on a Service: type ClusterIP, a cluster IP, TCP ports whose targetPort
    /// defaults to the port, sessionAffinity None.
    /// A Secret's `stringData` is write-only: merged into `data` (base64), over keys of the same name, and dropped.
    static func mergeStringData(_ secret: JSONValue) -> JSONValue {
        guard let strings = secret["stringData"]?.objectValue else { return secret }
        var o = secret
        var data = o["data"]?.objectValue ?? JSONObject()
        for (k, v) in strings { data[k] = .string(Data((v.stringValue ?? "").utf8).base64EncodedString()) }
        o["data"] = .object(data)
        o["stringData"] = nil
        return o
    }

    static func defaultService(_ service: JSONValue, next: Int64) -> JSONValue {
        var o = service
        let type = o[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
        o[path: ["spec", "type"]] = .string(type)
        if type != "ExternalName", o[path: ["spec", "clusterIP"]] == nil {
            let ip = "10.96.\((next / 250) % 250).\(next % 250 + 1)"
            o[path: ["spec", "clusterIP"]] = .string(ip)
            o[path: ["spec", "clusterIPs"]] = [.string(ip)]
        }
        if o[path: ["spec", "sessionAffinity"]] == nil { o[path: ["spec", "sessionAffinity"]] = "None" }
        if var ports = o[path: ["spec", "ports"]]?.arrayValue {
            for i in ports.indices {
                if ports[i]["protocol"] == nil { ports[i]["protocol"] = "TCP" }
                if ports[i]["targetPort"] == nil { ports[i]["targetPort"] = ports[i]["port"] }
            }
            o[path: ["spec", "ports"]] = .array(ports)
        }
        return o
    }

    func checkKind(_ type: ResourceType, _ o: JSONValue) throws(APIFailure) {
        if let kind = o["kind"]?.stringValue, kind != type.descriptor.kind {
            throw .badRequest("the kind of the object (\(kind)) does not match the resource (\(type.descriptor.kind))")
        }
        if let apiVersion = o["apiVersion"]?.stringValue {
            let groupOK = type.descriptor.group.isEmpty ? !apiVersion.contains("/") : apiVersion.hasPrefix(type.descriptor.group + "/")
            if !groupOK { throw .badRequest("the API version of the object (\(apiVersion)) does not match the resource's group") }
        }
    }

    /// A new object's name by the rule its kind has on kube-apiserver: a DNS-1035 label for Services, an RFC 1123
    /// label for Namespaces, a path segment for RBAC objects (`system:basic-user`), an RFC 1123 subdomain otherwise.
    func validateName(_ type: ResourceType, _ name: String) throws(APIFailure) {
        let problem: String?
        switch (type.descriptor.group, type.descriptor.resource) {
        case ("", "services"): problem = MetadataSyntax.dns1035LabelProblem(name)
        case ("", "namespaces"): problem = MetadataSyntax.dnsLabelProblem(name)
        case ("rbac.authorization.k8s.io", _):
            problem = name == "." || name == ".." ? "may not be '\(name)'"
                : name.contains("/") ? "may not contain '/'" : name.contains("%") ? "may not contain '%'" : nil
        default: problem = MetadataSyntax.dnsSubdomainProblem(name)
        }
        if let problem {
            throw .invalid(kind: type.descriptor.kind, group: type.descriptor.group, name: name,
                           causes: [StatusCause(reason: "FieldValueInvalid", message: "Invalid value: \"\(name)\": \(problem)", field: "metadata.name")])
        }
    }

    /// Labels and annotations by the API server's rules (ValidateObjectMeta): qualified-name keys, label values of at
    /// most 63 characters, at most 256 KiB of annotations.
    /// Pod templates (of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs) and label selectors
    /// are held to the same rules (ValidatePodTemplateSpec, ValidateLabelSelector), and a Job's name must fit the
    /// `job-name` label its pods get; a label or annotation value that is not a string cannot be decoded (400).
    func validateMetadata(_ type: ResourceType, _ o: JSONValue, name: String) throws(APIFailure) {
        func strings(_ path: [String], _ field: String) throws(APIFailure) -> [String: String] {
            guard let value = o[path: path], value != .null else { return [:] }
            guard let object = value.objectValue else {
                throw .badRequest("json: cannot unmarshal \(value) into Go struct field \(field) of type map[string]string")
            }
            var out: [String: String] = [:]
            for (k, v) in object.dictionary {
                // Go decodes a null entry of a map[string]string as "".
                if v == .null { out[k] = ""; continue }
                guard let text = v.stringValue else {
                    throw .badRequest("json: cannot unmarshal \(v) into Go struct field \(field) of type string")
                }
                out[k] = text
            }
            return out
        }
        var problems = MetadataSyntax.problems(labels: try strings(["metadata", "labels"], "ObjectMeta.metadata.labels"),
                                               annotations: try strings(["metadata", "annotations"], "ObjectMeta.metadata.annotations"))
        let templatePath: [String]? = switch type.storeKey {
        case "apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets", "batch/jobs": ["spec", "template"]
        case "batch/cronjobs": ["spec", "jobTemplate", "spec", "template"]
        default: nil
        }
        if let templatePath {
            let field = templatePath.joined(separator: ".")
            problems += MetadataSyntax.problems(labels: try strings(templatePath + ["metadata", "labels"], "ObjectMeta.\(field).metadata.labels"),
                                                annotations: try strings(templatePath + ["metadata", "annotations"], "ObjectMeta.\(field).metadata.annotations"),
                                                field: field + ".metadata")
            let selectorPath = Array(templatePath.dropLast()) + ["selector", "matchLabels"]
            problems += MetadataSyntax.problems(labels: try strings(selectorPath, "LabelSelector.matchLabels"), annotations: [:],
                                                field: selectorPath.dropLast().joined(separator: "."))
                .map { ($0.field.replacing(".labels", with: ".matchLabels"), $0.message) }
        }
        problems += WorkloadSelectors.problems(type.storeKey, o)
        if type.storeKey == "batch/jobs", o[path: ["spec", "manualSelector"]] != true, let p = MetadataSyntax.labelValueProblem(name) {
            problems.append(("spec.template.metadata.labels", "Invalid value: \"\(name)\": \(p)"))
        }
        if !problems.isEmpty {
            throw .invalid(kind: type.descriptor.kind, group: type.descriptor.group, name: name,
                           causes: problems.map { StatusCause(reason: "FieldValueInvalid", message: $0.message, field: $0.field) })
        }
    }

    /// Schema validation for custom resources (defaults and pruning included).
    func validated(_ type: ResourceType, _ o: JSONValue, name: String) throws(APIFailure) -> JSONValue {
        guard let schema = type.schema else { return o }
        let (result, causes) = SchemaValidator.validate(o, schema: schema)
        if !causes.isEmpty {
            throw .invalid(kind: type.descriptor.kind, group: type.descriptor.group, name: name, causes: causes)
        }
        return result
    }

    /// Replaces an object (PUT), or its status (`subresource: "status"`).
    func update(_ type: ResourceType, namespace: String?, name: String, body: JSONValue, subresource: String?,
                dryRun: Bool = false) throws(APIFailure) -> JSONValue {
        try checkKind(type, body)
        let key = Self.objectKey(type.descriptor.namespaced ? namespace : nil, name)
        guard let old = objects[type.storeKey]?[key] else { throw .notFound(type, name) }
        if let bodyName = body[path: ["metadata", "name"]]?.stringValue, bodyName != name {
            throw .badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        if let rv = body[path: ["metadata", "resourceVersion"]]?.stringValue, !rv.isEmpty,
           rv != old[path: ["metadata", "resourceVersion"]]?.stringValue {
            throw .conflict(type, name)
        }
        var new: JSONValue
        if subresource == "status" {
            guard type.hasStatusSubresource else { throw .notFound(type, name) }
            new = old
            new["status"] = body["status"]
        } else {
            new = body
            if type.hasStatusSubresource { new["status"] = old["status"] }
            // Metadata the client cannot change.
            for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "namespace", "name"] {
                new[path: ["metadata", field]] = old[path: ["metadata", field]]
            }
            // Once deletion started, finalizers may only be removed.
            if old[path: ["metadata", "deletionTimestamp"]] != nil {
                let before = Set(old[path: ["metadata", "finalizers"]]?.arrayValue?.compactMap(\.stringValue) ?? [])
                let after = Set(new[path: ["metadata", "finalizers"]]?.arrayValue?.compactMap(\.stringValue) ?? [])
                if !after.isSubset(of: before) {
                    throw .invalid(kind: type.descriptor.kind, group: type.descriptor.group, name: name,
                                   causes: [StatusCause(reason: "FieldValueForbidden", message: "Forbidden: no new finalizers can be added if the object is being deleted", field: "metadata.finalizers")])
                }
            }
            try validateMetadata(type, new, name: name)
            if WorkloadSelectors.storeKeys.contains(type.storeKey), WorkloadSelectors.changed(old, new) {
                throw .invalid(kind: type.descriptor.kind, group: type.descriptor.group, name: name,
                               causes: [StatusCause(reason: "FieldValueInvalid", message: "Invalid value: \(new[path: ["spec", "selector"]] ?? .null): field is immutable", field: "spec.selector")])
            }
            new = try validated(type, new, name: name)
            if type.storeKey == "/secrets" { new = Self.mergeStringData(new) }
            if Self.spec(old) != Self.spec(new) {
                new[path: ["metadata", "generation"]] = .int((old[path: ["metadata", "generation"]]?.intValue ?? 1) + 1)
            }
        }
        new[path: ["metadata", "resourceVersion"]] = old[path: ["metadata", "resourceVersion"]]
        if new == old { return old }  // no-op writes do not bump the version, as on a real server
        if dryRun { return new }
        resourceVersion += 1
        new[path: ["metadata", "resourceVersion"]] = .string(String(resourceVersion))
        if new[path: ["metadata", "deletionTimestamp"]] != nil,
           (new[path: ["metadata", "finalizers"]]?.arrayValue ?? []).isEmpty {
            objects[type.storeKey]?[key] = nil
            if let uid = new[path: ["metadata", "uid"]]?.stringValue { uids.remove(uid) }
            record(type.storeKey, "DELETED", new, old: old)
            collectGarbage(ownerUID: new[path: ["metadata", "uid"]]?.stringValue, policy: "Background")
            return new
        }
        objects[type.storeKey]?[key] = new
        record(type.storeKey, "MODIFIED", new, old: old)
        return new
    }

    /// Everything but metadata and status: what bumps `metadata.generation` when it changes.
    static func spec(_ o: JSONValue) -> JSONValue {
        var copy = o
        copy["metadata"] = nil
        copy["status"] = nil
        copy["apiVersion"] = nil
        copy["kind"] = nil
        return copy
    }

    /// Deletes an object: marks it when finalizers are pending, removes it otherwise, and collects its dependents.
    func delete(_ type: ResourceType, namespace: String?, name: String, propagation: String?, preconditions: JSONValue?,
                dryRun: Bool = false) throws(APIFailure) -> JSONValue {
        let key = Self.objectKey(type.descriptor.namespaced ? namespace : nil, name)
        guard let old = objects[type.storeKey]?[key] else { throw .notFound(type, name) }
        if let uid = preconditions?["uid"]?.stringValue, uid != old[path: ["metadata", "uid"]]?.stringValue {
            throw .conflict(type, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(old[path: ["metadata", "uid"]]?.stringValue ?? "")")
        }
        if let rv = preconditions?["resourceVersion"]?.stringValue, rv != old[path: ["metadata", "resourceVersion"]]?.stringValue {
            throw .conflict(type, name, "Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(old[path: ["metadata", "resourceVersion"]]?.stringValue ?? "")")
        }
        if dryRun { return old }
        let finalizers = old[path: ["metadata", "finalizers"]]?.arrayValue ?? []
        if !finalizers.isEmpty {
            if old[path: ["metadata", "deletionTimestamp"]] != nil { return old }
            var new = old
            resourceVersion += 1
            new[path: ["metadata", "deletionTimestamp"]] = .string(Time.now().rfc3339)
            new[path: ["metadata", "deletionGracePeriodSeconds"]] = 0
            new[path: ["metadata", "resourceVersion"]] = .string(String(resourceVersion))
            objects[type.storeKey]?[key] = new
            record(type.storeKey, "MODIFIED", new, old: old)
            return new
        }
        let uid = old[path: ["metadata", "uid"]]?.stringValue
        let policy = propagation ?? "Background"
        if policy == "Foreground" { collectGarbage(ownerUID: uid, policy: policy) }
        resourceVersion += 1
        var gone = old
        gone[path: ["metadata", "resourceVersion"]] = .string(String(resourceVersion))
        objects[type.storeKey]?[key] = nil
        if let uid { uids.remove(uid) }
        record(type.storeKey, "DELETED", gone, old: old)
        if type.storeKey == "/namespaces" { deleteNamespaceContents(name) }
        if type.definedBy == nil, type.storeKey == CustomResourceDefinition.resource.group + "/" + CustomResourceDefinition.resource.resource,
           let crdType = try? ResourceType.fromCRD(old) {
            for (_, o) in objects[crdType.key] ?? [:] {
                try? _ = delete(crdType, namespace: o[path: ["metadata", "namespace"]]?.stringValue,
                                name: o[path: ["metadata", "name"]]?.stringValue ?? "", propagation: nil, preconditions: nil)
            }
            types[crdType.key] = nil
            objects[crdType.key] = nil
        }
        if policy != "Foreground" { collectGarbage(ownerUID: uid, policy: policy) }
        return gone
    }

    private func deleteNamespaceContents(_ ns: String) {
        for (typeKey, bucket) in objects {
            guard let t = types[typeKey], t.descriptor.namespaced else { continue }
            for (key, o) in bucket where key.hasPrefix(ns + "/") {
                _ = try? delete(t, namespace: ns, name: o[path: ["metadata", "name"]]?.stringValue ?? "", propagation: nil, preconditions: nil)
            }
        }
    }

    /// An object created with owner references that all name objects which no longer exist (its owner was deleted
    /// while it was being made) is collected at once, as the garbage collector would collect it shortly after.
    private func collectIfOwnersAreGone(_ type: ResourceType, _ o: JSONValue) {
        let owners = o[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []
        guard !owners.isEmpty, owners.allSatisfy({ !uids.contains($0["uid"]?.stringValue ?? "") }) else { return }
        _ = try? delete(type, namespace: o[path: ["metadata", "namespace"]]?.stringValue,
                        name: o[path: ["metadata", "name"]]?.stringValue ?? "", propagation: "Background", preconditions: nil)
    }

    /// Garbage collection: dependents whose owner references name `ownerUID` are deleted (or, with `Orphan`, freed).
    private func collectGarbage(ownerUID: String?, policy: String) {
        guard let ownerUID else { return }
        for (typeKey, bucket) in objects {
            guard let t = types[typeKey] else { continue }
            for (key, o) in bucket {
                guard let refs = o[path: ["metadata", "ownerReferences"]]?.arrayValue,
                      refs.contains(where: { $0["uid"]?.stringValue == ownerUID }) else { continue }
                if policy == "Orphan" {
                    var new = o
                    let remaining = refs.filter { $0["uid"]?.stringValue != ownerUID }
                    new[path: ["metadata", "ownerReferences"]] = remaining.isEmpty ? nil : .array(remaining)
                    resourceVersion += 1
                    new[path: ["metadata", "resourceVersion"]] = .string(String(resourceVersion))
                    objects[typeKey]?[key] = new
                    record(typeKey, "MODIFIED", new, old: o)
                } else {
                    _ = try? delete(t, namespace: o[path: ["metadata", "namespace"]]?.stringValue,
                                    name: o[path: ["metadata", "name"]]?.stringValue ?? "", propagation: policy, preconditions: nil)
                }
            }
        }
    }
}
