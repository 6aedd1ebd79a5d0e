import KubeClient
import KubeCore
import Synchronization

/// The real libcurl transport, with faults switched on by a test: a request a rule picks stalls (until its caller
/// cancels it) or fails before it is sent, as a cut connection would (so the server never sees it).
public final class FaultTransport: HTTPTransport {
    /// `stall`: until the caller cancels; `hang`: 10 s whatever the caller does (as an exec credential plugin that
    /// hangs would), then fails; `fail`: at once, as a cut connection; `corrupt`: the answer arrives with one byte
    /// of its body flipped (as a bad disk or a replaced object would give).
    public enum Fault: Sendable { case stall, hang, fail, corrupt }
    /// Requests whose method matches (any, when nil) and whose URL contains every string.
    public struct Rule: Sendable {
        public var method: String?
        public var urlContains: [String]
        public var fault: Fault
        public init(method: String? = nil, urlContains: [String], fault: Fault) {
            self.method = method
            self.urlContains = urlContains
            self.fault = fault
        }
        func matches(_ r: HTTPRequest) -> Bool { (method == nil || method == r.method) && urlContains.allSatisfy(r.url.contains) }
    }

    let inner: CurlTransport
    private let rules = Mutex<[Rule]>([])
    /// Decides for every request before the rules; may keep state (e.g. fail the first write after another request).
    private let decide = Mutex<(@Sendable (HTTPRequest) -> Fault?)?>(nil)

    public init(_ configuration: ClientConfiguration) {
        inner = CurlTransport(tls: configuration.tls, proxy: configuration.proxyURL)
    }

    /// A client through this transport.
    public static func client(_ configuration: ClientConfiguration) -> (KubeClient, FaultTransport) {
        let transport = FaultTransport(configuration)
        return (KubeClient(configuration: configuration, transport: transport), transport)
    }

    public func set(_ r: [Rule]) { rules.withLock { $0 = r } }
    public func set(decide d: (@Sendable (HTTPRequest) -> Fault?)?) { decide.withLock { $0 = d } }

    @discardableResult
    private func apply(_ request: HTTPRequest) async throws -> Fault? {
        let fault = decide.withLock { $0 }?(request) ?? rules.withLock { rules in rules.first { $0.matches(request) }?.fault }
        switch fault {
        case .stall?:
            try await Task.sleep(for: .seconds(3600))  // until the caller gives up and cancels
        case .hang?:
            await Task.detached { try? await Task.sleep(for: .seconds(10)) }.value
            throw KubeError.transport(TransportError(kind: .connectionReset, message: "hung up by the test"))
        case .fail?:
            throw KubeError.transport(TransportError(kind: .connectionReset, message: "connection cut by the test"))
        case .corrupt?, nil: break
        }
        return fault
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let fault = try await apply(request)
        var response = try await inner.send(request)
        if case .corrupt? = fault, !response.body.isEmpty { response.body[response.body.count / 2] ^= 0xFF }
        return response
    }

    public func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse {
        try await apply(request)
        return try await inner.stream(request)
    }
}
