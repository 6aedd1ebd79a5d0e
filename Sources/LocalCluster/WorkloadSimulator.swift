#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import KubeCore

/// Stands in for the kubelet and the workload controllers: a Deployment's status converges to its spec after a
/// delay (first progressing, then ready), and Jobs run — as a local process when their command is this project's
/// executable, otherwise they complete after a delay.
final class WorkloadSimulator: Sendable {
    let state: ClusterState
    let options: LocalCluster.Options
    static let deploymentKey = "apps/deployments"
    static let jobKey = "batch/jobs"

    init(state: ClusterState, options: LocalCluster.Options) {
        self.state = state
        self.options = options
    }

    func observe(typeKey: String, eventType: String, object: JSONValue) {
        guard eventType != "DELETED" else { return }
        if typeKey == Self.deploymentKey { deploymentChanged(object) }
        if typeKey == Self.jobKey, eventType == "ADDED" { jobCreated(object) }
    }

    func deploymentChanged(_ o: JSONValue) {
        let generation = o[path: ["metadata", "generation"]]?.intValue ?? 1
        let observed = o[path: ["status", "observedGeneration"]]?.intValue
        let desired = o[path: ["spec", "replicas"]]?.intValue ?? 1
        guard observed != generation else { return }
        let ns = o[path: ["metadata", "namespace"]]?.stringValue
        let name = o[path: ["metadata", "name"]]?.stringValue ?? ""
        let previousReady = min(o[path: ["status", "readyReplicas"]]?.intValue ?? 0, desired)
        let now = Time.now().rfc3339
        let progressing: JSONValue = ["observedGeneration": .int(generation), "replicas": .int(desired), "updatedReplicas": 0,
                                      "readyReplicas": .int(previousReady), "availableReplicas": .int(previousReady),
                                      "unavailableReplicas": .int(desired - previousReady),
                                      "conditions": [["type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                                                      "message": "ReplicaSet is progressing.", "lastUpdateTime": .string(now), "lastTransitionTime": .string(now)],
                                                     ["type": "Available", "status": previousReady >= desired ? "True" : "False",
                                                      "reason": previousReady >= desired ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                                                      "lastUpdateTime": .string(now), "lastTransitionTime": .string(now)]]]
        let delay = options.deploymentReadyDelay
        Task {
            await self.setStatus(Self.deploymentKey, ns, name, progressing, generation: generation)
            try? await Task.sleep(for: delay)
            let t = Time.now().rfc3339
            let ready: JSONValue = ["observedGeneration": .int(generation), "replicas": .int(desired), "updatedReplicas": .int(desired),
                                    "readyReplicas": .int(desired), "availableReplicas": .int(desired),
                                    "conditions": [["type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                                    "message": "Deployment has minimum availability.", "lastUpdateTime": .string(t), "lastTransitionTime": .string(t)],
                                                   ["type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                                                    "message": .string("ReplicaSet \"\(name)\" has successfully progressed."), "lastUpdateTime": .string(t), "lastTransitionTime": .string(t)]]]
            await self.setStatus(Self.deploymentKey, ns, name, ready, generation: generation)
        }
    }

    /// Writes a status unless the object moved on to a newer generation meanwhile.
    func setStatus(_ typeKey: String, _ ns: String?, _ name: String, _ status: JSONValue, generation: Int64?) async {
        guard let type = await state.allTypes().first(where: { $0.key == typeKey }),
              var o = try? await state.get(type, namespace: ns, name: name) else { return }
        if let generation, o[path: ["metadata", "generation"]]?.intValue != generation { return }
        o["status"] = status
        o[path: ["metadata", "resourceVersion"]] = nil
        _ = try? await state.update(type, namespace: ns, name: name, body: o, subresource: "status")
    }

    func jobCreated(_ o: JSONValue) {
        let ns = o[path: ["metadata", "namespace"]]?.stringValue
        let name = o[path: ["metadata", "name"]]?.stringValue ?? ""
        let container = o[path: ["spec", "template", "spec", "containers"]]?[0]
        let command = (container?["command"]?.arrayValue ?? []) + (container?["args"]?.arrayValue ?? [])
        let argv = command.compactMap(\.stringValue)
        let env = (container?["env"]?.arrayValue ?? []).reduce(into: [String: String]()) { acc, e in
            if let n = e["name"]?.stringValue, let v = e["value"]?.stringValue { acc[n] = v }
        }
        let executable = argv.first.map { $0.split(separator: "/").last.map(String.init) ?? $0 }.flatMap { options.localJobExecutables[$0] }
        let duration = options.jobDuration
        Task {
            let start = Time.now().rfc3339
            await self.setStatus(Self.jobKey, ns, name, ["active": 1, "startTime": .string(start)], generation: nil)
            var succeeded = true
            var message = "Job completed"
            if let executable {
                let (code, output) = await Self.run(executable, Array(argv.dropFirst()), env: env)
                succeeded = code == 0
                message = succeeded ? "Job completed" : "process exited with status \(code): \(output.suffix(500))"
            } else {
                try? await Task.sleep(for: duration)
            }
            let end = Time.now().rfc3339
            let status: JSONValue = succeeded
                ? ["succeeded": 1, "startTime": .string(start), "completionTime": .string(end),
                   "conditions": [["type": "Complete", "status": "True", "lastProbeTime": .string(end), "lastTransitionTime": .string(end)]]]
                : ["failed": 1, "startTime": .string(start),
                   "conditions": [["type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": .string(message),
                                   "lastProbeTime": .string(end), "lastTransitionTime": .string(end)]]]
            await self.setStatus(Self.jobKey, ns, name, status, generation: nil)
        }
    }

    static func run(_ path: String, _ args: [String], env: [String: String]) async -> (Int32, String) {
        do {
            let r = try await Posix.run(path, arguments: args, environment: ProcessInfo.processInfo.environment.merging(env) { _, new in new })
            return (r.status, String(decoding: r.stdout + r.stderr, as: UTF8.self))
        } catch {
            return (127, "cannot start \(path): \(error)")
        }
    }

}
