import Backups
import Foundation
import KubeClient
import KubeCore
import ObjectStore
import TestSupport
import Testing

/// The backup and restore runners against PostgreSQL 15 and SeaweedFS: round trips checked row by row and file by
/// file, and the failures that must leave nothing half-done.
@Suite struct RunnerTests {
    func plan(_ s3: S3Client, type: String, name: String, database: DatabaseSource? = nil, files: FilesSource? = nil,
              parent: BackupManifest.Parent? = nil) -> BackupPlan {
        BackupPlan(backup: name, namespace: "default", policy: "p", type: type, keyPrefix: "backups/default/p/\(name)/",
                   s3: Services.plan(s3), database: database, files: files, compression: "gzip", level: 6, verify: true, parent: parent)
    }

    @Test func aDatabaseBackupRestoresIdenticalRows() async throws {
        try Services.withPassword()
        let s3 = try await Services.bucket()
        let db = try await Services.database()
        try await Services.psql(db, """
            CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(12,2), placed timestamptz, note text);
            INSERT INTO orders (customer, total, placed, note)
              SELECT 'customer ' || i, i * 1.25, '2026-01-01'::timestamptz + i * interval '1 minute', CASE WHEN i % 7 = 0 THEN NULL ELSE md5(i::text) END
              FROM generate_series(1, 20000) i;
            CREATE TABLE items (order_id int REFERENCES orders(id), sku text, qty int);
            INSERT INTO items SELECT i, 'sku-' || (i % 97), i % 5 FROM generate_series(1, 20000) i;
            """)
        let manifest = try await BackupRunner(plan: plan(s3, type: "database", name: "db1", database: try Services.source(db)), client: s3).run()
        #expect(manifest.verified)
        #expect(manifest.artifacts.count == 1)
        let dump = try #require(manifest.artifacts.first)
        #expect(dump.format == "pg_dump-custom" && dump.compression == "pg_dump")
        #expect(try await s3.head(dump.key)?.size == dump.size)
        #expect(manifest.tools["pg_dump"]?.contains("PostgreSQL") == true)
        // The manifest is in S3, last, and says the same.
        #expect(try BackupManifest.decode(try await s3.get("backups/default/p/db1/manifest.json")) == manifest)

        let target = try await Services.database()
        let outcome = try await RestoreRunner(plan: RestorePlan(restore: "r", namespace: "default", s3: Services.plan(s3),
                                                                 manifestKey: "backups/default/p/db1/manifest.json",
                                                                 database: try Services.source(target)), client: s3).run()
        #expect(outcome.chain == ["db1"])
        for table in ["orders", "items"] {
            let a = try await Services.psql(db, "COPY (SELECT * FROM \(table) ORDER BY 1, 2) TO STDOUT")
            let b = try await Services.psql(target, "COPY (SELECT * FROM \(table) ORDER BY 1, 2) TO STDOUT")
            #expect(a.split(separator: "\n").count == 20000)
            #expect(a == b, "table \(table) differs after the restore")
        }
    }

    @Test func filesAndTwoIncrementalsRestoreTheSameTree() async throws {
        let s3 = try await Services.bucket()
        let dir = try temporaryDirectory()
        let src = dir + "/src"
        let fm = FileManager.default
        try fm.createDirectory(atPath: src + "/uploads/2026", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: src + "/cache", withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: src + "/a.txt"))
        try Data((0..<200_000).map { UInt8($0 % 251) }).write(to: URL(fileURLWithPath: src + "/uploads/2026/big.bin"))
        try Data("gone soon".utf8).write(to: URL(fileURLWithPath: src + "/uploads/old.txt"))
        try Data("skip".utf8).write(to: URL(fileURLWithPath: src + "/cache/x.tmp"))
        try fm.createSymbolicLink(atPath: src + "/link", withDestinationPath: "a.txt")
        chmod(src + "/a.txt", 0o640)
        let files = FilesSource(paths: [src], exclude: ["*.tmp"])
        let base = try await BackupRunner(plan: plan(s3, type: "files", name: "f0", files: files), client: s3).run()
        #expect(base.verified && base.archivedEntries == base.entries?.count)
        #expect(base.entries?.contains { $0.path.hasSuffix("x.tmp") } == false, "an excluded file was backed up")

        // Change one file, its mode, add one, remove one.
        try await Task.sleep(for: .milliseconds(20))
        try Data("hello again".utf8).write(to: URL(fileURLWithPath: src + "/a.txt"))
        try Data("new".utf8).write(to: URL(fileURLWithPath: src + "/uploads/2026/new.txt"))
        try fm.removeItem(atPath: src + "/uploads/old.txt")
        let i1 = try await BackupRunner(plan: plan(s3, type: "incremental", name: "f1", files: files,
                                                   parent: .init(backup: "f0", manifestKey: "backups/default/p/f0/manifest.json")), client: s3).run()
        #expect(i1.parent?.backup == "f0")
        #expect((i1.archivedEntries ?? 99) < 6, "an incremental archived \(i1.archivedEntries ?? -1) entries")
        chmod(src + "/uploads/2026/big.bin", 0o600)
        try Data("third".utf8).write(to: URL(fileURLWithPath: src + "/uploads/third.txt"))
        let i2 = try await BackupRunner(plan: plan(s3, type: "incremental", name: "f2", files: files,
                                                   parent: .init(backup: "f1", manifestKey: "backups/default/p/f1/manifest.json")), client: s3).run()
        #expect(!(i2.entries ?? []).contains { $0.path.hasSuffix("old.txt") })

        let target = dir + "/restored"
        let outcome = try await RestoreRunner(plan: RestorePlan(restore: "r", namespace: "default", s3: Services.plan(s3),
                                                                 manifestKey: "backups/default/p/f2/manifest.json", filesPath: target), client: s3).run()
        #expect(outcome.chain == ["f0", "f1", "f2"])
        #expect(try tree(src, exclude: ".tmp") == tree(target + src, exclude: ".tmp"))
        #expect(!fm.fileExists(atPath: target + src + "/uploads/old.txt"))
    }

    /// path -> (type, mode, contents or link target), for every entry below `root`.
    func tree(_ root: String, exclude: String) throws -> [String: String] {
        var out: [String: String] = [:]
        let fm = FileManager.default
        for rel in try fm.subpathsOfDirectory(atPath: root) where !rel.hasSuffix(exclude) {
            let path = root + "/" + rel
            var st = stat()
            lstat(path, &st)
            let mode = String(st.st_mode, radix: 8)
            if (st.st_mode & S_IFMT) == S_IFLNK {
                out[rel] = "l \(mode) " + (try fm.destinationOfSymbolicLink(atPath: path))
            } else if (st.st_mode & S_IFMT) == S_IFDIR {
                out[rel] = "d \(mode)"
            } else {
                out[rel] = "f \(mode) " + String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)).base64EncodedData(), as: UTF8.self)
            }
        }
        return out
    }

    @Test func aCorruptObjectIsRefusedBeforeTheTargetIsTouched() async throws {
        try Services.withPassword()
        let s3 = try await Services.bucket()
        let db = try await Services.database()
        try await Services.psql(db, "CREATE TABLE t (v int); INSERT INTO t SELECT generate_series(1, 1000)")
        let m = try await BackupRunner(plan: plan(s3, type: "database", name: "c", database: try Services.source(db)), client: s3).run()
        let key = m.artifacts[0].key
        var bytes = try await s3.get(key)
        bytes[bytes.count / 2] ^= 0xFF  // one flipped byte, same size
        try await s3.put(key, bytes)
        let target = try await Services.database()
        await #expect(throws: BackupError.self) {
            _ = try await RestoreRunner(plan: RestorePlan(restore: "r", namespace: "default", s3: Services.plan(s3), manifestKey: "backups/default/p/c/manifest.json",
                                                          database: try Services.source(target)), client: s3).run()
        }
        do {
            _ = try await RestoreRunner(plan: RestorePlan(restore: "r", namespace: "default", s3: Services.plan(s3), manifestKey: "backups/default/p/c/manifest.json",
                                                          database: try Services.source(target)), client: s3).run()
        } catch {
            #expect("\(error)".contains("SHA-256"), "\(error)")
        }
        // Nothing was restored: the target has no table.
        #expect(try await Services.psql(target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test func s3FailingMidUploadLeavesNoObjectAndNoManifest() async throws {
        try Services.withPassword()
        let good = try await Services.bucket()
        let transport = FaultTransport(ClientConfiguration(server: "http://127.0.0.1"))
        // Every part after the first fails as a cut connection does (the retries included); the abort goes through.
        transport.set([FaultTransport.Rule(method: "PUT", urlContains: ["partNumber=2"], fault: .fail)])
        let s3 = try S3Client(good.location, credentials: Services.credentials, transport: transport,
                              retry: .init(attempts: 3, initial: .milliseconds(50), maximum: .milliseconds(200)))
        let dir = try temporaryDirectory()
        // 12 MiB of incompressible data: three 5 MiB parts.
        var state: UInt64 = 99
        let data = Data((0..<(12 << 20)).map { _ -> UInt8 in state = state &* 6364136223846793005 &+ 1; return UInt8(state >> 56) })
        try data.write(to: URL(fileURLWithPath: dir + "/blob"))
        do {
            _ = try await BackupRunner(plan: plan(s3, type: "files", name: "x", files: FilesSource(paths: [dir])), client: s3).run()
            Issue.record("the backup succeeded through a failing S3")
        } catch {
            #expect("\(error)".contains("UploadPart"), "\(error)")
        }
        #expect(try await good.list(prefix: "backups/").isEmpty, "a failed upload left objects behind")
        #expect(try await good.pendingUploads(prefix: "").isEmpty, "a failed upload was not aborted")
    }

    @Test func aDatabaseThatIsDownFailsWithPgDumpsMessage() async throws {
        let s3 = try await Services.bucket()
        let down = DatabaseSource(host: "127.0.0.1", port: 1, database: "nothing", user: "nobody")
        do {
            _ = try await BackupRunner(plan: plan(s3, type: "database", name: "d", database: down), client: s3).run()
            Issue.record("a backup of a database that is down succeeded")
        } catch {
            #expect("\(error)".contains("pg_dump"), "\(error)")
            #expect("\(error)".contains("connection") || "\(error)".contains("connect"), "\(error)")
        }
        #expect(try await s3.list(prefix: "").isEmpty)
    }
}
