import Foundation
import Synchronization
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport
@testable import KubeRuntime

let sharedPKI: String = NSTemporaryDirectory() + "salespot-runtime-pki-\(getpid())"

func startCluster(_ configure: (inout LocalCluster.Options) -> Void = { _ in }) async throws -> LocalCluster {
    var options = LocalCluster.Options()
    options.pkiDirectory = sharedPKI
    options.simulateWorkloads = false
    configure(&options)
    return try await LocalCluster.start(options)
}

/// Waits (polling the API) until every mirrored Secret matches its ConfigMap.
func waitForMirrors(_ client: KubeClient, count: Int, timeout: Duration = .seconds(60)) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    let maps = Api<ConfigMap>(client)
    let secrets = Api<Secret>(client)
    while ContinuousClock.now < deadline {
        let (cms, _) = try await maps.listAll(ListOptions(labelSelector: MirrorController.labelSelector))
        let (ss, _) = try await secrets.listAll()
        let byRef = Dictionary(ss.map { (ObjectRef($0.metadata), $0) }, uniquingKeysWith: { a, _ in a })
        let good = cms.filter { cm in
            guard let s = byRef[ObjectRef(cm.metadata)] else { return false }
            return (s.data ?? [:]) == MirrorController.desiredData(cm)
                && s.metadata.ownerReferences?.first?.uid == cm.metadata.uid && s.metadata.ownerReferences?.first?.controller == true
        }
        if cms.count == count && good.count == count { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return false
}

func configMap(_ i: Int, value: String) -> ConfigMap {
    ConfigMap(metadata: ObjectMeta(name: "cm-\(i)", namespace: i % 2 == 0 ? "default" : "kube-public", labels: ["mirror": "true"]),
              data: ["value": value, "index": String(i)])
}

@Suite struct MirrorControllerTests {
    @Test func convergesAThousandObjectsAndFollowsUpdates() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let maps = Api<ConfigMap>(client)
        // Unlabelled ConfigMaps are left alone.
        _ = try await maps.create(ConfigMap(metadata: ObjectMeta(name: "plain", namespace: "default"), data: ["x": "y"]))
        let metrics = ControllerMetrics(registry: MetricsRegistry())
        let controller = MirrorController.make(client: client, workers: 4, metrics: metrics)
        let running = Task { await controller.run() }
        defer { running.cancel() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<8 {
                group.addTask { for i in stride(from: w, to: 1000, by: 8) { _ = try await maps.create(configMap(i, value: "v1")) } }
            }
            try await group.waitForAll()
        }
        #expect(try await waitForMirrors(client, count: 1000))
        // Updates propagate.
        for i in 0..<50 { _ = try await maps.patch("cm-\(i)", namespace: i % 2 == 0 ? "default" : "kube-public", .merge(["data": ["value": "v2"]])) }
        #expect(try await waitForMirrors(client, count: 1000))
        #expect(try await Api<Secret>(client, namespace: "default").getIfExists("plain") == nil)
        // Deleting a ConfigMap collects its Secret.
        _ = try await maps.delete("cm-0", namespace: "default")
        #expect(try await waitForMirrors(client, count: 999))
        #expect(try await Api<Secret>(client, namespace: "default").getIfExists("cm-0") == nil)
        #expect((metrics.registry.value("controller_runtime_reconcile_total", ["mirror", "success"]) ?? 0) >= 1000)
    }

    @Test func convergesWhileEveryWatchIsCutAgainAndAgain() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let maps = Api<ConfigMap>(client)
        var controller = MirrorController.make(client: client, workers: 2)
        controller.workers = 2
        let running = Task { await controller.run() }
        defer { running.cancel() }
        let cutter = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(30))
                await cluster.closeAllWatches()
            }
        }
        for i in 0..<300 { _ = try await maps.create(configMap(i, value: "a")) }
        for i in stride(from: 0, to: 300, by: 3) { _ = try await maps.patch("cm-\(i)", namespace: i % 2 == 0 ? "default" : "kube-public", .merge(["data": ["value": "b"]])) }
        cutter.cancel()
        #expect(try await waitForMirrors(client, count: 300))
    }

    @Test func aForced410MakesTheWatcherListAgain() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let maps = Api<ConfigMap>(client, namespace: "default")
        _ = try await maps.create(ConfigMap(metadata: ObjectMeta(name: "one"), data: ["a": "1"]))
        let watcher = Watcher(api: maps)
        let starts = Mutex(0)
        let seen = Mutex(Set<String>())
        let task = Task {
            for await e in watcher.events() {
                switch e {
                case .initStart: starts.withLock { $0 += 1 }
                case .initApply(let o), .apply(let o): _ = seen.withLock { $0.insert(o.metadata.name!) }
                default: break
                }
            }
        }
        defer { task.cancel() }
        for _ in 0..<200 where !seen.withLock({ $0.contains("one") }) { try await Task.sleep(for: .milliseconds(10)) }
        // The watch goes down and cannot come back (injected 503s) while a change happens and the history is
        // compacted: when it resumes from its last version it gets 410, so it must list again.
        cluster.failNext(10_000, pathContains: "/configmaps", method: "GET", status: 503)
        await cluster.closeAllWatches()
        _ = try await maps.create(ConfigMap(metadata: ObjectMeta(name: "two"), data: ["a": "2"]))
        await cluster.compactHistory()
        cluster.clearFaults()
        for _ in 0..<1000 where !seen.withLock({ $0.contains("two") }) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(seen.withLock { $0.contains("two") })
        #expect(starts.withLock { $0 } >= 2)
    }

    @Test func noKeyIsEverReconciledConcurrently() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let maps = Api<ConfigMap>(client, namespace: "default")
        for i in 0..<10 { _ = try await maps.create(ConfigMap(metadata: ObjectMeta(name: "k\(i)"), data: ["n": "0"])) }
        let inFlight = Mutex(Set<ObjectRef>())
        let overlaps = Mutex(0)
        let reconciles = Mutex(0)
        let controller = Controller(name: "probe", api: maps, workers: 8) { request in
            let entered = inFlight.withLock { $0.insert(request.ref).inserted }
            if !entered { overlaps.withLock { $0 += 1 } }
            try await Task.sleep(for: .milliseconds(2))
            inFlight.withLock { _ = $0.remove(request.ref) }
            reconciles.withLock { $0 += 1 }
            return .awaitChange
        }
        let running = Task { await controller.run() }
        defer { running.cancel() }
        for round in 1...20 {
            for i in 0..<10 { _ = try await maps.patch("k\(i)", .merge(["data": ["n": .string(String(round))]])) }
        }
        for _ in 0..<300 where await controller.queue.depth > 0 || !inFlight.withLock({ $0.isEmpty }) || reconciles.withLock({ $0 }) < 10 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(overlaps.withLock { $0 } == 0)
        #expect(reconciles.withLock { $0 } >= 10)
    }

    @Test func failedReconcilesRetryAndTerminalErrorsWait() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let maps = Api<ConfigMap>(client, namespace: "default")
        _ = try await maps.create(ConfigMap(metadata: ObjectMeta(name: "flaky"), data: [:]))
        _ = try await maps.create(ConfigMap(metadata: ObjectMeta(name: "broken"), data: [:]))
        let attempts = Mutex([String: Int]())
        struct Flaky: Error {}
        let controller = Controller(name: "retry", api: maps, workers: 2) { request in
            let n = attempts.withLock { a -> Int in a[request.ref.name, default: 0] += 1; return a[request.ref.name]! }
            if request.ref.name == "flaky" && n < 3 { throw Flaky() }
            if request.ref.name == "broken" { throw TerminalError(Flaky()) }
            return .awaitChange
        }
        let running = Task { await controller.run() }
        defer { running.cancel() }
        for _ in 0..<300 where attempts.withLock({ $0["flaky"] ?? 0 }) < 3 { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(attempts.withLock { $0["flaky"] } == 3)  // two failures with backoff, then success
        #expect(attempts.withLock { $0["broken"] } == 1)  // terminal: not retried
        _ = try await maps.patch("broken", .merge(["data": ["touch": "1"]]))
        for _ in 0..<300 where attempts.withLock({ $0["broken"] ?? 0 }) < 2 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(attempts.withLock { $0["broken"] } == 2)  // a change brings it back
    }
}
