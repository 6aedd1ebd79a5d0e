@testable import DisasterRecovery
import Backups
import DNSProviders
import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import ObjectStore
import TestSupport
import Testing

/// The servers the backup side needs (started by `scripts/services.sh start`, as for the backup tests):
/// SeaweedFS and PostgreSQL.
enum BackupServices {
    static var env: [String: String] { ProcessInfo.processInfo.environment }

    static func pg() throws -> (host: String, port: Int, user: String, password: String) {
        guard let hp = env["SALESPOT_TEST_PG"] else {
            throw DrillError(description: "PostgreSQL (SALESPOT_TEST_PG) is not running: start the test servers with `eval \"$(scripts/services.sh start)\"` (scripts/test.sh does)")
        }
        let parts = hp.split(separator: ":")
        return (String(parts[0]), Int(parts[1]) ?? 5432, env["SALESPOT_TEST_PG_USER"] ?? "", env["SALESPOT_TEST_PG_PASSWORD"] ?? "")
    }

    @discardableResult
    static func psql(_ database: String, _ sql: String) async throws -> String {
        let p = try pg()
        let r = try await runAsync("/usr/bin/psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", p.host, "-p", String(p.port), "-U", p.user,
                                                    "-d", database, "-c", sql],
                                   env: env.merging(["PGPASSWORD": p.password]) { _, n in n })
        guard r.status == 0 else { throw DrillError(description: "psql: \(r.err)") }
        return r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func newDatabaseName() -> String { "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16) }

    static func source(_ db: String) throws -> DatabaseSource {
        let p = try pg()
        var s = DatabaseSource(host: p.host, port: p.port, database: db, user: p.user)
        s.passwordSecretRef = SecretKeyRef(name: "pg-password", key: "password")
        return s
    }

    /// A new bucket, and the Secrets the Jobs read (S3 credentials, the database password).
    static func prepare(_ client: KubeClient) async throws -> S3Destination {
        guard let endpoint = env["SALESPOT_TEST_S3"] else {
            throw DrillError(description: "SeaweedFS (S3, SALESPOT_TEST_S3) is not running: start the test servers with `eval \"$(scripts/services.sh start)\"`")
        }
        let credentials = AWSCredentials(accessKeyId: env["SALESPOT_TEST_S3_KEY"] ?? "", secretAccessKey: env["SALESPOT_TEST_S3_SECRET"] ?? "")
        let bucket = "t-" + UUID().uuidString.lowercased().prefix(18)
        try await S3Client(S3Endpoint(endpoint: endpoint, bucket: String(bucket), pathStyle: true), credentials: credentials).createBucket()
        _ = try await Api<Secret>(client, namespace: "default").create(Secret(metadata: ObjectMeta(name: "s3-credentials"), data: [
            "AWS_ACCESS_KEY_ID": Data(credentials.accessKeyId.utf8).base64EncodedString(),
            "AWS_SECRET_ACCESS_KEY": Data(credentials.secretAccessKey.utf8).base64EncodedString(),
        ]))
        _ = try await Api<Secret>(client, namespace: "default").create(Secret(metadata: ObjectMeta(name: "pg-password"), data: [
            "password": Data(try pg().password.utf8).base64EncodedString(),
        ]))
        var d = S3Destination(endpoint: endpoint, bucket: String(bucket), prefix: "backups", forcePathStyle: true, credentialsSecret: "s3-credentials")
        d.partSizeMiB = 5
        return d
    }
}

extension DRHarness {
    /// A database with three orders, a BackupPolicy of it and one verified backup of it, made now.
    func backedUpDatabase() async throws -> (database: String, policy: String) {
        let destination = try await BackupServices.prepare(client)
        let db = BackupServices.newDatabaseName()
        try await BackupServices.psql("postgres", "CREATE DATABASE \(db)")
        try await BackupServices.psql(db, "CREATE TABLE orders (id int primary key, total numeric); INSERT INTO orders VALUES (1, 10), (2, 20), (3, 30)")
        var spec = BackupPolicy.Spec(schedule: "0 3 * * *", type: "database", destination: destination)
        spec.database = try BackupServices.source(db)
        _ = try await Api<BackupPolicy>(client, namespace: "default").create(BackupPolicy(metadata: ObjectMeta(name: "shop-db", namespace: "default"), spec: spec))
        _ = try await Api<Backup>(client, namespace: "default").create(Backup(metadata: ObjectMeta(name: "shop-db-now", namespace: "default"), spec: Backup.Spec(policy: "shop-db")))
        let done = try await within(.seconds(90)) {
            let p = try await Api<BackupPolicy>(client, namespace: "default").get("shop-db")
            return p.status?.lastVerifiedBackup == "shop-db-now" ? p : nil
        }
        if done == nil {
            let b = try? await Api<Backup>(client, namespace: "default").get("shop-db-now")
            throw DrillError(description: "the backup never completed: \(String(describing: b?.status))")
        }
        return (db, "shop-db")
    }

    var drills: Api<DRDrill> { Api<DRDrill>(client, namespace: "default") }

    func finished(_ drill: String, timeout: Duration = .seconds(90)) async throws -> DRDrill {
        if let d = try await within(timeout, {
            let d = try await drills.get(drill)
            return d.status?.phase == "Passed" || d.status?.phase == "Failed" ? d : nil
        }) { return d }
        let d = try? await drills.get(drill)
        throw DrillError(description: "drill \(drill) never ended: \(String(describing: d?.status))")
    }
}

/// Drills in every mode against LocalCluster, BIND, PostgreSQL and SeaweedFS (the restore drill restores for real
/// and runs its check query); a restore into the secondary's database before a failover; an unreachable DNS
/// server; the flow against Knot.
@Suite(.serialized) struct DrillTests {
    @Test func aDrillInEachModeRunsAndReports() async throws {
        let h = try await DRHarness.start(backups: true)
        defer { Task { await h.stop() } }
        let (_, backupPolicy) = try await h.backedUpDatabase()
        let scratch = BackupServices.newDatabaseName()
        _ = try await h.policies.create(h.policy { spec in
            spec.backupPolicyRef = backupPolicy
            spec.objectives = .init(rtoSeconds: 900, rpoSeconds: 3600)
            var drills = DRPolicy.Drills()
            drills.restore = DRPolicy.DrillRestore(database: try! BackupServices.source(scratch), check: Restore.Check(query: "SELECT count(*) FROM orders", expect: "3"))
            drills.testRecord = "drill.example.test"
            drills.historyLimit = 3
            spec.drills = drills
        })
        _ = try #require(try await h.within(.seconds(15)) {
            try await h.policies.get("shop").status?.conditions?.first { $0.type == "FailoverReady" }?.status == "True" ? true : nil
        }, "never FailoverReady")

        // backup: the latest verified backup, inside the RPO.
        _ = try await h.drills.create(DRDrill(metadata: ObjectMeta(name: "d-backup", namespace: "default"), spec: .init(policy: "shop", mode: .backup)))
        let backup = try await h.finished("d-backup")
        #expect(backup.status?.phase == "Passed", "\(String(describing: backup.status))")
        #expect(backup.status?.steps?.map(\.name) == ["backup"])
        #expect(backup.status?.steps?.first?.message.contains("shop-db-now") == true)

        // partial: probes and a dry run at BIND; the record is not changed.
        _ = try await h.drills.create(DRDrill(metadata: ObjectMeta(name: "d-partial", namespace: "default"), spec: .init(policy: "shop", mode: .partial)))
        let partial = try await h.finished("d-partial")
        #expect(partial.status?.phase == "Passed", "\(String(describing: partial.status))")
        #expect(partial.status?.steps?.map(\.name) == ["probes", "dns"])
        #expect(try await h.dns.dig("app.example.test", "A") == ["192.0.2.10"])

        // restore: into the scratch database for real, with its check query.
        _ = try await h.drills.create(DRDrill(metadata: ObjectMeta(name: "d-restore", namespace: "default"), spec: .init(policy: "shop", mode: .restore)))
        let restore = try await h.finished("d-restore", timeout: .seconds(120))
        #expect(restore.status?.phase == "Passed", "\(String(describing: restore.status))")
        #expect(restore.status?.steps?.map(\.name) == ["backup", "restore", "rto"])
        #expect(try await BackupServices.psql(scratch, "SELECT sum(total) FROM orders") == "60")
        let made = try await Api<Restore>(h.client, namespace: "default").get(try #require(restore.status?.restore))
        #expect(made.status?.check == Restore.CheckResult(passed: true, result: "3", durationSeconds: made.status?.check?.durationSeconds))
        let rto = try #require(restore.status?.rto)
        #expect(rto.detectionSeconds == 3 && (rto.restoreSeconds ?? 0) > 0 && rto.met && rto.objectiveSeconds == 900)

        // full: all of it, and the test record to the secondary and back (dig sees where it ends).
        _ = try await h.drills.create(DRDrill(metadata: ObjectMeta(name: "d-full", namespace: "default"), spec: .init(policy: "shop", mode: .full)))
        let full = try await h.finished("d-full", timeout: .seconds(120))
        #expect(full.status?.phase == "Passed", "\(String(describing: full.status))")
        #expect(full.status?.steps?.map(\.name) == ["backup", "probes", "dns", "restore", "failover", "failback", "rto"])
        #expect(try await h.dns.dig("drill.example.test", "A") == ["192.0.2.10"])
        #expect(try await h.dns.dig("app.example.test", "A") == ["192.0.2.10"], "a drill never touches the policy's own record")
        #expect((full.status?.rto?.switchSeconds ?? 0) > 0)
        #expect(try await h.events("DrillPassed").count >= 4)

        // The policy's status and the metrics; the history keeps 3.
        let policy = try #require(try await h.within(.seconds(10)) {
            let p = try await h.policies.get("shop")
            return p.status?.lastDrill?.name == "d-full" ? p : nil
        }, "lastDrill never became d-full")
        #expect(policy.status?.lastDrill?.result == "Passed" && policy.status?.lastPassingDrillTime == full.status?.completionTime)
        for mode in ["backup", "partial", "restore", "full"] {
            #expect(h.registry.value("salespot_dr_drill_last_result", ["default", "shop", mode]) == 1, "\(mode)")
        }
        #expect(h.registry.value("salespot_dr_drill_rto_seconds", ["default", "shop"]) == full.status?.rto?.totalSeconds)
        #expect(try await h.within(.seconds(10)) { try await h.drills.list().items.count == 3 ? true : nil } == true, "the oldest drill was not pruned")

        // A drill that fails: the backup is older than the RPO now (a failing check query: the next test).
        var p = try await h.policies.get("shop")
        p.spec.objectives = .init(rtoSeconds: 900, rpoSeconds: 1)
        _ = try await h.policies.update(p)
        _ = try await h.drills.create(DRDrill(metadata: ObjectMeta(name: "d-bad", namespace: "default"), spec: .init(policy: "shop", mode: .restore)))
        let bad = try await h.finished("d-bad", timeout: .seconds(120))
        #expect(bad.status?.phase == "Failed")
        let backupStep = try #require(bad.status?.steps?.first)
        #expect(!backupStep.passed && backupStep.message.contains("over the RPO of 1 s"), "\(backupStep)")
        #expect(bad.status?.conditions?.first { $0.type == "Ready" }?.reason == "Failed")
        let afterBad = try await h.within(.seconds(10)) { () -> DRPolicy? in
            let p = try await h.policies.get("shop")
            return p.status?.lastDrill?.result == "Failed" ? p : nil
        }
        if afterBad == nil { Issue.record("lastDrill is not the failed drill: \(String(describing: try await h.policies.get("shop").status))") }
        #expect(try await h.policies.get("shop").status?.lastPassingDrillTime == full.status?.completionTime, "the last passing time is kept")
        #expect(h.registry.value("salespot_dr_drill_last_result", ["default", "shop", "restore"]) == 0)
    }

    @Test func aFailedCheckQueryFailsTheRestoreDrill() async throws {
        let h = try await DRHarness.start(backups: true)
        defer { Task { await h.stop() } }
        let (_, backupPolicy) = try await h.backedUpDatabase()
        let scratch = BackupServices.newDatabaseName()
        _ = try await h.policies.create(h.policy { spec in
            spec.backupPolicyRef = backupPolicy
            spec.objectives = .init(rtoSeconds: 900, rpoSeconds: 3600)
            var drills = DRPolicy.Drills()
            drills.restore = DRPolicy.DrillRestore(database: try! BackupServices.source(scratch), check: Restore.Check(query: "SELECT count(*) FROM orders", expect: "4"))
            spec.drills = drills
        })
        _ = try await h.drills.create(DRDrill(metadata: ObjectMeta(name: "wrong", namespace: "default"), spec: .init(policy: "shop", mode: .restore)))
        let d = try await h.finished("wrong", timeout: .seconds(120))
        #expect(d.status?.phase == "Failed")
        let step = try #require(d.status?.steps?.first { $0.name == "restore" })
        #expect(!step.passed && step.message.contains("the check query failed"), "\(step)")
        let r = try await Api<Restore>(h.client, namespace: "default").get(try #require(d.status?.restore))
        #expect(r.status?.check?.passed == false && r.status?.check?.result == "3", "\(String(describing: r.status))")
        #expect(r.status?.error?.contains("expected '4'") == true)
        // The data was restored all the same (the check only reads).
        #expect(try await BackupServices.psql(scratch, "SELECT count(*) FROM orders") == "3")
    }

    @Test func aFailoverRestoresTheLatestBackupIntoTheSecondaryFirst() async throws {
        let h = try await DRHarness.start(backups: true)
        defer { Task { await h.stop() } }
        let (_, backupPolicy) = try await h.backedUpDatabase()
        let secondaryDB = BackupServices.newDatabaseName()
        try await BackupServices.psql("postgres", "CREATE DATABASE \(secondaryDB)")
        _ = try await h.policies.create(h.policy { spec in
            spec.backupPolicyRef = backupPolicy
            spec.objectives = .init(rtoSeconds: 900, rpoSeconds: 3600)
            var r = DRPolicy.RestoreOnFailover(database: try! BackupServices.source(secondaryDB))
            r.check = Restore.Check(query: "SELECT count(*) = 3 FROM orders", expect: "t")
            spec.restoreOnFailover = r
        })
        _ = try #require(try await h.within(.seconds(15)) {
            try await h.policies.get("shop").status?.conditions?.first { $0.type == "FailoverReady" }?.status == "True" ? true : nil
        }, "never FailoverReady")
        h.primary.up.mutate { $0 = false }
        // The restore runs before the switch: the record stays at the primary meanwhile.
        let restoring = try #require(try await h.within(.seconds(15)) {
            let p = try await h.policies.get("shop")
            return p.status?.pendingSwitch?.restore != nil ? p : nil
        }, "no restore began")
        let restoreName = try #require(restoring.status?.pendingSwitch?.restore)
        let switched = try #require(try await h.within(.seconds(90)) {
            let p = try await h.policies.get("shop")
            return p.status?.activeSite == "secondary" && p.status?.pendingSwitch == nil ? p : nil
        }, "no failover")
        let r = try await Api<Restore>(h.client, namespace: "default").get(restoreName)
        #expect(r.status?.phase == "Completed")
        // The Restore completed before the record moved.
        let completed = try #require(r.status?.completionTime.flatMap { Time(rfc3339: $0) })
        let moved = try #require(switched.status?.lastSwitch?.switchedTime.flatMap { Time(rfc3339: $0) })
        #expect(completed.secondsSince1970 <= moved.secondsSince1970 + 1)
        #expect(switched.status?.lastSwitch?.restore == restoreName && (switched.status?.lastSwitch?.restoreSeconds ?? 0) > 0)
        #expect((switched.status?.lastSwitch?.recoverySeconds ?? 0) > (switched.status?.lastSwitch?.restoreSeconds ?? 0))
        #expect(try await BackupServices.psql(secondaryDB, "SELECT sum(total) FROM orders") == "60")
        #expect(try await h.dns.dig("app.example.test", "A") == ["198.51.100.20"])
        #expect(try await h.events("Restoring").contains { $0.contains(restoreName) })

        // Back to the primary by hand, then a second outage: the secondary's database (restored into before, so
        // marked as a restore's) is dropped and filled again.
        try await BackupServices.psql(secondaryDB, "INSERT INTO orders VALUES (4, 40)")
        h.primary.up.mutate { $0 = true }
        var p = try await h.policies.get("shop")
        p.spec.activeSite = "primary"
        _ = try await h.policies.update(p)
        _ = try #require(try await h.within(.seconds(20)) { try await h.dns.dig("app.example.test", "A") == ["192.0.2.10"] ? true : nil }, "no failback")
        p = try await h.policies.get("shop")
        p.spec.activeSite = nil
        _ = try await h.policies.update(p)
        try await Task.sleep(for: .seconds(1))
        h.primary.up.mutate { $0 = false }
        let second = try #require(try await h.within(.seconds(90)) {
            let p = try await h.policies.get("shop")
            return p.status?.activeSite == "secondary" && p.status?.pendingSwitch == nil && p.status?.lastSwitch?.restore != restoreName ? p : nil
        }, "no second failover")
        #expect(second.status?.failovers == 3, "failover, failback, failover: every switch counts")
        #expect(try await BackupServices.psql(secondaryDB, "SELECT count(*) FROM orders") == "3", "the second restore replaced what was there")
    }

    @Test func aFailedRestoreWithholdsTheSwitchUnlessThePolicySaysToSwitchAnyway() async throws {
        let h = try await DRHarness.start(backups: true)
        defer { Task { await h.stop() } }
        let (_, backupPolicy) = try await h.backedUpDatabase()
        let secondaryDB = BackupServices.newDatabaseName()
        _ = try await h.policies.create(h.policy { spec in
            spec.backupPolicyRef = backupPolicy
            spec.objectives = .init(rtoSeconds: 900, rpoSeconds: 3600)
            var r = DRPolicy.RestoreOnFailover(database: try! BackupServices.source(secondaryDB))
            r.check = Restore.Check(query: "SELECT count(*) FROM orders", expect: "999")
            spec.restoreOnFailover = r
        })
        _ = try #require(try await h.within(.seconds(15)) {
            try await h.policies.get("shop").status?.conditions?.first { $0.type == "FailoverReady" }?.status == "True" ? true : nil
        }, "never FailoverReady")
        h.primary.up.mutate { $0 = false }
        let withheld = try #require(try await h.within(.seconds(90)) {
            let p = try await h.policies.get("shop")
            return p.status?.conditions?.first { $0.type == "Ready" }?.reason == "RestoreFailed" ? p : nil
        }, "the failed restore did not withhold the switch")
        #expect(withheld.status?.activeSite == "primary")
        #expect(try await h.dns.dig("app.example.test", "A") == ["192.0.2.10"])
        #expect(try await h.events("RestoreFailed").contains { $0.contains("expected '999'") })
        // The policy now says to switch anyway.
        var p = try await h.policies.get("shop")
        p.spec.restoreOnFailover?.onFailure = "switch"
        _ = try await h.policies.update(p)
        let switched = try #require(try await h.within(.seconds(20)) {
            let p = try await h.policies.get("shop")
            return p.status?.activeSite == "secondary" && p.status?.pendingSwitch == nil ? p : nil
        }, "no switch with onFailure: switch")
        #expect(switched.status?.lastSwitch?.restoreSeconds == nil)
        #expect(try await h.dns.dig("app.example.test", "A") == ["198.51.100.20"])
        #expect(try await h.events("RestoreSkipped").count == 1)
    }

    @Test func theCLIRunsADrillAndReportsIt() async throws {
        guard FileManager.default.isExecutableFile(atPath: operatorBinary) else {
            throw DrillError(description: "the salespot-operator binary is missing at \(operatorBinary): run `swift build` first")
        }
        let h = try await DRHarness.start()
        defer { Task { await h.stop() } }
        _ = try await h.policies.create(h.policy())
        _ = try #require(try await h.within(.seconds(15)) {
            try await h.policies.get("shop").status?.conditions?.first { $0.type == "FailoverReady" }?.status == "True" ? true : nil
        }, "never FailoverReady")
        let env = ProcessInfo.processInfo.environment.merging(["KUBECONFIG": h.cluster.kubeconfigPath]) { _, n in n }
        let partial = try await runAsync(operatorBinary, ["dr", "drill", "shop", "--mode", "partial", "--name", "by-cli"], env: env)
        #expect(partial.status == 0, "\(partial.out) \(partial.err)")
        #expect(partial.out.contains("ok   probes") && partial.out.contains("ok   dns") && partial.out.contains("Passed"), "\(partial.out)")
        // A restore drill of a policy without a scratch database fails, says why, and exits 1.
        let restore = try await runAsync(operatorBinary, ["dr", "drill", "shop", "--mode", "restore"], env: env)
        #expect(restore.status == 1, "\(restore.out) \(restore.err)")
        #expect(restore.out.contains("FAIL backup") && restore.out.contains("no backupPolicyRef"), "\(restore.out)")
        let bad = try await runAsync(operatorBinary, ["dr", "drill", "shop", "--mode", "everything"], env: env)
        #expect(bad.status != 0 && bad.err.contains("--mode must be backup, restore, partial or full"), "\(bad.err)")
        _ = try #require(try await h.within(.seconds(10)) { try await h.policies.get("shop").status?.lastDrill?.mode == "restore" ? true : nil })
        let status = try await runAsync(operatorBinary, ["dr", "status"], env: env)
        #expect(status.out.contains("LAST-DRILL") && status.out.contains("restore Failed"), "\(status.out)")
    }

    @Test func anUnreachableDNSServerKeepsStateAndTheSwitchIsMadeWhenItAnswersAgain() async throws {
        let h = try await DRHarness.start()
        defer { Task { h.dns.resume(); await h.stop() } }
        _ = try await h.policies.create(h.policy())
        _ = try #require(try await h.within(.seconds(15)) {
            try await h.policies.get("shop").status?.conditions?.first { $0.type == "FailoverReady" }?.status == "True" ? true : nil
        }, "never FailoverReady")
        h.dns.pause()
        h.primary.up.mutate { $0 = false }
        // No answer from the server: not ready, the reason says so, the probe state is kept and nothing is guessed.
        let stuck = try #require(try await h.within(.seconds(30)) {
            let p = try await h.policies.get("shop")
            let ready = p.status?.conditions?.first { $0.type == "FailoverReady" }
            let primaryDown = p.status?.sites?.first { $0.name == "primary" }?.healthy == false
            return ready?.status == "False" && ready?.reason == "DNSProviderUnavailable" && primaryDown ? p : nil
        }, "no DNSProviderUnavailable with the primary seen down")
        #expect(stuck.status?.activeSite == "primary", "the active site is what was last read back, not a guess")
        #expect(stuck.status?.pendingSwitch == nil || stuck.status?.pendingSwitch?.to == "secondary")
        #expect(try await h.events("DNSProviderUnavailable").count >= 1)
        #expect(h.registry.value("salespot_dr_dns_provider_errors_total", ["default", "shop"]) ?? 0 >= 1)
        // The server answers again: the failover is made, once.
        h.dns.resume()
        let switched = try #require(try await h.within(.seconds(60)) {
            let p = try await h.policies.get("shop")
            return p.status?.activeSite == "secondary" && p.status?.pendingSwitch == nil ? p : nil
        }, "no failover after the server came back")
        #expect(switched.status?.failovers == 1)
        #expect(try await h.dns.dig("app.example.test", "A") == ["198.51.100.20"])
        #expect(try await h.within(.seconds(15)) {
            try await h.policies.get("shop").status?.conditions?.first { $0.type == "FailoverReady" }?.status == "True" ? true : nil
        } == true)
    }

    @Test func theFailoverFlowAgainstKnot() async throws {
        let h = try await DRHarness.start(.knot)
        defer { Task { await h.stop() } }
        _ = try await h.policies.create(h.policy { $0.failback = "automatic"; $0.failbackHoldDownSeconds = 3 })
        _ = try #require(try await h.within(.seconds(15)) {
            try await h.policies.get("shop").status?.conditions?.first { $0.type == "FailoverReady" }?.status == "True" ? true : nil
        }, "never FailoverReady against Knot")
        let down = ContinuousClock.now
        h.primary.up.mutate { $0 = false }
        let switched = try #require(try await h.within(.seconds(15)) {
            let p = try await h.policies.get("shop")
            return p.status?.activeSite == "secondary" && p.status?.pendingSwitch == nil ? p : nil
        }, "no failover against Knot")
        #expect(ContinuousClock.now - down < .seconds(3 * 1.1 + 2 + 1))
        #expect(try await h.dns.dig("app.example.test", "A") == ["198.51.100.20"])
        #expect(switched.status?.lastSwitch?.detectionSeconds != nil && switched.status?.lastSwitch?.switchSeconds != nil)
        h.primary.up.mutate { $0 = true }
        let back = ContinuousClock.now
        _ = try #require(try await h.within(.seconds(20)) { try await h.dns.dig("app.example.test", "A") == ["192.0.2.10"] ? true : nil }, "no failback against Knot")
        #expect(ContinuousClock.now - back >= .seconds(3))
    }
}
