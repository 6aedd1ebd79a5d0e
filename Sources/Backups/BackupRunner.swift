import Crypto
import Foundation
import KubeCore
import ObjectStore

/// Where a runner finds its secrets (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `PGPASSWORD`): in a Job, files of those names in `SALESPOT_SECRETS_DIR`, a Secret volume the Job mounts (so
/// they are in no environment variable and on no command line); run by hand, the environment variables of
/// those names. A child gets only the one it needs (pg_dump and pg_restore the password), in its own environment.
public enum RunnerSecrets {
    public static let directoryVariable = "SALESPOT_SECRETS_DIR"

    public static func value(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        if let dir = environment[directoryVariable], !dir.isEmpty {
            let path = dir + "/" + name
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw BackupError.invalid("cannot read the secret file \(path)")
            }
            let text = String(decoding: data, as: UTF8.self)
            return text.isEmpty ? nil : text
        }
        return environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// Everything a runner needs but the secrets: the controller puts it in the Job's environment
/// (`SALESPOT_BACKUP_PLAN`, JSON); the credentials are read by ``RunnerSecrets``.
public struct S3Plan: Codable, Sendable, Hashable {
    public var endpoint: String?
    public var region: String
    public var bucket: String
    public var pathStyle: Bool
    public var serverSideEncryption: String?
    public var kmsKeyId: String?
    public var partSizeMiB: Int?

    public init(_ d: S3Destination) {
        endpoint = d.endpoint
        region = d.region ?? "us-east-1"
        bucket = d.bucket
        pathStyle = d.forcePathStyle ?? (d.endpoint != nil)
        serverSideEncryption = d.serverSideEncryption
        kmsKeyId = d.kmsKeyId
        partSizeMiB = d.partSizeMiB
    }

    var encryption: ServerSideEncryption? {
        switch serverSideEncryption {
        case "AES256": return .aes256
        case "aws:kms": return .kms(keyId: kmsKeyId)
        default: return nil
        }
    }

    /// A client with the credentials ``RunnerSecrets`` finds (the policy's credentials Secret); without them, the
    /// Job's own identity: its ServiceAccount's IAM role, whose web identity IRSA puts in the environment.
    public func client(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> S3Client {
        let credentials: any AWSCredentialsProvider
        if let id = try RunnerSecrets.value("AWS_ACCESS_KEY_ID", environment: environment),
           let secret = try RunnerSecrets.value("AWS_SECRET_ACCESS_KEY", environment: environment) {
            credentials = AWSCredentials(accessKeyId: id, secretAccessKey: secret,
                                         sessionToken: try RunnerSecrets.value("AWS_SESSION_TOKEN", environment: environment))
        } else {
            do {
                credentials = try AWSDefaultCredentials.resolve(environment: environment)
            } catch {
                throw BackupError.invalid("\(error)")
            }
        }
        return try S3Client(S3Endpoint(endpoint: endpoint, region: region, bucket: bucket, pathStyle: pathStyle),
                            credentials: credentials)
    }
}

public struct BackupPlan: Codable, Sendable, Hashable {
    public var backup: String
    public var namespace: String
    public var policy: String
    /// full, database, files or incremental.
    public var type: String
    /// Key prefix of this backup's objects, ending in `/`.
    public var keyPrefix: String
    public var s3: S3Plan
    public var database: DatabaseSource?
    public var files: FilesSource?
    /// gzip or none.
    public var compression: String
    public var level: Int
    public var verify: Bool
    /// For incrementals: the backup they build on, and its manifest.
    public var parent: BackupManifest.Parent?

    public init(backup: String, namespace: String, policy: String, type: String, keyPrefix: String, s3: S3Plan,
                database: DatabaseSource? = nil, files: FilesSource? = nil, compression: String = "gzip", level: Int = 6,
                verify: Bool = true, parent: BackupManifest.Parent? = nil) {
        self.backup = backup
        self.namespace = namespace
        self.policy = policy
        self.type = type
        self.keyPrefix = keyPrefix
        self.s3 = s3
        self.database = database
        self.files = files
        self.compression = compression
        self.level = level
        self.verify = verify
        self.parent = parent
    }

    public var manifestKey: String { keyPrefix + "manifest.json" }
    public var databaseKey: String { keyPrefix + "database.dump" }
    public var filesKey: String { keyPrefix + (compression == "gzip" ? "files.tar.gz" : "files.tar") }
}

/// `salespot-operator backup run`: dumps and archives the sources straight into S3 multipart uploads (constant
/// memory, no temporary copy), reads them back to verify them, and writes the manifest last.
public struct BackupRunner {
    public let plan: BackupPlan
    let client: S3Client
    let log: (String) -> Void

    public init(plan: BackupPlan, client: S3Client, log: @escaping (String) -> Void = { _ in }) {
        self.plan = plan
        self.client = client
        self.log = log
    }

    public func run() async throws -> BackupManifest {
        let started = Time.now().rfc3339
        var artifacts: [BackupManifest.Artifact] = []
        var tools: [String: String] = ["salespot-operator": salespotVersion]
        var entries: [BackupManifest.Entry]?
        var archived: Int?
        var parent: BackupManifest.Parent?
        if plan.type == "full" || plan.type == "database" {
            guard let db = plan.database else { throw BackupError.invalid("a \(plan.type) backup needs spec.database") }
            tools["pg_dump"] = await Child.version("pg_dump")
            log("dumping database \(db.database) on \(db.host)")
            artifacts.append(try await dump(db))
        }
        if plan.type == "full" || plan.type == "files" || plan.type == "incremental" {
            guard let files = plan.files else { throw BackupError.invalid("a \(plan.type) backup needs spec.files") }
            tools["tar"] = await Child.version("tar")
            let tree = try FileTree.walk(roots: files.paths, exclude: files.exclude ?? [])
            var selected = tree
            if plan.type == "incremental", let p = plan.parent {
                let before = try BackupManifest.decode(try await client.get(p.manifestKey))
                guard let old = before.entries else { throw BackupError.runner("the parent backup \(p.backup) has no file list") }
                selected = FileTree.changed(tree, since: old)
                parent = p
                log("incremental on \(p.backup): \(selected.count) of \(tree.count) entries changed")
            }
            entries = tree
            archived = selected.count
            artifacts.append(try await archive(selected))
        }
        var manifest = BackupManifest(version: BackupManifest.currentVersion, backup: plan.backup, namespace: plan.namespace,
                                      policy: plan.policy, type: plan.type, startedAt: started, completedAt: "",
                                      artifacts: artifacts, parent: parent,
                                      database: plan.database.map { "\($0.host):\($0.port ?? 5432)/\($0.database)" },
                                      roots: plan.files?.paths,
                                      volumeMountPath: plan.files?.persistentVolumeClaim != nil ? (plan.files?.mountPath ?? "/data") : nil,
                                      exclude: plan.files?.exclude, entries: entries, archivedEntries: archived, tools: tools, verified: false)
        if plan.verify {
            for a in artifacts { try await Verifier(client: client).verify(a, log: log) }
            manifest.verified = true
        }
        manifest.completedAt = Time.now().rfc3339
        try await client.put(plan.manifestKey, try manifest.encoded(), contentType: "application/json", encryption: plan.s3.encryption)
        log("manifest written: \(plan.manifestKey)")
        return manifest
    }

    func writer(_ key: String) -> ObjectWriter {
        ObjectWriter(client: client, key: key, encryption: plan.s3.encryption, partSize: max(5, min(512, plan.s3.partSizeMiB ?? 5)) << 20)
    }

    /// pg_dump's custom format, compressed by pg_dump itself (in its own process, so on another core than the
    /// upload) and never again: the format keeps its table of contents readable for `pg_restore --list`.
    func dump(_ db: DatabaseSource) async throws -> BackupManifest.Artifact {
        let w = writer(plan.databaseKey)
        let args = ["--format=custom", "--compress=\(plan.compression == "none" ? 0 : plan.level)", "--no-password",
                    "--host=\(db.host)", "--port=\(db.port ?? 5432)", "--username=\(db.user)", "--dbname=\(db.database)"]
        var env: [String: String] = [:]
        if let mode = db.sslMode { env["PGSSLMODE"] = mode }
        if let password = try RunnerSecrets.value("PGPASSWORD") { env["PGPASSWORD"] = password }
        do {
            try await Child.read("pg_dump", args, environment: env) { try await w.write($0) }
            let (size, sha) = try await w.finish()
            return .init(name: "database", key: plan.databaseKey, format: "pg_dump-custom", compression: plan.compression == "none" ? "none" : "pg_dump",
                         size: size, sha256: sha, sourceSize: size)
        } catch {
            await w.abort()
            throw error
        }
    }

    /// A tar of the entries (GNU tar, names relative to /, no recursion: the list is exact), gzipped here.
    func archive(_ entries: [BackupManifest.Entry]) async throws -> BackupManifest.Artifact {
        let list = FileManager.default.temporaryDirectory.appendingPathComponent("salespot-files-\(UInt64.random(in: 0...UInt64.max))")
        var names = [UInt8]()
        for e in entries { names += PathCodec.bytes(e.path).dropFirst() + [0] }
        try Data(names).write(to: list)
        defer { try? FileManager.default.removeItem(at: list) }
        let w = writer(plan.filesKey)
        var source = 0
        do {
            let gzip = plan.compression == "gzip" ? try GzipStream(.compress(level: Int32(plan.level))) : nil
            // --ignore-failed-read: a file removed since the walk is a warning, not a failed backup (any other
            // warning fails it: the walk already opened every file, so that is a read error); status 1 is "a file
            // changed while being read", which a backup of live files has to accept.
            let args = ["--create", "--file=-", "--directory=/", "--no-recursion", "--null", "--verbatim-files-from",
                        "--files-from=\(list.path)", "--numeric-owner", "--ignore-failed-read", "--format=posix"]
            let warnings = try await Child.read("tar", args, okStatuses: [0, 1]) { bytes in
                source += bytes.count
                if let gzip {
                    try await withStableBytes(bytes) { try await gzip.process($0) { try await w.write($0) } }
                } else {
                    try await w.write(bytes)
                }
            }
            let failedReads = warnings.split(separator: "\n").filter { line in
                (line.contains("Cannot") || line.contains("Read error")) && !line.contains("No such file or directory")
            }
            if !failedReads.isEmpty { throw BackupError.runner("tar could not read every file: \(failedReads.prefix(5).joined(separator: "; "))") }
            if let gzip { try await gzip.process(UnsafeRawBufferPointer(start: nil, count: 0), finish: true) { try await w.write($0) } }
            let (size, sha) = try await w.finish()
            return .init(name: "files", key: plan.filesKey, format: "tar", compression: plan.compression == "gzip" ? "gzip" : "none",
                         size: size, sha256: sha, sourceSize: source)
        } catch {
            await w.abort()
            throw error
        }
    }
}

/// Reads artifacts back: the size and SHA-256 against the manifest's, and the content against its tool
/// (`pg_restore --list` for dumps, `tar --list` for archives), in one streamed pass.
public struct Verifier {
    public let client: S3Client
    public init(client: S3Client) { self.client = client }

    public func verify(_ a: BackupManifest.Artifact, log: (String) -> Void = { _ in }) async throws {
        guard let head = try await client.head(a.key) else { throw BackupError.runner("\(a.key) is missing") }
        guard head.size == a.size else { throw BackupError.runner("\(a.key) has \(head.size) bytes, the manifest says \(a.size)") }
        let hashed = HashingSequence(ObjectReader(client: client, key: a.key, size: a.size), gunzip: a.compression == "gzip")
        switch a.format {
        case "pg_dump-custom": try await Child.write("pg_restore", ["--list"], drainInput: true, input: hashed)
        default: try await Child.write("tar", ["--list", "--file=-"], drainInput: true, input: hashed)
        }
        let sha = hashed.digest()
        guard sha == a.sha256 else { throw BackupError.runner("\(a.key): SHA-256 \(sha) does not match the manifest's \(a.sha256)") }
        log("verified \(a.key) (\(a.size) bytes)")
    }

    /// Only the checksum (before a restore touches anything).
    public func checksum(_ a: BackupManifest.Artifact) async throws {
        guard let head = try await client.head(a.key) else { throw BackupError.runner("\(a.key) is missing") }
        guard head.size == a.size else { throw BackupError.runner("\(a.key) has \(head.size) bytes, the manifest says \(a.size)") }
        var h = SHA256()
        for try await chunk in ObjectReader(client: client, key: a.key, size: a.size) { h.update(data: chunk) }
        let sha = SigV4.hex(h.finalize())
        guard sha == a.sha256 else {
            throw BackupError.runner("\(a.key): SHA-256 \(sha) does not match the manifest's \(a.sha256): the object is corrupt or was replaced")
        }
    }
}

/// The chunks of an object, hashed as they pass (and gunzipped after hashing when asked).
final class HashingSequence: AsyncSequence, @unchecked Sendable {
    typealias Element = [UInt8]
    let reader: ObjectReader
    let gunzip: Bool
    /// When given, the end of the object is an error unless its SHA-256 is this (checked before the consumer
    /// sees the end).
    let expected: String?
    let key: String
    var hasher = SHA256()

    init(_ reader: ObjectReader, gunzip: Bool, expected: String? = nil) {
        self.reader = reader
        self.gunzip = gunzip
        self.expected = expected
        self.key = reader.key
    }

    func digest() -> String { SigV4.hex(hasher.finalize()) }

    struct AsyncIterator: AsyncIteratorProtocol {
        let owner: HashingSequence
        var inner: ObjectReader.AsyncIterator
        let gzip: GzipStream?
        var pending: [[UInt8]] = []
        var ended = false

        var current: [UInt8] = []
        var offset = 0

        mutating func next() async throws -> [UInt8]? {
            while pending.isEmpty {
                if let gzip, offset < current.count {
                    // Inflated 16 KiB at a time, so that even a stream of zeros (1000:1) stays within 16 MiB.
                    let slice = Array(current[offset..<Swift.min(offset + (16 << 10), current.count)])
                    offset += slice.count
                    var out: [[UInt8]] = []
                    try await withStableBytes(slice) { try await gzip.process($0) { out.append(Array($0)) } }
                    pending = out
                    continue
                }
                if ended {
                    if let expected = owner.expected, owner.digest() != expected {
                        throw BackupError.runner("\(owner.key): SHA-256 \(owner.digest()) does not match the manifest's \(expected): the object changed while being restored")
                    }
                    return nil
                }
                guard let chunk = try await inner.next() else {
                    ended = true
                    if let gzip {
                        var out: [[UInt8]] = []
                        try await gzip.process(UnsafeRawBufferPointer(start: nil, count: 0), finish: true) { out.append(Array($0)) }
                        pending = out
                    }
                    continue
                }
                owner.hasher.update(data: chunk)
                guard gzip != nil else { return chunk }
                current = chunk
                offset = 0
            }
            return pending.removeFirst()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(owner: self, inner: reader.makeAsyncIterator(), gzip: gunzip ? try? GzipStream(.decompress) : nil)
    }
}

public let salespotVersion = "0.4.0"

/// Calls `body` with the bytes of `array` across suspension points (`withUnsafeBytes` only takes synchronous
/// closures, and a pointer must not escape it): the bytes are copied into memory owned here for the call.
nonisolated(nonsending) func withStableBytes<R>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) async throws -> R) async rethrows -> R {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, array.count), alignment: 16)
    defer { buffer.deallocate() }
    array.withUnsafeBytes { buffer.copyMemory(from: $0) }
    return try await body(UnsafeRawBufferPointer(rebasing: buffer[0..<array.count]))
}
