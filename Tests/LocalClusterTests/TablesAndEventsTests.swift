import Foundation
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// What kubectl shows: kube-apiserver's columns for built-in kinds, and one Event store seen through both APIs.
@Suite struct TablesAndEventsTests {
    func header(_ out: String) -> [Substring] { out.split(separator: "\n").first?.split(separator: " ", omittingEmptySubsequences: true) ?? [] }
    func row(_ out: String, _ name: String) -> [Substring] {
        out.split(separator: "\n").first { $0.hasPrefix(name + " ") }?.split(separator: " ", omittingEmptySubsequences: true) ?? []
    }

    @Test func builtInKindsPrintTheColumnsKubeApiserverPrints() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let applied = try await cluster.kubectl("apply", "-f", "-", stdin: """
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec:
              selector: {app: web, tier: front}
              ports: [{port: 80, targetPort: 8080}, {name: dns, port: 53, protocol: UDP}]
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 2
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec: {containers: [{name: app, image: "web:1"}, {name: proxy, image: "envoy:1"}]}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: creds}
            type: kubernetes.io/basic-auth
            stringData: {username: a, password: b}
            """)
        #expect(applied.status == 0, "\(applied.err)")
        let services = try await cluster.kubectl("get", "svc", "web")
        #expect(header(services.out) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], "\(services.out)")
        let svc = row(services.out, "web")
        #expect(svc.count == 6 && svc[1] == "ClusterIP" && svc[3] == "<none>" && svc[4] == "80/TCP,53/UDP", "\(services.out)")
        let wide = try await cluster.kubectl("get", "svc", "web", "-o", "wide")
        #expect(header(wide.out).last == "SELECTOR")
        #expect(row(wide.out, "web").last == "app=web,tier=front", "\(wide.out)")
        #expect(try await cluster.eventuallyReady("web"))
        let deployments = try await cluster.kubectl("get", "deploy", "-o", "wide")
        #expect(header(deployments.out) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"], "\(deployments.out)")
        let d = row(deployments.out, "web")
        #expect(d.count == 8 && d[1] == "2/2" && d[2] == "2" && d[5] == "app,proxy" && d[6] == "web:1,envoy:1" && d[7] == "app=web", "\(deployments.out)")
        let secrets = try await cluster.kubectl("get", "secret", "creds")
        #expect(header(secrets.out) == ["NAME", "TYPE", "DATA", "AGE"])
        #expect(row(secrets.out, "creds").prefix(3) == ["creds", "kubernetes.io/basic-auth", "2"], "\(secrets.out)")
        let namespaces = try await cluster.kubectl("get", "ns", "default")
        #expect(header(namespaces.out) == ["NAME", "STATUS", "AGE"])
        #expect(row(namespaces.out, "default").prefix(2) == ["default", "Active"])
    }

    @Test func oneEventStoreServedAsCoreAndEventsAPIs() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = cluster.client()
        let cm = try await Api<ConfigMap>(client, namespace: "default").create(ConfigMap(metadata: ObjectMeta(name: "cfg", namespace: "default")))
        let now = Time.now()
        // Recorded as a controller records it: events.k8s.io/v1.
        let event: JSONValue = [
            "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": ["name": "cfg.1", "namespace": "default"],
            "eventTime": .string(MicroTime(now).description), "reportingController": "salespot.by/operator", "reportingInstance": "pod-1",
            "action": "Sync", "reason": "Synced", "type": "Normal", "note": "configuration synced",
            "regarding": ["apiVersion": "v1", "kind": "ConfigMap", "name": "cfg", "namespace": "default", "uid": .string(cm.metadata.uid ?? "")],
        ]
        _ = try await client.send(method: "POST", path: "/apis/events.k8s.io/v1/namespaces/default/events", body: event.serialized(), contentType: "application/json")
        // core/v1 sees the same object, converted.
        let core = try JSONParser.parse(try await cluster.kubectl("get", "events", "cfg.1", "-o", "json").out)
        #expect(core["apiVersion"] == "v1")
        #expect(core["message"] == "configuration synced")
        #expect(core[path: ["involvedObject", "name"]] == "cfg")
        #expect(core["reportingComponent"] == "salespot.by/operator")
        #expect(core["note"] == nil && core["regarding"] == nil)
        let table = try await cluster.kubectl("get", "events")
        #expect(header(table.out) == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], "\(table.out)")
        #expect(table.out.contains("Normal") && table.out.contains("Synced") && table.out.contains("configmap/cfg") && table.out.contains("configuration synced"), "\(table.out)")
        // describe finds it through the core API's field selectors on involvedObject.
        let describe = try await cluster.kubectl("describe", "configmap", "cfg")
        #expect(describe.status == 0, "\(describe.err)")
        #expect(describe.out.contains("Synced") && describe.out.contains("configuration synced"), "\(describe.out)")
        // The events.k8s.io view and its field selectors.
        let view = try await Api<Event>(client, namespace: "default").list(ListOptions(fieldSelector: "regarding.name=cfg")).items
        #expect(view.count == 1 && view.first?.note == "configuration synced" && view.first?.regarding?.kind == "ConfigMap")
        #expect(try await Api<Event>(client, namespace: "default").list(ListOptions(fieldSelector: "regarding.name=other")).items.isEmpty)
        // A folded series: its newest step is what LAST SEEN and COUNT show.
        _ = try await Api<Event>(client, namespace: "default").patch("cfg.1", .merge(["series": ["count": 5, "lastObservedTime": .string(MicroTime(now).description)]]))
        let wide = try await cluster.kubectl("get", "events", "-o", "wide")
        #expect(wide.out.contains(" 5 "), "\(wide.out)")
        do {
            _ = try await Api<Event>(client, namespace: "default").list(ListOptions(fieldSelector: "involvedObject.name=cfg"))
            Issue.record("events.k8s.io accepted a core field label")
        } catch let e as KubeError {
            #expect(e.code == 400)
        }
    }
}

extension LocalCluster {
    /// Waits (5 s at most) for a Deployment's simulated rollout to finish, as `kubectl rollout status` sees it.
    func eventuallyReady(_ name: String) async throws -> Bool {
        for _ in 0..<100 {
            if let d = try await Api<Deployment>(client(), namespace: "default").getIfExists(name), let s = d.status, let want = d.spec?.replicas,
               (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 1), (s.updatedReplicas ?? 0) == want,
               (s.replicas ?? 0) == want, (s.availableReplicas ?? 0) == want { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
