import BackupAPI
import Foundation
import KubeClient
import KubeCore

/// restoreOnFailover: a Restore of the last verified backup into the secondary's database (dropped and created
/// again), made once per switch before the record moves, by the backup controllers. The switch waits for it. A
/// restore that fails or outlasts its timeout withholds the switch (the operator does not guess whether an
/// unrestored secondary should serve) unless `onFailure: switch`; deleting a failed Restore makes another.
enum FailoverRestore {
    enum Outcome: Equatable {
        /// The restore completed: switch.
        case done
        /// The restore runs (or a stale one is being stopped); `started` when it was created by this call.
        case wait(String, started: Bool)
        /// No backup to restore, or the restore failed or timed out: the switch waits.
        case withheld(String)
        /// It failed, and the policy says to switch anyway (nothing of it is running any more).
        case proceedWithout(String)
    }

    static let managedBy = "app.kubernetes.io/managed-by"

    static func step(_ policy: DRPolicy, _ pending: inout DRPolicy.Switch, wanted: DRPolicy.RestoreOnFailover, facts: BackupFacts?,
                     client: KubeClient, now: Date) async throws -> Outcome {
        let ns = policy.metadata.namespace ?? "default"
        let api = Api<Restore>(client, namespace: ns)
        let rto = policy.spec.objectives?.rtoSeconds ?? 900
        let timeout = Double(wanted.timeoutSeconds ?? rto)
        let switchAnyway = wanted.onFailure == "switch"
        func failed(_ why: String) -> Outcome {
            switchAnyway ? .proceedWithout("\(why); switching without it (onFailure: switch)")
                         : .withheld("\(why): the switch to the secondary is withheld (delete the failed Restore to try again, set onFailure: switch, or remove restoreOnFailover)")
        }
        guard let name = pending.restore else {
            // A cancelled switch's restore may still run: stopped (with its Job and Pods) before another begins, so
            // two restores never drop and fill the same database.
            let running = try await owned(policy, api).filter { !finished($0) }
            if !running.isEmpty {
                for r in running where r.metadata.deletionTimestamp == nil { try await stop(r, api) }
                return .wait("stopping \(running.compactMap(\.metadata.name).joined(separator: ", ")), the restore of a cancelled switch, before another", started: false)
            }
            guard let ref = policy.spec.backupPolicyRef else { return failed("restoreOnFailover needs spec.backupPolicyRef") }
            guard let backup = facts?.backup, backup.status?.phase == "Completed", backup.status?.verified == true, let backupName = backup.metadata.name else {
                return failed("BackupPolicy \(ref) has no verified backup to restore into the secondary's database")
            }
            let name = restoreName(policy.metadata.name ?? "", decided: pending.decidedTime)
            var restore = Restore(metadata: ObjectMeta(name: name, namespace: ns), spec: Restore.Spec(backup: backupName))
            // The policy's labels (a sharded operator's backup controllers select by them) and ours.
            restore.metadata.labels = (policy.metadata.labels ?? [:]).merging([managedBy: "salespot-operator"]) { _, ours in ours }
            restore.metadata.ownerReferences = [OwnerReference(apiVersion: DRPolicy.resource.apiVersion, kind: DRPolicy.resource.kind,
                                                               name: policy.metadata.name ?? "", uid: policy.metadata.uid ?? "", controller: true)]
            restore.spec.database = wanted.database
            restore.spec.recreateDatabase = true
            restore.spec.check = wanted.check
            do {
                _ = try await api.create(restore, fieldManager: DRControllers.fieldManager)
            } catch let e as KubeError where e.isAlreadyExists {
                // Created by an earlier try whose status write was lost: the same switch's (the name is the decision's).
            }
            pending.restore = name
            return .wait("restoring Backup \(backupName) into the secondary's database \(wanted.database.database) (Restore \(name)) before the switch", started: true)
        }
        guard let restore = try await api.getIfExists(name) else {
            if pending.restoreAbandoned == true { return .proceedWithout("Restore \(name) was given up and stopped; switching without it (onFailure: switch)") }
            // Deleted by hand (to try again) or by someone: another is made.
            pending.restore = nil
            return .wait("Restore \(name) is gone: making another", started: false)
        }
        switch restore.status?.phase {
        case "Completed":
            pending.restoreSeconds = restore.status?.durationSeconds
            return .done
        case "Failed":
            return failed("Restore \(name) into the secondary's database failed: \(restore.status?.error ?? "")")
        default:
            let decided = Time(rfc3339: pending.decidedTime)?.date ?? now
            guard now.timeIntervalSince(decided) > timeout else {
                return .wait("restoring Backup \(restore.spec.backup) into the secondary's database (Restore \(name)) before the switch", started: false)
            }
            if switchAnyway {
                // Stopped, and gone, before the record moves: a restore that starts late must not drop the database
                // that serves by then.
                pending.restoreAbandoned = true
                if restore.metadata.deletionTimestamp == nil { try await stop(restore, api) }
                return .wait("Restore \(name) did not finish within \(Int(timeout)) s: stopping it, then switching without it (onFailure: switch)", started: false)
            }
            // Left running: if it completes after all, the switch is made then.
            return .withheld("Restore \(name) has not finished within \(Int(timeout)) s (it goes on; the switch follows if it completes)")
        }
    }

    /// The Restores this policy made.
    static func owned(_ policy: DRPolicy, _ api: Api<Restore>) async throws -> [Restore] {
        try await api.list(ListOptions(labelSelector: "\(managedBy)=salespot-operator")).items.filter { r in
            r.metadata.ownerReferences?.contains { $0.uid == policy.metadata.uid } ?? false
        }
    }

    static func finished(_ r: Restore) -> Bool { r.status?.phase == "Completed" || r.status?.phase == "Failed" }

    /// Deleted in the foreground: the Restore goes only after its Job and the Job's Pods (a pg_restore killed
    /// mid-way commits nothing: it runs in one transaction).
    static func stop(_ r: Restore, _ api: Api<Restore>) async throws {
        _ = try? await api.delete(r.metadata.name ?? "", options: DeleteOptions(propagationPolicy: .foreground,
                                                                                  preconditions: .init(uid: r.metadata.uid)))
    }

    /// Keeps the newest `keep` finished failover Restores of the policy.
    static func prune(_ policy: DRPolicy, client: KubeClient, keep: Int = 3) async {
        let api = Api<Restore>(client, namespace: policy.metadata.namespace ?? "default")
        guard let done = try? await owned(policy, api).filter(finished) else { return }
        let newestFirst = done.sorted { ($0.status?.completionTime ?? "") > ($1.status?.completionTime ?? "") }
        for r in newestFirst.dropFirst(keep) { try? await stop(r, api) }
    }

    /// `<policy>-failover-<decision time digits>`, shortened with a hash past 253 characters.
    static func restoreName(_ policy: String, decided: String) -> String {
        DrillReconciler.boundedName(policy, suffix: "-failover-" + String(decided.filter(\.isNumber).prefix(14)))
    }
}
