import CCurl
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
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

    init() {
        _ = curlGlobalInit
        multi = curl_multi_init()
        // Multiplex HTTP/2 streams over one connection instead of opening one per request.
        salespot_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        salespot_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 32)
        let box = UnsafeTransfer<CurlEngine?>(nil)
        box.value = self
        Posix.startThread(name: "salespot-curl") { box.value?.loop() }
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
        let authorityEnd = url.firstRange(of: "://").map { url[$0.upperBound...] } ?? Substring(url)
        rest = authorityEnd.firstIndex(of: "/").map { String(authorityEnd[$0...]) } ?? ""
    }

    /// The host as CONNECT_TO wants it (IPv6 in brackets).
    var hostForConnectTo: String { host.contains(":") ? "[\(host)]" : host }

    func replacingHost(with name: String) -> String { "\(scheme)://\(name):\(port)\(rest)" }
}
