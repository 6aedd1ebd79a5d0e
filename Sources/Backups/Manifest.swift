import KubeCore

/// The JSON document written next to a backup's objects, last: an object without its manifest is never a backup.
/// It says what the objects are (type, source, sizes, SHA-256, tools), which backup an incremental builds on, and,
/// for files, every entry of the tree at backup time (so the next incremental knows what changed and a restore
/// knows what to remove).
public struct BackupManifest: Codable, Sendable, Equatable {
    public static let currentVersion = "backup.salespot.by/v1"

    public struct Artifact: Codable, Sendable, Equatable {
        /// `database` or `files`.
        public var name: String
        public var key: String
        /// `pg_dump-custom` or `tar`.
        public var format: String
        /// `pg_dump` (zlib inside the custom format), `gzip` or `none`.
        public var compression: String
        public var size: Int
        public var sha256: String
        /// Bytes before compression (the tar stream; for dumps, pg_dump's compressed output, so equal to size).
        public var sourceSize: Int
    }

    /// One file-system entry of a files source.
    public struct Entry: Codable, Sendable, Equatable {
        /// The absolute path.
        public var path: String
        /// `f` file, `d` directory, `l` symbolic link.
        public var type: String
        public var mode: Int
        public var size: Int
        /// Modification time, nanoseconds since 1970.
        public var mtime: Int
        public var link: String?

        public init(path: String, type: String, mode: Int, size: Int, mtime: Int, link: String? = nil) {
            self.path = path
            self.type = type
            self.mode = mode
            self.size = size
            self.mtime = mtime
            self.link = link
        }
    }

    public struct Parent: Codable, Sendable, Hashable {
        public var backup: String
        public var manifestKey: String
        public init(backup: String, manifestKey: String) { self.backup = backup; self.manifestKey = manifestKey }
    }

    public var version: String
    public var backup: String
    public var namespace: String
    public var policy: String
    public var type: String
    public var startedAt: String
    public var completedAt: String
    public var artifacts: [Artifact]
    public var parent: Parent?
    /// The database dumped: host, port, database (no user, no password).
    public var database: String?
    /// The file roots backed up.
    public var roots: [String]?
    /// Where the source volume (a PVC) was mounted: a restore into a volume puts its contents at the volume's root.
    public var volumeMountPath: String?
    /// The exclude globs the tree was walked with (a restore's pruning leaves what they match alone).
    public var exclude: [String]?
    /// The whole tree at backup time (files, incrementals), paths in ``PathCodec``'s form: UTF-8 text, with any byte
    /// that is not UTF-8 (and any backslash) as `\xHH`.
    public var entries: [Entry]?
    /// How many entries the archive holds (all for a full backup, the changed ones for an incremental).
    public var archivedEntries: Int?
    public var tools: [String: String]
    public var verified: Bool

    public func encoded() throws -> [UInt8] {
        try JSONValueEncoder().encode(self).serialized()
    }

    public static func decode(_ bytes: [UInt8]) throws -> BackupManifest {
        let m: BackupManifest
        do { m = try JSONValueDecoder().decode(BackupManifest.self, from: bytes) } catch {
            throw BackupError.runner("the manifest cannot be read: \(error)")
        }
        guard m.version == currentVersion else { throw BackupError.runner("manifest version \(m.version) is not \(currentVersion)") }
        return m
    }
}
