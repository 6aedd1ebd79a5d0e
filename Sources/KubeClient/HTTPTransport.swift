import KubeCore

/// HTTP headers: case-insensitive names, order kept.
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [(name: String, value: String)] = []

    public init() {}
    public init(dictionaryLiteral elements: (String, String)...) {
        for (n, v) in elements { add(n, v) }
    }

    /// Appends a header.
    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }
    /// Replaces every header of that name.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }
    /// Removes every header of that name.
    public mutating func remove(_ name: String) {
        let lower = name.lowercased()
        fields.removeAll { $0.name.lowercased() == lower }
    }
    /// The first value of that header.
    public subscript(name: String) -> String? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }?.value
    }
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }
    public static func == (a: HTTPHeaders, b: HTTPHeaders) -> Bool {
        a.fields.elementsEqual(b.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}

/// A client certificate and key, PEM-encoded.
public struct TLSIdentity: Sendable, Hashable {
    public var certificatePEM: [UInt8]
    public var keyPEM: [UInt8]
    public init(certificatePEM: [UInt8], keyPEM: [UInt8]) {
        self.certificatePEM = certificatePEM
        self.keyPEM = keyPEM
    }
}

/// One HTTP request as the client hands it to a transport.
public struct HTTPRequest: Sendable {
    public var method: String
    /// Absolute URL.
    public var url: String
    public var headers: HTTPHeaders
    public var body: [UInt8]?
    /// Whole-request timeout for buffered requests; `nil` is none. Default 60 s is set by the client.
    public var timeout: Duration?
    /// For streams: abort when nothing arrives for this long (detects dead connections). `nil` is never.
    public var idleTimeout: Duration?
    /// A client certificate to present for this request (from an exec plugin), over the transport's own.
    public var clientIdentity: TLSIdentity?
    /// Connect to another address than the URL's host: `HOST:PORT:CONNECT-HOST:CONNECT-PORT` entries (libcurl's
    /// CONNECT_TO), e.g. to reach `svc.ns.svc:80` on a loopback port in tests and dev mode.
    public var connectTo: [String] = []

    public init(method: String, url: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8]? = nil,
                timeout: Duration? = nil, idleTimeout: Duration? = nil, clientIdentity: TLSIdentity? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.idleTimeout = idleTimeout
        self.clientIdentity = clientIdentity
    }
}

/// A complete HTTP response.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The negotiated protocol: `HTTP/1.1` or `HTTP/2`.
    public var httpVersion: String
    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], httpVersion: String = "HTTP/1.1") {
        self.status = status
        self.headers = headers
        self.body = body
        self.httpVersion = httpVersion
    }
}

/// A response whose body arrives in chunks, for watches. Chunk boundaries are arbitrary.
public struct HTTPStreamingResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: AsyncThrowingStream<[UInt8], any Error>
    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: AsyncThrowingStream<[UInt8], any Error>) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Reads the whole body (for error responses).
    public func collect(limit: Int = 1 << 20) async throws -> [UInt8] {
        var out: [UInt8] = []
        for try await chunk in body {
            out.append(contentsOf: chunk)
            if out.count >= limit { break }
        }
        return out
    }
}

/// The seam between the client and the network: libcurl in production, a scripted transport in tests.
///
/// Errors thrown are ``KubeError/transport(_:)``; HTTP error statuses are returned, not thrown.
public protocol HTTPTransport: Sendable {
    /// Sends a request and returns the whole response.
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
    /// Sends a request and returns as soon as the response head has arrived; the body streams.
    /// Cancelling the consuming task, or dropping the stream, aborts the transfer.
    func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse
}
