import CYaml

/// Turns libyaml's event stream into ``JSONValue`` documents, resolving anchors, aliases and merge keys.
struct YAMLBuilder {
    let parser: UnsafeMutablePointer<yaml_parser_t>
    /// Anchored nodes and how many nodes each expands to.
    var anchors: [String: (value: JSONValue, size: Int)] = [:]
    var expanded = 0

    init(parser: UnsafeMutablePointer<yaml_parser_t>) { self.parser = parser }

    /// An owned libyaml event, deleted when dropped.
    final class Event {
        var raw = yaml_event_t()
        deinit { yaml_event_delete(&raw) }
        var type: yaml_event_type_t { raw.type }
        var line: Int { Int(raw.start_mark.line) + 1 }
        var column: Int { Int(raw.start_mark.column) + 1 }
    }

    mutating func next() throws(YAMLError) -> Event {
        let event = Event()
        guard yaml_parser_parse(parser, &event.raw) == 1 else {
            let p = parser.pointee
            let problem = p.problem.map { String(cString: $0) } ?? "invalid YAML"
            let context = p.context.map { String(cString: $0) + ": " } ?? ""
            let mark = p.problem_mark
            throw YAMLError(message: context + problem, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
        }
        return event
    }

    mutating func run() throws(YAMLError) -> [JSONValue] {
        var documents: [JSONValue] = []
        while true {
            let event = try next()
            switch event.type {
            case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT: continue
            case YAML_STREAM_END_EVENT: return documents
            case YAML_DOCUMENT_START_EVENT:
                anchors = [:]
                let root = try next()
                let (value, _) = try node(root, depth: 0)
                if !value.isNull { documents.append(value) }
            default:
                throw YAMLError(message: "unexpected event", line: event.line, column: event.column)
            }
        }
    }

    static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        p.map { String(cString: UnsafePointer($0)) }
    }

    mutating func remember(_ anchor: UnsafeMutablePointer<yaml_char_t>?, _ value: JSONValue, _ size: Int) {
        if let name = Self.string(anchor) { anchors[name] = (value, size) }
    }

    mutating func node(_ event: Event, depth: Int) throws(YAMLError) -> (JSONValue, Int) {
        if depth > YAML.maxDepth {
            throw YAMLError(message: "nesting deeper than \(YAML.maxDepth)", line: event.line, column: event.column)
        }
        switch event.type {
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.raw.data.alias.anchor) ?? ""
            guard let found = anchors[name] else {
                throw YAMLError(message: "unknown anchor '\(name)'", line: event.line, column: event.column)
            }
            expanded += found.size
            if expanded > YAML.maxExpandedNodes {
                throw YAMLError(message: "aliases expand to more than \(YAML.maxExpandedNodes) nodes",
                                line: event.line, column: event.column)
            }
            return found
        case YAML_SCALAR_EVENT:
            let s = event.raw.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
            let value = try Self.resolve(text, tag: Self.string(s.tag), plain: s.style == YAML_PLAIN_SCALAR_STYLE,
                                         line: event.line, column: event.column)
            expanded += 1
            remember(s.anchor, value, 1)
            return (value, 1)
        case YAML_SEQUENCE_START_EVENT:
            let anchor = event.raw.data.sequence_start.anchor.map { String(cString: UnsafePointer($0)) }
            var items: [JSONValue] = []
            var size = 1
            while true {
                let e = try next()
                if e.type == YAML_SEQUENCE_END_EVENT { break }
                let (v, n) = try node(e, depth: depth + 1)
                items.append(v)
                size += n
            }
            let value = JSONValue.array(items)
            if let anchor { anchors[anchor] = (value, size) }
            return (value, size)
        case YAML_MAPPING_START_EVENT:
            let anchor = event.raw.data.mapping_start.anchor.map { String(cString: UnsafePointer($0)) }
            var object = JSONObject()
            var merged: [JSONObject] = []
            var size = 1
            while true {
                let keyEvent = try next()
                if keyEvent.type == YAML_MAPPING_END_EVENT { break }
                let isMergeKey = keyEvent.type == YAML_SCALAR_EVENT
                    && keyEvent.raw.data.scalar.style == YAML_PLAIN_SCALAR_STYLE
                    && keyEvent.raw.data.scalar.length == 2
                    && keyEvent.raw.data.scalar.value[0] == UInt8(ascii: "<")
                    && keyEvent.raw.data.scalar.value[1] == UInt8(ascii: "<")
                let (key, _) = try node(keyEvent, depth: depth + 1)
                let valueEvent = try next()
                let (value, n) = try node(valueEvent, depth: depth + 1)
                size += n
                if isMergeKey {
                    switch value {
                    case .object(let o): merged.append(o)
                    case .array(let list):
                        for item in list {
                            guard case .object(let o) = item else {
                                throw YAMLError(message: "a merge key takes a mapping or a list of mappings",
                                                line: valueEvent.line, column: valueEvent.column)
                            }
                            merged.append(o)
                        }
                    default:
                        throw YAMLError(message: "a merge key takes a mapping or a list of mappings",
                                        line: valueEvent.line, column: valueEvent.column)
                    }
                    continue
                }
                let keyText: String
                switch key {
                case .string(let s): keyText = s
                case .null: keyText = "null"
                case .bool, .int, .double: keyText = key.serializedString()
                case .array, .object:
                    throw YAMLError(message: "a mapping key must be a scalar", line: keyEvent.line, column: keyEvent.column)
                }
                // As kubectl (go-yaml): a key given twice in one mapping is an error, not a silent override.
                guard object[keyText] == nil else {
                    throw YAMLError(message: "mapping key \"\(keyText)\" already defined", line: keyEvent.line, column: keyEvent.column)
                }
                object[keyText] = value
            }
            // Explicit keys win over merged ones; earlier merge sources win over later ones.
            for source in merged {
                for (k, v) in source where object[k] == nil { object[k] = v }
            }
            let value = JSONValue.object(object)
            if let anchor { anchors[anchor] = (value, size) }
            return (value, size)
        default:
            throw YAMLError(message: "unexpected event", line: event.line, column: event.column)
        }
    }

    static let trueWords: Set<String> = ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]
    static let falseWords: Set<String> = ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]
    static let nullWords: Set<String> = ["", "~", "null", "Null", "NULL"]

    static func resolve(_ text: String, tag: String?, plain: Bool, line: Int, column: Int) throws(YAMLError) -> JSONValue {
        let tagName = tag.map { $0.hasPrefix("tag:yaml.org,2002:") ? String($0.dropFirst(18)) : $0 }
        switch tagName {
        case "str", "binary", "timestamp": return .string(text)
        case "null": return .null
        case "bool":
            if trueWords.contains(text) { return .bool(true) }
            if falseWords.contains(text) { return .bool(false) }
            throw YAMLError(message: "'\(text)' is not a boolean", line: line, column: column)
        case "int":
            if let i = integer(text) { return .int(i) }
            throw YAMLError(message: "'\(text)' is not an integer", line: line, column: column)
        case "float":
            if let i = integer(text) { return .double(Double(i)) }
            if let d = float(text) { return .double(d) }
            throw YAMLError(message: "'\(text)' is not a number", line: line, column: column)
        case nil, "!": break
        default: break  // Unknown tags: resolve by content, as go-yaml does for local tags.
        }
        guard plain, tagName != "!" else { return .string(text) }
        if nullWords.contains(text) { return .null }
        if trueWords.contains(text) { return .bool(true) }
        if falseWords.contains(text) { return .bool(false) }
        guard let first = text.utf8.first,
              first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return .string(text) }
        if let i = integer(text) { return .int(i) }
        if let d = float(text) { return .double(d) }
        return .string(text)
    }

    static func integer(_ raw: String) -> Int64? {
        var text = Substring(raw.filter { $0 != "_" })
        if raw.hasPrefix("_") || text.isEmpty { return nil }
        var negative = false
        if text.first == "-" || text.first == "+" { negative = text.first == "-"; text = text.dropFirst() }
        guard !text.isEmpty else { return nil }
        var radix = 10
        if text.hasPrefix("0x") { radix = 16; text = text.dropFirst(2) }
        else if text.hasPrefix("0o") { radix = 8; text = text.dropFirst(2) }
        else if text.hasPrefix("0b") { radix = 2; text = text.dropFirst(2) }
        else if text.count > 1 && text.hasPrefix("0") { radix = 8; text = text.dropFirst() }
        guard !text.isEmpty, text.first != "-", text.first != "+", let magnitude = UInt64(text, radix: radix) else { return nil }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min as Int64 }
            guard let v = Int64(exactly: magnitude) else { return nil }
            return -v
        }
        return Int64(exactly: magnitude)
    }

    static func float(_ text: String) -> Double? {
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        // YAML 1.1 float: [-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)? ; also accept plain exponents.
        let cleaned = text.filter { $0 != "_" }
        var sawDigit = false
        for (i, c) in cleaned.utf8.enumerated() {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true
            case UInt8(ascii: "-"), UInt8(ascii: "+"): if i != 0, !"eE".utf8.contains(Array(cleaned.utf8)[i - 1]) { return nil }
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): break
            default: return nil
            }
        }
        guard sawDigit else { return nil }
        return Double(cleaned)
    }
}
