#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeCore
import Logging
import Synchronization

/// A connection to one Kubernetes API server: configuration, authentication, retries and error mapping over an
/// ``HTTPTransport``. Use ``Api`` for typed resource operations.
///
/// Guarantees: every non-2xx answer becomes a ``KubeError`` that keeps the server's Status; 429 and 5xx answers that
/// carry Retry-After are retried after that delay, up to ``maxRetries`` times (client-go's default is 10); a 401 with a
/// refreshable credential (token file, exec plugin) refreshes it and retries once.
public final class KubeClient: Sendable {
    /// client-go's default number of Retry-After retries.
    public static let defaultMaxRetries = 10
    /// Longest Retry-After honoured; longer requests are capped (a misbehaving proxy should not park a controller).
    public static let maxRetryAfter: Duration = .seconds(60)
    /// Default timeout of a non-watch request.
    public static let defaultRequestTimeout: Duration = .seconds(60)

    public let configuration: ClientConfiguration
    public let transport: any HTTPTransport
    public let authenticator: Authenticator
    public let maxRetries: Int
    public let requestTimeout: Duration
    /// Value of the User-Agent header.
    public let userAgent: String
    let sleep: @Sendable (Duration) async throws -> Void
    let observer: (@Sendable (RequestRecord) -> Void)?
    let logger: Logger
    /// Server warnings already logged (each is logged once per client, as kubectl deduplicates them).
    let warned = Mutex(Set<String>())

    /// What the client reports after each HTTP exchange, for metrics such as `rest_client_requests_total`.
    public struct RequestRecord: Sendable {
        public var method: String
        /// HTTP status, or `"<error>"` when there was none (client-go's label value).
        public var code: String
        public var host: String
        public var duration: Duration
    }

    /// - Parameters:
    ///   - transport: defaults to a ``CurlTransport`` built from the configuration's TLS and proxy settings.
    ///   - clock: used for Retry-After waits; inject a manual clock in tests.
    ///   - observer: called after every HTTP exchange.
    public init(configuration: ClientConfiguration, transport: (any HTTPTransport)? = nil,
                authenticator: Authenticator? = nil,
                clock: some Clock<Duration> = ContinuousClock(), maxRetries: Int = KubeClient.defaultMaxRetries,
                requestTimeout: Duration = KubeClient.defaultRequestTimeout,
                userAgent: String = "salespot-operator",
                observer: (@Sendable (RequestRecord) -> Void)? = nil,
                logger: Logger = Logger(label: "salespot.kubeclient")) {
        self.configuration = configuration
        self.transport = transport ?? CurlTransport(tls: configuration.tls, proxy: configuration.proxyURL)
        self.authenticator = authenticator ?? Authenticator(method: configuration.auth, server: configuration.server,
                                                            caPEM: configuration.tls.caPEM)
        self.sleep = { try await clock.sleep(for: $0) }
        self.maxRetries = maxRetries
        self.requestTimeout = requestTimeout
        self.userAgent = userAgent
        self.observer = observer
        self.logger = logger
    }

    /// Loads the configuration (see ``ConfigLoader``) and builds a client over libcurl.
    public static func fromEnvironment(kubeconfig: String? = nil, context: String? = nil,
                                       namespace: String? = nil) throws -> KubeClient {
        KubeClient(configuration: try ConfigLoader().load(explicitPath: kubeconfig, context: context, namespace: namespace))
    }

    /// The default namespace of the configuration.
    public var defaultNamespace: String { configuration.namespace }

    /// Builds a URL from a path and query items, percent-encoding the query.
    public func url(path: String, query: [(String, String)] = []) -> String {
        var url = configuration.server + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.encodeQuery($0.0))=\(Self.encodeQuery($0.1))" }.joined(separator: "&")
        }
        return url
    }

    static func encodeQuery(_ s: String) -> String { s.percentEncoded }

    /// Encodes one path segment (an object name or namespace).
    public static func encodePathSegment(_ s: String) -> String { s.percentEncoded }

    /// Sends a request and returns the 2xx response, or throws the mapped ``KubeError``.
    public func send(method: String, path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
                     contentType: String? = nil, accept: String = "application/json") async throws -> HTTPResponse {
        let url = self.url(path: path, query: query)
        let timeout = requestTimeout
        return try await exchange(method: method, path: path, metricMethod: method, build: { creds in
            var request = HTTPRequest(method: method, url: url, body: body, timeout: timeout, clientIdentity: creds.clientIdentity)
            request.headers.add("Accept", accept)
            if let contentType { request.headers.add("Content-Type", contentType) }
            return request
        }, perform: { try await self.transport.send($0) }, status: \.status, headers: \.headers, failure: { ($0.body, $0.headers) })
    }

    /// Sends a streaming request (watch); returns once the response head is in. Errors as ``send(method:path:query:body:contentType:accept:)``.
    public func stream(method: String = "GET", path: String, query: [(String, String)] = [],
                       idleTimeout: Duration? = nil) async throws -> HTTPStreamingResponse {
        let url = self.url(path: path, query: query)
        return try await exchange(method: method, path: path, metricMethod: "WATCH", build: { creds in
            var request = HTTPRequest(method: method, url: url, idleTimeout: idleTimeout, clientIdentity: creds.clientIdentity)
            request.headers.add("Accept", "application/json")
            return request
        }, perform: { try await self.transport.stream($0) }, status: \.status, headers: \.headers,
           failure: { ((try? await $0.collect()) ?? [], $0.headers) })
    }

    /// One request with the client's guarantees: credentials, metrics, error mapping, a refresh and retry after a
    /// 401 when the credential can be refreshed, and Retry-After retries.
    private func exchange<R: Sendable>(method: String, path: String, metricMethod: String,
                                       build: (Authenticator.Credentials) -> HTTPRequest,
                                       perform: (HTTPRequest) async throws -> R,
                                       status: (R) -> Int,
                                       headers: (R) -> HTTPHeaders,
                                       failure: (R) async -> ([UInt8], HTTPHeaders)) async throws -> R {
        var attempt = 0
        var refreshedAfter401 = false
        while true {
            let creds = try await authenticator.credentials()
            var request = build(creds)
            request.headers.add("User-Agent", userAgent)
            if let auth = creds.authorization { request.headers.add("Authorization", auth) }
            let started = ContinuousClock.now
            let response: R
            do {
                response = try await perform(request)
            } catch {
                record(metricMethod, "<error>", started)
                throw error
            }
            let code = status(response)
            record(metricMethod, String(code), started)
            logWarnings(headers(response), method: method, path: path)
            if (200..<300).contains(code) { return response }
            let (body, headers) = await failure(response)
            let error = KubeError.fromResponse(code: code, body: body, headers: headers, method: method, path: path)
            if code == 401, !refreshedAfter401, await authenticator.canRefresh {
                refreshedAfter401 = true
                await authenticator.invalidate()
                continue
            }
            if let wait = retryDelay(for: error, status: code), attempt < maxRetries {
                attempt += 1
                logger.debug("retrying after the server asked to wait", metadata: [
                    "method": .string(method), "code": .stringConvertible(code),
                    "attempt": .stringConvertible(attempt), "wait": .stringConvertible(wait)])
                try await sleep(wait)
                continue
            }
            throw error
        }
    }

    /// Logs the server's `Warning: 299 - "text"` headers (unknown fields it dropped, deprecated APIs), each text
    /// once, as client-go's default warning handler does: a write whose fields the server ignores should be seen.
    func logWarnings(_ headers: HTTPHeaders, method: String, path: String) {
        for field in headers.fields where field.name.lowercased() == "warning" {
            let text = Self.warningText(field.value)
            guard warned.withLock({ w in w.count < 1024 && w.insert(text).inserted }) else { continue }
            logger.warning("the API server warned: \(text)", metadata: ["method": .string(method), "path": .string(path)])
        }
    }

    /// The text of an RFC 7234 warning value (`299 - "text"`, the text a quoted string), or the value itself.
    static func warningText(_ value: String) -> String {
        guard let open = value.firstIndex(of: "\""), value.hasSuffix("\""), value.index(after: open) < value.endIndex else { return value }
        var out = ""
        var escaped = false
        for c in value[value.index(after: open)..<value.index(before: value.endIndex)] {
            if escaped { out.append(c); escaped = false } else if c == "\\" { escaped = true } else { out.append(c) }
        }
        return out
    }

    /// The wait before retrying: the server's Retry-After on 429 or 5xx, capped at ``maxRetryAfter``; `nil` means
    /// do not retry here (the caller's own backoff handles other retryable errors).
    func retryDelay(for error: KubeError, status: Int) -> Duration? {
        guard status == 429 || status >= 500, let wait = error.retryAfter else { return nil }
        return min(wait, Self.maxRetryAfter)
    }

    private func record(_ method: String, _ code: String, _ started: ContinuousClock.Instant) {
        guard let observer else { return }
        let host = URLComponents(string: configuration.server)?.host ?? configuration.server
        observer(RequestRecord(method: method, code: code, host: host, duration: ContinuousClock.now - started))
    }

    /// Decodes a JSON response body into `T`, keeping the raw JSON for read-modify-write.
    func decodeObject<T: KubernetesObject>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        do { return try T.decodePreserving(try JSONParser.parse(body)) } catch {
            throw KubeError.decoding("\(T.self): \(error)")
        }
    }

    /// Reads `/version`.
    public func serverVersion() async throws -> JSONValue {
        let r = try await send(method: "GET", path: "/version")
        do { return try JSONParser.parse(r.body) } catch { throw KubeError.decoding("/version: \(error)") }
    }
}
