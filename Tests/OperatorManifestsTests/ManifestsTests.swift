import Foundation
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// manifests/: the kustomize base and overlays build, validate strictly against Kubernetes' schemas, keep the
/// security settings, and apply to LocalCluster with kubectl.
@Suite(.serialized) struct ManifestsTests {
    func operatorDeployment(_ docs: [JSONValue]) throws -> JSONValue {
        try #require(docs.first { $0["kind"] == "Deployment" && $0[path: ["metadata", "name"]] == "salespot-operator" })
    }

    func args(_ deployment: JSONValue) -> [String] {
        deployment[path: ["spec", "template", "spec", "containers"]]?[0]?["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    @Test func everyOverlayBuildsValidatesStrictlyAndKeepsTheSecuritySettings() async throws {
        let validate = try venvTool("kubernetes-validate")
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let expected: [String: (replicas: Int64, environment: String, namespace: String, monitoring: Bool)] = [
            "dev": (1, "dev", "salespot-dev", false), "staging": (2, "staging", "salespot-staging", true),
            "production": (3, "production", "salespot", true)]
        for overlay in overlays {
            let (_, docs) = try await kustomize("overlays/" + overlay)
            // The built-in objects (prometheus-operator's kinds are checked by promtool and the tests below).
            let builtIn = docs.filter { !($0["apiVersion"]?.stringValue ?? "").hasPrefix("monitoring.coreos.com/") }
            let file = dir + "/\(overlay).yaml"
            try builtIn.map { $0.serialized(sortedKeys: true) }.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n---\n")
                .write(toFile: file, atomically: true, encoding: .utf8)
            let r = try await runAsync(validate, ["--strict", "--quiet", file])
            #expect(r.status == 0, "\(overlay): kubernetes-validate --strict: \(r.out) \(r.err)")
            #expect(builtIn.count >= 15, "\(overlay): \(builtIn.count) objects")

            let want = try #require(expected[overlay])
            let d = try operatorDeployment(docs)
            #expect(d[path: ["spec", "replicas"]]?.intValue == want.replicas, "\(overlay)")
            #expect(d[path: ["metadata", "namespace"]] == "salespot-system")
            let a = args(d)
            #expect(a.contains("--flags-environment=\(want.environment)"), "\(overlay): \(a)")
            #expect(a.contains("--namespaces=\(want.namespace)"), "\(overlay): \(a)")
            #expect(a.contains("--enable-leader-election"), "\(overlay): \(a)")
            #expect(!a.contains { $0.contains("mirror") }, "\(overlay) runs the example controller")
            #expect(docs.contains { $0["kind"] == "Namespace" && $0[path: ["metadata", "name"]]?.stringValue == want.namespace })
            let kinds = Set(docs.compactMap { $0["kind"]?.stringValue })
            #expect(kinds.contains("ServiceMonitor") == want.monitoring && kinds.contains("PrometheusRule") == want.monitoring, "\(overlay): \(kinds)")
            for kind in ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service",
                         "PodDisruptionBudget", "CustomResourceDefinition"] {
                #expect(kinds.contains(kind), "\(overlay) has no \(kind)")
            }
            // Pod and container security: non-root, read-only, no capabilities, RuntimeDefault seccomp; probes,
            // requests and limits.
            let pod = try #require(d[path: ["spec", "template", "spec"]])
            #expect(pod[path: ["securityContext", "runAsNonRoot"]] == true)
            #expect(pod[path: ["securityContext", "seccompProfile", "type"]] == "RuntimeDefault")
            let c = try #require(pod["containers"]?[0])
            #expect(c[path: ["securityContext", "readOnlyRootFilesystem"]] == true)
            #expect(c[path: ["securityContext", "allowPrivilegeEscalation"]] == false)
            #expect(c[path: ["securityContext", "capabilities", "drop"]] == ["ALL"])
            #expect(c[path: ["livenessProbe", "httpGet", "path"]] == "/healthz" && c[path: ["readinessProbe", "httpGet", "path"]] == "/readyz")
            for key in ["cpu", "memory"] {
                #expect(c[path: ["resources", "requests", key]] != nil && c[path: ["resources", "limits", key]] != nil, "\(overlay): \(key)")
            }
            // Every CRD in crds/ ships.
            let crdFiles = try FileManager.default.contentsOfDirectory(atPath: repository + "/crds").filter { $0.hasSuffix(".yaml") }
            #expect(docs.filter { $0["kind"] == "CustomResourceDefinition" }.count == crdFiles.count)
        }
    }

    @Test func everyOverlayAppliesToLocalClusterWithKubectlApplyK() async throws {
        var options = LocalCluster.Options()
        options.pkiDirectory = sharedPKI
        let cluster = try await LocalCluster.start(options)
        defer { Task { await cluster.stop() } }
        try await cluster.installCRDs(try String(contentsOfFile: repository + "/Tests/Fixtures/prometheus-operator-crds.yaml", encoding: .utf8))
        for (overlay, replicas) in [("dev", "1"), ("staging", "2"), ("production", "3")] {
            let r = try await kubectl(cluster, ["apply", "-k", repository + "/manifests/overlays/" + overlay])
            #expect(r.status == 0, "\(overlay): \(r.err)")
            let got = try await kubectl(cluster, ["get", "deployment", "salespot-operator", "-n", "salespot-system", "-o", "jsonpath={.spec.replicas}"])
            #expect(got.out == replicas, "\(overlay): \(got.out) \(got.err)")
        }
        let crds = try await kubectl(cluster, ["get", "crd", "-o", "name"])
        #expect(crds.out.split(separator: "\n").filter { $0.hasSuffix(".ops.salespot.by") }.count == 7, "\(crds.out)")
        let rule = try await kubectl(cluster, ["get", "prometheusrule", "salespot-operator", "-n", "salespot-system", "-o", "jsonpath={.spec.groups[*].name}"])
        #expect(rule.out.contains("salespot-disaster-recovery"), "\(rule.out) \(rule.err)")
        // Applied again: nothing changes (the manifests are stable under apply).
        let pdbVersion = try await kubectl(cluster, ["get", "pdb", "salespot-operator", "-n", "salespot-system", "-o", "jsonpath={.metadata.resourceVersion}"]).out
        let again = try await kubectl(cluster, ["apply", "-k", repository + "/manifests/overlays/production"])
        // (kubectl always sends a PodDisruptionBudget's selector, whose patch strategy is replace, so it says
        // "configured" for it on any server; its resourceVersion shows nothing changed.)
        let changed = again.out.split(separator: "\n").filter { !$0.hasSuffix(" unchanged") && !$0.hasPrefix("poddisruptionbudget.policy/") }
        #expect(again.status == 0 && changed.isEmpty, "\(changed)")
        #expect(try await kubectl(cluster, ["get", "pdb", "salespot-operator", "-n", "salespot-system", "-o", "jsonpath={.metadata.resourceVersion}"]).out == pdbVersion)
    }

    /// The Dockerfile's runtime packages exist in Debian 12, and it copies the binary the release build makes.
    @Test func theDockerfileRuntimePackagesExistAndItCopiesTheReleaseBinary() async throws {
        let text = try String(contentsOfFile: repository + "/Dockerfile", encoding: .utf8)
        let stages = Array(text.components(separatedBy: "\nFROM ").dropFirst())
        #expect(stages.count == 2, "a build stage and a runtime stage")
        let runtime = try #require(stages.last)
        #expect(runtime.hasPrefix("debian:12"), "the runtime stage is Debian 12")
        // apt-get install ... packages of the runtime stage.
        let install = try #require(runtime.components(separatedBy: "apt-get install").last?.components(separatedBy: "&&").first)
        let packages = install.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\\" }).map(String.init).filter { !$0.hasPrefix("-") && !$0.isEmpty }
        #expect(Set(packages).isSuperset(of: ["libcurl4", "libyaml-0-2", "postgresql-client-15", "ca-certificates"]), "\(packages)")
        let aptCache = try requireTool("apt-cache")
        for p in packages {
            let r = try await runAsync(aptCache, ["show", "--no-all-versions", p])
            #expect(r.status == 0 && r.out.contains("Package: \(p)"), "\(p) is not a Debian package here (run apt-get update first): \(r.err)")
        }
        #expect(runtime.contains("USER 65532"), "non-root")
        // Every shared library the operator loads, apart from the Swift runtime (linked in statically by the
        // release build), comes from those packages, what they depend on, or debian:12-slim's base.
        let aptDepends = try await runAsync(aptCache, ["depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
                                                       "--no-replaces", "--no-enhances"] + packages)
        var installed: Set<String> = ["libc6", "libgcc-s1", "libstdc++6"]
        for line in aptDepends.out.split(separator: "\n") {
            let name = line.trimmingCharacters(in: .whitespaces).components(separatedBy: ": ").last ?? ""
            installed.insert(name.trimmingCharacters(in: CharacterSet(charactersIn: "<>")).components(separatedBy: ":").first ?? "")
        }
        let ldd = try await runAsync(try requireTool("ldd"), [operatorExecutable])
        #expect(ldd.status == 0, "\(ldd.err)")
        let swiftLibraries = URL(fileURLWithPath: try requireTool("swift")).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent().path
        for line in ldd.out.split(separator: "\n") {
            guard let path = line.components(separatedBy: "=> ").last?.components(separatedBy: " (").first?.trimmingCharacters(in: .whitespaces),
                  path.hasPrefix("/"), !path.hasPrefix(swiftLibraries) else { continue }
            let owner = try await runAsync(try requireTool("dpkg"), ["-S", "*/" + URL(fileURLWithPath: path).lastPathComponent])
            let package = owner.out.components(separatedBy: ":").first ?? ""
            #expect(owner.status == 0 && installed.contains(package), "\(path) (\(package)) is loaded by the operator but not installed by the runtime stage")
        }
        // The build stage builds the product with the flags the project's release build uses, and the runtime copies
        // that product from where SwiftPM puts it.
        let build = try #require(stages.first)
        let workdir = try #require(build.components(separatedBy: "\nWORKDIR ").last?.split(separator: "\n").first.map(String.init))
        #expect(build.contains("swift build -c release --static-swift-stdlib --product salespot-operator"))
        #expect(runtime.contains("COPY --from=build \(workdir)/.build/release/salespot-operator /usr/local/bin/salespot-operator"), "\(runtime)")
        let bench = try String(contentsOfFile: repository + "/scripts/bench.sh", encoding: .utf8)
        #expect(bench.contains("--static-swift-stdlib"), "the benchmarks measure the build the image ships")
        // (Package.swift read as text: `swift package` would wait for the lock the running `swift test` holds.)
        let manifest = try String(contentsOfFile: repository + "/Package.swift", encoding: .utf8)
        #expect(manifest.contains(".executable(name: \"salespot-operator\", targets: [\"salespot-operator\"])"), "the product the Dockerfile builds")
        let executables = ["salespot-operator"].filter { _ in FileManager.default.isExecutableFile(atPath: operatorExecutable) }
        #expect(executables.contains("salespot-operator"), "\(executables)")
    }
}
