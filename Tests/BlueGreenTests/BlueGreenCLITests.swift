import Foundation
import Testing
import BlueGreen
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// `salespot-operator bluegreen ...` as a real process: it drives resources by patching them.
@Suite struct BlueGreenCLITests {
    static var executable: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("salespot-operator").path
    }

    @Test func deployPromoteAbortAndStatusPatchTheResources() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.service("web", app: "web")
        try await h.bgd("api", image: "api:1", service: "api", manual: true)
        try await h.bgd("web", image: "web:1", service: "web", manual: true)
        _ = try await h.api.patch("api", .merge(["metadata": ["labels": ["part-of": "salespot"]]]))
        _ = try await h.api.patch("web", .merge(["metadata": ["labels": ["part-of": "salespot"]]]))
        #expect(try await h.eventually {
            let web = try await h.selectedColor("web")
            let api = try await h.selectedColor("api")
            return web == "blue" && api == "blue"
        })
        func cli(_ args: String...) async throws -> (status: Int32, out: String, err: String) {
            try await runAsync(Self.executable, ["bluegreen"] + args + ["--kubeconfig", h.cluster.kubeconfigPath])
        }
        let deploy = try await cli("deploy", "api", "--image", "api:2")
        #expect(deploy.status == 0, "\(deploy.err)")
        #expect(try await h.api.get("api").spec.template[path: ["spec", "containers"]]?[0]?["image"] == "api:2")
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Paused" })
        let promote = try await cli("promote", "api")
        #expect(promote.status == 0)
        #expect(try await h.eventually { try await h.selectedColor("api") == "green" })
        // --all with a selector acts on every matching resource (the original design's `all`).
        _ = try await cli("deploy", "--all", "-l", "part-of=salespot", "--color", "green")
        #expect(try await h.api.get("web").spec.activeColor == "green")
        #expect(try await h.api.get("api").spec.activeColor == "green")
        let abort = try await cli("abort", "--all", "-l", "part-of=salespot")
        #expect(abort.status == 0)
        #expect(try await h.api.get("web").spec.abort == true)
        let status = try await cli("status", "--all")
        #expect(status.out.contains("NAME"))
        #expect(status.out.contains("api"))
        #expect(status.out.contains("web"))
        let bad = try await cli("deploy", "api", "--color", "purple")
        #expect(bad.status != 0)
        #expect(bad.err.contains("blue or green"))
    }

    @Test func historyListsTheRevisionsAndUndoGoesBackInsideAndAfterTheDelay() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.bgd("api", image: "api:1", service: "api", delay: 3)
        func cli(_ args: String...) async throws -> (status: Int32, out: String, err: String) {
            try await runAsync(Self.executable, ["bluegreen"] + args + ["--kubeconfig", h.cluster.kubeconfigPath])
        }
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" })
        try await h.setImage("api", "api:2")
        #expect(try await h.eventually {
            let active = try await h.api.get("api").status?.history?.last?.outcome == "Active"
            let color = try await h.selectedColor("api")
            return active && color == "green"
        })
        let history = try await cli("history", "api")
        #expect(history.status == 0, "\(history.err)")
        let lines = history.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 3 && lines[0].hasPrefix("REVISION"), "\(history.out)")
        #expect(lines[1].contains("api:2") && lines[1].contains("Active") && lines[2].contains("api:1") && lines[2].contains("Superseded"), "\(history.out)")
        // Inside the delay: blue still runs api:1, so the undo is an instant switch back, with no new rollout.
        let undo = try await cli("undo", "api")
        #expect(undo.status == 0, "\(undo.out) \(undo.err)")
        #expect(undo.out.contains("revision 1"), "\(undo.out)")
        #expect(try await h.eventually(.seconds(3)) { try await h.selectedColor("api") == "blue" })
        #expect(try await h.eventually { try await h.api.get("api").status?.history?.last?.image == "api:1" })
        // After the delay (green scaled down), an undo to revision 2 is a normal rollout of its stored template.
        #expect(try await h.eventually { try await h.deployment("api-green")?.spec?.replicas == 0 })
        let back = try await cli("undo", "api", "--to-revision", "2")
        #expect(back.status == 0, "\(back.out) \(back.err)")
        #expect(try await h.eventually { try await h.selectedColor("api") == "green" })
        #expect(try await h.api.get("api").spec.template[path: ["spec", "containers"]]?[0]?["image"] == "api:2")
        let none = try await cli("undo", "api", "--to-revision", "99")
        #expect(none.status != 0 && none.err.contains("no revision 99"), "\(none.err)")
    }

    @Test func promoteRefusesWhenNothingWaitsAndStatusListsEveryResource() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("shop", app: "shop")
        try await h.service("auto", app: "auto")
        try await h.bgd("shop", image: "shop:1", service: "shop", manual: true)
        try await h.bgd("auto", image: "auto:1", service: "auto")
        #expect(try await h.eventually {
            let shop = try await h.api.get("shop").status?.phase
            let auto = try await h.api.get("auto").status?.phase
            return shop == "Healthy" && auto == "Healthy"
        })
        func cli(_ args: String...) async throws -> (status: Int32, out: String, err: String) {
            try await runAsync(Self.executable, ["bluegreen"] + args + ["--kubeconfig", h.cluster.kubeconfigPath])
        }
        // Nothing waits: refused, and spec.promote is left unset.
        let idle = try await cli("promote", "shop")
        #expect(idle.status != 0)
        #expect(idle.err.contains("nothing awaits promotion (phase Healthy)"), "\(idle.err)")
        let automatic = try await cli("promote", "auto")
        #expect(automatic.status != 0)
        #expect(automatic.err.contains("automatic"), "\(automatic.err)")
        #expect(try await h.api.get("shop").spec.promote == nil)
        #expect(try await h.api.get("auto").spec.promote == nil)
        // Aborted: deploy says the rollout waits for --resume; promote refuses until then.
        _ = try await cli("abort", "shop")
        #expect(try await h.eventually { try await h.api.get("shop").status?.phase == "Aborted" })
        let deploy = try await cli("deploy", "shop", "--image", "shop:2")
        #expect(deploy.status == 0)
        #expect(deploy.out.contains("abort shop --resume"), "\(deploy.out)")
        let aborted = try await cli("promote", "shop")
        #expect(aborted.status != 0)
        #expect(aborted.err.contains("--resume"), "\(aborted.err)")
        _ = try await cli("abort", "shop", "--resume")
        #expect(try await h.eventually { try await h.api.get("shop").status?.phase == "Paused" })
        let promote = try await cli("promote", "shop")
        #expect(promote.status == 0, "\(promote.err)")
        #expect(try await h.eventually { try await h.selectedColor("shop") == "green" })
        // status with no name lists every resource in the namespace.
        let status = try await cli("status")
        #expect(status.status == 0)
        let lines = status.out.split(separator: "\n")
        #expect(lines.first?.hasPrefix("NAME") == true)
        #expect(lines.contains { $0.hasPrefix("auto ") } && lines.contains { $0.hasPrefix("shop ") }, "\(status.out)")
    }

    @Test func embeddedManifestsMatchTheFiles() async throws {
        // The CRDs and samples built into the binary are the repository's (scripts/embed-manifests.py writes them).
        for (what, folder) in [("crds", "/crds"), ("samples", "/manifests/samples")] {
            let printed = try await runAsync(Self.executable, ["manifests", what])
            #expect(printed.status == 0, "\(printed.err)")
            let files = try FileManager.default.contentsOfDirectory(atPath: repository + folder).filter { $0.hasSuffix(".yaml") }.sorted()
            let expected = try files.map { f -> String in
                let text = try String(contentsOfFile: repository + folder + "/" + f, encoding: .utf8)
                return text.hasSuffix("\n") ? String(text.dropLast()) : text
            }.joined(separator: "\n---\n")
            #expect(printed.out == expected + "\n", "the embedded \(what) differ from \(folder): run python3 scripts/embed-manifests.py")
        }
    }

    @Test func devRunsFromAnyDirectoryWithTheBuiltInCRDsAndSaysWhatIsMissing() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // An explicit --crds that does not exist is an error at once, naming it.
        let missing = try await runAsync(Self.executable, ["dev", "--crds", dir + "/nowhere", "--kubeconfig", dir + "/kc"])
        #expect(missing.status != 0)
        #expect(missing.err.contains("--crds: cannot read directory"), "\(missing.err)")
        // Started from a folder with no crds/ or manifests/: the built-in ones are used, the samples roll out.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.executable)
        p.arguments = ["dev", "--kubeconfig", dir + "/kubeconfig", "--flags-bind-address", "127.0.0.1:0"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardInput = FileHandle.nullDevice
        let out = Pipe()
        p.standardOutput = out
        let errors = dir + "/stderr"
        FileManager.default.createFile(atPath: errors, contents: nil)
        p.standardError = FileHandle(forWritingAtPath: errors)
        try p.run()
        defer { stopProcess(p) }
        let banner = await Task.detached { () -> String in
            var data = Data()
            while !String(decoding: data, as: UTF8.self).contains("Press Ctrl+C") {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                data.append(chunk)
            }
            return String(decoding: data, as: UTF8.self)
        }.value
        #expect(banner.contains("CRDs installed: backuppolicies.ops.salespot.by.yaml, backups.ops.salespot.by.yaml, bluegreendeployments.ops.salespot.by.yaml, drdrills.ops.salespot.by.yaml, drpolicies.ops.salespot.by.yaml, featureflags.ops.salespot.by.yaml, restores.ops.salespot.by.yaml (built in)"), "\(banner)")
        #expect(banner.contains("samples applied: bluegreen-api.yaml, bluegreen-web.yaml"), "\(banner)")
        #expect(banner.contains("metrics on http://127.0.0.1:"))
        let client = KubeClient(configuration: try ConfigLoader().load(explicitPath: dir + "/kubeconfig", context: nil, namespace: nil))
        var phase: String?
        for _ in 0..<200 {
            phase = try await Api<BlueGreenDeployment>(client, namespace: "default").getIfExists("api")?.status?.phase
            if phase == "Healthy" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(phase == "Healthy")
        // Each rollout step is a log line at info level.
        let log = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        #expect(log.contains("bluegreendeployment/default/api Promoted"), "\(log.suffix(2000))")
        kill(p.processIdentifier, SIGTERM)
        for _ in 0..<500 where p.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!p.isRunning && p.terminationStatus == 0)
    }
}
