import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import Logging
import Notifications
import ObjectStore

/// The metrics of backups and restores (the original design's BackupFailure alert reads the last success).
enum BackupMetrics {
    static func declare(_ r: MetricsRegistry?) {
        guard let r else { return }
        r.declare("salespot_backup_duration_seconds", "histogram", help: "Duration of completed backups", labels: ["namespace", "policy", "type"],
                  buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400])
        r.declare("salespot_backup_size_bytes", "gauge", help: "Size in bytes of the last completed backup of a policy", labels: ["namespace", "policy"])
        r.declare("salespot_backup_last_success_timestamp_seconds", "gauge", help: "When the last backup of a policy completed (Unix time)", labels: ["namespace", "policy"])
        r.declare("salespot_backup_failures_total", "counter", help: "Failed backups", labels: ["namespace", "policy"])
        r.declare("salespot_backups_total", "counter", help: "Finished backups by outcome", labels: ["namespace", "policy", "outcome"])
        r.declare("salespot_restores_total", "counter", help: "Finished restores by outcome", labels: ["namespace", "outcome"])
        r.declare("salespot_restore_duration_seconds", "histogram", help: "Duration of completed restores", labels: ["namespace"],
                  buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400])
    }
}

extension Time {
    var date: Date { Date(timeIntervalSince1970: secondsSince1970) }
}

func ready(_ conditions: [Condition]?) -> Condition? { conditions?.first { $0.type == "Ready" } }

// MARK: - BackupPolicy

struct PolicyReconciler {
    let env: BackupControllers.Environment
    let backups: Store<Backup>

    func reconcile(_ request: ReconcileRequest<BackupPolicy>) async throws -> Action {
        guard let policy = request.object, policy.metadata.deletionTimestamp == nil else { return .awaitChange }
        let ns = policy.metadata.namespace ?? "default"
        let name = policy.metadata.name ?? ""
        let generation = policy.metadata.generation ?? 0
        var status = policy.status ?? BackupPolicy.Status()
        status.observedGeneration = Int(generation)
        var conditions = status.conditions ?? []
        let mine = backups.list(namespace: ns).filter { $0.spec.policy == name }
        var action = Action.awaitChange
        switch PolicyValidation.validate(policy) {
        case .failure(let e):
            let was = ready(policy.status?.conditions)
            Conditions.set(&conditions, type: "Ready", status: false, reason: "InvalidSpec", message: e.description, observedGeneration: generation)
            Conditions.set(&conditions, type: "Stalled", status: true, reason: "InvalidSpec", message: e.description, observedGeneration: generation)
            status.nextScheduleTime = nil
            if was?.reason != "InvalidSpec" || was?.message != e.description || policy.status?.observedGeneration != Int(generation) {
                env.event(policy, "Warning", "InvalidSpec", e.description)
            }
        case .success(let schedule):
            _ = Conditions.remove(&conditions, type: "Stalled")
            let now = env.now()
            if policy.spec.suspend == true {
                status.nextScheduleTime = nil
                Conditions.set(&conditions, type: "Ready", status: true, reason: "Suspended", message: "the schedule is suspended", observedGeneration: generation)
            } else {
                var earliest = status.lastScheduleTime.flatMap { Time(rfc3339: $0)?.date } ?? policy.metadata.creationTimestamp?.date ?? now
                if let d = policy.spec.startingDeadlineSeconds { earliest = max(earliest, now.addingTimeInterval(-Double(d))) }
                let (due, missed) = schedule.mostRecent(after: earliest, atOrBefore: now)
                if let due {
                    let active = mine.filter { $0.status?.phase == nil || $0.status?.phase == "New" || $0.status?.phase == "Running" }
                    if missed > 100 {
                        env.event(policy, "Warning", "TooManyMissedTimes", "\(missed) scheduled runs were missed; check the operator's availability and the schedule")
                    }
                    if let running = active.first {
                        // As CronJob's Forbid: this run waits for the one in flight, within the starting deadline.
                        action = .requeue(after: .seconds(15))
                        Conditions.set(&conditions, type: "Ready", status: true, reason: "Waiting",
                                       message: "the run for \(Time(secondsSince1970: due.timeIntervalSince1970).rfc3339) waits for \(running.metadata.name ?? "") to finish",
                                       observedGeneration: generation)
                    } else {
                        let backupName = BackupControllers.scheduledName(name, due)
                        // The policy's labels too: an operator sharded by a label selector then runs the Backups of
                        // the policies it schedules.
                        let labels = (policy.metadata.labels ?? [:]).merging([BackupControllers.policyLabel: name]) { _, n in n }
                        var b = Backup(metadata: ObjectMeta(name: backupName, namespace: ns, labels: labels),
                                       spec: Backup.Spec(policy: name))
                        b.spec.scheduledTime = Time(secondsSince1970: due.timeIntervalSince1970).rfc3339
                        do {
                            _ = try await Api<Backup>(env.client, namespace: ns).create(b, fieldManager: BackupControllers.fieldManager)
                            env.event(policy, "Normal", "Scheduled", "created Backup \(backupName)")
                        } catch let e as KubeError where e.code == 409 {
                            // Made already (a restart, or another leader): the name is the run's.
                        }
                        status.lastScheduleTime = b.spec.scheduledTime
                    }
                }
                if let next = schedule.next(after: now) {
                    status.nextScheduleTime = Time(secondsSince1970: next.timeIntervalSince1970).rfc3339
                    if action == .awaitChange { action = .requeue(after: .milliseconds(Int64(max(0.2, next.timeIntervalSince(now)) * 1000) + 200)) }
                }
                if ready(conditions)?.reason != "Waiting" || action == .awaitChange || !(mine.contains { $0.status?.phase == "Running" }) {
                    Conditions.set(&conditions, type: "Ready", status: true, reason: "Scheduled",
                                   message: "next run \(status.nextScheduleTime ?? "none")", observedGeneration: generation)
                }
            }
            try await applyRetention(policy, mine, schedule.timeZone)
        }
        let completed = mine.filter { $0.status?.phase == "Completed" }
        status.backups = mine.count
        status.completed = completed.count
        status.failed = mine.filter { $0.status?.phase == "Failed" }.count
        status.active = mine.first { $0.status?.phase == "Running" }?.metadata.name
        status.lastSuccessfulTime = completed.compactMap(\.status?.completionTime).max()
        // Kept from the resources, not only from completions this process saw: after a restart the series is
        // there for the original design's BackupFailure alert (time() - last success > ...).
        if let t = status.lastSuccessfulTime.flatMap({ Time(rfc3339: $0) }) {
            env.registry?.set("salespot_backup_last_success_timestamp_seconds", [ns, name], t.secondsSince1970)
        }
        // The failure counter exists from the start at 0, so the first failure is an increase an alert sees.
        env.registry?.add("salespot_backup_failures_total", [ns, name], 0)
        status.lastVerifiedBackup = completed.filter { $0.status?.verified == true }
            .max { ($0.status?.completionTime ?? "", $0.metadata.name ?? "") < ($1.status?.completionTime ?? "", $1.metadata.name ?? "") }?.metadata.name
        status.conditions = conditions
        if status != policy.status {
            var updated = policy
            updated.status = status
            _ = try await Api<BackupPolicy>(env.client, namespace: ns).updateStatus(updated, fieldManager: BackupControllers.fieldManager)
        }
        return action
    }

    /// Deletes the Completed backups the rules do not keep, and Failed ones beyond the newest three. Deleting a
    /// Backup removes its objects (its finalizer); nothing else in the bucket is touched.
    func applyRetention(_ policy: BackupPolicy, _ mine: [Backup], _ tz: TimeZone) async throws {
        let ns = policy.metadata.namespace ?? "default"
        let api = Api<Backup>(env.client, namespace: ns)
        func time(_ b: Backup) -> Date {
            b.spec.scheduledTime.flatMap { Time(rfc3339: $0)?.date } ?? b.metadata.creationTimestamp?.date ?? .distantPast
        }
        let live = mine.filter { $0.metadata.deletionTimestamp == nil }
        let completed = live.filter { $0.status?.phase == "Completed" }
        let items = completed.map { RetentionRules.Item(name: $0.metadata.name ?? "", time: time($0), verified: $0.status?.verified == true,
                                                        parent: $0.status?.parent, pinned: $0.metadata.annotations?["ops.salespot.by/keep"] == "true") }
        let keep = RetentionRules.keep(items, rules: policy.spec.retention, timeZone: tz, now: env.now())
        var doomed = completed.filter { !keep.contains($0.metadata.name ?? "") }
        let failed = live.filter { $0.status?.phase == "Failed" }.sorted { time($0) > time($1) }
        doomed += failed.dropFirst(3)
        for b in doomed {
            guard let n = b.metadata.name else { continue }
            do {
                _ = try await api.delete(n)
                env.event(policy, "Normal", "RetentionDeleted", "deleted Backup \(n) (\(b.status?.phase ?? "")): not kept by the retention rules")
            } catch let e as KubeError where e.code == 404 {}
        }
    }
}

// MARK: - Backup

struct BackupReconciler {
    let env: BackupControllers.Environment

    func reconcile(_ request: ReconcileRequest<Backup>) async throws -> Action {
        guard var backup = request.object else { return .awaitChange }
        let ns = backup.metadata.namespace ?? "default"
        let api = Api<Backup>(env.client, namespace: ns)
        if backup.metadata.deletionTimestamp != nil {
            guard backup.metadata.finalizers?.contains(BackupControllers.finalizer) == true else { return .awaitChange }
            // A run still going would write after the objects are gone: its Job (and Pod) goes first.
            if let jobName = backup.status?.job, backup.status?.phase == "Running" || backup.status?.phase == "New",
               let job = try await Api<Job>(env.client, namespace: ns).getIfExists(jobName), Self.owned(job, by: backup) {
                if job.metadata.deletionTimestamp == nil {
                    _ = try await Api<Job>(env.client, namespace: ns).delete(jobName, options: DeleteOptions(propagationPolicy: .foreground))
                }
                return .requeue(after: .seconds(2))
            }
            do {
                try await deleteObjects(backup)
            } catch let e as BackupError where e.description.contains("Secret ") {
                // The credentials are gone (a namespace being deleted, a rotated Secret): the objects stay, and
                // the Backup does not hang in Terminating for them.
                env.event(backup, "Warning", "ObjectsKept", "cannot delete the backup's objects: \(e); they stay under \(backup.status?.location?.keyPrefix ?? "")")
            }
            _ = try await Finalizers.remove(BackupControllers.finalizer, from: backup, api: api)
            return .awaitChange
        }
        if backup.metadata.finalizers?.contains(BackupControllers.finalizer) != true {
            // Before anything is written to S3: deleting the Backup then removes its objects.
            backup = try await Finalizers.add(BackupControllers.finalizer, to: backup, api: api)
        }
        switch backup.status?.phase {
        case nil, "New": return try await start(backup, store: request.store)
        case "Running": return try await follow(backup)
        default: return .awaitChange
        }
    }

    /// Newest first: by completion, then (within a second) by scheduled time, creation and name.
    static func order(_ b: Backup) -> [String] {
        [b.status?.completionTime ?? "", b.spec.scheduledTime ?? "", b.metadata.creationTimestamp?.rfc3339 ?? "", b.metadata.name ?? ""]
    }

    func start(_ backup: Backup, store: Store<Backup>) async throws -> Action {
        let ns = backup.metadata.namespace ?? "default"
        let name = backup.metadata.name ?? ""
        guard let policy = try await Api<BackupPolicy>(env.client, namespace: ns).getIfExists(backup.spec.policy) else {
            return try await finish(backup, failure: "BackupPolicy \(backup.spec.policy) not found", policy: nil)
        }
        if case .failure(let e) = PolicyValidation.validate(policy) {
            return try await finish(backup, failure: "BackupPolicy \(backup.spec.policy) is invalid: \(e)", policy: policy)
        }
        let type = backup.spec.type ?? policy.spec.type
        guard PolicyValidation.types.contains(type) else {
            return try await finish(backup, failure: "spec.type must be full, database, files or incremental, not \(type)", policy: policy)
        }
        if type != "database" && policy.spec.files == nil || (type == "full" || type == "database") && policy.spec.database == nil {
            return try await finish(backup, failure: "a \(type) backup needs the policy's \(type == "database" ? "database" : "files") source", policy: policy)
        }
        // Read from the API server, not the cache: a sibling started a moment ago must be seen (never two runs of a
        // policy at once), and so must one that has just completed (an incremental's parent).
        let siblings = try await Api<Backup>(env.client, namespace: ns).list().items
            .filter { $0.spec.policy == backup.spec.policy && $0.metadata.name != name }
        if let running = siblings.first(where: { $0.status?.phase == "Running" || ($0.status?.job != nil && ($0.status?.phase ?? "New") == "New") }) {
            var status = backup.status ?? Backup.Status()
            status.phase = "New"
            var conditions = status.conditions ?? []
            Conditions.set(&conditions, type: "Ready", status: false, reason: "Waiting",
                           message: "waiting for \(running.metadata.name ?? "") of the same policy to finish", observedGeneration: backup.metadata.generation)
            status.conditions = conditions
            if status != backup.status { try await write(backup, status) }
            return .requeue(after: .seconds(10))
        }
        let d = policy.spec.destination
        let s3 = S3Plan(d)
        let prefix = BackupControllers.keyPrefix(d, ns: ns, policy: policy.metadata.name ?? "", backup: name, uid: backup.metadata.uid)
        var parent: BackupManifest.Parent?
        if type == "incremental" {
            // The newest completed files-bearing backup of the policy in the same store, not being deleted, unless
            // the chain is long enough.
            let candidates = siblings.filter { $0.status?.phase == "Completed" && ["files", "full", "incremental"].contains($0.status?.type ?? "")
                && $0.metadata.deletionTimestamp == nil && $0.status?.manifestKey != nil
                && $0.status?.location?.bucket == d.bucket && $0.status?.location?.endpoint == s3.endpoint
                && $0.status?.location?.keyPrefix.hasPrefix(BackupControllers.policyPrefix(d, ns: ns, policy: policy.metadata.name ?? "")) == true }
                .sorted { Self.order($1).lexicographicallyPrecedes(Self.order($0)) }
            if let p = candidates.first {
                var length = 0
                var cursor: Backup? = p
                while let c = cursor, c.status?.type == "incremental", c.status?.parent != nil, length < 1000 {
                    length += 1
                    cursor = siblings.first { $0.metadata.name == c.status?.parent }
                }
                if length < (policy.spec.fullEvery ?? 6) {
                    parent = .init(backup: p.metadata.name ?? "", manifestKey: p.status!.manifestKey!)
                }
            }
        }
        let compression = policy.spec.compression?.algorithm ?? "gzip"
        let plan = BackupPlan(backup: name, namespace: ns, policy: policy.metadata.name ?? "", type: type, keyPrefix: prefix, s3: s3,
                              database: type == "full" || type == "database" ? policy.spec.database : nil,
                              files: type == "database" ? nil : policy.spec.files, compression: compression == "none" ? "none" : "gzip",
                              level: min(9, max(1, policy.spec.compression?.level ?? 6)), verify: policy.spec.verify ?? true, parent: parent)
        var secrets: [JobBuilder.SecretFile] = JobBuilder.awsCredentials(d.credentialsSecret)
        if let ref = plan.database?.passwordSecretRef {
            secrets.append(.init(file: "PGPASSWORD", secret: ref.name, key: ref.key, optional: false))
        }
        // A Secret or key that is missing would keep the Pod in ContainerCreating until the Job's deadline: fail now,
        // saying which.
        if let missing = await JobBuilder.missing(secrets, ns, env) {
            return try await finish(backup, failure: missing, policy: policy)
        }
        let jobName = BackupControllers.jobName(name)
        let job = JobBuilder.job(name: jobName, namespace: ns, owner: backup, ownerKind: Backup.resource, component: "backup",
                                 arguments: ["backup", "run"], planVariable: "SALESPOT_BACKUP_PLAN",
                                 plan: try JSONValueEncoder().encode(plan).serializedString(), secrets: secrets,
                                 volume: policy.spec.files?.persistentVolumeClaim.map { ($0, policy.spec.files?.mountPath ?? "/data", true) },
                                 overrides: policy.spec.job, settings: env.jobs, files: plan.files != nil, partSizeMiB: plan.s3.partSizeMiB)
        guard try await JobBuilder.create(job, name: jobName, namespace: ns, owner: backup, env: env) else { return .requeue(after: .seconds(5)) }
        var status = backup.status ?? Backup.Status()
        status.phase = "Running"
        status.type = type
        status.startTime = Time.now().rfc3339
        status.job = jobName
        status.manifestKey = plan.manifestKey
        status.parent = parent?.backup
        status.location = StoredLocation(endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, pathStyle: s3.pathStyle,
                                         keyPrefix: prefix, credentialsSecret: d.credentialsSecret)
        status.observedGeneration = Int(backup.metadata.generation ?? 0)
        var conditions = status.conditions ?? []
        Conditions.set(&conditions, type: "Ready", status: false, reason: "Running", message: "Job \(jobName) is running the backup",
                       observedGeneration: backup.metadata.generation)
        status.conditions = conditions
        try await write(backup, status)
        env.event(backup, "Normal", "Started", "Job \(jobName) started a \(type) backup\(parent.map { " on \($0.backup)" } ?? "")")
        return .requeue(after: .seconds(60))
    }

    func follow(_ backup: Backup) async throws -> Action {
        let ns = backup.metadata.namespace ?? "default"
        let policy = try await Api<BackupPolicy>(env.client, namespace: ns).getIfExists(backup.spec.policy)
        guard let jobName = backup.status?.job,
              let job = try await Api<Job>(env.client, namespace: ns).getIfExists(jobName), Self.owned(job, by: backup) else {
            // Gone (its TTL passed while the operator was down, or someone deleted it): the manifest decides.
            if let loc = backup.status?.location, let key = backup.status?.manifestKey,
               let client = try? await env.s3(ns, S3PlanFrom(loc), secret: loc.credentialsSecret),
               let bytes = try? await client.get(key), let manifest = try? BackupManifest.decode(bytes) {
                return try await finish(backup, manifest: manifest, policy: policy)
            }
            return try await finish(backup, failure: "the backup Job was deleted before it finished", policy: policy)
        }
        let conditions = job.status?.conditions ?? []
        if conditions.contains(where: { $0.type == "Complete" && $0.status == "True" }) {
            guard let loc = backup.status?.location, let key = backup.status?.manifestKey else {
                return try await finish(backup, failure: "the backup's status lost its location", policy: policy)
            }
            do {
                let client = try await env.s3(ns, S3PlanFrom(loc), secret: loc.credentialsSecret)
                let manifest = try BackupManifest.decode(try await client.get(key))
                return try await finish(backup, manifest: manifest, policy: policy)
            } catch let e as S3Error where e.status == 404 {
                return try await finish(backup, failure: "the Job finished but wrote no manifest", policy: policy)
            }
        }
        if let failed = conditions.first(where: { $0.type == "Failed" && $0.status == "True" }) {
            let message = await terminationMessage(ns, jobName) ?? "\(failed.reason ?? "Failed"): \(failed.message ?? "")"
            return try await finish(backup, failure: message, policy: policy)
        }
        return .requeue(after: .seconds(60))
    }

    /// What the runner wrote to its termination log, from the Job's Pods (the newest that ended).
    func terminationMessage(_ ns: String, _ job: String) async -> String? {
        guard let pods = try? await Api<Pod>(env.client, namespace: ns).list(ListOptions(labelSelector: "job-name=\(job)")).items else { return nil }
        for pod in pods.reversed() {
            for c in pod.rawJSON?[path: ["status", "containerStatuses"]]?.arrayValue ?? [] {
                if let m = c[path: ["state", "terminated", "message"]]?.stringValue, !m.isEmpty {
                    return m.trimmingCharacters(in: .whitespacesAndNewlines)
                }
            }
        }
        return nil
    }

    func finish(_ backup: Backup, manifest: BackupManifest? = nil, failure: String? = nil, policy: BackupPolicy?) async throws -> Action {
        let ns = backup.metadata.namespace ?? "default"
        var status = backup.status ?? Backup.Status()
        let end = Time.now()
        status.completionTime = end.rfc3339
        var conditions = status.conditions ?? []
        let policyName = backup.spec.policy
        let started = status.startTime.flatMap { Time(rfc3339: $0) }
        if let m = manifest {
            status.phase = "Completed"
            status.artifacts = m.artifacts.map { Backup.Artifact(name: $0.name, key: $0.key, size: $0.size, sha256: $0.sha256) }
            status.size = m.artifacts.reduce(0) { $0 + $1.size }
            status.sourceSize = m.artifacts.reduce(0) { $0 + $1.sourceSize }
            status.sha256 = m.artifacts.first?.sha256
            status.verified = m.verified
            status.parent = m.parent?.backup
            status.error = nil
            Conditions.set(&conditions, type: "Ready", status: true, reason: "Completed",
                           message: "\(status.size ?? 0) bytes\(m.verified ? ", verified" : "")", observedGeneration: backup.metadata.generation)
            env.registry?.set("salespot_backup_size_bytes", [ns, policyName], Double(status.size ?? 0))
            env.registry?.set("salespot_backup_last_success_timestamp_seconds", [ns, policyName], end.secondsSince1970)
            env.registry?.add("salespot_backups_total", [ns, policyName, "completed"])
            if let started { env.registry?.observe("salespot_backup_duration_seconds", [ns, policyName, status.type ?? ""], end.secondsSince1970 - started.secondsSince1970) }
        } else {
            status.phase = "Failed"
            status.error = String((failure ?? "failed").prefix(2000))
            Conditions.set(&conditions, type: "Ready", status: false, reason: "Failed", message: status.error!, observedGeneration: backup.metadata.generation)
            env.registry?.add("salespot_backup_failures_total", [ns, policyName])
            env.registry?.add("salespot_backups_total", [ns, policyName, "failed"])
        }
        status.conditions = conditions
        try await write(backup, status)
        let ok = manifest != nil
        env.event(backup, ok ? "Normal" : "Warning", ok ? "Completed" : "Failed",
                  ok ? "\(status.size ?? 0) bytes in \(status.artifacts?.count ?? 0) object(s)\(status.verified == true ? ", verified" : "")" : status.error!)
        if let policy { await notify(backup, status, policy) }
        return .awaitChange
    }

    func notify(_ backup: Backup, _ status: Backup.Status, _ policy: BackupPolicy) async {
        guard let n = policy.spec.notifications else { return }
        let ok = status.phase == "Completed"
        guard ok ? (n.onSuccess ?? false) : (n.onFailure ?? true) else { return }
        let ns = backup.metadata.namespace ?? "default"
        let channels: [NotificationChannel]
        do {
            channels = try await n.targets.channels(namespace: ns, client: env.client)
        } catch {
            env.event(backup, "Warning", "NotificationFailed", "\(error)")
            return
        }
        var fields: [(String, String)] = [("Backup", backup.metadata.name ?? ""), ("Policy", policy.metadata.name ?? ""), ("Namespace", ns),
                                          ("Type", status.type ?? "")]
        if ok { fields.append(("Size", "\(status.size ?? 0) bytes")); fields.append(("Verified", status.verified == true ? "yes" : "no")) }
        let note = Notification(title: ok ? "Backup completed" : "Backup failed",
                                text: ok ? "\(backup.metadata.name ?? "") completed" : (status.error ?? "failed"),
                                outcome: ok ? .success : .failure, fields: fields, kind: "Backup", namespace: ns, name: backup.metadata.name ?? "",
                                event: ok ? "BackupSucceeded" : "BackupFailed")
        for failure in await env.notifier.send(note, to: channels) {
            env.event(backup, "Warning", "NotificationFailed", failure.description)
        }
    }

    func write(_ backup: Backup, _ status: Backup.Status) async throws {
        var updated = backup
        updated.status = status
        _ = try await Api<Backup>(env.client, namespace: backup.metadata.namespace ?? "default").updateStatus(updated, fieldManager: BackupControllers.fieldManager)
    }

    /// Removes what the Backup's run wrote, by exact key (never by prefix): the manifest first, so a half-deleted
    /// backup never looks complete; then the artifacts; then uploads a killed runner left open.
    /// Whether this Job is this Backup's (and not one of an earlier Backup of the same name).
    static func owned<O: KubernetesObject>(_ job: Job, by owner: O) -> Bool {
        job.metadata.ownerReferences?.contains { $0.uid == owner.metadata.uid } ?? false
    }

    func deleteObjects(_ backup: Backup) async throws {
        guard let loc = backup.status?.location else { return }
        let ns = backup.metadata.namespace ?? "default"
        let client = try await env.s3(ns, S3PlanFrom(loc), secret: loc.credentialsSecret)
        try await client.delete(loc.keyPrefix + "manifest.json")
        var keys = Set((backup.status?.artifacts ?? []).map(\.key))
        for k in ["database.dump", "files.tar.gz", "files.tar"] { keys.insert(loc.keyPrefix + k) }
        for k in keys.sorted() { try await client.delete(k) }
        for u in try await client.pendingUploads(prefix: loc.keyPrefix) where keys.contains(u.key) {
            try await client.abortMultipartUpload(u.key, uploadId: u.uploadId)
        }
        env.event(backup, "Normal", "ObjectsDeleted", "deleted the backup's objects under \(loc.keyPrefix)")
    }
}

func S3PlanFrom(_ loc: StoredLocation) -> S3Plan {
    var d = S3Destination(endpoint: loc.endpoint, region: loc.region, bucket: loc.bucket, forcePathStyle: loc.pathStyle, credentialsSecret: loc.credentialsSecret)
    d.prefix = nil
    return S3Plan(d)
}

// MARK: - Restore

struct RestoreReconciler {
    let env: BackupControllers.Environment
    let backups: Store<Backup>

    func reconcile(_ request: ReconcileRequest<Restore>) async throws -> Action {
        guard let restore = request.object, restore.metadata.deletionTimestamp == nil else { return .awaitChange }
        switch restore.status?.phase {
        case nil, "New": return try await start(restore)
        case "Running": return try await follow(restore)
        default: return .awaitChange
        }
    }

    func start(_ restore: Restore) async throws -> Action {
        let ns = restore.metadata.namespace ?? "default"
        let name = restore.metadata.name ?? ""
        guard let backup = try await Api<Backup>(env.client, namespace: ns).getIfExists(restore.spec.backup) else {
            return try await finish(restore, failure: "Backup \(restore.spec.backup) not found")
        }
        // A Restore applied together with its Backup (one manifest, one GitOps sync) waits for it rather than fail.
        if [nil, "New", "Running"].contains(backup.status?.phase) {
            var status = restore.status ?? Restore.Status()
            status.phase = "New"
            status.observedGeneration = Int(restore.metadata.generation ?? 0)
            var conditions = status.conditions ?? []
            Conditions.set(&conditions, type: "Ready", status: false, reason: "WaitingForBackup",
                           message: "waiting for Backup \(restore.spec.backup) to complete (it is \(backup.status?.phase ?? "New"))",
                           observedGeneration: restore.metadata.generation)
            status.conditions = conditions
            if status != restore.status { try await write(restore, status) }
            return .requeue(after: .seconds(3))
        }
        guard backup.status?.phase == "Completed", let loc = backup.status?.location, let manifestKey = backup.status?.manifestKey else {
            return try await finish(restore, failure: "Backup \(restore.spec.backup) is \(backup.status?.phase ?? "New"), not Completed")
        }
        if restore.spec.database == nil && restore.spec.files == nil {
            return try await finish(restore, failure: "nothing to restore into: give spec.database or spec.files")
        }
        if let q = restore.spec.check?.query, let problem = RestoreRunner.checkProblem(q) {
            return try await finish(restore, failure: problem)
        }
        if (restore.spec.recreateDatabase == true || restore.spec.check != nil) && restore.spec.database == nil {
            return try await finish(restore, failure: "recreateDatabase and check need spec.database")
        }
        if restore.spec.recreateDatabase == true, let target = restore.spec.database,
           let source = try await Api<BackupPolicy>(env.client, namespace: ns).getIfExists(backup.spec.policy)?.spec.database,
           Self.same(target, source) {
            return try await finish(restore, failure: "recreateDatabase would drop \(target.database) on \(target.host), the database BackupPolicy \(backup.spec.policy) backs up: restore into a scratch database")
        }
        var plan = RestorePlan(restore: name, namespace: ns, s3: S3PlanFrom(loc), manifestKey: manifestKey, database: restore.spec.database,
                               filesPath: restore.spec.files?.path, prune: restore.spec.files?.prune,
                               intoVolume: restore.spec.files?.persistentVolumeClaim != nil)
        plan.recreateDatabase = restore.spec.recreateDatabase
        plan.check = restore.spec.check
        var secrets: [JobBuilder.SecretFile] = JobBuilder.awsCredentials(loc.credentialsSecret)
        if let ref = restore.spec.database?.passwordSecretRef { secrets.append(.init(file: "PGPASSWORD", secret: ref.name, key: ref.key, optional: false)) }
        if let missing = await JobBuilder.missing(secrets, ns, env) {
            return try await finish(restore, failure: missing)
        }
        let jobName = BackupControllers.jobName(name, suffix: "-restore")
        let job = JobBuilder.job(name: jobName, namespace: ns, owner: restore, ownerKind: Restore.resource, component: "restore",
                                 arguments: ["restore", "run"], planVariable: "SALESPOT_RESTORE_PLAN",
                                 plan: try JSONValueEncoder().encode(plan).serializedString(), secrets: secrets,
                                 volume: restore.spec.files.flatMap { f in f.persistentVolumeClaim.map { ($0, f.path, false) } },
                                 overrides: restore.spec.job, settings: env.jobs, files: restore.spec.files != nil, partSizeMiB: nil)
        guard try await JobBuilder.create(job, name: jobName, namespace: ns, owner: restore, env: env) else { return .requeue(after: .seconds(5)) }
        var status = restore.status ?? Restore.Status()
        status.phase = "Running"
        status.startTime = Time.now().rfc3339
        status.job = jobName
        status.observedGeneration = Int(restore.metadata.generation ?? 0)
        var conditions = status.conditions ?? []
        Conditions.set(&conditions, type: "Ready", status: false, reason: "Running", message: "Job \(jobName) is restoring \(restore.spec.backup)",
                       observedGeneration: restore.metadata.generation)
        status.conditions = conditions
        try await write(restore, status)
        env.event(restore, "Normal", "Started", "Job \(jobName) is restoring Backup \(restore.spec.backup)")
        return .requeue(after: .seconds(60))
    }

    /// The same database: host (case aside), port and name.
    static func same(_ a: DatabaseSource, _ b: DatabaseSource) -> Bool {
        a.host.lowercased() == b.host.lowercased() && (a.port ?? 5432) == (b.port ?? 5432) && a.database == b.database
    }

    /// The runner's termination message: its outcome (JSON) when it completed, its error (text, or JSON with
    /// `error` and `check` when the check failed) when it failed.
    static func parse(_ message: String?) -> (error: String?, check: Restore.CheckResult?) {
        guard let message, let json = try? JSONParser.parse(Array(message.utf8)), json.objectValue != nil else { return (message, nil) }
        let check = json["check"].flatMap { try? JSONValueDecoder().decode(Restore.CheckResult.self, from: $0) }
        return (json["error"]?.stringValue, check)
    }

    func follow(_ restore: Restore) async throws -> Action {
        let ns = restore.metadata.namespace ?? "default"
        guard let jobName = restore.status?.job, let job = try await Api<Job>(env.client, namespace: ns).getIfExists(jobName) else {
            return try await finish(restore, failure: "the restore Job was deleted before it finished")
        }
        let conditions = job.status?.conditions ?? []
        if conditions.contains(where: { $0.type == "Complete" && $0.status == "True" }) {
            var chain: [String] = [restore.spec.backup]
            if let backup = try await Api<Backup>(env.client, namespace: ns).getIfExists(restore.spec.backup),
               let loc = backup.status?.location, let key = backup.status?.manifestKey,
               let client = try? await env.s3(ns, S3PlanFrom(loc), secret: loc.credentialsSecret),
               let manifests = try? await RestoreRunner.chain(client, key) {
                chain = manifests.map(\.backup)
            }
            let check = Self.parse(await BackupReconciler(env: env).terminationMessage(ns, jobName)).check
            if restore.spec.check != nil && check == nil {
                return try await finish(restore, failure: "the restore Job completed without reporting its check query's result")
            }
            return try await finish(restore, chain: chain, check: check)
        }
        if let failed = conditions.first(where: { $0.type == "Failed" && $0.status == "True" }) {
            let parsed = Self.parse(await BackupReconciler(env: env).terminationMessage(ns, jobName))
            return try await finish(restore, failure: parsed.error ?? "\(failed.reason ?? "Failed"): \(failed.message ?? "")", check: parsed.check)
        }
        return .requeue(after: .seconds(60))
    }

    func finish(_ restore: Restore, chain: [String]? = nil, failure: String? = nil, check: Restore.CheckResult? = nil) async throws -> Action {
        let ns = restore.metadata.namespace ?? "default"
        var status = restore.status ?? Restore.Status()
        status.check = check
        let end = Time.now()
        status.completionTime = end.rfc3339
        if let start = status.startTime.flatMap({ Time(rfc3339: $0) }) {
            status.durationSeconds = (end.secondsSince1970 - start.secondsSince1970 * 1).rounded(toPlaces: 1)
        }
        var conditions = status.conditions ?? []
        if let chain {
            status.phase = "Completed"
            status.chain = chain
            status.verified = true
            Conditions.set(&conditions, type: "Ready", status: true, reason: "Completed",
                           message: "restored \(chain.joined(separator: " → ")), every object checked first" + (check.map { ", the check query gave \($0.result ?? "no row")" } ?? ""), observedGeneration: restore.metadata.generation)
            env.registry?.add("salespot_restores_total", [ns, "completed"])
            if let d = status.durationSeconds { env.registry?.observe("salespot_restore_duration_seconds", [ns], d) }
        } else {
            status.phase = "Failed"
            status.error = String((failure ?? "failed").prefix(2000))
            Conditions.set(&conditions, type: "Ready", status: false, reason: "Failed", message: status.error!, observedGeneration: restore.metadata.generation)
            env.registry?.add("salespot_restores_total", [ns, "failed"])
        }
        status.conditions = conditions
        try await write(restore, status)
        env.event(restore, chain != nil ? "Normal" : "Warning", chain != nil ? "Completed" : "Failed",
                  chain != nil ? "restored \(chain!.joined(separator: " → "))" : status.error!)
        return .awaitChange
    }

    func write(_ restore: Restore, _ status: Restore.Status) async throws {
        var updated = restore
        updated.status = status
        _ = try await Api<Restore>(env.client, namespace: restore.metadata.namespace ?? "default").updateStatus(updated, fieldManager: BackupControllers.fieldManager)
    }
}

extension Double {
    func rounded(toPlaces n: Int) -> Double {
        var m = 1.0
        for _ in 0..<n { m *= 10 }
        return (self * m).rounded() / m
    }
}

// MARK: - Jobs

enum JobBuilder {
    /// A key of a Secret, projected into the Job's secrets volume as `file`.
    struct SecretFile {
        var file: String
        var secret: String
        var key: String
        var optional: Bool
    }

    /// The S3 credentials' files from the named Secret; none without one: the Job then acts with its own identity
    /// (its ServiceAccount's IAM role, through IRSA).
    static func awsCredentials(_ secret: String?) -> [SecretFile] {
        guard let secret else { return [] }
        return [.init(file: "AWS_ACCESS_KEY_ID", secret: secret, key: "AWS_ACCESS_KEY_ID", optional: false),
                .init(file: "AWS_SECRET_ACCESS_KEY", secret: secret, key: "AWS_SECRET_ACCESS_KEY", optional: false),
                .init(file: "AWS_SESSION_TOKEN", secret: secret, key: "AWS_SESSION_TOKEN", optional: true)]
    }

    static let secretsPath = "/var/run/secrets/salespot.by/runner"

    /// Creates the Job; true when it exists and is this owner's. A Job of the same name owned by another (an
    /// earlier object of the same name, still being collected) gives false: it is waited out, never adopted.
    static func create<O: KubernetesObject>(_ job: JSONValue, name: String, namespace ns: String, owner: O,
                                            env: BackupControllers.Environment) async throws -> Bool {
        do {
            _ = try await Api<DynamicObject>(env.client, resource: Job.resource, namespace: ns).create(DynamicObject.decodePreserving(job),
                                                                                                        fieldManager: BackupControllers.fieldManager)
            return true
        } catch let e as KubeError where e.code == 409 {
            guard let existing = try await Api<Job>(env.client, namespace: ns).getIfExists(name) else { return false }
            return BackupReconciler.owned(existing, by: owner)
        }
    }

    /// Why the Job could not start for want of a Secret or a key that is not optional (nil: all there). An error
    /// reading them (the API down, no permission) is not a verdict: the Job is made and kubelet decides.
    static func missing(_ secrets: [SecretFile], _ ns: String, _ env: BackupControllers.Environment) async -> String? {
        for s in secrets where !s.optional {
            do {
                guard let secret = try await Api<Secret>(env.client, namespace: ns).getIfExists(s.secret) else {
                    return "Secret \(s.secret) not found (needed for \(s.file))"
                }
                if secret.data?[s.key] == nil {
                    return "Secret \(s.secret) has no key \(s.key) (needed for \(s.file))"
                }
            } catch {
                return nil
            }
        }
        return nil
    }

    /// A Job that runs the operator's image once: no retries (a rerun would upload again; the runner retries S3
    /// itself), the plan in an environment variable, credentials in a read-only projected Secret volume (files the
    /// runner reads: in no environment variable, on no command line), the error in the termination log.
    static func job<T: KubernetesResource>(name: String, namespace: String, owner: T, ownerKind: ResourceDescriptor, component: String,
                                           arguments: [String], planVariable: String, plan: String, secrets: [SecretFile],
                                           volume: (claim: String, mountPath: String, readOnly: Bool)?, overrides: JobOverrides?,
                                           settings: JobSettings, files: Bool, partSizeMiB: Int?) -> JSONValue {
        // kubelet expands $(VAR) in values and reads $$ as $: every $ doubled keeps the plan as written.
        let env: [JSONValue] = [["name": .string(planVariable), "value": .string(plan.replacingOccurrences(of: "$", with: "$$"))],
                                ["name": .string(RunnerSecrets.directoryVariable), "value": .string(secretsPath)]]
        // One projection per Secret and optionality (a projection's `optional` covers the Secret and its keys).
        var sources: [JSONValue] = []
        var groups: [(secret: String, optional: Bool, items: [JSONValue])] = []
        for s in secrets {
            let item: JSONValue = ["key": .string(s.key), "path": .string(s.file)]
            if let i = groups.firstIndex(where: { $0.secret == s.secret && $0.optional == s.optional }) {
                groups[i].items.append(item)
            } else {
                groups.append((s.secret, s.optional, [item]))
            }
        }
        for g in groups {
            var source: JSONValue = ["name": .string(g.secret), "items": .array(g.items)]
            if g.optional { source["optional"] = true }
            sources.append(["secret": source])
        }
        let labels: JSONValue = ["app.kubernetes.io/managed-by": "salespot-operator", "app.kubernetes.io/name": "salespot-operator",
                                 "app.kubernetes.io/component": .string(component)]
        var container: JSONValue = [
            "name": .string(component), "image": .string(overrides?.image ?? settings.image),
            "command": .array(([settings.executable] + arguments).map { .string($0) }), "env": .array(env),
            "terminationMessagePolicy": "FallbackToLogsOnError",
            // About five parts in memory (see ObjectWriter), up to the second doubling of the part size.
            "resources": overrides?.resources ?? ["requests": ["cpu": "100m", "memory": "64Mi"],
                                                  "limits": ["memory": .string("\(max(256, 20 * (partSizeMiB ?? 5) + 96))Mi")]],
            // Every capability dropped, but for files: reading files of any owner and mode (DAC_READ_SEARCH,
            // DAC_OVERRIDE) and restoring their owners and modes (CHOWN, FOWNER, FSETID), as tar does as root.
            "securityContext": ["allowPrivilegeEscalation": false,
                                "capabilities": files ? ["drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID"]]
                                                      : ["drop": ["ALL"]]],
        ]
        var podSpec: JSONValue = ["restartPolicy": "Never", "containers": []]
        var mounts: [JSONValue] = [], volumes: [JSONValue] = []
        // No Secret at all (a files policy whose Jobs act with their IAM role): no secrets volume.
        if !sources.isEmpty {
            mounts.append(["name": "secrets", "mountPath": .string(secretsPath), "readOnly": true])
            volumes.append(["name": "secrets", "projected": ["sources": .array(sources), "defaultMode": 0o444]])
        }
        if let v = volume {
            mounts.append(["name": "data", "mountPath": .string(v.mountPath), "readOnly": .bool(v.readOnly)])
            volumes.append(["name": "data", "persistentVolumeClaim": ["claimName": .string(v.claim), "readOnly": .bool(v.readOnly)]])
        }
        container["volumeMounts"] = .array(mounts)
        podSpec["volumes"] = .array(volumes)
        podSpec["containers"] = [container]
        if let sa = overrides?.serviceAccountName ?? settings.serviceAccountName { podSpec["serviceAccountName"] = .string(sa) }
        if let ns = overrides?.nodeSelector { podSpec["nodeSelector"] = .object(JSONObject(ns.mapValues { .string($0) })) }
        if let t = overrides?.tolerations { podSpec["tolerations"] = .array(t) }
        return [
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": ["name": .string(name), "namespace": .string(namespace), "labels": labels,
                         "ownerReferences": [["apiVersion": .string(ownerKind.apiVersion), "kind": .string(ownerKind.kind),
                                              "name": .string(owner.metadata.name ?? ""), "uid": .string(owner.metadata.uid ?? ""),
                                              "controller": true, "blockOwnerDeletion": true]]],
            "spec": ["backoffLimit": 0, "activeDeadlineSeconds": .int(Int64(overrides?.activeDeadlineSeconds ?? 21_600)),
                     "ttlSecondsAfterFinished": 86_400,
                     "template": ["metadata": ["labels": labels], "spec": podSpec]],
        ]
    }
}
