import BackupAPI
import DNSProviders
import Foundation
import KubeClient
import KubeCore
import KubeRuntime

/// Runs a DRDrill once: its checks in order, a restore through a Restore (which the backup controllers run as a
/// Job) looked at every 2 s until it ends, the test record's switch, the measured RTO; then the result, an Event, the
/// metrics, and the policy's older drills pruned. One drill of a policy runs at a time.
struct DrillReconciler: Sendable {
    let client: KubeClient
    let events: EventRecorder?
    let probers: Probers
    /// The policies this operator (shard) reconciles: a drill of another shard's policy is left to that shard.
    let policies: Store<DRPolicy>
    let sharded: Bool
    let now: @Sendable () -> Date

    static let metricNames = ["salespot_dr_drill_last_result", "salespot_dr_drill_last_time_seconds",
                              "salespot_dr_drill_last_success_time_seconds", "salespot_dr_drill_rto_seconds"]

    static func declare(_ r: MetricsRegistry?) {
        r?.declare("salespot_dr_drill_last_result", "gauge", help: "1 if the policy's last drill of this mode passed, 0 if it failed", labels: ["namespace", "policy", "mode"])
        r?.declare("salespot_dr_drill_last_time_seconds", "gauge", help: "When the policy's last drill of this mode ended (Unix time)", labels: ["namespace", "policy", "mode"])
        r?.declare("salespot_dr_drill_last_success_time_seconds", "gauge", help: "When a drill of the policy last passed (Unix time)", labels: ["namespace", "policy"])
        r?.declare("salespot_dr_drill_rto_seconds", "gauge", help: "The recovery time the policy's last restore or full drill measured", labels: ["namespace", "policy"])
    }

    /// The drill metrics of a policy, from its drills' statuses and its own.
    /// - Parameter newestFirst: the policy's finished drills, the newest first.
    static func publish(_ r: MetricsRegistry?, namespace ns: String, policy: String, finished newestFirst: [DRDrill], lastPassing: String?) {
        guard let r else { return }
        for mode in DRDrill.Mode.allCases {
            guard let d = newestFirst.first(where: { $0.spec.mode == mode }), let t = d.status?.completionTime.flatMap({ Time(rfc3339: $0) }) else { continue }
            r.set("salespot_dr_drill_last_result", [ns, policy, mode.rawValue], d.status?.phase == "Passed" ? 1 : 0)
            r.set("salespot_dr_drill_last_time_seconds", [ns, policy, mode.rawValue], t.secondsSince1970.rounded())
        }
        if let t = lastPassing.flatMap({ Time(rfc3339: $0) }) { r.set("salespot_dr_drill_last_success_time_seconds", [ns, policy], t.secondsSince1970.rounded()) }
        if let rto = newestFirst.first(where: { $0.status?.rto != nil })?.status?.rto { r.set("salespot_dr_drill_rto_seconds", [ns, policy], rto.totalSeconds) }
    }

    func event(_ d: DRDrill, _ type: String, _ reason: String, _ note: String) {
        events?.emit(regarding: ObjectReference(apiVersion: DRDrill.resource.apiVersion, kind: DRDrill.resource.kind, name: d.metadata.name,
                                                namespace: d.metadata.namespace, uid: d.metadata.uid),
                     type: type, reason: reason, action: "Drill", note: note)
    }

    func reconcile(_ request: ReconcileRequest<DRDrill>) async throws -> Action {
        guard let drill = request.object, drill.metadata.deletionTimestamp == nil else { return .awaitChange }
        if sharded {
            guard policies.hasSynced else { return .requeue(after: .seconds(1)) }
            guard policies.get(ObjectRef(namespace: drill.metadata.namespace, name: drill.spec.policy)) != nil else { return .awaitChange }
        }
        switch drill.status?.phase {
        case "Passed", "Failed": return .awaitChange
        case "Running": return try await follow(drill, request.store)
        default: return try await start(drill, request.store)
        }
    }

    // MARK: - Start: the checks that need no waiting, then the restore (if any)

    func start(_ drill: DRDrill, _ store: Store<DRDrill>) async throws -> Action {
        let ns = drill.metadata.namespace ?? "default"
        var status = drill.status ?? DRDrill.Status()
        status.observedGeneration = Int(drill.metadata.generation ?? 0)
        guard let policy = try await Api<DRPolicy>(client, namespace: ns).getIfExists(drill.spec.policy) else {
            return try await finish(drill, status, [DRDrill.Step(name: "policy", passed: false, message: "DRPolicy \(drill.spec.policy) not found")], policy: nil)
        }
        // One drill of a policy at a time (they share the scratch database and the test record).
        if let holder = try await claim(drill, store) {
            status.phase = "Pending"
            var conditions = status.conditions ?? []
            Conditions.set(&conditions, type: "Ready", status: false, reason: "Waiting",
                           message: "waiting for drill \(holder) of the same policy", observedGeneration: drill.metadata.generation)
            status.conditions = conditions
            try await write(drill, status)
            return .requeue(after: .seconds(5))
        }
        status.phase = "Running"
        status.startTime = Time(secondsSince1970: now().timeIntervalSince1970).rfc3339Micro
        var steps: [DRDrill.Step] = []
        let mode = drill.spec.mode
        if mode != .partial { steps.append(await backupStep(policy)) }
        if mode == .partial || mode == .full {
            steps.append(await probeStep(policy))
            steps.append(await dnsStep(policy))
        }
        status.steps = steps
        if mode == .restore || mode == .full {
            // A restore needs a backup that passed its step, and a scratch database to restore into.
            guard steps.first?.passed == true else {
                return try await finish(drill, status, [DRDrill.Step(name: "restore", passed: false, message: "not run: no backup to restore")], policy: policy)
            }
            guard let target = policy.spec.drills?.restore else {
                return try await finish(drill, status, [DRDrill.Step(name: "restore", passed: false,
                                                                     message: "not run: the policy has no spec.drills.restore (the scratch database to restore into)")], policy: policy)
            }
            let facts = try await BackupFacts.read(client, namespace: ns, policy: policy.spec.backupPolicyRef ?? "")
            guard let backup = facts.backup?.metadata.name else {
                return try await finish(drill, status, [DRDrill.Step(name: "restore", passed: false, message: "not run: the backup is gone")], policy: policy)
            }
            let name = Self.restoreName(drill.metadata.name ?? "")
            var restore = Restore(metadata: ObjectMeta(name: name, namespace: ns), spec: Restore.Spec(backup: backup))
            // The policy's labels (a sharded operator's backup controllers select by them) and ours.
            restore.metadata.labels = (policy.metadata.labels ?? [:]).merging(["app.kubernetes.io/managed-by": "salespot-operator"]) { _, ours in ours }
            restore.metadata.ownerReferences = [OwnerReference(apiVersion: DRDrill.resource.apiVersion, kind: DRDrill.resource.kind,
                                                               name: drill.metadata.name ?? "", uid: drill.metadata.uid ?? "", controller: true, blockOwnerDeletion: true)]
            restore.spec.database = target.database
            restore.spec.recreateDatabase = true
            restore.spec.check = target.check
            do {
                _ = try await Api<Restore>(client, namespace: ns).create(restore, fieldManager: DRControllers.fieldManager)
            } catch let e as KubeError where e.isAlreadyExists {
                // Made by an earlier try of this start whose status write was lost: ours if we own it.
                let existing = try await Api<Restore>(client, namespace: ns).get(name)
                guard existing.metadata.ownerReferences?.contains(where: { $0.uid == drill.metadata.uid }) == true else {
                    return try await finish(drill, status, [DRDrill.Step(name: "restore", passed: false, message: "Restore \(name) exists and is not this drill's")], policy: policy)
                }
            }
            status.restore = name
            var conditions = status.conditions ?? []
            Conditions.set(&conditions, type: "Ready", status: false, reason: "Running", message: "restoring Backup \(backup) into \(target.database.database) (Restore \(name))",
                           observedGeneration: drill.metadata.generation)
            status.conditions = conditions
            try await write(drill, status)
            event(drill, "Normal", "Restoring", "Restore \(name) restores Backup \(backup) into the scratch database \(target.database.database)")
            return .requeue(after: .seconds(2))
        }
        return try await finish(drill, status, [], policy: policy)
    }

    /// Takes the policy's drill lock: a Lease held by the running drill's uid and owned by it (collected with it).
    /// Returns nil when this drill holds it, else the name of the drill that does. Creating the Lease is atomic, and
    /// a stale one (its drill finished or gone) is taken over on its resourceVersion, so two drills never both hold it.
    func claim(_ drill: DRDrill, _ store: Store<DRDrill>) async throws -> String? {
        let ns = drill.metadata.namespace ?? "default"
        let api = Api<Lease>(client, namespace: ns)
        let name = Self.lockName(drill.spec.policy)
        let uid = drill.metadata.uid ?? ""
        let owner = OwnerReference(apiVersion: DRDrill.resource.apiVersion, kind: DRDrill.resource.kind, name: drill.metadata.name ?? "", uid: uid)
        var lease = Lease(metadata: ObjectMeta(name: name, namespace: ns), spec: LeaseSpec(holderIdentity: uid))
        lease.metadata.ownerReferences = [owner]
        lease.metadata.labels = ["app.kubernetes.io/managed-by": "salespot-operator"]
        do {
            _ = try await api.create(lease, fieldManager: DRControllers.fieldManager)
            return nil
        } catch let e as KubeError where e.isAlreadyExists {
            var existing = try await api.get(name)
            let holder = existing.spec?.holderIdentity
            if holder == uid { return nil }
            if let running = store.list(namespace: ns).first(where: { $0.metadata.uid == holder }),
               running.status?.phase != "Passed" && running.status?.phase != "Failed" {
                return running.metadata.name ?? "?"
            }
            existing.spec = LeaseSpec(holderIdentity: uid)
            existing.metadata.ownerReferences = [owner]
            do {
                _ = try await api.update(existing, fieldManager: DRControllers.fieldManager)
                return nil
            } catch let e as KubeError where e.isConflict {
                return "that took the lock just now"
            }
        }
    }

    /// Lets the policy's drill lock go, if this drill holds it.
    func release(_ drill: DRDrill) async {
        let api = Api<Lease>(client, namespace: drill.metadata.namespace ?? "default")
        guard let lease = try? await api.getIfExists(Self.lockName(drill.spec.policy)), lease.spec?.holderIdentity == drill.metadata.uid else { return }
        _ = try? await api.delete(lease.metadata.name ?? "", options: DeleteOptions(preconditions: .init(uid: lease.metadata.uid, resourceVersion: lease.metadata.resourceVersion)))
    }

    /// `drill-<policy>`, hashed past 253 characters.
    static func lockName(_ policy: String) -> String { boundedName(policy, prefix: "drill-", suffix: "") }

    /// A drill created before another (by creation time, then name).
    static func before(_ a: DRDrill, _ b: DRDrill) -> Bool {
        let ta = a.metadata.creationTimestamp?.secondsSince1970 ?? 0, tb = b.metadata.creationTimestamp?.secondsSince1970 ?? 0
        return ta != tb ? ta < tb : (a.metadata.name ?? "") < (b.metadata.name ?? "")
    }

    /// The Restore's name: the drill's with `-restore`.
    static func restoreName(_ drill: String) -> String { boundedName(drill, suffix: "-restore") }

    /// `base + suffix` when it fits an object name (253), else a prefix of `base`, a hash of all of it, and `suffix`.
    static func boundedName(_ base: String, prefix: String = "", suffix: String) -> String {
        let name = prefix + base + suffix
        if name.count <= 253 { return name }
        var h: UInt64 = 1469598103934665603
        for b in base.utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
        return prefix + String(base.prefix(220 - prefix.count)) + "-" + String(h, radix: 16) + suffix
    }

    // MARK: - Following the restore, then the rest

    func follow(_ drill: DRDrill, _ store: Store<DRDrill>) async throws -> Action {
        let ns = drill.metadata.namespace ?? "default"
        var status = drill.status ?? DRDrill.Status()
        let policy = try await Api<DRPolicy>(client, namespace: ns).getIfExists(drill.spec.policy)
        guard let name = status.restore else {
            return try await finish(drill, status, [DRDrill.Step(name: "restore", passed: false, message: "the drill was interrupted before its restore began")], policy: policy)
        }
        guard let restore = try await Api<Restore>(client, namespace: ns).getIfExists(name) else {
            return try await finish(drill, status, [DRDrill.Step(name: "restore", passed: false, message: "Restore \(name) was deleted before it ended")], policy: policy)
        }
        switch restore.status?.phase {
        case "Completed", "Failed": break
        default:
            // A restore that outlasts the RTO (and a minute) fails the drill: the recovery would have missed it.
            let limit = Double((policy?.spec.objectives?.rtoSeconds ?? 900) + 60)
            if let started = status.startTime.flatMap({ Time(rfc3339: $0)?.date }), now().timeIntervalSince(started) > limit {
                try await FailoverRestore.stop(restore, Api<Restore>(client, namespace: ns))
                return try await finish(drill, status, [DRDrill.Step(name: "restore", passed: false,
                                                                     message: "Restore \(name) did not finish within \(Int(limit)) s (the RTO and a minute): stopped")], policy: policy)
            }
            return .requeue(after: .seconds(2))  // looked at, not watched: DR needs no backup CRDs until it restores
        }
        let ok = restore.status?.phase == "Completed"
        var message = ok ? "restored \(restore.spec.backup) into \(restore.spec.database?.database ?? "")" : "Restore \(name) failed: \(restore.status?.error ?? "")"
        if let c = restore.status?.check { message += c.passed ? "; the check query gave \(c.result ?? "no row")" : "; the check query failed" }
        var steps = [DRDrill.Step(name: "restore", passed: ok, message: message, durationSeconds: restore.status?.durationSeconds)]
        guard let policy else {
            steps.append(DRDrill.Step(name: "policy", passed: false, message: "DRPolicy \(drill.spec.policy) was deleted during the drill"))
            return try await finish(drill, status, steps, policy: nil)
        }
        if drill.spec.mode == .full { steps += await switchSteps(policy) }
        status.steps = (status.steps ?? []) + steps
        return try await finish(drill, status, [], policy: policy)
    }

    // MARK: - Steps

    func backupStep(_ policy: DRPolicy) async -> DRDrill.Step {
        let started = ContinuousClock.now
        guard let ref = policy.spec.backupPolicyRef else {
            return DRDrill.Step(name: "backup", passed: false, message: "the policy has no backupPolicyRef")
        }
        do {
            let facts = try await BackupFacts.read(client, namespace: policy.metadata.namespace ?? "default", policy: ref)
            let rpo = policy.spec.objectives?.rpoSeconds ?? 300
            if let problem = facts.problem(policyName: ref, rpo: rpo, now: now()) {
                return DRDrill.Step(name: "backup", passed: false, message: problem, durationSeconds: Self.seconds(since: started))
            }
            let age = Int(now().timeIntervalSince(facts.pointInTime!))
            return DRDrill.Step(name: "backup", passed: true, message: "Backup \(facts.backup?.metadata.name ?? "") is verified and began \(age) s ago (RPO \(rpo) s)",
                                durationSeconds: Self.seconds(since: started))
        } catch {
            return DRDrill.Step(name: "backup", passed: false, message: "the backup resources cannot be read: \(error)")
        }
    }

    /// The policy's probers' verdicts (the drill does not probe on its own: it checks what failover would see).
    func probeStep(_ policy: DRPolicy) async -> DRDrill.Step {
        guard policy.spec.suspend != true else { return DRDrill.Step(name: "probes", passed: false, message: "the policy is suspended: nothing probes its sites") }
        let health = await probers.health(ObjectRef(namespace: policy.metadata.namespace, name: policy.metadata.name ?? ""))
        func describe(_ site: String) -> String {
            guard let h = health[site], let healthy = h.healthy else { return "\(site) not probed yet" }
            let last = h.last.map { $0.ok ? "last probe ok in \(DRReconciler.ms($0.latency)) ms" : "last probe failed: \($0.error ?? "")" } ?? ""
            return "\(site) \(healthy ? "healthy" : "unhealthy") (\(last))"
        }
        let ok = health["secondary"]?.healthy == true
        return DRDrill.Step(name: "probes", passed: ok, message: describe("primary") + "; " + describe("secondary") + (ok ? "" : ": a failover would be withheld"))
    }

    /// The provider reached with the policy's credentials, the record read, and a dry run of the switch taken.
    func dnsStep(_ policy: DRPolicy) async -> DRDrill.Step {
        let started = ContinuousClock.now
        do {
            let provider = try await Providers.make(policy.spec, namespace: policy.metadata.namespace ?? "default", client: client)
            let current = try await provider.read()
            try await provider.check(expected: current)
            return DRDrill.Step(name: "dns", passed: true, message: "\(provider.description) reachable; \(policy.spec.dns.name) reads \(current?.values ?? []); a dry run of the change was accepted",
                                durationSeconds: Self.seconds(since: started))
        } catch {
            return DRDrill.Step(name: "dns", passed: false, message: "the DNS provider: \(error)", durationSeconds: Self.seconds(since: started))
        }
    }

    /// A real switch of the test record to the secondary's value and back, each read back and timed.
    func switchSteps(_ policy: DRPolicy) async -> [DRDrill.Step] {
        guard let name = policy.spec.drills?.testRecord else {
            return [DRDrill.Step(name: "failover", passed: false, message: "not run: the policy has no spec.drills.testRecord")]
        }
        var record = policy.spec.dns
        record.name = name
        let primary = DNSRecordSet(name: name, type: record.type, ttl: record.ttl ?? 60, values: [policy.spec.primary.value])
        let secondary = DNSRecordSet(name: name, type: record.type, ttl: record.ttl ?? 60, values: [policy.spec.secondary.value])
        var steps: [DRDrill.Step] = []
        do {
            let provider = try await Providers.make(policy.spec, namespace: policy.metadata.namespace ?? "default", client: client, record: record)
            // The test record starts at the primary's value (set first, untimed, if it is not).
            let current = try await provider.read()
            if current?.values != primary.values || current?.ttl != primary.ttl {
                try await provider.replace(primary, expected: current)
            }
            for (step, from, to) in [("failover", primary, secondary), ("failback", secondary, primary)] {
                let started = ContinuousClock.now
                try await provider.replace(to, expected: from)
                let back = try await provider.read()
                guard back?.values == to.values else {
                    steps.append(DRDrill.Step(name: step, passed: false, message: "\(name) reads \(back?.values ?? []) after the change, not \(to.values)"))
                    return steps
                }
                steps.append(DRDrill.Step(name: step, passed: true, message: "\(name) switched to \(to.values[0]) and read back from \(provider.description)",
                                          durationSeconds: Self.seconds(since: started)))
            }
        } catch {
            steps.append(DRDrill.Step(name: steps.isEmpty ? "failover" : "failback", passed: false, message: "\(error)"))
        }
        return steps
    }

    // MARK: - The end

    func finish(_ drill: DRDrill, _ status: DRDrill.Status, _ more: [DRDrill.Step], policy: DRPolicy?) async throws -> Action {
        let ns = drill.metadata.namespace ?? "default"
        var status = status
        var steps = (status.steps ?? []) + more
        let mode = drill.spec.mode
        if let policy, mode == .restore || mode == .full, let restore = steps.first(where: { $0.name == "restore" }), restore.passed {
            // Detection as configured (failureThreshold probes, interval apart): a drill does not wait for an outage.
            let check = policy.spec.primary.healthCheck
            let detection = Double(check.failures * check.interval)
            let switched = steps.first { $0.name == "failover" }?.durationSeconds
            let total = (detection + (restore.durationSeconds ?? 0) + (switched ?? 0)).rounded(places: 1)
            let objective = policy.spec.objectives?.rtoSeconds ?? 900
            status.rto = DRDrill.RTO(detectionSeconds: detection, restoreSeconds: restore.durationSeconds, switchSeconds: switched,
                                     totalSeconds: total, objectiveSeconds: objective, met: total <= Double(objective))
            steps.append(DRDrill.Step(name: "rto", passed: total <= Double(objective),
                                      message: "\(total) s (detection \(Int(detection)) s as configured, restore \(restore.durationSeconds ?? 0) s\(switched.map { ", switch \($0) s" } ?? "")) against the RTO of \(objective) s"))
        }
        let passed = !steps.isEmpty && steps.allSatisfy(\.passed)
        status.steps = steps
        status.phase = passed ? "Passed" : "Failed"
        if status.startTime == nil { status.startTime = Time(secondsSince1970: now().timeIntervalSince1970).rfc3339Micro }
        let end = now()
        status.completionTime = Time(secondsSince1970: end.timeIntervalSince1970).rfc3339Micro
        let failed = steps.filter { !$0.passed }.map { "\($0.name): \($0.message)" }
        let summary = passed ? "\(mode.rawValue) drill passed: " + steps.map(\.name).joined(separator: ", ") + (status.rto.map { "; RTO \($0.totalSeconds) s of \($0.objectiveSeconds) s" } ?? "")
                             : "\(mode.rawValue) drill failed: " + failed.joined(separator: "; ")
        var conditions = status.conditions ?? []
        Conditions.set(&conditions, type: "Ready", status: passed, reason: passed ? "Passed" : "Failed", message: summary, observedGeneration: drill.metadata.generation)
        status.conditions = conditions
        try await write(drill, status)
        event(drill, passed ? "Normal" : "Warning", passed ? "DrillPassed" : "DrillFailed", summary)
        await release(drill)
        // The metrics are the policy controller's (from the drills' statuses): rebuilt after a restart, gone with
        // the policy.
        try? await prune(drill.spec.policy, namespace: ns, keep: policy?.spec.drills?.historyLimit ?? 10)
        return .awaitChange
    }

    /// Deletes the policy's oldest finished drills beyond `keep` (their Restores go with them).
    func prune(_ policy: String, namespace ns: String, keep: Int) async throws {
        let api = Api<DRDrill>(client, namespace: ns)
        let finished = try await api.list().items.filter { d in
            d.spec.policy == policy && (d.status?.phase == "Passed" || d.status?.phase == "Failed")
        }.sorted(by: Self.newerFirst)
        for old in finished.dropFirst(max(1, keep)) {
            _ = try? await api.delete(old.metadata.name ?? "", options: DeleteOptions(propagationPolicy: .background))
        }
    }

    /// Finished drills, the newest first (by completion time, to the microsecond; then by creation and name).
    static func newerFirst(_ a: DRDrill, _ b: DRDrill) -> Bool {
        let ca = a.status?.completionTime.flatMap { Time(rfc3339: $0)?.secondsSince1970 } ?? 0
        let cb = b.status?.completionTime.flatMap { Time(rfc3339: $0)?.secondsSince1970 } ?? 0
        if ca != cb { return ca > cb }
        return before(b, a)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        (ContinuousClock.now - start).seconds.rounded(places: 3)
    }

    func write(_ drill: DRDrill, _ status: DRDrill.Status) async throws {
        guard status != drill.status else { return }
        var updated = drill
        updated.status = status
        _ = try await Api<DRDrill>(client, namespace: drill.metadata.namespace ?? "default").updateStatus(updated, fieldManager: DRControllers.fieldManager)
    }
}
