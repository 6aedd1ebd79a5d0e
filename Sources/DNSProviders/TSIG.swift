import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A TSIG key (RFC 8945): its name, algorithm and secret, as `tsig-keygen` (BIND) and `keymgr -t` (Knot) print them.
public struct TSIGKey: Sendable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case hmacSHA256 = "hmac-sha256"
        case hmacSHA512 = "hmac-sha512"

        /// The algorithm's name on the wire (RFC 8945 §6).
        var wireName: String { rawValue + "." }
    }

    public var name: String
    public var algorithm: Algorithm
    let secret: [UInt8]

    /// - Parameter secret: the key's bytes, base64 as key files carry them.
    public init(name: String, algorithm: Algorithm, base64Secret: String) throws {
        guard let bytes = Data(base64Encoded: base64Secret.trimmingCharacters(in: .whitespacesAndNewlines)), !bytes.isEmpty else {
            throw DNSUpdateError(.invalidKey, "the TSIG secret of \(name) is not base64")
        }
        self.name = DNSName.canonical(name)
        self.algorithm = algorithm
        self.secret = Array(bytes)
    }

    /// Parses the algorithm names BIND and Knot use (`hmac-sha256`, `HMAC-SHA256.`).
    public static func algorithm(named text: String) -> Algorithm? {
        var t = text.lowercased()
        if t.hasSuffix(".") { t.removeLast() }
        return Algorithm(rawValue: t)
    }

    func mac(_ data: [UInt8]) -> [UInt8] {
        let key = SymmetricKey(data: secret)
        switch algorithm {
        case .hmacSHA256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
        case .hmacSHA512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: key))
        }
    }
}

/// Signing requests and checking answers (RFC 8945 §4 and §5).
enum TSIG {
    /// RFC 8945 §10: the fudge BIND and Knot use.
    static let fudge: UInt16 = 300

    /// The TSIG variables (RFC 8945 §4.3.3) after the message they sign.
    static func variables(_ key: TSIGKey, time: UInt64, fudge: UInt16 = TSIG.fudge, error: UInt16 = 0, other: [UInt8] = []) throws -> [UInt8] {
        var w = WireWriter()
        try w.name(key.name, lowercased: true)
        w.u16(DNSMessage.RRClass.any)
        w.u32(0)
        try w.name(key.algorithm.wireName, lowercased: true)
        w.u48(time)
        w.u16(fudge)
        w.u16(error)
        w.u16(UInt16(other.count))
        w.bytes += other
        return w.bytes
    }

    /// The message with its TSIG record appended, and the MAC (the answer's check needs it).
    static func sign(_ message: DNSMessage, key: TSIGKey, now: Date) throws -> (bytes: [UInt8], mac: [UInt8]) {
        let body = try message.encoded()
        let time = UInt64(max(0, now.timeIntervalSince1970))
        let mac = key.mac(body + (try variables(key, time: time)))
        var rdata = WireWriter()
        try rdata.name(key.algorithm.wireName, lowercased: true)
        rdata.u48(time)
        rdata.u16(fudge)
        rdata.u16(UInt16(mac.count))
        rdata.bytes += mac
        rdata.u16(message.id)
        rdata.u16(0)
        rdata.u16(0)
        var signed = message
        signed.additional.append(DNSMessage.Record(name: key.name, type: DNSMessage.RRType.tsig, rrClass: DNSMessage.RRClass.any, ttl: 0, data: rdata.bytes))
        return (try signed.encoded(), mac)
    }

    /// The TSIG record of an answer, parsed.
    struct Signature {
        var algorithm: String
        var time: UInt64
        var fudge: UInt16
        var mac: [UInt8]
        var originalID: UInt16
        var error: UInt16
        var other: [UInt8]
    }

    /// Checks an answer's TSIG against the request's MAC. Throws ``DNSUpdateError`` with the server's TSIG error
    /// (BADSIG, BADKEY, BADTIME) or when the answer is unsigned or its MAC is wrong.
    static func verify(_ bytes: [UInt8], requestMAC: [UInt8], key: TSIGKey, now: Date) throws {
        // Where the last additional record (the TSIG) starts.
        var r = WireReader(bytes)
        r.offset = 4
        let qd = try r.u16(), an = try r.u16(), ns = try r.u16(), ar = try r.u16()
        guard ar > 0 else { throw DNSUpdateError(.unsigned, "the answer is not signed (no TSIG record)") }
        for _ in 0..<qd { _ = try r.name(); _ = try r.take(4) }
        for _ in 0..<(Int(an) + Int(ns) + Int(ar) - 1) { _ = try r.record() }
        let start = r.offset
        let record = try r.record()
        guard record.type == DNSMessage.RRType.tsig else { throw DNSUpdateError(.unsigned, "the answer is not signed (no TSIG record)") }
        guard DNSName.canonical(record.name) == key.name else {
            throw DNSUpdateError(.badSignature, "the answer is signed with key \(record.name), not \(key.name)")
        }
        var d = WireReader(record.data)
        let algorithm = try d.name()
        let sig = Signature(algorithm: algorithm, time: try d.u48(), fudge: try d.u16(), mac: try d.take(Int(try d.u16())),
                            originalID: try d.u16(), error: try d.u16(), other: try d.take(Int(try d.u16())))
        // BADSIG and BADKEY answers are unsigned (RFC 8945 §5.2); a BADTIME answer is signed and checked first.
        switch sig.error {
        case 0, 18: break
        case 16: throw DNSUpdateError(.badSignature, "the server refused the signature (BADSIG): the TSIG secret does not match")
        case 17: throw DNSUpdateError(.badKey, "the server does not know the key \(key.name) (BADKEY)")
        default: throw DNSUpdateError(.badSignature, "the server answered TSIG error \(sig.error)")
        }
        guard DNSName.canonical(algorithm) == key.algorithm.wireName else {
            throw DNSUpdateError(.badSignature, "the answer is signed with \(algorithm), not \(key.algorithm.rawValue)")
        }
        // The answer as it was before its TSIG was added: ARCOUNT one less, the original ID.
        var unsigned = Array(bytes[0..<start])
        unsigned[0] = UInt8(sig.originalID >> 8)
        unsigned[1] = UInt8(sig.originalID & 0xFF)
        unsigned[10] = UInt8((ar - 1) >> 8)
        unsigned[11] = UInt8((ar - 1) & 0xFF)
        var prefix = WireWriter()
        prefix.u16(UInt16(requestMAC.count))
        prefix.bytes += requestMAC
        let expected = key.mac(prefix.bytes + unsigned + (try variables(key, time: sig.time, fudge: sig.fudge, error: sig.error, other: sig.other)))
        guard constantTimeEqual(expected, sig.mac) else { throw DNSUpdateError(.badSignature, "the answer's TSIG MAC is wrong") }
        if sig.error == 18 { throw DNSUpdateError(.badTime, "the server says our clock is off (BADTIME)") }
        let skew = abs(Int64(sig.time) - Int64(now.timeIntervalSince1970))
        guard skew <= Int64(sig.fudge) else { throw DNSUpdateError(.badTime, "the answer was signed \(skew) s away from our clock") }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
