import Foundation
import Testing
import TestSupport
import KubeCore
@testable import KubeClient

/// Certificates made by openssl for one test run, and a real HTTPS server (Python's ssl module) that requires a
/// client certificate.
final class TLSFixture: @unchecked Sendable {
    let dir: String
    let port: Int
    let process: Process
    let lifeline: Pipe

    /// One server and one set of certificates for the whole suite (key generation is the slow part).
    static let shared = Result { try TLSFixture() }

    init() throws {
        let openssl = try requireTool("openssl")
        let python = try requireTool("python3")
        let dir = try temporaryDirectory()
        self.dir = dir
        let ssl = { (args: [String]) throws in
            let r = try run(openssl, args, cwd: dir)
            guard r.status == 0 else { throw KubeError.authentication("openssl \(args.joined(separator: " ")) failed: \(r.err)") }
        }
        // Server CA, a second unrelated CA, a client CA.
        for name in ["ca", "wrong-ca", "client-ca"] {
            try ssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "\(name).key", "-out", "\(name).crt",
                     "-days", "1", "-subj", "/CN=\(name)"])
        }
        // Server certificate for localhost, 127.0.0.1 and kubernetes.internal.
        try """
        subjectAltName=DNS:localhost,DNS:kubernetes.internal,IP:127.0.0.1
        extendedKeyUsage=serverAuth
        """.write(toFile: dir + "/server.ext", atomically: true, encoding: .utf8)
        try ssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=apiserver"])
        try ssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "server.crt", "-days", "1", "-extfile", "server.ext"])
        try "extendedKeyUsage=clientAuth\n".write(toFile: dir + "/client.ext", atomically: true, encoding: .utf8)
        try ssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=salespot-operator"])
        try ssl(["x509", "-req", "-in", "client.csr", "-CA", "client-ca.crt", "-CAkey", "client-ca.key", "-CAcreateserial",
                 "-out", "client.crt", "-days", "1", "-extfile", "client.ext"])
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [fixturesDirectory + "/tls_server.py", dir + "/server.crt", dir + "/server.key", dir + "/client-ca.crt"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        // The server exits when this pipe closes, so it never outlives the test process.
        let lifeline = Pipe()
        process.standardInput = lifeline
        self.lifeline = lifeline
        try process.run()
        var line = Data()
        while !line.contains(0x0A) {
            let d = out.fileHandleForReading.availableData
            if d.isEmpty { break }
            line.append(d)
        }
        guard let p = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw KubeError.transport(TransportError(kind: .other, message: "the TLS test server did not start"))
        }
        port = p
    }

    deinit {
        stopProcess(process)
        try? FileManager.default.removeItem(atPath: dir)
    }

    func file(_ name: String) -> [UInt8] { Array(FileManager.default.contents(atPath: dir + "/" + name)!) }
    var identity: TLSIdentity { TLSIdentity(certificatePEM: file("client.crt"), keyPEM: file("client.key")) }

    func client(ca: String? = "ca.crt", identity: TLSIdentity? = nil, insecure: Bool = false, serverName: String? = nil,
                host: String = "127.0.0.1") -> KubeClient {
        let tls = TLSConfiguration(caPEM: ca.map(file), insecureSkipVerify: insecure, serverName: serverName,
                                   clientIdentity: identity)
        let config = ClientConfiguration(server: "https://\(host):\(port)", tls: tls, auth: .token("abc"))
        return KubeClient(configuration: config)
    }
}

@Suite(.serialized) struct TLSIntegrationTests {
    let fixture: TLSFixture
    init() throws { fixture = try TLSFixture.shared.get() }

    @Test func rightCAVerifiesAndClientCertificateIsAccepted() async throws {
        let client = fixture.client(identity: fixture.identity)
        let r = try await client.send(method: "GET", path: "/version")
        let body = try JSONParser.parse(r.body)
        #expect(body["clientCN"] == "salespot-operator")
        #expect(body["authorization"] == "Bearer abc")
        // libcurl asked for compressed responses and decoded a gzip answer.
        #expect(body["acceptEncoding"]?.stringValue?.contains("gzip") == true)
        let gz = try await client.send(method: "GET", path: "/version", query: [("gzip", "1")])
        #expect(try JSONParser.parse(gz.body)["clientCN"] == "salespot-operator")
    }

    @Test func connectionsAreReused() async throws {
        let client = fixture.client(identity: fixture.identity)
        var last: JSONValue = .null
        for _ in 0..<5 { last = try JSONParser.parse(try await client.send(method: "GET", path: "/x").body) }
        // Five requests, one TCP connection (this test runs first on a fresh server or after others on their own connections).
        let first = try JSONParser.parse(try await client.send(method: "GET", path: "/y").body)
        #expect(first["connections"] == last["connections"])
    }

    @Test func wrongCAFailsWithAClearTLSError() async throws {
        let client = fixture.client(ca: "wrong-ca.crt", identity: fixture.identity)
        do {
            _ = try await client.send(method: "GET", path: "/version")
            Issue.record("a server signed by another CA must not verify")
        } catch let e as KubeError {
            guard case .transport(let t) = e else { Issue.record("wrong error \(e)"); return }
            #expect(t.kind == .tls)
            #expect(!e.isRetryable)
            #expect(t.message.lowercased().contains("certificate"), "\(t.message)")
        }
    }

    @Test func missingClientCertificateIsRefused() async throws {
        let client = fixture.client(identity: nil)
        await #expect(throws: KubeError.self) { try await client.send(method: "GET", path: "/version") }
    }

    @Test func insecureSkipVerifyConnectsDespiteWrongCA() async throws {
        let client = fixture.client(ca: nil, identity: fixture.identity, insecure: true)
        let r = try await client.send(method: "GET", path: "/version")
        #expect(r.status == 200)
    }

    @Test func tlsServerNameIsVerifiedInsteadOfTheHost() async throws {
        // The server certificate names kubernetes.internal; the URL host is 127.0.0.1.
        let good = fixture.client(identity: fixture.identity, serverName: "kubernetes.internal")
        #expect(try await good.send(method: "GET", path: "/version").status == 200)
        let bad = fixture.client(identity: fixture.identity, serverName: "not-in-the-cert.example")
        await #expect(throws: KubeError.self) { try await bad.send(method: "GET", path: "/version") }
    }

    @Test func http2IsNegotiatedWhenTheServerOffersIt() async throws {
        let nghttpd = try requireTool("nghttpd")
        let docroot = fixture.dir + "/docroot"
        try FileManager.default.createDirectory(atPath: docroot, withIntermediateDirectories: true)
        try #"{"kind":"Status"}"#.write(toFile: docroot + "/version", atomically: true, encoding: .utf8)
        let port = Int.random(in: 40000..<60000)
        let server = try startServer(nghttpd, ["-d", docroot, "--address=127.0.0.1", String(port), fixture.dir + "/server.key", fixture.dir + "/server.crt"])
        defer { server.stop() }
        let config = ClientConfiguration(server: "https://127.0.0.1:\(port)", tls: TLSConfiguration(caPEM: fixture.file("ca.crt")))
        let client = KubeClient(configuration: config)
        var response: HTTPResponse?
        // nghttpd can take seconds to start on a loaded machine: wait by the clock, not by a number of tries.
        let deadline = ContinuousClock.now + .seconds(60)
        while response == nil && ContinuousClock.now < deadline {
            response = try? await client.send(method: "GET", path: "/version")
            if response == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let r = try #require(response, "nghttpd did not answer within 60 s")
        #expect(r.httpVersion == "HTTP/2")
        #expect(String(decoding: r.body, as: UTF8.self) == #"{"kind":"Status"}"#)
        // The Python server speaks only HTTP/1.1: the same client code falls back.
        let h1 = try await fixture.client(identity: fixture.identity).send(method: "GET", path: "/version")
        #expect(h1.httpVersion == "HTTP/1.1")
    }

    @Test func connectionRefusedIsRetryable() async throws {
        let config = ClientConfiguration(server: "https://127.0.0.1:1", auth: .none)
        do {
            _ = try await KubeClient(configuration: config).send(method: "GET", path: "/version")
            Issue.record("expected a connection error")
        } catch let e as KubeError {
            #expect(e.isRetryable)
        }
    }
}
