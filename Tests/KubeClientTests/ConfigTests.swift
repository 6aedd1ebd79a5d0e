import Foundation
import Testing
import TestSupport
import KubeCore
@testable import KubeClient

@Suite struct ConfigTests {
    static let fileA = """
    apiVersion: v1
    kind: Config
    current-context: ctx-a
    clusters:
    - name: shared
      cluster: {server: "https://a.example:6443", insecure-skip-tls-verify: true}
    - name: only-a
      cluster: {server: "https://only-a:6443", tls-server-name: api.internal, proxy-url: "http://proxy:3128"}
    users:
    - name: shared-user
      user: {token: token-from-a}
    contexts:
    - name: ctx-a
      context: {cluster: shared, user: shared-user, namespace: team-a}
    - name: both
      context: {cluster: only-a, user: shared-user}
    """
    static let fileB = """
    apiVersion: v1
    kind: Config
    current-context: ctx-b
    clusters:
    - name: shared
      cluster: {server: "https://b.example:6443"}
    - name: only-b
      cluster: {server: "https://only-b:6443"}
    users:
    - name: shared-user
      user: {token: token-from-b}
    - name: b-user
      user: {username: bob, password: pw}
    contexts:
    - name: both
      context: {cluster: only-b, user: b-user, namespace: from-b}
    - name: ctx-b
      context: {cluster: only-b, user: b-user}
    """

    func writeFiles() throws -> (dir: String, a: String, b: String) {
        let dir = try temporaryDirectory()
        try Self.fileA.write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        try Self.fileB.write(toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
        return (dir, dir + "/a.yaml", dir + "/b.yaml")
    }

    @Test func mergeOrderMatchesKubectl() throws {
        let kubectl = try requireTool("kubectl")
        let (dir, a, b) = try writeFiles()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for order in [[a, b], [b, a]] {
            let list = order.joined(separator: ":")
            let r = try run(kubectl, ["config", "view", "--merge", "--raw", "-o", "json"], env: ["KUBECONFIG": list, "HOME": dir])
            #expect(r.status == 0, "kubectl failed: \(r.err)")
            let theirs = try JSONParser.parse(r.out)
            let ours = try ConfigLoader.loadFiles(order, mustExist: false).config
            #expect(theirs["current-context"]?.stringValue == ours.currentContext)
            for entry in theirs["clusters"]?.arrayValue ?? [] {
                let name = entry["name"]!.stringValue!
                let mine = ours.clusters?.first { $0.name == name }?.cluster
                #expect(mine?.server == entry[path: ["cluster", "server"]]?.stringValue, "cluster \(name) with \(list)")
            }
            for entry in theirs["users"]?.arrayValue ?? [] {
                let name = entry["name"]!.stringValue!
                let mine = ours.users?.first { $0.name == name }?.user
                #expect(mine?.token == entry[path: ["user", "token"]]?.stringValue, "user \(name) with \(list)")
                #expect(mine?.username == entry[path: ["user", "username"]]?.stringValue)
            }
            for entry in theirs["contexts"]?.arrayValue ?? [] {
                let name = entry["name"]!.stringValue!
                let mine = ours.contexts?.first { $0.name == name }?.context
                #expect(mine?.cluster == entry[path: ["context", "cluster"]]?.stringValue, "context \(name) with \(list)")
                #expect(mine?.namespace == entry[path: ["context", "namespace"]]?.stringValue)
            }
            #expect(theirs["clusters"]?.arrayValue?.count == ours.clusters?.count)
            #expect(theirs["contexts"]?.arrayValue?.count == ours.contexts?.count)
        }
    }

    @Test func resolvesContextsAndPrecedence() throws {
        let (dir, a, b) = try writeFiles()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loader = ConfigLoader(environment: ["KUBECONFIG": "\(a):\(dir)/missing.yaml:\(b)", "HOME": dir])
        let cfg = try loader.load()
        #expect(cfg.contextName == "ctx-a")
        #expect(cfg.server == "https://a.example:6443")
        #expect(cfg.namespace == "team-a")
        #expect(cfg.tls.insecureSkipVerify)
        #expect(cfg.auth == .token("token-from-a"))
        let both = try loader.load(context: "both", namespace: "override")
        #expect(both.server == "https://only-a:6443")
        #expect(both.tls.serverName == "api.internal")
        #expect(both.proxyURL == "http://proxy:3128")
        #expect(both.namespace == "override")
        let ctxB = try loader.load(context: "ctx-b")
        #expect(ctxB.auth == .basic(username: "bob", password: "pw"))
        #expect(ctxB.namespace == "default")
        // An explicit path wins over KUBECONFIG and reads only that file.
        let explicit = try loader.load(explicitPath: b)
        #expect(explicit.contextName == "ctx-b")
        #expect(throws: KubeError.self) { try loader.load(explicitPath: b, context: "ctx-a") }
        // A missing explicit file is an error naming it.
        do {
            _ = try loader.load(explicitPath: dir + "/nope.yaml")
            Issue.record("expected an error")
        } catch let e as KubeError {
            #expect(e.description.contains("nope.yaml"))
        }
    }

    @Test func summaryNeverPrintsSecrets() throws {
        let (dir, a, _) = try writeFiles()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try ConfigLoader(environment: [:]).load(explicitPath: a).summary
        #expect(text.contains("server: https://a.example:6443"))
        #expect(text.contains("auth: token"))
        #expect(!text.contains("token-from-a"))
        let basic = try ConfigLoader(environment: [:]).load(explicitPath: dir + "/b.yaml").summary
        #expect(!basic.contains("pw\n") && !basic.hasSuffix("pw"))
    }

    @Test func inClusterComesAfterKubeconfigAndBeforeHome() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sa = dir + "/sa"
        try FileManager.default.createDirectory(atPath: sa, withIntermediateDirectories: true)
        try "sa-token".write(toFile: sa + "/token", atomically: true, encoding: .utf8)
        try "CA".write(toFile: sa + "/ca.crt", atomically: true, encoding: .utf8)
        try "operators\n".write(toFile: sa + "/namespace", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/.kube", withIntermediateDirectories: true)
        try Self.fileB.write(toFile: dir + "/.kube/config", atomically: true, encoding: .utf8)
        let env = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443", "HOME": dir]
        let cfg = try ConfigLoader(environment: env, serviceAccountDirectory: sa).load()
        #expect(cfg.source == "in-cluster")
        #expect(cfg.server == "https://10.96.0.1:443")
        #expect(cfg.namespace == "operators")
        #expect(cfg.auth == .tokenFile(sa + "/token"))
        #expect(cfg.tls.caFile == sa + "/ca.crt")
        // Without the service variables, ~/.kube/config is used.
        let home = try ConfigLoader(environment: ["HOME": dir], serviceAccountDirectory: sa).load()
        #expect(home.contextName == "ctx-b")
        // IPv6 service hosts are bracketed.
        let v6 = try ConfigLoader(environment: [:], serviceAccountDirectory: sa).inCluster(host: "fd00::1", port: "443")
        #expect(v6.server == "https://[fd00::1]:443")
    }

    @Test func relativePathsResolveAgainstTheFileThatNamesThem() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/certs", withIntermediateDirectories: true)
        try "CERT".write(toFile: dir + "/certs/c.pem", atomically: true, encoding: .utf8)
        try "KEY".write(toFile: dir + "/certs/k.pem", atomically: true, encoding: .utf8)
        try "CADATA".write(toFile: dir + "/certs/ca.pem", atomically: true, encoding: .utf8)
        try """
        current-context: c
        clusters: [{name: k, cluster: {server: "https://k:6443", certificate-authority: certs/ca.pem}}]
        users: [{name: u, user: {client-certificate: certs/c.pem, client-key: certs/k.pem}}]
        contexts: [{name: c, context: {cluster: k, user: u}}]
        """.write(toFile: dir + "/config", atomically: true, encoding: .utf8)
        let cfg = try ConfigLoader(environment: [:]).load(explicitPath: dir + "/config")
        #expect(cfg.tls.caPEM == Array("CADATA".utf8))
        #expect(cfg.tls.clientIdentity == TLSIdentity(certificatePEM: Array("CERT".utf8), keyPEM: Array("KEY".utf8)))
        #expect(cfg.auth == .clientCertificate)
    }

    @Test(arguments: [
        ("clusters: [{name: k, cluster: {server: \"https://k\", certificate-authority-data: \"!!notbase64\"}}]\ncontexts: [{name: c, context: {cluster: k}}]\ncurrent-context: c\n",
         "clusters[k].cluster.certificate-authority-data"),
        ("clusters: [{name: k, cluster: {server: \"https://k\", insecure-skip-tls-verify: [1]}}]\n", "clusters[k].cluster.insecure-skip-tls-verify"),
        ("clusters: [{name: k, cluster: {}}]\ncontexts: [{name: c, context: {cluster: k}}]\ncurrent-context: c\n", "clusters[k].cluster.server"),
        ("clusters: [{name: k, cluster: {server: \"k:6443\"}}]\ncontexts: [{name: c, context: {cluster: k}}]\ncurrent-context: c\n", "clusters[k].cluster.server"),
        ("contexts: [{name: c, context: {cluster: nope}}]\ncurrent-context: c\n", "contexts[c].context.cluster"),
        ("users: [{name: u, user: {exec: {command: x, apiVersion: client.authentication.k8s.io/v1alpha1}}}]\nclusters: [{name: k, cluster: {server: \"https://k\"}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\ncurrent-context: c\n",
         "users[u].user.exec.apiVersion"),
        ("users: [{name: u, user: {client-certificate-data: Q0VSVA==}}]\nclusters: [{name: k, cluster: {server: \"https://k\"}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\ncurrent-context: c\n",
         "users[u].user.client-key"),
        ("clusters: {name: k}\n", "clusters"),
        ("clusters: [\n", "line"),
    ])
    func badKubeconfigNamesFileAndField(_ text: String, _ field: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bad-config.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try ConfigLoader(environment: [:]).load(explicitPath: path)
            Issue.record("expected an error for \(field)")
        } catch let e as KubeError {
            guard case .configuration(let c) = e else { Issue.record("wrong error \(e)"); return }
            #expect(c.file == path)
            #expect(e.description.contains(field), "\(e.description)")
        }
    }
}
