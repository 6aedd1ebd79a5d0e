#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import KubeCore
import Synchronization

/// Stands in for the kubelet and the workload controllers, closely enough that what a client sees is what a cluster
/// shows: a Deployment gets a ReplicaSet per pod template (named with its `pod-template-hash`) and Pods (labelled from
/// the template, owned by the ReplicaSet, Pending then Running and Ready after ``LocalCluster/Options/deploymentReadyDelay``);
/// a rollout keeps the old ReplicaSet's Pods until the new ones are ready, then scales it to zero; Deployment and
/// ReplicaSet status count Pods as their controllers do; every Service with a selector gets an EndpointSlice of the
/// Pods it selects (ready or not, as `conditions.ready`). Jobs run as a local process when their command is this
/// project's executable, otherwise they complete after a delay.
///
/// Changes are handled one at a time, in order, by one task (as controllers serialise per object), so a reader never
/// sees a half-made step: the Pods of a rollout change before the EndpointSlices follow them.
final class WorkloadSimulator: Sendable {
    let state: ClusterState
    let options: LocalCluster.Options
    static let deploymentKey = "apps/deployments"
    static let jobKey = "batch/jobs"
    static let podKey = "/pods"
    static let serviceKey = "/services"
    static let replicaSetKey = "apps/replicasets"
    static let sliceKey = "discovery.k8s.io/endpointslices"

    enum Work: Sendable {
        case deployment(namespace: String, name: String)
        /// The delayed end of a rollout, for that Deployment (uid) at that generation only.
        case deploymentReady(namespace: String, name: String, uid: String, generation: Int64)
        /// The ReplicaSet controller: Pods made or removed to match spec.replicas (a deleted Pod is replaced).
        case replicaSet(namespace: String, name: String)
        /// The delayed readiness of a ReplicaSet's Pods made by ``replicaSet``.
        case podsReady(namespace: String, name: String, uid: String)
        case endpoints(namespace: String)
    }
    private let inbox: AsyncStream<Work>.Continuation
    /// What changed since the EndpointSlices of a namespace were last computed: the Services to redo, and the
    /// Pods that changed (their labels say which Services select them; their names, which slices list them).
    struct Dirty: Sendable {
        var services: Set<String> = []
        var podLabels: [[String: String]] = []
        var pods: Set<String> = []
    }
    /// Namespaces whose EndpointSlices are due (coalesced: one pass however many changes).
    private let dirty = Mutex([String: Dirty]())
    private let nextIP = Mutex(2)

    init(state: ClusterState, options: LocalCluster.Options) {
        self.state = state
        self.options = options
        let (stream, continuation) = AsyncStream<Work>.makeStream()
        inbox = continuation
        Task { [weak self] in
            for await work in stream {
                guard let self else { return }
                await self.process(work)
            }
        }
    }

    func stop() { inbox.finish() }

    func observe(typeKey: String, eventType: String, object: JSONValue) {
        let ns = object[path: ["metadata", "namespace"]]?.stringValue ?? "default"
        switch typeKey {
        case Self.deploymentKey where eventType != "DELETED":
            let generation = object[path: ["metadata", "generation"]]?.intValue ?? 1
            if object[path: ["status", "observedGeneration"]]?.intValue != generation {
                inbox.yield(.deployment(namespace: ns, name: object[path: ["metadata", "name"]]?.stringValue ?? ""))
            }
        case Self.jobKey where eventType == "ADDED":
            jobCreated(object)
        case Self.replicaSetKey where eventType != "DELETED":
            if object[path: ["status", "observedGeneration"]]?.intValue != object[path: ["metadata", "generation"]]?.intValue {
                inbox.yield(.replicaSet(namespace: ns, name: Self.name(object)))
            }
        case Self.podKey, Self.serviceKey:
            if typeKey == Self.podKey, eventType == "DELETED",
               let owner = (object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).first(where: { $0["kind"]?.stringValue == "ReplicaSet" }) {
                inbox.yield(.replicaSet(namespace: ns, name: owner["name"]?.stringValue ?? ""))
            }
            let isPod = typeKey == Self.podKey
            let labels = ClusterState.labels(object)
            let name = Self.name(object)
            let first = dirty.withLock { d -> Bool in
                let first = d[ns] == nil
                if isPod {
                    d[ns, default: Dirty()].podLabels.append(labels)
                    d[ns, default: Dirty()].pods.insert(name)
                } else {
                    d[ns, default: Dirty()].services.insert(name)
                }
                return first
            }
            if first { inbox.yield(.endpoints(namespace: ns)) }
        default:
            break
        }
    }

    func process(_ work: Work) async {
        switch work {
        case .deployment(let ns, let name): await rollOut(ns, name)
        case .deploymentReady(let ns, let name, let uid, let generation): await finishRollout(ns, name, uid: uid, generation: generation)
        case .replicaSet(let ns, let name): await syncReplicaSet(ns, name)
        case .podsReady(let ns, let name, let uid): await replicaSetPodsReady(ns, name, uid: uid)
        case .endpoints(let ns):
            if let changed = dirty.withLock({ $0.removeValue(forKey: ns) }) { await syncEndpointSlices(ns, changed) }
        }
    }

    // MARK: state access

    func type(_ key: String) async -> ResourceType? { await state.allTypes().first { $0.storeKey == key } }

    func list(_ key: String, _ ns: String) async -> [JSONValue] {
        guard let t = await type(key) else { return [] }
        return await state.objects(t, namespace: ns)
    }

    static func uid(_ o: JSONValue) -> String { o[path: ["metadata", "uid"]]?.stringValue ?? "" }
    static func name(_ o: JSONValue) -> String { o[path: ["metadata", "name"]]?.stringValue ?? "" }
    static func owned(_ items: [JSONValue], by owner: JSONValue) -> [JSONValue] {
        let uid = Self.uid(owner)
        return items.filter { ($0[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains { $0["uid"]?.stringValue == uid && $0["controller"]?.boolValue == true } }
    }
    static func ownerReference(_ owner: JSONValue, apiVersion: String, kind: String) -> JSONValue {
        ["apiVersion": .string(apiVersion), "kind": .string(kind), "name": .string(name(owner)), "uid": .string(uid(owner)),
         "controller": true, "blockOwnerDeletion": true]
    }

    /// kube's rand.SafeEncodeString alphabet (no vowels, no confusable digits).
    static let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
    /// The pod-template-hash: FNV-32a of the template, encoded in that alphabet.
    static func podTemplateHash(_ template: JSONValue) -> String {
        var h: UInt32 = 2_166_136_261
        for b in template.serialized(sortedKeys: true) { h = (h ^ UInt32(b)) &* 16_777_619 }
        var out = ""
        var v = UInt64(h)
        repeat { out.append(alphabet[Int(v % UInt64(alphabet.count))]); v /= UInt64(alphabet.count) } while v > 0 && out.count < 10
        return out
    }
    static func randomSuffix() -> String { String((0..<5).map { _ in alphabet.randomElement()! }) }

    /// Writes a status unless the object moved on to a newer generation meanwhile.
    func setStatus(_ typeKey: String, _ ns: String?, _ name: String, _ status: JSONValue, generation: Int64?) async {
        guard let type = await type(typeKey), var o = try? await state.get(type, namespace: ns, name: name) else { return }
        if let generation, o[path: ["metadata", "generation"]]?.intValue != generation { return }
        o["status"] = status
        o[path: ["metadata", "resourceVersion"]] = nil
        _ = try? await state.update(type, namespace: ns, name: name, body: o, subresource: "status")
    }

    // MARK: Deployments

    func rollOut(_ ns: String, _ name: String) async {
        guard let dType = await type(Self.deploymentKey), let rsType = await type(Self.replicaSetKey), let podType = await type(Self.podKey),
              let d = try? await state.get(dType, namespace: ns, name: name) else { return }
        let generation = d[path: ["metadata", "generation"]]?.intValue ?? 1
        guard d[path: ["status", "observedGeneration"]]?.intValue != generation, d[path: ["metadata", "deletionTimestamp"]] == nil else { return }
        let desired = d[path: ["spec", "replicas"]]?.intValue ?? 1
        let template = d[path: ["spec", "template"]] ?? .emptyObject
        let hash = Self.podTemplateHash(template)
        let rsName = "\(name)-\(hash)"
        var matchLabels = d[path: ["spec", "selector", "matchLabels"]]?.objectValue ?? JSONObject()
        matchLabels["pod-template-hash"] = .string(hash)
        var podTemplate = template
        podTemplate[path: ["metadata", "labels", "pod-template-hash"]] = .string(hash)
        // The ReplicaSet of this template.
        var replicaSets = Self.owned(await list(Self.replicaSetKey, ns), by: d)
        var rs = replicaSets.first { Self.name($0) == rsName }
        if rs == nil, var orphan = try? await state.get(rsType, namespace: ns, name: rsName),
           !(orphan[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains(where: { $0["controller"]?.boolValue == true }) {
            // Left behind by a Deployment deleted with --cascade=orphan: adopted, as the Deployment controller does.
            orphan[path: ["metadata", "ownerReferences"]] = .array((orphan[path: ["metadata", "ownerReferences"]]?.arrayValue ?? [])
                                                                    + [Self.ownerReference(d, apiVersion: "apps/v1", kind: "Deployment")])
            orphan[path: ["metadata", "resourceVersion"]] = nil
            rs = try? await state.update(rsType, namespace: ns, name: rsName, body: orphan, subresource: nil)
        }
        if rs == nil {
            let body: JSONValue = ["apiVersion": "apps/v1", "kind": "ReplicaSet",
                                   "metadata": ["name": .string(rsName), "namespace": .string(ns),
                                                "labels": podTemplate[path: ["metadata", "labels"]] ?? .emptyObject,
                                                "annotations": ["deployment.kubernetes.io/revision": .string(String(replicaSets.count + 1))],
                                                "ownerReferences": [Self.ownerReference(d, apiVersion: "apps/v1", kind: "Deployment")]],
                                   "spec": ["replicas": .int(desired), "selector": ["matchLabels": .object(matchLabels)], "template": podTemplate]]
            rs = try? await state.create(rsType, namespace: ns, body: body)
        } else if rs?[path: ["spec", "replicas"]]?.intValue != desired, var changed = rs {
            changed[path: ["spec", "replicas"]] = .int(desired)
            changed[path: ["metadata", "resourceVersion"]] = nil
            rs = try? await state.update(rsType, namespace: ns, name: rsName, body: changed, subresource: nil)
        }
        guard let rs else { return }
        replicaSets = Self.owned(await list(Self.replicaSetKey, ns), by: d)
        // Its Pods: made up to the desired count (Pending), or the newest removed.
        let pods = await list(Self.podKey, ns)
        var mine = Self.owned(pods, by: rs).sorted { Self.name($0) < Self.name($1) }
        while mine.count > Int(desired), let extra = mine.popLast() {
            _ = try? await state.delete(podType, namespace: ns, name: Self.name(extra), propagation: nil, preconditions: nil)
        }
        for _ in mine.count..<max(mine.count, Int(desired)) {
            if let pod = await createPod(podType, ns, rs: rs, template: podTemplate) { mine.append(pod) }
        }
        // Status as the Deployment controller counts it mid-rollout: old Pods still there and ready, new ones not yet.
        let allPods = await list(Self.podKey, ns)
        let old = replicaSets.filter { Self.name($0) != rsName }.flatMap { Self.owned(allPods, by: $0) }
        let current = Self.owned(allPods, by: rs)
        let ready = (old + current).filter(Self.isReady).count
        let now = Time.now().rfc3339
        let status: JSONValue = ["observedGeneration": .int(generation), "replicas": .int(Int64(old.count + current.count)),
                                 "updatedReplicas": .int(Int64(current.count)), "readyReplicas": .int(Int64(ready)),
                                 "availableReplicas": .int(Int64(ready)), "unavailableReplicas": .int(max(0, desired - Int64(ready))),
                                 "conditions": [["type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                                                 "message": .string("ReplicaSet \"\(rsName)\" is progressing."), "lastUpdateTime": .string(now), "lastTransitionTime": .string(now)],
                                                ["type": "Available", "status": ready >= desired ? "True" : "False",
                                                 "reason": ready >= desired ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                                                 "message": ready >= desired ? "Deployment has minimum availability." : "Deployment does not have minimum availability.",
                                                 "lastUpdateTime": .string(now), "lastTransitionTime": .string(now)]]]
        await setStatus(Self.deploymentKey, ns, name, status, generation: generation)
        await setStatus(Self.replicaSetKey, ns, rsName, ["replicas": .int(Int64(current.count)), "fullyLabeledReplicas": .int(Int64(current.count)),
                                                        "readyReplicas": .int(Int64(current.filter(Self.isReady).count)),
                                                        "availableReplicas": .int(Int64(current.filter(Self.isReady).count)),
                                                        "observedGeneration": rs[path: ["metadata", "generation"]] ?? 1], generation: nil)
        after(options.deploymentReadyDelay, .deploymentReady(namespace: ns, name: name, uid: Self.uid(d), generation: generation))
    }

    /// Queues `work` after `delay`.
    func after(_ delay: Duration, _ work: Work) {
        Task {
            try? await Task.sleep(for: delay)
            self.inbox.yield(work)
        }
    }

    func finishRollout(_ ns: String, _ name: String, uid: String, generation: Int64) async {
        guard let dType = await type(Self.deploymentKey), let rsType = await type(Self.replicaSetKey), let podType = await type(Self.podKey),
              let d = try? await state.get(dType, namespace: ns, name: name), Self.uid(d) == uid,
              d[path: ["metadata", "generation"]]?.intValue == generation else { return }  // a newer rollout, or a new Deployment, took over
        let desired = d[path: ["spec", "replicas"]]?.intValue ?? 1
        let hash = Self.podTemplateHash(d[path: ["spec", "template"]] ?? .emptyObject)
        let rsName = "\(name)-\(hash)"
        let replicaSets = Self.owned(await list(Self.replicaSetKey, ns), by: d)
        guard let rs = replicaSets.first(where: { Self.name($0) == rsName }) else { return }
        // The new Pods become ready first; only then do the old ones go (maxUnavailable 0 in effect).
        for pod in Self.owned(await list(Self.podKey, ns), by: rs) where !Self.isReady(pod) {
            await setStatus(Self.podKey, ns, Self.name(pod), readyPodStatus(pod), generation: nil)
        }
        for old in replicaSets where Self.name(old) != rsName {
            // Scaled to zero first, so its Pods going is what its controller wants (nothing replaces them).
            var generation = old[path: ["metadata", "generation"]] ?? 1
            if old[path: ["spec", "replicas"]]?.intValue != 0 {
                var scaled = old
                scaled[path: ["spec", "replicas"]] = 0
                scaled[path: ["metadata", "resourceVersion"]] = nil
                generation = (try? await state.update(rsType, namespace: ns, name: Self.name(old), body: scaled, subresource: nil))?[path: ["metadata", "generation"]] ?? generation
            }
            await setStatus(Self.replicaSetKey, ns, Self.name(old), ["replicas": 0, "observedGeneration": generation], generation: nil)
            for pod in Self.owned(await list(Self.podKey, ns), by: old) {
                _ = try? await state.delete(podType, namespace: ns, name: Self.name(pod), propagation: nil, preconditions: nil)
            }
        }
        let ready = Int64(Self.owned(await list(Self.podKey, ns), by: rs).filter(Self.isReady).count)
        await setStatus(Self.replicaSetKey, ns, rsName, ["replicas": .int(ready), "fullyLabeledReplicas": .int(ready), "readyReplicas": .int(ready),
                                                        "availableReplicas": .int(ready), "observedGeneration": rs[path: ["metadata", "generation"]] ?? 1], generation: nil)
        let t = Time.now().rfc3339
        let status: JSONValue = ["observedGeneration": .int(generation), "replicas": .int(desired), "updatedReplicas": .int(desired),
                                 "readyReplicas": .int(desired), "availableReplicas": .int(desired),
                                 "conditions": [["type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                                 "message": "Deployment has minimum availability.", "lastUpdateTime": .string(t), "lastTransitionTime": .string(t)],
                                                ["type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                                                 "message": .string("ReplicaSet \"\(rsName)\" has successfully progressed."), "lastUpdateTime": .string(t), "lastTransitionTime": .string(t)]]]
        await setStatus(Self.deploymentKey, ns, name, status, generation: generation)
    }

    static func isReady(_ pod: JSONValue) -> Bool {
        (pod[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True" }
    }

    func createPod(_ podType: ResourceType, _ ns: String, rs: JSONValue, template: JSONValue) async -> JSONValue? {
        let name = "\(Self.name(rs))-\(Self.randomSuffix())"
        var spec = template["spec"] ?? .emptyObject
        spec["nodeName"] = "localcluster"
        let body: JSONValue = ["apiVersion": "v1", "kind": "Pod",
                               "metadata": ["name": .string(name), "namespace": .string(ns), "generateName": .string(Self.name(rs) + "-"),
                                            "labels": template[path: ["metadata", "labels"]] ?? .emptyObject,
                                            "ownerReferences": [Self.ownerReference(rs, apiVersion: "apps/v1", kind: "ReplicaSet")]],
                               "spec": spec]
        guard (try? await state.create(podType, namespace: ns, body: body)) != nil else { return nil }
        let ip = nextIP.withLock { n -> String in
            defer { n += 1 }
            return "10.244.\(n / 250).\(n % 250 + 2)"
        }
        let now = Time.now().rfc3339
        let containers = (spec["containers"]?.arrayValue ?? []).map { c -> JSONValue in
            ["name": c["name"] ?? "", "image": c["image"] ?? "", "imageID": "", "ready": false, "started": false, "restartCount": 0,
             "state": ["waiting": ["reason": "ContainerCreating"]]]
        }
        await setStatus(Self.podKey, ns, name, [
            "phase": "Pending", "hostIP": "127.0.0.1", "podIP": .string(ip), "podIPs": [["ip": .string(ip)]], "startTime": .string(now),
            "qosClass": "BestEffort", "containerStatuses": .array(containers),
            "conditions": [["type": "PodScheduled", "status": "True", "lastTransitionTime": .string(now)],
                           ["type": "Initialized", "status": "True", "lastTransitionTime": .string(now)],
                           ["type": "ContainersReady", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": .string(now)],
                           ["type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": .string(now)]],
        ], generation: nil)
        return try? await state.get(podType, namespace: ns, name: name)
    }

    func readyPodStatus(_ pod: JSONValue) -> JSONValue {
        var status = pod["status"] ?? .emptyObject
        let now = Time.now().rfc3339
        status["phase"] = "Running"
        status["containerStatuses"] = .array((status["containerStatuses"]?.arrayValue ?? []).map { c in
            var c = c
            c["ready"] = true
            c["started"] = true
            c["state"] = ["running": ["startedAt": .string(now)]]
            c["containerID"] = .string("containerd://" + Self.randomSuffix())
            return c
        })
        status["conditions"] = .array((status["conditions"]?.arrayValue ?? []).map { c in
            var c = c
            if c["status"]?.stringValue == "False" {
                c["status"] = "True"
                c["reason"] = nil
                c["lastTransitionTime"] = .string(now)
            }
            return c
        })
        return status
    }

    // MARK: ReplicaSets

    /// Makes or removes Pods until a ReplicaSet has spec.replicas of them (a deleted Pod is replaced, `kubectl scale
    /// rs` works), then marks the new ones ready after the delay.
    func syncReplicaSet(_ ns: String, _ name: String) async {
        guard let rsType = await type(Self.replicaSetKey), let podType = await type(Self.podKey),
              let rs = try? await state.get(rsType, namespace: ns, name: name), rs[path: ["metadata", "deletionTimestamp"]] == nil else { return }
        let desired = Int(rs[path: ["spec", "replicas"]]?.intValue ?? 1)
        var pods = Self.owned(await list(Self.podKey, ns), by: rs).sorted { Self.name($0) < Self.name($1) }
        while pods.count > desired, let extra = pods.popLast() {
            _ = try? await state.delete(podType, namespace: ns, name: Self.name(extra), propagation: nil, preconditions: nil)
        }
        var made = false
        for _ in pods.count..<max(pods.count, desired) {
            if let pod = await createPod(podType, ns, rs: rs, template: rs[path: ["spec", "template"]] ?? .emptyObject) {
                pods.append(pod)
                made = true
            }
        }
        await writeReplicaSetStatus(rs, pods)
        await recountOwner(of: rs)
        if made { after(options.deploymentReadyDelay, .podsReady(namespace: ns, name: name, uid: Self.uid(rs))) }
    }

    func replicaSetPodsReady(_ ns: String, _ name: String, uid: String) async {
        guard let rsType = await type(Self.replicaSetKey), let rs = try? await state.get(rsType, namespace: ns, name: name), Self.uid(rs) == uid else { return }
        for pod in Self.owned(await list(Self.podKey, ns), by: rs) where !Self.isReady(pod) {
            await setStatus(Self.podKey, ns, Self.name(pod), readyPodStatus(pod), generation: nil)
        }
        await writeReplicaSetStatus(rs, Self.owned(await list(Self.podKey, ns), by: rs))
        await recountOwner(of: rs)
    }

    func writeReplicaSetStatus(_ rs: JSONValue, _ pods: [JSONValue]) async {
        let ready = Int64(pods.filter(Self.isReady).count)
        await setStatus(Self.replicaSetKey, rs[path: ["metadata", "namespace"]]?.stringValue, Self.name(rs),
                        ["replicas": .int(Int64(pods.count)), "fullyLabeledReplicas": .int(Int64(pods.count)), "readyReplicas": .int(ready),
                         "availableReplicas": .int(ready), "observedGeneration": rs[path: ["metadata", "generation"]] ?? 1], generation: nil)
    }

    /// The owning Deployment's counts after its Pods changed outside a rollout (a Pod deleted and replaced).
    func recountOwner(of rs: JSONValue) async {
        let ns = rs[path: ["metadata", "namespace"]]?.stringValue ?? "default"
        guard let owner = (rs[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).first(where: { $0["kind"]?.stringValue == "Deployment" }),
              let dType = await type(Self.deploymentKey),
              let d = try? await state.get(dType, namespace: ns, name: owner["name"]?.stringValue ?? ""), Self.uid(d) == owner["uid"]?.stringValue,
              var status = d["status"], status["observedGeneration"]?.intValue == d[path: ["metadata", "generation"]]?.intValue,
              status["updatedReplicas"]?.intValue == d[path: ["spec", "replicas"]]?.intValue else { return }  // mid-rollout: the rollout counts
        // Every ReplicaSet of the Deployment counts (the old ones are at zero once a rollout is over).
        let allPods = await list(Self.podKey, ns)
        let pods = Self.owned(await list(Self.replicaSetKey, ns), by: d).flatMap { Self.owned(allPods, by: $0) }
        let ready = Int64(pods.filter(Self.isReady).count)
        let desired = d[path: ["spec", "replicas"]]?.intValue ?? 1
        status["replicas"] = .int(Int64(pods.count))
        status["readyReplicas"] = .int(ready)
        status["availableReplicas"] = .int(ready)
        status["unavailableReplicas"] = ready < desired ? .int(desired - ready) : nil
        await setStatus(Self.deploymentKey, ns, Self.name(d), status, generation: d[path: ["metadata", "generation"]]?.intValue)
    }

    /// After a restart from saved state: rollouts and replacements that were waiting for their delay finish, and Pod
    /// addresses continue after the highest one in use.
    func resume() async {
        guard let dType = await type(Self.deploymentKey), let rsType = await type(Self.replicaSetKey), let podType = await type(Self.podKey) else { return }
        let pods = ((try? await state.list(podType, namespace: nil, labels: nil, fields: nil, limit: nil, continueToken: nil))?["items"]?.arrayValue) ?? []
        let highest = pods.compactMap { $0[path: ["status", "podIP"]]?.stringValue }.compactMap { ip -> Int? in
            let parts = ip.split(separator: ".").compactMap { Int($0) }
            return parts.count == 4 && parts[0] == 10 && parts[1] == 244 ? parts[2] * 250 + parts[3] - 2 : nil
        }.max()
        if let highest { nextIP.withLock { $0 = max($0, highest + 1) } }
        for d in ((try? await state.list(dType, namespace: nil, labels: nil, fields: nil, limit: nil, continueToken: nil))?["items"]?.arrayValue) ?? [] {
            let ns = d[path: ["metadata", "namespace"]]?.stringValue ?? "default"
            inbox.yield(.deploymentReady(namespace: ns, name: Self.name(d), uid: Self.uid(d), generation: d[path: ["metadata", "generation"]]?.intValue ?? 1))
        }
        for rs in ((try? await state.list(rsType, namespace: nil, labels: nil, fields: nil, limit: nil, continueToken: nil))?["items"]?.arrayValue) ?? [] {
            inbox.yield(.podsReady(namespace: rs[path: ["metadata", "namespace"]]?.stringValue ?? "default", name: Self.name(rs), uid: Self.uid(rs)))
        }
    }

    // MARK: EndpointSlices

    /// One EndpointSlice per Service with a selector, listing every Pod it selects (the endpointslice controller's
    /// view: addresses, ready/serving/terminating, target Pod, node; ports resolved from targetPort).
    func syncEndpointSlices(_ ns: String, _ changed: Dirty) async {
        guard let sliceType = await type(Self.sliceKey) else { return }
        let pods = await list(Self.podKey, ns)
        let slices = await list(Self.sliceKey, ns)
        for svc in await list(Self.serviceKey, ns) {
            guard let selector = svc[path: ["spec", "selector"]]?.objectValue, !selector.isEmpty else { continue }
            let svcName = Self.name(svc)
            // Only Services whose endpoints may have changed: the Service itself, or a changed Pod it selects now
            // or listed before.
            let wanted = selector.map { ($0.key, $0.value.stringValue ?? "") }
            let existingSlice = slices.first { $0[path: ["metadata", "labels", "kubernetes.io/service-name"]]?.stringValue == svcName }
            let affected = changed.services.contains(svcName)
                || changed.podLabels.contains { labels in wanted.allSatisfy { labels[$0.0] == $0.1 } }
                || (existingSlice?["endpoints"]?.arrayValue ?? []).contains { changed.pods.contains($0[path: ["targetRef", "name"]]?.stringValue ?? "") }
                || existingSlice == nil
            guard affected else { continue }
            let selected = pods.filter { p in
                let labels = p[path: ["metadata", "labels"]]?.objectValue ?? JSONObject()
                return selector.allSatisfy { labels[$0.key] == $0.value } && p[path: ["status", "podIP"]]?.stringValue != nil
            }.sorted { Self.name($0) < Self.name($1) }
            let endpoints: [JSONValue] = selected.map { p in
                let ready = Self.isReady(p)
                let terminating = p[path: ["metadata", "deletionTimestamp"]] != nil
                return ["addresses": [p[path: ["status", "podIP"]] ?? ""],
                        "conditions": ["ready": .bool(ready && !terminating), "serving": .bool(ready), "terminating": .bool(terminating)],
                        "targetRef": ["kind": "Pod", "namespace": .string(ns), "name": .string(Self.name(p)), "uid": .string(Self.uid(p))],
                        "nodeName": p[path: ["spec", "nodeName"]] ?? "localcluster"]
            }
            let ports: [JSONValue] = (svc[path: ["spec", "ports"]]?.arrayValue ?? []).compactMap { port in
                var number = port["targetPort"]?.intValue ?? port["port"]?.intValue
                if let named = port["targetPort"]?.stringValue {
                    number = selected.lazy.flatMap { $0[path: ["spec", "containers"]]?.arrayValue ?? [] }
                        .flatMap { $0["ports"]?.arrayValue ?? [] }.first { $0["name"]?.stringValue == named }?["containerPort"]?.intValue
                }
                guard let number else { return nil }
                var p: JSONValue = ["port": .int(number), "protocol": port["protocol"] ?? "TCP"]
                p["name"] = port["name"] ?? ""
                return p
            }
            let existing = slices.first { $0[path: ["metadata", "labels", "kubernetes.io/service-name"]]?.stringValue == svcName }
            var slice: JSONValue = existing ?? ["apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                                                "metadata": ["name": .string("\(svcName)-\(Self.randomSuffix())"), "namespace": .string(ns),
                                                             "generateName": .string(svcName + "-"),
                                                             "labels": ["kubernetes.io/service-name": .string(svcName),
                                                                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"],
                                                             "ownerReferences": [Self.ownerReference(svc, apiVersion: "v1", kind: "Service")]]]
            slice["addressType"] = "IPv4"
            slice["endpoints"] = .array(endpoints)
            slice["ports"] = .array(ports)
            if let existing {
                guard existing != slice else { continue }
                slice[path: ["metadata", "resourceVersion"]] = nil
                _ = try? await state.update(sliceType, namespace: ns, name: Self.name(existing), body: slice, subresource: nil)
            } else {
                _ = try? await state.create(sliceType, namespace: ns, body: slice)
            }
        }
    }

    /// A Job runs as one Pod, as the job controller and kubelet would run it: environment variables from values,
    /// Secrets and ConfigMaps (a missing one that is not optional keeps the Pod waiting with
    /// CreateContainerConfigError, until `activeDeadlineSeconds` fails the Job); the Pod ends Succeeded or Failed
    /// with the container's exit code and termination message (the file at SALESPOT_TERMINATION_LOG, a
    /// stand-in for /dev/termination-log; with FallbackToLogsOnError, the end of the output); the Job gets
    /// Complete, or Failed with the job controller's reason and message.
    func jobCreated(_ o: JSONValue) {
        let ns = o[path: ["metadata", "namespace"]]?.stringValue ?? "default"
        let name = o[path: ["metadata", "name"]]?.stringValue ?? ""
        let container = o[path: ["spec", "template", "spec", "containers"]]?[0]
        let command = (container?["command"]?.arrayValue ?? []) + (container?["args"]?.arrayValue ?? [])
        let argv = command.compactMap(\.stringValue)
        let executable = argv.first.map { $0.split(separator: "/").last.map(String.init) ?? $0 }.flatMap { options.localJobExecutables[$0] }
        let duration = options.jobDuration
        let deadline = o[path: ["spec", "activeDeadlineSeconds"]]?.intValue
        Task {
            let start = Time.now().rfc3339
            await self.setStatus(Self.jobKey, ns, name, ["active": 1, "startTime": .string(start), "ready": 0], generation: nil)
            guard let podType = await self.type(Self.podKey) else { return }
            var (env, missing) = await self.environment(container, ns)
            let volumes = await self.secretVolumes(o[path: ["spec", "template", "spec"]], container, ns)
            defer { if let root = volumes.root { try? FileManager.default.removeItem(atPath: root) } }
            if let root = volumes.root {
                for (k, v) in env where volumes.mountPaths.contains(where: { v == $0 || v.hasPrefix($0 + "/") }) { env[k] = root + v }
            }
            let pod = await self.createJobPod(podType, ns, job: o)
            if let failed = volumes.missing ?? missing {
                let reason = volumes.missing != nil ? "ContainerCreating" : "CreateContainerConfigError"
                await self.setStatus(Self.podKey, ns, pod, Self.jobPodStatus(container, phase: "Pending", start: start,
                                                                             state: ["waiting": ["reason": .string(reason), "message": .string(failed)]]), generation: nil)
                guard let deadline else { return }
                try? await Task.sleep(for: .seconds(deadline))
                await self.failJob(ns, name, start: start, reason: "DeadlineExceeded", message: "Job was active longer than specified deadline")
                return
            }
            await self.setStatus(Self.podKey, ns, pod, Self.jobPodStatus(container, phase: "Running", start: start,
                                                                         state: ["running": ["startedAt": .string(start)]]), generation: nil)
            var code: Int32 = 0
            var output = ""
            var terminationMessage = ""
            if let executable {
                let log = FileManager.default.temporaryDirectory.path + "/salespot-termination-\(UUID().uuidString)"
                FileManager.default.createFile(atPath: log, contents: nil)
                (code, output) = await Self.run(executable, Array(argv.dropFirst()), env: env.merging(["SALESPOT_TERMINATION_LOG": log]) { a, _ in a })
                terminationMessage = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                try? FileManager.default.removeItem(atPath: log)
            } else {
                try? await Task.sleep(for: duration)
            }
            if terminationMessage.isEmpty && code != 0 && container?["terminationMessagePolicy"]?.stringValue == "FallbackToLogsOnError" {
                terminationMessage = String(output.split(separator: "\n", omittingEmptySubsequences: false).suffix(80).joined(separator: "\n").suffix(2048))
            }
            let end = Time.now().rfc3339
            var terminated: JSONValue = ["exitCode": .int(Int64(code)), "reason": code == 0 ? "Completed" : "Error",
                                         "startedAt": .string(start), "finishedAt": .string(end)]
            if !terminationMessage.isEmpty { terminated["message"] = .string(String(terminationMessage.prefix(4096))) }
            await self.setStatus(Self.podKey, ns, pod, Self.jobPodStatus(container, phase: code == 0 ? "Succeeded" : "Failed", start: start,
                                                                         state: ["terminated": terminated]), generation: nil)
            if code == 0 {
                await self.setStatus(Self.jobKey, ns, name, [
                    "succeeded": 1, "active": 0, "ready": 0, "startTime": .string(start), "completionTime": .string(end),
                    "conditions": [["type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods",
                                    "lastProbeTime": .string(end), "lastTransitionTime": .string(end)],
                                   ["type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods",
                                    "lastProbeTime": .string(end), "lastTransitionTime": .string(end)]]], generation: nil)
            } else {
                await self.failJob(ns, name, start: start, reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit")
            }
        }
    }

    func failJob(_ ns: String, _ name: String, start: String, reason: String, message: String) async {
        let end = Time.now().rfc3339
        await setStatus(Self.jobKey, ns, name, [
            "failed": 1, "active": 0, "ready": 0, "startTime": .string(start),
            "conditions": [["type": "FailureTarget", "status": "True", "reason": .string(reason), "message": .string(message),
                            "lastProbeTime": .string(end), "lastTransitionTime": .string(end)],
                           ["type": "Failed", "status": "True", "reason": .string(reason), "message": .string(message),
                            "lastProbeTime": .string(end), "lastTransitionTime": .string(end)]]], generation: nil)
    }

    /// The container's environment as kubelet builds it; the second value names a missing Secret or ConfigMap key.
    func environment(_ container: JSONValue?, _ ns: String) async -> ([String: String], String?) {
        var env: [String: String] = [:]
        for e in container?["env"]?.arrayValue ?? [] {
            guard let n = e["name"]?.stringValue else { continue }
            if let v = e["value"]?.stringValue { env[n] = Self.expand(v, env); continue }
            for (field, typeKey, what) in [("secretKeyRef", "/secrets", "secret"), ("configMapKeyRef", "/configmaps", "configmap")] {
                guard let ref = e[path: ["valueFrom", field]] else { continue }
                let refName = ref["name"]?.stringValue ?? "", key = ref["key"]?.stringValue ?? ""
                let optional = ref["optional"]?.boolValue ?? false
                guard let type = await type(typeKey), let obj = try? await state.get(type, namespace: ns, name: refName) else {
                    if optional { continue }
                    return (env, "\(what) \"\(refName)\" not found")
                }
                if let raw = obj[path: ["data", key]]?.stringValue {
                    env[n] = what == "secret" ? (Data(base64Encoded: raw).map { String(decoding: $0, as: UTF8.self) } ?? "") : raw
                } else if !optional {
                    return (env, "couldn't find key \(key) in \(what.capitalized) \(ns)/\(refName)")
                }
            }
        }
        return (env, nil)
    }

    /// The container's Secret and projected-Secret volumes, written as kubelet would (one file per key, or per
    /// item, with the volume's mode) below a temporary root that stands in for the container's mount namespace:
    /// an environment value naming a path under such a mount is given that root as a prefix. A missing Secret or
    /// key that is not optional leaves the Pod in ContainerCreating (kubelet's FailedMount).
    func secretVolumes(_ podSpec: JSONValue?, _ container: JSONValue?, _ ns: String) async -> (root: String?, mountPaths: [String], missing: String?) {
        let volumes = podSpec?["volumes"]?.arrayValue ?? []
        var root: String?
        var mountPaths: [String] = []
        for mount in container?["volumeMounts"]?.arrayValue ?? [] {
            guard let name = mount["name"]?.stringValue, let path = mount["mountPath"]?.stringValue,
                  let volume = volumes.first(where: { $0["name"]?.stringValue == name }) else { continue }
            var sources: [JSONValue] = []
            var mode = 0o644
            if let secret = volume["secret"] {
                var source = secret
                source["name"] = secret["secretName"]
                sources = [source]
                mode = secret["defaultMode"]?.intValue.map(Int.init) ?? mode
            } else if let projected = volume["projected"] {
                sources = (projected["sources"]?.arrayValue ?? []).compactMap { $0["secret"] }
                mode = projected["defaultMode"]?.intValue.map(Int.init) ?? mode
            } else {
                continue
            }
            if root == nil {
                root = FileManager.default.temporaryDirectory.path + "/salespot-pod-\(UUID().uuidString)"
            }
            let dir = root! + path
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            mountPaths.append(path)
            for source in sources {
                let secretName = source["name"]?.stringValue ?? ""
                let optional = source["optional"]?.boolValue ?? false
                guard let type = await type("/secrets"), let secret = try? await state.get(type, namespace: ns, name: secretName) else {
                    if optional { continue }
                    return (root, mountPaths, "MountVolume.SetUp failed for volume \"\(name)\" : secret \"\(secretName)\" not found")
                }
                let data = secret["data"]?.objectValue ?? JSONObject()
                let items = source["items"]?.arrayValue.map { $0.compactMap { i in i["key"]?.stringValue.map { ($0, i["path"]?.stringValue ?? $0, i["mode"]?.intValue.map(Int.init)) } } }
                    ?? data.keys.map { ($0, $0, nil) }
                for (key, file, itemMode) in items {
                    guard let raw = data[key]?.stringValue, let bytes = Data(base64Encoded: raw) else {
                        if optional { continue }
                        return (root, mountPaths, "MountVolume.SetUp failed for volume \"\(name)\" : couldn't find key \(key) in Secret \(ns)/\(secretName)")
                    }
                    let target = dir + "/" + file
                    try? FileManager.default.createDirectory(atPath: String(target[..<target.lastIndex(of: "/")!]), withIntermediateDirectories: true)
                    FileManager.default.createFile(atPath: target, contents: bytes, attributes: [.posixPermissions: itemMode ?? mode])
                }
            }
        }
        return (root, mountPaths, nil)
    }

    /// kubelet's expansion of an environment value: `$(NAME)` is the value of a variable defined before it (left
    /// as written if there is none), `$$` is `$`, and any other `$` stays.
    static func expand(_ value: String, _ defined: [String: String]) -> String {
        guard value.contains("$") else { return value }
        let chars = Array(value)
        var out = ""
        var i = 0
        while i < chars.count {
            if chars[i] == "$", i + 1 < chars.count {
                if chars[i + 1] == "$" {
                    out.append("$")
                    i += 2
                    continue
                }
                if chars[i + 1] == "(", let close = chars[(i + 2)...].firstIndex(of: ")") {
                    let name = String(chars[(i + 2)..<close])
                    out += defined[name] ?? "$(\(name))"
                    i = close + 1
                    continue
                }
            }
            out.append(chars[i])
            i += 1
        }
        return out
    }

    func createJobPod(_ podType: ResourceType, _ ns: String, job: JSONValue) async -> String {
        let jobName = Self.name(job)
        let name = "\(jobName)-\(Self.randomSuffix())"
        var spec = job[path: ["spec", "template", "spec"]] ?? .emptyObject
        spec["nodeName"] = "localcluster"
        var labels = job[path: ["spec", "template", "metadata", "labels"]] ?? .emptyObject
        labels["job-name"] = .string(jobName)
        labels["batch.kubernetes.io/job-name"] = .string(jobName)
        labels["controller-uid"] = .string(Self.uid(job))
        labels["batch.kubernetes.io/controller-uid"] = .string(Self.uid(job))
        let body: JSONValue = ["apiVersion": "v1", "kind": "Pod",
                               "metadata": ["name": .string(name), "namespace": .string(ns), "generateName": .string(jobName + "-"), "labels": labels,
                                            "ownerReferences": [Self.ownerReference(job, apiVersion: "batch/v1", kind: "Job")]],
                               "spec": spec]
        _ = try? await state.create(podType, namespace: ns, body: body)
        return name
    }

    static func jobPodStatus(_ container: JSONValue?, phase: String, start: String, state: JSONValue) -> JSONValue {
        ["phase": .string(phase), "hostIP": "127.0.0.1", "startTime": .string(start), "qosClass": "BestEffort",
         "containerStatuses": [["name": container?["name"] ?? "", "image": container?["image"] ?? "", "imageID": "", "ready": false,
                                "started": .bool(phase == "Running"), "restartCount": 0, "state": state]]]
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
