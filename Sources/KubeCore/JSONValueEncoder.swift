/// Encodes `Encodable` types into a ``JSONValue`` tree.
///
/// Guarantees: optional properties that are `nil` are left out (Kubernetes' `omitempty`); a ``JSONValue`` property
/// is written as it is.
public struct JSONValueEncoder: Sendable {
    public init() {}

    /// Encodes `value` to a ``JSONValue``.
    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if let v = value as? JSONValue { return v }
        let impl = JSONValueEncoderImpl(path: [])
        try value.encode(to: impl)
        return impl.storage.resolve()
    }

    /// Encodes `value` to compact JSON bytes with sorted keys.
    public func encodeToBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
        try encode(value).serialized()
    }
}

/// Where an encoder or container writes: a value, or an object/array still being filled in.
final class EncodingSlot {
    enum Content {
        case empty
        case value(JSONValue)
        case object([String: EncodingSlot])
        case array([EncodingSlot])
    }
    var content: Content = .empty

    var value: JSONValue? {
        get { if case .value(let v) = content { return v }; return nil }
        set { content = newValue.map { .value($0) } ?? .empty }
    }

    func resolve() -> JSONValue {
        switch content {
        case .empty: return .emptyObject
        case .value(let v): return v
        case .object(let o): return .object(JSONObject(uniqueEntries: o.map { ($0.key, $0.value.resolve()) }))
        case .array(let a): return .array(a.map { $0.resolve() })
        }
    }

    func objectSlot(_ key: String) -> EncodingSlot {
        var o: [String: EncodingSlot]
        if case .object(let existing) = content { o = existing } else { o = [:] }
        if let s = o[key] { return s }
        let s = EncodingSlot()
        o[key] = s
        content = .object(o)
        return s
    }

    func setObjectValue(_ key: String, _ value: JSONValue) {
        objectSlot(key).content = .value(value)
    }

    func ensureObject() { if case .object = content { return }; content = .object([:]) }
    func ensureArray() { if case .array = content { return }; content = .array([]) }

    func appendSlot() -> EncodingSlot {
        var a: [EncodingSlot]
        if case .array(let existing) = content { a = existing } else { a = [] }
        let s = EncodingSlot()
        a.append(s)
        content = .array(a)
        return s
    }
}

final class JSONValueEncoderImpl: Encoder {
    let storage: EncodingSlot
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(path: [any CodingKey], storage: EncodingSlot = EncodingSlot()) {
        self.codingPath = path
        self.storage = storage
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        storage.ensureObject()
        return KeyedEncodingContainer(KeyedEncoder<Key>(slot: storage, codingPath: codingPath))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        storage.ensureArray()
        return UnkeyedEncoder(slot: storage, codingPath: codingPath)
    }
    func singleValueContainer() -> any SingleValueEncodingContainer { SingleEncoder(slot: storage, codingPath: codingPath) }

    static func box<T: Encodable>(_ value: T, path: [any CodingKey]) throws -> JSONValue {
        switch value {
        case let v as JSONValue: return v
        case let v as String: return .string(v)
        case let v as Bool: return .bool(v)
        case let v as Int: return .int(Int64(v))
        case let v as Int32: return .int(Int64(v))
        case let v as Int64: return .int(v)
        case let v as Double: return .double(v)
        default:
            let impl = JSONValueEncoderImpl(path: path)
            try value.encode(to: impl)
            return impl.storage.resolve()
        }
    }
}

struct SingleEncoder: SingleValueEncodingContainer {
    let slot: EncodingSlot
    let codingPath: [any CodingKey]
    mutating func encodeNil() throws { slot.value = .null }
    mutating func encode(_ value: Bool) throws { slot.value = .bool(value) }
    mutating func encode(_ value: String) throws { slot.value = .string(value) }
    mutating func encode(_ value: Double) throws { slot.value = .double(value) }
    mutating func encode(_ value: Float) throws { slot.value = .double(Double(value)) }
    mutating func encode(_ value: Int) throws { slot.value = .int(Int64(value)) }
    mutating func encode(_ value: Int8) throws { slot.value = .int(Int64(value)) }
    mutating func encode(_ value: Int16) throws { slot.value = .int(Int64(value)) }
    mutating func encode(_ value: Int32) throws { slot.value = .int(Int64(value)) }
    mutating func encode(_ value: Int64) throws { slot.value = .int(value) }
    mutating func encode(_ value: UInt) throws { slot.value = .int(Int64(value)) }
    mutating func encode(_ value: UInt8) throws { slot.value = .int(Int64(value)) }
    mutating func encode(_ value: UInt16) throws { slot.value = .int(Int64(value)) }
    mutating func encode(_ value: UInt32) throws { slot.value = .int(Int64(value)) }
    mutating func encode(_ value: UInt64) throws { slot.value = .int(Int64(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { slot.value = try JSONValueEncoderImpl.box(value, path: codingPath) }
}

struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: EncodingSlot
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { slot.setObjectValue(key.stringValue, .null) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .double(value)) }
    mutating func encode(_ value: Float, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .double(Double(value))) }
    mutating func encode(_ value: Int, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .int(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { slot.setObjectValue(key.stringValue, .int(Int64(value))) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        slot.setObjectValue(key.stringValue, try JSONValueEncoderImpl.box(value, path: codingPath + [key]))
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = slot.objectSlot(key.stringValue)
        child.ensureObject()
        return KeyedEncodingContainer(KeyedEncoder<NestedKey>(slot: child, codingPath: codingPath + [key]))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = slot.objectSlot(key.stringValue)
        child.ensureArray()
        return UnkeyedEncoder(slot: child, codingPath: codingPath + [key])
    }
    mutating func superEncoder() -> any Encoder { JSONValueEncoderImpl(path: codingPath, storage: slot.objectSlot("super")) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        JSONValueEncoderImpl(path: codingPath + [key], storage: slot.objectSlot(key.stringValue))
    }
}

struct UnkeyedEncoder: UnkeyedEncodingContainer {
    let slot: EncodingSlot
    let codingPath: [any CodingKey]
    var count: Int { if case .array(let a) = slot.content { return a.count }; return 0 }

    mutating func encodeNil() throws { slot.appendSlot().value = .null }
    mutating func encode<T: Encodable>(_ value: T) throws {
        slot.appendSlot().value = try JSONValueEncoderImpl.box(value, path: codingPath + [IndexKey(count)])
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = slot.appendSlot()
        child.ensureObject()
        return KeyedEncodingContainer(KeyedEncoder<NestedKey>(slot: child, codingPath: codingPath))
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = slot.appendSlot()
        child.ensureArray()
        return UnkeyedEncoder(slot: child, codingPath: codingPath)
    }
    mutating func superEncoder() -> any Encoder { JSONValueEncoderImpl(path: codingPath, storage: slot.appendSlot()) }
}
