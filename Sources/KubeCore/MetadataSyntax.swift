/// The API server's rules for names in object metadata (apimachinery's `IsQualifiedName`, `IsValidLabelValue`,
/// `IsDNS1123Subdomain` and `ValidateAnnotations`), so a client can refuse what a server would before it writes, and
/// LocalCluster refuses what kube-apiserver refuses.
public enum MetadataSyntax {
    /// The most bytes all annotations of an object may take (keys and values together).
    public static let totalAnnotationSizeLimit = 256 * 1024

    /// Why `key` is not a valid label key (a qualified name: an optional DNS-subdomain prefix and `/`, then a name of
    /// at most 63 characters), or nil.
    public static func labelKeyProblem(_ key: String) -> String? { qualifiedNameProblem(key) }

    /// Why `value` is not a valid label value (empty, or at most 63 alphanumerics, `-`, `_` and `.`, starting and
    /// ending with an alphanumeric), or nil.
    public static func labelValueProblem(_ value: String) -> String? {
        if value.isEmpty { return nil }
        if value.utf8.count > 63 { return "must be no more than 63 characters" }
        if !isName(value) {
            return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        }
        return nil
    }

    /// Why `key` is not a valid annotation key (a qualified name, compared in lower case as the API server does), or nil.
    public static func annotationKeyProblem(_ key: String) -> String? { qualifiedNameProblem(key.lowercased()) }

    /// The problems of a set of labels and annotations, as `(field, message)` pairs (`field` like `metadata.labels`),
    /// in the API server's words.
    public static func problems(labels: [String: String], annotations: [String: String], field: String = "metadata") -> [(field: String, message: String)] {
        var out: [(String, String)] = []
        for (k, v) in labels.sorted(by: { $0.key < $1.key }) {
            if let p = labelKeyProblem(k) { out.append(("\(field).labels", "Invalid value: \"\(k)\": \(p)")) }
            if let p = labelValueProblem(v) { out.append(("\(field).labels", "Invalid value: \"\(v)\": \(p)")) }
        }
        var size = 0
        for (k, v) in annotations.sorted(by: { $0.key < $1.key }) {
            if let p = annotationKeyProblem(k) { out.append(("\(field).annotations", "Invalid value: \"\(k)\": \(p)")) }
            size += k.utf8.count + v.utf8.count
        }
        if size > totalAnnotationSizeLimit {
            out.append(("\(field).annotations", "Too long: may not be more than \(totalAnnotationSizeLimit) bytes"))
        }
        return out
    }

    static func qualifiedNameProblem(_ value: String) -> String? {
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        let name: Substring
        switch parts.count {
        case 1: name = parts[0]
        case 2:
            let prefix = parts[0]
            name = parts[1]
            if prefix.isEmpty { return "prefix part must be non-empty" }
            if let p = dnsSubdomainProblem(String(prefix)) { return "prefix part \(p)" }
        default:
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        }
        if name.isEmpty { return "name part must be non-empty" }
        if name.utf8.count > 63 { return "name part must be no more than 63 characters" }
        if !isName(name) {
            return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        }
        return nil
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
    static func isName<S: StringProtocol>(_ s: S) -> Bool {
        let bytes = Array(s.utf8)
        guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else { return false }
        return bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    /// Why `value` is not a lowercase RFC 1123 label (a Namespace's name), or nil.
    public static func dnsLabelProblem(_ value: String) -> String? {
        if value.utf8.count > 63 { return "must be no more than 63 characters" }
        let b = Array(value.utf8)
        func lowerAlnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) }
        guard let f = b.first, let l = b.last, lowerAlnum(f), lowerAlnum(l), b.allSatisfy({ lowerAlnum($0) || $0 == UInt8(ascii: "-") }) else {
            return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        }
        return nil
    }

    /// Why `value` is not a DNS-1035 label (a Service's name: it starts with a letter), or nil.
    public static func dns1035LabelProblem(_ value: String) -> String? {
        if value.utf8.count > 63 { return "must be no more than 63 characters" }
        let b = Array(value.utf8)
        func lower(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7A }
        func lowerAlnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || lower(c) }
        guard let f = b.first, let l = b.last, lower(f), lowerAlnum(l), b.allSatisfy({ lowerAlnum($0) || $0 == UInt8(ascii: "-") }) else {
            return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        }
        return nil
    }

    /// Why `value` is not a lowercase RFC 1123 subdomain, or nil.
    public static func dnsSubdomainProblem(_ value: String) -> String? {
        if value.utf8.count > 253 { return "must be no more than 253 characters" }
        let labels = value.split(separator: ".", omittingEmptySubsequences: false)
        let ok = labels.allSatisfy { label in
            let b = Array(label.utf8)
            guard let f = b.first, let l = b.last else { return false }
            func lowerAlnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) }
            return lowerAlnum(f) && lowerAlnum(l) && b.allSatisfy { lowerAlnum($0) || $0 == UInt8(ascii: "-") }
        }
        if !ok {
            return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        }
        return nil
    }
}
