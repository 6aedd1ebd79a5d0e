import Foundation
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// Deployments get ReplicaSets and Pods, Services get EndpointSlices: what kubectl and controllers see in a cluster.
@Suite struct WorkloadSimulationTests {
    func list(_ client: KubeClient, _ resource: ResourceDescriptor, _ selector: String? = nil) async throws -> [JSONValue] {
        try await Api<DynamicObject>(client, resource: resource, namespace: "default").list(ListOptions(labelSelector: selector)).items.map(\.json)
    }
    static let replicaSets = ResourceDescriptor(group: "apps", version: "v1", resource: "replicasets", kind: "ReplicaSet", namespaced: true)
    static let slices = ResourceDescriptor(group: "discovery.k8s.io", version: "v1", resource: "endpointslices", kind: "EndpointSlice", namespaced: true)

    func readyEndpoints(_ client: KubeClient, _ service: String) async throws -> [String] {
        try await list(client, Self.slices, "kubernetes.io/service-name=\(service)").flatMap { $0["endpoints"]?.arrayValue ?? [] }
            .filter { $0[path: ["conditions", "ready"]] == true }.compactMap { $0["addresses"]?[0]?.stringValue }
    }

    @Test func aRolloutMovesPodsFromTheOldReplicaSetToTheNewAndEndpointsFollow() async throws {
        let cluster = try await startCluster { $0.deploymentReadyDelay = .milliseconds(300) }
        defer { Task { await cluster.stop() } }
        let client = cluster.client()
        let applied = try await cluster.kubectl("apply", "-f", "-", stdin: """
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 2
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec: {containers: [{name: app, image: "web:1", ports: [{name: http, containerPort: 8080}]}]}
            """)
        #expect(applied.status == 0, "\(applied.err)")
        #expect(try await cluster.eventuallyReady("web"))
        let first = try await list(client, Self.replicaSets)
        #expect(first.count == 1)
        let hash = try #require(first.first?[path: ["metadata", "labels", "pod-template-hash"]]?.stringValue)
        #expect(first.first?[path: ["metadata", "name"]]?.stringValue == "web-\(hash)")
        let pods = try await Api<Pod>(client, namespace: "default").list(ListOptions(labelSelector: "app=web")).items
        #expect(pods.count == 2 && pods.allSatisfy { $0.metadata.name?.hasPrefix("web-\(hash)-") == true && $0.metadata.ownerReferences?.first?.kind == "ReplicaSet" })
        // kubectl sees Running pods and their endpoints, ports resolved from the named targetPort.
        let table = try await cluster.kubectl("get", "pods")
        #expect(table.out.split(separator: "\n").dropFirst().filter { $0.contains(" 1/1 ") && $0.contains(" Running ") }.count == 2, "\(table.out)")
        #expect(try await readyEndpoints(client, "web").count == 2)
        let slice = try #require(try await list(client, Self.slices, "kubernetes.io/service-name=web").first)
        #expect(slice["ports"]?[0]?["port"] == 8080)
        #expect(slice[path: ["endpoints"]]?[0]?[path: ["targetRef", "kind"]] == "Pod")

        // A new template: never without a ready endpoint, and in the end only the new ReplicaSet has pods.
        let gaps = Locked(0)
        let watching = Locked(true)
        let monitor = Task {
            while watching.value {
                if (try? await readyEndpoints(client, "web").count) == 0 { gaps.mutate { $0 += 1 } }
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        _ = try await Api<Deployment>(client, namespace: "default").patch("web", .merge(["spec": ["template": ["spec": ["containers": [["name": "app", "image": "web:2", "ports": [["name": "http", "containerPort": 8080]]]]]]]]))
        // Mid-rollout, as kubectl rollout status would see it: updated pods exist, old ones still serve.
        #expect(try await cluster.eventuallyReady("web"))
        watching.mutate { $0 = false }
        await monitor.value
        #expect(gaps.value == 0, "the Service had no ready endpoint \(gaps.value) times during the rollout")
        let after = try await list(client, Self.replicaSets)
        #expect(after.count == 2)
        let current = try #require(after.first { $0[path: ["metadata", "labels", "pod-template-hash"]]?.stringValue != hash })
        #expect(after.first { $0[path: ["metadata", "labels", "pod-template-hash"]]?.stringValue == hash }?[path: ["spec", "replicas"]] == 0)
        let newHash = current[path: ["metadata", "labels", "pod-template-hash"]]?.stringValue ?? ""
        let remaining = try await Api<Pod>(client, namespace: "default").list(ListOptions(labelSelector: "app=web")).items
        #expect(remaining.count == 2 && remaining.allSatisfy { $0.metadata.labels?["pod-template-hash"] == newHash })
        #expect(try await readyEndpoints(client, "web").count == 2)
        let rsTable = try await cluster.kubectl("get", "rs")
        #expect(rsTable.out.contains("web-\(newHash) ") && rsTable.out.split(separator: "\n").first?.contains("DESIRED") == true, "\(rsTable.out)")
    }

    @Test func aDeletedPodIsReplacedAndAnOrphanedReplicaSetIsAdopted() async throws {
        let cluster = try await startCluster { $0.deploymentReadyDelay = .milliseconds(200) }
        defer { Task { await cluster.stop() } }
        let client = cluster.client()
        let manifest = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: cache}
            spec:
              replicas: 2
              selector: {matchLabels: {app: cache}}
              template:
                metadata: {labels: {app: cache}}
                spec: {containers: [{name: redis, image: "redis:7"}]}
            """
        #expect(try await cluster.kubectl("apply", "-f", "-", stdin: manifest).status == 0)
        #expect(try await cluster.eventuallyReady("cache"))
        let pods = Api<Pod>(client, namespace: "default")
        let victim = try #require(try await pods.list(ListOptions(labelSelector: "app=cache")).items.first?.metadata.name)
        #expect(try await cluster.kubectl("delete", "pod", victim).status == 0)
        // The ReplicaSet makes a new Pod; it becomes ready and the Deployment counts it.
        var replaced = false
        for _ in 0..<100 where !replaced {
            let now: [Pod] = try await pods.list(ListOptions(labelSelector: "app=cache")).items
            let names = now.compactMap(\.metadata.name)
            let ready = try await list(client, ResourceDescriptor(group: "", version: "v1", resource: "pods", kind: "Pod", namespaced: true), "app=cache")
                .filter { pod in (pod[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" } }
            replaced = now.count == 2 && !names.contains(victim) && ready.count == 2
            if !replaced { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(replaced, "the deleted Pod was not replaced by a ready one")
        #expect(try await Api<Deployment>(client, namespace: "default").get("cache").status?.readyReplicas == 2)
        // Deleted with --cascade=orphan, then applied again: the left ReplicaSet is adopted, the Deployment rolls out.
        #expect(try await cluster.kubectl("delete", "deployment", "cache", "--cascade=orphan").status == 0)
        #expect(try await cluster.kubectl("apply", "-f", "-", stdin: manifest).status == 0)
        #expect(try await cluster.eventuallyReady("cache"))
        let owners = try await list(client, Self.replicaSets).compactMap { $0[path: ["metadata", "ownerReferences"]]?[0]?["uid"]?.stringValue }
        let uid = try await Api<Deployment>(client, namespace: "default").get("cache").metadata.uid
        #expect(owners == [uid], "\(owners)")
    }
}
