import Foundation
import TestSupport

/// Real authoritative servers for the update tests, each on a free loopback port with a zone `example.test` that
/// keys `upd-sha256` and `upd-sha512` may update, started from a temporary directory and stopped by the test.
final class DNSServer: Sendable {
    enum Kind: String, Sendable { case bind = "BIND", knot = "Knot" }
    static let zone = "example.test"
    static let keys = [("upd-sha256", "hmac-sha256"), ("upd-sha512", "hmac-sha512")]

    let kind: Kind
    let port: Int
    let process: ServerProcess
    /// Key name → base64 secret.
    let secrets: [String: String]

    private init(kind: Kind, port: Int, process: ServerProcess, secrets: [String: String]) {
        self.kind = kind
        self.port = port
        self.process = process
        self.secrets = secrets
    }

    func stop() { process.stop() }

    static let zoneFile = """
        $TTL 60
        @    IN SOA ns.example.test. admin.example.test. 1 60 60 600 60
        @    IN NS  ns.example.test.
        ns   IN A   127.0.0.1
        app  IN A   192.0.2.10

        """

    static func start(_ kind: Kind) async throws -> DNSServer {
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
    func dig(_ name: String, _ type: String) async throws -> [String] {
        let r = try await runAsync(try requireTool("dig"), ["@127.0.0.1", "-p", String(port), "+short", "+time=2", "+tries=1", name, type])
        return r.out.split(separator: "\n").map(String.init).sorted()
    }

    /// A port free for both UDP and TCP on 127.0.0.1.
    static func freePort() throws -> Int {
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
