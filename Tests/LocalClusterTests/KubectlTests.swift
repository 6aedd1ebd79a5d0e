import Foundation
import Synchronization
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// The real kubectl (/usr/bin/kubectl) against LocalCluster.
@Suite struct KubectlTests {
    @Test func applyCRDThenCustomResourceAndGetInEveryOutput() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let crd = try await cluster.kubectl("apply", "-f", "-", stdin: widgetCRD)
        #expect(crd.status == 0, "\(crd.err)")
        #expect(crd.out.contains("customresourcedefinition.apiextensions.k8s.io/widgets.example.salespot.by created"))
        let cr = try await cluster.kubectl("apply", "-f", "-", stdin: widget("w1", size: 3))
        #expect(cr.status == 0, "\(cr.err)")
        #expect(cr.out.contains("widget.example.salespot.by/w1 created"))

        let table = try await cluster.kubectl("get", "wg")
        #expect(table.status == 0, "\(table.err)")
        let lines = table.out.split(separator: "\n")
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "SIZE", "READY", "AGE"])
        #expect(lines.dropFirst().first?.hasPrefix("w1 ") == true)
        #expect(lines.dropFirst().first?.contains(" 3 ") == true)

        let json = try JSONParser.parse(try await cluster.kubectl("get", "widget", "w1", "-o", "json").out)
        #expect(json[path: ["spec", "size"]] == 3)
        #expect(json[path: ["spec", "color"]] == "red")  // defaulted from the schema
        #expect(json[path: ["metadata", "generation"]] == 1)
        let yaml = try YAML.parse(try await cluster.kubectl("get", "widgets.example.salespot.by", "w1", "-o", "yaml").out)
        #expect(yaml["kind"] == "Widget")
        #expect(yaml[path: ["metadata", "uid"]] == json[path: ["metadata", "uid"]])

        // A second apply with a changed field updates it and bumps the generation.
        let again = try await cluster.kubectl("apply", "-f", "-", stdin: widget("w1", size: 5))
        #expect(again.out.contains("configured"), "\(again.out) \(again.err)")
        let after = try JSONParser.parse(try await cluster.kubectl("get", "wg", "w1", "-o", "json").out)
        #expect(after[path: ["spec", "size"]] == 5)
        #expect(after[path: ["metadata", "generation"]] == 2)
        let namespaces = try await cluster.kubectl("get", "namespaces")
        #expect(namespaces.out.contains("default"))
        #expect(try await cluster.kubectl("api-resources").out.contains("widgets"))
    }

    @Test func schemaViolationIsRejectedNamingTheField() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        try await cluster.kubectl("apply", "-f", "-", stdin: widgetCRD)
        let bad = try await cluster.kubectl("apply", "-f", "-", stdin: """
        apiVersion: example.salespot.by/v1
        kind: Widget
        metadata: {name: bad}
        spec: {size: 50, color: green, name: "UPPER"}
        """)
        #expect(bad.status != 0)
        #expect(bad.err.contains("spec.size"), "\(bad.err)")
        #expect(bad.err.contains("less than or equal to 10"))
        #expect(bad.err.contains("spec.color"))
        #expect(bad.err.contains("spec.name"))
        let missing = try await cluster.kubectl("apply", "-f", "-", stdin: "apiVersion: example.salespot.by/v1\nkind: Widget\nmetadata: {name: empty}\nspec: {}\n")
        #expect(missing.err.contains("spec.size: Required value"), "\(missing.err)")
        #expect(try await cluster.kubectl("get", "wg", "bad").status != 0)
    }

    @Test func patchMergeJSONAndStatus() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        try await cluster.kubectl("apply", "-f", "-", stdin: widgetCRD)
        try await cluster.kubectl("apply", "-f", "-", stdin: widget("w1", size: 3))
        #expect(try await cluster.kubectl("patch", "wg", "w1", "--type=merge", "-p", #"{"spec":{"size":7}}"#).status == 0)
        #expect(try await cluster.kubectl("get", "wg", "w1", "-o", "jsonpath={.spec.size}").out == "7")
        #expect(try await cluster.kubectl("patch", "wg", "w1", "--type=json", "-p", #"[{"op":"replace","path":"/spec/size","value":8}]"#).status == 0)
        #expect(try await cluster.kubectl("get", "wg", "w1", "-o", "jsonpath={.spec.size}").out == "8")
        let status = try await cluster.kubectl("patch", "wg", "w1", "--subresource=status", "--type=merge",
                                         "-p", #"{"status":{"conditions":[{"type":"Ready","status":"True"}]},"spec":{"size":1}}"#)
        #expect(status.status == 0, "\(status.err)")
        let o = try JSONParser.parse(try await cluster.kubectl("get", "wg", "w1", "-o", "json").out)
        #expect(o[path: ["status", "conditions"]]?[0]?["status"] == "True")
        #expect(o[path: ["spec", "size"]] == 8)  // /status ignores spec changes
        #expect(o[path: ["metadata", "generation"]] == 3)  // two spec patches, no bump from status
        #expect(try await cluster.kubectl("get", "wg").out.contains("True"))
        // The main endpoint ignores status changes.
        try await cluster.kubectl("patch", "wg", "w1", "--type=merge", "-p", #"{"status":{"conditions":[]}}"#)
        let o2 = try JSONParser.parse(try await cluster.kubectl("get", "wg", "w1", "-o", "json").out)
        #expect(o2[path: ["status", "conditions"]]?[0]?["status"] == "True")
    }

    @Test func getWatchSeesAChange() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        try await cluster.kubectl("apply", "-f", "-", stdin: widgetCRD)
        try await cluster.kubectl("apply", "-f", "-", stdin: widget("w1", size: 3))
        let kubectl = try requireTool("kubectl")
        let watcher = Process()
        watcher.executableURL = URL(fileURLWithPath: kubectl)
        watcher.arguments = ["--kubeconfig", cluster.kubeconfigPath, "get", "wg", "-w", "-o", "jsonpath={.spec.size}{\"\\n\"}"]
        let out = Pipe()
        watcher.standardInput = FileHandle.nullDevice
        watcher.standardOutput = out
        watcher.standardError = FileHandle.nullDevice
        try watcher.run()
        defer { stopProcess(watcher) }
        // Wait for kubectl's watch to be open before changing the object.
        for _ in 0..<200 where await cluster.openWatches == 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await cluster.openWatches >= 1)
        try await cluster.kubectl("patch", "wg", "w1", "--type=merge", "-p", #"{"spec":{"size":9}}"#)
        // Read kubectl's output on its own thread; poll it from here.
        let buffer = Mutex("")
        let handle = out.fileHandleForReading
        Thread.detachNewThread {
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { return }
                buffer.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
            }
        }
        for _ in 0..<250 where !buffer.withLock({ $0.contains("9\n") }) { try await Task.sleep(for: .milliseconds(20)) }
        let seen = buffer.withLock { $0 }
        #expect(seen.contains("3\n"))
        #expect(seen.contains("9\n"))
    }

    @Test func deleteWithAFinalizerWaitsUntilItIsRemoved() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        try await cluster.kubectl("apply", "-f", "-", stdin: widgetCRD)
        try await cluster.kubectl("apply", "-f", "-", stdin: widget("w1", size: 3))
        try await cluster.kubectl("patch", "wg", "w1", "--type=merge", "-p", #"{"metadata":{"finalizers":["example.salespot.by/hold"]}}"#)
        let kubectl = try requireTool("kubectl")
        let deleter = Process()
        deleter.executableURL = URL(fileURLWithPath: kubectl)
        deleter.arguments = ["--kubeconfig", cluster.kubeconfigPath, "delete", "wg", "w1", "--timeout=60s"]
        deleter.standardInput = FileHandle.nullDevice
        deleter.standardOutput = FileHandle.nullDevice
        deleter.standardError = FileHandle.nullDevice
        try deleter.run()
        defer { stopProcess(deleter) }
        let api = Api<DynamicObject>(cluster.client(), resource: widgetResource, namespace: "default")
        var marked: DynamicObject?
        for _ in 0..<200 {
            marked = try await api.get("w1")
            if marked?.metadata.deletionTimestamp != nil { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(marked?.metadata.deletionTimestamp != nil)
        // Still there, and kubectl is still waiting.
        #expect(deleter.isRunning)
        _ = try await api.patch("w1", .json([.remove("/metadata/finalizers")]))
        for _ in 0..<300 where deleter.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!deleter.isRunning)
        #expect(deleter.terminationStatus == 0)
        #expect(try await api.getIfExists("w1") == nil)
    }

    @Test func requestsWithoutTheTokenAreRefused() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        var config = cluster.clientConfiguration()
        config.auth = .none
        do {
            _ = try await Api<ConfigMap>(KubeClient(configuration: config), namespace: "default").list()
            Issue.record("expected 401")
        } catch let e as KubeError {
            #expect(e.code == 401)
        }
    }
}

/// kubectl's imperative commands: protobuf bodies for built-in kinds, and the scale subresource.
@Suite struct KubectlImperativeTests {
    @Test func createConfigMapSecretNamespaceDeploymentAndScale() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = cluster.client()
        for args in [["create", "configmap", "demo", "--from-literal=a=b", "--from-literal=c=d"],
                     ["create", "secret", "generic", "creds", "--from-literal=password=s3cret"],
                     ["create", "namespace", "team-a"],
                     ["create", "deployment", "web", "--image=registry.salespot.by/web:1", "--replicas=2", "--port=8080"],
                     ["create", "role", "reader", "--verb=get,list", "--resource=pods,configmaps"],
                     ["create", "rolebinding", "reader", "--role=reader", "--serviceaccount=default:operator"],
                     ["create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=1"]] {
            let r = try await cluster.kubectl(args)
            #expect(r.status == 0, "kubectl \(args.joined(separator: " ")): \(r.err)")
        }
        let role = try JSONParser.parse(try await cluster.kubectl("get", "role", "reader", "-o", "json").out)
        #expect(role["rules"]?[0]?["verbs"] == ["get", "list"])
        let binding = try JSONParser.parse(try await cluster.kubectl("get", "rolebinding", "reader", "-o", "json").out)
        #expect(binding[path: ["roleRef", "name"]] == "reader" && binding["subjects"]?[0]?["kind"] == "ServiceAccount")
        let cm = try await Api<ConfigMap>(client, namespace: "default").get("demo")
        #expect(cm.data == ["a": "b", "c": "d"])
        let secret = try await Api<Secret>(client, namespace: "default").get("creds")
        #expect(secret.data?["password"] == "czNjcmV0")  // base64 of s3cret
        #expect(try await Api<Namespace>(client).getIfExists("team-a") != nil)
        let d = try await Api<Deployment>(client, namespace: "default").get("web")
        #expect(d.spec?.replicas == 2)
        #expect(d.spec?.template.spec?.containers.first?.image == "registry.salespot.by/web:1")
        #expect(d.spec?.template.metadata?.labels?["app"] == "web")
        #expect(d.spec?.template.spec?.containers.first?.ports?.first?.containerPort == 8080)
        // kubectl scale goes through deployments/scale.
        let scaled = try await cluster.kubectl("scale", "deployment", "web", "--replicas=3")
        #expect(scaled.status == 0, "\(scaled.err)")
        #expect(scaled.out.contains("deployment.apps/web scaled"), "\(scaled.out)")
        #expect(try await Api<Deployment>(client, namespace: "default").get("web").spec?.replicas == 3)
        let stale = try await cluster.kubectl("scale", "deployment", "web", "--replicas=1", "--current-replicas=2")
        #expect(stale.status != 0)  // the precondition does not hold
        #expect(try await Api<Deployment>(client, namespace: "default").get("web").spec?.replicas == 3)
        let scale = try JSONParser.parse(try await cluster.kubectl("get", "--raw", "/apis/apps/v1/namespaces/default/deployments/web/scale").out)
        #expect(scale["kind"] == "Scale" && scale[path: ["spec", "replicas"]] == 3 && scale[path: ["status", "selector"]] == "app=web")
        // To zero with a precondition: a PUT whose replicas is omitted (omitempty) means 0.
        let zero = try await cluster.kubectl("scale", "deployment", "web", "--replicas=0", "--current-replicas=3")
        #expect(zero.status == 0, "\(zero.err)")
        #expect(try await Api<Deployment>(client, namespace: "default").get("web").spec?.replicas == 0)
        // Field selectors with kube's defaults: a namespace created here is Active, a Secret without a type is Opaque.
        let active = try await cluster.kubectl("get", "ns", "--field-selector", "status.phase=Active", "-o", "name")
        #expect(active.out.contains("namespace/team-a"), "\(active.out) \(active.err)")
        let opaque = try await cluster.kubectl("get", "secrets", "--field-selector", "type=Opaque", "-o", "name")
        #expect(opaque.out.contains("secret/creds"), "\(opaque.out) \(opaque.err)")
        let refused = try await cluster.kubectl("get", "ns", "--field-selector", "metadata.namespace=x")
        #expect(refused.status != 0 && refused.err.contains("field label not supported"), "\(refused.err)")
    }
}
