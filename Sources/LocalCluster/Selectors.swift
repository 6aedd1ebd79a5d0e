import KubeCore

/// A parsed label selector: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-separated (AND).
struct LabelSelectorQuery: Sendable {
    enum Requirement: Sendable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)
    }
    var requirements: [Requirement]

    init(_ text: String) throws(APIFailure) {
        requirements = []
        var rest = Substring(text)
        while !rest.isEmpty {
            // Split on the next comma that is not inside parentheses.
            var depth = 0
            var end = rest.endIndex
            for i in rest.indices {
                if rest[i] == "(" { depth += 1 } else if rest[i] == ")" { depth -= 1 } else if rest[i] == "," && depth == 0 { end = i; break }
            }
            let term = rest[..<end].trimmingWhitespace()
            rest = end == rest.endIndex ? "" : rest[rest.index(after: end)...]
            if term.isEmpty { continue }
            requirements.append(try Self.parse(term))
        }
    }

    /// A `metav1.LabelSelector` object (matchLabels and matchExpressions); an unknown operator matches nothing.
    init(selector: JSONValue) {
        requirements = (selector["matchLabels"]?.objectValue?.dictionary ?? [:]).map { .equals($0.key, $0.value.stringValue ?? "") }
        for e in selector["matchExpressions"]?.arrayValue ?? [] {
            let key = e["key"]?.stringValue ?? ""
            let values = Set((e["values"]?.arrayValue ?? []).compactMap(\.stringValue))
            switch e["operator"]?.stringValue {
            case "In": requirements.append(.isIn(key, values))
            case "NotIn": requirements.append(.notIn(key, values))
            case "Exists": requirements.append(.exists(key))
            case "DoesNotExist": requirements.append(.doesNotExist(key))
            default: requirements.append(.isIn(key, []))
            }
        }
    }

    static func parse(_ term: Substring) throws(APIFailure) -> Requirement {
        func bad() -> APIFailure { .badRequest("unable to parse requirement: invalid label selector \"\(term)\"") }
        if term.hasPrefix("!") {
            let key = term.dropFirst().trimmingWhitespace()
            guard !key.isEmpty else { throw bad() }
            return .doesNotExist(String(key))
        }
        if let r = term.firstRange(of: "!=") {
            return .notEquals(String(term[..<r.lowerBound].trimmingWhitespace()), String(term[r.upperBound...].trimmingWhitespace()))
        }
        if let r = term.firstRange(of: "==") {
            return .equals(String(term[..<r.lowerBound].trimmingWhitespace()), String(term[r.upperBound...].trimmingWhitespace()))
        }
        if let r = term.firstRange(of: "=") {
            return .equals(String(term[..<r.lowerBound].trimmingWhitespace()), String(term[r.upperBound...].trimmingWhitespace()))
        }
        for (word, negate) in [(" notin ", true), (" in ", false)] {
            if let r = term.firstRange(of: word) {
                let key = String(term[..<r.lowerBound].trimmingWhitespace())
                let list = term[r.upperBound...].trimmingWhitespace()
                guard list.hasPrefix("("), list.hasSuffix(")"), !key.isEmpty else { throw bad() }
                let values = Set(list.dropFirst().dropLast().split(separator: ",").map { String($0.trimmingWhitespace()) })
                return negate ? .notIn(key, values) : .isIn(key, values)
            }
        }
        let key = term.trimmingWhitespace()
        guard !key.isEmpty, !key.contains(" ") else { throw bad() }
        return .exists(String(key))
    }

    func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { r in
            switch r {
            case .equals(let k, let v): return labels[k] == v
            case .notEquals(let k, let v): return labels[k] != v
            case .isIn(let k, let vs): return labels[k].map(vs.contains) ?? false
            case .notIn(let k, let vs): return labels[k].map { !vs.contains($0) } ?? true
            case .exists(let k): return labels[k] != nil
            case .doesNotExist(let k): return labels[k] == nil
            }
        }
    }
}

/// A parsed field selector. Supports `metadata.name` and `metadata.namespace` with `=`, `==` and `!=`, as the API
/// server does for every resource.
struct FieldSelectorQuery: Sendable {
    var requirements: [(field: String, value: String, negate: Bool)] = []
    /// Group and kind of the objects matched (each kind computes its selectable fields its own way).
    var group = ""
    var kind = ""

    /// Field labels each kind supports besides metadata.name and metadata.namespace (kube-apiserver's field label
    /// conversion functions); anything else is refused.
    static func supported(_ type: ResourceType) -> Set<String> {
        let involved = ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"]
        switch (type.descriptor.group, type.descriptor.kind) {
        case ("", "Event"): return Set(involved.map { "involvedObject." + $0 } + ["reason", "reportingComponent", "source", "type"])
        case ("events.k8s.io", "Event"): return Set(involved.map { "regarding." + $0 } + ["reason", "reportingController", "type", "source"])
        case ("", "Pod"): return ["spec.nodeName", "spec.host", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
                                  "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"]
        case ("", "Secret"): return ["type"]
        case ("", "Namespace"): return ["status.phase"]
        case ("", "Service"): return ["spec.clusterIP", "spec.type"]
        case ("", "Node"): return ["spec.unschedulable"]
        case ("batch", "Job"): return ["status.successful"]
        case ("apps", "ReplicaSet"): return ["status.replicas"]
        default: return []
        }
    }

    /// Parses a selector for `type` (nil: only metadata.name and metadata.namespace). Fields are kept as the stored
    /// form names them (events.k8s.io `regarding.name` is `involvedObject.name`).
    init(_ text: String, type: ResourceType?) throws(APIFailure) {
        let allowed = type.map(Self.supported) ?? []
        group = type?.descriptor.group ?? ""
        kind = type?.descriptor.kind ?? ""
        // Cluster-scoped kinds have no metadata.namespace field label.
        let namespaced = type?.descriptor.namespaced ?? true
        for term in text.split(separator: ",") {
            let t = term.trimmingWhitespace()
            if t.isEmpty { continue }
            let negate = t.contains("!=")
            let parts = (negate ? String(t).split(separator: "!=", omittingEmptySubsequences: false)
                : String(t).replacing("==", with: "=").split(separator: "=", omittingEmptySubsequences: false)).map(String.init)
            guard parts.count == 2 else { throw .badRequest("invalid field selector \"\(t)\"") }
            var field = parts[0].trimmingASCIIWhitespace()
            guard field == "metadata.name" || (field == "metadata.namespace" && namespaced) || allowed.contains(field) else {
                throw .badRequest("field label not supported: \(field)")
            }
            if let type, EventConversion.isEventsView(type) { field = EventConversion.coreField(field) }
            requirements.append((field, parts[1].trimmingASCIIWhitespace(), negate))
        }
    }

    func matches(_ object: JSONValue) -> Bool {
        requirements.allSatisfy { r in (Self.selectable(r.field, object, group: group, kind: kind) == r.value) != r.negate }
    }

    /// A field label's value as kube-apiserver's `...ToSelectableFields` functions compute it (defaults included:
    /// an absent count is "0", an absent Secret type "Opaque", ...).
    static func selectable(_ field: String, _ o: JSONValue, group: String, kind: String) -> String {
        func text(_ v: JSONValue?) -> String? {
            switch v {
            case .string(let s)?: s
            case .int(let i)?: String(i)
            case .bool(let b)?: String(b)
            default: nil
            }
        }
        let path = field.split(separator: ".").map(String.init)
        switch (group, kind, field) {
        case ("batch", "Job", "status.successful"): return String(o[path: ["status", "succeeded"]]?.intValue ?? 0)
        case ("apps", "ReplicaSet", "status.replicas"): return String(o[path: ["status", "replicas"]]?.intValue ?? 0)
        case ("", "Secret", "type"): return o["type"]?.stringValue ?? "Opaque"
        case ("", "Namespace", "status.phase"): return o[path: ["status", "phase"]]?.stringValue ?? "Active"
        case ("", "Pod", "spec.hostNetwork"): return String(o[path: ["spec", "hostNetwork"]]?.boolValue ?? false)
        case ("", "Pod", "spec.host"): return o[path: ["spec", "nodeName"]]?.stringValue ?? ""
        case ("", "Pod", "status.podIPs"):
            return (o[path: ["status", "podIPs"]]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }.first ?? ""
        case ("", "Node", "spec.unschedulable"): return String(o[path: ["spec", "unschedulable"]]?.boolValue ?? false)
        case (_, "Event", "source"): return o[path: ["source", "component"]]?.stringValue ?? ""
        default: return text(o[path: path]) ?? ""
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        let s = Substring(self)
        guard let first = s.firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = s.lastIndex(where: { !$0.isWhitespace })!
        return s[first...last]
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
