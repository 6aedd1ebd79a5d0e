#if canImport(Glibc)
import Glibc
#endif
import KubeCore

/// flagd's targeting language: JSONLogic with flagd's operators (`fractional`, `starts_with`, `ends_with`,
/// `sem_ver`), evaluated with the semantics of flagd's reference evaluator (openfeature-flagd-core over
/// panzi-json-logic): Python's coercions (booleans are numbers, strings become numbers through `float()`, `cat`
/// formats floats with `%.15g`), code-point string operations, errors for division by zero.
///
/// `{"$ref": "name"}` is replaced by the named evaluator when the flag is compiled (structurally, so any order of
/// definition works and an unknown name is an error then, not at every evaluation); every operator is checked
/// then too, so a flag with an unknown operator is rejected instead of failing each evaluation.
public struct JSONLogic: Sendable {
    public let logic: JSONValue

    /// Why a targeting rule cannot be compiled.
    public struct CompileError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Why an evaluation failed (flagd reports these as GENERAL).
    public struct EvaluationError: Error, CustomStringConvertible {
        public let description: String
    }

    static let lazyOperators: Set<String> = ["if", "?:", "and", "or", "filter", "map", "reduce", "all", "some", "none"]
    static let operators: Set<String> = lazyOperators.union([
        "==", "!=", "===", "!==", "<", ">", "<=", ">=", "!", "!!", "+", "*", "-", "/", "%", "in", "min", "max", "cat",
        "log", "var", "substr", "merge", "missing", "missing_some", "fractional", "starts_with", "ends_with", "sem_ver",
    ])
    static let maxDepth = 64
    /// The most JSON nodes targeting may have once every `$ref` is expanded: evaluators referring to each other
    /// twice per level would otherwise expand exponentially (and be copied into every replica's memory). Room for
    /// long literal lists (an `in` over thousands of ids).
    static let maxNodes = 200_000

    public init(_ targeting: JSONValue, evaluators: [String: JSONValue] = [:]) throws(CompileError) {
        guard case .object = targeting else { throw CompileError(description: "targeting must be a JSONLogic object, not \(targeting.typeName)") }
        var budget = Self.maxNodes
        let resolved = try Self.resolveRefs(targeting, evaluators, depth: 0, path: [], budget: &budget)
        try Self.check(resolved, depth: 0)
        logic = resolved
    }

    static func resolveRefs(_ v: JSONValue, _ evaluators: [String: JSONValue], depth: Int, path: [String],
                            budget: inout Int) throws(CompileError) -> JSONValue {
        guard depth < maxDepth else { throw CompileError(description: "targeting is nested more than \(maxDepth) levels (with $ref expanded)") }
        budget -= 1
        guard budget >= 0 else { throw CompileError(description: "targeting has more than \(maxNodes) elements with every $ref expanded") }
        switch v {
        case .array(let items):
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for item in items { out.append(try resolveRefs(item, evaluators, depth: depth + 1, path: path, budget: &budget)) }
            return .array(out)
        case .object(let o):
            if o.count == 1, let name = o["$ref"] {
                guard let name = name.stringValue, let target = evaluators[name] else {
                    throw CompileError(description: "$ref \(name.serializedString()) names no evaluator (known: \(evaluators.keys.sorted().joined(separator: ", ")))")
                }
                guard !path.contains(name) else { throw CompileError(description: "$ref cycle: \((path + [name]).joined(separator: " -> "))") }
                return try resolveRefs(target, evaluators, depth: depth + 1, path: path + [name], budget: &budget)
            }
            var out = JSONObject(minimumCapacity: o.count)
            for (k, value) in o { out[k] = try resolveRefs(value, evaluators, depth: depth + 1, path: path, budget: &budget) }
            return .object(out)
        default:
            return v
        }
    }

    /// Every one-key object is an operation (as the interpreter reads it): its name must be known.
    static func check(_ v: JSONValue, depth: Int) throws(CompileError) {
        guard depth < maxDepth else { throw CompileError(description: "targeting is nested more than \(maxDepth) levels") }
        switch v {
        case .array(let items):
            for item in items { try check(item, depth: depth + 1) }
        case .object(let o) where o.count == 1:
            let (op, args) = (o.keys[0], o.values[0])
            guard operators.contains(op) else {
                throw CompileError(description: "unknown operator '\(op)' (an object with one key is an operation; known: \(operators.sorted().joined(separator: " ")))")
            }
            if op == "reduce", case .array(let a) = args {
                // The initial value is not evaluated.
                for item in a.prefix(2) { try check(item, depth: depth + 1) }
            } else {
                try check(args, depth: depth + 1)
            }
        default:
            break
        }
    }

    /// Evaluates against `data` (the context's attributes, `targetingKey` and `$flagd`).
    public func evaluate(_ data: JSONValue) throws(EvaluationError) -> JSONValue {
        try Self.apply(logic, data)
    }

    // MARK: the interpreter

    static func apply(_ logic: JSONValue, _ data: JSONValue) throws(EvaluationError) -> JSONValue {
        switch logic {
        case .array(let items):
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for item in items { out.append(try apply(item, data)) }
            return .array(out)
        case .object(let o) where o.count == 1:
            let op = o.keys[0]
            let raw = o.values[0]
            let args: [JSONValue] = if case .array(let a) = raw { a } else { [raw] }
            if lazyOperators.contains(op) { return try applyLazy(op, args, data) }
            var values: [JSONValue] = []
            values.reserveCapacity(args.count)
            for a in args { values.append(try apply(a, data)) }
            return try operate(op, values, data)
        default:
            return logic
        }
    }

    static func applyLazy(_ op: String, _ args: [JSONValue], _ data: JSONValue) throws(EvaluationError) -> JSONValue {
        switch op {
        case "if", "?:":
            var i = 0
            while i < args.count - 1 {
                if truthy(try apply(args[i], data)) { return try apply(args[i + 1], data) }
                i += 2
            }
            return i < args.count ? try apply(args[i], data) : .null
        case "and":
            var current = JSONValue.null
            for a in args {
                current = try apply(a, data)
                if !truthy(current) { return current }
            }
            return current
        case "or":
            var current = JSONValue.null
            for a in args {
                current = try apply(a, data)
                if truthy(current) { return current }
            }
            return current
        case "filter":
            guard args.count >= 2, case .array(let items) = try apply(args[0], data) else { return .array([]) }
            var out: [JSONValue] = []
            for item in items where truthy(try apply(args[1], item)) { out.append(item) }
            return .array(out)
        case "map":
            guard args.count >= 1, case .array(let items) = try apply(args[0], data) else { return .array([]) }
            let sub = args.count > 1 ? args[1] : .null
            var out: [JSONValue] = []
            for item in items { out.append(try apply(sub, item)) }
            return .array(out)
        case "reduce":
            guard args.count >= 1 else { return .null }
            let sub = args.count > 1 ? args[1] : .null
            let initial = args.count > 2 ? args[2] : .null
            guard case .array(let items) = try apply(args[0], data) else { return initial }
            var accumulator = initial
            for item in items {
                accumulator = try apply(sub, ["accumulator": accumulator, "current": item])
            }
            return accumulator
        case "all":
            guard args.count >= 2, case .array(let items) = try apply(args[0], data), !items.isEmpty else { return false }
            for item in items where !truthy(try apply(args[1], item)) { return false }
            return true
        case "some":
            guard args.count >= 2, case .array(let items) = try apply(args[0], data) else { return false }
            for item in items where truthy(try apply(args[1], item)) { return true }
            return false
        default:  // "none"
            guard args.count >= 2, case .array(let items) = try apply(args[0], data) else { return true }
            for item in items where truthy(try apply(args[1], item)) { return false }
            return true
        }
    }

    static func operate(_ op: String, _ a: [JSONValue], _ data: JSONValue) throws(EvaluationError) -> JSONValue {
        func arg(_ i: Int) -> JSONValue { i < a.count ? a[i] : .null }
        switch op {
        case "var": return variable(data, arg(0), arg(1))
        case "missing":
            let keys: [JSONValue] = if case .array(let k)? = a.first { k } else { a }
            return .array(keys.filter { key in
                let v = variable(data, key, .null)
                return v.isNull || v == .string("")
            })
        case "missing_some":
            guard case .array(let keys) = arg(1) else { return .array([]) }
            let missing = keys.filter { key in
                let v = variable(data, key, .null)
                return v.isNull || v == .string("")
            }
            let need = number(arg(0))
            return compare(.int(Int64(keys.count - missing.count)), need, >=) ? .array([]) : .array(missing)
        case "==": return .bool(looseEquals(arg(0), arg(1)))
        case "!=": return .bool(!looseEquals(arg(0), arg(1)))
        case "===": return .bool(pyEquals(arg(0), arg(1)))
        case "!==": return .bool(!pyEquals(arg(0), arg(1)))
        case "<", ">", "<=", ">=":
            let cmp: (Double, Double) -> Bool
            let scmp: (String, String) -> Bool
            switch op {
            case "<": (cmp, scmp) = ({ $0 < $1 }, { codePointLess($0, $1) })
            case ">": (cmp, scmp) = ({ $0 > $1 }, { codePointLess($1, $0) })
            case "<=": (cmp, scmp) = ({ $0 <= $1 }, { !codePointLess($1, $0) })
            default: (cmp, scmp) = ({ $0 >= $1 }, { !codePointLess($0, $1) })
            }
            func relate(_ x: JSONValue, _ y: JSONValue) -> Bool {
                if isNumeric(x) { return compare(x, number(y), cmp) }
                if isNumeric(y) { return compare(number(x), y, cmp) }
                if case .string(let s) = x { return scmp(s, string(y)) }
                if case .string(let s) = y { return scmp(string(x), s) }
                return compare(number(x), number(y), cmp)
            }
            if arg(2).isNull { return .bool(relate(arg(0), arg(1))) }
            return .bool(relate(arg(0), arg(1)) && relate(arg(1), arg(2)))
        case "!": return .bool(!truthy(arg(0)))
        case "!!": return .bool(truthy(arg(0)))
        case "+":
            var total = JSONValue.int(0)
            for v in a { total = arithmetic(total, number(v), +, { $0.addingReportingOverflow($1) }) }
            return total
        case "*":
            var total = JSONValue.int(1)
            for v in a { total = arithmetic(total, number(v), *, { $0.multipliedReportingOverflow(by: $1) }) }
            return total
        case "-":
            if arg(1).isNull {
                let n = number(arg(0))
                if case .double(let d) = n { return .double(-d) }
                return arithmetic(.int(0), n, -, { $0.subtractingReportingOverflow($1) })
            }
            return arithmetic(number(arg(0)), number(arg(1)), -, { $0.subtractingReportingOverflow($1) })
        case "/":
            let (x, y) = (double(number(arg(0))), double(number(arg(1))))
            guard y != 0 else { throw EvaluationError(description: "division by zero") }
            return .double(x / y)
        case "%":
            let (x, y) = (number(arg(0)), number(arg(1)))
            if let i = integer(x), let j = integer(y) {
                guard j != 0 else { throw EvaluationError(description: "modulo by zero") }
                if j == -1 { return .int(0) }
                let r = i % j
                return .int(r != 0 && (r < 0) != (j < 0) ? r + j : r)
            }
            let (p, q) = (double(x), double(y))
            guard q != 0 else { throw EvaluationError(description: "modulo by zero") }
            var r = fmod(p, q)
            if r != 0 && (r < 0) != (q < 0) { r += q } else if r == 0 { r = q < 0 ? -0.0 : 0.0 }
            return .double(r)
        case "in":
            switch arg(1) {
            case .array(let items): return .bool(items.contains { pyEquals($0, arg(0)) })
            case .string(let haystack): return .bool(contains(haystack, string(arg(0))))
            default: return false
            }
        case "min", "max":
            guard !a.isEmpty else { return .double(.nan) }
            var best = number(a[0])
            for v in a.dropFirst() {
                let n = number(v)
                if op == "min" ? compare(n, best, <) : compare(n, best, >) { best = n }
            }
            return best
        case "cat": return .string(a.map(string).joined())
        case "substr": return .string(try substring(arg(0), arg(1), a.count > 2 ? arg(2) : nil))
        case "merge":
            var out: [JSONValue] = []
            for v in a { if case .array(let items) = v { out.append(contentsOf: items) } else { out.append(v) } }
            return .array(out)
        case "log": return arg(0)
        case "starts_with", "ends_with":
            guard a.count == 2, case .string(let s) = a[0], case .string(let t) = a[1] else { return .null }
            let (sb, tb) = (Array(s.utf8), Array(t.utf8))
            guard tb.count <= sb.count else { return false }
            return .bool(op == "starts_with" ? sb.starts(with: tb) : sb.suffix(tb.count).elementsEqual(tb))
        case "sem_ver": return SemVer.operate(a)
        case "fractional": return try Fractional.operate(a, data)
        default:
            throw EvaluationError(description: "unknown operator '\(op)'")
        }
    }

    // MARK: Python's coercions

    /// Whether a value is a number to Python (booleans are).
    static func isNumeric(_ v: JSONValue) -> Bool {
        switch v {
        case .int, .double, .bool: true
        default: false
        }
    }

    static func integer(_ v: JSONValue) -> Int64? {
        switch v {
        case .int(let i): i
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    static func double(_ v: JSONValue) -> Double {
        switch v {
        case .int(let i): Double(i)
        case .bool(let b): b ? 1 : 0
        case .double(let d): d
        default: .nan
        }
    }

    static func compare(_ x: JSONValue, _ y: JSONValue, _ op: (Double, Double) -> Bool) -> Bool {
        if let i = integer(x), let j = integer(y) {
            // Exact for integers beyond 2^53.
            if i == j { return op(0, 0) }
            return op(i < j ? 0 : 1, i < j ? 1 : 0)
        }
        return op(double(x), double(y))
    }

    static func arithmetic(_ x: JSONValue, _ y: JSONValue, _ f: (Double, Double) -> Double,
                           _ exact: (Int64, Int64) -> (partialValue: Int64, overflow: Bool)) -> JSONValue {
        if let i = integer(x), let j = integer(y) {
            let r = exact(i, j)
            if !r.overflow { return .int(r.partialValue) }
        }
        return .double(f(double(x), double(y)))
    }

    /// json_logic's `to_number`: numbers (and booleans) as they are, null 0, a one-element list its element, a
    /// string through Python's `float()`, anything else NaN.
    static func number(_ v: JSONValue) -> JSONValue {
        switch v {
        case .int, .double, .bool: return v
        case .null: return .int(0)
        case .array(let items):
            if items.isEmpty { return .int(0) }
            return items.count == 1 ? number(items[0]) : .double(.nan)
        case .object: return .double(.nan)
        case .string(let s):
            let t = s.trimmingPythonWhitespace().lowercased()
            if t == "inf" || t == "-inf" || t == "+inf" { return .double(.nan) }
            return .double(pythonFloat(s) ?? .nan)
        }
    }

    /// Python's `float(str)`: surrounding whitespace, `_` between digits, nan, inf and infinity with a sign.
    static func pythonFloat(_ s: String) -> Double? {
        var t = Array(s.trimmingPythonWhitespace().unicodeScalars)
        guard !t.isEmpty else { return nil }
        // Non-ASCII decimal digits count as digits in Python.
        t = t.map { c in
            if c.value >= 128, let d = c.properties.numericType, d == .decimal, let v = c.properties.numericValue {
                return Unicode.Scalar(UInt8(48 + Int(v)))
            }
            return c
        }
        var text = String(String.UnicodeScalarView(t))
        let lower = text.lowercased()
        let unsigned = lower.hasPrefix("+") || lower.hasPrefix("-") ? String(lower.dropFirst()) : lower
        if unsigned == "nan" { return .nan }
        if unsigned == "inf" || unsigned == "infinity" { return lower.hasPrefix("-") ? -.infinity : .infinity }
        if text.contains("_") {
            let chars = Array(text)
            for (i, c) in chars.enumerated() where c == "_" {
                guard i > 0, i < chars.count - 1, chars[i - 1].isASCII, chars[i - 1].isNumber, chars[i + 1].isASCII, chars[i + 1].isNumber else { return nil }
            }
            text = text.replacing("_", with: "")
        }
        // Only decimal notation (Swift would also take hexadecimal).
        guard text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2e || $0 == 0x65 || $0 == 0x45 || $0 == 0x2b || $0 == 0x2d }),
              text.utf8.contains(where: { $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Double(text)
    }

    /// json_logic's `to_string`: floats with `%.15g`, integers in decimal, booleans as Python's `True`/`False`
    /// (they are ints there), null as `null`, lists joined with commas, objects `[object Object]`.
    static func string(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return s
        case .double(let d): return formatG15(d)
        case .int(let i): return String(i)
        case .bool(let b): return b ? "True" : "False"
        case .null: return "null"
        case .array(let items): return items.map(string).joined(separator: ",")
        case .object: return "[object Object]"
        }
    }

    static func formatG15(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([d]) { vsnprintf(&buffer, 64, "%.15g", $0) }
        return String(cString: buffer)
    }

    /// Truthiness (json_logic's `to_bool`): null, false, 0, NaN, "" and [] are false; every object is true.
    static func truthy(_ v: JSONValue) -> Bool {
        switch v {
        case .null: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .double(let d): !d.isNaN && d != 0
        case .string(let s): !s.isEmpty
        case .array(let a): !a.isEmpty
        case .object: true
        }
    }

    /// Python's `==`: numbers (booleans included) by value across int and float, lists and dicts structurally.
    static func pyEquals(_ x: JSONValue, _ y: JSONValue) -> Bool {
        if isNumeric(x) && isNumeric(y) { return compare(x, y, ==) }
        switch (x, y) {
        case (.null, .null): return true
        case (.string(let s), .string(let t)): return s.utf8.elementsEqual(t.utf8)
        case (.array(let p), .array(let q)): return p.count == q.count && zip(p, q).allSatisfy { pyEquals($0, $1) }
        case (.object(let p), .object(let q)):
            return p.count == q.count && p.allSatisfy { k, v in exactLookup(q, k).map { pyEquals(v, $0) } ?? false }
        default: return false
        }
    }

    /// json_logic's `==` (`op_equals`).
    static func looseEquals(_ x: JSONValue, _ y: JSONValue) -> Bool {
        if sameType(x, y) {
            switch x {
            // Python compares lists and dicts of the same type by identity: two values are never the same object here.
            case .array, .object: return false
            default: return pyEquals(x, y)
            }
        }
        if isNumeric(x) { return compare(x, isNumeric(y) ? y : number(y), ==) }
        if isNumeric(y) { return compare(number(x), y, ==) }
        if x.isNull || y.isNull { return false }
        if case .string(let s) = x {
            if case .array = y { return s.utf8.elementsEqual(string(y).utf8) }
            if case .object = y { return s.utf8.elementsEqual(string(y).utf8) }
            return false
        }
        switch x {
        case .array, .object:
            if case .string(let t) = y { return string(x).utf8.elementsEqual(t.utf8) }
            return false
        default:
            return false
        }
    }

    static func sameType(_ x: JSONValue, _ y: JSONValue) -> Bool {
        switch (x, y) {
        case (.null, .null), (.bool, .bool), (.int, .int), (.double, .double), (.string, .string), (.array, .array), (.object, .object): true
        default: false
        }
    }

    static func codePointLess(_ s: String, _ t: String) -> Bool { s.utf8.lexicographicallyPrecedes(t.utf8) }

    static func contains(_ haystack: String, _ needle: String) -> Bool {
        let h = Array(haystack.utf8), n = Array(needle.utf8)
        if n.isEmpty { return true }
        guard n.count <= h.count else { return false }
        for i in 0...(h.count - n.count) where h[i] == n[0] && h[i..<(i + n.count)].elementsEqual(n) { return true }
        return false
    }

    /// `var`: the whole data for null or "", an index for a number, else a dotted path (indexes into lists and
    /// strings, `length` of either); missing or null gives the default.
    static func variable(_ data: JSONValue, _ key: JSONValue, _ fallback: JSONValue) -> JSONValue {
        if key.isNull || key == .string("") { return data }
        if isNumeric(key) {
            let n = double(key)
            switch data {
            case .array(let items):
                guard n.rounded(.towardZero) == n, n >= 0, n < Double(items.count) else { return fallback }
                return items[Int(n)]
            case .string(let s):
                let scalars = Array(s.unicodeScalars)
                guard n.rounded(.towardZero) == n, n >= 0, n < Double(scalars.count) else { return fallback }
                return .string(String(scalars[Int(n)]))
            default:
                return fallback
            }
        }
        var current = data
        for part in string(key).split(separator: ".", omittingEmptySubsequences: false) {
            switch current {
            case .array(let items):
                if part == "length" { return .int(Int64(items.count)) }
                guard let i = canonicalIndex(part), i < items.count else { return fallback }
                current = items[i]
            case .string(let s):
                let scalars = Array(s.unicodeScalars)
                if part == "length" { return .int(Int64(scalars.count)) }
                guard let i = canonicalIndex(part), i < scalars.count else { return fallback }
                current = .string(String(scalars[i]))
            case .object(let o):
                current = exactLookup(o, part) ?? .null
            default:
                return fallback
            }
        }
        return current.isNull ? fallback : current
    }

    /// A member by its exact code points (Swift's `==` on strings would also match canonically equivalent text,
    /// which Python does not).
    static func exactLookup(_ o: JSONObject, _ key: some StringProtocol) -> JSONValue? {
        for (k, v) in o where k.utf8.elementsEqual(key.utf8) { return v }
        return nil
    }

    static func canonicalIndex(_ part: Substring) -> Int? {
        guard let i = Int(part), i >= 0, String(i) == part else { return nil }
        return i
    }

    static func substring(_ s: JSONValue, _ index: JSONValue, _ length: JSONValue?) throws(EvaluationError) -> String {
        let scalars = Array(string(s).unicodeScalars)
        let count = scalars.count
        let idx = double(number(index))
        // Python's int() of an infinity raises OverflowError (flagd: GENERAL).
        if idx.isInfinite, idx >= 0 || -idx < Double(count) { throw EvaluationError(description: "substr: cannot convert infinity to an integer") }
        if let length, !length.isNull, double(number(length)).isInfinite { throw EvaluationError(description: "substr: cannot convert infinity to an integer") }
        var start: Int
        if idx.isNaN {
            start = 0
        } else if idx < 0 {
            let back = -idx
            start = back >= Double(count) ? 0 : count - Int(back)
        } else {
            start = idx >= Double(count) ? count : Int(idx)
        }
        var end: Int
        if let length, !length.isNull {
            let l = double(number(length))
            if l.isNaN {
                end = start
            } else {
                let n = Int(max(min(l, 1e15), -1e15))
                end = n < 0 ? max(count + n, start) : start + n
            }
        } else {
            end = count
        }
        start = min(max(start, 0), count)
        end = min(max(end, start), count)
        return String(String.UnicodeScalarView(scalars[start..<end]))
    }

    /// Python's `str()`, which flagd applies to a targeting result that is not a string to make a variant name.
    static func pythonStr(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"  // flagd lower-cases booleans first
        case .int(let i): return String(i)
        case .double(let d): return pythonFloatRepr(d)
        case .null: return "None"
        case .array(let items): return "[" + items.map(pythonRepr).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.map { "'\($0.key)': \(pythonRepr($0.value))" }.joined(separator: ", ") + "}"
        }
    }

    /// Python's `repr(float)`: the shortest digits that round-trip (as Swift's), in fixed notation when the decimal
    /// exponent is within [-4, 16), else `d.ddde+XX` (at least two exponent digits); `1.0`, `1e+16`, `1e-05`.
    static func pythonFloatRepr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Decompose Swift's shortest representation into digits and a decimal exponent.
        var text = abs(d).description
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(parts[0]), fracPart = parts.count > 1 ? String(parts[1]) : ""
        var digits = intPart + fracPart
        var pointAfter = intPart.count + exponent  // the decimal point sits after this many digits
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            pointAfter -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let sign = d < 0 ? "-" : ""
        let decimalExponent = pointAfter - 1
        if decimalExponent >= -4 && decimalExponent < 16 {
            if pointAfter <= 0 { return sign + "0." + String(repeating: "0", count: -pointAfter) + digits }
            if pointAfter >= digits.count { return sign + digits + String(repeating: "0", count: pointAfter - digits.count) + ".0" }
            let i = digits.index(digits.startIndex, offsetBy: pointAfter)
            return sign + digits[..<i] + "." + digits[i...]
        }
        let mantissa = digits.count == 1 ? digits : String(digits.first!) + "." + digits.dropFirst()
        let e = abs(decimalExponent)
        return sign + mantissa + "e" + (decimalExponent < 0 ? "-" : "+") + (e < 10 ? "0" : "") + String(e)
    }

    static func pythonRepr(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return "'\(s)'"
        case .bool(let b): return b ? "True" : "False"
        default: return pythonStr(v)
        }
    }
}

extension String {
    /// Strips what Python's `str.strip()` strips: Unicode whitespace.
    func trimmingPythonWhitespace() -> String {
        let scalars = Array(unicodeScalars)
        var lo = 0, hi = scalars.count
        while lo < hi, scalars[lo].properties.isWhitespace || (0x1c...0x1f).contains(scalars[lo].value) { lo += 1 }
        while hi > lo, scalars[hi - 1].properties.isWhitespace || (0x1c...0x1f).contains(scalars[hi - 1].value) { hi -= 1 }
        return String(String.UnicodeScalarView(scalars[lo..<hi]))
    }
}
