import Foundation
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// `fieldValidation` as kube-apiserver does it: kubectl sends Strict by default, the server's default is Warn.
@Suite struct FieldValidationTests {
    let deployment = """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      replica: 3
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers: [{name: app, image: "web:1", imagee: typo}]
    """

    @Test func kubectlStrictRefusesUnknownFieldsOfBuiltInKindsWarnAndIgnoreDropThem() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let strict = try await cluster.kubectl("apply", "-f", "-", stdin: deployment)
        #expect(strict.status != 0)
        #expect(strict.err.contains(#"Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replica", unknown field "spec.template.spec.containers[0].imagee""#), "\(strict.err)")
        #expect(try await Api<Deployment>(cluster.client(), namespace: "default").getIfExists("web") == nil)
        // --validate=warn: created, and kubectl prints the server's warnings.
        let warn = try await cluster.kubectl("apply", "--validate=warn", "-f", "-", stdin: deployment)
        #expect(warn.status == 0, "\(warn.err)")
        #expect(warn.err.contains(#"Warning: unknown field "spec.replica""#), "\(warn.err)")
        #expect(warn.err.contains(#"Warning: unknown field "spec.template.spec.containers[0].imagee""#), "\(warn.err)")
        let stored = try JSONParser.parse(try await cluster.kubectl("get", "deployment", "web", "-o", "json").out)
        #expect(stored[path: ["spec", "replica"]] == nil)  // not stored, as a Go struct would not hold it
        #expect(stored[path: ["spec", "template", "spec", "containers"]]?[0]?["imagee"] == nil)
        #expect(stored[path: ["spec", "template", "spec", "containers"]]?[0]?["image"] == "web:1")
        // --validate=false (Ignore): no warning.
        let ignore = try await cluster.kubectl("apply", "--validate=false", "-f", "-", stdin: deployment.replacingOccurrences(of: "web:1", with: "web:2"))
        #expect(ignore.status == 0, "\(ignore.err)")
        #expect(!ignore.err.contains("Warning"), "\(ignore.err)")
    }

    @Test func customResourcesAreCheckedAgainstTheirSchema() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        #expect(try await cluster.kubectl("apply", "-f", "-", stdin: widgetCRD).status == 0)
        let typo = """
            apiVersion: example.salespot.by/v1
            kind: Widget
            metadata: {name: w1, labelz: {a: b}}
            spec: {size: 3, sise: 4}
            """
        let strict = try await cluster.kubectl("create", "-f", "-", stdin: typo)
        #expect(strict.status != 0)
        #expect(strict.err.contains(#"Widget in version "v1" cannot be handled as a Widget: strict decoding error: "#), "\(strict.err)")
        #expect(strict.err.contains(#"unknown field "metadata.labelz""#) && strict.err.contains(#"unknown field "spec.sise""#), "\(strict.err)")
        // status preserves unknown fields (x-kubernetes-preserve-unknown-fields): nothing to report there.
        let fine = try await cluster.kubectl("create", "-f", "-", stdin: widget("w2", size: 3) + "\nstatus: {anything: 1}\n")
        #expect(fine.status == 0, "\(fine.err)")
    }

    @Test func duplicateFieldsPatchesAndServerSideApply() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = cluster.client()
        let duplicated = Array(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"},"data":{"a":"1"},"data":{"b":"2"}}"#.utf8)
        do {
            _ = try await client.send(method: "POST", path: "/api/v1/namespaces/default/configmaps", query: [("fieldValidation", "Strict")],
                                      body: duplicated, contentType: "application/json")
            Issue.record("a duplicate field was accepted under Strict")
        } catch let e as KubeError {
            #expect(e.code == 400)
            #expect(e.status?.message == #"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "data""#)
        }
        // Under the server's default (Warn) the last one wins and a warning says so.
        let created = try await client.send(method: "POST", path: "/api/v1/namespaces/default/configmaps", body: duplicated, contentType: "application/json")
        #expect(created.headers.fields.filter { $0.name.lowercased() == "warning" }.map(\.value).contains(#"299 - "duplicate field \"data\"""#), "\(created.headers)")
        #expect(try await Api<ConfigMap>(client, namespace: "default").get("d").data == ["b": "2"])
        // A merge patch that adds an undeclared field.
        do {
            _ = try await client.send(method: "PATCH", path: "/api/v1/namespaces/default/configmaps/d", query: [("fieldValidation", "Strict")],
                                      body: Array(#"{"dta":{"x":"y"}}"#.utf8), contentType: "application/merge-patch+json")
            Issue.record("an undeclared field was patched in under Strict")
        } catch let e as KubeError {
            #expect(e.code == 400)
            #expect(e.status?.message == #"strict decoding error: unknown field "dta""#)
        }
        // Server-side apply reports through structured-merge-diff's wording.
        let apply = try await cluster.kubectl("apply", "--server-side", "-f", "-", stdin: """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: s}
            dta: {x: y}
            """)
        #expect(apply.status != 0)
        #expect(apply.err.contains(".dta: field not declared in schema"), "\(apply.err)")
        // Whatever the directive (apply always types its configuration): kube-apiserver 1.32-1.36 answers 500.
        do {
            _ = try await client.send(method: "PATCH", path: "/api/v1/namespaces/default/configmaps/s",
                                      query: [("fieldManager", "m"), ("fieldValidation", "Ignore")],
                                      body: Array(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s"},"dta":{"x":"y"}}"#.utf8),
                                      contentType: "application/apply-patch+yaml")
            Issue.record("an apply with an undeclared field was accepted")
        } catch let e as KubeError {
            #expect(e.code == 500)
            #expect(e.status?.message == "failed to create typed patch object (default/s; /v1, Kind=ConfigMap): .dta: field not declared in schema")
        }
        // An unknown directive is refused as kube-apiserver validates it.
        do {
            _ = try await client.send(method: "POST", path: "/api/v1/namespaces/default/configmaps", query: [("fieldValidation", "Loose")],
                                      body: Array(#"{"metadata":{"name":"e"}}"#.utf8), contentType: "application/json")
            Issue.record("fieldValidation=Loose was accepted")
        } catch let e as KubeError {
            #expect(e.code == 422)
            #expect(e.status?.message?.contains(#"fieldValidation: Unsupported value: "Loose""#) == true)
        }
    }
}
