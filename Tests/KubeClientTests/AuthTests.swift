import Foundation
import Testing
import TestSupport
import KubeCore
@testable import KubeClient

@Suite struct AuthTests {
    /// Writes an exec plugin (a real shell script) that counts its runs and returns token `tok-N`.
    func writePlugin(in dir: String, expiration: String = "2030-01-01T00:00:00Z",
                     apiVersion: String = "client.authentication.k8s.io/v1") throws -> String {
        let path = dir + "/plugin.sh"
        let script = """
        #!/bin/sh
        n=$(cat "\(dir)/count" 2>/dev/null || echo 0)
        n=$((n+1))
        echo $n > "\(dir)/count"
        printf '%s' "$KUBERNETES_EXEC_INFO" > "\(dir)/info.json"
        printf '{"apiVersion":"\(apiVersion)","kind":"ExecCredential","status":{"token":"tok-%s","expirationTimestamp":"\(expiration)"}}' "$n"
        """
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    @Test func execPluginIsCachedUntilExpiryThenRerun() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plugin = try writePlugin(in: dir)
        let wall = ManualWallClock("2029-12-31T23:00:00Z")
        let auth = Authenticator(method: .exec(ExecConfig(command: plugin, provideClusterInfo: true)),
                                 server: "https://k8s.test:6443", caPEM: Array("CA".utf8), now: { wall.now() })
        #expect(try await auth.credentials().authorization == "Bearer tok-1")
        #expect(try await auth.credentials().authorization == "Bearer tok-1")
        #expect(await auth.execRuns == 1)
        wall.advance(2 * 3600)  // past 2030-01-01T00:00:00Z
        #expect(try await auth.credentials().authorization == "Bearer tok-2")
        #expect(await auth.execRuns == 2)
        let info = try JSONParser.parse(Array(FileManager.default.contents(atPath: dir + "/info.json")!))
        #expect(info["kind"] == "ExecCredential")
        #expect(info["apiVersion"] == "client.authentication.k8s.io/v1")
        #expect(info[path: ["spec", "interactive"]] == false)
        #expect(info[path: ["spec", "cluster", "server"]] == "https://k8s.test:6443")
        #expect(info[path: ["spec", "cluster", "certificate-authority-data"]] == "Q0E=")
    }

    @Test func execPluginIsRerunAfter401() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plugin = try writePlugin(in: dir, apiVersion: "client.authentication.k8s.io/v1beta1")
        let wall = ManualWallClock("2025-01-01T00:00:00Z")
        let auth = Authenticator(method: .exec(ExecConfig(apiVersion: "client.authentication.k8s.io/v1beta1", command: plugin)),
                                 server: "https://k8s.test:6443", now: { wall.now() })
        let t = ScriptedTransport([
            json(401, statusBody(401, "Unauthorized", "Unauthorized")),
            json(200, ["metadata": ["name": "a"]]),
        ])
        let client = makeClient(t, auth: .exec(ExecConfig(command: plugin)), authenticator: auth)
        let got = try await Api<ConfigMap>(client, namespace: "ns1").get("a")
        #expect(got.metadata.name == "a")
        #expect(t.requests.map { $0.headers["Authorization"] } == ["Bearer tok-1", "Bearer tok-2"])
        #expect(await auth.execRuns == 2)
    }

    @Test func a401ThatPersistsIsReturnedAfterOneRefresh() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plugin = try writePlugin(in: dir)
        let t = ScriptedTransport([json(401, statusBody(401, "Unauthorized", "no")), json(401, statusBody(401, "Unauthorized", "no"))])
        let client = makeClient(t, auth: .exec(ExecConfig(command: plugin)))
        await #expect(throws: KubeError.self) { try await Api<ConfigMap>(client, namespace: "ns1").get("a") }
        #expect(t.requests.count == 2)
    }

    @Test func failingPluginReportsItsStderr() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bad.sh"
        try "#!/bin/sh\necho 'login required' >&2\nexit 3\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        let auth = Authenticator(method: .exec(ExecConfig(command: path)), server: "https://x")
        do {
            _ = try await auth.credentials()
            Issue.record("expected failure")
        } catch let e as KubeError {
            #expect(e.description.contains("status 3"))
            #expect(e.description.contains("login required"))
        }
    }

    @Test func pluginOutputIsValidated() {
        #expect(throws: KubeError.self) {
            try ExecCredentialPlugin.parse(Array(#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"x"}}"#.utf8),
                                           expectedVersion: "client.authentication.k8s.io/v1", command: "p")
        }
        #expect(throws: KubeError.self) {
            try ExecCredentialPlugin.parse(Array(#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}}"#.utf8),
                                           expectedVersion: "client.authentication.k8s.io/v1", command: "p")
        }
        let cert = try? ExecCredentialPlugin.parse(Array(#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"C","clientKeyData":"K"}}"#.utf8),
                                                   expectedVersion: "client.authentication.k8s.io/v1", command: "p")
        #expect(cert?.clientIdentity == TLSIdentity(certificatePEM: Array("C".utf8), keyPEM: Array("K".utf8)))
        #expect(cert?.expiration == nil)
    }

    @Test func tokenFileIsReReadEveryMinute() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/token"
        try "first\n".write(toFile: path, atomically: true, encoding: .utf8)
        let wall = ManualWallClock("2025-01-01T00:00:00Z")
        let auth = Authenticator(method: .tokenFile(path), server: "https://x", now: { wall.now() })
        #expect(try await auth.credentials().authorization == "Bearer first")
        try "second\n".write(toFile: path, atomically: true, encoding: .utf8)
        wall.advance(30)
        #expect(try await auth.credentials().authorization == "Bearer first")
        wall.advance(31)
        #expect(try await auth.credentials().authorization == "Bearer second")
    }

    @Test func basicAuthHeader() async throws {
        let auth = Authenticator(method: .basic(username: "admin", password: "s3cret"), server: "https://x")
        #expect(try await auth.credentials().authorization == "Basic YWRtaW46czNjcmV0")
    }
}
