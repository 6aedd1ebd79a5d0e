import KubeCore

/// Server-side apply, the subset LocalCluster implements:
/// - each `Apply` manager owns the leaf fields it sent (scalars, and lists as a whole: lists are atomic here, where
///   kube-apiserver merges `listType: map` lists by key);
/// - applying a field another manager owns with a different value is a 409 Conflict naming manager and field,
///   unless `force=true`, which takes the field over;
/// - a field a manager applied before and no longer sends is removed when no other manager owns it;
/// - ownership is recorded in `metadata.managedFields` as FieldsV1 (`f:` keys; owned lists appear as leaves).
/// Updates through PUT/PATCH do not record `Update` managers.
enum ServerSideApply {
    typealias Path = [String]

    /// Leaf paths of an applied configuration, without the identifying fields.
    static func leaves(_ v: JSONValue, prefix: Path = []) -> [Path] {
        guard case .object(let o) = v, !(o.isEmpty && !prefix.isEmpty) else { return [prefix] }
        var out: [Path] = []
        for (k, child) in o {
            let p = prefix + [k]
            if p == ["apiVersion"] || p == ["kind"] || p == ["metadata", "name"] || p == ["metadata", "namespace"]
                || p == ["metadata", "managedFields"] || p == ["metadata", "resourceVersion"] { continue }
            if case .object(let co) = child, !co.isEmpty { out += leaves(child, prefix: p) } else { out.append(p) }
        }
        return out
    }

    static func fieldsV1(_ paths: [Path]) -> JSONValue {
        var root = JSONValue.emptyObject
        for p in paths { root[path: p.map { "f:" + $0 }] = .emptyObject }
        return root
    }

    static func paths(fromFieldsV1 v: JSONValue, prefix: Path = []) -> [Path] {
        guard case .object(let o) = v, !o.isEmpty else { return prefix.isEmpty ? [] : [prefix] }
        var out: [Path] = []
        for (k, child) in o where k.hasPrefix("f:") { out += paths(fromFieldsV1: child, prefix: prefix + [String(k.dropFirst(2))]) }
        return out
    }

    static func entry(manager: String, apiVersion: String, paths: [Path], subresource: String?) -> JSONValue {
        var e: JSONValue = ["manager": .string(manager), "operation": "Apply", "apiVersion": .string(apiVersion),
                            "time": .string(Time.now().rfc3339), "fieldsType": "FieldsV1", "fieldsV1": fieldsV1(paths)]
        if let subresource { e["subresource"] = .string(subresource) }
        return e
    }

    static func create(_ patch: JSONValue, manager: String, subresource: String?) -> JSONValue {
        var o = patch
        o[path: ["metadata", "managedFields"]] = [entry(manager: manager, apiVersion: patch["apiVersion"]?.stringValue ?? "",
                                                        paths: leaves(patch), subresource: subresource)]
        return o
    }

    static func apply(_ patch: JSONValue, to current: JSONValue, manager: String, force: Bool, subresource: String?,
                      type: ResourceType) throws(APIFailure) -> JSONValue {
        let applied = leaves(patch)
        var entries = current[path: ["metadata", "managedFields"]]?.arrayValue ?? []
        var conflicts: [(String, String)] = []
        var previous: [Path] = []
        for (i, e) in entries.enumerated() {
            let owner = e["manager"]?.stringValue ?? ""
            let owned = paths(fromFieldsV1: e["fieldsV1"] ?? .null)
            if owner == manager && e["operation"]?.stringValue == "Apply" { previous = owned; continue }
            var kept: [Path] = []
            for p in owned {
                if applied.contains(p), current[path: p] != patch[path: p] {
                    if force { continue }
                    conflicts.append((owner, "." + p.joined(separator: ".")))
                }
                kept.append(p)
            }
            entries[i]["fieldsV1"] = fieldsV1(kept)
        }
        if !conflicts.isEmpty {
            let list = conflicts.map { "conflict with \"\($0.0)\": \($0.1)" }.joined(separator: "\n- ")
            throw APIFailure(code: 409, reason: "Conflict",
                             message: "Apply failed with \(conflicts.count) conflict\(conflicts.count == 1 ? "" : "s"): \(conflicts.count == 1 ? list : "\n- " + list)",
                             details: StatusDetails(name: current[path: ["metadata", "name"]]?.stringValue, group: type.descriptor.group,
                                                    kind: type.descriptor.resource,
                                                    causes: conflicts.map { StatusCause(reason: "FieldManagerConflict", message: "conflict with \"\($0.0)\"", field: $0.1) }))
        }
        var result = current
        let ownedByOthers = Set(entries.filter { $0["manager"]?.stringValue != manager || $0["operation"]?.stringValue != "Apply" }
            .flatMap { paths(fromFieldsV1: $0["fieldsV1"] ?? .null) })
        for p in previous where !applied.contains(p) && !ownedByOthers.contains(p) { result[path: p] = nil }
        for p in applied {
            // An empty map owns the map, not its members: members set by others stay.
            if patch[path: p] == .emptyObject, case .object? = result[path: p] { continue }
            result[path: p] = patch[path: p]
        }
        let previousEntry = entries.first { $0["manager"]?.stringValue == manager && $0["operation"]?.stringValue == "Apply" }
        entries.removeAll { $0["manager"]?.stringValue == manager && $0["operation"]?.stringValue == "Apply" }
        entries.removeAll { $0["fieldsV1"] == .emptyObject }
        var newEntry = entry(manager: manager, apiVersion: patch["apiVersion"]?.stringValue ?? "", paths: applied, subresource: subresource)
        // Re-applying the same fields is a no-op: keep the entry's time so the object (and its version) do not change.
        if let previousEntry, previousEntry["fieldsV1"] == newEntry["fieldsV1"] { newEntry["time"] = previousEntry["time"] }
        entries.append(newEntry)
        result[path: ["metadata", "managedFields"]] = .array(entries)
        if let rv = patch[path: ["metadata", "resourceVersion"]] { result[path: ["metadata", "resourceVersion"]] = rv }
        return result
    }
}
