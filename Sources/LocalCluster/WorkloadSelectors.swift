import KubeCore

/// The label selectors of apps/v1 workloads, held to kube-apiserver's rules (ValidateDeploymentSpec,
/// ValidateReplicaSetSpec, ValidateStatefulSetSpec, ValidateDaemonSetSpec and ValidateLabelSelector): `spec.selector`
/// is required and not empty, each `matchExpressions` entry has a valid key, a known operator and values as that
/// operator wants them, the selector matches the pod template's labels, and it cannot change on update.
enum WorkloadSelectors {
    static let storeKeys: Set<String> = ["apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets"]

    /// What the API server would refuse in `o`'s selector, as (field, message).
    static func problems(_ storeKey: String, _ o: JSONValue) -> [(field: String, message: String)] {
        guard storeKeys.contains(storeKey) else { return [] }
        let kind = storeKey.split(separator: "/").last.map { String($0.dropLast()) } ?? ""
        guard let selector = o[path: ["spec", "selector"]], selector != .null else { return [("spec.selector", "Required value")] }
        var problems: [(field: String, message: String)] = []
        let expressions = selector["matchExpressions"]?.arrayValue ?? []
        for (i, e) in expressions.enumerated() {
            let field = "spec.selector.matchExpressions[\(i)]"
            let key = e["key"]?.stringValue ?? ""
            if let p = MetadataSyntax.labelKeyProblem(key) { problems.append((field + ".key", "Invalid value: \"\(key)\": \(p)")) }
            let values = e["values"]?.arrayValue ?? []
            switch e["operator"]?.stringValue ?? "" {
            case "In", "NotIn":
                if values.isEmpty { problems.append((field + ".values", "Required value: must be specified when `operator` is 'In' or 'NotIn'")) }
            case "Exists", "DoesNotExist":
                if !values.isEmpty { problems.append((field + ".values", "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'")) }
            case let op:
                problems.append((field + ".operator", "Unsupported value: \"\(op)\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\""))
            }
            for (j, v) in values.enumerated() {
                let text = v.stringValue ?? ""
                if let p = MetadataSyntax.labelValueProblem(text) { problems.append((field + ".values[\(j)]", "Invalid value: \"\(text)\": \(p)")) }
            }
        }
        guard problems.isEmpty else { return problems }
        let matchLabels = selector["matchLabels"]?.objectValue?.dictionary ?? [:]
        if matchLabels.isEmpty && expressions.isEmpty {
            return [("spec.selector", "Invalid value: {}: empty selector is invalid for \(kind)")]
        }
        let labels = (o[path: ["spec", "template", "metadata", "labels"]]?.objectValue?.dictionary ?? [:]).compactMapValues(\.stringValue)
        if !LabelSelectorQuery(selector: selector).matches(labels) {
            problems.append(("spec.template.metadata.labels", "Invalid value: \(labels.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")): `selector` does not match template `labels`"))
        }
        return problems
    }

    /// Whether the selector changed from `old` to `new` (empty and absent lists count as the same, as the API
    /// server's semantic equality has them).
    static func changed(_ old: JSONValue, _ new: JSONValue) -> Bool {
        func normal(_ o: JSONValue) -> [String: JSONValue] {
            var out: [String: JSONValue] = [:]
            if let l = o[path: ["spec", "selector", "matchLabels"]]?.objectValue, !l.isEmpty { out["matchLabels"] = .object(l) }
            if let e = o[path: ["spec", "selector", "matchExpressions"]]?.arrayValue, !e.isEmpty { out["matchExpressions"] = .array(e) }
            return out
        }
        return normal(old) != normal(new)
    }
}
