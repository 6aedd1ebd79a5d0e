import Foundation
import Testing
import BackupAPI
import BlueGreen
import DisasterRecovery
import FeatureFlags
import KubeCore

/// Each CRD in crds/ against the Swift type the operator reads it into, so they never drift. An object with every
/// field the schema declares (each of its type, enums with an allowed value) is decoded into the Swift type and
/// encoded again: a field the type drops exists in the CRD only; a field the type cannot decode has another type
/// there; an optional property the decoded object still lacks exists in Swift only.
@Suite struct CRDDriftTests {
    /// Fields on one side only that are meant to be (`Type.path`: dotted, `[]` for array items, `{}` for map values).
    static let allowed: Set<String> = [
        // The shared LabelSelector type has matchExpressions; a BlueGreenDeployment's selector takes matchLabels only
        // (the Services it switches select by equality), so its CRD leaves them out and the API server refuses them.
        "BlueGreenDeployment.spec.selector.matchExpressions",
    ]

    /// A value for every property the schema declares.
    static func sample(_ schema: JSONValue) -> JSONValue {
        if let first = schema["enum"]?.arrayValue?.first { return first }
        if schema["x-kubernetes-int-or-string"] == true { return 1 }
        if let value = schema["default"], schema["type"] != "object", schema["type"] != "array" { return value }
        switch schema["type"]?.stringValue {
        case "object":
            if let properties = schema["properties"]?.objectValue {
                var o = JSONObject()
                for (name, child) in properties { o[name] = sample(child) }
                return .object(o)
            }
            if let values = schema["additionalProperties"], values.objectValue != nil { return ["key": sample(values)] }
            return ["free": "form"]  // x-kubernetes-preserve-unknown-fields
        case "array":
            return [sample(schema["items"] ?? .null)]
        case "string":
            switch schema["format"]?.stringValue {
            case "date-time": return "2026-01-02T03:04:05Z"
            case "byte": return "c2FsZXNwb3Q="
            default: return "x"
            }
        case "integer": return .int(schema["minimum"]?.intValue ?? 1)
        case "number": return .double(1.5)
        case "boolean": return true
        default: return ["free": "form"]
        }
    }

    /// Key paths of `sample` missing from `encoded` (fields the Swift type drops).
    static func dropped(_ sample: JSONValue, _ encoded: JSONValue?, _ path: String) -> [String] {
        switch sample {
        case .object(let o):
            if o.count == 1, o["free"] == "form" { return [] }
            guard let e = encoded?.objectValue else { return encoded == nil ? [path] : [] }
            return o.flatMap { key, value -> [String] in
                let child = path.isEmpty ? key : "\(path).\(key == "key" ? "{}" : key)"
                return e[key] == nil ? [child] : dropped(value, e[key], child)
            }
        case .array(let a):
            guard let first = a.first else { return [] }
            return dropped(first, encoded?.arrayValue?.first, path + "[]")
        default: return []
        }
    }

    /// Optional stored properties still nil after decoding the full sample: fields the CRD does not declare.
    static func swiftOnly(_ value: Any, _ path: String, depth: Int = 0) -> [String] {
        guard depth < 12 else { return [] }
        if value is JSONValue { return [] }
        let mirror = Mirror(reflecting: value)
        var out: [String] = []
        switch mirror.displayStyle {
        case .struct:
            for child in mirror.children {
                guard let label = child.label, !label.hasPrefix("_") else { continue }
                let childPath = path.isEmpty ? label : "\(path).\(label)"
                let inner = Mirror(reflecting: child.value)
                if inner.displayStyle == .optional {
                    if let some = inner.children.first { out += swiftOnly(some.value, childPath, depth: depth + 1) }
                    else { out.append(childPath) }
                } else {
                    out += swiftOnly(child.value, childPath, depth: depth + 1)
                }
            }
        case .collection:
            if let first = mirror.children.first { out += swiftOnly(first.value, path + "[]", depth: depth + 1) }
        case .dictionary:
            if let first = mirror.children.first, let value = Mirror(reflecting: first.value).children.dropFirst().first {
                out += swiftOnly(value.value, path + ".{}", depth: depth + 1)
            }
        default: break
        }
        return out
    }

    func check<T: KubernetesResource>(_ type: T.Type, _ file: String) throws {
        let crd = try YAML.parse(try String(contentsOfFile: repository + "/crds/" + file, encoding: .utf8))
        let schema = try #require(crd[path: ["spec", "versions"]]?[0]?[path: ["schema", "openAPIV3Schema"]])
        var object = Self.sample(schema)
        object["apiVersion"] = .string(T.resource.apiVersion)
        object["kind"] = .string(T.resource.kind)
        object["metadata"] = ["name": "drift", "namespace": "default"]
        let decoded: T
        do { decoded = try JSONValueDecoder().decode(T.self, from: object) } catch {
            Issue.record("\(file): a field has another type in the CRD than in \(T.self): \(error)")
            return
        }
        let encoded = try JSONValueEncoder().encode(decoded)
        let crdOnly = Self.dropped(object["spec"] ?? .null, encoded["spec"], "spec") + Self.dropped(object["status"] ?? .null, encoded["status"], "status")
        #expect(crdOnly.filter { !Self.allowed.contains("\(T.self).\($0)") }.sorted().isEmpty,
                "\(file): in the CRD but not in \(T.self): \(crdOnly.sorted())")
        let swift = Self.swiftOnly(decoded, "").filter { !$0.hasPrefix("metadata") && $0 != "rawJSON" }
        #expect(swift.filter { !Self.allowed.contains("\(T.self).\($0)") }.sorted().isEmpty,
                "\(file): in \(T.self) but not in the CRD: \(swift.sorted())")
    }

    @Test func everyCRDMatchesItsSwiftType() throws {
        try check(BlueGreenDeployment.self, "bluegreendeployments.ops.salespot.by.yaml")
        try check(FeatureFlag.self, "featureflags.ops.salespot.by.yaml")
        try check(BackupPolicy.self, "backuppolicies.ops.salespot.by.yaml")
        try check(Backup.self, "backups.ops.salespot.by.yaml")
        try check(Restore.self, "restores.ops.salespot.by.yaml")
        try check(DRPolicy.self, "drpolicies.ops.salespot.by.yaml")
        try check(DRDrill.self, "drdrills.ops.salespot.by.yaml")
        // Every CRD is covered.
        #expect(try FileManager.default.contentsOfDirectory(atPath: repository + "/crds").filter { $0.hasSuffix(".yaml") }.count == 7)
    }

    @Test func theDriftCheckFindsAFieldOnEitherSide() throws {
        // A schema with a field the type lacks, and a type field the schema lacks, are both found.
        let schema: JSONValue = ["type": "object", "properties": ["spec": ["type": "object", "properties": [
            "replicas": ["type": "integer"], "unknownToSwift": ["type": "string"]]]]]
        struct Probe: Codable { var spec: Spec; struct Spec: Codable { var replicas: Int?; var onlyInSwift: String? } }
        let sample = Self.sample(schema)
        let decoded = try JSONValueDecoder().decode(Probe.self, from: sample)
        #expect(Self.dropped(sample["spec"] ?? .null, try JSONValueEncoder().encode(decoded)["spec"], "spec") == ["spec.unknownToSwift"])
        #expect(Self.swiftOnly(decoded, "") == ["spec.onlyInSwift"])
    }
}
