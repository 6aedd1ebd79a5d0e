import CYaml

/// An error in YAML input, with the 1-based line and column where libyaml found it.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// 1-based line of the problem.
    public var line: Int
    /// 1-based column of the problem.
    public var column: Int
    public var description: String { "YAML error at line \(line), column \(column): \(message)" }
}

/// YAML through libyaml: multi-document streams into ``JSONValue`` and into `Decodable` types.
///
/// Scalars resolve as kubectl resolves them (sigs.k8s.io/yaml on go-yaml v2, i.e. YAML 1.1 rules): `true/false`,
/// `yes/no`, `on/off`, `y/n` in their usual capitalisations are booleans; `~`, `null` and empty are null; integers may be
/// decimal, `0x` hex, `0o` or leading-`0` octal and `0b` binary; `.inf`/`.nan` are floats; quoted scalars and `!!str`
/// are always strings. Anchors, aliases and `<<` merge keys are supported. Non-string mapping keys become their text.
///
/// Guarantees: never traps or hangs on any input. Nesting deeper than ``maxDepth`` and alias expansion beyond
/// ``maxExpandedNodes`` ("billion laughs") are errors.
public enum YAML {
    /// Deepest nesting accepted.
    public static let maxDepth = 512
    /// Most nodes a stream may expand to through aliases, as a guard against alias bombs.
    public static let maxExpandedNodes = 1_000_000

    /// Parses every document of a YAML stream. Empty documents (such as a trailing `---`) are left out, as kubectl does.
    public static func parseAll(_ text: String) throws(YAMLError) -> [JSONValue] {
        var copy = text
        let r = copy.withUTF8 { buf in Result { () throws(YAMLError) in try parseAll(buffer: UnsafeRawBufferPointer(buf)) } }
        return try r.get()
    }

    /// Parses every document of a YAML stream given as UTF-8 bytes.
    public static func parseAll(_ bytes: [UInt8]) throws(YAMLError) -> [JSONValue] {
        let r = bytes.withUnsafeBytes { buf in Result { () throws(YAMLError) in try parseAll(buffer: buf) } }
        return try r.get()
    }

    /// Parses a stream that must hold exactly one document (an empty stream is `null`).
    public static func parse(_ text: String) throws(YAMLError) -> JSONValue {
        let docs = try parseAll(text)
        if docs.count > 1 { throw YAMLError(message: "expected one document, found \(docs.count)", line: 1, column: 1) }
        return docs.first ?? .null
    }

    /// Parses one document and decodes `type` from it.
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONValueDecoder().decode(type, from: try parse(text))
    }

    static func parseAll(buffer: UnsafeRawBufferPointer) throws(YAMLError) -> [JSONValue] {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return [] }
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            throw YAMLError(message: "libyaml could not initialise a parser", line: 1, column: 1)
        }
        defer { yaml_parser_delete(parser) }
        yaml_parser_set_input_string(parser, base.assumingMemoryBound(to: UInt8.self), buffer.count)
        var builder = YAMLBuilder(parser: parser)
        return try builder.run()
    }
}
