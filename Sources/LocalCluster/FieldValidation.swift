import KubeCore

/// kube-apiserver's `fieldValidation`: what to do with fields the kind does not declare and with fields given twice.
/// `Strict` refuses the request (400 `strict decoding error: unknown field "spec.replica"`), `Warn` (the server's
/// default) accepts it with a `Warning: 299` header per field (kubectl prints them), `Ignore` says nothing. Either
/// way an undeclared field is not stored: built-in kinds know their fields (``BuiltinSchemas``), custom resources
/// take them from their CRD's schema.
enum FieldValidation: String, Sendable {
    case ignore = "Ignore", warn = "Warn", strict = "Strict"

    /// The request's directive; `Warn` when absent. An unknown value is 422 on the options kind (`CreateOptions`,
    /// `UpdateOptions`, `PatchOptions`), as kube-apiserver validates it.
    static func directive(_ query: [String: String], options: String) throws(APIFailure) -> FieldValidation {
        guard let value = query["fieldValidation"], !value.isEmpty else { return .warn }
        guard let d = FieldValidation(rawValue: value) else {
            throw .invalid(kind: options, group: "meta.k8s.io", name: "", causes: [StatusCause(
                reason: "FieldValueNotSupported", message: "Unsupported value: \"\(value)\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"",
                field: "fieldValidation")])
        }
        return d
    }

    /// What a body was found to carry: undeclared fields and fields given twice, by path (`spec.template.spec.containers[0].imagee`).
    struct Findings: Sendable {
        var unknown: [String] = []
        var duplicate: [String] = []
        var isEmpty: Bool { unknown.isEmpty && duplicate.isEmpty }
        var messages: [String] { unknown.map { "unknown field \"\($0)\"" } + duplicate.map { "duplicate field \"\($0)\"" } }
    }

    /// Acts on the findings: throws under Strict (with kube-apiserver's wording for the verb), returns the
    /// warnings to send under Warn, nothing under Ignore.
    func enforce(_ findings: Findings, type: ResourceType, version: String, apply: Bool, create: Bool,
                 namespace: String? = nil, name: String = "") throws(APIFailure) -> [String] {
        let kind = type.descriptor.kind
        if apply && !findings.unknown.isEmpty {
            // Server-side apply refuses undeclared fields whatever the directive: structured-merge-diff cannot type the
            // applied configuration. kube-apiserver 1.32-1.36 answers that as a 500 with no reason (its issue
            // #139253), in these words.
            let gv = type.descriptor.group.isEmpty ? "/\(version)" : "\(type.descriptor.group)/\(version)"
            let errors = findings.unknown.map { ".\($0): field not declared in schema" }
            let detail = errors.count == 1 ? errors[0] : "errors:\n" + errors.map { "  " + $0 }.joined(separator: "\n")
            var failure = APIFailure(code: 500, reason: "", message: "failed to create typed patch object (\(namespace ?? "")/\(name); \(gv), Kind=\(kind)): \(detail)")
            failure.status.reason = nil
            throw failure
        }
        guard !findings.isEmpty, self != .ignore else { return [] }
        if self == .warn { return findings.messages }
        if apply {
            throw .badRequest("error strict decoding YAML: " + findings.duplicate.map { "duplicate field \"\($0)\"" }.joined(separator: ", "))
        }
        let detail = "strict decoding error: " + findings.messages.joined(separator: ", ")
        if create { throw .badRequest("\(kind) in version \"\(version)\" cannot be handled as a \(kind): \(detail)") }
        throw .badRequest(detail)
    }

    /// Undeclared fields of `object` (a whole object of `type`), and the object without them. Nothing is found for
    /// a kind whose fields are not known (a built-in kind missing from ``BuiltinSchemas``).
    static func check(_ object: JSONValue, type: ResourceType) -> (pruned: JSONValue, unknown: [String]) {
        var unknown: [String] = []
        let d = type.descriptor
        if type.definedBy != nil {
            guard let schema = type.schema else { return (object, []) }
            var result = object
            for (key, value) in object.objectValue ?? JSONObject() {
                switch key {
                case "apiVersion", "kind": continue
                case "metadata": result[key] = walk(value, expression: "V1ObjectMeta", path: key, unknown: &unknown)
                default:
                    if let child = schema[path: ["properties", key]] {
                        result[key] = walk(value, schema: child, path: key, unknown: &unknown)
                    } else if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue != true {
                        unknown.append(key)
                        result[key] = nil
                    }
                }
            }
            return (result, unknown)
        }
        guard let model = BuiltinSchemas.kinds["\(d.group)/\(d.version)/\(d.kind)"] else { return (object, []) }
        let pruned = walk(object, expression: model, path: "", unknown: &unknown)
        return (pruned, unknown)
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// A value of a built-in type expression (see ``BuiltinSchemas``).
    static func walk(_ value: JSONValue, expression: String, path: String, unknown: inout [String]) -> JSONValue {
        if expression.hasPrefix("["), expression.hasSuffix("]") {
            guard case .array(let items) = value else { return value }
            let inner = String(expression.dropFirst().dropLast())
            return .array(items.enumerated().map { walk($0.element, expression: inner, path: "\(path)[\($0.offset)]", unknown: &unknown) })
        }
        if expression.hasPrefix("{"), expression.hasSuffix("}") {
            guard case .object(let entries) = value else { return value }
            let inner = String(expression.dropFirst().dropLast())
            return .object(entries.mapValuesWithKeys { key, v in walk(v, expression: inner, path: join(path, key), unknown: &unknown) })
        }
        guard let fields = BuiltinSchemas.types[expression], case .object(let entries) = value else { return value }
        var kept = JSONObject(minimumCapacity: entries.count)
        for (key, v) in entries {
            if let field = fields[key] {
                kept[key] = walk(v, expression: field, path: join(path, key), unknown: &unknown)
            } else {
                unknown.append(join(path, key))
            }
        }
        return .object(kept)
    }

    /// A value of a CRD's structural schema.
    static func walk(_ value: JSONValue, schema: JSONValue, path: String, unknown: inout [String]) -> JSONValue {
        switch value {
        case .array(let items):
            guard let itemSchema = schema["items"], itemSchema.objectValue != nil else { return value }
            return .array(items.enumerated().map { walk($0.element, schema: itemSchema, path: "\(path)[\($0.offset)]", unknown: &unknown) })
        case .object(let entries):
            if schema["x-kubernetes-int-or-string"]?.boolValue == true { return value }
            let properties = schema["properties"]?.objectValue
            let additional = schema["additionalProperties"]
            let preserve = schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true
            let embedded = schema["x-kubernetes-embedded-resource"]?.boolValue == true
            // A schema that says nothing of the object's contents (no properties, no additionalProperties) and does
            // not preserve them describes an empty object; one with neither "type" nor contents is free-form.
            if properties == nil && additional == nil && !preserve && schema["type"]?.stringValue != "object" { return value }
            var kept = JSONObject(minimumCapacity: entries.count)
            for (key, v) in entries {
                let child = join(path, key)
                if let p = properties?[key] {
                    kept[key] = walk(v, schema: p, path: child, unknown: &unknown)
                } else if embedded && (key == "apiVersion" || key == "kind") {
                    kept[key] = v
                } else if embedded && key == "metadata" {
                    kept[key] = walk(v, expression: "V1ObjectMeta", path: child, unknown: &unknown)
                } else if let a = additional, a.objectValue != nil {
                    kept[key] = walk(v, schema: a, path: child, unknown: &unknown)
                } else if additional?.boolValue == true || preserve {
                    kept[key] = v
                } else {
                    unknown.append(child)
                }
            }
            return .object(kept)
        default:
            return value
        }
    }
}

extension JSONObject {
    /// The same keys in the same order, each value transformed with its key.
    func mapValuesWithKeys(_ transform: (String, JSONValue) -> JSONValue) -> JSONObject {
        var out = JSONObject(minimumCapacity: count)
        for (k, v) in self { out[k] = transform(k, v) }
        return out
    }
}
