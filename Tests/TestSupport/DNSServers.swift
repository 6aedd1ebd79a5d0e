import Foundation

/// Real authoritative servers for the update tests, each on a free loopback port with a zone `example.test` that
/// keys `upd-sha256` and `upd-sha512` may update, started from a temporary directory and stopped by the test.
public final class DNSServer: Sendable {
    public enum Kind: String, Sendable { case bind = "BIND", knot = "Knot" }
    public static let zone = "example.test"
    public static let keys = [("upd-sha256", "hmac-sha256"), ("upd-sha512", "hmac-sha512")]

    public let kind: Kind
    public let port: Int
    let process: ServerProcess
    /// Key name → base64 secret.
    public let secrets: [String: String]

    private init(kind: Kind, port: Int, process: ServerProcess, secrets: [String: String]) {
        self.kind = kind
        self.port = port
        self.process = process
        self.secrets = secrets
    }

    public func stop() { process.stop() }
    /// The server stops answering (frozen, its zone kept) until ``resume()``.
    public func pause() { process.pause() }
    public func resume() { process.resume() }

    static let zoneFile = """
        $TTL 60
        @    IN SOA ns.example.test. admin.example.test. 1 60 60 600 60
        @    IN NS  ns.example.test.
        ns   IN A   127.0.0.1
        app  IN A   192.0.2.10

        """

    public static func start(_ kind: Kind) async throws -> DNSServer {
        let dir = try temporaryDirectory()
        let port = try freePort()
        var secrets: [String: String] = [:]
        for (name, algorithm) in keys {
            secrets[name] = Data((0..<(algorithm == "hmac-sha512" ? 64 : 32)).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        }
        let process: ServerProcess
        switch kind {
        case .bind:
            let named = try requireTool("named")
            let keys = Self.keys.map { "key \"\($0.0)\" { algorithm \($0.1); secret \"\(secrets[$0.0]!)\"; };" }.joined(separator: "\n")
            try zoneFile.write(toFile: dir + "/example.test.zone", atomically: true, encoding: .utf8)
            try """
                options { directory "\(dir)"; listen-on port \(port) { 127.0.0.1; }; listen-on-v6 { none; }; recursion no;
                          pid-file "\(dir)/named.pid"; session-keyfile "\(dir)/session.key"; };
                controls { };
                \(keys)
                zone "example.test" { type primary; file "\(dir)/example.test.zone";
                                      update-policy { grant upd-sha256 zonesub ANY; grant upd-sha512 zonesub ANY; }; };

                """.write(toFile: dir + "/named.conf", atomically: true, encoding: .utf8)
            _ = try run("/bin/chown", ["-R", "bind:bind", dir])
            process = try startServer(named, ["-g", "-c", dir + "/named.conf", "-u", "bind"])
        case .knot:
            let knotd = try requireTool("knotd")
            try FileManager.default.createDirectory(atPath: dir + "/db", withIntermediateDirectories: true)
            try zoneFile.write(toFile: dir + "/example.test.zone", atomically: true, encoding: .utf8)
            let keys = Self.keys.map { "  - id: \($0.0)\n    algorithm: \($0.1)\n    secret: \(secrets[$0.0]!)" }.joined(separator: "\n")
            try """
                server:
                  listen: 127.0.0.1@\(port)
                  rundir: \(dir)
                database:
                  storage: \(dir)/db
                key:
                \(keys)
                acl:
                  - id: update
                    key: [upd-sha256, upd-sha512]
                    action: update
                zone:
                  - domain: example.test
                    storage: \(dir)
                    file: example.test.zone
                    acl: update
                    zonefile-sync: -1

                """.write(toFile: dir + "/knot.conf", atomically: true, encoding: .utf8)
            process = try startServer(knotd, ["-c", dir + "/knot.conf"])
        }
        let server = DNSServer(kind: kind, port: port, process: process, secrets: secrets)
        // Ready when it answers for the zone.
        let dig = try requireTool("dig")
        for _ in 0..<100 {
            let r = try await runAsync(dig, ["@127.0.0.1", "-p", String(port), "+short", "+time=1", "+tries=1", "app.example.test", "A"])
            if r.out.contains("192.0.2.10") { return server }
            try await Task.sleep(for: .milliseconds(100))
        }
        server.stop()
        struct NotStarted: Error, CustomStringConvertible { let description: String }
        throw NotStarted(description: "\(kind.rawValue) did not start on port \(port) (config in \(dir))")
    }

    /// What `dig` (a real resolver client) sees at the server now.
    public func dig(_ name: String, _ type: String) async throws -> [String] {
        let r = try await runAsync(try requireTool("dig"), ["@127.0.0.1", "-p", String(port), "+short", "+time=2", "+tries=1", name, type])
        return r.out.split(separator: "\n").map(String.init).sorted()
    }

    /// A port free for both UDP and TCP on 127.0.0.1.
    public static func freePort() throws -> Int {
        for _ in 0..<50 {
            let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(tcp, $0, len) } }
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(tcp, $0, &len) } }
            let port = Int(UInt16(bigEndian: addr.sin_port))
            let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(udp, $0, len) } } == 0
            close(udp)
            close(tcp)
            if ok && port > 1024 { return port }
        }
        struct NoPort: Error {}
        throw NoPort()
    }
}

/// moto's server (an AWS emulator: its Route53 here), from the repository's `.venv-moto` (scripts/install-deps.sh
/// test), on a free loopback port.
public final class MotoServer: Sendable {
    public let endpoint: String
    let process: ServerProcess
    init(endpoint: String, process: ServerProcess) {
        self.endpoint = endpoint
        self.process = process
    }
    public func stop() { process.stop() }

    /// - Parameter unauthenticatedActions: with a number, moto checks every request after the first that many as
    ///   AWS would (IAM-like access control): the signature, that the key exists (an assumed role's included) and
    ///   that its policies allow the action.
    public static func start(unauthenticatedActions: Int? = nil) async throws -> MotoServer {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let server = root + "/.venv-moto/bin/moto_server"
        struct Missing: Error, CustomStringConvertible { let description: String }
        guard FileManager.default.isExecutableFile(atPath: server) else {
            throw Missing(description: "required component: moto_server (moto[server] in \(root)/.venv-moto) is missing; run scripts/install-deps.sh test")
        }
        let port = try DNSServer.freePort()
        let p = try unauthenticatedActions.map { try startServer("/usr/bin/env", ["INITIAL_NO_AUTH_ACTION_COUNT=\($0)", server, "-H", "127.0.0.1", "-p", String(port)]) }
            ?? startServer(server, ["-H", "127.0.0.1", "-p", String(port)])
        let endpoint = "http://127.0.0.1:\(port)"
        for _ in 0..<150 {
            if let r = try? await runAsync("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", endpoint + "/moto-api/"]), r.out != "000" {
                return MotoServer(endpoint: endpoint, process: p)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        p.stop()
        throw Missing(description: "moto_server did not start on port \(port)")
    }

    /// A hosted zone made with awscli (a real client); returns its id.
    public func createZone(_ name: String, accessKey: String, secretKey: String) async throws -> String {
        let env = ProcessInfo.processInfo.environment.merging(["AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey,
                                                               "AWS_DEFAULT_REGION": "us-east-1"]) { _, n in n }
        let r = try await runAsync(try requireTool("aws"), ["--endpoint-url", endpoint, "--output", "json", "route53", "create-hosted-zone",
                                                            "--name", name, "--caller-reference", UUID().uuidString], env: env)
        struct Failed: Error, CustomStringConvertible { let description: String }
        guard r.status == 0, let json = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any],
              let zone = json["HostedZone"] as? [String: Any], let id = zone["Id"] as? String else {
            throw Failed(description: "aws route53 create-hosted-zone failed: \(r.err)")
        }
        return id
    }
}

/// A real Prometheus server on a free loopback port, scraping the given targets every second, with its data in a
/// temporary directory; stopped by the test (or when the test process ends).
public final class PrometheusServer: Sendable {
    public let address: String
    let process: ServerProcess
    init(address: String, process: ServerProcess) {
        self.address = address
        self.process = process
    }
    public func stop() { process.stop() }

    public static func start(scraping targets: [String]) async throws -> PrometheusServer {
        let prometheus = try requireTool("prometheus")
        let dir = try temporaryDirectory()
        let port = try DNSServer.freePort()
        try """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            scrape_configs:
              - job_name: test
                static_configs:
                  - targets: [\(targets.map { "'\($0)'" }.joined(separator: ", "))]

            """.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let p = try startServer(prometheus, ["--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
                                             "--web.listen-address=127.0.0.1:\(port)"])
        let address = "http://127.0.0.1:\(port)"
        for _ in 0..<150 {
            if let r = try? await runAsync("/usr/bin/curl", ["-s", address + "/-/ready"]), r.out.contains("Ready") {
                return PrometheusServer(address: address, process: p)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        p.stop()
        struct NotStarted: Error, CustomStringConvertible { let description: String }
        throw NotStarted(description: "prometheus did not become ready on port \(port) (config in \(dir))")
    }

    /// The value of an instant query's first sample, as the operator would read it (nil: no data).
    public func value(_ query: String) async throws -> String? {
        let r = try await runAsync("/usr/bin/curl", ["-s", "--get", "--data-urlencode", "query=\(query)", address + "/api/v1/query"])
        guard let json = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any],
              let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
              let value = result.first?["value"] as? [Any] else { return nil }
        return value.last as? String
    }
}
