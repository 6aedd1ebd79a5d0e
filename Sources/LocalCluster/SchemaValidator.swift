#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeCore

/// Validates a custom resource against its CRD's `openAPIV3Schema`, as the API server does: applies defaults,
/// prunes unknown fields (unless `x-kubernetes-preserve-unknown-fields`), and reports every violation with its field
/// path (`spec.replicas`) in the same words as the real server.
///
/// Supported keywords: type, properties, required, additionalProperties, items, enum, minimum, maximum,
/// exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern, minItems, maxItems, minProperties,
/// maxProperties, default, nullable, x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string,
/// x-kubernetes-embedded-resource. Not supported: CEL rules (x-kubernetes-validations), formats beyond the type check.
struct SchemaValidator {
    let schema: JSONValue
    private(set) var causes: [StatusCause] = []

    init(schema: JSONValue) { self.schema = schema }

    /// Returns the defaulted, pruned object, or the causes of failure.
    static func validate(_ object: JSONValue, schema: JSONValue) -> (JSONValue, [StatusCause]) {
        var v = SchemaValidator(schema: schema)
        var result = object
        // apiVersion, kind and metadata are the server's, not the schema's.
        let apiVersion = object["apiVersion"], kind = object["kind"], metadata = object["metadata"]
        result = v.walk(result, schema, path: "", root: true)
        result["apiVersion"] = apiVersion
        result["kind"] = kind
        result["metadata"] = metadata
        return (result, v.causes)
    }

    mutating func fail(_ path: String, _ reason: String, _ message: String) {
        causes.append(StatusCause(reason: reason, message: message, field: path))
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return "\"\(s)\""
        case .object: return "\"object\""
        case .array: return "\"array\""
        default: return v.serializedString()
        }
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func walk(_ value: JSONValue, _ s: JSONValue, path: String, root: Bool = false) -> JSONValue {
        if value.isNull {
            if s["nullable"]?.boolValue == true { return value }
            if !root { fail(path, "FieldValueTypeInvalid", "Invalid value: \"null\": \(path) in body must be of type \(s["type"]?.stringValue ?? "object"): \"null\"") }
            return value
        }
        let intOrString = s["x-kubernetes-int-or-string"]?.boolValue == true
        if intOrString {
            switch value {
            case .int, .string: break
            default: fail(path, "FieldValueTypeInvalid", "Invalid value: \(Self.describe(value)): \(path) in body must be of type int-or-string")
            }
        } else if let type = s["type"]?.stringValue, !Self.matchesType(value, type) {
            fail(path, "FieldValueTypeInvalid", "Invalid value: \(Self.describe(value)): \(path) in body must be of type \(type): \(Self.describe(value))")
            return value
        }
        if let options = s["enum"]?.arrayValue, !options.contains(value) {
            let list = options.map(Self.describe).joined(separator: ", ")
            fail(path, "FieldValueNotSupported", "Unsupported value: \(Self.describe(value)): supported values: \(list)")
        }
        switch value {
        case .int, .double:
            let n = value.doubleValue!
            if let min = s["minimum"]?.doubleValue {
                let exclusive = s["exclusiveMinimum"]?.boolValue == true
                if exclusive ? n <= min : n < min {
                    fail(path, "FieldValueInvalid", "Invalid value: \(value.serializedString()): \(path) in body should be greater than \(exclusive ? "" : "or equal to ")\(s["minimum"]!.serializedString())")
                }
            }
            if let max = s["maximum"]?.doubleValue {
                let exclusive = s["exclusiveMaximum"]?.boolValue == true
                if exclusive ? n >= max : n > max {
                    fail(path, "FieldValueInvalid", "Invalid value: \(value.serializedString()): \(path) in body should be less than \(exclusive ? "" : "or equal to ")\(s["maximum"]!.serializedString())")
                }
            }
            return value
        case .string(let str):
            if let max = s["maxLength"]?.intValue, str.count > max {
                fail(path, "FieldValueTooLong", "Too long: may not be more than \(max) bytes")
            }
            if let min = s["minLength"]?.intValue, str.count < min {
                fail(path, "FieldValueInvalid", "Invalid value: \"\(str)\": \(path) in body should be at least \(min) chars long")
            }
            if let pattern = s["pattern"]?.stringValue {
                if let re = try? Regex(pattern) {
                    if (try? re.firstMatch(in: str)) == nil {
                        fail(path, "FieldValueInvalid", "Invalid value: \"\(str)\": \(path) in body should match '\(pattern)'")
                    }
                }
            }
            return value
        case .array(let items):
            if let max = s["maxItems"]?.intValue, items.count > max {
                fail(path, "FieldValueTooMany", "Too many: \(items.count): must have at most \(max) items")
            }
            if let min = s["minItems"]?.intValue, items.count < min {
                fail(path, "FieldValueInvalid", "Invalid value: \(items.count): \(path) in body should have at least \(min) items")
            }
            guard let itemSchema = s["items"] else { return value }
            return .array(items.enumerated().map { walk($0.element, itemSchema, path: "\(path)[\($0.offset)]") })
        case .object(let o):
            var out = o
            let properties = s["properties"]?.objectValue
            let preserve = s["x-kubernetes-preserve-unknown-fields"]?.boolValue == true
            let embedded = s["x-kubernetes-embedded-resource"]?.boolValue == true
            // Defaults for absent properties.
            for (name, ps) in properties ?? JSONObject() where out[name] == nil {
                if let d = ps["default"] { out[name] = d }
            }
            for (key, child) in out {
                let childPath = join(path, key)
                if let ps = properties?[key] {
                    out[key] = walk(child, ps, path: childPath)
                } else if case .object(let additional)? = s["additionalProperties"] {
                    out[key] = walk(child, .object(additional), path: childPath)
                } else if s["additionalProperties"]?.boolValue == true || preserve || (embedded && ["apiVersion", "kind", "metadata"].contains(key)) {
                    continue
                } else if properties != nil || s["additionalProperties"] != nil || s["type"]?.stringValue == "object" {
                    out[key] = nil  // pruned, as the API server prunes unknown fields of structural schemas
                }
            }
            for name in s["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where out[name] == nil {
                fail(join(path, name), "FieldValueRequired", "Required value")
            }
            if let max = s["maxProperties"]?.intValue, out.count > max {
                fail(path, "FieldValueTooMany", "Too many: \(out.count): must have at most \(max) items")
            }
            if let min = s["minProperties"]?.intValue, out.count < min {
                fail(path, "FieldValueInvalid", "Invalid value: \(out.count): \(path) in body should have at least \(min) properties")
            }
            return .object(out)
        default:
            return value
        }
    }

    static func matchesType(_ v: JSONValue, _ type: String) -> Bool {
        switch (type, v) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("integer", .int): return true
        case ("integer", .double(let d)): return d.rounded() == d
        case ("number", .int), ("number", .double): return true
        default: return false
        }
    }
}
