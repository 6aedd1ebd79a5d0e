import HTTPTypes
import Hummingbird
import HummingbirdCore
import KubeClient
import KubeCore
import KubeRuntime
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The evaluation server: the original design's `/feature-flags` API and OpenFeature's Remote Evaluation Protocol
/// (OFREP), answered from the ``FlagCatalog`` in memory. It runs in every replica; it never calls the Kubernetes
/// API to evaluate (only `POST /feature-flags` does, with the caller's own token).
///
/// Namespaces: a request reads the flags of one namespace: the server's default (`--flags-namespace`), or the one
/// named by the header `X-Flag-Namespace` or the query parameter `namespace`; with API keys, the key's namespace
/// (naming another is refused with 403).
///
/// Guarantees: bodies are limited (``Options/maxBodyBytes``, 413 beyond), reading one is bounded by
/// ``Options/bodyTimeout`` (408), idle connections close after ``Options/idleTimeout``; no input gives a 5xx.
public struct FlagServer: Sendable {
    public struct Options: Sendable {
        /// Default 127.0.0.1 (0.0.0.0 in a pod).
        public var host = "127.0.0.1"
        /// Default 8013, flagd's port; 0 picks a free one.
        public var port = 8013
        /// The namespace a request reads when it names none. Default "default".
        public var defaultNamespace = "default"
        /// The largest request body accepted: 64 KiB (an evaluation context is a few hundred bytes).
        public var maxBodyBytes = 64 * 1024
        public var bodyTimeout: Duration = .seconds(10)
        /// A connection that sends nothing for this long is closed (also what ends a body that stops arriving).
        public var idleTimeout: Int64 = 15
        /// Serve `GET` and `POST /bench/constant/{key}`, a constant answer, to measure the server's ceiling
        /// (benchmarks only).
        public var constantRoute = false
        public init() {}
    }

    public let evaluator: FlagEvaluator
    public let options: Options
    /// API keys, when configured; nil: no key is asked for.
    public let apiKeys: APIKeys?
    /// The API server to create flags on (with each caller's token): `POST /feature-flags`.
    public let kubeConfiguration: ClientConfiguration?
    /// Answer times of each API (two histograms, not a dictionary looked up per request).
    let ofrepLatency = LatencyHistogram(), flagsLatency = LatencyHistogram()
    /// One transport for every `POST /feature-flags` (its TLS settings without the operator's client certificate),
    /// and a bound on how many run at once.
    let createTransport: CurlTransport?
    let creations = Gate(limit: 8)
    let logger: Logger

    public init(evaluator: FlagEvaluator, options: Options = Options(), apiKeys: APIKeys? = nil,
                kubeConfiguration: ClientConfiguration? = nil, registry: MetricsRegistry? = nil,
                logger: Logger = Logger(label: "salespot.flags.server")) {
        self.evaluator = evaluator
        self.options = options
        self.apiKeys = apiKeys
        self.kubeConfiguration = kubeConfiguration
        self.createTransport = kubeConfiguration.map { c in
            var tls = c.tls
            tls.clientIdentity = nil
            return CurlTransport(tls: tls, proxy: c.proxyURL)
        }
        self.logger = logger
        if let registry { evaluator.register(registry, latency: ["ofrep": ofrepLatency, "flags": flagsLatency]) }
    }

    /// A running server.
    public struct Handle: Sendable {
        public let port: Int
        let group: ServiceGroup
        public func stop() async { await group.triggerGracefulShutdown() }
    }

    /// Starts listening; returns once it does.
    public func start() async throws -> Handle {
        let router = Router()
        // Browsers (OpenFeature's web SDK with the OFREP provider) call from other origins.
        router.middlewares.add(CORSMiddleware(allowOrigin: .all,
                                              allowHeaders: [.accept, .authorization, .contentType, .origin, .ifNoneMatch, Self.namespaceHeader, Self.apiKeyHeader],
                                              allowMethods: [.get, .post, .options], exposedHeaders: ["ETag"], maxAge: .seconds(600)))
        addRoutes(router)
        let (ready, continuation) = AsyncStream<Int>.makeStream()
        var quiet = logger
        quiet.logLevel = .warning
        let app = Application(router: router, server: .http1(configuration: .init(idleTimeout: .seconds(options.idleTimeout))),
                              configuration: ApplicationConfiguration(address: .hostname(options.host, port: options.port), serverName: "salespot-flags"),
                              onServerRunning: { channel in
                                  continuation.yield(channel.localAddress?.port ?? 0)
                                  continuation.finish()
                              }, logger: quiet)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: quiet))
        let failed = Task {
            do { try await group.run() } catch {
                continuation.finish()
                throw error
            }
        }
        var bound = 0
        for await p in ready { bound = p }
        if bound == 0 {
            do { try await failed.value } catch {
                throw FlagServerError("the flag server could not listen on \(options.host):\(options.port): \(error)")
            }
            throw FlagServerError("the flag server could not listen on \(options.host):\(options.port)")
        }
        return Handle(port: bound, group: group)
    }

    func addRoutes(_ router: Router<BasicRequestContext>) {
        router.get("/feature-flags") { request, _ in timed { listFlags(request) } }
        router.get("/feature-flags/{key}") { request, context in timed { getFlag(request, key: context.parameters.get("key") ?? "") } }
        router.get("/feature-flags/{key}/value") { request, context in
            timed { flagValue(request, key: context.parameters.get("key") ?? "") }
        }
        router.post("/feature-flags") { request, _ in await createFlag(request) }
        router.post("/ofrep/v1/evaluate/flags/{key}") { request, context in
            let key = context.parameters.get("key") ?? ""
            let start = ContinuousClock.now
            let response = await ofrepSingle(request, key: key)
            ofrepLatency.observe(seconds: (ContinuousClock.now - start).seconds)
            return response
        }
        router.post("/ofrep/v1/evaluate/flags") { request, _ in
            let start = ContinuousClock.now
            let response = await ofrepBulk(request)
            ofrepLatency.observe(seconds: (ContinuousClock.now - start).seconds)
            return response
        }
        router.get("/ofrep/v1/configuration") { request, _ in ofrepConfiguration(request) }
        if options.constantRoute {
            let body = ByteBuffer(string: #"{"key":"constant","value":true,"reason":"STATIC","variant":"on"}"#)
            // Routes of the same shape as the real ones (a path parameter), so the ceiling pays the same routing.
            router.get("/bench/constant/{key}") { _, context in
                _ = context.parameters.get("key")
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: body))
            }
            router.post("/bench/constant/{key}") { request, context in
                // Reads the body as an evaluation does, then answers the same constant.
                _ = context.parameters.get("key")
                var r = request
                _ = try? await r.collectBody(upTo: 65536)
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: body))
            }
        }
    }

    /// Runs a handler of the original API, recording how long it took.
    func timed(_ body: () -> Response) -> Response {
        let start = ContinuousClock.now
        let response = body()
        flagsLatency.observe(seconds: (ContinuousClock.now - start).seconds)
        return response
    }

    // MARK: namespaces and keys

    /// The namespace a request reads, or the response refusing it.
    /// - Parameter query: the request's query parameters when the caller has parsed them already (each reading of
    ///   `uri.queryParameters` parses the query again).
    func namespace(_ request: Request, ofrep: Bool, keyed: Bool = true, query: FlatDictionary<Substring, Substring>? = nil) -> Outcome<String> {
        var asked: String? = request.headers[Self.namespaceHeader]
        if asked == nil, request.uri.query != nil {
            asked = (query ?? request.uri.queryParameters).get("namespace").map { String($0) }
        }
        if let asked, !Self.isNamespaceName(asked) {
            return .failure(Self.error(.badRequest, ofrep: ofrep, code: .invalidContext, "'\(asked.prefix(80))' is not a namespace name"))
        }
        guard keyed, let apiKeys else { return .success(asked ?? options.defaultNamespace) }
        var presented = request.headers[Self.apiKeyHeader]
        if presented == nil, let auth = request.headers[.authorization], auth.hasPrefix("Bearer ") { presented = String(auth.dropFirst(7)) }
        switch apiKeys.check(presented) {
        case .refused(let why):
            return .failure(Self.error(.unauthorized, ofrep: ofrep, code: .general, why))
        case .allowed(let bound?):
            if let asked, asked != bound {
                return .failure(Self.error(.forbidden, ofrep: ofrep, code: .general, "this API key reads namespace '\(bound)' only"))
            }
            return .success(bound)
        case .allowed(nil):
            return .success(asked ?? options.defaultNamespace)
        }
    }

    static let namespaceHeader = HTTPField.Name("X-Flag-Namespace")!
    static let apiKeyHeader = HTTPField.Name("X-API-Key")!

    static func isNamespaceName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 63 && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
            && s.utf8.first != 0x2d && s.utf8.last != 0x2d
    }

    // MARK: the original design's API

    /// A flag as `GET /feature-flags` shows it: its served definition and state.
    static func view(_ entry: FlagCatalog.Entry) -> JSONValue {
        var o = JSONObject()
        o["key"] = .string(entry.key)
        o["name"] = .string(entry.ref.name)
        o["namespace"] = .string(entry.ref.namespace)
        if let flag = entry.flag {
            o["type"] = .string(flag.type.rawValue)
            o["enabled"] = .bool(flag.enabled)
            o["defaultValue"] = flag.defaultValue ?? .null
            if let d = flag.description { o["description"] = .string(d) }
            o["rules"] = .int(Int64(flag.ruleCount))
            o["definition"] = flag.definition
        }
        o["generation"] = .int(entry.generation)
        if let served = entry.servedGeneration { o["servedGeneration"] = .int(served) }
        o["valid"] = .bool(entry.invalid == nil)
        if let invalid = entry.invalid { o["error"] = .string(invalid.message) }
        return .object(o)
    }

    func listFlags(_ request: Request) -> Response {
        switch namespace(request, ofrep: false) {
        case .failure(let refusal): return refusal
        case .success(let ns):
            return Self.json(.ok, .array(evaluator.catalog.entries(namespace: ns).map(Self.view)))
        }
    }

    func getFlag(_ request: Request, key: String) -> Response {
        switch namespace(request, ofrep: false) {
        case .failure(let refusal): return refusal
        case .success(let ns):
            guard let entry = evaluator.catalog.lookup(namespace: ns, key: key) else {
                return Self.error(.notFound, ofrep: false, code: .flagNotFound, "flag '\(key.prefix(128))' not found in namespace '\(ns)'")
            }
            return Self.json(.ok, Self.view(entry))
        }
    }

    func flagValue(_ request: Request, key: String) -> Response {
        let query = request.uri.queryParameters
        switch namespace(request, ofrep: false, query: query) {
        case .failure(let refusal): return refusal
        case .success(let ns):
            var attributes = JSONObject()
            for (name, value) in query where name != "namespace" {
                let n = name == "userId" ? "targetingKey" : String(name)
                if attributes[n] == nil { attributes[n] = .string(String(value)) }
            }
            return Self.answer(key: key, evaluator.evaluate(namespace: ns, key: key, context: EvaluationContext(attributes)))
        }
    }

    // MARK: OFREP

    /// The evaluation context of an OFREP request body (`{"context": {...}}`; an empty body is an empty context).
    func context(_ request: Request) async -> ContextOutcome {
        let buffer: ByteBuffer
        switch await readBody(request) {
        case .success(let b): buffer = b
        case .failure(let why): return .failure((.parseError, why))
        }
        if buffer.readableBytes == 0 { return .success(EvaluationContext()) }
        let body: JSONValue
        do { body = try JSONParser.parse(buffer.readableBytesView) } catch {
            return .failure((.parseError, "the body is not JSON: \(error)"))
        }
        guard let object = body.objectValue else { return .failure((.parseError, "the body is \(body.typeName), not an object with a context")) }
        switch object["context"] {
        case nil, .null?: return .success(EvaluationContext())
        case .object(let attributes)?:
            if let key = attributes["targetingKey"], !key.isNull, key.stringValue == nil {
                return .failure((.invalidContext, "context.targetingKey is \(key.typeName), not a string"))
            }
            return .success(EvaluationContext(attributes))
        case let other?:
            return .failure((.invalidContext, "context is \(other.typeName), not an object"))
        }
    }

    /// A context failure as a response: 408 and 413 for the transport's limits, else 400 with the OFREP error code.
    func contextFailure(_ failure: (ErrorCode, String), key: String?) -> Response {
        switch failure.1 {
        case "timeout": return Self.error(.requestTimeout, ofrep: true, code: .parseError, "the request body did not arrive within \(options.bodyTimeout)")
        case "too large": return Self.error(.contentTooLarge, ofrep: true, code: .parseError, "the request body is larger than \(options.maxBodyBytes) bytes")
        default:
            var o = JSONObject()
            if let key { o["key"] = .string(key) }
            o["errorCode"] = .string(failure.0.rawValue)
            o["errorDetails"] = .string(failure.1)
            return Self.json(.badRequest, .object(o))
        }
    }

    /// What every OFREP evaluation starts with: the namespace the request may read and its evaluation context.
    func ofrepRequest(_ request: Request, key: String?) async -> Outcome<(namespace: String, context: EvaluationContext)> {
        let ns: String
        switch namespace(request, ofrep: true) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let n): ns = n
        }
        switch await self.context(request) {
        case .failure(let f): return .failure(contextFailure(f, key: key))
        case .success(let c): return .success((ns, c))
        }
    }

    func ofrepSingle(_ request: Request, key: String) async -> Response {
        switch await ofrepRequest(request, key: key) {
        case .failure(let refusal): return refusal
        case .success(let r): return Self.answer(key: key, evaluator.evaluate(namespace: r.namespace, key: key, context: r.context))
        }
    }

    /// One evaluation as a response: 200, 404 for FLAG_NOT_FOUND, 400 for the other errors (OFREP's codes).
    static func answer(key: String, _ resolution: Resolution) -> Response {
        let status: HTTPResponse.Status = switch resolution.errorCode {
        case nil: .ok
        case .flagNotFound?: .notFound
        default: .badRequest
        }
        return json(status, ofrepResult(key: key, resolution))
    }

    func ofrepBulk(_ request: Request) async -> Response {
        let ns: String, context: EvaluationContext
        switch await ofrepRequest(request, key: nil) {
        case .failure(let refusal): return refusal
        case .success(let r): (ns, context) = (r.namespace, r.context)
        }
        var results: [JSONValue] = []
        for entry in evaluator.catalog.entries(namespace: ns) {
            let resolution = FlagEvaluator.resolve(entry, context: context, environment: evaluator.environment)
            entry.usage.record(resolution.reason)
            results.append(Self.ofrepResult(key: entry.key, resolution))
        }
        let body = JSONValue.object(["flags": .array(results)]).serialized(sortedKeys: false)
        let etag = "\"" + String(Self.fnv1a(body), radix: 16) + "\""
        if let match = request.headers[.ifNoneMatch], Self.matches(match, etag) {
            return Response(status: .notModified, headers: [.eTag: etag])
        }
        return Response(status: .ok, headers: [.contentType: "application/json", .eTag: etag],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// Whether an If-None-Match header names `etag` (a list, weak or strong, or `*`).
    static func matches(_ header: String, _ etag: String) -> Bool {
        header.split(separator: ",").contains { (item: Substring) -> Bool in
            var t = String(item.filter { $0 != " " && $0 != "\t" })
            if t.hasPrefix("W/") { t = String(t.dropFirst(2)) }
            return t == etag || t == "*"
        }
    }

    func ofrepConfiguration(_ request: Request) -> Response {
        if case .failure(let refusal) = namespace(request, ofrep: true) { return refusal }
        let config: JSONValue = [
            "name": "salespot-operator",
            "capabilities": [
                "cacheInvalidation": ["polling": ["enabled": true, "minPollingIntervalMs": 1000]],
                "flagEvaluation": ["supportedTypes": ["boolean", "string", "int", "float", "object"]],
            ],
        ]
        return Self.json(.ok, config)
    }

    /// One evaluation as OFREP writes it: key, value, reason, variant, metadata; or key, errorCode, errorDetails.
    static func ofrepResult(key: String, _ r: Resolution) -> JSONValue {
        var o = JSONObject()
        o["key"] = .string(key)
        if let code = r.errorCode {
            o["errorCode"] = .string(code.rawValue)
            if let details = r.errorDetails { o["errorDetails"] = .string(details) }
            return .object(o)
        }
        // No value: the caller's default applies (flagd form, disabled or without a default variant).
        if let value = r.value { o["value"] = value }
        o["reason"] = .string(r.reason.rawValue)
        o["variant"] = r.variant.map { .string($0) } ?? .null
        o["metadata"] = .object(r.metadata ?? [:])
        return .object(o)
    }

    // MARK: responses

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.serialized(sortedKeys: false))))
    }

    /// An error: OFREP's shape (`errorCode`, `errorDetails`) on its endpoints, `{"error": ...}` on the others.
    static func error(_ status: HTTPResponse.Status, ofrep: Bool, code: ErrorCode, _ message: String) -> Response {
        if ofrep { return json(status, ["errorCode": .string(code.rawValue), "errorDetails": .string(message)]) }
        return json(status, ["error": .string(message), "statusCode": .int(Int64(status.code))])
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }
}

/// A counter with a limit, for requests that are costly to run many at once.
final class Gate: Sendable {
    private let count = Mutex(0)
    let limit: Int
    init(limit: Int) { self.limit = limit }
    func enter() -> Bool { count.withLock { c in c < limit ? { c += 1; return true }() : false } }
    func leave() { count.withLock { $0 -= 1 } }
}

/// A value, or the response refusing the request.
enum Outcome<T> {
    case success(T)
    case failure(Response)
}

/// An evaluation context, or why the body has none.
enum ContextOutcome {
    case success(EvaluationContext)
    case failure((ErrorCode, String))
}

/// The flag server could not start.
public struct FlagServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A request body, or why it was refused ("too large", "timeout").
enum BodyOutcome {
    case success(ByteBuffer)
    case failure(String)
}

extension FlagServer {
    /// Reads a request body up to ``Options/maxBodyBytes``, refusing it once ``Options/bodyTimeout`` has passed
    /// since the request began: checked as each part arrives (no timer task per request: evaluations take
    /// microseconds), while the connection's idle timeout bounds the wait for the next part. So a sender dribbling
    /// a byte now and then is cut off after about bodyTimeout + idleTimeout.
    func readBody(_ request: Request) async -> BodyOutcome {
        let started = ContinuousClock.now
        var collected: ByteBuffer?
        do {
            for try await part in request.body {
                let size = (collected?.readableBytes ?? 0) + part.readableBytes
                guard size <= options.maxBodyBytes else { return .failure("too large") }
                if collected == nil {
                    collected = part  // the usual case: the whole body in one part, not copied
                } else {
                    collected!.writeImmutableBuffer(part)
                }
                if ContinuousClock.now - started > options.bodyTimeout { return .failure("timeout") }
            }
        } catch {
            return .failure(ContinuousClock.now - started > options.bodyTimeout ? "timeout" : "too large")
        }
        return .success(collected ?? ByteBuffer())
    }
}
