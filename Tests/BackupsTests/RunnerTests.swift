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

    /// Names as bytes, types that change along a chain, excluded files at the target, hostile manifests, and an
    /// object that changes between its check and its restore.
    @Test func aChainWhoseEntriesChangeTypeRestoresTheSameTreeWithEveryName() async throws {
        let s3 = try await Services.bucket()
        let dir = try temporaryDirectory()
        let src = dir + "/src"
        let fm = FileManager.default
        try fm.createDirectory(atPath: src + "/x/inner", withIntermediateDirectories: true)
        try Data("in x".utf8).write(to: URL(fileURLWithPath: src + "/x/inner/f"))
        try Data("plain".utf8).write(to: URL(fileURLWithPath: src + "/y"))
        try Data("back\\slash".utf8).write(to: URL(fileURLWithPath: src + "/a\\b"))
        // A name that is not UTF-8 (Latin-1 "café"), made with the raw bytes.
        let latin1 = Array(src.utf8) + Array("/caf".utf8) + [0xE9] + Array(".txt".utf8) + [0]
        let fd = latin1.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) } }
        #expect(fd >= 0)
        _ = write(fd, "latin-1 name", 12)
        close(fd)
        try Data("cache".utf8).write(to: URL(fileURLWithPath: src + "/skip.tmp"))
        let files = FilesSource(paths: [src], exclude: ["*.tmp"])
        let base = try await BackupRunner(plan: plan(s3, type: "files", name: "t0", files: files), client: s3).run()
        #expect(base.entries?.contains { $0.path.hasSuffix("/caf\\xE9.txt") } == true, "\(base.entries?.map(\.path) ?? [])")
        #expect(base.entries?.contains { $0.path.hasSuffix("/a\\x5Cb") } == true)
        // x: directory → file; y: file → directory.
        try fm.removeItem(atPath: src + "/x")
        try Data("x is a file now".utf8).write(to: URL(fileURLWithPath: src + "/x"))
        try fm.removeItem(atPath: src + "/y")
        try fm.createDirectory(atPath: src + "/y", withIntermediateDirectories: true)
        try Data("under y".utf8).write(to: URL(fileURLWithPath: src + "/y/g"))
        _ = try await BackupRunner(plan: plan(s3, type: "incremental", name: "t1", files: files,
                                              parent: .init(backup: "t0", manifestKey: "backups/default/p/t0/manifest.json")), client: s3).run()
        // x: file → symbolic link.
        try fm.removeItem(atPath: src + "/x")
        try fm.createSymbolicLink(atPath: src + "/x", withDestinationPath: "y/g")
        _ = try await BackupRunner(plan: plan(s3, type: "incremental", name: "t2", files: files,
                                              parent: .init(backup: "t1", manifestKey: "backups/default/p/t1/manifest.json")), client: s3).run()
        // The target already has a file the policy excludes, and one the backup does not have.
        let target = dir + "/restored"
        try fm.createDirectory(atPath: target + src, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: target + src + "/local.tmp"))
        try Data("stray".utf8).write(to: URL(fileURLWithPath: target + src + "/stray"))
        let outcome = try await RestoreRunner(plan: RestorePlan(restore: "r", namespace: "default", s3: Services.plan(s3),
                                                                 manifestKey: "backups/default/p/t2/manifest.json", filesPath: target), client: s3).run()
        #expect(outcome.chain == ["t0", "t1", "t2"])
        var expected = try rawTree(src)
        expected.removeValue(forKey: Array("skip.tmp".utf8))
        var restored = try rawTree(target + src)
        #expect(restored.removeValue(forKey: Array("local.tmp".utf8)) != nil, "the restore removed a file its policy excludes")
        #expect(restored == expected)
        #expect(restored[Array("caf".utf8) + [0xE9] + Array(".txt".utf8)] != nil, "the Latin-1 name was lost")
    }

    /// relative path bytes -> type and contents (or link target), without Foundation's UTF-8 paths.
    func rawTree(_ root: String) throws -> [[UInt8]: String] {
        var out: [[UInt8]: String] = [:]
        func walk(_ dir: [UInt8], _ rel: [UInt8]) {
            guard let d = (dir + [0]).withUnsafeBufferPointer({ $0.withMemoryRebound(to: CChar.self) { opendir($0.baseAddress!) } }) else { return }
            var names: [[UInt8]] = []
            while let e = readdir(d) {
                let n = withUnsafeBytes(of: e.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
                if n != [0x2E] && n != [0x2E, 0x2E] { names.append(n) }
            }
            closedir(d)
            for n in names {
                let path = dir + [0x2F] + n, r = rel.isEmpty ? n : rel + [0x2F] + n
                var st = stat()
                _ = (path + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { lstat($0.baseAddress!, &st) } }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    out[r] = "d"
                    walk(path, r)
                case S_IFLNK:
                    var buf = [CChar](repeating: 0, count: 4096)
                    let k = (path + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { readlink($0.baseAddress!, &buf, 4095) } }
                    out[r] = "l " + String(decoding: buf[0..<max(0, k)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                default:
                    let fd = (path + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_RDONLY) } }
                    var bytes = [UInt8](repeating: 0, count: 1 << 16)
                    let k = read(fd, &bytes, bytes.count)
                    close(fd)
                    out[r] = "f " + String(decoding: bytes[0..<max(0, k)], as: UTF8.self)
                }
            }
        }
        walk(Array(root.utf8), [])
        return out
    }

    @Test func aManifestNamingPathsOutsideItsRootsIsRefusedBeforeAnythingIsTouched() async throws {
        let s3 = try await Services.bucket()
        let dir = try temporaryDirectory()
        try Data("v".utf8).write(to: URL(fileURLWithPath: dir + "/f"))
        let m = try await BackupRunner(plan: plan(s3, type: "files", name: "h", files: FilesSource(paths: [dir])), client: s3).run()
        for hostile in [dir + "/../escape", "/etc/passwd", dir + "/./f", "relative"] {
            var bad = m
            bad.entries!.append(BackupManifest.Entry(path: hostile, type: "f", mode: 0o644, size: 1, mtime: 0, link: nil))
            try await s3.put("backups/default/p/h/manifest.json", try bad.encoded())
            let target = dir + "/target-\(UUID().uuidString)"
            do {
                _ = try await RestoreRunner(plan: RestorePlan(restore: "r", namespace: "default", s3: Services.plan(s3),
                                                              manifestKey: "backups/default/p/h/manifest.json", filesPath: target), client: s3).run()
                Issue.record("a manifest with \(hostile) was restored")
            } catch {
                #expect("\(error)".contains("not a clean path"), "\(error)")
            }
            #expect(!FileManager.default.fileExists(atPath: target), "the target was touched")
        }
    }

    @Test func aDumpThatChangesBetweenItsCheckAndItsRestoreNeverCommits() async throws {
        try Services.withPassword()
        let good = try await Services.bucket()
        let db = try await Services.database()
        try await Services.psql(db, "CREATE TABLE t (v int); INSERT INTO t SELECT generate_series(1, 2000)")
        let m = try await BackupRunner(plan: plan(good, type: "database", name: "d", database: try Services.source(db)), client: good).run()
        // The checksum pass reads the dump intact; the restore's own read of it comes back with a byte flipped.
        let transport = FaultTransport(ClientConfiguration(server: "http://127.0.0.1"))
        let reads = Locked(0)
        transport.set(decide: { request in
            guard request.method == "GET", request.url.contains("database.dump") else { return nil }
            reads.mutate { $0 += 1 }
            return reads.value == 2 ? .corrupt : nil
        })
        let s3 = try S3Client(good.location, credentials: Services.credentials, transport: transport)
        let target = try await Services.database()
        do {
            _ = try await RestoreRunner(plan: RestorePlan(restore: "r", namespace: "default", s3: Services.plan(s3), manifestKey: m.artifacts.isEmpty ? "" : "backups/default/p/d/manifest.json",
                                                          database: try Services.source(target)), client: s3).run()
            Issue.record("a dump that changed under the restore was restored")
        } catch {
            #expect("\(error)".contains("SHA-256") || "\(error)".contains("pg_restore"), "\(error)")
        }
        #expect(reads.value == 2)
        #expect(try await Services.psql(target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test func aVolumeBackupRestoredIntoAVolumeLandsAtItsRoot() async throws {
        let s3 = try await Services.bucket()
        let dir = try temporaryDirectory()
        let mount = dir + "/var/www/uploads"  // where the source volume is mounted
        try FileManager.default.createDirectory(atPath: mount + "/2026", withIntermediateDirectories: true)
        try Data("photo".utf8).write(to: URL(fileURLWithPath: mount + "/2026/p.jpg"))
        var files = FilesSource(paths: [mount])
        files.persistentVolumeClaim = "uploads"
        files.mountPath = mount
        let m = try await BackupRunner(plan: plan(s3, type: "files", name: "v", files: files), client: s3).run()
        #expect(m.volumeMountPath == mount)
        // The new volume, mounted at the restore's path, gets the source volume's contents at its root.
        let target = dir + "/new-volume"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: URL(fileURLWithPath: target + "/stale.txt"))
        _ = try await RestoreRunner(plan: RestorePlan(restore: "r", namespace: "default", s3: Services.plan(s3), manifestKey: "backups/default/p/v/manifest.json",
                                                      filesPath: target, intoVolume: true), client: s3).run()
        #expect(try tree(mount, exclude: "\u{0}") == tree(target, exclude: "\u{0}"))
        #expect(!FileManager.default.fileExists(atPath: target + mount), "restored below the source's full path")
        // Into a plain path, the full path is kept.
        let plain = dir + "/plain"
        _ = try await RestoreRunner(plan: RestorePlan(restore: "r", namespace: "default", s3: Services.plan(s3), manifestKey: "backups/default/p/v/manifest.json",
                                                      filesPath: plain), client: s3).run()
        #expect(try tree(mount, exclude: "\u{0}") == tree(plain + mount, exclude: "\u{0}"))
    }
}
