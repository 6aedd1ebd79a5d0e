import HTTPTypes
import Hummingbird
import KubeClient
import KubeCore
import NIOCore

extension FlagServer {
    /// The fields `POST /feature-flags` takes: the original design's (key, type, defaultValue, description) and
    /// the rest of the native spec, or `flagd`; plus `namespace` (default: the request's).
    static let createFields: Set<String> = ["key", "type", "defaultValue", "description", "enabled", "variants", "rules", "bucketing", "flagd", "namespace", "name"]

    /// `POST /feature-flags`: creates the FeatureFlag through the Kubernetes API with the caller's bearer token,
    /// so Kubernetes RBAC decides who may create flags. The body is validated as the controller validates first
    /// (400 with the reason, nothing created); the API server's refusal (401, 403, 409, 422) is passed on.
    func createFlag(_ request: Request) async -> Response {
        guard let kubeConfiguration else {
            return Self.error(.notImplemented, ofrep: false, code: .general, "this server creates no flags (it was started without a Kubernetes API server)")
        }
        guard let auth = request.headers[.authorization], auth.hasPrefix("Bearer "), auth.count > 7 else {
            return Self.json(.unauthorized, ["error": "a bearer token is required: the flag is created with your own Kubernetes identity (Authorization: Bearer TOKEN)",
                                             "statusCode": 401], headers: [.wwwAuthenticate: "Bearer"])
        }
        let token = String(auth.dropFirst(7))
        let buffer: ByteBuffer
        switch await readBody(request) {
        case .success(let b): buffer = b
        case .failure("timeout"):
            return Self.error(.requestTimeout, ofrep: false, code: .parseError, "the request body did not arrive within \(options.bodyTimeout)")
        case .failure:
            return Self.error(.contentTooLarge, ofrep: false, code: .parseError, "the request body is larger than \(options.maxBodyBytes) bytes")
        }
        let body: JSONValue
        do { body = try JSONParser.parse(buffer.readableBytesView) } catch {
            return Self.error(.badRequest, ofrep: false, code: .parseError, "the body is not JSON: \(error)")
        }
        guard var fields = body.objectValue else {
            return Self.error(.badRequest, ofrep: false, code: .parseError, "the body must be a JSON object (key, type, defaultValue, description, ...)")
        }
        let unknown = fields.keys.filter { !Self.createFields.contains($0) }
        guard unknown.isEmpty else {
            return Self.error(.badRequest, ofrep: false, code: .parseError,
                              "unknown field(s) \(unknown.sorted().joined(separator: ", ")); known: \(Self.createFields.sorted().joined(separator: ", "))")
        }
        guard case .string(let key)? = fields["key"] else {
            return Self.error(.badRequest, ofrep: false, code: .parseError, "key is required (a string)")
        }
        let namespace: String
        // Who may create is the API server's decision (the caller's token), not an API key's.
        switch self.namespace(request, ofrep: false, keyed: false) {
        case .failure(let refusal): return refusal
        case .success(let ns):
            if let asked = fields["namespace"] {
                guard case .string(let n) = asked, Self.isNamespaceName(n) else {
                    return Self.error(.badRequest, ofrep: false, code: .parseError, "namespace must be a namespace name")
                }
                namespace = n
            } else {
                namespace = ns
            }
        }
        // The object is named after the key unless a name is given; either must be a valid object name.
        let name = fields["name"]?.stringValue ?? key
        guard Self.isObjectName(name) else {
            return Self.error(.badRequest, ofrep: false, code: .parseError,
                              "'\(name.prefix(80))' cannot name a FeatureFlag (lower-case letters, digits, '-' and '.'): give a name field, the key stays \(key)")
        }
        fields["namespace"] = nil
        fields["name"] = nil
        if name == key { fields["key"] = nil }
        let spec: FeatureFlag.Spec
        do { spec = try JSONValueDecoder().decode(FeatureFlag.Spec.self, from: .object(fields)) } catch {
            return Self.error(.badRequest, ofrep: false, code: .parseError, "the body does not describe a flag: \(error)")
        }
        do { _ = try CompiledFlag.compile(spec, name: name) } catch {
            return Self.error(.badRequest, ofrep: false, code: .general, "invalid flag (\(error.reason)): \(error.message)")
        }
        // The caller's identity only: the operator's own client certificate must not go with it (kube-apiserver would
        // authenticate the certificate first, and the flag would be created as the operator).
        var config = kubeConfiguration
        config.auth = .token(token)
        config.tls.clientIdentity = nil
        guard creations.enter() else {
            return Self.json(.tooManyRequests, ["error": "too many flag creations at once; retry", "statusCode": 429], headers: [.retryAfter: "1"])
        }
        defer { creations.leave() }
        let flag = FeatureFlag(metadata: ObjectMeta(name: name, namespace: namespace), spec: spec)
        do {
            let created = try await Api<FeatureFlag>(KubeClient(configuration: config, transport: createTransport), namespace: namespace)
                .create(flag, fieldManager: "salespot-flags-api")
            var view = JSONObject()
            view["key"] = .string(created.key)
            view["name"] = .string(created.metadata.name ?? name)
            view["namespace"] = .string(namespace)
            view["generation"] = .int(created.metadata.generation ?? 1)
            view["spec"] = (try? JSONValueEncoder().encode(created.spec)) ?? .null
            return Self.json(.created, .object(view))
        } catch let error as KubeError {
            guard let code = error.code else {
                return Self.error(.badGateway, ofrep: false, code: .general, "the Kubernetes API server could not be reached")
            }
            // The API server's own refusal, as it gave it (401, 403, 409 AlreadyExists, 422 Invalid, ...).
            let message = error.status?.message ?? "\(error)"
            return Self.json(HTTPResponse.Status(code: code), ["error": .string(message), "statusCode": .int(Int64(code)),
                                                               "reason": .string(error.status?.reason ?? "")])
        } catch {
            return Self.error(.badGateway, ofrep: false, code: .general, "the Kubernetes API server could not be reached")
        }
    }

    /// A DNS subdomain (RFC 1123), as object names are.
    static func isObjectName(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
                && part.utf8.first != 0x2d && part.utf8.last != 0x2d
        }
    }
}
