import Foundation
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// LocalCluster refuses what kube-apiserver refuses, in the same words.
@Suite struct StrictnessTests {
    func cm(_ name: String) -> ConfigMap { ConfigMap(metadata: ObjectMeta(name: name, namespace: "default"), data: ["k": "v"]) }

    @Test func serverSideApplyWithoutAFieldManagerIs422() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = cluster.client()
        let body = Array(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}"#.utf8)
        do {
            _ = try await client.send(method: "PATCH", path: "/api/v1/namespaces/default/configmaps/a", body: body,
                                      contentType: "application/apply-patch+yaml")
            Issue.record("an apply without fieldManager was accepted")
        } catch let e as KubeError {
            #expect(e.code == 422)
            #expect(e.status?.reason == "Invalid")
            #expect(e.status?.message == #"PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch"#)
        }
        // force belongs to applies only.
        _ = try await Api<ConfigMap>(client, namespace: "default").create(cm("b"))
        do {
            _ = try await client.send(method: "PATCH", path: "/api/v1/namespaces/default/configmaps/b", query: [("force", "true")],
                                      body: Array(#"{"data":{"k":"w"}}"#.utf8), contentType: "application/merge-patch+json")
            Issue.record("force on a merge patch was accepted")
        } catch let e as KubeError {
            #expect(e.code == 422)
            #expect(e.status?.message?.contains("force: Forbidden: may not be specified for non-apply patch") == true)
        }
        // With a field manager the same apply works.
        let applied = try await client.send(method: "PATCH", path: "/api/v1/namespaces/default/configmaps/a",
                                            query: [("fieldManager", "test")], body: body, contentType: "application/apply-patch+yaml")
        #expect(applied.status == 201)
    }

    @Test func aWatchFromBeforeTheServerStartedGets410() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let api = Api<ConfigMap>(cluster.client(), namespace: "default")
        do {
            for try await _ in api.watch(WatchOptions(resourceVersion: "1")) {}
            Issue.record("a fresh server resumed a watch from before it started")
        } catch let e as KubeError {
            #expect(e.isExpired)
        }
    }

    @Test func theWatchHistoryIsBoundedByTimePerResource() async throws {
        let cluster = try await startCluster { o in
            o.historyWindow = .milliseconds(300)
            o.historyMinimum = 1
        }
        defer { Task { await cluster.stop() } }
        let client = cluster.client()
        let maps = Api<ConfigMap>(client, namespace: "default")
        let secrets = Api<Secret>(client, namespace: "default")
        let first = try await maps.create(cm("old"))
        _ = try await maps.create(cm("old2"))
        _ = try await maps.create(cm("old3"))
        let secret = try await secrets.create(Secret(metadata: ObjectMeta(name: "s", namespace: "default"), plainData: ["a": "b"]))
        try await Task.sleep(for: .milliseconds(500))
        // A new ConfigMap event drops the ConfigMap events older than the window (beyond the minimum of 1) ...
        _ = try await maps.create(cm("new"))
        do {
            for try await _ in maps.watch(WatchOptions(resourceVersion: first.metadata.resourceVersion, timeoutSeconds: 5)) {}
            Issue.record("resumed from an event older than the window")
        } catch let e as KubeError {
            #expect(e.isExpired)
        }
        // ... but not the Secrets' history: each resource keeps its own.
        let stream = secrets.watch(WatchOptions(resourceVersion: first.metadata.resourceVersion))
        _ = try await secrets.patch("s", .merge(["metadata": ["labels": ["x": "y"]]]))
        for try await e in stream {
            #expect(e.object?.metadata.name == "s")
            #expect(e.object?.metadata.resourceVersion == secret.metadata.resourceVersion)  // the create, replayed
            break
        }
    }
}
