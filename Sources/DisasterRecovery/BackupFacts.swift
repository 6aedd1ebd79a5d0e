import BackupAPI
import Foundation
import KubeClient
import KubeCore

/// What the backup resources say about a policy's recovery point: the BackupPolicy, its last verified Backup and
/// when that backup began (what was written after a dump began is not in it).
struct BackupFacts: Sendable {
    var policy: BackupPolicy?
    var backup: Backup?
    /// The start of the last verified backup, else the policy's last success.
    var pointInTime: Date?

    static func read(_ client: KubeClient, namespace ns: String, policy name: String) async throws -> BackupFacts {
        guard let policy = try await Api<BackupPolicy>(client, namespace: ns).getIfExists(name) else { return BackupFacts() }
        var facts = BackupFacts(policy: policy)
        if let verified = policy.status?.lastVerifiedBackup {
            facts.backup = try await Api<Backup>(client, namespace: ns).getIfExists(verified)
        }
        facts.pointInTime = (facts.backup?.status?.startTime ?? policy.status?.lastSuccessfulTime).flatMap { Time(rfc3339: $0)?.date }
        return facts
    }

    /// Why this backup cannot be restored or does not meet the RPO at `now`; nil if it can and does.
    func problem(policyName: String, rpo: Int, now: Date) -> String? {
        guard policy != nil else { return "BackupPolicy \(policyName) not found" }
        guard let backup, let name = backup.metadata.name else { return "BackupPolicy \(policyName) has no verified backup yet" }
        guard backup.status?.phase == "Completed" else { return "Backup \(name) is \(backup.status?.phase ?? "New"), not Completed" }
        guard backup.status?.verified == true else { return "Backup \(name) was not verified" }
        guard let t = pointInTime else { return "Backup \(name) has no start time" }
        let age = Int(now.timeIntervalSince(t))
        if age > rpo { return "the latest verified backup, \(name), began \(age) s ago: over the RPO of \(rpo) s" }
        return nil
    }
}
