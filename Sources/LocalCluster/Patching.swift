import KubeCore

/// The patch formats the API server accepts.
enum Patching {
    /// RFC 7386 JSON merge patch.
    static func merge(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let p) = patch else { return patch }
        var result: JSONObject
        if case .object(let t) = target { result = t } else { result = JSONObject() }
        for (k, v) in p {
            if v.isNull { result[k] = nil } else { result[k] = merge(result[k] ?? .null, v) }
        }
        return .object(result)
    }

    /// Strategic merge patch, approximated: merge-patch semantics, except that lists of objects that all carry a
    /// `name` (containers, env, ports, volumes, volumeMounts, conditions by `type`) are merged by that key, and the
    /// `$patch: delete` / `$patch: replace` directives on such items and maps are honoured.
    static func strategicMerge(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        switch (target, patch) {
        case (.object(let t), .object(let p)):
            if p["$patch"]?.stringValue == "replace" {
                var copy = p
                copy["$patch"] = nil
                return .object(copy)
            }
            var result = t
            for (k, v) in p where !k.hasPrefix("$") {
                if v.isNull { result[k] = nil } else { result[k] = strategicMerge(result[k] ?? .null, v) }
            }
            return .object(result)
        case (.array(let t), .array(let p)):
            guard let key = mergeKey(t + p) else { return patch }
            var result = t
            for item in p {
                guard let id = item[key] else { continue }
                let index = result.firstIndex { $0[key] == id }
                if item["$patch"]?.stringValue == "delete" {
                    if let index { result.remove(at: index) }
                } else if let index {
                    result[index] = strategicMerge(result[index], item)
                } else {
                    result.append(strategicMerge(.null, item))
                }
            }
            return .array(result)
        case (_, .object(let p)):
            var copy = p
            for (k, v) in p where k.hasPrefix("$") || v.isNull { copy[k] = nil }
            return .object(copy)
        default:
            return patch
        }
    }

    static func mergeKey(_ items: [JSONValue]) -> String? {
        guard !items.isEmpty else { return nil }
        for key in ["name", "type", "containerPort", "mountPath"] where items.allSatisfy({ $0[key] != nil }) { return key }
        return nil
    }

    /// RFC 6902 JSON patch.
    static func jsonPatch(_ target: JSONValue, _ ops: JSONValue) throws(APIFailure) -> JSONValue {
        guard case .array(let list) = ops else { throw .badRequest("a JSON patch must be an array of operations") }
        var doc = target
        for (i, op) in list.enumerated() {
            guard let name = op["op"]?.stringValue, let path = op["path"]?.stringValue else {
                throw .badRequest("JSON patch operation \(i) needs 'op' and 'path'")
            }
            let pointer = try parsePointer(path)
            switch name {
            case "add":
                guard let value = op["value"] else { throw .badRequest("JSON patch 'add' needs a value") }
                doc = try set(doc, pointer[...], value, insert: true)
            case "replace":
                guard let value = op["value"] else { throw .badRequest("JSON patch 'replace' needs a value") }
                guard get(doc, pointer[...]) != nil else { throw .unprocessable("replace operation does not apply: doc is missing key: \(path)") }
                doc = try set(doc, pointer[...], value, insert: false)
            case "remove":
                guard get(doc, pointer[...]) != nil else { throw .unprocessable("remove operation does not apply: doc is missing path: \(path)") }
                doc = try remove(doc, pointer[...])
            case "test":
                guard get(doc, pointer[...]) == (op["value"] ?? .null) else {
                    throw .unprocessable("testing value \(path) failed")
                }
            case "move", "copy":
                guard let from = op["from"]?.stringValue else { throw .badRequest("JSON patch '\(name)' needs 'from'") }
                let fromPointer = try parsePointer(from)
                guard let value = get(doc, fromPointer[...]) else { throw .unprocessable("\(name) operation does not apply: missing \(from)") }
                if name == "move" { doc = try remove(doc, fromPointer[...]) }
                doc = try set(doc, pointer[...], value, insert: true)
            default:
                throw .badRequest("unknown JSON patch operation '\(name)'")
            }
        }
        return doc
    }

    static func parsePointer(_ path: String) throws(APIFailure) -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw .badRequest("JSON pointer '\(path)' must start with '/'") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).replacing("~1", with: "/").replacing("~0", with: "~")
        }
    }

    static func get(_ doc: JSONValue, _ p: ArraySlice<String>) -> JSONValue? {
        guard let first = p.first else { return doc }
        switch doc {
        case .object(let o): return o[first].flatMap { get($0, p.dropFirst()) }
        case .array(let a): return Int(first).flatMap { a.indices.contains($0) ? get(a[$0], p.dropFirst()) : nil }
        default: return nil
        }
    }

    static func set(_ doc: JSONValue, _ p: ArraySlice<String>, _ value: JSONValue, insert: Bool) throws(APIFailure) -> JSONValue {
        guard let first = p.first else { return value }
        switch doc {
        case .object(var o):
            if p.count == 1 { o[first] = value; return .object(o) }
            guard let child = o[first] else { throw .unprocessable("add operation does not apply: doc is missing path: \(first)") }
            o[first] = try set(child, p.dropFirst(), value, insert: insert)
            return .object(o)
        case .array(var a):
            if p.count == 1 {
                if first == "-" { a.append(value); return .array(a) }
                guard let i = Int(first), i >= 0, insert ? i <= a.count : i < a.count else {
                    throw .unprocessable("index \(first) is out of bounds")
                }
                if insert { a.insert(value, at: i) } else { a[i] = value }
                return .array(a)
            }
            guard let i = Int(first), a.indices.contains(i) else { throw .unprocessable("index \(first) is out of bounds") }
            a[i] = try set(a[i], p.dropFirst(), value, insert: insert)
            return .array(a)
        default:
            throw .unprocessable("cannot add into a \(doc.typeName)")
        }
    }

    static func remove(_ doc: JSONValue, _ p: ArraySlice<String>) throws(APIFailure) -> JSONValue {
        guard let first = p.first else { return .null }
        switch doc {
        case .object(var o):
            if p.count == 1 { o[first] = nil; return .object(o) }
            guard let child = o[first] else { throw .unprocessable("remove: missing \(first)") }
            o[first] = try remove(child, p.dropFirst())
            return .object(o)
        case .array(var a):
            guard let i = Int(first), a.indices.contains(i) else { throw .unprocessable("index \(first) is out of bounds") }
            if p.count == 1 { a.remove(at: i); return .array(a) }
            a[i] = try remove(a[i], p.dropFirst())
            return .array(a)
        default:
            throw .unprocessable("remove: not a container")
        }
    }
}

extension APIFailure {
    static func unprocessable(_ message: String) -> APIFailure { APIFailure(code: 422, reason: "Invalid", message: message) }
}
