import Foundation
import KubeCore
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

    public init(restore: String, namespace: String, s3: S3Plan, manifestKey: String, database: DatabaseSource? = nil,
                filesPath: String? = nil, prune: Bool? = nil) {
        self.restore = restore
        self.namespace = namespace
        self.s3 = s3
        self.manifestKey = manifestKey
        self.database = database
        self.filesPath = filesPath
        self.prune = prune
    }
}

/// What a restore did.
public struct RestoreOutcome: Sendable, Equatable {
    /// The backups applied, base first.
    public var chain: [String]
    public var bytes: Int
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
        let chain = try await Self.chain(client, plan.manifestKey)
        let last = chain.last!
        let dump = last.artifacts.first { $0.name == "database" }
        let archives = chain.compactMap { m in m.artifacts.first { $0.name == "files" } }
        if plan.database != nil && dump == nil { throw BackupError.invalid("backup \(last.backup) has no database dump to restore") }
        if plan.filesPath != nil && archives.isEmpty { throw BackupError.invalid("backup \(last.backup) has no files to restore") }
        if plan.database == nil && plan.filesPath == nil { throw BackupError.invalid("nothing to restore into: give a database or a files path") }
        // Every object first: a corrupt one refuses the restore before the target is touched.
        let needed = (plan.database != nil ? [dump!] : []) + (plan.filesPath != nil ? archives : [])
        for a in needed {
            try await Verifier(client: client).checksum(a)
            log("checked \(a.key)")
        }
        var bytes = 0
        if let db = plan.database, let dump {
            let args = ["--dbname=\(db.database)", "--host=\(db.host)", "--port=\(db.port ?? 5432)", "--username=\(db.user)",
                        "--no-password", "--single-transaction", "--exit-on-error", "--no-owner"]
            var env: [String: String] = [:]
            if let mode = db.sslMode { env["PGSSLMODE"] = mode }
            if let password = try RunnerSecrets.value("PGPASSWORD") { env["PGPASSWORD"] = password }
            // The checksum is compared again as the last byte passes: a mismatch kills pg_restore before it sees the
            // end of its input, so its single transaction never commits.
            let hashed = HashingSequence(ObjectReader(client: client, key: dump.key, size: dump.size), gunzip: false, expected: dump.sha256)
            try await Child.write("pg_restore", args, environment: env, input: hashed)
            bytes += dump.size
            log("restored \(dump.key) into \(db.database)")
        }
        if let root = plan.filesPath {
            for m in chain { try Self.check(m) }
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            var previous: [String: BackupManifest.Entry] = [:]
            for m in chain {
                guard let a = m.artifacts.first(where: { $0.name == "files" }) else { continue }
                // An entry whose type changed since the previous backup of the chain (a directory that became a
                // file or a link, ...) is removed first: tar cannot put one over the other.
                for e in (m.entries ?? []).reversed() {
                    if let old = previous[e.path], old.type != e.type { try FileTree.remove(mapped(root, e.path)) }
                }
                let hashed = HashingSequence(ObjectReader(client: client, key: a.key, size: a.size), gunzip: a.compression == "gzip", expected: a.sha256)
                try await Child.write("tar", ["--extract", "--file=-", "--directory=\(root)", "--numeric-owner", "--preserve-permissions"], input: hashed)
                bytes += a.size
                log("extracted \(a.key)")
                previous = Dictionary((m.entries ?? []).map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            }
            if plan.prune ?? true, let entries = last.entries {
                try prune(root: root, roots: last.roots ?? [], exclude: last.exclude ?? [], keep: Set(entries.map(\.path)))
                // Modes of directories whose contents changed after their own entry was extracted.
                for e in entries where e.type == "d" { FileTree.chmodDirectory(mapped(root, e.path), e.mode) }
            }
        }
        return RestoreOutcome(chain: chain.map(\.backup), bytes: bytes)
    }

    /// A manifest's paths are absolute, under its roots, without `.` or `..` components: a manifest that says
    /// otherwise is refused before the target is touched (a restore never writes or removes outside the target).
    static func check(_ m: BackupManifest) throws {
        let roots = (m.roots ?? []).map { r in r.count > 1 && r.hasSuffix("/") ? String(r.dropLast()) : r }
        for r in roots where !valid(r) { throw BackupError.runner("manifest of \(m.backup): root \(r) is not a clean absolute path") }
        for e in m.entries ?? [] {
            guard valid(e.path), roots.contains(where: { e.path == $0 || e.path.hasPrefix($0 == "/" ? "/" : $0 + "/") }) else {
                throw BackupError.runner("manifest of \(m.backup): entry \(e.path) is not a clean path under the backup's roots")
            }
            guard ["f", "d", "l"].contains(e.type) else { throw BackupError.runner("manifest of \(m.backup): entry \(e.path) has type \(e.type)") }
        }
    }

    static func valid(_ path: String) -> Bool {
        guard path.hasPrefix("/") else { return false }
        if path == "/" { return true }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        return !parts.contains { $0.isEmpty || $0 == "." || $0 == ".." } && !PathCodec.bytes(path).contains(0)
    }

    func mapped(_ root: String, _ path: String) -> String { root.hasSuffix("/") ? root + path.dropFirst() : root + path }

    /// Removes entries below the restored roots that the backup's file list does not have (what its exclude globs
    /// match was never in it, and is left alone).
    func prune(root: String, roots: [String], exclude: [String], keep: Set<String>) throws {
        let mappedRoots = roots.map { mapped(root, $0) }.filter { r in PathCodec.withCString(r) { access($0, F_OK) } == 0 }
        let present = try FileTree.walk(roots: mappedRoots, exclude: exclude)
        let prefix = root.hasSuffix("/") ? String(root.dropLast()) : root
        for e in present.reversed() {
            let original = String(e.path.dropFirst(prefix.count))
            if !keep.contains(original) {
                try FileTree.remove(e.path)
                log("removed \(original) (not in the backup)")
            }
        }
    }
}
