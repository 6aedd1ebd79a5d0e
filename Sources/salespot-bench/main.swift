// Benchmarks that print their figures. Build and run in release mode:
//   swift run -c release salespot-bench watch-decode [--events N]
import Foundation
import KubeClient
import KubeCore
import LocalCluster
import Synchronization

/// Peak resident set size of this process so far (VmHWM), in MiB.
func peakRSSMiB() -> Double { procStatus("VmHWM") }
/// Current resident set size (VmRSS), in MiB.
func currentRSSMiB() -> Double { procStatus("VmRSS") }

func procStatus(_ key: String) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
        let kb = Double(line.split(separator: " ").dropFirst().first.map(String.init) ?? "0") ?? 0
        return kb / 1024
    }
    return 0
}

/// Resets VmHWM to the current RSS so each phase reports its own peak (Linux: write 5 to clear_refs).
func resetPeakRSS() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// One Deployment as the API server sends it, with the usual weight: labels, annotations (including
/// kubectl's last-applied-configuration), managedFields, a two-container template with env, ports, resources and
/// probes, and status conditions. About 4 KiB of JSON.
func deploymentEvent(_ i: Int) -> String {
    let name = "web-\(i)"
    let applied = #"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"annotations\":{},\"labels\":{\"app\":\"web\"},\"name\":\"\#(name)\",\"namespace\":\"prod\"},\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"image\":\"registry.salespot.by/web:1.4.\#(i % 50)\",\"name\":\"web\"}]}}}}\n"#
    return #"""
    {"type":"\#(i % 3 == 0 ? "ADDED" : "MODIFIED")","object":{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"\#(name)","namespace":"prod","uid":"6c1f2a3b-\#(String(format: "%04x", i % 65536))-4d5e-8f90-a1b2c3d4e5f6","resourceVersion":"\#(100000 + i)","generation":\#(1 + i % 7),"creationTimestamp":"2026-11-01T10:00:00Z","labels":{"app":"web","tier":"frontend","app.kubernetes.io/managed-by":"salespot-operator","salespot.by/color":"blue"},"annotations":{"deployment.kubernetes.io/revision":"\#(1 + i % 7)","kubectl.kubernetes.io/last-applied-configuration":"\#(applied)"},"ownerReferences":[{"apiVersion":"ops.salespot.by/v1alpha1","kind":"BlueGreenDeployment","name":"web","uid":"0f0e0d0c-0b0a-0908-0706-050403020100","controller":true,"blockOwnerDeletion":true}],"managedFields":[{"manager":"salespot-operator","operation":"Apply","apiVersion":"apps/v1","time":"2026-11-01T10:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{"f:app":{},"f:tier":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}}},{"manager":"kube-controller-manager","operation":"Update","apiVersion":"apps/v1","time":"2026-11-01T10:01:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:availableReplicas":{},"f:conditions":{},"f:observedGeneration":{},"f:readyReplicas":{},"f:replicas":{},"f:updatedReplicas":{}}},"subresource":"status"}]},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web","salespot.by/color":"blue"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web","salespot.by/color":"blue"},"annotations":{"prometheus.io/scrape":"true","prometheus.io/port":"9090"}},"spec":{"containers":[{"name":"web","image":"registry.salespot.by/web:1.4.\#(i % 50)","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"},{"name":"metrics","containerPort":9090,"protocol":"TCP"}],"env":[{"name":"NODE_ENV","value":"production"},{"name":"API_URL","value":"http://api.prod.svc:80"},{"name":"DB_PASSWORD","valueFrom":{"secretKeyRef":{"name":"db","key":"password"}}}],"resources":{"limits":{"cpu":"1","memory":"512Mi"},"requests":{"cpu":"250m","memory":"256Mi"}},"readinessProbe":{"httpGet":{"path":"/healthz","port":8080,"scheme":"HTTP"},"initialDelaySeconds":5,"periodSeconds":10,"timeoutSeconds":1,"successThreshold":1,"failureThreshold":3},"livenessProbe":{"httpGet":{"path":"/livez","port":8080,"scheme":"HTTP"},"periodSeconds":20,"timeoutSeconds":1,"successThreshold":1,"failureThreshold":3},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"},{"name":"log-shipper","image":"fluent/fluent-bit:3.1","resources":{"requests":{"cpu":"50m","memory":"64Mi"}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler"}},"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}},"revisionHistoryLimit":10,"progressDeadlineSeconds":600},"status":{"observedGeneration":\#(1 + i % 7),"replicas":3,"updatedReplicas":3,"readyReplicas":3,"availableReplicas":3,"conditions":[{"type":"Available","status":"True","lastUpdateTime":"2026-11-01T10:01:00Z","lastTransitionTime":"2026-11-01T10:01:00Z","reason":"MinimumReplicasAvailable","message":"Deployment has minimum availability."},{"type":"Progressing","status":"True","lastUpdateTime":"2026-11-01T10:01:00Z","lastTransitionTime":"2026-11-01T10:00:00Z","reason":"NewReplicaSetAvailable","message":"ReplicaSet \"\#(name)-7d9f8c6b5\" has successfully progressed."}]}}}
    """#
}

func watchDecode(events: Int) throws {
    print("watch-decode: building a stream of \(events) Deployment events in memory...")
    var stream: [UInt8] = []
    for i in 0..<events {
        stream.append(contentsOf: deploymentEvent(i).utf8)
        stream.append(0x0A)
    }
    let mib = Double(stream.count) / 1_048_576
    print(String(format: "stream: %.1f MiB, %.0f bytes/event; RSS with the stream loaded: %.1f MiB",
                 mib, Double(stream.count) / Double(events), currentRSSMiB()))

    let only = CommandLine.arguments.firstIndex(of: "--only").map { CommandLine.arguments[$0 + 1] }
    func phase(_ name: String, _ body: () throws -> Int) rethrows {
        if let only, !name.contains(only) { return }
        resetPeakRSS()
        let base = currentRSSMiB()
        let wall0 = Date()
        let cpu0 = cpuSeconds()
        let n = try body()
        let cpu = cpuSeconds() - cpu0
        let wall = Date().timeIntervalSince(wall0)
        print(String(format: "%-44@ %8.0f events/s  %7.1f MiB/s  cpu %.2f s  wall %.2f s  peak RSS %.1f MiB (+%.1f over the stream)",
                     name as NSString, Double(n) / wall, mib / wall, cpu, wall, peakRSSMiB(), peakRSSMiB() - base))
    }

    // Ceiling 1: our JSON parser over each line, into untyped JSONValue trees (no typed decode).
    try phase("JSONParser.parse per line (ceiling)") {
        var count = 0
        try stream.withUnsafeBytes { buf in
            var start = 0
            for i in 0..<buf.count where buf[i] == 0x0A {
                let v = try JSONParser.parse(buffer: UnsafeRawBufferPointer(rebasing: buf[start..<i]))
                if case .object = v { count += 1 }
                start = i + 1
            }
        }
        return count
    }
    // Ceiling 2: Foundation's JSONSerialization over the same lines, for reference.
    phase("Foundation JSONSerialization per line") {
        var count = 0
        var start = 0
        for i in 0..<stream.count where stream[i] == 0x0A {
            if (try? JSONSerialization.jsonObject(with: Data(stream[start..<i]))) != nil { count += 1 }
            start = i + 1
        }
        return count
    }
    // The real thing: the watch decoder in 64 KiB chunks (as they arrive from the network) into events, typed and not.
    try phase("WatchStreamDecoder<Deployment>, 64 KiB chunks") {
        try decodeInChunks(stream, as: Deployment.self) { $0.object?.spec?.replicas == 3 }
    }
    try phase("WatchStreamDecoder<DynamicObject>, 64 KiB chunks") {
        try decodeInChunks(stream, as: DynamicObject.self) { $0.object != nil }
    }
}

/// LocalCluster throughput: N creates then N updates through the client over HTTPS, with W watchers that must each
/// see every event; and the memory each stored object costs.
func localClusterBench(objects n: Int, watchers w: Int, concurrency: Int) async throws {
    var options = LocalCluster.Options()
    options.simulateWorkloads = false
    options.historyLimit = 2 * n + 100
    let rssBefore = currentRSSMiB()
    let cluster = try await LocalCluster.start(options)
    let client = KubeClient(configuration: cluster.clientConfiguration())
    let api = Api<ConfigMap>(client, namespace: "default")
    final class Counts: Sendable {
        let m: Mutex<[Int]>
        init(_ w: Int) { m = Mutex([Int](repeating: 0, count: w)) }
        func increment(_ i: Int) { m.withLock { $0[i] += 1 } }
        var minimum: Int { m.withLock { $0.min() ?? 0 } }
    }
    let counts = Counts(w)
    var watchTasks: [Task<Void, Never>] = []
    let (_, startVersion) = try await api.listAll()
    // Watchers count event lines without decoding them: the figure is the server's, not the decoder's (which
    // watch-decode measures), and all of this shares two cores.
    for i in 0..<w {
        let response = try await client.stream(path: "/api/v1/namespaces/default/configmaps",
                                               query: [("watch", "1"), ("resourceVersion", startVersion ?? "0"), ("timeoutSeconds", "3600")])
        watchTasks.append(Task {
            do {
                for try await chunk in response.body {
                    for byte in chunk where byte == 0x0A { counts.increment(i) }
                }
            } catch {}
        })
    }
    func waitForWatchers(_ target: Int) async -> Duration {
        let start = ContinuousClock.now
        while counts.minimum < target { try? await Task.sleep(for: .milliseconds(5)) }
        return ContinuousClock.now - start
    }
    func phase(_ name: String, _ op: @escaping @Sendable (Int) async throws -> Void, expectedEvents: Int) async throws {
        let cpu0 = cpuSeconds()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask { for i in stride(from: worker, to: n, by: concurrency) { try await op(i) } }
            }
            try await group.waitForAll()
        }
        let writes = ContinuousClock.now - start
        let lag = await waitForWatchers(expectedEvents)
        let total = writes + lag
        let seconds = Double(writes.components.seconds) + Double(writes.components.attoseconds) / 1e18
        let all = Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18
        print(String(format: "%-8@ %6d writes in %.2f s = %7.0f writes/s; all %d watchers saw all %d events after %.2f s (%.0f events/s delivered); cpu %.2f s",
                     name as NSString, n, seconds, Double(n) / seconds, w, expectedEvents, all,
                     Double(expectedEvents * w) / all, cpuSeconds() - cpu0))
    }
    print("localcluster: \(n) ConfigMaps, \(w) watchers, \(concurrency) concurrent writers, HTTPS over loopback, one process")
    try await phase("create", { i in
        _ = try await api.create(ConfigMap(metadata: ObjectMeta(name: "cm-\(i)"), data: ["key": "value-\(i)", "payload": String(repeating: "x", count: 200)]))
    }, expectedEvents: n)
    let rssAfterCreate = currentRSSMiB()
    try await phase("update", { i in
        _ = try await api.patch("cm-\(i)", .merge(["data": ["key": .string("updated-\(i)")]]))
    }, expectedEvents: 2 * n)
    print(String(format: "memory: RSS %.1f MiB before the cluster, %.1f MiB with %d objects stored (+%.1f KiB per object, including the watch history and client buffers)",
                 rssBefore, rssAfterCreate, n, (rssAfterCreate - rssBefore) * 1024 / Double(n)))
    watchTasks.forEach { $0.cancel() }
    await cluster.stop()
}

/// Feeds a stream to a watch decoder 64 KiB at a time; counts the events `check` accepts (touching a decoded field
/// keeps the work honest).
func decodeInChunks<T: KubernetesObject>(_ stream: [UInt8], as type: T.Type, _ check: (WatchEvent<T>) -> Bool) throws -> Int {
    var decoder = WatchStreamDecoder<T>()
    var count = 0
    var offset = 0
    while offset < stream.count {
        let end = min(offset + 65536, stream.count)
        for e in try decoder.feed(stream[offset..<end]) where check(e) { count += 1 }
        offset = end
    }
    return count + (try decoder.finish().filter(check).count)
}

let args = CommandLine.arguments.dropFirst()
func option(_ name: String, default value: Int) -> Int {
    if let i = args.firstIndex(of: name), args.index(after: i) < args.endIndex, let v = Int(args[args.index(after: i)]) { return v }
    return value
}
switch args.first {
case "watch-decode":
    try watchDecode(events: option("--events", default: 100_000))
case "bluegreen":
    for _ in 0..<option("--runs", default: 1) {
        try await blueGreenBench(resources: option("--resources", default: 500), workers: option("--workers", default: 8),
                                 analysis: CommandLine.arguments.contains("--analysis"))
    }
case "mirror":
    try await mirrorBench(objects: option("--objects", default: 1000))
case "latency":
    try await latencyBench(objects: option("--changes", default: 5000), rate: option("--rate", default: 1000))
case "cache":
    try await cacheBench(objects: option("--objects", default: 10_000), compact: CommandLine.arguments.contains("--compact"))
case "cache-child":
    let i = CommandLine.arguments.firstIndex(of: "--kubeconfig")!
    try await cacheChild(kubeconfig: CommandLine.arguments[i + 1], compact: CommandLine.arguments.contains("--compact"))
case "flags":
    try await flagsBench(flags: option("--flags", default: 1000), seconds: option("--seconds", default: 8), patches: option("--patches", default: 200))
case "flags-eval":
    flagsEvalBench(flags: option("--flags", default: 1000), iterations: option("--iterations", default: 1_000_000))
case "s3-put":
    func text(_ name: String) -> String? { args.firstIndex(of: name).flatMap { args.index(after: $0) < args.endIndex ? args[args.index(after: $0)] : nil } }
    try await s3PutBench(endpoint: text("--endpoint") ?? "http://127.0.0.1:8333", bucket: text("--bucket") ?? "bench", key: text("--key") ?? "stream",
                         partMiB: option("--part-mib", default: 5))
case "dr-failover":
    let provider = args.firstIndex(of: "--provider").flatMap { args.index(after: $0) < args.endIndex ? args[args.index(after: $0)] : nil } ?? "bind"
    try await drFailoverBench(provider: provider, policies: option("--policies", default: 10))
case "dr-probes":
    try await drProbesBench(policies: option("--policies", default: 200), interval: option("--interval", default: 10), seconds: option("--seconds", default: 120))
case "localcluster":
    try await localClusterBench(objects: option("--objects", default: 10_000), watchers: option("--watchers", default: 10),
                                concurrency: option("--concurrency", default: 16))
default:
    print("""
    usage: salespot-bench bluegreen [--resources N] [--workers W] [--runs R] [--analysis]   N rollouts at once: ready-to-switch
             latency, fairness; --analysis adds a pre-promotion webhook check of count 1 to each
           salespot-bench mirror [--objects N]        the mirror controller as a process: convergence, CPU, peak RSS
           salespot-bench latency [--changes N] [--rate R]   change-to-reconcile-start latency p50/p99
           salespot-bench cache [--objects N] [--compact]   steady RSS of a controller caching N Deployments
           salespot-bench flags [--flags N] [--seconds S] [--patches P]   the flag server with N flags: wrk peak and
             hey p99 at half of peak against a constant-answer ceiling; change propagation p50/p99 (defaults 1000, 10, 200)
           salespot-bench localcluster [--objects N] [--watchers W] [--concurrency C]
             create then update N ConfigMaps with W watchers (defaults 10000, 10, 16)
           salespot-bench s3-put [--endpoint URL] [--bucket B] [--key K] [--part-mib N] < FILE
             stream standard input into one S3 object (scripts/bench-backup.sh compares it with aws s3 cp)
           salespot-bench dr-failover [--provider bind|route53] [--policies N]   N DRPolicies with default health checks:
             outage → record switched and read back, against threshold x interval + 2 s (default bind, 10)
           salespot-bench dr-probes [--policies N] [--interval S] [--seconds T]   N DRPolicies probed at once: the
             gaps between probes against the interval (defaults 200, 10, 120)
           salespot-bench watch-decode [--events N] [--only TEXT]
             decode a watch stream of N Deployment events (default 100000); --only runs the phases whose name has TEXT
    """)
}
