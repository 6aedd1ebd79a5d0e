/// The members of a JSON object, in the order they were read or set.
///
/// Kept as a flat array of key/value pairs rather than a hash table: Kubernetes objects are made of many small objects
/// (most under 20 keys), where a linear scan beats hashing every key, and parsing then allocates one buffer per object
/// instead of a hash table. Lookups in very large objects (thousands of keys) are linear; iterate instead.
///
/// Guarantees: keys are unique (setting an existing key replaces its value in place); equality and hashing ignore
/// order, as JSON object semantics do.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: String, value: JSONValue)
    @usableFromInline var entries: [Element]

    public init() { entries = [] }
    public init(minimumCapacity: Int) {
        entries = []
        entries.reserveCapacity(minimumCapacity)
    }
    public init(_ dictionary: [String: JSONValue]) { entries = dictionary.map { ($0.key, $0.value) } }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        entries = []
        for (k, v) in elements { self[k] = v }
    }
    /// Builds from pairs that are known to have unique keys (the parser's duplicate check ran already).
    init(uniqueEntries: [Element]) { entries = uniqueEntries }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }
    public var values: [JSONValue] { entries.map(\.value) }
    public func makeIterator() -> IndexingIterator<[Element]> { entries.makeIterator() }

    @inlinable func index(of key: String) -> Int? {
        for i in entries.indices where entries[i].key == key { return i }
        return nil
    }

    /// The value for `key`; setting `nil` removes it.
    public subscript(key: String) -> JSONValue? {
        get {
            for e in entries where e.key == key { return e.value }
            return nil
        }
        set {
            if let i = index(of: key) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    /// A copy with every value transformed.
    public func mapValues(_ transform: (JSONValue) throws -> JSONValue) rethrows -> JSONObject {
        JSONObject(uniqueEntries: try entries.map { ($0.key, try transform($0.value)) })
    }

    /// As a Swift dictionary.
    public var dictionary: [String: JSONValue] { Dictionary(entries, uniquingKeysWith: { _, last in last }) }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        guard a.count == b.count else { return false }
        for (k, v) in a.entries { guard b[k] == v else { return false } }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent: combine per-entry hashes commutatively.
        var combined = 0
        for (k, v) in entries {
            var h = Hasher()
            h.combine(k)
            h.combine(v)
            combined ^= h.finalize()
        }
        hasher.combine(count)
        hasher.combine(combined)
    }

    /// Removes earlier duplicates of keys, keeping the last value (as Go's encoding/json does).
    mutating func removeDuplicateKeys() {
        let n = entries.count
        guard n > 1 else { return }
        var duplicate = false
        if n <= 32 {
            outer: for i in 1..<n {
                for j in 0..<i where entries[j].key == entries[i].key { duplicate = true; break outer }
            }
        } else {
            var seen = Set<String>(minimumCapacity: n)
            for e in entries where !seen.insert(e.key).inserted { duplicate = true; break }
        }
        guard duplicate else { return }
        var lastIndex: [String: Int] = [:]
        for (i, e) in entries.enumerated() { lastIndex[e.key] = i }
        entries = entries.enumerated().filter { lastIndex[$0.element.key] == $0.offset }.map(\.element)
    }
}
