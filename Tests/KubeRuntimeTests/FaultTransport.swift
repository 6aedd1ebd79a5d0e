import Synchronization
import KubeClient
import KubeCore
import LocalCluster

/// The real libcurl transport to LocalCluster, with faults switched on by a test: requests matching a rule stall
/// (until cancelled) or fail as a cut connection would.
final class FaultTransport: HTTPTransport {
    enum Fault: Sendable { case stall, fail }
    struct Rule: Sendable {
        var method: String?
        var urlContains: [String]
        var fault: Fault
    }

    let inner: CurlTransport
    private let rules = Mutex<[Rule]>([])

    init(_ configuration: ClientConfiguration) {
        inner = CurlTransport(tls: configuration.tls, proxy: configuration.proxyURL)
    }

    /// A client of `cluster` through this transport.
    static func client(_ cluster: LocalCluster) -> (KubeClient, FaultTransport) {
        let configuration = cluster.clientConfiguration()
        let transport = FaultTransport(configuration)
        return (KubeClient(configuration: configuration, transport: transport), transport)
    }

    func set(_ r: [Rule]) { rules.withLock { $0 = r } }

    private func apply(_ request: HTTPRequest) async throws {
        let fault = rules.withLock { rules in
            rules.first { r in (r.method == nil || r.method == request.method) && r.urlContains.allSatisfy(request.url.contains) }?.fault
        }
        switch fault {
        case .stall?:
            try await Task.sleep(for: .seconds(3600))  // until the caller gives up and cancels
        case .fail?:
            throw KubeError.transport(TransportError(kind: .connectionReset, message: "connection cut by the test"))
        case nil: break
        }
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await apply(request)
        return try await inner.send(request)
    }

    func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse {
        try await apply(request)
        return try await inner.stream(request)
    }
}
