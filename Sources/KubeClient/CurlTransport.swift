import CCurl
import Foundation
import KubeCore
import Synchronization

/// The production ``HTTPTransport``: libcurl's multi interface driven by one I/O thread.
///
/// Guarantees: TLS verification is on unless ``TLSConfiguration/insecureSkipVerify`` says otherwise; connections are
/// reused across requests (one connection cache per transport); HTTP/2 is negotiated over TLS when the server offers
/// it, with streams multiplexed on one connection; gzip, brotli and zstd responses are decompressed; a connect timeout
/// (default 10 s) applies to every request. Any number of concurrent requests and watches cost no threads beyond the
/// one I/O thread.
///
/// Caveat: a streamed body is buffered without bound if its consumer stops reading.
public final class CurlTransport: HTTPTransport {
    /// Default connect timeout, as client-go's dialer (which uses 30 s; we fail faster on loopback and in-cluster).
    public static let defaultConnectTimeout: Duration = .seconds(10)

    let engine: CurlEngine
    public let tls: TLSConfiguration
    /// Proxy URL (`http://`, `https://`, `socks5://`), or `nil` for none.
    public let proxy: String?
    public let connectTimeout: Duration

    public init(tls: TLSConfiguration = TLSConfiguration(), proxy: String? = nil,
                connectTimeout: Duration = CurlTransport.defaultConnectTimeout) {
        self.tls = tls
        self.proxy = proxy
        self.connectTimeout = connectTimeout
        self.engine = CurlEngine()
    }

    deinit { engine.stop() }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let transfer = try CurlTransfer(request: request, transport: self, streaming: false)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<HTTPResponse, any Error>) in
                transfer.setBufferedContinuation(c)
                engine.submit(transfer)
            }
        } onCancel: {
            engine.cancel(transfer)
        }
    }

    public func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse {
        let transfer = try CurlTransfer(request: request, transport: self, streaming: true)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<HTTPStreamingResponse, any Error>) in
                transfer.setHeadContinuation(c, engine: engine)
                engine.submit(transfer)
            }
        } onCancel: {
            engine.cancel(transfer)
        }
    }
}

/// Initialises libcurl once per process.
let curlGlobalInit: Void = {
    curl_global_init(Int(CURL_GLOBAL_DEFAULT))
}()

/// The multi handle and the thread that drives it. Only that thread touches the multi handle and the easy handles
/// while they are attached; other threads hand work over under a lock and wake it with `curl_multi_wakeup`.
final class CurlEngine: @unchecked Sendable {
    private let multi: UnsafeMutableRawPointer
    private struct Inbox {
        var toAdd: [CurlTransfer] = []
        var toCancel: [CurlTransfer] = []
        var stopping = false
    }
    private let inbox = Mutex(Inbox())
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]  // keyed by easy handle; loop thread only
    private let thread: Thread?

    init() {
        _ = curlGlobalInit
        multi = curl_multi_init()
        // Multiplex HTTP/2 streams over one connection instead of opening one per request.
        salespot_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        salespot_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 32)
        let box = UnsafeTransfer<CurlEngine?>(nil)
        let t = Thread { box.value?.loop() }
        t.name = "salespot-curl"
        thread = t
        box.value = self
        t.start()
    }

    func submit(_ transfer: CurlTransfer) {
        inbox.withLock { $0.toAdd.append(transfer) }
        curl_multi_wakeup(multi)
    }

    func cancel(_ transfer: CurlTransfer) {
        inbox.withLock { $0.toCancel.append(transfer) }
        curl_multi_wakeup(multi)
    }

    func stop() {
        inbox.withLock { $0.stopping = true }
        curl_multi_wakeup(multi)
    }

    private func loop() {
        var running: Int32 = 0
        while true {
            let (adds, cancels, stopping) = inbox.withLock { box -> ([CurlTransfer], [CurlTransfer], Bool) in
                defer { box.toAdd = []; box.toCancel = [] }
                return (box.toAdd, box.toCancel, box.stopping)
            }
            for t in adds {
                if t.isCancelled { t.finish(code: CURLE_ABORTED_BY_CALLBACK); continue }
                active[t.easy] = t
                curl_multi_add_handle(multi, t.easy)
            }
            for t in cancels {
                t.isCancelled = true
                if active.removeValue(forKey: t.easy) != nil {
                    curl_multi_remove_handle(multi, t.easy)
                    t.finish(code: CURLE_ABORTED_BY_CALLBACK)
                }
            }
            if stopping {
                for (_, t) in active {
                    curl_multi_remove_handle(multi, t.easy)
                    t.finish(code: CURLE_ABORTED_BY_CALLBACK)
                }
                active.removeAll()
                curl_multi_cleanup(multi)
                return
            }
            curl_multi_perform(multi, &running)
            var remaining: Int32 = 0
            while let msg = curl_multi_info_read(multi, &remaining) {
                guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle else { continue }
                let code = msg.pointee.data.result
                curl_multi_remove_handle(multi, easy)
                if let t = active.removeValue(forKey: easy) { t.finish(code: code) }
            }
            // Sleeps until a socket is ready, a timer is due, or another thread calls curl_multi_wakeup.
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }
}

/// Lets a value cross into the engine thread's closure before `self` is fully set up.
final class UnsafeTransfer<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// One request on the wire: its easy handle, its buffers, and whoever waits for it.
final class CurlTransfer: @unchecked Sendable {
    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private let method: String
    private let url: String
    let streaming: Bool
    // Loop-thread state.
    var isCancelled = false
    private var responseHeaders = HTTPHeaders()
    private var body: [UInt8] = []
    private var headDelivered = false
    private var finished = false
    private var buffered: CheckedContinuation<HTTPResponse, any Error>?
    private var head: CheckedContinuation<HTTPStreamingResponse, any Error>?
    private var chunks: AsyncThrowingStream<[UInt8], any Error>.Continuation?
    private var stream: AsyncThrowingStream<[UInt8], any Error>?

    init(request: HTTPRequest, transport: CurlTransport, streaming: Bool) throws {
        _ = curlGlobalInit
        guard let easy = curl_easy_init() else {
            throw KubeError.transport(TransportError(kind: .other, message: "curl_easy_init failed"))
        }
        self.easy = easy
        self.method = request.method
        self.url = request.url
        self.streaming = streaming
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        try configure(request, transport)
    }

    deinit {
        curl_easy_cleanup(easy)
        if let headerList { curl_slist_free_all(headerList) }
        errorBuffer.deallocate()
    }

    private func check(_ code: CURLcode, _ what: String) throws {
        guard code == CURLE_OK else {
            throw KubeError.transport(TransportError(
                kind: .invalidRequest, message: "\(what): \(String(cString: curl_easy_strerror(code)))",
                curlCode: Int(code.rawValue)))
        }
    }

    private func configure(_ request: HTTPRequest, _ transport: CurlTransport) throws {
        let tls = transport.tls
        var url = request.url
        try check(salespot_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), "error buffer")
        try check(salespot_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1), "nosignal")
        try check(salespot_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1), "keepalive")
        try check(salespot_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS)), "http version")
        try check(salespot_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, ""), "accept-encoding")
        try check(salespot_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, transport.connectTimeout.milliseconds), "connect timeout")
        if !streaming, let timeout = request.timeout {
            try check(salespot_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeout.milliseconds), "timeout")
        }
        if streaming, let idle = request.idleTimeout {
            // Less than one byte a second for `idle` seconds aborts the transfer: a dead connection.
            try check(salespot_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1), "low speed limit")
            try check(salespot_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, max(1, idle.milliseconds / 1000)), "low speed time")
        }
        // TLS.
        if tls.insecureSkipVerify {
            try check(salespot_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 0), "verify peer")
            try check(salespot_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 0), "verify host")
        } else {
            try check(salespot_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1), "verify peer")
            try check(salespot_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2), "verify host")
        }
        if let ca = tls.caPEM {
            try ca.withUnsafeBytes { try check(salespot_easy_setopt_blob(easy, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count), "CA data") }
        } else if let caFile = tls.caFile {
            try check(salespot_easy_setopt_string(easy, CURLOPT_CAINFO, caFile), "CA file")
        }
        if let identity = request.clientIdentity ?? tls.clientIdentity {
            try check(salespot_easy_setopt_string(easy, CURLOPT_SSLCERTTYPE, "PEM"), "cert type")
            try identity.certificatePEM.withUnsafeBytes {
                try check(salespot_easy_setopt_blob(easy, CURLOPT_SSLCERT_BLOB, $0.baseAddress, $0.count), "client certificate")
            }
            try check(salespot_easy_setopt_string(easy, CURLOPT_SSLKEYTYPE, "PEM"), "key type")
            try identity.keyPEM.withUnsafeBytes {
                try check(salespot_easy_setopt_blob(easy, CURLOPT_SSLKEY_BLOB, $0.baseAddress, $0.count), "client key")
            }
        }
        if let serverName = tls.serverName, let parts = URLParts(url), parts.host != serverName {
            // Verify against (and send SNI for) tls-server-name while connecting to the real host: the URL names the
            // TLS name, and CONNECT_TO routes that name to the configured address.
            url = parts.replacingHost(with: serverName)
            let mapping = "\(serverName):\(parts.port):\(parts.hostForConnectTo):\(parts.port)"
            headerScratch = curl_slist_append(nil, mapping)
            try check(salespot_easy_setopt_slist(easy, CURLOPT_CONNECT_TO, headerScratch), "connect-to")
        }
        if let proxy = transport.proxy {
            try check(salespot_easy_setopt_string(easy, CURLOPT_PROXY, proxy), "proxy")
        }
        try check(salespot_easy_setopt_string(easy, CURLOPT_URL, url), "url")
        // Method and body.
        switch request.method {
        case "GET" where request.body == nil:
            try check(salespot_easy_setopt_long(easy, CURLOPT_HTTPGET, 1), "GET")
        case "HEAD":
            try check(salespot_easy_setopt_long(easy, CURLOPT_NOBODY, 1), "HEAD")
        default:
            let body = request.body ?? []
            try check(salespot_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)), "body size")
            try body.withUnsafeBytes { buf in
                // COPYPOSTFIELDS copies, so the bytes need not outlive this call.
                var empty: UInt8 = 0
                let base = buf.baseAddress ?? withUnsafeMutablePointer(to: &empty) { UnsafeRawPointer($0) }
                try check(salespot_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base)), "body")
            }
            try check(salespot_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method), "method")
        }
        // Headers. "Expect:" stops libcurl from waiting for 100-continue on larger bodies.
        var list: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Expect:")
        for (name, value) in request.headers { list = curl_slist_append(list, "\(name): \(value)") }
        headerList = list
        try check(salespot_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list), "headers")
        // Callbacks get this transfer through their user-data pointer; the engine keeps it alive while attached.
        let me = Unmanaged.passUnretained(self).toOpaque()
        try check(salespot_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, me), "header data")
        try check(salespot_easy_setopt_data_cb(easy, CURLOPT_HEADERFUNCTION, curlHeaderCallback), "header callback")
        try check(salespot_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, me), "write data")
        try check(salespot_easy_setopt_data_cb(easy, CURLOPT_WRITEFUNCTION, curlWriteCallback), "write callback")
    }

    private var headerScratch: UnsafeMutablePointer<curl_slist>? {
        didSet { if let oldValue { curl_slist_free_all(oldValue) } }
    }

    func setBufferedContinuation(_ c: CheckedContinuation<HTTPResponse, any Error>) { buffered = c }

    func setHeadContinuation(_ c: CheckedContinuation<HTTPStreamingResponse, any Error>, engine: CurlEngine) {
        head = c
        let (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        self.stream = stream
        chunks = continuation
        continuation.onTermination = { [weak self, weak engine] reason in
            // The consumer went away: stop the transfer.
            if case .cancelled = reason, let self, let engine { engine.cancel(self) }
        }
    }

    var statusCode: Int {
        var code: Int = 0
        salespot_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    var negotiatedVersion: String {
        var v: Int = 0
        salespot_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &v)
        switch v {
        case Int(CURL_HTTP_VERSION_2_0): return "HTTP/2"
        case Int(CURL_HTTP_VERSION_3): return "HTTP/3"
        case Int(CURL_HTTP_VERSION_1_0): return "HTTP/1.0"
        default: return "HTTP/1.1"
        }
    }

    func onHeaderLine(_ line: String) {
        if line.hasPrefix("HTTP/") {
            responseHeaders = HTTPHeaders()  // a new response (after 100 Continue or a proxy CONNECT)
            return
        }
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            let code = statusCode
            if streaming, code >= 200, !headDelivered, let stream {
                headDelivered = true
                head?.resume(returning: HTTPStreamingResponse(status: code, headers: responseHeaders, body: stream))
                head = nil
            }
            return
        }
        if let colon = trimmed.firstIndex(of: ":") {
            responseHeaders.add(String(trimmed[..<colon]), trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }

    func onData(_ bytes: UnsafeRawBufferPointer) {
        if streaming { chunks?.yield([UInt8](bytes)) } else { body.append(contentsOf: bytes) }
    }

    func finish(code: CURLcode) {
        guard !finished else { return }
        finished = true
        var error: KubeError?
        if code != CURLE_OK {
            let detail = String(cString: errorBuffer)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            error = .transport(TransportError(kind: isCancelled ? .cancelled : Self.kind(of: code),
                                              message: "\(method) \(url): \(message)", curlCode: Int(code.rawValue)))
        }
        if let buffered {
            self.buffered = nil
            if let error { buffered.resume(throwing: error) }
            else {
                buffered.resume(returning: HTTPResponse(status: statusCode, headers: responseHeaders, body: body,
                                                        httpVersion: negotiatedVersion))
            }
            return
        }
        if let head {
            self.head = nil
            if let error { head.resume(throwing: error) }
            else {
                // The body ended before the head was handed out (e.g. an empty response).
                chunks?.finish()
                head.resume(returning: HTTPStreamingResponse(status: statusCode, headers: responseHeaders, body: stream!))
            }
        } else if isCancelled {
            chunks?.finish()
        } else {
            chunks?.finish(throwing: error)
        }
        chunks = nil
    }

    static func kind(of code: CURLcode) -> TransportError.Kind {
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .connectionFailed
        case CURLE_OPERATION_TIMEDOUT: return .timedOut
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2,
             CURLE_HTTP2_STREAM: return .connectionReset
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH: return .tls
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: return .invalidRequest
        case CURLE_ABORTED_BY_CALLBACK: return .cancelled
        default: return .other
        }
    }
}

private func curlHeaderCallback(_ ptr: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    let n = size * count
    guard let ptr, let user else { return n }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: n), as: UTF8.self)
    transfer.onHeaderLine(line)
    return n
}

private func curlWriteCallback(_ ptr: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    let n = size * count
    guard let ptr, let user else { return n }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    transfer.onData(UnsafeRawBufferPointer(start: ptr, count: n))
    return n
}

extension Duration {
    /// Whole milliseconds, rounded up, for libcurl's `_MS` options.
    var milliseconds: Int {
        let (s, atto) = components
        return Int(s) * 1000 + Int((atto + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}

/// The pieces of an http(s) URL needed to re-target it for tls-server-name.
struct URLParts {
    var scheme: String
    var host: String
    var port: Int
    var rest: String

    init?(_ url: String) {
        guard let c = URLComponents(string: url), let scheme = c.scheme, let host = c.host else { return nil }
        self.scheme = scheme
        self.host = host
        port = c.port ?? (scheme == "https" ? 443 : 80)
        let authorityEnd = url.range(of: "://").map { url[$0.upperBound...] } ?? Substring(url)
        rest = authorityEnd.firstIndex(of: "/").map { String(authorityEnd[$0...]) } ?? ""
    }

    /// The host as CONNECT_TO wants it (IPv6 in brackets).
    var hostForConnectTo: String { host.contains(":") ? "[\(host)]" : host }

    func replacingHost(with name: String) -> String { "\(scheme)://\(name):\(port)\(rest)" }
}
