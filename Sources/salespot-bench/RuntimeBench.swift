import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import LocalCluster
import Synchronization

/// CPU seconds and peak RSS (MiB) of another process, from /proc.
func processFigures(_ pid: Int32) -> (cpu: Double, peakMiB: Double, rssMiB: Double) {
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    // Fields after the command name (which is in parentheses): utime is 14th, stime 15th overall.
    let fields = stat.split(separator: ")").last.map { $0.split(separator: " ") } ?? []
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    let cpu = fields.count > 13 ? ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticks : 0
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    func kb(_ key: String) -> Double {
        for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
            return (Double(line.split(separator: " ").dropFirst().first.map(String.init) ?? "0") ?? 0) / 1024
        }
        return 0
    }
    return (cpu, kb("VmHWM"), kb("VmRSS"))
}

/// Starts a child process and returns it once it printed a line.
func startChild(_ path: String, _ args: [String]) throws -> (Process, String) {
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw BenchError("\(path) is not built: run swift build -c release first")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    var data = Data()
    while !data.contains(0x0A) {
        let chunk = out.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        data.append(chunk)
    }
    return (p, String(decoding: data, as: UTF8.self))
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func seconds(_ d: Duration) -> Double { d.seconds }

/// The mirror controller as its own process against LocalCluster: N ConfigMaps created, then all updated; time until
/// every Secret is right, and the controller's CPU seconds and peak RSS.
func mirrorBench(objects n: Int) async throws {
    var options = LocalCluster.Options()
    options.simulateWorkloads = false
    options.historyLimit = 4 * n + 100
    let cluster = try await LocalCluster.start(options)
    let client = KubeClient(configuration: cluster.clientConfiguration())
    let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    let (child, _) = try startChild(binDir + "/salespot-operator", ["example", "mirror", "--kubeconfig", cluster.kubeconfigPath,
                                                                    "--metrics-bind-address", "127.0.0.1:0", "--log-level", "error", "--workers", "2"])
    defer { child.terminate(); child.waitUntilExit() }
    let maps = Api<ConfigMap>(client, namespace: "default")
    let secrets = Api<Secret>(client, namespace: "default")
    func converged(_ value: String) async throws -> Bool {
        let (ss, _) = try await secrets.listAll()
        let expected = Data(value.utf8).base64EncodedString()
        return ss.filter { $0.data?["value"] == expected }.count == n
    }
    func phase(_ name: String, _ value: String, _ op: @escaping @Sendable (Int) async throws -> Void) async throws {
        let cpu0 = processFigures(child.processIdentifier).cpu
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<8 { group.addTask { for i in stride(from: w, to: n, by: 8) { try await op(i) } } }
            try await group.waitForAll()
        }
        let written = ContinuousClock.now - start
        while !(try await converged(value)) { try await Task.sleep(for: .milliseconds(20)) }
        let done = ContinuousClock.now - start
        let f = processFigures(child.processIdentifier)
        print(String(format: "%-7@ %d ConfigMaps written in %.2f s; every Secret right after %.2f s; controller cpu %.2f s",
                     name as NSString, n, seconds(written), seconds(done), f.cpu - cpu0))
    }
    print("mirror: \(n) ConfigMaps, controller in its own process (salespot-operator example mirror, 2 workers)")
    try await phase("create", "one") { i in
        _ = try await maps.create(ConfigMap(metadata: ObjectMeta(name: "cm-\(i)", labels: ["mirror": "true"]), data: ["value": "one"]))
    }
    try await phase("update", "two") { i in
        _ = try await maps.patch("cm-\(i)", .merge(["data": ["value": "two"]]))
    }
    let f = processFigures(child.processIdentifier)
    print(String(format: "controller totals: cpu %.2f s, peak RSS %.1f MiB, RSS now %.1f MiB", f.cpu, f.peakMiB, f.rssMiB))
    await cluster.stop()
}

/// Event-to-reconcile-start latency at a given change rate, in process (so both ends share one clock).
func latencyBench(objects n: Int, rate: Int) async throws {
    var options = LocalCluster.Options()
    options.simulateWorkloads = false
    options.historyLimit = 4 * n + 100
    let cluster = try await LocalCluster.start(options)
    let client = KubeClient(configuration: cluster.clientConfiguration())
    let maps = Api<ConfigMap>(client, namespace: "default")
    for i in 0..<n { _ = try await maps.create(ConfigMap(metadata: ObjectMeta(name: "l-\(i)"), data: ["v": "0"])) }
    final class Times: Sendable {
        let written = Mutex([String: ContinuousClock.Instant]())
        let started = Mutex([String: ContinuousClock.Instant]())
    }
    let times = Times()
    let controller = Controller(name: "latency", api: maps, workers: 2) { request in
        if request.object?.data?["v"] == "1" {
            let now = ContinuousClock.now
            times.started.withLock { if $0[request.ref.name] == nil { $0[request.ref.name] = now } }
        }
        return .awaitChange
    }
    let running = Task { await controller.run() }
    while !controller.hasSynced { try await Task.sleep(for: .milliseconds(10)) }
    try await Task.sleep(for: .milliseconds(200))
    // Changes at a fixed rate from several writers; the change's time is when the write was sent.
    let interval = Duration.seconds(1) / rate
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for i in 0..<n {
            let due = start + interval * i
            group.addTask {
                try await Task.sleep(until: due, clock: .continuous)
                let sent = ContinuousClock.now
                times.written.withLock { $0["l-\(i)"] = sent }
                _ = try await maps.patch("l-\(i)", .merge(["data": ["v": "1"]]))
            }
        }
        try await group.waitForAll()
    }
    while times.started.withLock({ $0.count }) < n { try await Task.sleep(for: .milliseconds(10)) }
    running.cancel()
    let written = times.written.withLock { $0 }
    let latencies = times.started.withLock { s in s.compactMap { k, v in written[k].map { (v - $0).seconds * 1000 } } }.sorted()
    func pct(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
    print(String(format: "latency: %d changes at %d/s; write sent -> reconcile start: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms",
                 n, rate, pct(0.5), pct(0.9), pct(0.99), latencies.last ?? 0))
    await cluster.stop()
}

/// Steady RSS of a process caching N Deployment-sized objects.
func cacheBench(objects n: Int, compact: Bool) async throws {
    var options = LocalCluster.Options()
    options.simulateWorkloads = false
    let cluster = try await LocalCluster.start(options)
    let client = KubeClient(configuration: cluster.clientConfiguration())
    let api = Api<DynamicObject>(client, resource: Deployment.resource, namespace: "default")
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<8 {
            group.addTask {
                for i in stride(from: w, to: n, by: 8) {
                    var o = try JSONParser.parse(deploymentEvent(i))["object"]!
                    o["metadata"] = ["name": .string("web-\(i)"), "labels": o[path: ["metadata", "labels"]]!,
                                     "annotations": o[path: ["metadata", "annotations"]]!]
                    o["status"] = nil
                    _ = try await api.create(DynamicObject(o))
                }
            }
        }
        try await group.waitForAll()
    }
    let (child, line) = try startChild(CommandLine.arguments[0], ["cache-child", "--kubeconfig", cluster.kubeconfigPath] + (compact ? ["--compact"] : []))
    defer { child.terminate(); child.waitUntilExit() }
    try await Task.sleep(for: .seconds(2))
    let f = processFigures(child.processIdentifier)
    print("cache: \(line.trimmingCharacters(in: .whitespacesAndNewlines))")
    print(String(format: "cache: a controller caching %d Deployments (about 3 KiB of JSON each, %@ store): steady RSS %.1f MiB, peak %.1f MiB",
                 n, compact ? "compact" : "decoded", f.rssMiB, f.peakMiB))
    await cluster.stop()
}

/// The child of ``cacheBench``: a controller on Deployments that only caches; prints when synced, then idles.
func cacheChild(kubeconfig: String, compact: Bool) async throws {
    let client = try KubeClient.fromEnvironment(kubeconfig: kubeconfig)
    let controller = Controller(name: "cache", api: Api<Deployment>(client), workers: 1, cache: compact ? .compact : .decoded) { _ in .awaitChange }
    let task = Task { await controller.run() }
    while !controller.hasSynced { try await Task.sleep(for: .milliseconds(10)) }
    print(String(format: "synced %d objects; RSS %.1f MiB", controller.store.count, processFigures(getpid()).rssMiB))
    fflush(nil)
    await task.value
}
