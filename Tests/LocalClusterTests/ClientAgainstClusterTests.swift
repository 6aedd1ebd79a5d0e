import Foundation
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// The foundation client against LocalCluster: the semantics controllers depend on.
@Suite struct ClientAgainstClusterTests {
    func cm(_ name: String, labels: [String: String] = [:], data: [String: String] = ["k": "v"]) -> ConfigMap {
        ConfigMap(metadata: ObjectMeta(name: name, namespace: "default", labels: labels), data: data)
    }

    @Test func watchResumesFromTheLastVersionAfterTheServerClosesTheStream() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let api = Api<ConfigMap>(cluster.client(), namespace: "default")
        let (_, startVersion) = try await api.listAll()
        var version = try #require(startVersion)
        var seen: [String] = []
        // First stream: see two creations, then the server cuts every watch.
        let first = api.watch(WatchOptions(resourceVersion: version))
        _ = try await api.create(cm("a"))
        _ = try await api.create(cm("b"))
        for try await event in first {
            if let o = event.object { seen.append(o.metadata.name!); version = o.metadata.resourceVersion! }
            if seen.count == 2 { await cluster.closeAllWatches() }
        }
        // Changes made while no watch is open are delivered when watching again from the last version.
        _ = try await api.create(cm("c"))
        _ = try await api.patch("a", .merge(["data": ["k": "changed"]]))
        let second = api.watch(WatchOptions(resourceVersion: version))
        for try await event in second {
            if case .modified(let o) = event { seen.append("\(o.metadata.name!)*") } else if let o = event.object { seen.append(o.metadata.name!) }
            if seen.count == 4 { break }
        }
        #expect(seen == ["a", "b", "c", "a*"])
    }

    @Test func resumingPastTheHistoryWindowGives410() async throws {
        let cluster = try await startCluster { $0.historyLimit = 5 }
        defer { Task { await cluster.stop() } }
        let api = Api<ConfigMap>(cluster.client(), namespace: "default")
        let created = try await api.create(cm("first"))
        for i in 0..<10 { _ = try await api.create(cm("n\(i)")) }
        do {
            for try await _ in api.watch(WatchOptions(resourceVersion: created.metadata.resourceVersion)) {}
            Issue.record("expected 410")
        } catch let e as KubeError {
            #expect(e.isExpired)
        }
        // A version inside the window still works.
        let recent = try await api.get("n8")
        let stream = api.watch(WatchOptions(resourceVersion: recent.metadata.resourceVersion))
        _ = try await api.create(cm("after"))
        for try await e in stream { #expect(e.object?.metadata.name == "n9"); break }
    }

    @Test func bookmarksCarryTheCurrentVersionAndWatchesEndAtTheirTimeout() async throws {
        let cluster = try await startCluster { $0.bookmarkInterval = .milliseconds(50) }
        defer { Task { await cluster.stop() } }
        let api = Api<ConfigMap>(cluster.client(), namespace: "default")
        let created = try await api.create(cm("a"))
        var bookmark: String?
        var events = 0
        // timeoutSeconds: 1 makes the server end the stream by itself.
        for try await e in api.watch(WatchOptions(resourceVersion: created.metadata.resourceVersion, timeoutSeconds: 1)) {
            if case .bookmark(let rv) = e { bookmark = rv } else { events += 1 }
        }
        #expect(events == 0)
        #expect(Int(bookmark ?? "") ?? 0 >= Int(created.metadata.resourceVersion!)!)
        #expect(await cluster.openWatches == 0)
    }

    @Test func staleUpdateGets409() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let api = Api<ConfigMap>(cluster.client(), namespace: "default")
        let original = try await api.create(cm("a"))
        var first = original
        first.data = ["k": "one"]
        _ = try await api.update(first)
        var stale = original
        stale.data = ["k": "two"]
        await #expect(throws: KubeError.self) { _ = try await api.update(stale) }
        do { _ = try await api.update(stale) } catch let e as KubeError { #expect(e.isConflict) }
        #expect(try await api.get("a").data?["k"] == "one")
    }

    @Test func paginationCoversEveryObjectOnce() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let api = Api<ConfigMap>(cluster.client(), namespace: "default")
        for i in 0..<23 { _ = try await api.create(cm(String(format: "cm-%02d", i))) }
        let page = try await api.list(ListOptions(limit: 10))
        #expect(page.items.count == 10)
        #expect(page.metadata.continue?.isEmpty == false)
        let (all, _) = try await api.listAll(pageSize: 10)
        #expect(all.count == 23)
        #expect(Set(all.compactMap(\.metadata.name)).count == 23)
    }

    @Test func ownedObjectsAreGarbageCollected() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = cluster.client()
        let maps = Api<ConfigMap>(client, namespace: "default")
        let secrets = Api<Secret>(client, namespace: "default")
        for (owner, policy) in [("owner-bg", DeleteOptions.PropagationPolicy.background), ("owner-orphan", .orphan), ("owner-fg", .foreground)] {
            let o = try await maps.create(cm(owner))
            var s = Secret(metadata: ObjectMeta(name: "dep-\(owner)", namespace: "default"), plainData: ["x": "y"])
            s.metadata.ownerReferences = [OwnerReference(apiVersion: "v1", kind: "ConfigMap", name: owner, uid: o.metadata.uid!, controller: true)]
            _ = try await secrets.create(s)
            _ = try await maps.delete(owner, options: DeleteOptions(propagationPolicy: policy))
        }
        #expect(try await secrets.getIfExists("dep-owner-bg") == nil)
        #expect(try await secrets.getIfExists("dep-owner-fg") == nil)
        let orphan = try #require(try await secrets.getIfExists("dep-owner-orphan"))
        #expect(orphan.metadata.ownerReferences == nil)
    }

    @Test func generationAndStatusSubresource() async throws {
        let cluster = try await startCluster { $0.simulateWorkloads = false }
        defer { Task { await cluster.stop() } }
        let api = Api<Deployment>(cluster.client(), namespace: "default")
        let template = PodTemplateSpec(metadata: ObjectMeta(labels: ["app": "web"]), spec: PodSpec(containers: [Container(name: "web", image: "web:1")]))
        var d = try await api.create(Deployment(metadata: ObjectMeta(name: "web"), spec: DeploymentSpec(replicas: 2, selector: LabelSelector(matchLabels: ["app": "web"]), template: template)))
        #expect(d.metadata.generation == 1)
        d.metadata.labels = ["touched": "yes"]
        d = try await api.update(d)
        #expect(d.metadata.generation == 1)  // metadata changes do not bump the generation
        var status = DeploymentStatus()
        status.readyReplicas = 2
        d.status = status
        d = try await api.updateStatus(d)
        #expect(d.metadata.generation == 1)
        #expect(d.status?.readyReplicas == 2)
        d.spec?.replicas = 3
        d.status?.readyReplicas = 0  // ignored by the main endpoint
        d = try await api.update(d)
        #expect(d.metadata.generation == 2)
        #expect(d.status?.readyReplicas == 2)
    }

    @Test func labelAndFieldSelectors() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let api = Api<ConfigMap>(cluster.client(), namespace: "default")
        _ = try await api.create(cm("a", labels: ["tier": "web", "env": "prod"]))
        _ = try await api.create(cm("b", labels: ["tier": "api", "env": "prod"]))
        _ = try await api.create(cm("c", labels: ["tier": "db"]))
        func names(_ selector: String) async throws -> [String] {
            try await api.list(ListOptions(labelSelector: selector)).items.compactMap(\.metadata.name).sorted()
        }
        #expect(try await names("env=prod") == ["a", "b"])
        #expect(try await names("tier!=web") == ["b", "c"])
        #expect(try await names("tier in (web,db)") == ["a", "c"])
        #expect(try await names("tier notin (web,db)") == ["b"])
        #expect(try await names("env") == ["a", "b"])
        #expect(try await names("!env") == ["c"])
        #expect(try await names("env=prod,tier=api") == ["b"])
        let byName = try await api.list(ListOptions(fieldSelector: "metadata.name=c")).items
        #expect(byName.map(\.metadata.name) == ["c"])
        await #expect(throws: KubeError.self) { _ = try await api.list(ListOptions(fieldSelector: "spec.foo=bar")) }
    }

    @Test func serverSideApplyOwnsFieldsAndReportsConflicts() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let api = Api<ConfigMap>(cluster.client(), namespace: "default")
        let created = try await api.apply(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "cfg"], "data": ["a": "1", "b": "2"]], fieldManager: "alice")
        #expect(created.data == ["a": "1", "b": "2"])
        #expect(created.metadata.managedFields?.first?["manager"] == "alice")
        do {
            _ = try await api.apply(["metadata": ["name": "cfg"], "data": ["a": "changed"]], fieldManager: "bob")
            Issue.record("expected a conflict")
        } catch let e as KubeError {
            #expect(e.isConflict)
            #expect(e.status?.message?.contains("alice") == true)
            #expect(e.status?.message?.contains(".data.a") == true)
        }
        let forced = try await api.apply(["metadata": ["name": "cfg"], "data": ["a": "changed"]], fieldManager: "bob", force: true)
        #expect(forced.data?["a"] == "changed")
        // alice stops applying b: it is removed; a now belongs to bob and stays.
        let again = try await api.apply(["metadata": ["name": "cfg"], "data": [:]], fieldManager: "alice")
        #expect(again.data == ["a": "changed"])
    }

    @Test func strategicMergeMergesContainersByName() async throws {
        let cluster = try await startCluster { $0.simulateWorkloads = false }
        defer { Task { await cluster.stop() } }
        let api = Api<Deployment>(cluster.client(), namespace: "default")
        let template = PodTemplateSpec(metadata: ObjectMeta(labels: ["app": "web"]),
                                       spec: PodSpec(containers: [Container(name: "web", image: "web:1"), Container(name: "sidecar", image: "side:1")]))
        _ = try await api.create(Deployment(metadata: ObjectMeta(name: "web"), spec: DeploymentSpec(selector: LabelSelector(matchLabels: ["app": "web"]), template: template)))
        let patched = try await api.patch("web", .strategicMerge(["spec": ["template": ["spec": ["containers": [["name": "web", "image": "web:2"]]]]]]))
        let containers = patched.spec?.template.spec?.containers ?? []
        #expect(containers.map(\.name) == ["web", "sidecar"])
        #expect(containers.first?.image == "web:2")
        #expect(containers.last?.image == "side:1")
    }

    @Test func deploymentsAndJobsAreSimulated() async throws {
        let cluster = try await startCluster {
            $0.localJobExecutables = ["sh": "/bin/sh"]
        }
        defer { Task { await cluster.stop() } }
        let client = cluster.client()
        let deployments = Api<Deployment>(client, namespace: "default")
        let template = PodTemplateSpec(metadata: ObjectMeta(labels: ["app": "web"]), spec: PodSpec(containers: [Container(name: "web", image: "web:1")]))
        _ = try await deployments.create(Deployment(metadata: ObjectMeta(name: "web"), spec: DeploymentSpec(replicas: 3, selector: LabelSelector(matchLabels: ["app": "web"]), template: template)))
        var ready: Deployment?
        for _ in 0..<200 {
            let d = try await deployments.get("web")
            if d.status?.readyReplicas == 3, d.status?.observedGeneration == d.metadata.generation { ready = d; break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(ready?.status?.availableReplicas == 3)
        #expect(ready?.status?.conditions?.contains { $0.type == "Available" && $0.status == "True" } == true)

        let jobs = Api<Job>(client, namespace: "default")
        func job(_ name: String, _ command: [String]) -> Job {
            Job(metadata: ObjectMeta(name: name), spec: JobSpec(template: PodTemplateSpec(spec: PodSpec(containers: [Container(name: "c", image: "img", command: command)], restartPolicy: "Never"))))
        }
        _ = try await jobs.create(job("ok", ["sh", "-c", "exit 0"]))
        _ = try await jobs.create(job("fails", ["sh", "-c", "echo broken >&2; exit 3"]))
        _ = try await jobs.create(job("other", ["/usr/bin/backup-tool"]))
        func finished(_ name: String) async throws -> Job? {
            for _ in 0..<250 {
                let j = try await jobs.get(name)
                if j.status?.conditions?.contains(where: { $0.status == "True" }) == true { return j }
                try await Task.sleep(for: .milliseconds(20))
            }
            return nil
        }
        #expect(try await finished("ok")?.status?.conditions?.contains { $0.type == "Complete" && $0.status == "True" } == true)
        let failed = try await finished("fails")
        // As the job controller words it; the container's own end is in its Pod.
        #expect(failed?.status?.conditions?.first { $0.type == "Failed" }?.reason == "BackoffLimitExceeded")
        let pods = try await Api<Pod>(client, namespace: "default").list(ListOptions(labelSelector: "job-name=fails")).items
        #expect(pods.count == 1)
        #expect(pods.first?.status?["phase"]?.stringValue == "Failed")
        #expect(pods.first?.status?[path: ["containerStatuses"]]?[0]?[path: ["state", "terminated", "exitCode"]]?.intValue == 3)
        #expect(pods.first?.metadata.ownerReferences?.first?.kind == "Job")
        #expect(try await finished("other")?.status?.succeeded == 1)
    }

    @Test func injectedFaultsAreSeenByTheClient() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let clock = ManualClock()
        let api = Api<ConfigMap>(cluster.client(clock: clock), namespace: "default")
        cluster.failNext(2, pathContains: "/configmaps", method: "GET", status: 429, retryAfterSeconds: 3)
        _ = try await api.list()
        #expect(clock.sleeps == [.seconds(3), .seconds(3)])
        cluster.failNext(1, pathContains: "/configmaps", status: 500)
        do { _ = try await api.list(); Issue.record("expected 500") } catch let e as KubeError { #expect(e.code == 500 && e.isRetryable) }
    }

    @Test func namespacesMustExistAndNamesMustBeValid() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = cluster.client()
        do { _ = try await Api<ConfigMap>(client, namespace: "nope").create(ConfigMap(metadata: ObjectMeta(name: "x", namespace: "nope"))); Issue.record("expected 404") }
        catch let e as KubeError { #expect(e.isNotFound) }
        do { _ = try await Api<ConfigMap>(client, namespace: "default").create(ConfigMap(metadata: ObjectMeta(name: "Bad_Name"))); Issue.record("expected 422") }
        catch let e as KubeError { #expect(e.isInvalid); #expect(e.status?.details?.causes?.first?.field == "metadata.name") }
        // Each kind's own rule, as kube-apiserver has it.
        let dynamic = { (r: ResourceDescriptor, ns: String?) in Api<DynamicObject>(client, resource: r, namespace: ns) }
        let clusterRoles = ResourceDescriptor(group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles", kind: "ClusterRole", namespaced: false)
        let refused: [(ResourceDescriptor, String?, String, String)] = [
            (ConfigMap.resource, "default", "a..b", "RFC 1123 subdomain"), (ConfigMap.resource, "default", "a.-b", "RFC 1123 subdomain"),
            (Service.resource, "default", "1web", "DNS-1035 label"), (Service.resource, "default", "web.v1", "DNS-1035 label"),
            (Namespace.resource, nil, "team.a", "RFC 1123 label"), (Namespace.resource, nil, String(repeating: "n", count: 64), "no more than 63"),
            (clusterRoles, nil, "a/b", "may not contain '/'"),
        ]
        for (resource, ns, name, words) in refused {
            do {
                _ = try await dynamic(resource, ns).create(DynamicObject(["apiVersion": .string(resource.apiVersion), "kind": .string(resource.kind),
                                                                          "metadata": ["name": .string(name)]]))
                Issue.record("expected 422 for \(resource.kind) \(name)")
            } catch let e as KubeError {
                #expect(e.isInvalid && e.status?.details?.causes?.first?.message?.contains(words) == true, "\(resource.kind) \(name): \(e)")
            }
        }
        // What those rules allow: dots in a ConfigMap's name, a colon in an RBAC object's.
        _ = try await dynamic(ConfigMap.resource, "default").create(DynamicObject(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "app.v1.config"]]))
        _ = try await dynamic(clusterRoles, nil).create(DynamicObject(["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                                                               "metadata": ["name": "system:salespot-reader"], "rules": []]))
        do { _ = try await Api<ConfigMap>(client, namespace: "default").create(cm("dup")); _ = try await Api<ConfigMap>(client, namespace: "default").create(cm("dup")); Issue.record("expected 409") }
        catch let e as KubeError { #expect(e.isAlreadyExists) }
    }

    /// Label and annotation syntax as kube-apiserver's ValidateObjectMeta: on create, update and patch alike.
    @Test func labelsAndAnnotationsMustBeValid() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let api = Api<ConfigMap>(cluster.client(), namespace: "default")
        for (labels, annotations, field) in [(["bad key": "x"], [String: String](), "metadata.labels"),
                                             (["app": "bad value!"], [:], "metadata.labels"),
                                             (["app": String(repeating: "v", count: 64)], [:], "metadata.labels"),
                                             (["Example.com/app": "x"], [:], "metadata.labels"),
                                             (["/app": "x"], [:], "metadata.labels"),
                                             ([:], ["a/b/c": "x"], "metadata.annotations"),
                                             ([:], ["big": String(repeating: "x", count: 256 * 1024)], "metadata.annotations")] {
            do {
                _ = try await api.create(ConfigMap(metadata: ObjectMeta(name: "labelled", labels: labels, annotations: annotations)))
                Issue.record("expected 422 for \(labels) \(annotations.mapValues(\.count))")
            } catch let e as KubeError {
                #expect(e.isInvalid && e.status?.details?.causes?.first?.field == field, "\(e)")
            }
        }
        // Valid ones: a prefixed key, an empty value, upper case in names and in annotation keys.
        _ = try await api.create(ConfigMap(metadata: ObjectMeta(name: "labelled", labels: ["salespot.by/Tier": "Web_1", "empty": ""],
                                                                annotations: ["Example.com/Note": "anything at all: ✓"])))
        do {
            _ = try await api.patch("labelled", .merge(["metadata": ["labels": ["x": "no spaces allowed"]]]))
            Issue.record("expected 422 on a patch")
        } catch let e as KubeError { #expect(e.isInvalid) }
        #expect(try await api.get("labelled").metadata.labels?["x"] == nil)
        // A value that is not a string cannot be decoded (400), as kube-apiserver answers.
        let dynamic = Api<DynamicObject>(cluster.client(), resource: ConfigMap.resource, namespace: "default")
        do {
            _ = try await dynamic.create(DynamicObject(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "numeric", "labels": ["n": 1]]]))
            Issue.record("expected 400")
        } catch let e as KubeError { #expect(e.code == 400, "\(e)") }
        // Pod templates and selectors are held to the same rules; a Job's name must fit its pods' job-name label.
        let deployments = Api<DynamicObject>(cluster.client(), resource: Deployment.resource, namespace: "default")
        for (template, selector, field) in [(["app": "web", "team": "bad value!"], ["app": "web"], "spec.template.metadata.labels"),
                                            (["app": "web"], ["app": "web", "bad key!": "x"], "spec.selector.matchLabels")] {
            do {
                _ = try await deployments.create(DynamicObject(["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
                    "spec": ["selector": ["matchLabels": .object(JSONObject(selector.mapValues { .string($0) }))],
                             "template": ["metadata": ["labels": .object(JSONObject(template.mapValues { .string($0) }))],
                                          "spec": ["containers": [["name": "web", "image": "web:1"]]]]]]))
                Issue.record("expected 422 for \(field)")
            } catch let e as KubeError {
                #expect(e.isInvalid && e.status?.details?.causes?.first?.field == field, "\(e)")
            }
        }
        let jobs = Api<DynamicObject>(cluster.client(), resource: Job.resource, namespace: "default")
        do {
            _ = try await jobs.create(DynamicObject(["apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": .string(String(repeating: "j", count: 64))],
                "spec": ["template": ["spec": ["restartPolicy": "Never", "containers": [["name": "j", "image": "busybox"]]]]]]))
            Issue.record("expected 422 for a 64-character Job name")
        } catch let e as KubeError { #expect(e.isInvalid, "\(e)") }
    }

    /// apps/v1 selectors as kube-apiserver validates them: required, not empty, valid matchExpressions, matching the
    /// template, and immutable.
    @Test func workloadSelectorsAreValidatedAndImmutable() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let deployments = Api<DynamicObject>(cluster.client(), resource: Deployment.resource, namespace: "default")
        func deployment(_ selector: JSONValue?, labels: JSONValue = ["app": "web", "tier": "front"]) -> DynamicObject {
            var spec: JSONValue = ["template": ["metadata": ["labels": labels], "spec": ["containers": [["name": "web", "image": "web:1"]]]]]
            if let selector { spec["selector"] = selector }
            return DynamicObject(["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"], "spec": spec])
        }
        let refused: [(JSONValue?, String, String)] = [
            (nil, "spec.selector", "Required value"),
            ([:], "spec.selector", "empty selector is invalid"),
            (["matchLabels": ["app": "api"]], "spec.template.metadata.labels", "does not match template"),
            (["matchExpressions": [["key": "tier", "operator": "In", "values": []]]], "spec.selector.matchExpressions[0].values", "must be specified"),
            (["matchExpressions": [["key": "tier", "operator": "Exists", "values": ["front"]]]], "spec.selector.matchExpressions[0].values", "may not be specified"),
            (["matchExpressions": [["key": "tier", "operator": "Matches", "values": ["front"]]]], "spec.selector.matchExpressions[0].operator", "Unsupported value"),
            (["matchExpressions": [["key": "bad key!", "operator": "Exists"]]], "spec.selector.matchExpressions[0].key", "Invalid value"),
            (["matchExpressions": [["key": "tier", "operator": "In", "values": ["not valid!"]]]], "spec.selector.matchExpressions[0].values[0]", "Invalid value"),
            (["matchLabels": ["app": "web"], "matchExpressions": [["key": "tier", "operator": "NotIn", "values": ["front"]]]], "spec.template.metadata.labels", "does not match template"),
        ]
        for (selector, field, words) in refused {
            do {
                _ = try await deployments.create(deployment(selector))
                Issue.record("expected 422 for \(String(describing: selector))")
            } catch let e as KubeError {
                let cause = e.status?.details?.causes?.first
                #expect(e.isInvalid && cause?.field == field && cause?.message?.contains(words) == true, "\(String(describing: selector)): \(e)")
            }
        }
        // Expressions that match the template are accepted; the selector cannot change afterwards, by update or patch.
        _ = try await deployments.create(deployment(["matchLabels": ["app": "web"], "matchExpressions": [["key": "tier", "operator": "In", "values": ["front", "back"]],
                                                                                                      ["key": "canary", "operator": "DoesNotExist"]]]))
        do {
            _ = try await deployments.patch("web", .merge(["spec": ["selector": ["matchLabels": ["app": "web", "tier": "front"]]]]))
            Issue.record("expected 422: the selector is immutable")
        } catch let e as KubeError {
            #expect(e.isInvalid && e.status?.details?.causes?.first?.field == "spec.selector" && e.status?.details?.causes?.first?.message?.contains("field is immutable") == true, "\(e)")
        }
        // A change elsewhere is fine.
        _ = try await deployments.patch("web", .merge(["spec": ["replicas": 3]]))
    }

    @Test func stateSurvivesARestartWithADataDirectory() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try await startCluster { $0.dataDirectory = dir }
        try await first.installCRDs(widgetCRD)
        let api = Api<ConfigMap>(first.client(), namespace: "default")
        _ = try await api.create(cm("kept"))
        _ = try await Api<DynamicObject>(first.client(), resource: widgetResource, namespace: "default")
            .create(DynamicObject(["apiVersion": "example.salespot.by/v1", "kind": "Widget", "metadata": ["name": "w"], "spec": ["size": 2]]))
        let version = try await api.get("kept").metadata.resourceVersion!
        await first.stop()
        let second = try await startCluster { $0.dataDirectory = dir }
        defer { Task { await second.stop() } }
        let kept = try await Api<ConfigMap>(second.client(), namespace: "default").get("kept")
        #expect(kept.metadata.resourceVersion == version)
        let w = try await Api<DynamicObject>(second.client(), resource: widgetResource, namespace: "default").get("w")
        #expect(w[path: ["spec", "size"]] == 2)
        // Versions keep increasing after a restart.
        let next = try await Api<ConfigMap>(second.client(), namespace: "default").create(cm("new"))
        #expect(Int(next.metadata.resourceVersion!)! > Int(version)!)
    }
}
