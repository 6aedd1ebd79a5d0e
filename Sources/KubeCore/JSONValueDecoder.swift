/// Decodes `Decodable` types from a ``JSONValue`` tree without going through text.
///
/// Guarantees: missing optional keys and explicit `null` decode as `nil`; integers decode into any
/// fixed-width integer type when they fit; a ``JSONValue`` property receives the subtree as it is.
public struct JSONValueDecoder: Sendable {
    public init() {}

    /// Decodes `type` from `value`.
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        if T.self == JSONValue.self { return value as! T }
        return try T(from: JSONValueDecoderImpl(value: value, path: nil))
    }

    /// Parses JSON bytes and decodes `type` from them.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try decode(type, from: try JSONParser.parse(bytes))
    }
}

/// A coding path kept as a linked list, so the path is only materialised when an error needs it.
final class CodingPathNode {
    let parent: CodingPathNode?
    let key: any CodingKey
    init(parent: CodingPathNode?, key: any CodingKey) { self.parent = parent; self.key = key }

    static func path(_ node: CodingPathNode?) -> [any CodingKey] {
        var keys: [any CodingKey] = []
        var n = node
        while let c = n { keys.append(c.key); n = c.parent }
        return keys.reversed()
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

struct IndexKey: CodingKey {
    var stringValue: String { "\(intValue!)" }
    var intValue: Int?
    init(_ i: Int) { intValue = i }
    init?(stringValue: String) { return nil }
    init?(intValue: Int) { self.intValue = intValue }
}

final class JSONValueDecoderImpl: Decoder {
    let value: JSONValue
    let path: CodingPathNode?
    var codingPath: [any CodingKey] { CodingPathNode.path(path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(value: JSONValue, path: CodingPathNode?) {
        self.value = value
        self.path = path
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let o) = value else {
            throw DecodingError.typeMismatch(JSONObject.self, .init(
                codingPath: codingPath, debugDescription: "expected an object, found \(value.typeName)"))
        }
        return KeyedDecodingContainer(KeyedContainer<Key>(object: o, path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let a) = value else {
            throw DecodingError.typeMismatch([JSONValue].self, .init(
                codingPath: codingPath, debugDescription: "expected an array, found \(value.typeName)"))
        }
        return UnkeyedContainer(array: a, path: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleContainer(value: value, path: path) }

    static func unbox<T: Decodable>(_ value: JSONValue, as type: T.Type, path: @autoclosure () -> CodingPathNode?) throws -> T {
        // Fast paths for the types Kubernetes objects are mostly made of.
        switch value {
        case .string(let s) where T.self == String.self: return s as! T
        case .int(let i) where T.self == Int.self: return Int(i) as! T
        case .int(let i) where T.self == Int32.self && Int64(Int32.min)...Int64(Int32.max) ~= i: return Int32(i) as! T
        case .int(let i) where T.self == Int64.self: return i as! T
        case .bool(let b) where T.self == Bool.self: return b as! T
        default: break
        }
        if T.self == JSONValue.self { return value as! T }
        // Labels, annotations, data maps and string lists skip the generic container machinery.
        if T.self == [String: String].self, case .object(let o) = value {
            var out = [String: String](minimumCapacity: o.count)
            for (k, v) in o {
                guard case .string(let s) = v else { throw mismatch(String.self, v, CodingPathNode(parent: path(), key: AnyKey(k))) }
                out[k] = s
            }
            return out as! T
        }
        if T.self == [String].self, case .array(let a) = value {
            var out: [String] = []
            out.reserveCapacity(a.count)
            for (i, v) in a.enumerated() {
                guard case .string(let s) = v else { throw mismatch(String.self, v, CodingPathNode(parent: path(), key: IndexKey(i))) }
                out.append(s)
            }
            return out as! T
        }
        if T.self == [JSONValue].self, case .array(let a) = value { return a as! T }
        return try T(from: JSONValueDecoderImpl(value: value, path: path()))
    }

    static func mismatch<T>(_ type: T.Type, _ value: JSONValue, _ path: CodingPathNode?) -> DecodingError {
        DecodingError.typeMismatch(type, .init(codingPath: CodingPathNode.path(path),
                                               debugDescription: "expected \(type), found \(value.typeName)"))
    }

    static func integer<I: FixedWidthInteger>(_ value: JSONValue, _ type: I.Type, _ path: CodingPathNode?) throws -> I {
        switch value {
        case .int(let i): if let v = I(exactly: i) { return v }
        case .double(let d): if let v = I(exactly: d) { return v }
        default: break
        }
        throw mismatch(type, value, path)
    }

    static func floating<F: BinaryFloatingPoint>(_ value: JSONValue, _ type: F.Type, _ path: CodingPathNode?) throws -> F {
        switch value {
        case .int(let i): return F(i)
        case .double(let d): return F(d)
        default: throw mismatch(type, value, path)
        }
    }
}

struct SingleContainer: SingleValueDecodingContainer {
    let value: JSONValue
    let path: CodingPathNode?
    var codingPath: [any CodingKey] { CodingPathNode.path(path) }

    func decodeNil() -> Bool { value.isNull }
    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let b) = value else { throw JSONValueDecoderImpl.mismatch(type, value, path) }
        return b
    }
    func decode(_ type: String.Type) throws -> String {
        guard case .string(let s) = value else { throw JSONValueDecoderImpl.mismatch(type, value, path) }
        return s
    }
    func decode(_ type: Double.Type) throws -> Double { try JSONValueDecoderImpl.floating(value, type, path) }
    func decode(_ type: Float.Type) throws -> Float { try JSONValueDecoderImpl.floating(value, type, path) }
    func decode(_ type: Int.Type) throws -> Int { try JSONValueDecoderImpl.integer(value, type, path) }
    func decode(_ type: Int8.Type) throws -> Int8 { try JSONValueDecoderImpl.integer(value, type, path) }
    func decode(_ type: Int16.Type) throws -> Int16 { try JSONValueDecoderImpl.integer(value, type, path) }
    func decode(_ type: Int32.Type) throws -> Int32 { try JSONValueDecoderImpl.integer(value, type, path) }
    func decode(_ type: Int64.Type) throws -> Int64 { try JSONValueDecoderImpl.integer(value, type, path) }
    func decode(_ type: UInt.Type) throws -> UInt { try JSONValueDecoderImpl.integer(value, type, path) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try JSONValueDecoderImpl.integer(value, type, path) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try JSONValueDecoderImpl.integer(value, type, path) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try JSONValueDecoderImpl.integer(value, type, path) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try JSONValueDecoderImpl.integer(value, type, path) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONValueDecoderImpl.unbox(value, as: type, path: path) }
}

struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: JSONObject
    let path: CodingPathNode?
    var codingPath: [any CodingKey] { CodingPathNode.path(path) }
    var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

    @inline(__always) func value(_ key: Key) throws -> JSONValue {
        guard let v = object[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath,
                                                       debugDescription: "required key '\(key.stringValue)' is missing"))
        }
        return v
    }

    func child(_ key: Key) -> CodingPathNode { CodingPathNode(parent: path, key: key) }

    func decodeNil(forKey key: Key) throws -> Bool { (object[key.stringValue] ?? .null).isNull }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try SingleContainer(value: try value(key), path: child(key)).decode(type)
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        let v = try value(key)
        if case .string(let s) = v { return s }
        throw JSONValueDecoderImpl.mismatch(type, v, child(key))
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try JSONValueDecoderImpl.floating(try value(key), type, child(key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try JSONValueDecoderImpl.floating(try value(key), type, child(key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try JSONValueDecoderImpl.integer(try value(key), type, child(key)) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try JSONValueDecoderImpl.integer(try value(key), type, child(key)) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try JSONValueDecoderImpl.integer(try value(key), type, child(key)) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try JSONValueDecoderImpl.integer(try value(key), type, child(key)) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try JSONValueDecoderImpl.integer(try value(key), type, child(key)) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try JSONValueDecoderImpl.integer(try value(key), type, child(key)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try JSONValueDecoderImpl.integer(try value(key), type, child(key)) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try JSONValueDecoderImpl.integer(try value(key), type, child(key)) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try JSONValueDecoderImpl.integer(try value(key), type, child(key)) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try JSONValueDecoderImpl.integer(try value(key), type, child(key)) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try JSONValueDecoderImpl.unbox(try value(key), as: type, path: child(key))
    }

    // Optional fields: absent or null is nil; anything else must decode.
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        guard let v = object[key.stringValue], !v.isNull else { return nil }
        if case .string(let s) = v { return s }
        throw JSONValueDecoderImpl.mismatch(type, v, child(key))
    }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? {
        guard let v = object[key.stringValue], !v.isNull else { return nil }
        return try JSONValueDecoderImpl.integer(v, type, child(key))
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
        guard let v = object[key.stringValue], !v.isNull else { return nil }
        return try JSONValueDecoderImpl.integer(v, type, child(key))
    }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? {
        guard let v = object[key.stringValue], !v.isNull else { return nil }
        return try JSONValueDecoderImpl.integer(v, type, child(key))
    }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        guard let v = object[key.stringValue], !v.isNull else { return nil }
        if case .bool(let b) = v { return b }
        throw JSONValueDecoderImpl.mismatch(type, v, child(key))
    }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let v = object[key.stringValue], !v.isNull else { return nil }
        return try JSONValueDecoderImpl.unbox(v, as: type, path: child(key))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONValueDecoderImpl(value: try value(key), path: child(key)).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try JSONValueDecoderImpl(value: try value(key), path: child(key)).unkeyedContainer()
    }
    func superDecoder() throws -> any Decoder { JSONValueDecoderImpl(value: .object(object), path: path) }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        JSONValueDecoderImpl(value: object[key.stringValue] ?? .null, path: child(key))
    }
}

struct UnkeyedContainer: UnkeyedDecodingContainer {
    let array: [JSONValue]
    let path: CodingPathNode?
    var currentIndex = 0
    var codingPath: [any CodingKey] { CodingPathNode.path(path) }
    var count: Int? { array.count }
    var isAtEnd: Bool { currentIndex >= array.count }

    init(array: [JSONValue], path: CodingPathNode?) { self.array = array; self.path = path }

    mutating func next() throws -> (JSONValue, CodingPathNode?) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(JSONValue.self, .init(codingPath: codingPath, debugDescription: "array is at its end"))
        }
        defer { currentIndex += 1 }
        return (array[currentIndex], path)
    }

    mutating func decodeNil() throws -> Bool {
        if !isAtEnd, array[currentIndex].isNull { currentIndex += 1; return true }
        return false
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { let i = currentIndex; let (v, p) = try next(); return try SingleContainer(value: v, path: CodingPathNode(parent: p, key: IndexKey(i))).decode(type) }
    mutating func decode(_ type: String.Type) throws -> String { let i = currentIndex; let (v, p) = try next(); return try SingleContainer(value: v, path: CodingPathNode(parent: p, key: IndexKey(i))).decode(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { let (v, p) = try next(); return try JSONValueDecoderImpl.floating(v, type, p) }
    mutating func decode(_ type: Float.Type) throws -> Float { let (v, p) = try next(); return try JSONValueDecoderImpl.floating(v, type, p) }
    mutating func decode(_ type: Int.Type) throws -> Int { let (v, p) = try next(); return try JSONValueDecoderImpl.integer(v, type, p) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { let (v, p) = try next(); return try JSONValueDecoderImpl.integer(v, type, p) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { let (v, p) = try next(); return try JSONValueDecoderImpl.integer(v, type, p) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { let (v, p) = try next(); return try JSONValueDecoderImpl.integer(v, type, p) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { let (v, p) = try next(); return try JSONValueDecoderImpl.integer(v, type, p) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { let (v, p) = try next(); return try JSONValueDecoderImpl.integer(v, type, p) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { let (v, p) = try next(); return try JSONValueDecoderImpl.integer(v, type, p) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { let (v, p) = try next(); return try JSONValueDecoderImpl.integer(v, type, p) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { let (v, p) = try next(); return try JSONValueDecoderImpl.integer(v, type, p) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { let (v, p) = try next(); return try JSONValueDecoderImpl.integer(v, type, p) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let i = currentIndex
        let (v, p) = try next()
        return try JSONValueDecoderImpl.unbox(v, as: type, path: CodingPathNode(parent: p, key: IndexKey(i)))
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let i = currentIndex
        let (v, p) = try next()
        return try JSONValueDecoderImpl(value: v, path: CodingPathNode(parent: p, key: IndexKey(i))).container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let i = currentIndex
        let (v, p) = try next()
        return try JSONValueDecoderImpl(value: v, path: CodingPathNode(parent: p, key: IndexKey(i))).unkeyedContainer()
    }
    mutating func superDecoder() throws -> any Decoder {
        let i = currentIndex
        let (v, p) = try next()
        return JSONValueDecoderImpl(value: v, path: CodingPathNode(parent: p, key: IndexKey(i)))
    }
}
