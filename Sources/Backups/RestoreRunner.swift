import Foundation
import KubeCore
import KubeRuntime
import ObjectStore

public struct RestorePlan: Codable, Sendable, Hashable {
    public var restore: String
    public var namespace: String
    public var s3: S3Plan
    /// The manifest of the backup to restore.
    public var manifestKey: String
    /// Restore the dump into this database (the password: ``RunnerSecrets`` `PGPASSWORD`).
    public var database: DatabaseSource?
    /// Restore the files below this path.
    public var filesPath: String?
    /// Remove what the backup does not have under the restored roots (default true).
    public var prune: Bool?
    /// The files path is a volume (a PVC) of its own: a backup of a volume puts the volume's contents at its root
    /// (the source's mount path is taken off every path), not below the source's full path.
    public var intoVolume: Bool?
    /// Drop and create the database before restoring (a scratch database).
    public var recreateDatabase: Bool?
    /// A query to run in the restored database.
    public var check: Restore.Check?

    public init(restore: String, namespace: String, s3: S3Plan, manifestKey: String, database: DatabaseSource? = nil,
                filesPath: String? = nil, prune: Bool? = nil, intoVolume: Bool? = nil) {
        self.restore = restore
        self.namespace = namespace
        self.s3 = s3
        self.manifestKey = manifestKey
        self.database = database
        self.filesPath = filesPath
        self.prune = prune
        self.intoVolume = intoVolume
    }
}

/// What a restore did.
public struct RestoreOutcome: Sendable, Equatable {
    /// The backups applied, base first.
    public var chain: [String]
    public var bytes: Int
    /// The check query's outcome (a failed check throws ``RestoreCheckFailed`` instead).
    public var check: Restore.CheckResult?
}

/// The restore was applied, but its check query failed or gave another answer.
public struct RestoreCheckFailed: Error, CustomStringConvertible {
    public var result: Restore.CheckResult
    public var reason: String
    public var description: String { "the data was restored, but the check failed: \(reason)" }
}

/// `salespot-operator restore run`: reads the backup's manifest and, for an incremental, the chain down to its
/// base; checks every object's size and SHA-256 before anything is touched; then restores the dump with
/// `pg_restore --single-transaction` (all or nothing) and the archives in order with tar, and finally removes what
/// the last backup's file list does not have.
public struct RestoreRunner {
    public let plan: RestorePlan
    let client: S3Client
    let log: (String) -> Void

    public init(plan: RestorePlan, client: S3Client, log: @escaping (String) -> Void = { _ in }) {
        self.plan = plan
        self.client = client
        self.log = log
    }

    /// The manifests from the base to `key`.
    public static func chain(_ client: S3Client, _ key: String) async throws -> [BackupManifest] {
        var out: [BackupManifest] = []
        var next: String? = key
        while let k = next {
            guard out.count < 1000 else { throw BackupError.runner("the incremental chain is longer than 1000 (a loop?)") }
            guard try await client.head(k) != nil else {
                throw BackupError.runner(out.isEmpty ? "no manifest at \(k): the backup is incomplete or gone" : "the chain is broken: \(k) (parent of \(out.last!.backup)) is gone")
            }
            let m = try BackupManifest.decode(try await client.get(k))
            out.append(m)
            next = m.parent?.manifestKey
        }
        return out.reversed()
    }

    public func run() async throws -> RestoreOutcome {
        if let q = plan.check?.query, let problem = Self.checkProblem(q) { throw BackupError.invalid(problem) }
        let chain = try await Self.chain(client, plan.manifestKey)
        let last = chain.last!
        let dump = last.artifacts.first { $0.name == "database" }
        let archives = chain.compactMap { m in m.artifacts.first { $0.name == "files" } }
        if plan.database != nil && dump == nil { throw BackupError.invalid("backup \(last.backup) has no database dump to restore") }
        if plan.filesPath != nil && archives.isEmpty { throw BackupError.invalid("backup \(last.backup) has no files to restore") }
        if plan.database == nil && plan.filesPath == nil { throw BackupError.invalid("nothing to restore into: give a database or a files path") }
        // The manifests' paths and every object first: a bad manifest or a corrupt object refuses the restore
        // before any target is touched.
        var strip: String?
        if plan.filesPath != nil {
            for m in chain { try Self.check(m) }
            if plan.intoVolume == true, let mount = last.volumeMountPath {
                strip = try Self.volumePrefix(mount, chain)
            }
        }
        let needed = (plan.database != nil ? [dump!] : []) + (plan.filesPath != nil ? archives : [])
        for a in needed {
            try await Verifier(client: client).checksum(a)
            log("checked \(a.key)")
        }
        var bytes = 0
        var checked: Restore.CheckResult?
        if let db = plan.database, let dump {
            // Neither owners nor privileges: the roles they name may not exist where the dump is restored.
            let args = ["--dbname=\(db.database)", "--host=\(db.host)", "--port=\(db.port ?? 5432)", "--username=\(db.user)",
                        "--no-password", "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges"]
            var env: [String: String] = [:]
            if let mode = db.sslMode { env["PGSSLMODE"] = mode }
            if let password = try RunnerSecrets.value("PGPASSWORD") { env["PGPASSWORD"] = password }
            if plan.recreateDatabase == true {
                try await Self.recreate(db, environment: env, log: log)
            }
            // The checksum is compared again as the last byte passes: a mismatch kills pg_restore before it sees the
            // end of its input, so its single transaction never commits.
            let hashed = HashingSequence(ObjectReader(client: client, key: dump.key, size: dump.size), gunzip: false, expected: dump.sha256)
            try await Child.write("pg_restore", args, environment: env, input: hashed)
            bytes += dump.size
            log("restored \(dump.key) into \(db.database)")
            if let check = plan.check {
                checked = try await Self.runCheck(check, db, environment: env)
                log("check query gave \(checked?.result ?? "no row")")
            }
        }
        if let root = plan.filesPath {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            var previous: [BackupManifest.Entry] = []
            for m in chain {
                guard let a = m.artifacts.first(where: { $0.name == "files" }) else { continue }
                // What this archive holds (all of a base; an incremental, what changed since its parent): an entry
                // of another type on disk (a directory where a file comes, ...) is removed first, as tar cannot put
                // one over the other.
                let archived = previous.isEmpty ? (m.entries ?? []) : FileTree.changed(m.entries ?? [], since: previous)
                for e in archived.reversed() {
                    let target = mapped(root, e.path, strip: strip)
                    if let onDisk = try FileTree.entry(target), (onDisk.type == "d") != (e.type == "d") || (onDisk.type == "l") != (e.type == "l") {
                        try FileTree.remove(target)
                    }
                }
                var args = ["--extract", "--file=-", "--directory=\(root)", "--numeric-owner", "--preserve-permissions"]
                if let strip { args.append("--strip-components=\(strip.split(separator: "/").count)") }
                let hashed = HashingSequence(ObjectReader(client: client, key: a.key, size: a.size), gunzip: a.compression == "gzip", expected: a.sha256)
                try await Child.write("tar", args, input: hashed)
                bytes += a.size
                log("extracted \(a.key)")
                previous = m.entries ?? []
            }
            if plan.prune ?? true, let entries = last.entries {
                try prune(root: root, roots: last.roots ?? [], strip: strip, exclude: last.exclude ?? [], keep: Set(entries.map(\.path)))
                // Modes of directories whose contents changed after their own entry was extracted.
                for e in entries where e.type == "d" { FileTree.chmodDirectory(mapped(root, e.path, strip: strip), e.mode) }
            }
        }
        return RestoreOutcome(chain: chain.map(\.backup), bytes: bytes, check: checked)
    }

    /// psql without ~/.psqlrc, stopping at the first error, never asking for a password.
    static func psqlArguments(_ db: DatabaseSource, database: String) -> [String] {
        ["--no-psqlrc", "--no-password", "--quiet", "--set=ON_ERROR_STOP=1", "--dbname=\(database)", "--host=\(db.host)",
         "--port=\(db.port ?? 5432)", "--username=\(db.user)"]
    }

    /// Why a check query is refused: psql takes a `--command` that begins with a backslash as a meta-command (`\!`
    /// runs a shell in the runner, where its credentials are), not as SQL.
    public static func checkProblem(_ query: String) -> String? {
        query.first == "\\" ? "the check query begins with a backslash (a psql meta-command, not SQL): give an SQL query" : nil
    }

    /// The comment a database the operator created carries: only such a database, or one without a table, is
    /// dropped and created again.
    static let scratchMarker = "salespot-operator: restore target, dropped and created again by each restore"

    /// Drops the target database (WITH FORCE, ending its sessions) and creates it empty, marked as ours. Refused
    /// when it holds tables and was not created by a restore (a database given by mistake is never dropped).
    static func recreate(_ db: DatabaseSource, environment env: [String: String], log: (String) -> Void) async throws {
        let name = quoted(db.database)
        var out: [UInt8] = []
        try await Child.read("psql", psqlArguments(db, database: "postgres") + ["--tuples-only", "--no-align",
            "--command=SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = \(literal(db.database))",
        ], environment: env) { out += $0 }
        let exists = !out.isEmpty
        let marked = String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == scratchMarker
        if exists && !marked {
            var count: [UInt8] = []
            try await Child.read("psql", psqlArguments(db, database: db.database) + ["--tuples-only", "--no-align",
                "--command=SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'",
            ], environment: env) { count += $0 }
            let n = Int(String(decoding: count, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            guard n == 0 else {
                throw BackupError.invalid("database \(db.database) has \(n < 0 ? "relations" : "\(n) relations") and was not created by a restore: it is not dropped (drop it yourself, or give a new name)")
            }
        }
        // Each command in its own implicit transaction (DROP DATABASE cannot run inside one).
        try await Child.read("psql", psqlArguments(db, database: "postgres") + [
            "--command=DROP DATABASE IF EXISTS \(name) WITH (FORCE)", "--command=CREATE DATABASE \(name)",
            "--command=COMMENT ON DATABASE \(name) IS \(literal(scratchMarker))",
        ], environment: env) { (_: [UInt8]) in }
        log(exists ? "dropped and created database \(db.database)" : "created database \(db.database)")
    }

    /// An SQL string literal, right whatever standard_conforming_strings says (E'' with quotes and backslashes doubled).
    static func literal(_ s: String) -> String {
        "E'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// An SQL identifier in double quotes (a quote inside is doubled).
    static func quoted(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Runs the check query in a read-only transaction and compares the first column of its first row.
    static func runCheck(_ check: Restore.Check, _ db: DatabaseSource, environment: [String: String]) async throws -> Restore.CheckResult {
        let started = ContinuousClock.now
        var out: [UInt8] = []
        var env = environment
        // A check should read: a query that writes fails (a query may still turn this default off itself; for a
        // strict guarantee connect as a role that may only read).
        env["PGOPTIONS"] = "-c default_transaction_read_only=on"
        do {
            try await Child.read("psql", psqlArguments(db, database: db.database) + [
                "--tuples-only", "--no-align", "--field-separator=\u{1F}", "--command=\(check.query)",
            ], environment: env) { chunk in if out.count < 64 << 10 { out += chunk } }
        } catch {
            let r = Restore.CheckResult(passed: false, result: nil, durationSeconds: seconds(since: started))
            throw RestoreCheckFailed(result: r, reason: "the query failed: \(error)")
        }
        let first = String(decoding: out, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).first
            .map { String($0.split(separator: "\u{1F}", omittingEmptySubsequences: false).first ?? "") }
        var r = Restore.CheckResult(passed: true, result: first.map { String($0.prefix(256)) }, durationSeconds: seconds(since: started))
        if let expect = check.expect, first != expect {
            r.passed = false
            throw RestoreCheckFailed(result: r, reason: "the query gave \(first.map { "'\($0.prefix(256))'" } ?? "no row"), expected '\(expect)'")
        }
        if check.expect == nil && first == nil {
            r.passed = false
            throw RestoreCheckFailed(result: r, reason: "the query returned no row")
        }
        return r
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        ((ContinuousClock.now - start).seconds * 1000).rounded() / 1000
    }

    /// The source volume's mount path, when every root of the chain is under it (else a restore into a volume
    /// cannot place them).
    static func volumePrefix(_ mount: String, _ chain: [BackupManifest]) throws -> String {
        let m = mount.count > 1 && mount.hasSuffix("/") ? String(mount.dropLast()) : mount
        guard valid(m), m != "/" else { throw BackupError.runner("the source volume's mount path \(mount) is not a clean absolute path") }
        for c in chain {
            guard c.volumeMountPath.map({ $0 == mount }) ?? false else {
                throw BackupError.runner("backup \(c.backup) of the chain was taken from another volume mount path (\(c.volumeMountPath ?? "none"))")
            }
            for r in c.roots ?? [] where !(r == m || r.hasPrefix(m + "/")) {
                throw BackupError.runner("backup \(c.backup) has \(r) outside its volume (\(m)): restore it into a path, not a volume")
            }
        }
        return m
    }

    /// A manifest's paths are absolute, under its roots, without `.` or `..` components: a manifest that says
    /// otherwise is refused before the target is touched (a restore never writes or removes outside the target).
    static func check(_ m: BackupManifest) throws {
        let roots = (m.roots ?? []).map { r in r.count > 1 && r.hasSuffix("/") ? String(r.dropLast()) : r }
        for r in roots where !valid(r) { throw BackupError.runner("manifest of \(m.backup): root \(r) is not a clean absolute path") }
        for e in m.entries ?? [] {
            let path = PathCodec.bytes(e.path)
            guard valid(e.path), roots.contains(where: { r in
                let rb = PathCodec.bytes(r)
                return path == rb || rb == [0x2F] || path.starts(with: rb + [0x2F])
            }) else {
                throw BackupError.runner("manifest of \(m.backup): entry \(e.path) is not a clean path under the backup's roots")
            }
            guard ["f", "d", "l"].contains(e.type) else { throw BackupError.runner("manifest of \(m.backup): entry \(e.path) has type \(e.type)") }
        }
    }

    /// Judged on the bytes (a Swift String would join "/" with a combining mark that follows it into one
    /// character, and split there no more).
    static func valid(_ path: String) -> Bool {
        let b = PathCodec.bytes(path)
        guard b.first == 0x2F, !b.contains(0) else { return false }
        if b == [0x2F] { return true }
        let parts = b.dropFirst().split(separator: 0x2F, omittingEmptySubsequences: false)
        return !parts.contains { $0.isEmpty || Array($0) == [0x2E] || Array($0) == [0x2E, 0x2E] }
    }

    /// Where a backed-up path goes below the target: the full path below it, or, into a volume, the path below the
    /// source volume's mount path.
    func mapped(_ root: String, _ path: String, strip: String? = nil) -> String {
        var p = path
        if let strip, p == strip || p.hasPrefix(strip + "/") { p = String(p.dropFirst(strip.count)) }
        if p.isEmpty { return root }
        return root.hasSuffix("/") ? root + p.dropFirst() : root + p
    }

    /// Removes entries below the restored roots that the backup's file list does not have (what its exclude globs
    /// match was never in it, and is left alone).
    func prune(root: String, roots: [String], strip: String?, exclude: [String], keep: Set<String>) throws {
        let mappedRoots = roots.map { mapped(root, $0, strip: strip) }.filter { r in PathCodec.withCString(r) { access($0, F_OK) } == 0 }
        let present = try FileTree.walk(roots: mappedRoots, exclude: exclude)
        let prefix = root.hasSuffix("/") ? String(root.dropLast()) : root
        for e in present.reversed() {
            let original = (strip ?? "") + String(e.path.dropFirst(prefix.count))
            if !keep.contains(original) {
                try FileTree.remove(e.path)
                log("removed \(original) (not in the backup)")
            }
        }
    }
}
