import BackupAPI
import Foundation
import KubeClient
import KubeCore

/// restoreOnFailover: a Restore of the last verified backup into the secondary's database, made (once per switch)
/// before the record moves, by the backup controllers. The switch waits for it; a restore that fails withholds the
/// switch (the operator does not guess whether an unrestored secondary should serve): remove restoreOnFailover from
/// the policy to switch without it.
enum FailoverRestore {
    enum Outcome {
        /// The restore completed (or was made for this switch before): switch.
        case done
        /// The restore runs; `started` when it was created by this call.
        case wait(String, started: Bool)
        /// No backup to restore, or the restore failed.
        case withheld(String)
    }

    static func step(_ policy: DRPolicy, _ pending: inout DRPolicy.Switch, wanted: DRPolicy.RestoreOnFailover, facts: BackupFacts?,
                     client: KubeClient) async throws -> Outcome {
        let ns = policy.metadata.namespace ?? "default"
        let api = Api<Restore>(client, namespace: ns)
        guard let name = pending.restore else {
            guard let ref = policy.spec.backupPolicyRef else {
                return .withheld("restoreOnFailover needs spec.backupPolicyRef: the switch to the secondary is withheld (remove restoreOnFailover to switch without a restore)")
            }
            guard let backup = facts?.backup, backup.status?.phase == "Completed", backup.status?.verified == true, let backupName = backup.metadata.name else {
                return .withheld("BackupPolicy \(ref) has no verified backup to restore into the secondary's database: the switch is withheld (remove restoreOnFailover to switch without a restore)")
            }
            let name = restoreName(policy.metadata.name ?? "", decided: pending.decidedTime)
            var restore = Restore(metadata: ObjectMeta(name: name, namespace: ns), spec: Restore.Spec(backup: backupName))
            restore.metadata.labels = ["app.kubernetes.io/managed-by": "salespot-operator", "ops.salespot.by/drpolicy": policy.metadata.name ?? ""]
            restore.metadata.ownerReferences = [OwnerReference(apiVersion: DRPolicy.resource.apiVersion, kind: DRPolicy.resource.kind,
                                                               name: policy.metadata.name ?? "", uid: policy.metadata.uid ?? "", controller: true)]
            restore.spec.database = wanted.database
            restore.spec.recreateDatabase = wanted.recreateDatabase
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
            return .withheld("Restore \(name) (into the secondary's database) was deleted before it ended: the switch is withheld (remove restoreOnFailover to switch without a restore)")
        }
        switch restore.status?.phase {
        case "Completed":
            pending.restoreSeconds = restore.status?.durationSeconds
            return .done
        case "Failed":
            return .withheld("Restore \(name) into the secondary's database failed: \(restore.status?.error ?? ""): the switch is withheld (remove restoreOnFailover to switch without a restore)")
        default:
            return .wait("restoring Backup \(restore.spec.backup) into the secondary's database (Restore \(name)) before the switch", started: false)
        }
    }

    /// `<policy>-failover-<decision time digits>`, shortened with a hash past 253 characters.
    static func restoreName(_ policy: String, decided: String) -> String {
        let stamp = String(decided.filter(\.isNumber).prefix(14))
        let name = "\(policy)-failover-\(stamp)"
        if name.count <= 253 { return name }
        return DrillReconciler.restoreName(policy + stamp).replacingOccurrences(of: "-restore", with: "-failover")
    }
}
