#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What went wrong with a DNS exchange, and whether trying again may help.
public struct DNSUpdateError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        /// The server could not be reached, or did not answer in time.
        case unreachable, timeout
        /// The record changed since it was read (a prerequisite failed: someone else changed it).
        case conflict
        /// The server refused the update (REFUSED, NOTAUTH without a TSIG error, NOTZONE).
        case refused
        /// TSIG: the secret does not match, the key is unknown, the clocks differ, or the answer is unsigned.
        case badSignature, badKey, badTime, unsigned
        /// SERVFAIL and other server-side failures.
        case serverFailure
        case malformed, invalidKey, invalidRecord
    }
    public var kind: Kind
    public var description: String
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
    /// Worth retrying with backoff: the network and the server's own failures. A refused key or a conflict is not
    /// fixed by waiting.
    public var isRetryable: Bool { [.unreachable, .timeout, .serverFailure, .badTime].contains(kind) }
}

/// A record set: name, type, TTL and values (addresses for A/AAAA, a name for CNAME).
public struct DNSRecordSet: Sendable, Equatable {
    public var name: String
    /// `A`, `AAAA` or `CNAME`.
    public var type: String
    public var ttl: Int
    public var values: [String]
    public init(name: String, type: String, ttl: Int, values: [String]) {
        self.name = name
        self.type = type
        self.ttl = ttl
        self.values = values
    }
}

/// Dynamic updates (RFC 2136) of one zone on its primary server, signed with TSIG (RFC 8945) when a key is given.
/// A change names what it expects to replace, as an RFC 2136 prerequisite: if the record changed meanwhile, the
/// server refuses the whole update and ``DNSUpdateError/Kind/conflict`` says so; nothing is half-applied.
public struct RFC2136Client: Sendable {
    public let transport: DNSTransport
    public let zone: String
    public let key: TSIGKey?
    let now: @Sendable () -> Date

    public init(transport: DNSTransport, zone: String, key: TSIGKey?, now: @escaping @Sendable () -> Date = { Date() }) {
        self.transport = transport
        self.zone = DNSName.canonical(zone)
        self.key = key
        self.now = now
    }

    /// The record set as the server has it now (nil: none), asked of the server itself, not a resolver.
    public func read(name: String, type: String) async throws -> DNSRecordSet? {
        let t = try Self.typeCode(type)
        let fqdn = try absolute(name)
        let query = DNSMessage(id: UInt16.random(in: 0...UInt16.max), flags: DNSMessage.Opcode.query << 11,
                               questions: [.init(name: fqdn, type: t, rrClass: DNSMessage.RRClass.in)])
        let answer = try await exchange(query)
        switch answer.rcode {
        case 0, 3: break  // NOERROR, NXDOMAIN (no such name: no record)
        case 5: throw DNSUpdateError(.refused, "the server refused to answer for \(fqdn) (REFUSED)")
        default: throw DNSUpdateError(.serverFailure, "the server answered \(Self.rcodeName(answer.rcode)) for \(fqdn)")
        }
        let records = answer.answers.filter { $0.type == t && DNSName.canonical($0.name) == DNSName.canonical(fqdn) }
        guard !records.isEmpty else { return nil }
        return DNSRecordSet(name: fqdn, type: type.uppercased(), ttl: Int(records[0].ttl), values: try records.map { try Self.text(type: t, $0.data) })
    }

    /// The zone's SOA serial: the server is reachable and serves the zone (and, with a key, accepts its signature).
    public func serial() async throws -> UInt32 {
        let query = DNSMessage(id: UInt16.random(in: 0...UInt16.max), flags: DNSMessage.Opcode.query << 11,
                               questions: [.init(name: zone, type: DNSMessage.RRType.soa, rrClass: DNSMessage.RRClass.in)])
        let answer = try await exchange(query)
        guard answer.rcode == 0, let soa = answer.answers.first(where: { $0.type == DNSMessage.RRType.soa }) else {
            throw DNSUpdateError(answer.rcode == 5 ? .refused : .serverFailure, "the server does not serve the zone \(zone) (\(Self.rcodeName(answer.rcode)))")
        }
        var r = WireReader(soa.data)
        _ = try r.name()
        _ = try r.name()
        return try r.u32()
    }

    /// Replaces the record set with `desired`, on the condition that the server still has `expected` (nil: that
    /// there is no such record set). With `dryRun`, only the condition, the key and its right to update the name
    /// are checked (the prerequisites and the deletion of a record that does not exist: changes nothing).
    public func replace(_ desired: DNSRecordSet, expected: DNSRecordSet?, dryRun: Bool = false) async throws {
        let t = try Self.typeCode(desired.type)
        let fqdn = try absolute(desired.name)
        guard !desired.values.isEmpty else { throw DNSUpdateError(.invalidRecord, "a record set needs at least one value") }
        guard t != DNSMessage.RRType.cname || desired.values.count == 1 else { throw DNSUpdateError(.invalidRecord, "a CNAME has one value") }
        var prerequisites: [DNSMessage.Record] = []
        if let expected, !expected.values.isEmpty {
            // RFC 2136 §2.4.2: "RRset exists (value dependent)": exactly these records.
            for v in expected.values {
                prerequisites.append(.init(name: fqdn, type: t, rrClass: DNSMessage.RRClass.in, ttl: 0, data: try Self.data(type: t, v)))
            }
        } else {
            // §2.4.3: "RRset does not exist".
            prerequisites.append(.init(name: fqdn, type: t, rrClass: DNSMessage.RRClass.none, ttl: 0, data: []))
        }
        var updates: [DNSMessage.Record] = []
        if dryRun {
            // One update that changes nothing - the deletion of a record that is not there (class NONE, §2.5.4) -
            // so the server applies its update policy to the key, which a prerequisite alone does not.
            let sentinel = t == DNSMessage.RRType.a ? "255.255.255.255" : t == DNSMessage.RRType.aaaa ? "100::dead:beef" : "salespot-dry-run.invalid"
            updates.append(.init(name: fqdn, type: t, rrClass: DNSMessage.RRClass.none, ttl: 0, data: try Self.data(type: t, sentinel)))
        } else {
            // §2.5.2: delete the RRset, then §2.5.1: add each record.
            updates.append(.init(name: fqdn, type: t, rrClass: DNSMessage.RRClass.any, ttl: 0, data: []))
            for v in desired.values {
                updates.append(.init(name: fqdn, type: t, rrClass: DNSMessage.RRClass.in, ttl: UInt32(max(0, desired.ttl)), data: try Self.data(type: t, v)))
            }
        }
        let message = DNSMessage(id: UInt16.random(in: 0...UInt16.max), flags: DNSMessage.Opcode.update << 11,
                                 questions: [.init(name: zone, type: DNSMessage.RRType.soa, rrClass: DNSMessage.RRClass.in)],
                                 answers: prerequisites, authority: updates)
        let answer = try await exchange(message)
        switch answer.rcode {
        case 0: return
        case 3, 6, 7, 8:
            throw DNSUpdateError(.conflict, "\(fqdn) \(desired.type) is not what was read (\(Self.rcodeName(answer.rcode))): it changed meanwhile")
        case 5: throw DNSUpdateError(.refused, "the server refused the update of \(fqdn) (REFUSED: no key, or the key may not update it)")
        case 9: throw DNSUpdateError(.refused, "the server refused the update of \(fqdn) (NOTAUTH: not authoritative, or the key is not accepted)")
        case 10: throw DNSUpdateError(.refused, "\(fqdn) is not in the zone \(zone) (NOTZONE)")
        case 2: throw DNSUpdateError(.serverFailure, "the server failed the update of \(fqdn) (SERVFAIL)")
        default: throw DNSUpdateError(.serverFailure, "the server answered \(Self.rcodeName(answer.rcode)) to the update of \(fqdn)")
        }
    }

    /// Sends a message (signed when there is a key) and returns the answer, its signature checked.
    func exchange(_ message: DNSMessage) async throws -> DNSMessage {
        let bytes: [UInt8]
        var mac: [UInt8] = []
        if let key {
            (bytes, mac) = try TSIG.sign(message, key: key, now: now())
        } else {
            bytes = try message.encoded()
        }
        let raw = try await transport.exchange(bytes, id: message.id)
        let answer: DNSMessage
        do { answer = try DNSMessage.decode(raw) } catch { throw DNSUpdateError(.malformed, "the answer cannot be read: \(error)") }
        guard answer.isResponse, answer.opcode == message.opcode, answer.questions.isEmpty || answer.questions == message.questions else {
            throw DNSUpdateError(.malformed, "the answer is not one to our request")
        }
        if let key {
            // A refusal of the key comes back unsigned with its TSIG error: say that, rather than "unsigned".
            do {
                try TSIG.verify(raw, requestMAC: mac, key: key, now: now())
            } catch let e as DNSUpdateError where e.kind == .unsigned && answer.rcode == 9 {
                throw DNSUpdateError(.badSignature, "the server did not accept the TSIG key \(key.name) (NOTAUTH)")
            }
        }
        return answer
    }

    func absolute(_ name: String) throws -> String {
        let n = DNSName.canonical(name)
        guard n == zone || n.hasSuffix("." + zone) else { throw DNSUpdateError(.invalidRecord, "\(name) is not in the zone \(zone)") }
        return n
    }

    static func typeCode(_ type: String) throws -> UInt16 {
        switch type.uppercased() {
        case "A": return DNSMessage.RRType.a
        case "AAAA": return DNSMessage.RRType.aaaa
        case "CNAME": return DNSMessage.RRType.cname
        default: throw DNSUpdateError(.invalidRecord, "record type \(type) is not A, AAAA or CNAME")
        }
    }

    static func data(type: UInt16, _ value: String) throws -> [UInt8] {
        switch type {
        case DNSMessage.RRType.a:
            var a = in_addr()
            guard inet_pton(AF_INET, value, &a) == 1 else { throw DNSUpdateError(.invalidRecord, "\(value) is not an IPv4 address") }
            return withUnsafeBytes(of: &a) { Array($0) }
        case DNSMessage.RRType.aaaa:
            var a = in6_addr()
            guard inet_pton(AF_INET6, value, &a) == 1 else { throw DNSUpdateError(.invalidRecord, "\(value) is not an IPv6 address") }
            return withUnsafeBytes(of: &a) { Array($0) }
        default:
            do { return try DNSName.wire(DNSName.canonical(value)) } catch { throw DNSUpdateError(.invalidRecord, "\(value) is not a host name: \(error)") }
        }
    }

    static func text(type: UInt16, _ data: [UInt8]) throws -> String {
        switch type {
        case DNSMessage.RRType.a, DNSMessage.RRType.aaaa:
            let family = type == DNSMessage.RRType.a ? AF_INET : AF_INET6
            guard data.count == (type == DNSMessage.RRType.a ? 4 : 16) else { throw DNSUpdateError(.malformed, "an address record of \(data.count) bytes") }
            var out = [CChar](repeating: 0, count: 64)
            _ = data.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &out, 64) }
            return String(cString: out)
        default:
            return try DNSName.read(data, at: 0).name
        }
    }

    static func rcodeName(_ code: UInt16) -> String {
        ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"]
            .dropFirst(Int(code)).first ?? "RCODE \(code)"
    }
}
