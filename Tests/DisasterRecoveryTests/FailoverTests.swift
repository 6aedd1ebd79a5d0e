@testable import DisasterRecovery
import AWSCore
import Backups
import DNSProviders
import Foundation
import Hummingbird
import KubeClient
import KubeCore
import KubeRuntime
import LocalCluster
import TestSupport
import Testing

let pki: String = NSTemporaryDirectory() + "salespot-dr-pki-\(getpid())"
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let operatorBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("salespot-operator").path

struct DrillError: Error, CustomStringConvertible { var description: String }

/// A site's health endpoint: answers 200 "ok" while `up`, 503 otherwise; while `flapping`, up and down on
/// alternate probes.
final class Site: Sendable {
    let port: Int
    let up: Locked<Bool>
    let flapping: Locked<Bool>
    let task: Task<Void, Never>
    private init(port: Int, up: Locked<Bool>, flapping: Locked<Bool>, task: Task<Void, Never>) {
        self.port = port
        self.up = up
        self.flapping = flapping
        self.task = task
    }
    var url: String { "http://127.0.0.1:\(port)/healthz" }

    static func start() async throws -> Site {
        let up = Locked(true)
        let flapping = Locked(false)
        let router = Router()
        router.get("healthz") { _, _ -> Response in
            if flapping.value { up.mutate { $0.toggle() } }
            return up.value ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok"))) : Response(status: .serviceUnavailable)
        }
        let portBox = Locked(0)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in portBox.mutate { $0 = channel.localAddress?.port ?? 0 } })
        let task = Task { _ = try? await app.runService(gracefulShutdownSignals: []) }
        for _ in 0..<200 where portBox.value == 0 { try await Task.sleep(for: .milliseconds(20)) }
        return Site(port: portBox.value, up: up, flapping: flapping, task: task)
    }
}

/// LocalCluster with the DRPolicy CRD and the controller, a real BIND holding the zone, two health endpoints.
final class DRHarness: @unchecked Sendable {
    let cluster: LocalCluster
    let client: KubeClient
    let dns: DNSServer
    let primary: Site, secondary: Site
    let registry = MetricsRegistry()
    var tasks: [Task<Void, Never>] = []

    init(cluster: LocalCluster, dns: DNSServer, primary: Site, secondary: Site) {
        self.cluster = cluster
        self.client = KubeClient(configuration: cluster.clientConfiguration())
        self.dns = dns
        self.primary = primary
        self.secondary = secondary
    }

    /// With `backups`, the backup CRDs and controllers too, their Jobs run by the real `salespot-operator`.
    static func start(_ kind: DNSServer.Kind = .bind, backups: Bool = false) async throws -> DRHarness {
        var options = LocalCluster.Options()
        options.pkiDirectory = pki
        if backups {
            guard FileManager.default.isExecutableFile(atPath: operatorBinary) else {
                throw DrillError(description: "the salespot-operator binary is missing at \(operatorBinary): run `swift build` first")
            }
            options.localJobExecutables = ["salespot-operator": operatorBinary]
        }
        let cluster = try await LocalCluster.start(options)
        for crd in ["drpolicies", "drdrills"] + (backups ? ["backuppolicies", "backups", "restores"] : []) {
            try await cluster.installCRDs(try String(contentsOfFile: repository + "/crds/\(crd).ops.salespot.by.yaml", encoding: .utf8))
        }
        let h = DRHarness(cluster: cluster, dns: try await DNSServer.start(kind), primary: try await Site.start(), secondary: try await Site.start())
        _ = try await Api<Secret>(h.client, namespace: "default").create(Secret(metadata: ObjectMeta(name: "tsig"), data: [
            "secret": Data(h.dns.secrets["upd-sha256"]!.utf8).base64EncodedString(),
            "wrong": Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString().data(using: .utf8)!.base64EncodedString(),
        ]))
        h.startController()
        if backups {
            let events = EventRecorder(client: h.client, reportingController: "salespot.by/backups", reportingInstance: "test")
            for c in BackupControllers.make(client: h.client, events: events, jobs: JobSettings(image: "salespot-operator:test")) {
                h.backupTasks.append(Task { await c.run() })
            }
        }
        return h
    }

    var backupTasks: [Task<Void, Never>] = []

    func startController() {
        let events = EventRecorder(client: client, reportingController: "salespot.by/dr", reportingInstance: "test")
        for c in DRControllers.make(client: client, metrics: ControllerMetrics(registry: registry), events: events) {
            tasks.append(Task { await c.run() })
        }
    }

    func stopController() async {
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
        tasks = []
    }

    func stop() async {
        for t in backupTasks { t.cancel() }
        for t in backupTasks { await t.value }
        await stopController()  // and with it the probers
        await cluster.stop()
        dns.stop()
        // The health endpoints stay up until the test process ends: a Hummingbird server cancelled in the middle
        // of a request traps (NIOAsyncWriter deinited without finish()).
    }

    var policies: Api<DRPolicy> { Api<DRPolicy>(client, namespace: "default") }

    func policy(_ name: String = "shop", key: String = "secret", configure: (inout DRPolicy.Spec) -> Void = { _ in }) -> DRPolicy {
        func check(_ s: Site) -> DRPolicy.HealthCheck {
            var c = DRPolicy.HealthCheck(http: .init(url: s.url))
            c.intervalSeconds = 1
            c.timeoutSeconds = 1
            c.failureThreshold = 3
            c.successThreshold = 2
            return c
        }
        var record = DRPolicy.DNSRecord(zone: DNSServer.zone, name: "app.example.test", type: "A", ttl: 30)
        var r = DRPolicy.RFC2136(server: "127.0.0.1", port: dns.port)
        r.keyName = "upd-sha256"
        r.algorithm = "hmac-sha256"
        r.tsigSecretRef = .init(name: "tsig", key: key)
        record.rfc2136 = r
        var spec = DRPolicy.Spec(primary: .init(value: "192.0.2.10", healthCheck: check(primary)),
                                 secondary: .init(value: "198.51.100.20", healthCheck: check(secondary)), dns: record)
        spec.failbackHoldDownSeconds = 5
        configure(&spec)
        return DRPolicy(metadata: ObjectMeta(name: name, namespace: "default"), spec: spec)
    }

    func within<T>(_ timeout: Duration, _ check: () async throws -> T?) async throws -> T? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let v = try? await check() { return v }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try? await check()
    }

    func events(_ reason: String) async throws -> [String] {
        let list = try await Api<DynamicObject>(client, resource: ResourceDescriptor(group: "events.k8s.io", version: "v1", resource: "events", kind: "Event", namespaced: true),
                                                namespace: "default").list().items
        return list.compactMap { o -> String? in
            let j = try? JSONValueEncoder().encode(o)
            return j?["reason"]?.stringValue == reason ? j?["note"]?.stringValue : nil
        }
    }
}

/// The DRPolicy controller against LocalCluster and a real BIND: failover after the threshold (dig sees it), no
/// automatic failback, a flapping primary, a dead secondary, a wrong key, and a restart mid-failover.
@Suite(.serialized) struct FailoverTests {
    @Test func thePrimaryGoingDownMovesTheRecordAfterTheThresholdAndItStaysThere() async throws {
        let h = try await DRHarness.start()
        defer { Task { await h.stop() } }
        _ = try await h.policies.create(h.policy())
        // The record starts at the primary (it is the zone's app record already: 192.0.2.10) and FailoverReady.
        let ready = try #require(try await h.within(.seconds(15)) {
            let p = try await h.policies.get("shop")
            return p.status?.conditions?.first { $0.type == "FailoverReady" }?.status == "True" ? p : nil
        }, "never FailoverReady")
        #expect(ready.status?.activeSite == "primary")
        // The secondary was healthy from the start: no Warning about it while its first probes came in.
        #expect(try await h.events("SecondaryUnhealthy").isEmpty)
        #expect(try await h.events("SecondaryUnknown").isEmpty)
        let down = ContinuousClock.now
        h.primary.up.mutate { $0 = false }
        let switched = try #require(try await h.within(.seconds(15)) {
            let p = try await h.policies.get("shop")
            return p.status?.activeSite == "secondary" && p.status?.pendingSwitch == nil ? p : nil
        }, "no failover")
        let elapsed = ContinuousClock.now - down
        #expect(try await h.dns.dig("app.example.test", "A") == ["198.51.100.20"])
        // Within failureThreshold × interval (+ jitter) + 2 s.
        #expect(elapsed < .seconds(3 * 1.1 + 2 + 1), "took \(elapsed)")
        let record = try #require(switched.status?.lastSwitch)
        #expect(record.from == "primary" && record.to == "secondary")
        // First failed probe to decision: about two intervals (less when a slow probe made the next one come sooner).
        #expect((record.detectionSeconds ?? -1) > 0 && (record.detectionSeconds ?? 99) < 5, "\(record)")
        #expect((record.switchSeconds ?? 99) < 2, "\(record)")
        #expect(switched.status?.failovers == 1)
        #expect(try await h.events("SwitchedSite").contains { $0.contains("secondary") && $0.contains("detected in") })
        #expect(h.registry.value("salespot_dr_failovers_total", ["default", "shop"]) == 1)
        // The primary comes back: failback is manual, so the record stays on the secondary.
        h.primary.up.mutate { $0 = true }
        try await Task.sleep(for: .seconds(8))
        #expect(try await h.dns.dig("app.example.test", "A") == ["198.51.100.20"])
        #expect(try await h.policies.get("shop").status?.conditions?.first { $0.type == "PrimaryHealthy" }?.status == "True")
        // The manual failback: pin the primary.
        var p = try await h.policies.get("shop")
        p.spec.activeSite = "primary"
        _ = try await h.policies.update(p)
        #expect(try await h.within(.seconds(10)) { try await h.dns.dig("app.example.test", "A") == ["192.0.2.10"] ? true : nil } == true)
    }

    @Test func automaticFailbackWaitsForTheHoldDown() async throws {
        let h = try await DRHarness.start()
        defer { Task { await h.stop() } }
        _ = try await h.policies.create(h.policy { $0.failback = "automatic"; $0.failbackHoldDownSeconds = 5 })
        h.primary.up.mutate { $0 = false }
        _ = try #require(try await h.within(.seconds(15)) { try await h.dns.dig("app.example.test", "A") == ["198.51.100.20"] ? true : nil })
        h.primary.up.mutate { $0 = true }
        let back = ContinuousClock.now
        _ = try #require(try await h.within(.seconds(20)) { try await h.dns.dig("app.example.test", "A") == ["192.0.2.10"] ? true : nil }, "no failback")
        #expect(ContinuousClock.now - back >= .seconds(5), "failed back within the hold-down")
    }

    @Test func aFlappingPrimaryCausesNoFailoverAndADeadSecondaryIsNeverUsed() async throws {
        let h = try await DRHarness.start()
        defer { Task { await h.stop() } }
        _ = try await h.policies.create(h.policy())
        _ = try #require(try await h.within(.seconds(15)) { try await h.policies.get("shop").status?.activeSite == "primary" ? true : nil })
        // Down and up on alternate probes, for 8 probes.
        h.primary.flapping.mutate { $0 = true }
        try await Task.sleep(for: .seconds(8))
        h.primary.flapping.mutate { $0 = false }
        h.primary.up.mutate { $0 = true }
        #expect(try await h.policies.get("shop").status?.failovers == nil)
        #expect(try await h.dns.dig("app.example.test", "A") == ["192.0.2.10"])
        // Now the secondary dies, then the primary: no failover, FailoverReady=False, an Event.
        h.secondary.up.mutate { $0 = false }
        let notReady = try #require(try await h.within(.seconds(10)) {
            let p = try await h.policies.get("shop")
            return p.status?.conditions?.first { $0.type == "FailoverReady" && $0.status == "False" }
        })
        #expect(notReady.reason == "SecondaryUnhealthy")
        h.primary.up.mutate { $0 = false }
        try await Task.sleep(for: .seconds(6))
        #expect(try await h.dns.dig("app.example.test", "A") == ["192.0.2.10"])
        let p = try await h.policies.get("shop")
        #expect(p.status?.conditions?.first { $0.type == "Ready" }?.reason == "SwitchWithheld")
        #expect(try await h.events("SwitchWithheld").contains { $0.contains("secondary is not healthy") })
    }

    @Test func aWrongKeyIsReportedAndARestartMidFailoverCompletesItOnce() async throws {
        let h = try await DRHarness.start()
        defer { Task { await h.stop() } }
        _ = try await h.policies.create(h.policy(key: "wrong"))
        let refused = try #require(try await h.within(.seconds(15)) {
            try await h.policies.get("shop").status?.conditions?.first { $0.type == "FailoverReady" && $0.reason == "DNSProviderRefused" }
        })
        #expect(refused.status == "False")
        #expect(refused.message?.contains("BADSIG") == true || refused.message?.contains("TSIG") == true, "\(refused.message ?? "")")
        let secret = try await Api<Secret>(h.client, namespace: "default").get("tsig")
        for e in try await h.events("DNSProviderRefused") { #expect(!e.contains(secret.data?["wrong"] ?? "-")) }
        // A failover decided and written down, then the operator stops before the DNS change: the next one completes it
        // (the primary is still down), once.
        await h.stopController()
        h.primary.up.mutate { $0 = false }
        var p = try await h.policies.get("shop")
        p.spec.dns.rfc2136?.tsigSecretRef?.key = "secret"
        p = try await h.policies.update(p)
        p.status?.pendingSwitch = DRPolicy.Switch(from: "primary", to: "secondary", reason: "the primary failed 3 consecutive probes",
                                                  firstFailureTime: Time.now().rfc3339, decidedTime: Time.now().rfc3339)
        _ = try await h.policies.updateStatus(p)
        h.startController()
        let done = try #require(try await h.within(.seconds(15)) {
            let x = try await h.policies.get("shop")
            return x.status?.pendingSwitch == nil && x.status?.activeSite == "secondary" ? x : nil
        })
        #expect(done.status?.failovers == 1)
        #expect(try await h.dns.dig("app.example.test", "A") == ["198.51.100.20"])
        #expect(try await h.events("SwitchedSite").count == 1)
    }

    @Test func aPendingSwitchNoLongerWantedIsCancelledNotMade() async throws {
        let h = try await DRHarness.start()
        defer { Task { await h.stop() } }
        _ = try await h.policies.create(h.policy())
        _ = try #require(try await h.within(.seconds(15)) { try await h.policies.get("shop").status?.activeSite == "primary" ? true : nil })
        await h.stopController()
        // Decided while the primary was down; by the restart it is up again.
        var p = try await h.policies.get("shop")
        p.status?.pendingSwitch = DRPolicy.Switch(from: "primary", to: "secondary", reason: "the primary failed 3 consecutive probes",
                                                  firstFailureTime: Time.now().rfc3339, decidedTime: Time.now().rfc3339)
        _ = try await h.policies.updateStatus(p)
        h.startController()
        _ = try #require(try await h.within(.seconds(15)) { try await h.policies.get("shop").status?.pendingSwitch == nil ? true : nil })
        #expect(try await h.dns.dig("app.example.test", "A") == ["192.0.2.10"])
        #expect(try await h.events("SwitchCancelled").count == 1)
        #expect(try await h.policies.get("shop").status?.failovers == nil)
    }

    @Test func theSameFlowAgainstRoute53() async throws {
        let h = try await DRHarness.start()
        defer { Task { await h.stop() } }
        let moto = try await MotoServer.start()
        defer { moto.stop() }
        let zone = try await moto.createZone("example.test", accessKey: "AKIDTEST", secretKey: "moto-test-secret")
        _ = try await Api<Secret>(h.client, namespace: "default").create(Secret(metadata: ObjectMeta(name: "aws"), data: [
            "AWS_ACCESS_KEY_ID": Data("AKIDTEST".utf8).base64EncodedString(),
            "AWS_SECRET_ACCESS_KEY": Data("moto-test-secret".utf8).base64EncodedString(),
        ]))
        _ = try await h.policies.create(h.policy {
            $0.dns.rfc2136 = nil
            $0.dns.route53 = .init(hostedZoneId: zone, credentialsSecret: "aws", endpoint: moto.endpoint)
        })
        let r53 = try Route53Client(hostedZoneId: zone, credentials: AWSCredentials(accessKeyId: "AKIDTEST", secretAccessKey: "moto-test-secret"), endpoint: moto.endpoint)
        // No record yet: the controller puts the primary's value there.
        _ = try #require(try await h.within(.seconds(15)) { try await r53.read(name: "app.example.test", type: "A")?.values == ["192.0.2.10"] ? true : nil })
        h.primary.up.mutate { $0 = false }
        let switched = try #require(try await h.within(.seconds(15)) {
            let p = try await h.policies.get("shop")
            return p.status?.activeSite == "secondary" && p.status?.pendingSwitch == nil ? p : nil
        })
        #expect(try await r53.read(name: "app.example.test", type: "A")?.values == ["198.51.100.20"])
        #expect(switched.status?.lastSwitch?.from == "primary")
        #expect(switched.status?.failovers == 1)
    }
}
