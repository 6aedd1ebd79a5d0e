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

    @Test func sigtermWhileTheCachesCannotSyncExitsCleanlyInsideTheTimeout() async throws {
        // No CRDs installed: listing BlueGreenDeployments answers 404 over and over, so the workers wait for a sync
        // that never comes.
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let errors = NSTemporaryDirectory() + "operator-stderr-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: errors) }
        let (p, _) = try await Self.launch(cluster, ["run", "--controllers", "bluegreen", "--shutdown-timeout", "3"], stderr: errors)
        defer { stopProcess(p) }
        try await Task.sleep(for: .seconds(1))
        let stopAt = ContinuousClock.now
        kill(p.processIdentifier, SIGTERM)
        for _ in 0..<750 where p.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        let log = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        #expect(!p.isRunning, "still running 15 s after SIGTERM")
        #expect(p.terminationStatus == 0, "exit status \(p.terminationStatus): \(log.suffix(2000))")
        #expect(!log.contains("Fatal error"), "\(log.suffix(2000))")
        #expect(ContinuousClock.now - stopAt < .seconds(3 + 2), "took longer than the shutdown timeout")
    }

    @Test func aStandbyTakesOverFromAKilledLeaderAndALeaderThatLostItsLeaseLeadsAgain() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let maps = Api<ConfigMap>(client)
        let leases = Api<Lease>(client, namespace: "default")
        let timings = ["--leader-election-lease-duration", "4s", "--leader-election-renew-deadline", "3s",
                       "--leader-election-retry-period", "300ms"]
        func holder() async throws -> String { try await leases.getIfExists("salespot-operator")?.spec?.holderIdentity ?? "" }
        func waitForHolder(_ p: Process, _ timeout: Duration = .seconds(10)) async throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if try await holder().hasSuffix("-\(p.processIdentifier)") { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
            return false
        }
        func masterStatus(_ port: Int) async throws -> String? {
            let text = String(decoding: try await CurlTransport().send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)/metrics")).body, as: UTF8.self)
            return text.split(separator: "\n").first { $0.hasPrefix("leader_election_master_status{") }.flatMap { $0.split(separator: " ").last.map(String.init) }
        }

        let (a, _) = try await Self.launch(cluster, ["example", "mirror", "--enable-leader-election"] + timings)
        defer { stopProcess(a) }
        #expect(try await waitForHolder(a))
        let (b, bPort) = try await Self.launch(cluster, ["example", "mirror", "--enable-leader-election"] + timings)
        defer { stopProcess(b) }
        _ = try await maps.create(configMap(0, value: "a"))
        #expect(try await waitForMirrors(client, count: 1, timeout: .seconds(10)))

        // The leader dies without releasing the Lease: the standby takes over once it expires, and reconciles.
        kill(a.processIdentifier, SIGKILL)
        _ = try await maps.create(configMap(2, value: "b"))
        #expect(try await waitForHolder(b), "the standby did not take the Lease over")
        #expect(try await waitForMirrors(client, count: 2, timeout: .seconds(10)), "the new leader did not reconcile")

        // Someone else takes the Lease (as a hand edit or a peer that won a race would): the leader stops leading ...
        for attempt in 1...20 {  // the leader renews every 300 ms: read and write again on a conflict
            var lease = try await leases.get("salespot-operator")
            lease.spec?.holderIdentity = "thief"
            lease.spec?.renewTime = MicroTime(.now())
            lease.spec?.leaseDurationSeconds = 3
            do {
                _ = try await leases.update(lease)
                break
            } catch let e as KubeError where e.isConflict && attempt < 20 {}
        }
        var stopped = false
        for _ in 0..<100 where !stopped {
            stopped = try await masterStatus(bPort) == "0"
            if !stopped { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(stopped, "still leading 5 s after its Lease was taken")
        _ = try await maps.create(configMap(4, value: "c"))
        // ... and once the thief's Lease expires it wins it back and reconciles again, from a clean start.
        #expect(try await waitForHolder(b, .seconds(15)), "the Lease was not won back")
        #expect(try await waitForMirrors(client, count: 3, timeout: .seconds(10)), "re-elected, but reconciling nothing")
        _ = try await maps.create(configMap(6, value: "d"))
        #expect(try await waitForMirrors(client, count: 4, timeout: .seconds(10)))
        #expect(try await masterStatus(bPort) == "1")
    }

    /// Starts `example mirror` with leader election; returns it and its metrics port.
    static func launch(_ cluster: LocalCluster) async throws -> (Process, Int) {
        try await launch(cluster, ["example", "mirror", "--shutdown-timeout", "20", "--enable-leader-election"])
    }

    /// Starts the operator with `arguments` against `cluster`; returns it and its metrics port.
    static func launch(_ cluster: LocalCluster, _ arguments: [String], stderr: String? = nil) async throws -> (Process, Int) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments + ["--kubeconfig", cluster.kubeconfigPath, "--metrics-bind-address", "127.0.0.1:0",
                                   "--log-level", "warning", "--json-logs"]
        p.standardInput = FileHandle.nullDevice
        let out = Pipe()
        p.standardOutput = out
        if let stderr {
            FileManager.default.createFile(atPath: stderr, contents: nil)
            p.standardError = FileHandle(forWritingAtPath: stderr)
        } else {
            p.standardError = FileHandle.nullDevice
        }
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
        guard let port = line.split(separator: ":").last.flatMap({ Int($0.split(separator: "/").first ?? "") }) else {
            stopProcess(p)  // not left running when the test cannot use it
            Issue.record("no metrics port in the operator's first line '\(line)'")
            throw CancellationError()
        }
        return (p, port)
    }
}
