/// Where a kind of object is served: group, version, plural resource name, kind and scope.
public struct ResourceDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// API group; empty for the core group.
    public var group: String
    public var version: String
    /// Plural resource name used in URLs, e.g. `deployments`.
    public var resource: String
    public var kind: String
    /// Whether objects live in a namespace.
    public var namespaced: Bool

    public init(group: String, version: String, resource: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.resource = resource
        self.kind = kind
        self.namespaced = namespaced
    }

    /// `apps/v1`, or `v1` for the core group.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// The URL path prefix: `/api/v1` or `/apis/GROUP/VERSION`.
    public var groupVersionPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }
    public var description: String { group.isEmpty ? "\(resource)/\(version)" : "\(resource).\(version).\(group)" }
}

/// An object with metadata that can be read and written through the API.
///
/// Typed models keep the JSON they were decoded from in ``rawJSON`` so that fields the model does not know survive a
/// read-modify-write (see ``mergingUnknownFields(original:)``).
public protocol KubernetesObject: Codable, Sendable {
    var apiVersion: String? { get set }
    var kind: String? { get set }
    var metadata: ObjectMeta { get set }
    /// The JSON this value was read from, if any; never encoded.
    var rawJSON: JSONValue? { get set }
}

/// A ``KubernetesObject`` whose kind is fixed and known at compile time.
public protocol KubernetesResource: KubernetesObject {
    /// Where objects of this type are served.
    static var resource: ResourceDescriptor { get }
}

/// Holds a typed model's original JSON. Never encoded, never decoded, ignored by `==` and hashing.
@propertyWrapper
public struct RawJSON: Codable, Sendable, Hashable {
    public var wrappedValue: JSONValue?
    public init(wrappedValue: JSONValue? = nil) { self.wrappedValue = wrappedValue }
    public init(from decoder: any Decoder) throws { wrappedValue = nil }
    public func encode(to encoder: any Encoder) throws {}
    public static func == (a: RawJSON, b: RawJSON) -> Bool { true }
    public func hash(into hasher: inout Hasher) {}
}

extension KeyedDecodingContainer {
    /// Synthesized `Decodable` picks this overload: a ``RawJSON`` property is never read from the payload.
    public func decode(_ type: RawJSON.Type, forKey key: Key) throws -> RawJSON { RawJSON() }
}

extension KeyedEncodingContainer {
    /// Synthesized `Encodable` picks this overload: a ``RawJSON`` property is never written.
    public mutating func encode(_ value: RawJSON, forKey key: Key) throws {}
}

extension KubernetesObject {
    /// Decodes a typed object from JSON and remembers that JSON in ``rawJSON``.
    public static func decodePreserving(_ json: JSONValue) throws -> Self {
        var object = try JSONValueDecoder().decode(Self.self, from: json)
        object.rawJSON = json
        return object
    }

    /// This object as JSON for a write: the typed fields as they are now, over the JSON it was read from, so that
    /// fields the model does not know are sent back unchanged.
    ///
    /// It is a three-way merge: the original JSON, what the model made of it, and what the model holds now. A field
    /// the model cleared is removed; a field it never knew is kept. Arrays of equal length merge element by element
    /// (so unknown fields in list items such as containers survive); otherwise the new array replaces the old.
    public func mergingUnknownFields() throws -> JSONValue {
        let current = try JSONValueEncoder().encode(self)
        guard let raw = rawJSON else { return current }
        let projected = try JSONValueEncoder().encode(try JSONValueDecoder().decode(Self.self, from: raw))
        return ThreeWayMerge.merge(original: raw, projected: projected, current: current)
    }
}

/// The merge behind ``KubernetesObject/mergingUnknownFields()``.
public enum ThreeWayMerge {
    /// Applies the change from `projected` to `current` onto `original`.
    public static func merge(original: JSONValue, projected: JSONValue?, current: JSONValue) -> JSONValue {
        switch (original, projected, current) {
        case (.object(let o), .object(let p), .object(let c)):
            var result = o
            for (key, value) in c {
                if let ov = o[key] { result[key] = merge(original: ov, projected: p[key], current: value) }
                else { result[key] = value }
            }
            for key in p.keys where c[key] == nil { result[key] = nil }
            return .object(result)
        case (.object(let o), nil, .object(let c)):
            var result = o
            for (key, value) in c { result[key] = merge(original: o[key] ?? value, projected: nil, current: value) }
            return .object(result)
        case (.array(let o), .array(let p), .array(let c)) where o.count == c.count && p.count == c.count:
            return .array((0..<c.count).map { merge(original: o[$0], projected: p[$0], current: c[$0]) })
        default:
            return current
        }
    }
}

/// A list response: `items` plus the list's resource version and continue token.
public struct ObjectList<T: Codable & Sendable>: Codable, Sendable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ListMeta
    public var items: [T]
    public init(metadata: ListMeta = ListMeta(), items: [T]) {
        self.metadata = metadata
        self.items = items
    }
}

/// Any object, kept as JSON: for kinds without a typed model (custom resources, unknown kinds).
public struct DynamicObject: KubernetesObject, Hashable {
    /// The whole object.
    public var json: JSONValue

    public init(_ json: JSONValue) { self.json = json }

    public init(from decoder: any Decoder) throws { json = try JSONValue(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }

    public var apiVersion: String? {
        get { json["apiVersion"]?.stringValue }
        set { json["apiVersion"] = newValue.map { .string($0) } }
    }
    public var kind: String? {
        get { json["kind"]?.stringValue }
        set { json["kind"] = newValue.map { .string($0) } }
    }
    /// The metadata, decoded on access; setting it writes back only the fields ObjectMeta models.
    public var metadata: ObjectMeta {
        get { (try? JSONValueDecoder().decode(ObjectMeta.self, from: json["metadata"] ?? .emptyObject)) ?? ObjectMeta() }
        set {
            let encoded = (try? JSONValueEncoder().encode(newValue)) ?? .emptyObject
            let old = json["metadata"] ?? .emptyObject
            let projected = (try? JSONValueEncoder().encode(
                (try? JSONValueDecoder().decode(ObjectMeta.self, from: old)) ?? ObjectMeta())) ?? .emptyObject
            json["metadata"] = ThreeWayMerge.merge(original: old, projected: projected, current: encoded)
        }
    }
    /// Always `nil`: the whole object is kept in ``json`` already.
    public var rawJSON: JSONValue? { get { nil } set {} }

    /// The value at a path of keys, e.g. `object[path: ["spec", "replicas"]]`.
    public subscript(path path: [String]) -> JSONValue? {
        get { json[path: path] }
        set { json[path: path] = newValue }
    }
}
