@testable import Backups
import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import LocalCluster
import Notifications
import ObjectStore
import TestSupport
import Testing

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let sharedPKI: String = NSTemporaryDirectory() + "salespot-backups-pki-\(getpid())"
let operatorBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("salespot-operator").path

struct HarnessError: Error, CustomStringConvertible { var description: String }

/// A LocalCluster with the backup CRDs, whose Jobs run the real `salespot-operator` runner, the three backup
/// controllers on a clock the test moves, the S3 credentials and the database password in Secrets.
final class BackupHarness: @unchecked Sendable {
    let cluster: LocalCluster
    let client: KubeClient
    let registry = MetricsRegistry()
    let clock: Locked<Date>
    let s3: S3Client
    var tasks: [Task<Void, Never>] = []
    let logs = Locked<[String]>([])

    static let s3Secret = "s3-credentials"
    static let pgSecret = "pg-password"

    init(cluster: LocalCluster, s3: S3Client, now: Date) {
        self.cluster = cluster
        self.client = KubeClient(configuration: cluster.clientConfiguration())
        self.s3 = s3
        self.clock = Locked(now)
    }

    static func start(now: Date? = nil) async throws -> BackupHarness {
        guard FileManager.default.isExecutableFile(atPath: operatorBinary) else {
            throw HarnessError(description: "the salespot-operator binary is missing at \(operatorBinary): run `swift build` first")
        }
        var options = LocalCluster.Options()
        options.pkiDirectory = sharedPKI
        options.localJobExecutables = ["salespot-operator": operatorBinary]
        let cluster = try await LocalCluster.start(options)
        for crd in ["backuppolicies", "backups", "restores"] {
            try await cluster.installCRDs(try String(contentsOfFile: repository + "/crds/\(crd).ops.salespot.by.yaml", encoding: .utf8))
        }
        let s3 = try await Services.bucket()
        let h = BackupHarness(cluster: cluster, s3: s3, now: now ?? Date())
        let pg = try Services.pg()
        _ = try await Api<Secret>(h.client, namespace: "default").create(Secret(metadata: ObjectMeta(name: s3Secret), data: [
            "AWS_ACCESS_KEY_ID": Data(Services.credentials.accessKeyId.utf8).base64EncodedString(),
            "AWS_SECRET_ACCESS_KEY": Data(Services.credentials.secretAccessKey.utf8).base64EncodedString(),
        ]))
        _ = try await Api<Secret>(h.client, namespace: "default").create(Secret(metadata: ObjectMeta(name: pgSecret), data: [
            "password": Data(pg.password.utf8).base64EncodedString(),
        ]))
        h.startControllers()
        return h
    }

    func startControllers() {
        let clock = self.clock
        let events = EventRecorder(client: client, reportingController: "salespot.by/backups", reportingInstance: "test")
        let controllers = BackupControllers.make(client: client, metrics: ControllerMetrics(registry: registry), events: events,
                                                 jobs: JobSettings(image: "salespot-operator:test"), now: { clock.value })
        for c in controllers { tasks.append(Task { await c.run() }) }
    }

    func stopControllers() async {
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
        tasks = []
    }

    func stop() async {
        await stopControllers()
        await cluster.stop()
    }

    var policies: Api<BackupPolicy> { Api<BackupPolicy>(client, namespace: "default") }
    var backups: Api<Backup> { Api<Backup>(client, namespace: "default") }
    var restores: Api<Restore> { Api<Restore>(client, namespace: "default") }

    /// A policy on this harness's bucket and database.
    func policy(_ name: String, type: String, schedule: String = "0 * * * *", database: String? = nil, files: [String]? = nil,
                configure: (inout BackupPolicy.Spec) -> Void = { _ in }) throws -> BackupPolicy {
        var d = S3Destination(endpoint: s3.location.endpoint, bucket: s3.location.bucket, prefix: "backups", forcePathStyle: true,
                              credentialsSecret: Self.s3Secret)
        d.partSizeMiB = 5
        var spec = BackupPolicy.Spec(schedule: schedule, type: type, destination: d)
        if let database {
            var source = try Services.source(database)
            source.passwordSecretRef = SecretKeyRef(name: Self.pgSecret, key: "password")
            spec.database = source
        }
        if let files { spec.files = FilesSource(paths: files) }
        configure(&spec)
        return BackupPolicy(metadata: ObjectMeta(name: name, namespace: "default"), spec: spec)
    }

    /// Polls until `check` gives a value, or `timeout` passes.
    func within<T>(_ timeout: Duration, _ check: () async throws -> T?) async throws -> T? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let v = try? await check() { return v }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try? await check()
    }

    /// Waits for a backup to end (Completed or Failed).
    func finished(_ name: String, timeout: Duration = .seconds(90)) async throws -> Backup? {
        try await within(timeout) {
            let b = try await backups.get(name)
            return b.status?.phase == "Completed" || b.status?.phase == "Failed" ? b : nil
        }
    }

    /// The next whole hour after the real time, plus `seconds`: a scheduled time after the objects' creation.
    static func nextHour(plus seconds: Double = 30) -> Date {
        let now = Date().timeIntervalSince1970
        return Date(timeIntervalSince1970: (now / 3600).rounded(.up) * 3600 + seconds)
    }

    func advance(to date: Date) async throws {
        clock.mutate { $0 = date }
        // Wake the policies: a change of an annotation makes them reconcile now, not at their requeue.
        for p in try await policies.list().items {
            _ = try await policies.patch(p.metadata.name ?? "", .merge(["metadata": ["annotations": ["test/tick": .string("\(date.timeIntervalSince1970)")]]]))
        }
    }
}

import HTTPTypes
import Hummingbird
import NIOCore

/// An HTTP receiver on a loopback port that records what is POSTed to it.
final class WebhookReceiver: Sendable {
    let received = Locked<[(path: String, body: JSONValue)]>([])
    let port: Int
    let task: Task<Void, Never>

    private init(port: Int, task: Task<Void, Never>, received: Locked<[(path: String, body: JSONValue)]>) {
        self.port = port
        self.task = task
        _ = received
    }

    static func start() async throws -> (WebhookReceiver, Locked<[(path: String, body: JSONValue)]>) {
        let received = Locked<[(path: String, body: JSONValue)]>([])
        let router = Router()
        router.post("**") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let json = (try? JSONParser.parse(Array(buffer: body))) ?? .null
            received.mutate { $0.append((request.uri.path, json)) }
            return Response(status: .ok)
        }
        let portBox = Locked(0)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in portBox.mutate { $0 = channel.localAddress?.port ?? 0 } })
        let task = Task { _ = try? await app.runService(gracefulShutdownSignals: []) }
        for _ in 0..<200 where portBox.value == 0 { try await Task.sleep(for: .milliseconds(20)) }
        return (WebhookReceiver(port: portBox.value, task: task, received: received), received)
    }
}

/// An HTTP proxy in front of SeaweedFS that answers 500 to every upload of part 2 (as a failing S3 node would)
/// and passes everything else through untouched (the Host header too, so SigV4 signatures stay valid).
final class FaultProxy: Sendable {
    let port: Int
    let task: Task<Void, Never>
    let refused: Locked<Int>

    private init(port: Int, task: Task<Void, Never>, refused: Locked<Int>) {
        self.port = port
        self.task = task
        self.refused = refused
    }

    static func start(upstream: String) async throws -> FaultProxy {
        let refused = Locked(0)
        let transport = CurlTransport()
        let router = Router()
        let forward: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            let query = request.uri.query ?? ""
            if request.method == .put && query.contains("partNumber=2") {
                refused.mutate { $0 += 1 }
                return Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string:
                    "<Error><Code>InternalError</Code><Message>injected by the test</Message></Error>")))
            }
            let body: ByteBuffer = try await request.body.collect(upTo: 64 << 20)
            let bodiless = request.method == .get || request.method == .head || request.method == .delete
            let url: String = upstream + request.uri.path + (query.isEmpty ? "" : "?" + query)
            var out = CurlRequest(method: request.method.rawValue, url: url, body: bodiless ? nil : Array(buffer: body), timeout: .seconds(60))
            let hopByHop: Set<String> = ["content-length", "transfer-encoding", "connection"]
            for field in request.headers where !hopByHop.contains(field.name.canonicalName) {
                out.headers.add(field.name.rawName, field.value)
            }
            out.headers.add("Host", request.head.authority ?? "")  // HTTPTypes keeps it apart from the fields
            out.headers.add("Expect", "")
            let r = try await transport.send(out)
            var headers = HTTPFields()
            for (n, v) in r.headers where !hopByHop.contains(n.lowercased()) {
                if let name = HTTPField.Name(n) { headers[name] = v }
            }
            let status = HTTPResponse.Status(code: Int(r.status))
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: r.body)))
        }
        router.on("**", method: .get, use: forward)
        router.on("**", method: .put, use: forward)
        router.on("**", method: .post, use: forward)
        router.on("**", method: .delete, use: forward)
        router.on("**", method: .head, use: forward)
        let portBox = Locked(0)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in portBox.mutate { $0 = channel.localAddress?.port ?? 0 } })
        let task = Task { _ = try? await app.runService(gracefulShutdownSignals: []) }
        for _ in 0..<200 where portBox.value == 0 { try await Task.sleep(for: .milliseconds(20)) }
        return FaultProxy(port: portBox.value, task: task, refused: refused)
    }
}
