import Foundation
import Testing
@testable import FeatureFlags
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// The operator as a process: two replicas with leader election both serve evaluations; the `flags` CLI.
@Suite struct FlagProcessTests {
    static var executable: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("salespot-operator").path
    }

    /// Starts `run` with the flag controller and server; returns it and its flag server's port.
    static func launch(_ cluster: LocalCluster) async throws -> (Process, Int) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = ["run", "--controllers", "featureflag", "--enable-leader-election", "--flags-bind-address", "127.0.0.1:0",
                       "--kubeconfig", cluster.kubeconfigPath, "--metrics-bind-address", "127.0.0.1:0", "--log-level", "warning",
                       "--leader-election-lease-duration", "6s", "--leader-election-renew-deadline", "5s", "--leader-election-retry-period", "200ms"]
        p.standardInput = FileHandle.nullDevice
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let port = await Task.detached { () -> Int? in
            var text = ""
            while true {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                text += String(decoding: chunk, as: UTF8.self)
                for line in text.split(separator: "\n") where line.hasPrefix("flag server on http://127.0.0.1:") {
                    return Int(line.dropFirst("flag server on http://127.0.0.1:".count).prefix { $0.isNumber })
                }
            }
        }.value
        guard let port else {
            stopProcess(p)
            throw HarnessError(description: "the operator printed no flag server address")
        }
        return (p, port)
    }

    @Test func aReplicaThatIsNotTheLeaderServesEvaluationsToo() async throws {
        let h = try await FlagHarness.start(controller: false)
        defer { h.stop() }
        let (a, portA) = try await Self.launch(h.cluster)
        defer { stopProcess(a) }
        let (b, portB) = try await Self.launch(h.cluster)
        defer { stopProcess(b) }
        #expect(try await h.kubectl(["apply"], stdin: FlagServerTests.checkout).status == 0)
        // One of them leads (it writes the status); both answer from their own caches.
        #expect(try await h.within(.seconds(10)) { try await h.flags.get("checkout").status?.servedGeneration == 1 } != nil)
        let holder = try await Api<Lease>(h.client, namespace: "default").get("salespot-operator").spec?.holderIdentity ?? ""
        #expect(!holder.isEmpty)
        for port in [portA, portB] {
            let answered = try await h.within(.seconds(2)) {
                let r = try await CurlTransport().send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)/feature-flags/checkout/value?userId=alice", timeout: .seconds(5)))
                return r.status == 200 && (try? JSONParser.parse(r.body))?["value"] == true
            }
            #expect(answered != nil, "the replica on \(port) did not serve the flag")
        }
        // A change reaches both within a second.
        _ = try await h.kubectl(["patch", "featureflag", "checkout", "--type", "merge", "-p", #"{"spec":{"enabled":false}}"#])
        for port in [portA, portB] {
            let changed = try await h.within(.seconds(1)) {
                let r = try await CurlTransport().send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)/feature-flags/checkout/value?userId=alice", timeout: .seconds(5)))
                return (try? JSONParser.parse(r.body))?["reason"] == "DISABLED"
            }
            #expect(changed != nil, "the replica on \(port) did not serve the change within 1 s")
        }
    }

    @Test func theFlagsCommandListsGetsSetsAndEvaluates() async throws {
        let h = try await FlagHarness.start()
        defer { h.stop() }
        for file in ["flag-new-checkout.yaml", "flag-dark-mode-flagd.yaml"] {
            #expect(try await h.kubectl(["apply", "-f", repository + "/manifests/samples/" + file]).status == 0)
        }
        #expect(try await h.within(.seconds(5)) { try await h.flags.get("new-checkout").status?.servedGeneration == 1 } != nil)
        func cli(_ args: String...) async throws -> (status: Int32, out: String, err: String) {
            try await runAsync(Self.executable, ["flags"] + args + ["--kubeconfig", h.cluster.kubeconfigPath])
        }
        let list = try await cli("list")
        #expect(list.status == 0, "\(list.err)")
        #expect(list.out.contains("new-checkout") && list.out.contains("dark-mode") && list.out.contains("True (Served)"), "\(list.out)")
        let get = try await cli("get", "new-checkout")
        #expect(get.out.contains("ready: True Served"), "\(get.out)")
        let set = try await cli("set", "new-checkout", "--percentage", "50")
        #expect(set.status == 0, "\(set.err)")
        #expect(try await h.flags.get("new-checkout").spec.rules?[1].percentage == 50)
        let refused = try await cli("set", "new-checkout", "--default", #""on""#)
        #expect(refused.status != 0)
        #expect(refused.err.contains("not changed"), "\(refused.err)")
        #expect(try await h.flags.get("new-checkout").spec.defaultValue == false)
        let off = try await cli("set", "new-checkout", "--enabled", "false")
        #expect(off.status == 0, "\(off.err)")
        let local = try await cli("eval", "new-checkout", "--user", "alice")
        #expect(local.out.contains("value: false") && local.out.contains("reason: DISABLED"), "\(local.out)")
        let flagd = try await cli("eval", "dark-mode", "--user", "u1", "--attr", "email=ann@salespot.by")
        #expect(flagd.out.contains("value: true") && flagd.out.contains("variant: on"), "\(flagd.out)")
        #expect(try await h.within(.seconds(2)) { try await h.json("GET", "/feature-flags/new-checkout").1["enabled"] == false } != nil)
        let remote = try await cli("eval", "new-checkout", "--user", "alice", "--server", "http://127.0.0.1:\(h.port)")
        #expect(remote.status == 0, "\(remote.err)")
        #expect(remote.out.contains(#""reason":"DISABLED""#), "\(remote.out)")
        let missing = try await cli("eval", "no-such-flag")
        #expect(missing.status != 0)
    }
}
