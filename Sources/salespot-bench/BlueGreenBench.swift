import BlueGreen
import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import LocalCluster
import Synchronization

/// N BlueGreenDeployments rolled out at once against LocalCluster (Deployments become ready after a simulated
/// delay): the time from the new colour being ready to its Service switched, per resource (p50/p99/max), and how
/// evenly the resources progressed (no starvation).
/// With `analysis`, every resource has a pre-promotion webhook check of count 1 (a local endpoint answering 200):
/// the ready → switched figures then include it.
func blueGreenBench(resources n: Int, workers: Int, analysis: Bool = false) async throws {
    let hookURL: String?
    if analysis {
        let hook = try await HealthEndpoints.start()
        hookURL = "http://127.0.0.1:\(hook.port)/site/hook"
    } else {
        hookURL = nil
    }
    var options = LocalCluster.Options()
    options.deploymentReadyDelay = .milliseconds(500)
    options.historyLimit = 50 * n + 1000
    let cluster = try await LocalCluster.start(options)
    let crd = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("crds/bluegreendeployments.ops.salespot.by.yaml").path
    try await cluster.installCRDs(try String(contentsOfFile: crd, encoding: .utf8))
    let client = KubeClient(configuration: cluster.clientConfiguration())
    let services = Api<Service>(client, namespace: "default")
    let bgds = Api<BlueGreenDeployment>(client, namespace: "default")
    func spec(_ i: Int, image: String) -> BlueGreenDeployment.Spec {
        var s = BlueGreenDeployment.Spec(replicas: 2, selector: LabelSelector(matchLabels: ["app": "app-\(i)"]),
                                         template: ["metadata": ["labels": ["app": .string("app-\(i)")]],
                                                    "spec": ["containers": [["name": "app", "image": .string(image)]]]],
                                         activeService: "app-\(i)")
        s.scaleDownDelaySeconds = 3600
        if let hookURL {
            var check = BlueGreenDeployment.AnalysisCheck(name: "smoke", webhook: .init(url: hookURL))
            check.intervalSeconds = 1
            s.analysis = .init(prePromotion: [check])
        }
        return s
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<8 {
            group.addTask {
                for i in stride(from: w, to: n, by: 8) {
                    _ = try await services.create(Service(metadata: ObjectMeta(name: "app-\(i)"), spec: ServiceSpec(selector: ["app": "app-\(i)"], ports: [ServicePort(port: 80)])))
                    _ = try await bgds.create(BlueGreenDeployment(metadata: ObjectMeta(name: "app-\(i)"), spec: spec(i, image: "app:1")))
                }
            }
        }
        try await group.waitForAll()
    }
    let controller = BlueGreenController.make(client: client, workers: workers)
    let running = Task { await controller.run() }
    defer { running.cancel() }

    // Observe readiness of green Deployments and switches of Services to green, stamping when each is seen.
    final class Stamps: Sendable {
        let ready = Mutex([String: ContinuousClock.Instant]())
        let switched = Mutex([String: ContinuousClock.Instant]())
        let blue = Mutex(Set<String>())
    }
    let stamps = Stamps()
    let watchDeployments = Task {
        for await e in Watcher(api: Api<Deployment>(client, namespace: "default")).events() {
            guard case .apply(let d) = e, let name = d.metadata.name, name.hasSuffix("-green"), let s = d.status,
                  (s.readyReplicas ?? 0) >= 2, (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 1) else { continue }
            let now = ContinuousClock.now
            stamps.ready.withLock { if $0[String(name.dropLast(6))] == nil { $0[String(name.dropLast(6))] = now } }
        }
    }
    let watchServices = Task {
        for await e in Watcher(api: services).events() {
            guard case .apply(let s) = e, let name = s.metadata.name else { continue }
            let now = ContinuousClock.now
            switch s.spec?.selector?[BlueGreenController.colorLabel] {
            case "blue": _ = stamps.blue.withLock { $0.insert(name) }
            case "green": stamps.switched.withLock { if $0[name] == nil { $0[name] = now } }
            default: break
            }
        }
    }
    defer { watchDeployments.cancel(); watchServices.cancel() }
    print("bluegreen: \(n) BlueGreenDeployments, \(workers) workers, Deployments ready 500 ms after a change\(analysis ? ", a pre-promotion webhook check of count 1 each" : "")")
    let t0 = ContinuousClock.now
    while stamps.blue.withLock({ $0.count }) < n { try await Task.sleep(for: .milliseconds(20)) }
    print(String(format: "initial: all %d live on blue after %.2f s", n, (ContinuousClock.now - t0).seconds))
    let t1 = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<8 {
            group.addTask {
                for i in stride(from: w, to: n, by: 8) {
                    _ = try await bgds.patch("app-\(i)", .merge(["spec": ["template": ["spec": ["containers": [["name": "app", "image": "app:2"]]]]]]))
                }
            }
        }
        try await group.waitForAll()
    }
    while stamps.switched.withLock({ $0.count }) < n { try await Task.sleep(for: .milliseconds(20)) }
    let total = ContinuousClock.now - t1
    let ready = stamps.ready.withLock { $0 }
    let switched = stamps.switched.withLock { $0 }
    let latencies = switched.compactMap { name, at in ready[name].map { (at - $0).seconds * 1000 } }.sorted()
    let completion = switched.values.map { ($0 - t1).seconds }.sorted()
    func pct(_ a: [Double], _ p: Double) -> Double { a[min(a.count - 1, Int(Double(a.count) * p))] }
    print(String(format: "rollout: all %d switched to green %.2f s after the template change", n, total.seconds))
    print(String(format: "ready -> switched: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d measured)",
                 pct(latencies, 0.5), pct(latencies, 0.99), latencies.last ?? 0, latencies.count))
    print(String(format: "fairness: per-resource completion after the change: first %.2f s, median %.2f s, last %.2f s",
                 completion.first ?? 0, pct(completion, 0.5), completion.last ?? 0))
    await cluster.stop()
}
