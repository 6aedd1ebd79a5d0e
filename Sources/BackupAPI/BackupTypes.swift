import KubeCore
// SecretKeyRef and the notification targets are shared by every domain: they live in the Notifications target.
@_exported import struct Notifications.SecretKeyRef
@_exported import struct Notifications.SlackTarget
@_exported import struct Notifications.TelegramTarget
@_exported import struct Notifications.WebhookTarget
@_exported import struct Notifications.NotificationTargets

/// A PostgreSQL database to dump or restore into.
public struct DatabaseSource: Codable, Sendable, Hashable {
    public var host: String
    public var port: Int?
    public var database: String
    public var user: String
    /// The password, from a Secret (a file of the Job's Secret volume, given to pg_dump alone as PGPASSWORD, never an argument).
    public var passwordSecretRef: SecretKeyRef?
    /// libpq's sslmode (disable, allow, prefer, require, verify-ca, verify-full). Default: libpq's (prefer).
    public var sslMode: String?
    public init(host: String, port: Int? = nil, database: String, user: String, passwordSecretRef: SecretKeyRef? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.passwordSecretRef = passwordSecretRef
    }
}

/// Files to back up: absolute paths, on a volume the Job mounts (a PVC) or, in dev and tests, on the local disk.
public struct FilesSource: Codable, Sendable, Hashable {
    public var paths: [String]
    /// Glob patterns (fnmatch, matched against the path relative to its root and the file name) left out.
    public var exclude: [String]?
    /// A PersistentVolumeClaim mounted into the Job at `mountPath`; the paths are under it.
    public var persistentVolumeClaim: String?
    public var mountPath: String?
    public init(paths: [String], exclude: [String]? = nil) { self.paths = paths; self.exclude = exclude }
}

/// An S3 bucket and prefix, and how to reach and write it.
public struct S3Destination: Codable, Sendable, Hashable {
    /// `https://host[:port]`; default AWS S3 in `region`.
    public var endpoint: String?
    public var region: String?
    public var bucket: String
    /// Objects go under `prefix/namespace/policy/backup/`.
    public var prefix: String?
    public var forcePathStyle: Bool?
    /// A Secret with the access key (keys `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN`).
    /// None: the operator and the backup Jobs use their own identity (IRSA: their ServiceAccounts' IAM roles).
    public var credentialsSecret: String?
    /// `AES256` or `aws:kms`.
    public var serverSideEncryption: String?
    public var kmsKeyId: String?
    /// Multipart part size in MiB of the first 2,000 parts (5–512, default 5); it doubles every 2,000 parts (about 300 GiB with 5).
    public var partSizeMiB: Int?
    public init(endpoint: String? = nil, region: String? = nil, bucket: String, prefix: String? = nil,
                forcePathStyle: Bool? = nil, credentialsSecret: String? = nil) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.prefix = prefix
        self.forcePathStyle = forcePathStyle
        self.credentialsSecret = credentialsSecret
    }
}

public struct Compression: Codable, Sendable, Hashable {
    /// `gzip` (default) or `none`. Database dumps are compressed by pg_dump itself (custom format), never twice.
    public var algorithm: String?
    /// 1 (fastest) to 9 (smallest); default 6.
    public var level: Int?
}

public struct Retention: Codable, Sendable, Hashable {
    public var keepLast: Int?
    public var keepHourly: Int?
    public var keepDaily: Int?
    public var keepWeekly: Int?
    public var keepMonthly: Int?
    /// Backups older than this go (e.g. `720h`, `30d`), unless another rule keeps them.
    public var maxAge: String?
    public init(keepLast: Int? = nil, keepHourly: Int? = nil, keepDaily: Int? = nil, keepWeekly: Int? = nil, keepMonthly: Int? = nil, maxAge: String? = nil) {
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.keepMonthly = keepMonthly
        self.maxAge = maxAge
    }
}

public struct Notifications: Codable, Sendable, Hashable {
    public typealias Slack = SlackTarget
    public typealias Telegram = TelegramTarget
    public typealias Webhook = WebhookTarget
    /// Default true.
    public var onFailure: Bool?
    /// Default false.
    public var onSuccess: Bool?
    public var slack: Slack?
    public var telegram: Telegram?
    public var webhook: Webhook?
    public init(onFailure: Bool? = nil, onSuccess: Bool? = nil, slack: Slack? = nil, telegram: Telegram? = nil, webhook: Webhook? = nil) {
        self.onFailure = onFailure
        self.onSuccess = onSuccess
        self.slack = slack
        self.telegram = telegram
        self.webhook = webhook
    }
    /// Where they go.
    public var targets: NotificationTargets { NotificationTargets(slack: slack, telegram: telegram, webhook: webhook) }
}

/// What the Jobs run with, over the operator's defaults.
public struct JobOverrides: Codable, Sendable, Hashable {
    public var image: String?
    public var serviceAccountName: String?
    public var nodeSelector: [String: String]?
    public var resources: JSONValue?
    public var tolerations: [JSONValue]?
    /// Seconds a run may take before it is stopped (default 6 h).
    public var activeDeadlineSeconds: Int?
    public init(image: String? = nil, serviceAccountName: String? = nil, nodeSelector: [String: String]? = nil, resources: JSONValue? = nil,
                tolerations: [JSONValue]? = nil, activeDeadlineSeconds: Int? = nil) {
        self.image = image
        self.serviceAccountName = serviceAccountName
        self.nodeSelector = nodeSelector
        self.resources = resources
        self.tolerations = tolerations
        self.activeDeadlineSeconds = activeDeadlineSeconds
    }
}

/// `ops.salespot.by/v1alpha1 BackupPolicy`: what to back up, when, where, for how long. See crds/.
public struct BackupPolicy: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "ops.salespot.by", version: "v1alpha1", resource: "backuppolicies",
                                                    kind: "BackupPolicy", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?
    @RawJSON public var rawJSON: JSONValue?

    public init(metadata: ObjectMeta, spec: Spec) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var schedule: String
        public var timeZone: String?
        /// full (database and files), database, files or incremental (files changed since the last backup).
        public var type: String
        public var database: DatabaseSource?
        public var files: FilesSource?
        public var destination: S3Destination
        public var compression: Compression?
        /// Read every backup back and check it (default true).
        public var verify: Bool?
        public var retention: Retention?
        public var notifications: Notifications?
        public var suspend: Bool?
        public var startingDeadlineSeconds: Int?
        /// An incremental chain starts again with a full files backup after this many incrementals (default 6).
        public var fullEvery: Int?
        public var job: JobOverrides?
        public init(schedule: String, type: String, destination: S3Destination) {
            self.schedule = schedule
            self.type = type
            self.destination = destination
        }
    }

    public struct Status: Codable, Sendable, Hashable {
        public var observedGeneration: Int?
        public var lastScheduleTime: String?
        public var lastSuccessfulTime: String?
        public var nextScheduleTime: String?
        /// The newest Completed and verified Backup.
        public var lastVerifiedBackup: String?
        public var active: String?
        public var backups: Int?
        public var completed: Int?
        public var failed: Int?
        public var conditions: [Condition]?
        public init() {}
    }
}

/// `ops.salespot.by/v1alpha1 Backup`: one run of a policy, scheduled or by hand.
public struct Backup: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "ops.salespot.by", version: "v1alpha1", resource: "backups",
                                                    kind: "Backup", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?
    @RawJSON public var rawJSON: JSONValue?

    public init(metadata: ObjectMeta, spec: Spec) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Codable, Sendable, Hashable {
        /// The BackupPolicy (same namespace) whose sources, destination and settings this run uses.
        public var policy: String
        /// Overrides the policy's type for this run.
        public var type: String?
        /// For scheduled runs: the schedule time this run is for.
        public var scheduledTime: String?
        public init(policy: String, type: String? = nil) { self.policy = policy; self.type = type }
    }

    public struct Artifact: Codable, Sendable, Hashable {
        public var name: String
        public var key: String
        public var size: Int
        public var sha256: String
        public init(name: String, key: String, size: Int, sha256: String) {
            self.name = name
            self.key = key
            self.size = size
            self.sha256 = sha256
        }
    }

    public struct Status: Codable, Sendable, Hashable {
        /// New, Running, Completed or Failed.
        public var phase: String?
        public var type: String?
        public var startTime: String?
        public var completionTime: String?
        /// Bytes stored (all artifacts).
        public var size: Int?
        /// Bytes read from the sources before compression.
        public var sourceSize: Int?
        /// SHA-256 of the main artifact (the dump, else the archive).
        public var sha256: String?
        public var artifacts: [Artifact]?
        public var manifestKey: String?
        /// The backup an incremental builds on.
        public var parent: String?
        /// Where the objects are, so that deleting the Backup can remove them even after its policy is gone.
        public var location: StoredLocation?
        public var verified: Bool?
        public var job: String?
        public var error: String?
        public var observedGeneration: Int?
        public var conditions: [Condition]?
        public init() {}
    }
}

/// `ops.salespot.by/v1alpha1 Restore`: restores a Backup into a database or a path.
public struct Restore: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "ops.salespot.by", version: "v1alpha1", resource: "restores",
                                                    kind: "Restore", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?
    @RawJSON public var rawJSON: JSONValue?

    public init(metadata: ObjectMeta, spec: Spec) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var backup: String
        /// Restore the database dump into this database (default: none).
        public var database: DatabaseSource?
        /// Restore the files under this path (the backed-up absolute paths are recreated below it).
        public var files: FilesTarget?
        /// Drop the target database (WITH FORCE) and create it empty before restoring: a scratch database of a
        /// drill or a rehearsal. Refused when the target is the database the backup was taken from. Default false.
        public var recreateDatabase: Bool?
        /// A query run against the restored database after the restore; the Restore fails unless it passes.
        public var check: Check?
        public var job: JobOverrides?
        public init(backup: String) { self.backup = backup }
    }

    /// A query run with psql in the restored database, e.g. `SELECT count(*) > 0 FROM orders`.
    public struct Check: Codable, Sendable, Hashable {
        public var query: String
        /// The first column of the first row, as psql prints it unaligned (`t` for true). Absent: the query must
        /// succeed and return at least one row.
        public var expect: String?
        public init(query: String, expect: String? = nil) { self.query = query; self.expect = expect }
    }

    /// What the check query gave.
    public struct CheckResult: Codable, Sendable, Hashable {
        public var passed: Bool
        /// The first column of the first row (at most 256 characters); absent when the query returned no row.
        public var result: String?
        public var durationSeconds: Double?
        public init(passed: Bool, result: String?, durationSeconds: Double?) {
            self.passed = passed
            self.result = result
            self.durationSeconds = durationSeconds
        }
    }

    public struct FilesTarget: Codable, Sendable, Hashable {
        public var path: String
        public var persistentVolumeClaim: String?
        /// Remove files under the restored paths that the backup does not have (default true).
        public var prune: Bool?
        public init(path: String) { self.path = path }
    }

    public struct Status: Codable, Sendable, Hashable {
        /// New, Running, Completed or Failed.
        public var phase: String?
        public var startTime: String?
        public var completionTime: String?
        public var durationSeconds: Double?
        /// The backups applied, base first.
        public var chain: [String]?
        public var verified: Bool?
        /// The check query's outcome, when the spec has one.
        public var check: CheckResult?
        public var job: String?
        public var error: String?
        public var observedGeneration: Int?
        public var conditions: [Condition]?
        public init() {}
    }
}

/// A backup's S3 location and the Secret with the credentials for it (none: the reader's own identity).
public struct StoredLocation: Codable, Sendable, Hashable {
    public var endpoint: String?
    public var region: String
    public var bucket: String
    public var pathStyle: Bool
    public var keyPrefix: String
    public var credentialsSecret: String?
    public init(endpoint: String?, region: String, bucket: String, pathStyle: Bool, keyPrefix: String, credentialsSecret: String?) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.pathStyle = pathStyle
        self.keyPrefix = keyPrefix
        self.credentialsSecret = credentialsSecret
    }
}

