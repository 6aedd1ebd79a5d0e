import Foundation
import KubeCore
import ObjectStore

public struct RestorePlan: Codable, Sendable, Hashable {
    public var restore: String
    public var namespace: String
    public var s3: S3Plan
    /// The manifest of the backup to restore.
    public var manifestKey: String
    /// Restore the dump into this database (password from PGPASSWORD).
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
            let hashed = HashingSequence(ObjectReader(client: client, key: dump.key, size: dump.size), gunzip: false)
            try await Child.write("pg_restore", args, environment: env, input: hashed)
            bytes += dump.size
            log("restored \(dump.key) into \(db.database)")
        }
        if let root = plan.filesPath {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            for a in archives {
                let hashed = HashingSequence(ObjectReader(client: client, key: a.key, size: a.size), gunzip: a.compression == "gzip")
                try await Child.write("tar", ["--extract", "--file=-", "--directory=\(root)", "--numeric-owner", "--preserve-permissions"], input: hashed)
                guard hashed.digest() == a.sha256 else { throw BackupError.runner("\(a.key) changed while being restored") }
                bytes += a.size
                log("extracted \(a.key)")
            }
            if plan.prune ?? true, let entries = last.entries {
                try prune(root: root, roots: last.roots ?? [], keep: Set(entries.map(\.path)))
                // Modes of directories whose contents changed after their own entry was extracted.
                for e in entries where e.type == "d" { chmod(mapped(root, e.path), mode_t(e.mode)) }
            }
        }
        return RestoreOutcome(chain: chain.map(\.backup), bytes: bytes)
    }

    func mapped(_ root: String, _ path: String) -> String { root.hasSuffix("/") ? root + path.dropFirst() : root + path }

    /// Removes entries below the restored roots that the backup's file list does not have.
    func prune(root: String, roots: [String], keep: Set<String>) throws {
        let present = try FileTree.walk(roots: roots.map { mapped(root, $0) }.filter { FileManager.default.fileExists(atPath: $0) }, exclude: [])
        let prefix = root.hasSuffix("/") ? String(root.dropLast()) : root
        for e in present.reversed() {
            let original = String(e.path.dropFirst(prefix.count))
            if !keep.contains(original) {
                try? FileManager.default.removeItem(atPath: e.path)
                log("removed \(original) (not in the backup)")
            }
        }
    }
}
