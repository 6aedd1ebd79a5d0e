#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import HTTPTypes
import KubeCore
import NIOCore

/// Turns HTTP requests into ``ClusterState`` operations, as kube-apiserver's REST handlers do.
struct APIResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let state: ClusterState
    let token: String
    /// Users who may only read: token → user name.
    let readOnlyTokens: [String: String]
    /// Users whose every request RBAC decides, as stored in the cluster: token → user name.
    var rbacTokens: [String: String] = [:]
    let faults: FaultInjector
    let bookmarkInterval: Duration
    /// Largest request body accepted (kube-apiserver's limit is 3 MiB).
    static let maxBodyBytes = 3 << 20

    /// Where a request points: a resource collection, an object, or one of its subresources.
    struct Target {
        var type: ResourceType
        var version: String
        var namespace: String?
        var name: String?
        var subresource: String?
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        let method = request.method.rawValue
        let query = Self.parseQuery(request.uri.query ?? "")
        do {
            let delay = faults.currentDelay
            if delay > .zero { try await Task.sleep(for: delay) }
            if path == "/healthz" || path == "/readyz" || path == "/livez" {
                return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody(byteBuffer: ByteBuffer(string: "ok")))
            }
            let presented = request.headers[.authorization]
            if presented != "Bearer \(token)" {
                guard let p = presented, p.hasPrefix("Bearer ") else { throw APIFailure.unauthorized }
                let bearer = String(p.dropFirst(7))
                if let user = rbacTokens[bearer] {
                    var attributes = RBACAuthorizer.attributes(method: method, path: path, query: query)
                    if !(await state.authorize(user: user, attributes)) {
                        await state.recordDenial(user: user, attributes)
                        throw Self.forbidden(user: user, attributes)
                    }
                    // A server-side apply that creates the object needs create too (the patch handler's
                    // createAuthorizerAttributes).
                    if method == "PATCH", (request.headers[.contentType] ?? "").contains("apply-patch"), attributes.subresource.isEmpty,
                       let target = try? await resolve(path.split(separator: "/").map(String.init)), let name = target.name,
                       (try? await state.get(target.type, namespace: target.namespace, name: name)) == nil {
                        attributes.verb = "create"
                        if !(await state.authorize(user: user, attributes)) {
                            await state.recordDenial(user: user, attributes)
                            throw Self.forbidden(user: user, attributes)
                        }
                    }
                } else {
                    guard let user = readOnlyTokens[bearer] else { throw APIFailure.unauthorized }
                    if method != "GET" && method != "HEAD" { throw Self.forbidden(user: user, method: method, path: path) }
                }
            }
            if let fault = faults.match(method: method, path: path) { throw fault }
            var request = request
            let body = method == "GET" ? [] : Array(try await request.collectBody(upTo: Self.maxBodyBytes).readableBytesView)
            return try await route(method: method, path: path, query: query, headers: request.headers, body: body)
        } catch let failure as APIFailure {
            return Self.failure(failure)
        } catch {
            return Self.failure(APIFailure(code: 500, reason: "InternalError", message: "\(error)"))
        }
    }

    /// kube-apiserver's RBAC refusal: `featureflags.ops.salespot.by is forbidden: User "u" cannot create resource
    /// "featureflags" in API group "ops.salespot.by" in the namespace "default"`.
    static func forbidden(user: String, method: String, path: String) -> APIFailure {
        let parts = path.split(separator: "/").map(String.init)
        var group = "", rest = parts[...]
        if parts.first == "apis", parts.count >= 3 { group = parts[1]; rest = parts[3...] } else if parts.first == "api" { rest = parts.dropFirst(2) }
        var namespace: String?
        if rest.first == "namespaces", rest.count >= 3 { namespace = rest.dropFirst().first; rest = rest.dropFirst(2) }
        let resource = rest.first ?? ""
        let verb = switch method {
        case "POST": "create"
        case "PUT": "update"
        case "PATCH": "patch"
        case "DELETE": rest.count > 1 ? "delete" : "deletecollection"
        default: method.lowercased()
        }
        let qualified = group.isEmpty ? resource : "\(resource).\(group)"
        let scope = namespace.map { " in the namespace \"\($0)\"" } ?? " at the cluster scope"
        return APIFailure(code: 403, reason: "Forbidden",
                          message: "\(qualified) is forbidden: User \"\(user)\" cannot \(verb) resource \"\(resource)\" in API group \"\(group)\"\(scope)")
    }

    /// kube-apiserver's RBAC refusal of a request.
    static func forbidden(user: String, _ a: RBACAuthorizer.Attributes) -> APIFailure {
        guard a.isResource else {
            return APIFailure(code: 403, reason: "Forbidden", message: "forbidden: User \"\(user)\" cannot \(a.verb) path \"\(a.path)\"")
        }
        let resource = a.subresource.isEmpty ? a.resource : "\(a.resource)/\(a.subresource)"
        let qualified = (a.group.isEmpty ? a.resource : "\(a.resource).\(a.group)") + (a.name.isEmpty ? "" : " \"\(a.name)\"")
        let scope = a.namespace.isEmpty ? " at the cluster scope" : " in the namespace \"\(a.namespace)\""
        return APIFailure(code: 403, reason: "Forbidden",
                          message: "\(qualified) is forbidden: User \"\(user)\" cannot \(a.verb) resource \"\(resource)\" in API group \"\(a.group)\"\(scope)")
    }

    static func json(_ value: JSONValue, status: Int = 200, warnings: [String] = []) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        // RFC 7234 warnings as kube-apiserver sends them: `299 - "text"`, the text a quoted string.
        let warning = HTTPField.Name("Warning")!
        for w in warnings {
            let quoted = w.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
            headers.append(HTTPField(name: warning, value: "299 - \"\(quoted)\""))
        }
        return Response(status: .init(code: status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.serialized(sortedKeys: false))))
    }

    /// The request's field selector, checked against the fields `t` supports.
    func fieldSelector(_ query: [String: String], _ t: Target) throws(APIFailure) -> FieldSelectorQuery? {
        guard let text = query["fieldSelector"] else { return nil }
        return try FieldSelectorQuery(text, type: t.type)
    }

    /// The form an object of `t` is stored in (events.k8s.io Events are stored as core/v1 Events).
    func stored(_ o: JSONValue, _ t: Target) -> JSONValue {
        EventConversion.isEventsView(t.type) ? EventConversion.toCore(o) : o
    }

    /// Applies `fieldValidation` to a whole object the client sent (create, update): duplicate fields from the raw
    /// JSON, undeclared fields from the kind's schema. Undeclared fields are dropped from `object` whatever the
    /// directive. Returns the warnings to send.
    func checkFields(_ object: inout JSONValue, raw: [UInt8], contentType: String?, _ t: Target, _ directive: FieldValidation,
                     create: Bool) throws(APIFailure) -> [String] {
        var findings = FieldValidation.Findings()
        if !(contentType ?? "").contains("yaml") && !(contentType ?? "").contains("protobuf") { findings.duplicate = JSONParser.duplicateKeyPaths(raw) }
        let (pruned, unknown) = FieldValidation.check(object, type: t.type)
        findings.unknown = unknown
        let warnings = try directive.enforce(findings, type: t.type, version: t.version, apply: false, create: create)
        object = pruned
        return warnings
    }

    static func failure(_ f: APIFailure) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let r = f.retryAfterSeconds { headers[.retryAfter] = String(r) }
        let body = (try? JSONValueEncoder().encode(f.status)) ?? .null
        return Response(status: .init(code: f.code), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body.serialized())))
    }

    /// Query parameters, percent-decoded as Go's url.ParseQuery does (`+` is a space).
    static func parseQuery(_ q: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in q.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = String(parts[0]).replacing("+", with: " ").percentDecoded ?? String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).replacing("+", with: " ").percentDecoded ?? String(parts[1])) : ""
            if out[key] == nil { out[key] = value }
        }
        return out
    }

    func route(method: String, path: String, query: [String: String], headers: HTTPFields, body: [UInt8]) async throws -> Response {
        let segments = path.split(separator: "/").map(String.init)
        switch segments.first {
        case "version" where segments.count == 1:
            return Self.json(["major": "1", "minor": "32", "gitVersion": "v1.32.0-salespot-localcluster", "platform": "linux/amd64",
                              "goVersion": "n/a", "compiler": "swift", "buildDate": "2026-11-01T00:00:00Z", "gitCommit": "", "gitTreeState": "clean"])
        case "api" where segments.count == 1:
            return Self.json(Discovery.coreVersions(address: "127.0.0.1"))
        case "apis" where segments.count == 1:
            return Self.json(Discovery.groups(await state.allTypes()))
        case "apis" where segments.count == 2:
            let types = await state.allTypes().filter { $0.descriptor.group == segments[1] }
            guard let first = types.first else { throw APIFailure(code: 404, reason: "NotFound", message: "the server could not find the requested resource") }
            let versions = Set(types.flatMap(\.servedVersions)).sorted(by: Discovery.versionOrder)
            return Self.json(Discovery.group(segments[1], versions: versions, preferred: first.descriptor.version))
        case "api" where segments.count == 2, "apis" where segments.count == 3:
            let group = segments[0] == "api" ? "" : segments[1]
            guard let doc = Discovery.resources(await state.allTypes(), group: group, version: segments.last!) else {
                throw APIFailure(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
            }
            return Self.json(doc)
        case "openapi" where segments.count == 2 && segments[1] == "v3":
            return Self.json(OpenAPI.index(await state.allTypes()))
        case "openapi" where segments.count >= 4 && segments[1] == "v3":
            let group = segments[2] == "api" ? "" : segments[3]
            let version = segments.last!
            guard let doc = OpenAPI.document(await state.allTypes(), group: group, version: version) else {
                throw APIFailure(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
            }
            return Self.json(doc)
        case "api", "apis":
            let target = try await resolve(segments)
            return try await handle(method: method, target: target, query: query, headers: headers, body: body)
        default:
            throw APIFailure(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
    }

    /// Parses `/api/v1/...` and `/apis/G/V/...` into a target.
    func resolve(_ segments: [String]) async throws -> Target {
        let group = segments[0] == "api" ? "" : segments[1]
        let version = segments[0] == "api" ? segments[1] : segments[2]
        var rest = Array(segments.dropFirst(segments[0] == "api" ? 2 : 3))
        var namespace: String?
        // namespaces/NAME/RESOURCE... is a namespaced path; namespaces/NAME[/status|finalize] is the namespace itself.
        if rest.first == "namespaces", rest.count >= 3, !(rest.count == 3 && ["status", "finalize"].contains(rest[2])) {
            namespace = rest[1]
            rest = Array(rest.dropFirst(2))
        }
        guard let resource = rest.first, rest.count <= 3,
              let type = await state.type(group: group, version: version, resource: resource) else {
            throw APIFailure(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
        if !type.descriptor.namespaced && namespace != nil {
            throw APIFailure(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
        return Target(type: type, version: version, namespace: namespace, name: rest.count > 1 ? rest[1] : nil,
                      subresource: rest.count > 2 ? rest[2] : nil)
    }

    func parseBody(_ body: [UInt8], contentType: String?) throws -> JSONValue {
        if let ct = contentType, ct.contains(KubeProtobuf.mediaType) {
            // What kubectl's typed clients send for built-in kinds (`kubectl create configmap|secret|deployment ...`).
            do { return try KubeProtobuf.decode(body) } catch {
                throw APIFailure.badRequest("couldn't decode the protobuf request body: \(error)")
            }
        }
        if let ct = contentType, ct.contains("cbor") {
            // Clients fall back to JSON on 415.
            throw APIFailure.unsupportedMediaType(ct)
        }
        guard !body.isEmpty else { throw APIFailure.badRequest("the request body is empty") }
        if let ct = contentType, ct.contains("yaml") {
            let docs = try YAML.parseAll(body)
            guard docs.count == 1 else { throw APIFailure.badRequest("expected one YAML document") }
            return docs[0]
        }
        do { return try JSONParser.parse(body) } catch { throw APIFailure.badRequest("couldn't decode the request body: \(error)") }
    }

    /// The apiVersion the client asked in (objects are stored once and shown in the requested version).
    func present(_ o: JSONValue, _ t: Target) -> JSONValue {
        var copy = EventConversion.isEventsView(t.type) ? EventConversion.toEvents(o) : o
        copy["apiVersion"] = .string(t.type.descriptor.group.isEmpty ? t.version : "\(t.type.descriptor.group)/\(t.version)")
        copy["kind"] = .string(t.type.descriptor.kind)
        return copy
    }

    func handle(method: String, target t: Target, query: [String: String], headers: HTTPFields, body: [UInt8]) async throws -> Response {
        let dryRun = query["dryRun"] == "All"
        let wantsTable = (headers[.accept] ?? "").contains("as=Table")
        if t.subresource == "scale", ScaleSubresource.supports(t.type), let name = t.name {
            return try await scale(method: method, t, name: name, query: query, headers: headers, body: body)
        }
        if let sub = t.subresource, sub != "status" {
            throw APIFailure(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
        switch (method, t.name) {
        case ("GET", nil) where query["watch"] == "true" || query["watch"] == "1":
            do {
                return try await watch(t, query: query, table: wantsTable)
            } catch let f as APIFailure where f.code == 410 {
                // As kube-apiserver: a watch from a compacted version is a 200 with one ERROR event.
                let status = (try? JSONValueEncoder().encode(f.status)) ?? .null
                let event: JSONValue = ["type": "ERROR", "object": status]
                var line = event.serialized()
                line.append(0x0A)
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: line)))
            }
        case ("GET", nil):
            let list = try await state.list(t.type, namespace: t.namespace, labels: try query["labelSelector"].map(LabelSelectorQuery.init),
                                            fields: try fieldSelector(query, t),
                                            limit: query["limit"].flatMap(Int.init), continueToken: query["continue"])
            if wantsTable {
                return Self.json(TablePrinter.table(t.type, items: list["items"]?.arrayValue ?? [], listMeta: list["metadata"] ?? .emptyObject))
            }
            var presented = list
            presented["items"] = .array((list["items"]?.arrayValue ?? []).map { present($0, t) })
            presented["apiVersion"] = .string(t.type.descriptor.group.isEmpty ? t.version : "\(t.type.descriptor.group)/\(t.version)")
            return Self.json(presented)
        case ("GET", let name?):
            let o = try await state.get(t.type, namespace: t.namespace, name: name)
            if wantsTable {
                return Self.json(TablePrinter.table(t.type, items: [o], listMeta: ["resourceVersion": o[path: ["metadata", "resourceVersion"]] ?? ""]))
            }
            return Self.json(present(o, t))
        case ("POST", nil):
            let directive = try FieldValidation.directive(query, options: "CreateOptions")
            var object = try parseBody(body, contentType: headers[.contentType])
            let warnings = try checkFields(&object, raw: body, contentType: headers[.contentType], t, directive, create: true)
            let o = try await state.create(t.type, namespace: t.namespace, body: stored(object, t), dryRun: dryRun)
            return Self.json(present(o, t), status: 201, warnings: warnings)
        case ("PUT", let name?):
            let directive = try FieldValidation.directive(query, options: "UpdateOptions")
            var object = try parseBody(body, contentType: headers[.contentType])
            let warnings = try checkFields(&object, raw: body, contentType: headers[.contentType], t, directive, create: true)
            let o = try await state.update(t.type, namespace: t.namespace, name: name, body: stored(object, t),
                                           subresource: t.subresource, dryRun: dryRun)
            return Self.json(present(o, t), warnings: warnings)
        case ("PATCH", let name?):
            let contentType = (headers[.contentType] ?? "").split(separator: ";").first.map(String.init) ?? ""
            let directive = try FieldValidation.directive(query, options: "PatchOptions")
            let patch = try parseBody(body, contentType: contentType)
            // Fields given twice in the patch itself; undeclared ones are found in what the patch produces.
            let duplicates = contentType.contains("yaml") && body.first != UInt8(ascii: "{") ? [] : JSONParser.duplicateKeyPaths(body)
            let o = try await self.patch(t, name: name, contentType: contentType, patch: patch, query: query, dryRun: dryRun,
                                         directive: directive, duplicates: duplicates)
            return Self.json(present(o.object, t), status: o.created ? 201 : 200, warnings: o.warnings)
        case ("DELETE", let name?):
            let options = body.isEmpty ? JSONValue.emptyObject : try parseBody(body, contentType: headers[.contentType] ?? "application/json")
            let propagation = options["propagationPolicy"]?.stringValue ?? query["propagationPolicy"]
            let o = try await state.delete(t.type, namespace: t.namespace, name: name, propagation: propagation,
                                           preconditions: options["preconditions"], dryRun: dryRun || options["dryRun"] != nil)
            return Self.json(present(o, t))
        case ("DELETE", nil):
            // deletecollection
            let list = try await state.list(t.type, namespace: t.namespace, labels: try query["labelSelector"].map(LabelSelectorQuery.init),
                                            fields: try fieldSelector(query, t), limit: nil, continueToken: nil)
            for item in list["items"]?.arrayValue ?? [] {
                _ = try? await state.delete(t.type, namespace: item[path: ["metadata", "namespace"]]?.stringValue,
                                            name: item[path: ["metadata", "name"]]?.stringValue ?? "", propagation: nil, preconditions: nil)
            }
            return Self.json(["kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": .emptyObject])
        default:
            throw APIFailure.methodNotAllowed("the server does not allow this method on the requested resource")
        }
    }

    /// Applies a patch. As kube-apiserver's update loop does, a patch that does not name a resourceVersion is retried
    /// on a fresh read when another write got in between the read and the write; one that names it gets the 409.
    func patch(_ t: Target, name: String, contentType: String, patch: JSONValue, query: [String: String], dryRun: Bool,
               directive: FieldValidation = .warn, duplicates: [String] = []) async throws -> (object: JSONValue, created: Bool, warnings: [String]) {
        let pinned = patch[path: ["metadata", "resourceVersion"]] != nil
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await patchOnce(t, name: name, contentType: contentType, patch: patch, query: query, dryRun: dryRun,
                                           directive: directive, duplicates: duplicates)
            } catch let f as APIFailure where f.code == 409 && f.status.reason == "Conflict" && !pinned && attempt < 10
                && !(f.status.details?.causes?.contains { $0.reason == "FieldManagerConflict" } ?? false) {
                continue
            }
        }
    }

    func patchOnce(_ t: Target, name: String, contentType: String, patch: JSONValue, query: [String: String], dryRun: Bool,
                   directive: FieldValidation, duplicates: [String]) async throws -> (object: JSONValue, created: Bool, warnings: [String]) {
        // Patches apply to the object as this API shows it.
        let current = (try? await state.get(t.type, namespace: t.namespace, name: name)).map { present($0, t) }
        try Self.validatePatchOptions(contentType: contentType, query: query)
        if contentType == "application/apply-patch+yaml" {
            let manager = query["fieldManager"] ?? ""
            let force = query["force"] == "true"
            // The applied configuration itself must declare only known fields (its managed fields are computed
            // from it); what is stored is pruned as any write.
            let (declared, unknown) = FieldValidation.check(patch, type: t.type)
            let warnings = try directive.enforce(FieldValidation.Findings(unknown: unknown, duplicate: duplicates), type: t.type,
                                                 version: t.version, apply: true, create: false, namespace: t.namespace, name: name)
            guard let current else {
                var o = ServerSideApply.create(declared, manager: manager, subresource: t.subresource)
                o[path: ["metadata", "name"]] = .string(name)
                return (try await state.create(t.type, namespace: t.namespace, body: stored(o, t), dryRun: dryRun), true, warnings)
            }
            let merged = try ServerSideApply.apply(declared, to: current, manager: manager, force: force, subresource: t.subresource, type: t.type)
            return (try await state.update(t.type, namespace: t.namespace, name: name, body: stored(merged, t), subresource: t.subresource, dryRun: dryRun), false, warnings)
        }
        guard var base = current else { throw APIFailure.notFound(t.type, name) }
        // A patch applies to what the client can see; the resourceVersion is only checked if the patch sets it.
        let requestedRV = patch[path: ["metadata", "resourceVersion"]]
        let currentRV = base[path: ["metadata", "resourceVersion"]]
        var patched: JSONValue
        switch contentType {
        case "application/merge-patch+json", "application/json":
            patched = Patching.merge(base, patch)
        case "application/strategic-merge-patch+json":
            if t.type.definedBy != nil {
                throw APIFailure.unsupportedMediaType("strategic merge patch is not supported for custom resources")
            }
            patched = Patching.strategicMerge(base, patch)
        case "application/json-patch+json":
            patched = try Patching.jsonPatch(base, patch)
        default:
            throw APIFailure.unsupportedMediaType(contentType)
        }
        if requestedRV == nil || requestedRV == currentRV { patched[path: ["metadata", "resourceVersion"]] = currentRV }
        let (pruned, unknown) = FieldValidation.check(patched, type: t.type)
        let warnings = try directive.enforce(FieldValidation.Findings(unknown: unknown, duplicate: duplicates), type: t.type,
                                             version: t.version, apply: false, create: false)
        base = pruned
        return (try await state.update(t.type, namespace: t.namespace, name: name, body: stored(base, t), subresource: t.subresource, dryRun: dryRun), false, warnings)
    }

    /// The `scale` subresource (autoscaling/v1 Scale) of Deployments and ReplicaSets: what `kubectl scale` and
    /// autoscalers read and write. A write changes `spec.replicas` of the object, guarded by the Scale's
    /// resourceVersion when it names one.
    func scale(method: String, _ t: Target, name: String, query: [String: String], headers: HTTPFields, body: [UInt8]) async throws -> Response {
        let object = try await state.get(t.type, namespace: t.namespace, name: name)
        let current = ScaleSubresource.scale(of: object, type: t.type)
        switch method {
        case "GET":
            return Self.json(current)
        case "PUT", "PATCH":
            let contentType = (headers[.contentType] ?? "").split(separator: ";").first.map(String.init) ?? "application/json"
            let input = try parseBody(body, contentType: contentType)
            var desired: JSONValue
            if method == "PUT" {
                desired = input
            } else {
                switch contentType {
                case "application/json-patch+json": desired = try Patching.jsonPatch(current, input)
                case "application/merge-patch+json", "application/strategic-merge-patch+json": desired = Patching.merge(current, input)
                default: throw APIFailure.unsupportedMediaType(contentType)
                }
            }
            // replicas is `omitempty` in autoscaling/v1: absent means 0 (what kubectl sends to scale to zero).
            let replicas = desired[path: ["spec", "replicas"]]?.intValue ?? 0
            guard replicas >= 0 else {
                throw APIFailure.invalid(kind: "Scale", group: "autoscaling", name: name, causes: [StatusCause(
                    reason: "FieldValueInvalid", message: "Invalid value: \(replicas): must be greater than or equal to 0", field: "spec.replicas")])
            }
            // A resourceVersion the client sent is a precondition (409 when stale); without one, the write is
            // retried on a fresh read, as kube-apiserver's update loop does.
            let pinned = input[path: ["metadata", "resourceVersion"]]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            let stored = try await scaleWrite(t, name: name, replicas: replicas, pinned: pinned, read: object, dryRun: query["dryRun"] == "All")
            return Self.json(ScaleSubresource.scale(of: stored, type: t.type))
        default:
            throw APIFailure.methodNotAllowed("the server does not allow this method on the requested resource")
        }
    }

    /// Sets `spec.replicas`, retrying on a fresh read after a conflict unless the client pinned a resourceVersion.
    func scaleWrite(_ t: Target, name: String, replicas: Int64, pinned: String?, read: JSONValue, dryRun: Bool) async throws -> JSONValue {
        var base = read
        var attempt = 0
        while true {
            attempt += 1
            var updated = base
            updated[path: ScaleSubresource.replicasPath(t.type)] = .int(replicas)
            updated[path: ["metadata", "resourceVersion"]] = pinned.map { .string($0) } ?? base[path: ["metadata", "resourceVersion"]]
            var failure: APIFailure?
            do {
                return try await state.update(t.type, namespace: t.namespace, name: name, body: updated, subresource: nil, dryRun: dryRun)
            } catch {
                failure = error
            }
            if let f = failure, f.code != 409 || pinned != nil || attempt >= 10 { throw f }
            base = try await state.get(t.type, namespace: t.namespace, name: name)
        }
    }

    /// kube-apiserver's PatchOptions validation: an apply names its field manager; `force` is for applies only; a
    /// field manager is at most 128 printable characters. Failing it is 422 on `PatchOptions.meta.k8s.io`.
    static func validatePatchOptions(contentType: String, query: [String: String]) throws(APIFailure) {
        var causes: [StatusCause] = []
        let manager = query["fieldManager"] ?? ""
        if contentType == "application/apply-patch+yaml" {
            if manager.isEmpty { causes.append(StatusCause(reason: "FieldValueRequired", message: "Required value: is required for apply patch", field: "fieldManager")) }
        } else if query["force"] != nil {
            causes.append(StatusCause(reason: "FieldValueForbidden", message: "Forbidden: may not be specified for non-apply patch", field: "force"))
        }
        causes += validateFieldManager(manager)
        if !causes.isEmpty { throw .invalid(kind: "PatchOptions", group: "meta.k8s.io", name: "", causes: causes) }
    }

    /// A field manager: at most 128 characters, printable ones only.
    static func validateFieldManager(_ manager: String) -> [StatusCause] {
        if manager.utf8.count > 128 {
            return [StatusCause(reason: "FieldValueTooLong", message: "Too long: may not be more than 128 bytes", field: "fieldManager")]
        }
        // Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
        var i = 0  // the byte offset, as Go's range over a string counts
        for c in manager.unicodeScalars {
            defer { i += String(c).utf8.count }
            let printable: Bool = switch c.properties.generalCategory {
            case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator: false
            case .spaceSeparator: c == " "
            default: true
            }
            if !printable {
                let hex = String(c.value, radix: 16, uppercase: true)
                return [StatusCause(reason: "FieldValueInvalid",
                                    message: "Invalid value: \"\(manager)\": invalid character U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex) (at position \(i))",
                                    field: "fieldManager")]
            }
        }
        return []
    }

    /// A watch response: one JSON event per line, bookmarks when asked, ended at timeoutSeconds.
    func watch(_ t: Target, query: [String: String], table: Bool) async throws -> Response {
        let type = t.type
        let apiVersion = type.descriptor.group.isEmpty ? t.version : "\(type.descriptor.group)/\(t.version)"
        // Lines made once are shared between watchers of the same store: only for the store's own form.
        let eventsView = EventConversion.isEventsView(type)
        let plain = !table && t.version == type.descriptor.version && !eventsView
        let render: @Sendable (String, JSONValue) -> [UInt8] = { kind, stored in
            var object = eventsView && !table ? EventConversion.toEvents(stored) : stored
            object["apiVersion"] = .string(apiVersion)
            object["kind"] = .string(type.descriptor.kind)
            if table {
                object = TablePrinter.table(type, items: [object], listMeta: ["resourceVersion": object[path: ["metadata", "resourceVersion"]] ?? ""])
            }
            let event: JSONValue = ["type": .string(kind), "object": object]
            var line = event.serialized(sortedKeys: false)
            line.append(0x0A)
            return line
        }
        let channel = WatchChannel()
        let id = try await state.watch(type, namespace: t.namespace, labels: try query["labelSelector"].map(LabelSelectorQuery.init),
                                       fields: try fieldSelector(query, t), resourceVersion: query["resourceVersion"],
                                       channel: channel, plain: plain, render: render)
        let bookmarks = query["allowWatchBookmarks"] == "true"
        let timeout = query["timeoutSeconds"].flatMap(Int.init).map { Duration.seconds($0) } ?? .seconds(1800)
        let state = self.state
        let interval = bookmarkInterval
        // Ends the watch at its timeout and sends bookmarks meanwhile.
        let ticker = Task {
            let deadline = ContinuousClock.now + timeout
            while !Task.isCancelled {
                let wake = min(ContinuousClock.now + interval, deadline)
                try? await Task.sleep(until: wake, clock: .continuous)
                if Task.isCancelled { return }
                if ContinuousClock.now >= deadline { await state.stopWatch(id); return }
                if bookmarks {
                    let rv = await state.resourceVersion
                    let event: JSONValue = ["type": "BOOKMARK",
                                            "object": ["kind": .string(type.descriptor.kind), "apiVersion": .string(apiVersion),
                                                       "metadata": ["resourceVersion": .string(String(rv))]]]
                    var line = event.serialized(sortedKeys: false)
                    line.append(0x0A)
                    channel.send(line)
                }
            }
        }
        let headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-cache, private"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer {
                ticker.cancel()
                Task { await state.stopWatch(id) }
            }
            while var bytes = await channel.next() {
                // Let writers that are running right now add their events, then send them in one write.
                await Task.yield()
                bytes += channel.takePending()
                try await writer.write(ByteBuffer(bytes: bytes))
            }
            try await writer.finish(nil)
        })
    }

}
