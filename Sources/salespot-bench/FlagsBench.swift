import FeatureFlags
import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import LocalCluster
import Synchronization

/// `salespot-bench flags`: the evaluation server with N flags loaded, driven by wrk (peak) and hey (half of
/// peak, for p99), next to the same server answering a constant (the ceiling); then change propagation.
func flagsBench(flags n: Int, seconds: Int, patches: Int) async throws {
    let wrk = "/usr/bin/wrk", hey = "/usr/bin/hey"
    for tool in [wrk, hey] where !FileManager.default.isExecutableFile(atPath: tool) {
        print("flags: \(tool) is missing (scripts/bench.sh installs wrk and hey)")
        return
    }
    var options = LocalCluster.Options()
    options.simulateWorkloads = false
    let cluster = try await LocalCluster.start(options)
    let crd = try String(contentsOfFile: "crds/featureflags.ops.salespot.by.yaml", encoding: .utf8)
    try await cluster.installCRDs(crd)
    let client = KubeClient(configuration: cluster.clientConfiguration())
    let api = Api<FeatureFlag>(client, namespace: "default")
    print("flags: creating \(n) FeatureFlags (native with user, role, environment and percentage rules; every fifth in flagd form)...")
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<8 {
            group.addTask {
                for i in stride(from: worker, to: n, by: 8) {
                    _ = try await api.create(FeatureFlag(metadata: ObjectMeta(name: "flag-\(i)"), spec: benchFlagSpec(i)))
                }
            }
        }
        try await group.waitForAll()
    }
    var serverOptions = FlagServer.Options()
    serverOptions.port = 0
    serverOptions.constantRoute = true
    let registry = MetricsRegistry()
    let server = FlagServer(evaluator: FlagEvaluator(catalog: FlagCatalog(), environment: "production"), options: serverOptions, registry: registry)
    let ports = Mutex<Int?>(nil)
    let service = FlagService(client: client, server: server) { p in ports.withLock { $0 = p } }
    let running = Task { try? await service.run() }
    while ports.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(20)) }
    let port = ports.withLock { $0 }!
    print("flags: \(service.catalog.allEntries().count) flags served on 127.0.0.1:\(port); \(seconds) s per run, wrk -t2 -c32; each request another user and flag")
    let base = "http://127.0.0.1:\(port)"
    let dir = NSTemporaryDirectory() + "salespot-flags-bench-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    // Every request a different user and flag, as real traffic.
    let getScript = dir + "/get.lua", postScript = dir + "/post.lua", constantPost = dir + "/constant.lua", constantGet = dir + "/constant-get.lua"
    try """
    counter = 0
    request = function()
      counter = counter + 1
      return wrk.format("GET", "/bench/constant/flag-" .. (counter % \(n)) .. "?userId=user-" .. counter .. "&role=USER")
    end
    """.write(toFile: constantGet, atomically: true, encoding: .utf8)
    try """
    counter = 0
    request = function()
      counter = counter + 1
      return wrk.format("GET", "/feature-flags/flag-" .. (counter % \(n)) .. "/value?userId=user-" .. counter .. "&role=USER")
    end
    """.write(toFile: getScript, atomically: true, encoding: .utf8)
    try """
    counter = 0
    wrk.headers["Content-Type"] = "application/json"
    request = function()
      counter = counter + 1
      return wrk.format("POST", "/ofrep/v1/evaluate/flags/flag-" .. (counter % \(n)), nil, '{"context":{"targetingKey":"user-' .. counter .. '","role":"USER"}}')
    end
    """.write(toFile: postScript, atomically: true, encoding: .utf8)
    try """
    counter = 0
    wrk.headers["Content-Type"] = "application/json"
    request = function()
      counter = counter + 1
      return wrk.format("POST", "/bench/constant/flag-" .. (counter % \(n)), nil, '{"context":{"targetingKey":"user-' .. counter .. '","role":"USER"}}')
    end
    """.write(toFile: constantPost, atomically: true, encoding: .utf8)

    func runWrk(_ args: [String]) throws -> (rps: Double, p99ms: Double) {
        let out = try runTool(wrk, ["-t2", "-c32", "-d\(seconds)s", "--latency"] + args)
        let rps = out.split(separator: "\n").first { $0.contains("Requests/sec:") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        let p99 = out.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("99%") }
            .map { parseDuration(String($0.split(separator: " ").last ?? "")) } ?? 0
        if out.contains("Non-2xx") { print("  wrk saw non-2xx responses:\n\(out)") }
        return (rps, p99)
    }
    func runHey(_ url: String, rate: Double, post: Bool) throws -> Double {
        let workers = 4
        var args = ["-z", "\(seconds)s", "-c", "\(workers)", "-q", String(format: "%.0f", rate / Double(workers))]
        if post { args += ["-m", "POST", "-T", "application/json", "-d", #"{"context":{"targetingKey":"user-7","role":"USER"}}"#] }
        let out = try runTool(hey, args + [url])
        let line = out.split(separator: "\n").first { $0.contains("99% in") }
        return (line.flatMap { Double($0.split(separator: " ").dropFirst(2).first ?? "") } ?? 0) * 1000
    }
    // Peak throughput, interleaved with the ceiling so that both see the same machine (2 cores shared with wrk);
    // the median of `rounds` runs of each.
    let rounds = 5
    var runs: [String: [(rps: Double, p99ms: Double)]] = [:]
    for _ in 0..<rounds {
        runs["ceiling GET", default: []].append(try runWrk(["-s", constantGet, base]))
        runs["value", default: []].append(try runWrk(["-s", getScript, base]))
        runs["ceiling POST", default: []].append(try runWrk(["-s", constantPost, base]))
        runs["ofrep", default: []].append(try runWrk(["-s", postScript, base]))
    }
    func median(_ name: String) -> (rps: Double, p99ms: Double) {
        let r = runs[name]!
        return (r.map(\.rps).sorted()[r.count / 2], r.map(\.p99ms).sorted()[r.count / 2])
    }
    let ceilingGet = median("ceiling GET"), value = median("value"), ceilingPost = median("ceiling POST"), ofrep = median("ofrep")
    let valueHalf = try runHey(base + "/feature-flags/flag-7/value?userId=user-7&role=USER", rate: value.rps / 2, post: false)
    let ofrepHalf = try runHey(base + "/ofrep/v1/evaluate/flags/flag-7", rate: ofrep.rps / 2, post: true)
    let ceilingGetHalf = try runHey(base + "/bench/constant/flag-7?userId=user-7&role=USER", rate: ceilingGet.rps / 2, post: false)
    let rows: [(String, Double, Double, Double)] = [
        ("constant GET (ceiling)", ceilingGet.rps, ceilingGet.p99ms, ceilingGetHalf),
        ("GET /feature-flags/{key}/value", value.rps, value.p99ms, valueHalf),
        ("constant POST (ceiling)", ceilingPost.rps, ceilingPost.p99ms, .nan),
        ("POST /ofrep/v1/evaluate/flags/{key}", ofrep.rps, ofrep.p99ms, ofrepHalf),
    ]
    print("endpoint (median of \(rounds) interleaved runs)     req/s   p99 at peak   p99 at half of peak (hey, 4 connections)")
    for (name, rps, p99, half) in rows {
        print(String(format: "%-44@ %7.0f   %8.2f ms   %@", name as NSString, rps, p99, half.isNaN ? "-" : String(format: "%.2f ms", half)))
    }
    for name in ["ceiling GET", "value", "ceiling POST", "ofrep"] {
        print("  \(name) runs: " + runs[name]!.map { String(format: "%.0f", $0.rps) }.joined(separator: ", ") + " req/s")
    }
    // Each run against the ceiling run just before it: the machine's speed drifts (CPU steal on a shared VM), so
    // the median of the per-round ratios says more than the ratio of medians.
    func ratio(_ a: String, _ b: String) -> (median: Double, all: [Double]) {
        let all = zip(runs[a]!, runs[b]!).map { $0.rps / $1.rps * 100 }
        return (all.sorted()[all.count / 2], all)
    }
    let valueRatio = ratio("value", "ceiling GET"), ofrepRatio = ratio("ofrep", "ceiling POST")
    print(String(format: "value endpoint: %.0f%% of the GET ceiling (median of per-round ratios %@); OFREP: %.0f%% of the POST ceiling (%@)",
                 valueRatio.median, valueRatio.all.map { String(format: "%.0f", $0) }.joined(separator: ", ") as NSString,
                 ofrepRatio.median, ofrepRatio.all.map { String(format: "%.0f", $0) }.joined(separator: ", ") as NSString))
    // The evaluation work itself, without HTTP: what a request adds to the ceiling's cost.
    let evaluator = server.evaluator
    let body = Array(#"{"context":{"targetingKey":"user-12345","role":"USER"}}"#.utf8)
    let iterations = 200_000
    let cpuStart = cpuSeconds()
    var checksum = 0
    for i in 0..<iterations {
        guard let context = try? JSONParser.parse(body).objectValue?["context"]?.objectValue else { continue }
        let r = evaluator.evaluate(namespace: "default", key: "flag-\(i % n)", context: EvaluationContext(context))
        checksum &+= JSONValue.object(["key": .string("flag"), "value": r.value ?? .null, "reason": .string(r.reason.rawValue)]).serialized().count
    }
    let perEvaluation = (cpuSeconds() - cpuStart) / Double(iterations) * 1e6
    print(String(format: "in-process OFREP work (parse the body, evaluate, serialize the answer): %.2f µs of CPU per evaluation (%d evaluations, checksum %d)",
                 perEvaluation, iterations, checksum))

    // Change propagation: a patch accepted by the API server, to the new value served over HTTP.
    let transport = CurlTransport()
    var viaAPI: [Double] = []
    var viaKubectl: [Double] = []
    let kubectl = "/usr/bin/kubectl"
    for i in 0..<patches {
        let key = "flag-\(1 + (i * 7) % (n - 1))"
        let enabled = i % 2 == 0
        let useKubectl = i % 2 == 1 && FileManager.default.isExecutableFile(atPath: kubectl)
        let started = ContinuousClock.now
        if useKubectl {
            _ = try runTool(kubectl, ["--kubeconfig", cluster.kubeconfigPath, "patch", "featureflag", key, "--type", "merge",
                                      "-p", #"{"spec":{"enabled":\#(enabled)}}"#])
        } else {
            _ = try await api.patch(key, .merge(["spec": ["enabled": .bool(enabled)]]))
        }
        let accepted = ContinuousClock.now
        // Disabled serves the default (false) with reason DISABLED; watch the reason.
        while true {
            let r = try await transport.send(HTTPRequest(method: "GET", url: base + "/feature-flags/\(key)/value?userId=nobody", timeout: .seconds(5)))
            let reason = (try? JSONParser.parse(r.body))?["reason"]?.stringValue
            if (reason == "DISABLED") == !enabled { break }
            if ContinuousClock.now - accepted > .seconds(10) { print("  \(key): not served after 10 s"); break }
        }
        let done = ContinuousClock.now
        if useKubectl { viaKubectl.append((done - started).ms) } else { viaAPI.append((done - accepted).ms) }
    }
    func pct(_ a: [Double], _ p: Double) -> Double { let s = a.sorted(); return s.isEmpty ? .nan : s[min(s.count - 1, Int(Double(s.count) * p))] }
    print(String(format: "change propagation, API server write accepted -> new value served: p50 %.1f ms, p99 %.1f ms (%d patches)",
                 pct(viaAPI, 0.5), pct(viaAPI, 0.99), viaAPI.count))
    print(String(format: "change propagation, `kubectl patch` started -> new value served (includes kubectl's start-up): p50 %.1f ms, p99 %.1f ms (%d patches)",
                 pct(viaKubectl, 0.5), pct(viaKubectl, 0.99), viaKubectl.count))
    print(String(format: "memory: RSS %.1f MiB with the API server, %d flags stored and served, in one process", currentRSSMiB(), n))
    running.cancel()
    await cluster.stop()
}

/// Flag number i of the benchmarks: native with user, role, environment and percentage rules; every fifth in flagd form.
func benchFlagSpec(_ i: Int) -> FeatureFlag.Spec {
    if i % 5 == 0 {
        var spec = FeatureFlag.Spec()
        spec.flagd = .init(state: "ENABLED", variants: ["on": true, "off": false], defaultVariant: "off",
                           targeting: ["if": [["in": [["var": "role"], ["ADMIN", "BETA"]]], "on", ["fractional": [["on", 30], ["off", 70]]]]])
        return spec
    }
    return FeatureFlag.Spec(type: "boolean", defaultValue: false, rules: [
        .init(name: "testers", users: (0..<20).map { "tester-\($0)" }, value: true),
        .init(name: "admins", roles: ["ADMIN"], environments: ["production"], value: true),
        .init(name: "rollout", percentage: Double(i % 100), value: true),
    ])
}

func runTool(_ path: String, _ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// wrk's latency text: 812.00us, 1.20ms, 2.00s.
func parseDuration(_ s: String) -> Double {
    for (unit, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where s.hasSuffix(unit) {
        return (Double(s.dropLast(unit.count)) ?? 0) * factor
    }
    return 0
}

extension Duration {
    var ms: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}

/// `salespot-bench flags-eval`: the evaluation work alone (no HTTP, no API server), for profiling.
func flagsEvalBench(flags n: Int, iterations: Int) {
    let catalog = FlagCatalog()
    for i in 0..<n {
        let spec = benchFlagSpec(i)
        var meta = ObjectMeta(name: "flag-\(i)", namespace: "default")
        meta.uid = "uid-\(i)"
        meta.generation = 1
        catalog.apply(FeatureFlag(metadata: meta, spec: spec))
    }
    let evaluator = FlagEvaluator(catalog: catalog, environment: "production")
    let keys = (0..<n).map { "flag-\($0)" }
    let body = Array(#"{"context":{"targetingKey":"user-12345","role":"USER"}}"#.utf8)
    var checksum = 0
    let cpuStart = cpuSeconds()
    for i in 0..<iterations {
        guard let context = try? JSONParser.parse(body).objectValue?["context"]?.objectValue else { continue }
        let r = evaluator.evaluate(namespace: "default", key: keys[i % n], context: EvaluationContext(context))
        checksum &+= JSONValue.object(["key": .string(keys[i % n]), "value": r.value ?? .null, "reason": .string(r.reason.rawValue)]).serialized().count
    }
    print(String(format: "flags-eval: %.2f µs of CPU per evaluation (%d, checksum %d)", (cpuSeconds() - cpuStart) / Double(iterations) * 1e6, iterations, checksum))
}
