import AWSCore
import DisasterRecovery
import DNSProviders
import Foundation
import Hummingbird
import KubeClient
import KubeCore
import KubeRuntime
import LocalCluster
import Synchronization
import TestSupport

/// What the health endpoints answer, and when each was asked.
final class SiteStates: Sendable {
    let down = Mutex<Set<String>>([])
    let arrivals = Mutex<[String: [ContinuousClock.Instant]]>([:])
}

/// Health endpoints for many sites on one loopback server: `/site/ID` answers 200 unless ID is down, and every
/// request's arrival is recorded per ID (the probe timing the prober benchmark measures).
struct HealthEndpoints: Sendable {
    let states: SiteStates
    let port: Int

    static func start() async throws -> HealthEndpoints {
        let states = SiteStates()
        let router = Router()
        router.get("site/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            let now = ContinuousClock.now
            states.arrivals.withLock { $0[id, default: []].append(now) }
            return states.down.withLock { $0.contains(id) } ? Response(status: .serviceUnavailable) : Response(status: .ok)
        }
        // The same, POSTed (a webhook check).
        router.post("site/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            return states.down.withLock { $0.contains(id) } ? Response(status: .serviceUnavailable) : Response(status: .ok)
        }
        let portBox = Mutex(0)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in portBox.withLock { $0 = channel.localAddress?.port ?? 0 } })
        _ = Task { _ = try? await app.runService(gracefulShutdownSignals: []) }
        for _ in 0..<200 where portBox.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(20)) }
        return HealthEndpoints(states: states, port: portBox.withLock { $0 })
    }

    func setDown(_ id: String, _ isDown: Bool) {
        states.down.withLock { if isDown { $0.insert(id) } else { $0.remove(id) } }
    }

    func url(_ id: String) -> String { "http://127.0.0.1:\(port)/site/\(id)" }
}

/// The DR benchmarks' shared pieces.
enum DRBench {
    static func cluster() async throws -> (LocalCluster, KubeClient) {
        var options = LocalCluster.Options()
        options.simulateWorkloads = false
        let cluster = try await LocalCluster.start(options)
        for crd in ["drpolicies", "drdrills"] {
            try await cluster.installCRDs(try String(contentsOfFile: "crds/\(crd).ops.salespot.by.yaml", encoding: .utf8))
        }
        return (cluster, KubeClient(configuration: cluster.clientConfiguration()))
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }
}

/// `salespot-bench dr-failover`: N DRPolicies with the default health checks (interval 10 s, threshold 3,
/// timeout 3 s) against a real BIND (RFC 2136 with TSIG) or moto's Route53; each primary goes down at a random
/// moment (a uniform phase against its probes), and the time from the outage to the record switched and read back
/// (the controller's recorded switch time) is reported against failureThreshold x interval + 2 s and the RTO.
func drFailoverBench(provider: String, policies n: Int) async throws {
    let (cluster, client) = try await DRBench.cluster()
    defer { Task { await cluster.stop() } }
    let endpoints = try await HealthEndpoints.start()
    var record = DRPolicy.DNSRecord(zone: DNSServer.zone, name: "", type: "A", ttl: 60)
    var server: DNSServer?
    var moto: MotoServer?
    var reader: @Sendable (String) async throws -> [String]
    switch provider {
    case "bind":
        let dns = try await DNSServer.start(.bind)
        server = dns
        _ = try await Api<Secret>(client, namespace: "default").create(Secret(metadata: ObjectMeta(name: "tsig"), data: [
            "secret": Data(dns.secrets["upd-sha256"]!.utf8).base64EncodedString()]))
        var r = DRPolicy.RFC2136(server: "127.0.0.1", port: dns.port)
        r.keyName = "upd-sha256"
        r.tsigSecretRef = .init(name: "tsig", key: "secret")
        record.rfc2136 = r
        let c = RFC2136Client(transport: DNSTransport(server: "127.0.0.1", port: dns.port, timeout: .seconds(3)), zone: DNSServer.zone, key: nil)
        reader = { name in try await c.read(name: name, type: "A")?.values ?? [] }
    case "route53":
        let m = try await MotoServer.start()
        moto = m
        let zone = try await m.createZone(DNSServer.zone, accessKey: "AKIDBENCH", secretKey: "moto-bench-secret")
        _ = try await Api<Secret>(client, namespace: "default").create(Secret(metadata: ObjectMeta(name: "aws"), data: [
            "AWS_ACCESS_KEY_ID": Data("AKIDBENCH".utf8).base64EncodedString(),
            "AWS_SECRET_ACCESS_KEY": Data("moto-bench-secret".utf8).base64EncodedString()]))
        record.route53 = .init(hostedZoneId: zone, credentialsSecret: "aws", endpoint: m.endpoint)
        let c = try Route53Client(hostedZoneId: zone, credentials: AWSCredentials(accessKeyId: "AKIDBENCH", secretAccessKey: "moto-bench-secret"), endpoint: m.endpoint)
        reader = { name in try await c.read(name: name, type: "A")?.values ?? [] }
    default:
        print("dr-failover: --provider must be bind or route53")
        return
    }
    defer { server?.stop(); moto?.stop() }
    let registry = MetricsRegistry()
    let controllers = DRControllers.make(client: client, metrics: ControllerMetrics(registry: registry))
    let tasks = controllers.map { c in Task { await c.run() } }
    defer { for t in tasks { t.cancel() } }
    let api = Api<DRPolicy>(client, namespace: "default")
    print("dr-failover: \(n) DRPolicies against \(provider == "bind" ? "BIND (RFC 2136, TSIG hmac-sha256)" : "moto's Route53"), default health checks (interval 10 s, failureThreshold 3, timeout 3 s)")
    for i in 0..<n {
        var r = record
        r.name = "run\(i).example.test"
        let spec = DRPolicy.Spec(primary: .init(value: "192.0.2.10", healthCheck: .init(http: .init(url: endpoints.url("p\(i)")))),
                                 secondary: .init(value: "198.51.100.20", healthCheck: .init(http: .init(url: endpoints.url("s\(i)")))), dns: r)
        _ = try await api.create(DRPolicy(metadata: ObjectMeta(name: "run\(i)", namespace: "default"), spec: spec))
    }
    // Ready: both sites healthy (two good probes), the record at the primary.
    let readyBy = ContinuousClock.now + .seconds(90)
    while ContinuousClock.now < readyBy {
        let items = try await api.list().items
        if items.filter({ $0.status?.activeSite == "primary" && $0.status?.conditions?.first { $0.type == "FailoverReady" }?.status == "True" }).count == n { break }
        try await Task.sleep(for: .milliseconds(500))
    }
    print("dr-failover: all \(n) serve the primary and are FailoverReady; each primary goes down at a random moment within 10 s")
    let downAt = Locked<[Int: Date]>([:])
    try await withThrowingTaskGroup(of: Void.self) { group in
        for i in 0..<n {
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64.random(in: 0...10_000)))
                downAt.mutate { $0[i] = Date() }
                endpoints.setDown("p\(i)", true)
            }
        }
        try await group.waitForAll()
    }
    var totals: [Double] = [], detections: [Double] = [], switches: [Double] = []
    let by = ContinuousClock.now + .seconds(90)
    var pending = Set(0..<n)
    while !pending.isEmpty && ContinuousClock.now < by {
        for p in try await api.list().items where p.status?.activeSite == "secondary" && p.status?.pendingSwitch == nil {
            guard let i = Int((p.metadata.name ?? "").dropFirst(3)), pending.contains(i), let s = p.status?.lastSwitch,
                  let switched = s.switchedTime.flatMap({ Time(rfc3339: $0) }), let down = downAt.value[i] else { continue }
            pending.remove(i)
            // Read back from the provider: the switch is there for a client to see.
            let values = try await reader("run\(i).example.test")
            guard values == ["198.51.100.20"] else { print("run\(i): the provider reads \(values) after the switch"); continue }
            totals.append(switched.secondsSince1970 - down.timeIntervalSince1970)
            if let d = s.detectionSeconds { detections.append(d) }
            if let w = s.switchSeconds { switches.append(w) }
        }
        try await Task.sleep(for: .milliseconds(200))
    }
    if !pending.isEmpty { print("dr-failover: \(pending.count) policies did not fail over within 90 s") }
    totals.sort()
    let target = 3.0 * 10 + 2
    let f = { (x: Double) in String(format: "%.2f", x) }
    print("dr-failover[\(provider)]: outage → record switched and read back, \(totals.count) failovers: min \(f(totals.first ?? .nan)) s, median \(f(DRBench.percentile(totals, 0.5))) s, max \(f(totals.last ?? .nan)) s; target ≤ \(Int(target)) s (failureThreshold x interval + 2 s): \(totals.allSatisfy { $0 <= target } && pending.isEmpty ? "met" : "MISSED")")
    print("dr-failover[\(provider)]: of which first failed probe → decision median \(f(DRBench.percentile(detections.sorted(), 0.5))) s; decision → record read back median \(f(DRBench.percentile(switches.sorted(), 0.5))) s, max \(f(switches.max() ?? .nan)) s")
    print("dr-failover[\(provider)]: the worst, \(f(totals.last ?? .nan)) s, is \(f((totals.last ?? 0) / 900 * 100)) % of the original design's 15-minute RTO (900 s)")
}

/// `salespot-bench dr-probes`: N DRPolicies (2N sites) probed at once over HTTP; the gaps between consecutive
/// probes of each site, as the health endpoint saw them arrive, against the configured interval.
func drProbesBench(policies n: Int, interval: Int, seconds: Int) async throws {
    let (cluster, client) = try await DRBench.cluster()
    defer { Task { await cluster.stop() } }
    let endpoints = try await HealthEndpoints.start()
    let dns = try await DNSServer.start(.bind)
    defer { dns.stop() }
    _ = try await Api<Secret>(client, namespace: "default").create(Secret(metadata: ObjectMeta(name: "tsig"), data: [
        "secret": Data(dns.secrets["upd-sha256"]!.utf8).base64EncodedString()]))
    let registry = MetricsRegistry()
    let tasks = DRControllers.make(client: client, metrics: ControllerMetrics(registry: registry)).map { c in Task { await c.run() } }
    defer { for t in tasks { t.cancel() } }
    let api = Api<DRPolicy>(client, namespace: "default")
    print("dr-probes: creating \(n) DRPolicies (\(2 * n) sites, HTTP probes every \(interval) s with up to 5 % jitter, BIND for the records)...")
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<8 {
            group.addTask {
                for i in stride(from: w, to: n, by: 8) {
                    func check(_ id: String) -> DRPolicy.HealthCheck {
                        var c = DRPolicy.HealthCheck(http: .init(url: endpoints.url(id)))
                        c.intervalSeconds = interval
                        return c
                    }
                    var r = DRPolicy.DNSRecord(zone: DNSServer.zone, name: "p\(i).example.test", type: "A", ttl: 60)
                    var x = DRPolicy.RFC2136(server: "127.0.0.1", port: dns.port)
                    x.keyName = "upd-sha256"
                    x.tsigSecretRef = .init(name: "tsig", key: "secret")
                    r.rfc2136 = x
                    let spec = DRPolicy.Spec(primary: .init(value: "192.0.2.10", healthCheck: check("p\(i)")),
                                             secondary: .init(value: "198.51.100.20", healthCheck: check("s\(i)")), dns: r)
                    _ = try await api.create(DRPolicy(metadata: ObjectMeta(name: "p\(i)", namespace: "default"), spec: spec))
                }
            }
        }
        try await group.waitForAll()
    }
    // Warm-up: every prober started and past its random phase.
    try await Task.sleep(for: .seconds(Int64(3 * interval)))
    endpoints.states.arrivals.withLock { $0 = [:] }
    let cpu0 = cpuSeconds()
    let start = ContinuousClock.now
    try await Task.sleep(for: .seconds(Int64(seconds)))
    let wall = (ContinuousClock.now - start).seconds
    let cpu = cpuSeconds() - cpu0
    let arrivals = endpoints.states.arrivals.withLock { $0 }
    let target = Double(interval)
    var deviations: [Double] = [], means: [Double] = []
    var probes = 0
    for (_, times) in arrivals {
        probes += times.count
        guard times.count >= 2 else { continue }
        let gaps = zip(times.dropFirst(), times).map { ($0 - $1).seconds }
        deviations += gaps.map { abs($0 - target) / target }
        means.append(gaps.reduce(0, +) / Double(gaps.count))
    }
    deviations.sort()
    let meanDrift = means.map { abs($0 - target) / target }.max() ?? .nan
    let outside = deviations.filter { $0 > 0.10 }.count
    let ready = try await api.list().items.filter { $0.status?.conditions?.first { $0.type == "FailoverReady" }?.status == "True" }.count
    let pct = { (x: Double) in String(format: "%.2f %%", x * 100) }
    print("dr-probes: \(arrivals.count) of \(2 * n) sites probed, \(probes) probes in \(String(format: "%.0f", wall)) s (\(String(format: "%.1f", Double(probes) / wall))/s); \(ready) of \(n) policies FailoverReady")
    print("dr-probes: each site's mean interval off the configured \(interval) s by at most \(pct(meanDrift)); gaps off it: median \(pct(DRBench.percentile(deviations, 0.5))), p99 \(pct(DRBench.percentile(deviations, 0.99))), max \(pct(deviations.last ?? .nan)); \(outside) of \(deviations.count) gaps beyond 10 % (target: none drift by more than 10 %)")
    print("dr-probes: CPU \(String(format: "%.1f", cpu / wall * 100)) % of a core for the whole process (LocalCluster, the health endpoints and the operator's probers and controller), peak RSS \(String(format: "%.0f", peakRSSMiB())) MiB")
}
