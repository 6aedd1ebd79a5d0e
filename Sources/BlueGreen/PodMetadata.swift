import KubeClient
import KubeCore
import KubeRuntime

/// activeMetadata and previewMetadata: labels and annotations on the pods of a colour while it has that role (for
/// service-mesh subsets, log routing, cost labels). They go on the running pods in place, never into the Deployment's
/// template: a template change would restart every pod at the switch. Pods that appear later (a scale, a restart) are
/// seen by the pod watch and given theirs. Each pod records which keys were added for its role
/// (`salespot.by/pod-metadata`), so a role change or a key removed from the spec takes away exactly those.
///
/// Order keeps "something always carries the active metadata": the colour about to become active gets the active
/// metadata before the Service switches to it, and the colour that was active loses it only after.
extension BlueGreenController {
    /// On each pod: the label and annotation keys its current role added (`labels=a,b;annotations=c`).
    public static let podMetadataAnnotation = "salespot.by/pod-metadata"
    /// The pod store index by the Deployment (`namespace/name`) whose ReplicaSet made the pod.
    static let podIndex = "deployment"

    /// The Deployment whose ReplicaSet owns a pod: the owner's name less its `-<pod-template-hash>` suffix.
    static func deploymentOf(_ pod: Pod) -> String? {
        guard let hash = pod.metadata.labels?["pod-template-hash"],
              let owner = pod.metadata.ownerReferences?.first(where: { $0.kind == "ReplicaSet" && $0.controller == true })
                ?? pod.metadata.ownerReferences?.first(where: { $0.kind == "ReplicaSet" }),
              owner.name.hasSuffix("-" + hash), owner.name.count > hash.count + 1 else { return nil }
        return String(owner.name.dropLast(hash.count + 1))
    }

    /// What is wrong with spec.activeMetadata or spec.previewMetadata, or nil. Role metadata may only add keys: it
    /// may not set the keys that select the pods (the selector, the colour, the template hashes) or that the
    /// template sets itself, and every key and value must be what the API server takes.
    public static func podMetadataProblem(_ spec: BlueGreenDeployment.Spec) -> String? {
        let templateLabels = Set(spec.template[path: ["metadata", "labels"]]?.objectValue?.dictionary.keys.map { $0 } ?? [])
        let templateAnnotations = Set(spec.template[path: ["metadata", "annotations"]]?.objectValue?.dictionary.keys.map { $0 } ?? [])
        let reservedLabels: Set<String> = Set(spec.selector.matchLabels?.keys.map { $0 } ?? [])
            .union([colorLabel, templateHashLabel, "pod-template-hash"])
        for (field, meta) in [("activeMetadata", spec.activeMetadata), ("previewMetadata", spec.previewMetadata)] {
            guard let meta else { continue }
            let labels = meta.labels ?? [:], annotations = meta.annotations ?? [:]
            if let problem = MetadataSyntax.problems(labels: labels, annotations: annotations, field: "spec.\(field)").first {
                return "\(problem.field): \(problem.message)"
            }
            for key in labels.keys.sorted() {
                if reservedLabels.contains(key) {
                    return "spec.\(field).labels: \"\(key)\" selects the pods (the selector, the colour or the template hash) and cannot be role metadata"
                }
                if templateLabels.contains(key) {
                    return "spec.\(field).labels: \"\(key)\" is set by spec.template.metadata.labels; role metadata may only add keys"
                }
            }
            for key in annotations.keys.sorted() {
                if key == podMetadataAnnotation { return "spec.\(field).annotations: \"\(key)\" is the operator's own" }
                if templateAnnotations.contains(key) {
                    return "spec.\(field).annotations: \"\(key)\" is set by spec.template.metadata.annotations; role metadata may only add keys"
                }
            }
        }
        return nil
    }

    /// The keys a pod's role added, from its record.
    static func recordedKeys(_ meta: ObjectMeta) -> (labels: Set<String>, annotations: Set<String>) {
        var labels = Set<String>(), annotations = Set<String>()
        for part in (meta.annotations?[podMetadataAnnotation] ?? "").split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            let keys = kv[1].split(separator: ",").map(String.init)
            if kv[0] == "labels" { labels.formUnion(keys) } else if kv[0] == "annotations" { annotations.formUnion(keys) }
        }
        return (labels, annotations)
    }

    /// The merge patch of `metadata` that gives a pod the role metadata `desired` (nil: none) and takes away what
    /// its previous role added; nil when the pod already has exactly that.
    static func podMetadataPatch(_ meta: ObjectMeta, _ desired: BlueGreenDeployment.PodMetadata?) -> JSONValue? {
        let recorded = recordedKeys(meta)
        let wantLabels = desired?.labels ?? [:], wantAnnotations = desired?.annotations ?? [:]
        var labels = JSONObject(), annotations = JSONObject()
        for key in recorded.labels.sorted() where wantLabels[key] == nil && meta.labels?[key] != nil { labels[key] = .null }
        for (key, value) in wantLabels.sorted(by: { $0.key < $1.key }) where meta.labels?[key] != value { labels[key] = .string(value) }
        for key in recorded.annotations.sorted() where wantAnnotations[key] == nil && meta.annotations?[key] != nil { annotations[key] = .null }
        for (key, value) in wantAnnotations.sorted(by: { $0.key < $1.key }) where meta.annotations?[key] != value { annotations[key] = .string(value) }
        var record: [String] = []
        if !wantLabels.isEmpty { record.append("labels=" + wantLabels.keys.sorted().joined(separator: ",")) }
        if !wantAnnotations.isEmpty { record.append("annotations=" + wantAnnotations.keys.sorted().joined(separator: ",")) }
        let newRecord = record.isEmpty ? nil : record.joined(separator: ";")
        if meta.annotations?[podMetadataAnnotation] != newRecord {
            annotations[podMetadataAnnotation] = newRecord.map { .string($0) } ?? .null
        }
        guard !labels.isEmpty || !annotations.isEmpty else { return nil }
        var patch = JSONObject()
        if !labels.isEmpty { patch["labels"] = .object(labels) }
        if !annotations.isEmpty { patch["annotations"] = .object(annotations) }
        return .object(patch)
    }
}

extension Reconciler {
    /// Gives the pods of each colour listed the metadata of its role (nil: none, taking away what an earlier role
    /// added), and returns the patches the API server refused (4xx: a webhook, a policy, RBAC, a pod-specific rule),
    /// each as a sentence. Nothing is done while the spec's role metadata is invalid (the rollout stalls on it
    /// instead). Pods being deleted are left alone; a pod gone meanwhile is no error.
    /// - Parameter fresh: list the pods from the API server rather than the cache: for the colour a switch is
    ///   about to send traffic to (or away from), whose pods this reconcile may have just patched.
    func syncPodMetadata(_ bgd: BlueGreenDeployment, _ roles: [(Color, BlueGreenDeployment.PodMetadata?)], fresh: Bool = false) async throws -> [String] {
        guard BlueGreenController.podMetadataProblem(bgd.spec) == nil else { return [] }
        let ns = bgd.metadata.namespace ?? "default"
        let api = Api<Pod>(client, namespace: ns)
        var refused: [String] = []
        for (color, desired) in roles {
            let deployment = deploymentName(bgd, color)
            var found: [Pod]
            if fresh {
                found = try await api.list(ListOptions(labelSelector: BlueGreenController.podSelector(bgd, color)))
                    .items.filter { BlueGreenController.deploymentOf($0) == deployment }
            } else {
                found = pods.refs(index: BlueGreenController.podIndex, value: "\(ns)/\(deployment)").compactMap { pods.get($0) }
            }
            for pod in found {
                guard pod.metadata.deletionTimestamp == nil, let name = pod.metadata.name,
                      pod.metadata.labels?[BlueGreenController.colorLabel] == color.rawValue,
                      let patch = BlueGreenController.podMetadataPatch(pod.metadata, desired) else { continue }
                do {
                    _ = try await api.patch(name, .merge(["metadata": patch]), fieldManager: BlueGreenController.fieldManager)
                } catch let error as KubeError where error.code == 404 {
                    continue
                } catch let error as KubeError where (error.code ?? 0) >= 400 && (error.code ?? 0) < 500 && error.code != 409 && error.code != 429 {
                    refused.append("pod \(name) refused its \(desired == nil ? "role metadata removal" : "role metadata"): \(error.status?.message ?? "\(error)")")
                }
            }
        }
        return refused
    }

    /// ``syncPodMetadata(_:_:fresh:)`` where nothing may hold the step up (an abort, a switch back, the clean-up
    /// after a switch): whatever fails is a Warning Event.
    func syncPodMetadataBestEffort(_ bgd: BlueGreenDeployment, _ roles: [(Color, BlueGreenDeployment.PodMetadata?)], fresh: Bool = false) async {
        var problems: [String]
        do { problems = try await syncPodMetadata(bgd, roles, fresh: fresh) } catch { problems = ["\(error)"] }
        for problem in problems { warnPodMetadata(bgd, problem) }
    }

    func warnPodMetadata(_ bgd: BlueGreenDeployment, _ problem: String) {
        events?.emit(regarding: ObjectReference(apiVersion: BlueGreenDeployment.resource.apiVersion, kind: "BlueGreenDeployment",
                                                name: bgd.metadata.name, namespace: bgd.metadata.namespace, uid: bgd.metadata.uid),
                     type: "Warning", reason: "PodMetadataFailed", action: "PatchPods", note: problem)
    }
}
