import Foundation
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// The operator, started with the production overlay's arguments and its service account's token, against
/// LocalCluster enforcing RBAC from the applied manifests: every controller does its work on the samples, and no
/// request is refused. What the ClusterRole grants is what the code calls, checked by running it.
@Suite struct RBACTests {
    static let user = "system:serviceaccount:salespot-system:salespot-operator"

    @Test func theOperatorRunsOnTheSamplesUnderItsOwnLeastPrivilegeRBAC() async throws {
        let saToken = "salespot-operator-sa-" + UUID().uuidString
        var options = LocalCluster.Options()
        options.pkiDirectory = sharedPKI
        options.deploymentReadyDelay = .milliseconds(200)
        options.jobDuration = .milliseconds(300)
        options.rbacTokens = [saToken: Self.user]
        let cluster = try await LocalCluster.start(options)
        defer { Task { await cluster.stop() } }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await cluster.installCRDs(try String(contentsOfFile: repository + "/Tests/Fixtures/prometheus-operator-crds.yaml", encoding: .utf8))
        let applied = try await kubectl(cluster, ["apply", "-k", repository + "/manifests/overlays/production"])
        #expect(applied.status == 0, "\(applied.err)")
        // The samples, with the DR policy's sites and DNS server on loopback ports where nothing listens: the test
        // reaches no host outside this machine.
        let sampleDir = dir + "/samples"
        try FileManager.default.createDirectory(atPath: sampleDir, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: repository + "/manifests/samples") {
            let text = try String(contentsOfFile: repository + "/manifests/samples/" + file, encoding: .utf8)
                .replacingOccurrences(of: "https://eu-west-1.salespot.by/health", with: "http://127.0.0.1:9/primary")
                .replacingOccurrences(of: "https://eu-central-1.salespot.by/health", with: "http://127.0.0.1:9/secondary")
                .replacingOccurrences(of: "server: ns1.salespot.by", with: "server: 127.0.0.1\n      port: 9")
            try text.write(toFile: sampleDir + "/" + file, atomically: true, encoding: .utf8)
        }
        let localized = try String(contentsOfFile: sampleDir + "/dr-policy.yaml", encoding: .utf8)
        #expect(!localized.contains("salespot.by/health") && !localized.contains("ns1.salespot.by") && localized.contains("port: 9"))
        let samples = try await kubectl(cluster, ["apply", "-n", "salespot", "-f", sampleDir])
        #expect(samples.status == 0, "\(samples.err)")

        // The service account's kubeconfig: the cluster's, with its token.
        let admin = try String(contentsOfFile: cluster.kubeconfigPath, encoding: .utf8)
        #expect(admin.contains(cluster.token))
        let kubeconfig = dir + "/operator.kubeconfig"
        try admin.replacingOccurrences(of: cluster.token, with: saToken).write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        // The refusals are real: outside its role the account is refused, in kube-apiserver's words.
        let refused = try await kubectl(cluster, ["create", "configmap", "x", "-n", "default"], kubeconfig: kubeconfig)
        #expect(refused.status != 0 && refused.err.contains("is forbidden: User \"\(Self.user)\" cannot create resource \"configmaps\""), "\(refused.err)")
        let deleteNamespace = try await kubectl(cluster, ["delete", "namespace", "salespot"], kubeconfig: kubeconfig)
        #expect(deleteNamespace.status != 0 && deleteNamespace.err.contains("forbidden"), "\(deleteNamespace.err)")

        let deliberate = await cluster.rbacDenials.count
        #expect(deliberate == 2)
        // The production overlay's arguments, with the pod's namespace filled in and local addresses.
        let (_, docs) = try await kustomize("overlays/production")
        let deployment = try #require(docs.first { $0["kind"] == "Deployment" })
        var args = deployment[path: ["spec", "template", "spec", "containers"]]?[0]?["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(args.first == "run")
        args = args.map { $0.replacingOccurrences(of: "$(POD_NAMESPACE)", with: "salespot-system") }
            .filter { !$0.hasPrefix("--metrics-bind-address") && !$0.hasPrefix("--health-probe-bind-address") && !$0.hasPrefix("--flags-bind-address") }
        args += ["--metrics-bind-address=127.0.0.1:0", "--flags-bind-address=127.0.0.1:0", "--kubeconfig", kubeconfig]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: operatorExecutable)
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        let log = dir + "/operator.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: log)
        p.standardError = FileHandle(forWritingAtPath: log)
        try p.run()
        defer { stopProcess(p) }

        let client = KubeClient(configuration: cluster.clientConfiguration())
        func get(_ resource: String, _ name: String, _ path: [String]) async throws -> JSONValue? {
            let r = try await kubectl(cluster, ["get", resource, name, "-n", "salespot", "-o", "json"])
            guard r.status == 0 else { return nil }
            return try JSONParser.parse(Array(r.out.utf8))[path: path]
        }
        // Every controller got to work: a rollout (role labels on the pods), flags, a backup run as a Job, a restore,
        // DR probes with a status, a drill, the leader Lease.
        let deadline = ContinuousClock.now + .seconds(60)
        var missing: [String] = []
        while ContinuousClock.now < deadline {
            missing = []
            if try await get("bgd", "api", ["status", "phase"]) != "Healthy" { missing.append("bgd api Healthy") }
            let rolePods = try await kubectl(cluster, ["get", "pods", "-n", "salespot", "-l", "salespot.by/role=active", "-o", "name"])
            if rolePods.out.split(separator: "\n").count < 2 { missing.append("active pods labelled") }
            if try await get("featureflag", "new-checkout", ["status", "observedGeneration"]) == nil { missing.append("flag status") }
            if try await get("backup", "nightly-full-manual", ["status", "phase"]) == nil { missing.append("backup phase") }
            if try await get("restore", "nightly-full-manual-check", ["status", "conditions"]) == nil { missing.append("restore status") }
            if try await get("drpolicy", "salespot", ["status", "conditions"]) == nil { missing.append("DR policy status") }
            if try await get("drdrill", "salespot-backup-drill", ["status", "phase"]) == nil { missing.append("drill phase") }
            if try await Api<Lease>(client, namespace: "salespot-system").getIfExists("salespot-operator") == nil { missing.append("leader Lease") }
            if missing.isEmpty { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(missing.isEmpty, "not done under RBAC: \(missing)\n\(output.suffix(3000))")
        let denials = await cluster.rbacDenials.dropFirst(deliberate)
        #expect(denials.isEmpty, "refused by RBAC (the ClusterRole lacks them): \(Set(denials).sorted())")
    }
}
