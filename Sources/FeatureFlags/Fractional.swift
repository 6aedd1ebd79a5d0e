import KubeCore

/// flagd's `fractional` operator: `{"fractional": [bucketBy?, [variant, weight], ...]}`. The bucket key is the
/// canonical CBOR encoding of `bucketBy` (default: the array `[flagKey, targetingKey]`), hashed with murmur3
/// (x86, 32-bit, seed 0); the bucket is `hash × totalWeight >> 32`, and the variants take consecutive ranges of
/// their integer weights (1 when omitted). Anything invalid gives null (no match), as in flagd.
enum Fractional {
    static func operate(_ args: [JSONValue], _ data: JSONValue) throws(JSONLogic.EvaluationError) -> JSONValue {
        guard !args.isEmpty else { return .null }
        var rest = args[...]
        let bucketBy: JSONValue
        if case .array = args[0] {
            // flagd reads the targeting key from the data; inside map/filter the data may be no object (Python raises).
            guard case .object = data else { throw JSONLogic.EvaluationError(description: "fractional: the data is \(data.typeName), not the evaluation context") }
            guard case .string(let key)? = data["targetingKey"], !key.isEmpty else { return .null }
            let flagKey = data["$flagd"]?["flagKey"] ?? .string("")
            bucketBy = .array([flagKey, .string(key)])
        } else {
            bucketBy = args[0]
            rest = rest.dropFirst()
        }
        guard !bucketBy.isNull else { return .null }
        var fractions: [(variant: JSONValue, weight: Int64)] = []
        var total: Int64 = 0
        for f in rest {
            guard case .array(let pair) = f, pair.count == 1 || pair.count == 2 else { return .null }
            var weight: Int64 = 1
            if pair.count == 2 {
                guard case .int(let w) = pair[1] else { return .null }
                weight = max(0, w)
            }
            let (sum, overflow) = total.addingReportingOverflow(weight)
            guard !overflow else { return .null }
            total = sum
            fractions.append((pair[0], weight))
        }
        guard total > 0, total <= 2_147_483_647 else { return .null }
        var encoded: [UInt8] = []
        CBOR.encode(normalize(bucketBy), into: &encoded)
        let hash = UInt64(Murmur3.hash32(encoded))
        let bucket = Int64((hash * UInt64(total)) >> 32)
        var running: Int64 = 0
        for f in fractions {
            running += f.weight
            if bucket < running { return f.variant }
        }
        return .null
    }

    /// Python's `normalize_numbers`: integral floats within [-2^63, 2^64 - 1] become integers, recursively.
    static func normalize(_ v: JSONValue) -> JSONValue {
        switch v {
        case .double(let d) where d.isFinite && d.rounded(.towardZero) == d && d >= -9_223_372_036_854_775_808 && d < 18_446_744_073_709_551_616:
            if let i = Int64(exactly: d) { return .int(i) }
            return v  // above Int64: encoded as an unsigned integer by CBOR below
        case .array(let items): return .array(items.map(normalize))
        case .object(let o): return .object(o.mapValues(normalize))
        default: return v
        }
    }
}

/// Canonical CBOR (RFC 8949 §4.2.1 as Python's cbor2 writes it with `canonical=True`) of JSON values.
enum CBOR {
    static func head(_ major: UInt8, _ n: UInt64, into out: inout [UInt8]) {
        let m = major << 5
        switch n {
        case 0..<24: out.append(m | UInt8(n))
        case 24...0xff: out += [m | 24, UInt8(n)]
        case 0x100...0xffff: out += [m | 25, UInt8(n >> 8), UInt8(n & 0xff)]
        case 0x10000...0xffff_ffff: out += [m | 26] + (0..<4).reversed().map { UInt8((n >> ($0 * 8)) & 0xff) }
        default: out += [m | 27] + (0..<8).reversed().map { UInt8((n >> ($0 * 8)) & 0xff) }
        }
    }

    static func encode(_ v: JSONValue, into out: inout [UInt8]) {
        switch v {
        case .null: out.append(0xf6)
        case .bool(let b): out.append(b ? 0xf5 : 0xf4)
        case .int(let i):
            if i >= 0 { head(0, UInt64(i), into: &out) } else { head(1, UInt64(-(i + 1)), into: &out) }
        case .double(let d):
            if d.isFinite, d.rounded(.towardZero) == d, d >= 9_223_372_036_854_775_808, d < 18_446_744_073_709_551_616 {
                head(0, UInt64(d), into: &out)
            } else {
                encodeFloat(d, into: &out)
            }
        case .string(let s):
            let bytes = Array(s.utf8)
            head(3, UInt64(bytes.count), into: &out)
            out += bytes
        case .array(let items):
            head(4, UInt64(items.count), into: &out)
            for item in items { encode(item, into: &out) }
        case .object(let o):
            head(5, UInt64(o.count), into: &out)
            var entries: [(key: [UInt8], value: JSONValue)] = []
            for (k, value) in o {
                var encodedKey: [UInt8] = []
                encode(.string(k), into: &encodedKey)
                entries.append((encodedKey, value))
            }
            entries.sort { a, b in a.key.count != b.key.count ? a.key.count < b.key.count : a.key.lexicographicallyPrecedes(b.key) }
            for e in entries {
                out += e.key
                encode(e.value, into: &out)
            }
        }
    }

    /// The shortest of half, single and double precision that holds the value exactly.
    static func encodeFloat(_ d: Double, into out: inout [UInt8]) {
        if d.isNaN {
            out += [0xf9, 0x7e, 0x00]
            return
        }
        #if arch(x86_64) || arch(arm64)
        let half = Float16(d)
        if Double(half) == d {
            let bits = half.bitPattern
            out += [0xf9, UInt8(bits >> 8), UInt8(bits & 0xff)]
            return
        }
        #endif
        let single = Float(d)
        if Double(single) == d {
            let bits = single.bitPattern
            out += [0xfa] + (0..<4).reversed().map { UInt8((bits >> ($0 * 8)) & 0xff) }
            return
        }
        let bits = d.bitPattern
        out += [0xfb] + (0..<8).reversed().map { UInt8((bits >> ($0 * 8)) & 0xff) }
    }
}
