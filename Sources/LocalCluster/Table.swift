import KubeCore

/// Server-side printing (`meta.k8s.io/v1 Table`), which `kubectl get` asks for: NAME, the CRD's printer columns, AGE.
enum TablePrinter {
    static func columns(_ type: ResourceType) -> [JSONValue] {
        if type.printerColumns.isEmpty, let builtin = BuiltinTable.forType(type) {
            return builtin.columns.map { c in
                ["name": .string(c.name), "type": .string(c.type), "format": .string(c.format), "priority": .int(Int64(c.priority)),
                 "description": .string(c.name)]
            }
        }
        var cols: [JSONValue] = [["name": "Name", "type": "string", "format": "name", "priority": 0,
                                  "description": "Name must be unique within a namespace."]]
        var hasAge = false
        for c in type.printerColumns {
            if c["name"]?.stringValue == "Age" { hasAge = true }
            cols.append(["name": c["name"] ?? "", "type": c["type"] ?? "string", "format": c["format"] ?? "",
                         "description": c["description"] ?? "", "priority": c["priority"] ?? 0])
        }
        if type.printerColumns.isEmpty {
            for (name, path) in builtinColumns(type) { cols.append(["name": .string(name), "type": "string", "format": "", "description": .string(path), "priority": 0]) }
        }
        if !hasAge { cols.append(["name": "Age", "type": "date", "format": "", "priority": 0, "description": "CreationTimestamp"]) }
        return cols
    }

    static func builtinColumns(_ type: ResourceType) -> [(String, String)] {
        switch type.descriptor.kind {
        case "Deployment": return [("Ready", ".status.readyReplicas/.spec.replicas"), ("Up-to-date", ".status.updatedReplicas"), ("Available", ".status.availableReplicas")]
        case "Service": return [("Type", ".spec.type"), ("Cluster-IP", ".spec.clusterIP")]
        case "Job": return [("Status", ".status.conditions[0].type")]
        case "ConfigMap", "Secret": return [("Data", "#data")]
        default: return []
        }
    }

    static func row(_ type: ResourceType, _ o: JSONValue, now: Time) -> JSONValue {
        if type.printerColumns.isEmpty, let builtin = BuiltinTable.forType(type) {
            var meta = o["metadata"] ?? .emptyObject
            meta["managedFields"] = nil
            return ["cells": .array(builtin.columns.map { $0.cell(o, now) }),
                    "object": ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta]]
        }
        var cells: [JSONValue] = [o[path: ["metadata", "name"]] ?? ""]
        var hasAge = false
        for c in type.printerColumns {
            if c["name"]?.stringValue == "Age" { hasAge = true }
            let path = c["jsonPath"]?.stringValue ?? ""
            if c["type"]?.stringValue == "date", let t = JSONPath.evaluate(path, o)?.stringValue.flatMap(Time.init(rfc3339:)) {
                cells.append(.string(age(now.secondsSince1970 - t.secondsSince1970)))
            } else {
                cells.append(JSONPath.evaluate(path, o).map(cellText) ?? "")
            }
        }
        if type.printerColumns.isEmpty {
            for (_, path) in builtinColumns(type) {
                if path == "#data" { cells.append(.string(String((o["data"]?.objectValue?.count ?? 0) + (o["binaryData"]?.objectValue?.count ?? 0)))) }
                else if path.contains("/") {
                    let parts = path.split(separator: "/").map(String.init)
                    let a = JSONPath.evaluate(parts[0], o)?.intValue ?? 0
                    let b = JSONPath.evaluate(parts[1], o)?.intValue ?? 0
                    cells.append(.string("\(a)/\(b)"))
                } else { cells.append(JSONPath.evaluate(path, o).map(cellText) ?? "<none>") }
            }
        }
        if !hasAge {
            let created = o[path: ["metadata", "creationTimestamp"]]?.stringValue.flatMap(Time.init(rfc3339:))
            cells.append(.string(created.map { age(now.secondsSince1970 - $0.secondsSince1970) } ?? "<unknown>"))
        }
        var meta = o["metadata"] ?? .emptyObject
        meta["managedFields"] = nil
        return ["cells": .array(cells),
                "object": ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta]]
    }

    static func cellText(_ v: JSONValue) -> JSONValue {
        switch v {
        case .string, .int, .double, .bool: return v
        case .null: return ""
        default: return .string(v.serializedString())
        }
    }

    static func table(_ type: ResourceType, items: [JSONValue], listMeta: JSONValue) -> JSONValue {
        let now = Time.now()
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": listMeta,
                "columnDefinitions": .array(columns(type)), "rows": .array(items.map { row(type, $0, now: now) })]
    }

    /// kubectl's short human durations: 45s, 3m20s, 15m, 2h5m, 10h, 3d4h, 12d.
    static func age(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        if s < 120 { return "\(s)s" }
        let m = s / 60
        if m < 10 { return s % 60 == 0 ? "\(m)m" : "\(m)m\(s % 60)s" }
        let h = m / 60
        if h < 3 { return "\(m)m" }
        if h < 8 { return m % 60 == 0 ? "\(h)h" : "\(h)h\(m % 60)m" }
        let d = h / 24
        if h < 48 { return "\(h)h" }
        if d < 8 { return h % 24 == 0 ? "\(d)d" : "\(d)d\(h % 24)h" }
        return "\(d)d"
    }
}

/// The JSONPath subset printer columns use: `.a.b`, `[0]`, and `[?(@.type=="Ready")]` filters.
enum JSONPath {
    static func evaluate(_ path: String, _ root: JSONValue) -> JSONValue? {
        var current: JSONValue? = root
        var rest = Substring(path.hasPrefix("$") ? String(path.dropFirst()) : path)
        while let c = current, !rest.isEmpty {
            if rest.hasPrefix(".") {
                rest = rest.dropFirst()
                let end = rest.firstIndex { $0 == "." || $0 == "[" } ?? rest.endIndex
                current = c[String(rest[..<end])]
                rest = rest[end...]
            } else if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { return nil }
                let inner = rest[rest.index(after: rest.startIndex)..<close]
                rest = rest[rest.index(after: close)...]
                if let i = Int(inner) { current = c[i] }
                else if inner.hasPrefix("?(@."), inner.hasSuffix(")"), let eq = inner.firstRange(of: "==") {
                    let key = String(inner[inner.index(inner.startIndex, offsetBy: 4)..<eq.lowerBound])
                    var value = inner[eq.upperBound..<inner.index(before: inner.endIndex)]
                    let quoteOrSpace: (Character) -> Bool = { $0 == "\"" || $0 == "'" || $0 == " " }
                    while let f = value.first, quoteOrSpace(f) { value.removeFirst() }
                    while let l = value.last, quoteOrSpace(l) { value.removeLast() }
                    current = c.arrayValue?.first { $0[key]?.stringValue == String(value) }
                } else { return nil }
            } else { return nil }
        }
        return current
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
