import CCurl
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeCore

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
        if !request.connectTo.isEmpty {
            var list: UnsafeMutablePointer<curl_slist>?
            for entry in request.connectTo { list = curl_slist_append(list, entry) }
            headerScratch = list
            try check(salespot_easy_setopt_slist(easy, CURLOPT_CONNECT_TO, list), "connect-to")
        } else if let serverName = tls.serverName, let parts = URLParts(url), parts.host != serverName {
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
        let trimmed = line.trimmingASCIIWhitespace()
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
            responseHeaders.add(String(trimmed[..<colon]), trimmed[trimmed.index(after: colon)...].trimmingASCIIWhitespace())
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

