extension StringProtocol {
    /// The string without leading and trailing ASCII whitespace (space, tab, CR, LF, VT, FF): what HTTP header
    /// values, token files and command output need, without Foundation's Unicode character sets.
    public func trimmingASCIIWhitespace() -> String {
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }
        let s = Substring(self)
        guard let first = s.utf8.firstIndex(where: { !isSpace($0) }), let last = s.utf8.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(s[first...last])
    }
}

extension String {
    /// Percent-encodes everything but RFC 3986's unreserved characters (ASCII letters, digits, `-._~`), byte by
    /// byte of the UTF-8 (so a non-ASCII letter is encoded, as Go's url.QueryEscape/PathEscape do).
    public var percentEncoded: String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        for b in utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(b)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` escapes (as in URL query strings); nil if an escape is malformed or the bytes are not UTF-8.
    public var percentDecoded: String? {
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var it = utf8.makeIterator()
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        while let b = it.next() {
            guard b == UInt8(ascii: "%") else { out.append(b); continue }
            guard let h = it.next().flatMap(hex), let l = it.next().flatMap(hex) else { return nil }
            out.append(h << 4 | l)
        }
        return String(validating: out, as: UTF8.self)
    }
}
