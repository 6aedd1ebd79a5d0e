import Hummingbird
import Logging
import NIOCore

/// The operator's HTTP endpoints: `/metrics` (Prometheus text format), `/healthz` (alive) and `/readyz` (ready only
/// once every controller's cache has synced).
public enum OperatorEndpoints {
    /// Starts the server; returns the bound port and the task running it (cancel it to stop).
    public static func start(host: String = "127.0.0.1", port: Int, registry: MetricsRegistry,
                             isReady: @escaping @Sendable () -> Bool,
                             logger: Logger = Logger(label: "salespot.endpoints")) async throws -> (port: Int, task: Task<Void, any Error>) {
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
        let task = Task { try await app.run() }
        var bound = 0
        for await p in ready { bound = p }
        return (bound, task)
    }
}
