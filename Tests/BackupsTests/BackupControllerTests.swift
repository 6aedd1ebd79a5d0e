@testable import Backups
import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import ObjectStore
import TestSupport
import Testing

/// The controllers against LocalCluster, whose Jobs run the real runner against PostgreSQL and SeaweedFS.
@Suite(.serialized) struct BackupControllerTests {
    @Test func aScheduledDatabaseBackupRestoresRowByRowAndKeepsSecretsOut() async throws {
        let due = BackupHarness.nextHour()
        let h = try await BackupHarness.start(now: due)
        defer { Task { await h.stop() } }
        let db = try await Services.database()
        try await Services.psql(db, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 5000) i")
        _ = try await h.policies.create(try h.policy("hourly", type: "database", database: db))
        let name = BackupControllers.scheduledName("hourly", due.addingTimeInterval(-30))
        let backup = try #require(try await h.finished(name), "no Backup \(name) finished")
        #expect(backup.status?.phase == "Completed", "\(backup.status?.error ?? "")")
        #expect(backup.status?.verified == true)
        #expect((backup.status?.size ?? 0) > 0)
        #expect(backup.status?.sha256?.count == 64)
        #expect(backup.status?.manifestKey == "backups/default/hourly/\(name)/manifest.json")
        #expect(try await h.s3.head(backup.status!.manifestKey!) != nil)
        let policy = try #require(try await h.within(.seconds(10)) {
            let p = try await h.policies.get("hourly")
            return p.status?.lastSuccessfulTime != nil ? p : nil
        })
        #expect(policy.status?.lastVerifiedBackup == name)
        #expect(policy.status?.nextScheduleTime != nil)
        #expect(h.registry.value("salespot_backup_last_success_timestamp_seconds", ["default", "hourly"]) != nil)

        // Restore into an empty database.
        let target = try await Services.database()
        var restore = Restore(metadata: ObjectMeta(name: "back", namespace: "default"), spec: Restore.Spec(backup: name))
        var into = try Services.source(target)
        into.passwordSecretRef = SecretKeyRef(name: BackupHarness.pgSecret, key: "password")
        restore.spec.database = into
        _ = try await h.restores.create(restore)
        let done = try #require(try await h.within(.seconds(90)) {
            let r = try await h.restores.get("back")
            return r.status?.phase == "Completed" || r.status?.phase == "Failed" ? r : nil
        })
        #expect(done.status?.phase == "Completed", "\(done.status?.error ?? "")")
        #expect(done.status?.chain == [name])
        let a = try await Services.psql(db, "COPY (SELECT * FROM t ORDER BY id) TO STDOUT")
        let b = try await Services.psql(target, "COPY (SELECT * FROM t ORDER BY id) TO STDOUT")
        #expect(a == b && a.split(separator: "\n").count == 5000)

        // No secret in the Jobs' command lines or literal environment, in statuses or in Events.
        let secrets = [Services.credentials.secretAccessKey, try Services.pg().password]
        let jobs = try await Api<DynamicObject>(h.client, resource: Job.resource, namespace: "default").list().items
        #expect(jobs.count == 2)
        var seen = ""
        for j in jobs { seen += String(decoding: try JSONValueEncoder().encode(j).serialized(), as: UTF8.self) }
        for o in try await h.backups.list().items { seen += String(decoding: try JSONValueEncoder().encode(o).serialized(), as: UTF8.self) }
        for o in try await h.restores.list().items { seen += String(decoding: try JSONValueEncoder().encode(o).serialized(), as: UTF8.self) }
        for o in try await Api<DynamicObject>(h.client, resource: ResourceDescriptor(group: "", version: "v1", resource: "events", kind: "Event", namespaced: true),
                                              namespace: "default").list().items {
            seen += String(decoding: try JSONValueEncoder().encode(o).serialized(), as: UTF8.self)
        }
        for s in secrets { #expect(!seen.contains(s), "a secret reached a Job, a status or an Event") }
        #expect(seen.contains("secretKeyRef"))
    }

    @Test func aRestartAtTheScheduledTimeMakesNoDuplicateAndASuspendedPolicyNothing() async throws {
        let due = BackupHarness.nextHour(plus: 5)
        let h = try await BackupHarness.start(now: due)
        defer { Task { await h.stop() } }
        let dir = try temporaryDirectory()
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/f"))
        _ = try await h.policies.create(try h.policy("files", type: "files", files: [dir]))
        _ = try await h.policies.create(try h.policy("off", type: "files", files: [dir]) { $0.suspend = true })
        #expect(try await h.within(.seconds(20)) { try await h.backups.list().items.count == 1 ? true : nil } == true)
        // Restart the controllers at the same scheduled time, twice.
        for _ in 0..<2 {
            await h.stopControllers()
            h.startControllers()
            try await h.advance(to: due.addingTimeInterval(20))
            try await Task.sleep(for: .seconds(2))
        }
        let items = try await h.backups.list().items
        #expect(items.count == 1, "\(items.map { $0.metadata.name ?? "" })")
        #expect(items.first?.spec.policy == "files")
        let off = try await h.policies.get("off")
        #expect(off.status?.conditions?.first { $0.type == "Ready" }?.reason == "Suspended")
        #expect(off.status?.nextScheduleTime == nil)
    }

    @Test func retentionKeepsWhatThePolicySaysAndRemovesTheObjects() async throws {
        let start = BackupHarness.nextHour()
        let h = try await BackupHarness.start(now: start)
        defer { Task { await h.stop() } }
        let dir = try temporaryDirectory()
        try Data("v0".utf8).write(to: URL(fileURLWithPath: dir + "/f"))
        _ = try await h.policies.create(try h.policy("keep2", type: "files", files: [dir]) { $0.retention = Retention(keepLast: 2) })
        var names: [String] = []
        for i in 0..<4 {
            let due = start.addingTimeInterval(Double(i) * 3600)
            if i > 0 { try await h.advance(to: due) }
            let name = BackupControllers.scheduledName("keep2", due.addingTimeInterval(-30))
            names.append(name)
            let b = try #require(try await h.finished(name), "\(name) did not finish")
            #expect(b.status?.phase == "Completed", "\(b.status?.error ?? "")")
            try Data("v\(i + 1)".utf8).write(to: URL(fileURLWithPath: dir + "/f"))
        }
        let kept = try #require(try await h.within(.seconds(20)) {
            let items = try await h.backups.list().items.map { $0.metadata.name ?? "" }.sorted()
            return items.count == 2 ? items : nil
        })
        #expect(kept == Array(names.suffix(2)))
        // The deleted backups' objects are gone; the kept ones' are there.
        let keys = try await h.s3.list(prefix: "backups/default/keep2/").map(\.key)
        for n in names.prefix(2) { #expect(!keys.contains { $0.contains("/\(n)/") }, "objects of \(n) are left") }
        for n in names.suffix(2) { #expect(keys.contains("backups/default/keep2/\(n)/manifest.json")) }
    }

    @Test func aDatabaseThatIsDownFailsWithPgDumpsMessageAndNotifies() async throws {
        let (receiver, received) = try await WebhookReceiver.start()
        let due = BackupHarness.nextHour()
        let h = try await BackupHarness.start(now: due)
        defer { Task { await h.stop(); receiver.task.cancel() } }
        _ = try await Api<Secret>(h.client, namespace: "default").create(Secret(metadata: ObjectMeta(name: "hook"), data: [
            "url": Data("http://127.0.0.1:\(receiver.port)/hook".utf8).base64EncodedString()]))
        var p = try h.policy("down", type: "database", database: "nothing")
        p.spec.database?.port = 1
        p.spec.notifications = Notifications(onFailure: true, onSuccess: false, slack: nil, telegram: nil,
                                             webhook: .init(urlSecretRef: SecretKeyRef(name: "hook", key: "url"), authorizationSecretRef: nil))
        _ = try await h.policies.create(p)
        let name = BackupControllers.scheduledName("down", due.addingTimeInterval(-30))
        let b = try #require(try await h.finished(name))
        #expect(b.status?.phase == "Failed")
        #expect(b.status?.error?.contains("pg_dump") == true, "\(b.status?.error ?? "")")
        #expect(b.status?.error?.contains("connect") == true, "\(b.status?.error ?? "")")
        let hook = try #require(try await h.within(.seconds(10)) { received.value.first })
        #expect(hook.body["event"]?.stringValue == "BackupFailed")
        #expect(hook.body[path: ["object", "name"]]?.stringValue == name)
        #expect(h.registry.value("salespot_backup_failures_total", ["default", "down"]) == 1)
        #expect(try await h.s3.list(prefix: "").isEmpty, "a failed backup left objects")
    }

    @Test func anInvalidPolicyIsReportedAndBlocksNothingElse() async throws {
        let due = BackupHarness.nextHour()
        let h = try await BackupHarness.start(now: due)
        defer { Task { await h.stop() } }
        let dir = try temporaryDirectory()
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/f"))
        // A schedule the schema cannot judge: 30 February.
        _ = try await h.policies.create(try h.policy("never", type: "files", schedule: "0 0 30 2 *", files: [dir]))
        _ = try await h.policies.create(try h.policy("fine", type: "files", files: [dir]))
        let bad = try #require(try await h.within(.seconds(10)) {
            let p = try await h.policies.get("never")
            return p.status?.conditions?.first { $0.type == "Ready" }?.status == "False" ? p : nil
        })
        #expect(bad.status?.conditions?.first { $0.type == "Ready" }?.reason == "InvalidSpec")
        #expect(bad.status?.conditions?.first { $0.type == "Ready" }?.message?.contains("no day") == true)
        let ok = try await h.finished(BackupControllers.scheduledName("fine", due.addingTimeInterval(-30)))
        #expect(ok?.status?.phase == "Completed")
    }
}

/// Retention rules on their own, including the protections.
@Suite struct RetentionTests {
    func item(_ name: String, hoursAgo: Double, verified: Bool = true, parent: String? = nil, now: Date) -> RetentionRules.Item {
        .init(name: name, time: now.addingTimeInterval(-hoursAgo * 3600), verified: verified, parent: parent, pinned: false)
    }

    @Test func rulesKeepTheNewestPerBucketAndNeverTheLastVerifiedOrANeededBase() {
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        let utc = TimeZone(identifier: "UTC")!
        let items = (0..<48).map { item("b\($0)", hoursAgo: Double($0), now: now) }
        #expect(RetentionRules.keep(items, rules: Retention(keepLast: 3), timeZone: utc, now: now) == ["b0", "b1", "b2"])
        let daily = RetentionRules.keep(items, rules: Retention(keepDaily: 2), timeZone: utc, now: now)
        #expect(daily.count == 2 && daily.contains("b0"))
        // The newest verified backup survives every rule.
        var unverified = items
        for i in 0..<5 { unverified[i].verified = false }
        #expect(RetentionRules.keep(unverified, rules: Retention(keepLast: 2), timeZone: utc, now: now) == ["b0", "b1", "b5"])
        // maxAge is a ceiling; without other rules everything younger stays.
        #expect(RetentionRules.keep(items, rules: Retention(maxAge: "5h"), timeZone: utc, now: now) == Set((0...5).map { "b\($0)" }))
        // A kept incremental keeps its chain.
        let chain = [item("full", hoursAgo: 30, now: now), item("i1", hoursAgo: 20, parent: "full", now: now), item("i2", hoursAgo: 10, parent: "i1", now: now)]
        #expect(RetentionRules.keep(chain, rules: Retention(keepLast: 1), timeZone: utc, now: now) == ["full", "i1", "i2"])
    }
}
