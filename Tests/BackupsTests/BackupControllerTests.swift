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
        // Keys carry the Backup's uid: another cluster's Backup of the same name never shares them.
        #expect(backup.status?.manifestKey == "backups/default/hourly/\(name)-\(backup.metadata.uid!.prefix(8))/manifest.json")
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
        // The credentials reach the runner as files of a read-only projected Secret volume, not as environment
        // variables.
        for j in jobs {
            let pod = try #require(try JSONValueEncoder().encode(j)[path: ["spec", "template", "spec"]])
            let sources = pod["volumes"]?.arrayValue?.first { $0["name"]?.stringValue == "secrets" }?[path: ["projected", "sources"]]?.arrayValue ?? []
            let names = Set(sources.compactMap { $0[path: ["secret", "name"]]?.stringValue })
            #expect(names == ["s3-credentials", "pg-password"], "\(names)")
            let container = pod["containers"]?[0]
            #expect(container?["env"]?.arrayValue?.allSatisfy { $0["valueFrom"] == nil } == true)
            #expect(container?["volumeMounts"]?.arrayValue?.contains { $0["name"]?.stringValue == "secrets" && $0["readOnly"]?.boolValue == true } == true)
        }

        // recreateDatabase never drops the database the policy backs up.
        var unsafe = Restore(metadata: ObjectMeta(name: "over-source", namespace: "default"), spec: Restore.Spec(backup: name))
        var source = try Services.source(db)
        source.passwordSecretRef = SecretKeyRef(name: BackupHarness.pgSecret, key: "password")
        unsafe.spec.database = source
        unsafe.spec.recreateDatabase = true
        _ = try await h.restores.create(unsafe)
        let refused = try #require(try await h.within(.seconds(30)) {
            let r = try await h.restores.get("over-source")
            return r.status?.phase == "Failed" ? r : nil
        })
        #expect(refused.status?.error?.contains("the database BackupPolicy hourly backs up") == true, "\(refused.status?.error ?? "")")
        #expect(try await Services.psql(db, "SELECT count(*) FROM t").trimmingCharacters(in: .whitespacesAndNewlines) == "5000")
        // Nor a database with tables that a restore did not create (the target above was made by the test).
        var unmarked = Restore(metadata: ObjectMeta(name: "over-unmarked", namespace: "default"), spec: Restore.Spec(backup: name))
        unmarked.spec.database = into
        unmarked.spec.recreateDatabase = true
        _ = try await h.restores.create(unmarked)
        let kept = try #require(try await h.within(.seconds(90)) {
            let r = try await h.restores.get("over-unmarked")
            return r.status?.phase == "Completed" || r.status?.phase == "Failed" ? r : nil
        })
        #expect(kept.status?.phase == "Failed" && kept.status?.error?.contains("was not created by a restore") == true, "\(kept.status?.error ?? "")")
        // A scratch database that does not exist yet is created (and marked), then restored into again and again:
        // dropped and created each time (a plain restore over the same tables would fail), then checked with a
        // query whose answer is kept.
        var scratch = try Services.source("s_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16))
        scratch.passwordSecretRef = SecretKeyRef(name: BackupHarness.pgSecret, key: "password")
        for round in ["first", "second"] {
            var again = Restore(metadata: ObjectMeta(name: "scratch-\(round)", namespace: "default"), spec: Restore.Spec(backup: name))
            again.spec.database = scratch
            again.spec.recreateDatabase = true
            again.spec.check = Restore.Check(query: "SELECT count(*), max(id) FROM t")
            _ = try await h.restores.create(again)
            let checked = try #require(try await h.within(.seconds(90)) {
                let r = try await h.restores.get("scratch-\(round)")
                return r.status?.phase == "Completed" || r.status?.phase == "Failed" ? r : nil
            })
            #expect(checked.status?.phase == "Completed", "\(round): \(checked.status?.error ?? "")")
            #expect(checked.status?.check?.passed == true && checked.status?.check?.result == "5000", "\(String(describing: checked.status?.check))")
            if round == "first" { try await Services.psql(scratch.database, "DELETE FROM t WHERE id > 10") }
        }
        #expect(try await Services.psql(scratch.database, "SELECT count(*) FROM t").trimmingCharacters(in: .whitespacesAndNewlines) == "5000")
        // A check that is a psql meta-command is refused before anything runs (CEL says so at a real API server).
        var meta = Restore(metadata: ObjectMeta(name: "meta", namespace: "default"), spec: Restore.Spec(backup: name))
        meta.spec.database = scratch
        meta.spec.check = Restore.Check(query: "\\! cat /etc/passwd")
        _ = try await h.restores.create(meta)
        let refusedMeta = try #require(try await h.within(.seconds(30)) {
            let r = try await h.restores.get("meta")
            return r.status?.phase == "Failed" ? r : nil
        })
        #expect(refusedMeta.status?.error?.contains("psql meta-command") == true)
        #expect(try await Api<Job>(h.client, namespace: "default").getIfExists(BackupControllers.jobName("meta", suffix: "-restore")) == nil)
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
        for n in names.prefix(2) { #expect(!keys.contains { $0.contains("/\(n)-") }, "objects of \(n) are left") }
        for n in names.suffix(2) { #expect(keys.contains { $0.hasPrefix("backups/default/keep2/\(n)-") && $0.hasSuffix("/manifest.json") }) }
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

/// More of the controllers: incremental chains, S3 failing under a running Job, the CLI, and the runner's own
/// output as a process.
@Suite(.serialized) struct BackupControllerMoreTests {
    @Test func incrementalsChainToTheirBaseAndRestoreTheSameTree() async throws {
        let start = BackupHarness.nextHour()
        let h = try await BackupHarness.start(now: start)
        defer { Task { await h.stop() } }
        let dir = try temporaryDirectory()
        let src = dir + "/site"
        try FileManager.default.createDirectory(atPath: src + "/img", withIntermediateDirectories: true)
        try Data("a".utf8).write(to: URL(fileURLWithPath: src + "/a.txt"))
        try Data(repeating: 7, count: 300_000).write(to: URL(fileURLWithPath: src + "/img/big.bin"))
        _ = try await h.policies.create(try h.policy("inc", type: "incremental", files: [src]) { $0.fullEvery = 5 })
        var names: [String] = []
        for i in 0..<3 {
            let due = start.addingTimeInterval(Double(i) * 3600)
            if i > 0 { try await h.advance(to: due) }
            let name = BackupControllers.scheduledName("inc", due.addingTimeInterval(-30))
            names.append(name)
            let b = try #require(try await h.finished(name))
            #expect(b.status?.phase == "Completed", "\(b.status?.error ?? "")")
            #expect(b.status?.parent == (i == 0 ? nil : names[i - 1]), "\(name) builds on \(b.status?.parent ?? "nothing")")
            // Change the tree for the next run: a new file, a changed one, a removed one, a mode.
            try Data("n\(i)".utf8).write(to: URL(fileURLWithPath: src + "/new\(i).txt"))
            try Data("a\(i)".utf8).write(to: URL(fileURLWithPath: src + "/a.txt"))
            if i == 1 { try FileManager.default.removeItem(atPath: src + "/new0.txt"); chmod(src + "/img/big.bin", 0o600) }
        }
        // The tree as the last backup saw it is the tree before the last loop's changes; restore and compare with
        // that state: undo the last changes first.
        try FileManager.default.removeItem(atPath: src + "/new2.txt")
        try Data("a1".utf8).write(to: URL(fileURLWithPath: src + "/a.txt"))
        let target = dir + "/restored"
        var r = Restore(metadata: ObjectMeta(name: "inc-back", namespace: "default"), spec: Restore.Spec(backup: names[2]))
        r.spec.files = Restore.FilesTarget(path: target)
        _ = try await h.restores.create(r)
        let done = try #require(try await h.within(.seconds(90)) {
            let x = try await h.restores.get("inc-back")
            return x.status?.phase == "Completed" || x.status?.phase == "Failed" ? x : nil
        })
        #expect(done.status?.phase == "Completed", "\(done.status?.error ?? "")")
        #expect(done.status?.chain == names)
        #expect(try RunnerTests().tree(src, exclude: "\u{0}") == RunnerTests().tree(target + src, exclude: "\u{0}"))
    }

    @Test func s3FailingUnderARunningJobFailsTheBackupNotifiesAndLeavesNoObject() async throws {
        let (receiver, received) = try await WebhookReceiver.start()
        let proxy = try await FaultProxy.start(upstream: try Services.s3Endpoint())
        let due = BackupHarness.nextHour()
        let h = try await BackupHarness.start(now: due)
        defer { Task { await h.stop(); receiver.task.cancel(); proxy.task.cancel() } }
        _ = try await Api<Secret>(h.client, namespace: "default").create(Secret(metadata: ObjectMeta(name: "hook"), data: [
            "url": Data("http://127.0.0.1:\(receiver.port)/hook".utf8).base64EncodedString()]))
        let dir = try temporaryDirectory()
        var state: UInt64 = 5
        try Data((0..<(11 << 20)).map { _ -> UInt8 in state = state &* 6364136223846793005 &+ 1; return UInt8(state >> 56) })
            .write(to: URL(fileURLWithPath: dir + "/blob"))
        var p = try h.policy("flaky", type: "files", files: [dir])
        p.spec.destination.endpoint = "http://127.0.0.1:\(proxy.port)"
        p.spec.notifications = Notifications(onFailure: true, onSuccess: false, slack: nil, telegram: nil,
                                             webhook: .init(urlSecretRef: SecretKeyRef(name: "hook", key: "url"), authorizationSecretRef: nil))
        _ = try await h.policies.create(p)
        let name = BackupControllers.scheduledName("flaky", due.addingTimeInterval(-30))
        let b = try #require(try await h.finished(name, timeout: .seconds(120)))
        #expect(b.status?.phase == "Failed")
        #expect(b.status?.error?.contains("UploadPart") == true, "\(b.status?.error ?? "")")
        #expect(proxy.refused.value > 1, "the runner did not retry the failing part")
        let hook = try #require(try await h.within(.seconds(10)) { received.value.first })
        #expect(hook.body["event"]?.stringValue == "BackupFailed")
        #expect(try await h.s3.list(prefix: "").isEmpty, "a failed upload left an object")
        #expect(try await h.s3.pendingUploads(prefix: "").isEmpty, "a failed upload was not aborted")
    }

    @Test func aRestoreAppliedWithItsBackupWaitsForItAndThenRestores() async throws {
        let h = try await BackupHarness.start(now: BackupHarness.nextHour())
        defer { Task { await h.stop() } }
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/src", withIntermediateDirectories: true)
        try Data("together".utf8).write(to: URL(fileURLWithPath: dir + "/src/f.txt"))
        _ = try await h.policies.create(try h.policy("together", type: "files", schedule: "0 0 1 1 *", files: [dir + "/src"]))
        // One manifest, one apply (GitOps): the Backup and a Restore of it, the Restore created before the Backup ran.
        _ = try await h.backups.create(Backup(metadata: ObjectMeta(name: "now", namespace: "default"), spec: Backup.Spec(policy: "together")))
        var r = Restore(metadata: ObjectMeta(name: "now-check", namespace: "default"), spec: Restore.Spec(backup: "now"))
        r.spec.files = Restore.FilesTarget(path: dir + "/restored")
        _ = try await h.restores.create(r)
        let waiting = try #require(try await h.within(.seconds(10)) {
            try await h.restores.get("now-check").status?.conditions?.first { $0.type == "Ready" && $0.reason == "WaitingForBackup" }
        })
        #expect(waiting.status == "False" && waiting.message?.contains("waiting for Backup now") == true, "\(waiting.message ?? "")")
        let done = try #require(try await h.within(.seconds(90)) {
            let x = try await h.restores.get("now-check")
            return x.status?.phase == "Completed" || x.status?.phase == "Failed" ? x : nil
        })
        #expect(done.status?.phase == "Completed", "\(done.status?.error ?? "")")
        #expect(try String(contentsOfFile: dir + "/restored" + dir + "/src/f.txt", encoding: .utf8) == "together")
        // A Restore of a Backup that failed still fails at once, saying so.
        _ = try await h.backups.create(Backup(metadata: ObjectMeta(name: "nopolicy", namespace: "default"), spec: Backup.Spec(policy: "no-such-policy")))
        _ = try await h.within(.seconds(20)) { try await h.backups.get("nopolicy").status?.phase == "Failed" ? true : nil }
        _ = try await h.restores.create(Restore(metadata: ObjectMeta(name: "of-failed", namespace: "default"), spec: Restore.Spec(backup: "nopolicy")))
        let failed = try #require(try await h.within(.seconds(20)) { try await h.restores.get("of-failed").status?.phase == "Failed" ? try await h.restores.get("of-failed") : nil })
        #expect(failed.status?.error?.contains("not Completed") == true, "\(failed.status?.error ?? "")")
    }

    @Test func theCLIStartsListsAndVerifiesABackup() async throws {
        let due = BackupHarness.nextHour()
        let h = try await BackupHarness.start(now: due)
        defer { Task { await h.stop() } }
        let dir = try temporaryDirectory()
        try Data("cli".utf8).write(to: URL(fileURLWithPath: dir + "/f"))
        _ = try await h.policies.create(try h.policy("cli", type: "files", schedule: "0 0 1 1 *", files: [dir]))
        let kubeconfig = h.cluster.kubeconfigPath
        let env = ProcessInfo.processInfo.environment.merging(["KUBECONFIG": kubeconfig]) { _, n in n }
        let now = try await runAsync(operatorBinary, ["backup", "now", "cli", "--name", "by-hand", "--wait"], env: env)
        #expect(now.status == 0, "\(now.out) \(now.err)")
        #expect(now.out.contains("Completed"), "\(now.out)")
        let list = try await runAsync(operatorBinary, ["backup", "list"], env: env)
        #expect(list.out.contains("by-hand") && list.out.contains("Completed"), "\(list.out)")
        let verify = try await runAsync(operatorBinary, ["backup", "verify", "by-hand"], env: env)
        #expect(verify.status == 0, "\(verify.out) \(verify.err)")
        #expect(verify.out.contains("ok  backups/default/cli/by-hand-") && verify.out.contains("/files.tar.gz"), "\(verify.out)")
        let bad = try await runAsync(operatorBinary, ["backup", "now", "no-such-policy"], env: env)
        #expect(bad.status != 0 && bad.err.contains("no BackupPolicy no-such-policy"), "\(bad.err)")
    }

    @Test func aMissingSecretOrKeyFailsTheRunAtOnceSayingWhichAndMakesNoJob() async throws {
        let due = BackupHarness.nextHour()
        let h = try await BackupHarness.start(now: due)
        defer { Task { await h.stop() } }
        let db = try await Services.database()
        _ = try await h.policies.create(try h.policy("nosecret", type: "database", database: db) {
            $0.database?.passwordSecretRef = SecretKeyRef(name: "no-such-secret", key: "password")
        })
        _ = try await h.policies.create(try h.policy("nokey", type: "database", database: db) {
            $0.database?.passwordSecretRef = SecretKeyRef(name: BackupHarness.pgSecret, key: "no-such-key")
        })
        for (policy, words) in [("nosecret", "Secret no-such-secret not found"), ("nokey", "has no key no-such-key")] {
            let b = try #require(try await h.finished(BackupControllers.scheduledName(policy, due.addingTimeInterval(-30))))
            #expect(b.status?.phase == "Failed")
            #expect(b.status?.error?.contains(words) == true, "\(b.status?.error ?? "")")
            #expect(try await Api<DynamicObject>(h.client, resource: Job.resource, namespace: "default").getIfExists(b.status?.job ?? b.metadata.name ?? "") == nil)
        }
    }

    /// No credentials Secret: the Job mounts no AWS keys and runs as the policy's service account, whose IAM role
    /// (IRSA) it is to act with; where it has none (here), it fails saying what it needs.
    @Test func withoutACredentialsSecretTheJobActsWithItsServiceAccountsRole() async throws {
        let due = BackupHarness.nextHour()
        let h = try await BackupHarness.start(now: due)
        defer { Task { await h.stop() } }
        let dir = try temporaryDirectory()
        try Data("keep".utf8).write(to: URL(fileURLWithPath: dir + "/a.txt"))
        _ = try await h.policies.create(try h.policy("irsa", type: "files", files: [dir]) {
            $0.destination.credentialsSecret = nil
            $0.job = JobOverrides(serviceAccountName: "salespot-backup-runner")
        })
        let b = try #require(try await h.finished(BackupControllers.scheduledName("irsa", due.addingTimeInterval(-30))))
        #expect(b.status?.location?.credentialsSecret == nil)
        let job = try JSONValueEncoder().encode(try await Api<DynamicObject>(h.client, resource: Job.resource, namespace: "default").get(b.status!.job!))
        let pod = job[path: ["spec", "template", "spec"]]
        #expect(pod?["serviceAccountName"]?.stringValue == "salespot-backup-runner")
        #expect(pod?["volumes"]?.arrayValue?.contains { $0["name"]?.stringValue == "secrets" } == false, "\(pod?["volumes"] ?? .null)")
        // The test process has no AWS identity of its own: the runner's failure names what would give it one.
        #expect(b.status?.phase == "Failed")
        #expect(b.status?.error?.contains("AWS_ROLE_ARN") == true && b.status?.error?.contains("eks.amazonaws.com/role-arn") == true,
                "\(b.status?.error ?? "")")
    }

    @Test func jobsGetTheCapabilitiesAndMemoryTheirWorkNeedsAndThePlanSurvivesKubeletsExpansion() async throws {
        let due = BackupHarness.nextHour()
        let h = try await BackupHarness.start(now: due)
        defer { Task { await h.stop() } }
        let dir = try temporaryDirectory()
        try Data("keep".utf8).write(to: URL(fileURLWithPath: dir + "/a.txt"))
        try Data("skip".utf8).write(to: URL(fileURLWithPath: dir + "/b.$$$"))
        _ = try await h.policies.create(try h.policy("dollar", type: "files", files: [dir]) {
            $0.files?.exclude = ["*.$$$"]
            $0.destination.partSizeMiB = 64
        })
        let db = try await Services.database()
        _ = try await h.policies.create(try h.policy("db", type: "database", database: db))
        let files = try #require(try await h.finished(BackupControllers.scheduledName("dollar", due.addingTimeInterval(-30))))
        #expect(files.status?.phase == "Completed", "\(files.status?.error ?? "")")
        // The exclude glob reached the runner as written ($$ would have become $ without the escaping).
        let manifest = try BackupManifest.decode(try await h.s3.get(files.status!.manifestKey!))
        #expect(manifest.exclude == ["*.$$$"])
        #expect(manifest.entries?.contains { $0.path.hasSuffix("b.$$$") } == false)
        let dbBackup = try #require(try await h.finished(BackupControllers.scheduledName("db", due.addingTimeInterval(-30))))
        let jobs = Api<DynamicObject>(h.client, resource: Job.resource, namespace: "default")
        let filesJob = try JSONValueEncoder().encode(try await jobs.get(files.status!.job!))
        let dbJob = try JSONValueEncoder().encode(try await jobs.get(dbBackup.status!.job!))
        let c = filesJob[path: ["spec", "template", "spec", "containers"]]?[0]
        #expect(c?[path: ["securityContext", "capabilities", "add"]]?.arrayValue?.compactMap(\.stringValue).contains("DAC_READ_SEARCH") == true)
        #expect(c?[path: ["resources", "limits", "memory"]]?.stringValue == "1376Mi")
        let d = dbJob[path: ["spec", "template", "spec", "containers"]]?[0]
        #expect(d?[path: ["securityContext", "capabilities", "add"]] == nil)
        #expect(d?[path: ["securityContext", "capabilities", "drop"]]?.arrayValue?.first?.stringValue == "ALL")
        #expect(d?[path: ["resources", "limits", "memory"]]?.stringValue == "256Mi")
    }

    @Test func theRunnersOutputNeverCarriesASecret() async throws {
        let s3 = try await Services.bucket()
        let pg = try Services.pg()
        let dir = try temporaryDirectory()
        let plan = BackupPlan(backup: "p", namespace: "default", policy: "p", type: "database", keyPrefix: "p/", s3: Services.plan(s3),
                              database: try Services.source("postgres"))
        try JSONValueEncoder().encode(plan).serialized().withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dir + "/plan.json")) }
        let base = ProcessInfo.processInfo.environment.merging([
            "AWS_ACCESS_KEY_ID": Services.credentials.accessKeyId, "AWS_SECRET_ACCESS_KEY": Services.credentials.secretAccessKey,
            "SALESPOT_TERMINATION_LOG": dir + "/termination"]) { _, n in n }
        let ok = try await runAsync(operatorBinary, ["backup", "run", "--plan", dir + "/plan.json"], env: base.merging(["PGPASSWORD": pg.password]) { _, n in n })
        #expect(ok.status == 0, "\(ok.err)")
        let wrong = "not-the-password-\(UUID().uuidString)"
        let failed = try await runAsync(operatorBinary, ["backup", "run", "--plan", dir + "/plan.json"], env: base.merging(["PGPASSWORD": wrong]) { _, n in n })
        #expect(failed.status != 0)
        let message = (try? String(contentsOfFile: dir + "/termination", encoding: .utf8)) ?? ""
        #expect(message.contains("password authentication failed"), "\(message)")
        for output in [ok.out, ok.err, failed.out, failed.err, message] {
            for secret in [pg.password, wrong, Services.credentials.secretAccessKey] {
                #expect(!output.contains(secret), "a secret reached the runner's output")
            }
        }
    }
}
