import Crypto
import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import Logging
import Notifications
import ObjectStore

/// How the backup and restore Jobs run, from the operator's flags.
public struct JobSettings: Sendable {
    /// The image with `salespot-operator` (the operator's own).
    public var image: String
    /// The command that starts the runner (`salespot-operator`).
    public var executable: String
    public var serviceAccountName: String?
    public init(image: String = "ghcr.io/salespot/salespot-operator:\(salespotVersion)", executable: String = "salespot-operator",
                serviceAccountName: String? = nil) {
        self.image = image
        self.executable = executable
        self.serviceAccountName = serviceAccountName
    }
}

/// The three controllers of backups: BackupPolicy (schedule, retention, status), Backup (one run as a Job, its
/// outcome, notifications, the S3 objects on deletion) and Restore (one restore as a Job).
public enum BackupControllers {
    public static let policyLabel = "ops.salespot.by/backup-policy"
    public static let finalizer = "ops.salespot.by/backup-objects"
    public static let fieldManager = "salespot-backups"

    public static func make(client: KubeClient, namespaces: [String]? = nil, shardSelector: String? = nil, workers: Int = 2,
                            metrics: ControllerMetrics? = nil, events: EventRecorder? = nil, jobs: JobSettings = JobSettings(),
                            notifier: Notifier = Notifier(), now: @escaping @Sendable () -> Date = { Date() },
                            logger: Logger = Logger(label: "salespot.backups")) -> [any ManagedController] {
        let registry = metrics?.registry
        BackupMetrics.declare(registry)
        let env = Environment(client: client, events: events, jobs: jobs, notifier: notifier, now: now, registry: registry, logger: logger)
        let backups = Controller(name: "backup", api: Api<Backup>(client), namespaces: namespaces, labelSelector: shardSelector,
                                 workers: 1, metrics: metrics, logger: logger) { request in
            try await BackupReconciler(env: env).reconcile(request)
        }.owns(Api<Job>(client), labelSelector: "app.kubernetes.io/managed-by=salespot-operator")
        // The policies read the Backups from the cache of their own watch of them, which is up to date with the
        // event that enqueued the policy (the backup controller's cache is another informer, and may lag it). Every
        // Backup, labelled or not: one made with kubectl counts for its policy too.
        let policyBackups = Store<Backup>()
        let policies = Controller(name: "backuppolicy", api: Api<BackupPolicy>(client), namespaces: namespaces, labelSelector: shardSelector,
                                  workers: workers, metrics: metrics, logger: logger) { request in
            try await PolicyReconciler(env: env, backups: policyBackups).reconcile(request)
        }.watches(Api<Backup>(client), store: policyBackups) { (b: Backup) in
            [ObjectRef(namespace: b.metadata.namespace, name: b.spec.policy)]
        }
        let restores = Controller(name: "restore", api: Api<Restore>(client), namespaces: namespaces, labelSelector: shardSelector,
                                  workers: workers, metrics: metrics, logger: logger) { request in
            try await RestoreReconciler(env: env, backups: backups.store).reconcile(request)
        }.owns(Api<Job>(client), labelSelector: "app.kubernetes.io/managed-by=salespot-operator")
        return [policies, backups, restores]
    }

    /// What the reconcilers share.
    struct Environment: Sendable {
        let client: KubeClient
        let events: EventRecorder?
        let jobs: JobSettings
        let notifier: Notifier
        let now: @Sendable () -> Date
        let registry: MetricsRegistry?
        let logger: Logger

        func event<T: KubernetesResource>(_ o: T, _ type: String = "Normal", _ reason: String, _ note: String) {
            events?.emit(regarding: ObjectReference(apiVersion: T.resource.apiVersion, kind: T.resource.kind, name: o.metadata.name,
                                                    namespace: o.metadata.namespace, uid: o.metadata.uid),
                         type: type, reason: reason, action: reason, note: note)  // the recorder cuts it to 1 KiB
        }

        /// An S3 client with the credentials of the destination's Secret; without one, the operator's own identity
        /// (IRSA), shared by every client so that it is renewed once.
        func s3(_ ns: String, _ d: S3Plan, secret: String?) async throws -> S3Client {
            let credentials: any AWSCredentialsProvider
            do {
                credentials = try await AWSDefaultCredentials.named(secret: secret, namespace: ns, client: client)
            } catch let e as SecretValueMissing {
                throw BackupError.invalid(e.description)
            } catch let e as AWSCredentialsError {
                throw BackupError.invalid(e.description)
            }
            return try S3Client(S3Endpoint(endpoint: d.endpoint, region: d.region, bucket: d.bucket, pathStyle: d.pathStyle),
                                credentials: credentials)
        }
    }

    // MARK: Names and keys

    /// A scheduled Backup's name: the policy's and the schedule time's (UTC, to the minute), so that every replica
    /// and every restart names the same run the same way.
    static func scheduledName(_ policy: String, _ t: Date) -> String {
        let digits = Time(secondsSince1970: t.timeIntervalSince1970.rounded(.down)).rfc3339.filter(\.isNumber)  // 20261202020000
        return "\(policy.prefix(253 - 14))-\(digits.prefix(8))-\(digits.dropFirst(8).prefix(4))"
    }

    /// A Job's name: the owner's when it fits in 63 characters (a label value), else a prefix and a hash.
    static func jobName(_ owner: String, suffix: String = "") -> String {
        let full = owner + suffix
        if full.count <= 63 { return full }
        let hash = SigV4.hex(SHA256.hash(data: Array(full.utf8))).prefix(10)
        var prefix = String(full.prefix(52))
        while prefix.hasSuffix("-") || prefix.hasSuffix(".") { prefix.removeLast() }
        return "\(prefix)-\(hash)"
    }

    /// Where a policy's backups go: `PREFIX/NAMESPACE/POLICY/`.
    static func policyPrefix(_ d: S3Destination, ns: String, policy: String) -> String {
        var p = d.prefix ?? "backups"
        while p.hasSuffix("/") { p.removeLast() }
        while p.hasPrefix("/") { p.removeFirst() }
        return (p.isEmpty ? "" : p + "/") + "\(ns)/\(policy)/"
    }

    /// A backup's objects: `PREFIX/NAMESPACE/POLICY/NAME-UID8/`. The Backup's uid makes the keys its own: two
    /// clusters writing the same policy into one bucket (a DR site built from the same manifests) never share
    /// (or delete) each other's objects.
    static func keyPrefix(_ d: S3Destination, ns: String, policy: String, backup: String, uid: String?) -> String {
        let tag = (uid ?? "").filter { $0.isHexDigit }.prefix(8)
        return policyPrefix(d, ns: ns, policy: policy) + backup + (tag.isEmpty ? "" : "-\(tag)") + "/"
    }
}

// MARK: Validation

enum PolicyValidation {
    static let types: Set<String> = ["full", "database", "files", "incremental"]

    /// The policy's schedule, or why the policy cannot be used.
    static func validate(_ p: BackupPolicy) -> Result<CronSchedule, BackupError> {
        let s = p.spec
        let schedule: CronSchedule
        do { schedule = try CronSchedule(s.schedule, timeZone: s.timeZone) } catch {
            return .failure(.invalid("spec.schedule: \(error)"))
        }
        guard types.contains(s.type) else { return .failure(.invalid("spec.type must be full, database, files or incremental, not \(s.type)")) }
        if (s.type == "full" || s.type == "database") && s.database == nil {
            return .failure(.invalid("a \(s.type) backup needs spec.database"))
        }
        if s.type != "database" && s.files == nil { return .failure(.invalid("a \(s.type) backup needs spec.files")) }
        if let files = s.files, let bad = files.paths.first(where: { !$0.hasPrefix("/") }) {
            return .failure(.invalid("spec.files.paths: \(bad) is not an absolute path"))
        }
        if let age = s.retention?.maxAge, parseAge(age) == nil {
            return .failure(.invalid("spec.retention.maxAge: \(age) is not a duration such as 720h, 30d or 4w"))
        }
        if let sse = s.destination.serverSideEncryption, sse != "AES256", sse != "aws:kms" {
            return .failure(.invalid("spec.destination.serverSideEncryption must be AES256 or aws:kms"))
        }
        if s.destination.kmsKeyId != nil && s.destination.serverSideEncryption != "aws:kms" {
            return .failure(.invalid("spec.destination.kmsKeyId needs serverSideEncryption aws:kms"))
        }
        if let p = s.destination.partSizeMiB, !(5...512).contains(p) {
            return .failure(.invalid("spec.destination.partSizeMiB must be 5 to 512"))
        }
        if let a = s.compression?.algorithm, a != "gzip", a != "none" {
            return .failure(.invalid("spec.compression.algorithm must be gzip or none"))
        }
        if let l = s.compression?.level, !(1...9).contains(l) {
            return .failure(.invalid("spec.compression.level must be 1 to 9"))
        }
        if let mode = s.database?.sslMode, !["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(mode) {
            return .failure(.invalid("spec.database.sslMode must be one of libpq's: disable, allow, prefer, require, verify-ca, verify-full"))
        }
        if let d = s.startingDeadlineSeconds, d < 1 {
            return .failure(.invalid("spec.startingDeadlineSeconds must be at least 1"))
        }
        if let n = s.notifications, n.slack == nil, n.telegram == nil, n.webhook == nil {
            return .failure(.invalid("spec.notifications names no channel (slack, telegram or webhook)"))
        }
        return .success(schedule)
    }

    /// `90m`, `720h`, `30d`, `4w`, or combinations (`1d12h`), in seconds.
    static func parseAge(_ text: String) -> Double? {
        var total = 0.0
        var number = ""
        for c in text {
            if c.isNumber { number.append(c); continue }
            guard let n = Double(number) else { return nil }
            switch c {
            case "s": total += n
            case "m": total += n * 60
            case "h": total += n * 3600
            case "d": total += n * 86_400
            case "w": total += n * 604_800
            default: return nil
            }
            number = ""
        }
        return number.isEmpty && total > 0 ? total : nil
    }
}
