import KubeCore

/// flagd's `sem_ver` operator: `{"sem_ver": [version, op, version]}` with `=`, `!=`, `<`, `<=`, `>`, `>=`, `^`
/// (same major) and `~` (same major and minor). Each side is made a string (Python's `str()`), loses one leading
/// `v`/`V`, is padded to three numbers (`1.5` is `1.5.0`) and must then be a strict SemVer 2.0.0 version; build
/// metadata is ignored in comparisons. Anything invalid gives null (no match).
struct SemVer: Comparable {
    /// Numbers as digit strings without leading zeros: compared by length, then digits (no overflow).
    var major: String
    var minor: String
    var patch: String
    var prerelease: [String]

    static func operate(_ args: [JSONValue]) -> JSONValue {
        guard args.count == 3, case .string(let op) = args[1],
              let a = parse(JSONLogic.pythonStrForSemVer(args[0])), let b = parse(JSONLogic.pythonStrForSemVer(args[2])) else { return .null }
        switch op {
        case "=": return .bool(a == b)
        case "!=": return .bool(a != b)
        case "<": return .bool(a < b)
        case "<=": return .bool(a <= b)
        case ">": return .bool(a > b)
        case ">=": return .bool(a >= b)
        case "^": return .bool(a.major == b.major)
        case "~": return .bool(a.major == b.major && a.minor == b.minor)
        default: return .null
        }
    }

    static func parse(_ text: String) -> SemVer? {
        var version = text
        if version.hasPrefix("v") || version.hasPrefix("V") { version.removeFirst() }
        // Pad the numeric part (before the first '-' or '+') to three numbers.
        let numericEnd = version.firstIndex { $0 == "-" || $0 == "+" } ?? version.endIndex
        let numeric = version[..<numericEnd]
        let dots = numeric.filter { $0 == "." }.count
        if dots < 2 {
            version = String(numeric) + String(repeating: ".0", count: 2 - dots) + version[numericEnd...]
        }
        guard version.unicodeScalars.allSatisfy({ $0.isASCII }) else { return nil }
        var rest = Substring(version)
        var build: Substring?
        if let plus = rest.firstIndex(of: "+") {
            build = rest[rest.index(after: plus)...]
            rest = rest[..<plus]
        }
        var pre: Substring?
        if let dash = rest.firstIndex(of: "-") {
            pre = rest[rest.index(after: dash)...]
            rest = rest[..<dash]
        }
        let numbers = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard numbers.count == 3, numbers.allSatisfy(isNumber) else { return nil }
        var prerelease: [String] = []
        if let pre {
            let ids = pre.split(separator: ".", omittingEmptySubsequences: false)
            for id in ids {
                guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { return nil }
                if id.allSatisfy(\.isNumber) && !isNumber(id) { return nil }  // a numeric identifier has no leading zero
                prerelease.append(String(id))
            }
        }
        if let build {
            for id in build.split(separator: ".", omittingEmptySubsequences: false) {
                guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { return nil }
            }
        }
        return SemVer(major: String(numbers[0]), minor: String(numbers[1]), patch: String(numbers[2]), prerelease: prerelease)
    }

    /// `0|[1-9][0-9]*`.
    static func isNumber(_ s: Substring) -> Bool {
        guard let first = s.first, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return first != "0" || s.count == 1
    }

    static func numberLess(_ a: String, _ b: String) -> Bool { a.count != b.count ? a.count < b.count : a < b }

    static func < (a: SemVer, b: SemVer) -> Bool {
        for (x, y) in [(a.major, b.major), (a.minor, b.minor), (a.patch, b.patch)] where x != y { return numberLess(x, y) }
        if a.prerelease == b.prerelease { return false }
        if a.prerelease.isEmpty { return false }
        if b.prerelease.isEmpty { return true }
        for (x, y) in zip(a.prerelease, b.prerelease) where x != y {
            let xn = x.allSatisfy(\.isNumber), yn = y.allSatisfy(\.isNumber)
            switch (xn, yn) {
            case (true, true): return numberLess(x, y)
            case (true, false): return true
            case (false, true): return false
            case (false, false): return x.utf8.lexicographicallyPrecedes(y.utf8)
            }
        }
        return a.prerelease.count < b.prerelease.count
    }

    static func == (a: SemVer, b: SemVer) -> Bool {
        a.major == b.major && a.minor == b.minor && a.patch == b.patch && a.prerelease == b.prerelease
    }
}

extension JSONLogic {
    /// Python's `str()` of a `sem_ver` argument (booleans `True`/`False`, null `None`).
    static func pythonStrForSemVer(_ v: JSONValue) -> String {
        switch v {
        case .bool(let b): b ? "True" : "False"
        default: pythonStr(v)
        }
    }
}
