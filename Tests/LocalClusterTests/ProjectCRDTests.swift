import Foundation
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// The project's own CRDs (crds/) and samples (manifests/samples/) against LocalCluster and the real kubectl.
@Suite struct ProjectCRDTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func installProjectCRDs(_ cluster: LocalCluster) async throws -> [String] {
        let dir = Self.repository + "/crds"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }.sorted()
        for f in files { try await cluster.installCRDs(try String(contentsOfFile: dir + "/" + f, encoding: .utf8)) }
        return files
    }

    @Test func aCRDWhoseSchemaHasANonSchemaPropertyIsRefused() async throws {
        var options = LocalCluster.Options()
        options.pkiDirectory = sharedPKI
        let cluster = try await LocalCluster.start(options)
        defer { Task { await cluster.stop() } }
        // An indentation slip: `list:` ends up null and its schema's keys become sibling properties.
        let crd = """
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata: {name: gadgets.example.com}
            spec:
              group: example.com
              scope: Namespaced
              names: {plural: gadgets, kind: Gadget}
              versions:
              - name: v1
                served: true
                storage: true
                schema:
                  openAPIV3Schema:
                    type: object
                    properties:
                      spec:
                        type: object
                        properties:
                          list:
                          items: {type: string}
            """
        do {
            try await cluster.installCRDs(crd)
            Issue.record("the CRD was accepted")
        } catch {
            #expect("\(error)".contains("properties[list]"), "\(error)")
        }
        // A comma in an unquoted flow-mapping value starts a new key: kubectl apply (Strict) refuses the unknown field.
        let comma = """
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata: {name: widgets.example.com}
            spec:
              group: example.com
              scope: Namespaced
              names: {plural: widgets, kind: Widget}
              versions:
              - name: v1
                served: true
                storage: true
                additionalPrinterColumns:
                - {name: Size, type: integer, jsonPath: .spec.size, description: One, or two.}
                schema:
                  openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}
            """
        do {
            try await cluster.installCRDs(comma)
            Issue.record("the CRD with a stray key was accepted")
        } catch {
            #expect("\(error)".contains("unknown field") && "\(error)".contains("or two."), "\(error)")
        }
    }

    @Test func everyCRDHasShortNamesPrinterColumnsAndDescriptions() throws {
        let dir = Self.repository + "/crds"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }
        #expect(!files.isEmpty)
        for f in files {
            let crd = try YAML.parse(try String(contentsOfFile: dir + "/" + f, encoding: .utf8))
            #expect(crd[path: ["spec", "group"]] == "ops.salespot.by", "\(f)")
            let shortNames = crd[path: ["spec", "names", "shortNames"]]?.arrayValue ?? []
            #expect(shortNames.isEmpty == false, "\(f) needs short names")
            for version in crd[path: ["spec", "versions"]]?.arrayValue ?? [] {
                let columns = version["additionalPrinterColumns"]?.arrayValue ?? []
                #expect(columns.isEmpty == false, "\(f) needs printer columns")
                #expect(version[path: ["subresources", "status"]] != nil, "\(f) needs the status subresource")
                // Every property of spec and status says what it is, so `kubectl explain` helps.
                func check(_ schema: JSONValue, _ path: String) {
                    for (name, child) in schema["properties"]?.objectValue ?? JSONObject() {
                        let described = child["description"] != nil
                        #expect(described, "\(f): \(path).\(name) has no description")
                        check(child, "\(path).\(name)")
                    }
                    if let items = schema["items"] { check(items, path + "[]") }
                    if let values = schema["additionalProperties"], values.objectValue != nil { check(values, path + "{}") }
                }
                check(version[path: ["schema", "openAPIV3Schema", "properties", "spec"]] ?? .null, "spec")
                check(version[path: ["schema", "openAPIV3Schema", "properties", "status"]] ?? .null, "status")
            }
        }
    }

    @Test func samplesApplyAndInvalidSpecsAreRejectedNamingTheField() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        _ = try await installProjectCRDs(cluster)
        // Every sample, of every kind, applies as written (kubectl's default Strict field validation).
        let samples = try FileManager.default.contentsOfDirectory(atPath: Self.repository + "/manifests/samples").filter { $0.hasSuffix(".yaml") }.sorted()
        var kinds = Set<String>()
        for sample in samples {
            let r = try await cluster.kubectl("apply", "-f", Self.repository + "/manifests/samples/" + sample)
            #expect(r.status == 0, "\(sample): \(r.err)")
            for doc in try YAML.parseAll(try String(contentsOfFile: Self.repository + "/manifests/samples/" + sample, encoding: .utf8)) {
                if let kind = doc["kind"]?.stringValue { kinds.insert(kind) }
            }
        }
        #expect(kinds.isSuperset(of: ["BlueGreenDeployment", "FeatureFlag", "BackupPolicy", "Backup", "Restore", "DRPolicy", "DRDrill"]),
                "a resource kind has no sample: \(kinds.sorted())")
        let table = try await cluster.kubectl("get", "bgd")
        #expect(table.out.split(separator: "\n").first?.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "ACTIVE", "PREVIEW", "PHASE", "READY", "AGE"], "\(table.out)")
        let api = try JSONParser.parse(try await cluster.kubectl("get", "bluegreendeployment", "api", "-o", "json").out)
        #expect(api[path: ["spec", "promotion", "mode"]] == "Automatic")  // defaulted

        #expect(try await cluster.kubectl("get", "salespot").out.contains("api"))  // category
        let explain = try await cluster.kubectl("explain", "bgd.spec.scaleDownDelaySeconds")
        #expect(explain.out.contains("for an instant"), "\(explain.out) \(explain.err)")

        let bad = try await cluster.kubectl("apply", "-f", "-", stdin: """
        apiVersion: ops.salespot.by/v1alpha1
        kind: BlueGreenDeployment
        metadata: {name: broken}
        spec:
          replicas: -1
          selector: {matchLabels: {}}
          template: {}
          activeColor: purple
          healthCheck: {httpGet: {path: health, port: 0}}
        """)
        #expect(bad.status != 0)
        for field in ["spec.activeService", "spec.replicas", "spec.activeColor", "spec.selector.matchLabels", "spec.healthCheck.httpGet.path", "spec.healthCheck.httpGet.port"] {
            #expect(bad.err.contains(field), "missing \(field) in: \(bad.err)")
        }
    }
}
