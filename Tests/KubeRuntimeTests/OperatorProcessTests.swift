import Foundation
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport
@testable import KubeRuntime

/// The built `salespot-operator example mirror` as a real process against LocalCluster.
@Suite struct OperatorProcessTests {
    /// The operator executable built next to this test bundle.
    static var executable: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return bundle.appendingPathComponent("salespot-operator").path
    }

    @Test func metricsPassPromtoolAndSIGTERMStopsCleanly() async throws {
        let promtool = try requireTool("promtool")
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            Issue.record("salespot-operator is not built at \(Self.executable); run swift build --build-tests")
            return
        }
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let maps = Api<ConfigMap>(client)
        for i in 0..<40 { _ = try await maps.create(configMap(i, value: "v")) }

        let (p, port) = try await Self.launch(cluster)
        defer { stopProcess(p) }
        #expect(try await waitForMirrors(client, count: 40))

        // /metrics is valid Prometheus text and carries controller-runtime's names.
        let metrics = try await CurlTransport().send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)/metrics"))
        let text = String(decoding: metrics.body, as: UTF8.self)
        #expect(text.contains("controller_runtime_reconcile_total{controller=\"mirror\",result=\"success\"}"))
        #expect(text.contains("workqueue_adds_total"))
        #expect(text.contains("rest_client_requests_total{code=\"200\",method=\"GET\",host=\"127.0.0.1\"}"))
        #expect(text.contains("leader_election_master_status{name=\"salespot-operator\"} 1"))
        #expect(!text.contains("cm-1"))  // no object names in labels
        let file = NSTemporaryDirectory() + "metrics-\(UUID().uuidString).txt"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let check = try await runAsync("/bin/sh", ["-c", "\(promtool) check metrics < \(file)"])
        #expect(check.status == 0, "promtool: \(check.out) \(check.err)")
        let ready = try await CurlTransport().send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)/readyz"))
        #expect(ready.status == 200)

        // A second instance stands by: ready (so a rollout is not held up), not leading, reconciling nothing.
        let (standby, standbyPort) = try await Self.launch(cluster)
        defer { stopProcess(standby) }
        try await Task.sleep(for: .milliseconds(500))
        let standbyReady = try await CurlTransport().send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(standbyPort)/readyz"))
        #expect(standbyReady.status == 200)
        let standbyMetrics = String(decoding: try await CurlTransport().send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(standbyPort)/metrics")).body, as: UTF8.self)
        #expect(standbyMetrics.contains("leader_election_master_status{name=\"salespot-operator\"} 0"))
        #expect(!standbyMetrics.contains("controller_runtime_reconcile_total{"))

        // SIGTERM while reconciles are under way: it ends cleanly, inside the timeout.
        for i in 40..<140 { _ = try await maps.create(configMap(i, value: "v")) }
        let stopAt = ContinuousClock.now
        kill(p.processIdentifier, SIGTERM)
        for _ in 0..<1000 where p.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!p.isRunning)
        #expect(p.terminationStatus == 0)
        #expect(ContinuousClock.now - stopAt < .seconds(20))
        // It released the lease on the way out, and the standby takes over and finishes the work.
        #expect(try await waitForMirrors(client, count: 140))
        var holder: String?
        for _ in 0..<150 {
            holder = try await Api<Lease>(client, namespace: "default").get("salespot-operator").spec?.holderIdentity
            if holder?.hasSuffix("-\(standby.processIdentifier)") == true { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(holder?.hasSuffix("-\(standby.processIdentifier)") == true, "holder \(holder ?? "none")")
    }

    /// Starts `example mirror` with leader election; returns it and its metrics port.
    static func launch(_ cluster: LocalCluster) async throws -> (Process, Int) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = ["example", "mirror", "--kubeconfig", cluster.kubeconfigPath, "--metrics-bind-address", "127.0.0.1:0",
                       "--shutdown-timeout", "20", "--enable-leader-election", "--log-level", "warning", "--json-logs"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let line = await Task.detached { () -> String in
            var data = Data()
            while !data.contains(0x0A) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                data.append(chunk)
            }
            return String(decoding: data, as: UTF8.self)
        }.value
        let port = try #require(line.split(separator: ":").last.flatMap { Int($0.split(separator: "/").first ?? "") }, "no port in '\(line)'")
        return (p, port)
    }
}
