import Hummingbird
import Logging
import ServiceLifecycle
import NIOCore

/// The operator's HTTP endpoints: `/metrics` (Prometheus text format), `/healthz` (alive) and `/readyz` (ready only
/// once every controller's cache has synced).
public enum OperatorEndpoints {
    /// A running endpoints server.
    public struct Handle: Sendable {
        public let port: Int
        let group: ServiceGroup
        /// Stops it gracefully (cancelling the task that runs a NIO server races with accepted connections).
        public func stop() async { await group.triggerGracefulShutdown() }
    }

    /// Starts the server; returns once it listens.
    public static func start(host: String = "127.0.0.1", port: Int, registry: MetricsRegistry,
                             isReady: @escaping @Sendable () -> Bool,
                             logger: Logger = Logger(label: "salespot.endpoints")) async throws -> Handle {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: registry.render())))
        }
        router.get("/healthz") { _, _ in "ok" }
        router.get("/readyz") { _, _ -> Response in
            isReady() ? Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ok")))
                : Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: "caches not synced")))
        }
        let (ready, continuation) = AsyncStream<Int>.makeStream()
        var quiet = logger
        quiet.logLevel = .warning
        let app = Application(router: router, configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
                              onServerRunning: { channel in
                                  continuation.yield(channel.localAddress?.port ?? 0)
                                  continuation.finish()
                              }, logger: quiet)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: quiet))
        Task { try? await group.run() }
        var bound = 0
        for await p in ready { bound = p }
        return Handle(port: bound, group: group)
    }
}
