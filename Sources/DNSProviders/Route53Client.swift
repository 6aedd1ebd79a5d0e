import AWSCore
import Crypto
import KubeClient
import XMLCoder
#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

/// Route53's record API (2013-04-01) over libcurl, signed with SigV4: read a record set, change it atomically, and
/// wait until the change is INSYNC. A change names what it replaces: the batch deletes exactly the values read and
/// creates the new ones, and Route53 applies a batch all or nothing, so a record changed meanwhile fails the batch
/// (InvalidChangeBatch) instead of being overwritten: ``DNSUpdateError/Kind/conflict``, as with RFC 2136's
/// prerequisites.
public struct Route53Client: Sendable {
    public let hostedZoneId: String
    let credentials: any AWSCredentialsProvider
    let transport: any HTTPTransport
    let endpoint: String
    let authority: String

    /// - Parameters:
    ///   - endpoint: default `https://route53.amazonaws.com` (Route53 is global, signed for us-east-1).
    ///   - credentials: fixed keys, or a provider that renews them (``WebIdentityCredentials``); asked before each request.
    public init(hostedZoneId: String, credentials: any AWSCredentialsProvider, endpoint: String? = nil, transport: any HTTPTransport = CurlTransport()) throws {
        var id = hostedZoneId
        if id.hasPrefix("/hostedzone/") { id.removeFirst("/hostedzone/".count) }
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber }) else {
            throw DNSUpdateError(.invalidRecord, "hosted zone id \(hostedZoneId) is not valid")
        }
        self.hostedZoneId = id
        self.credentials = credentials
        self.transport = transport
        var base = endpoint ?? "https://route53.amazonaws.com"
        while base.hasSuffix("/") { base.removeLast() }
        guard let sep = base.range(of: "://"), !base[sep.upperBound...].contains("/") else {
            throw DNSUpdateError(.invalidRecord, "endpoint \(base) must be scheme://host[:port]")
        }
        self.endpoint = base
        self.authority = String(base[sep.upperBound...])
    }

    /// The record set of this name and type (nil: none).
    public func read(name: String, type: String) async throws -> DNSRecordSet? {
        let fqdn = DNSName.canonical(name)
        let r = try await call("GET", "/2013-04-01/hostedzone/\(hostedZoneId)/rrset",
                               query: [("maxitems", "1"), ("name", fqdn), ("type", type.uppercased())])
        let list = try decode(ListResourceRecordSetsResponse.self, r.body)
        guard let set = list.resourceRecordSets.items.first, DNSName.canonical(Self.unescape(set.name)) == fqdn,
              set.type.uppercased() == type.uppercased() else { return nil }
        return DNSRecordSet(name: fqdn, type: set.type, ttl: set.ttl ?? 0, values: set.resourceRecords?.items.map(\.value) ?? [])
    }

    /// Replaces the record set, on the condition that Route53 still has `expected` (nil: none); returns the change
    /// id. With `dryRun`, nothing is changed: the credentials, the zone and the record are checked by reading it
    /// and comparing it with `expected` (Route53 has no validate-only call).
    @discardableResult
    public func replace(_ desired: DNSRecordSet, expected: DNSRecordSet?, comment: String = "salespot-operator", dryRun: Bool = false) async throws -> String? {
        // Compared first (and a dry run stops there): the batch below is refused by Route53 itself when the record
        // changes in between, but servers that do not check a DELETE's values (moto) are caught here.
        let now = try await read(name: desired.name, type: desired.type)
        guard Self.same(now, expected) else {
            throw DNSUpdateError(.conflict, "\(desired.name) \(desired.type) is not what was read: it changed meanwhile")
        }
        if dryRun {
            // The right to change records, proved by a change that changes nothing: the record UPSERTed as it is.
            guard let now else { return nil }
            let body = """
                <?xml version="1.0" encoding="UTF-8"?>
                <ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch>\
                <Comment>salespot-operator dry run</Comment><Changes>\(Self.change("UPSERT", now))</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>
                """
            _ = try await call("POST", "/2013-04-01/hostedzone/\(hostedZoneId)/rrset", body: Array(body.utf8))
            return nil
        }
        var changes = ""
        if let e = expected, !e.values.isEmpty { changes += Self.change("DELETE", e) }
        changes += Self.change("CREATE", desired)
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch>\
            <Comment>\(Self.escape(comment))</Comment><Changes>\(changes)</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>
            """
        do {
            let r = try await call("POST", "/2013-04-01/hostedzone/\(hostedZoneId)/rrset", body: Array(body.utf8))
            return try decode(ChangeResponse.self, r.body).changeInfo.id
        } catch let e as DNSUpdateError where e.kind == .refused && e.description.contains("InvalidChangeBatch") {
            throw DNSUpdateError(.conflict, "\(desired.name) \(desired.type) is not what was read: it changed meanwhile (\(e.description))")
        }
    }

    /// The change's status: PENDING or INSYNC.
    public func status(change id: String) async throws -> String {
        var short = id
        if short.hasPrefix("/change/") { short.removeFirst("/change/".count) }
        let r = try await call("GET", "/2013-04-01/change/\(short)")
        return try decode(ChangeResponse.self, r.body).changeInfo.status
    }

    /// Polls until the change is INSYNC (Route53 answers within a minute; `timeout` bounds the wait).
    public func waitInSync(change id: String, every interval: Duration = .seconds(2), timeout: Duration = .seconds(180)) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await status(change: id) != "INSYNC" {
            guard ContinuousClock.now < deadline else { throw DNSUpdateError(.timeout, "change \(id) is not INSYNC after \(timeout)") }
            try await Task.sleep(for: interval)
        }
    }

    static func same(_ a: DNSRecordSet?, _ b: DNSRecordSet?) -> Bool {
        Set(a?.values ?? []) == Set(b?.values ?? [])
    }

    static func change(_ action: String, _ set: DNSRecordSet) -> String {
        let records = set.values.map { "<ResourceRecord><Value>\(escape($0))</Value></ResourceRecord>" }.joined()
        return "<Change><Action>\(action)</Action><ResourceRecordSet><Name>\(escape(DNSName.canonical(set.name)))</Name>"
            + "<Type>\(escape(set.type.uppercased()))</Type><TTL>\(set.ttl)</TTL><ResourceRecords>\(records)</ResourceRecords>"
            + "</ResourceRecordSet></Change>"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Route53 writes some characters of names as \\ooo octal escapes (e.g. `*` as \\052).
    static func unescape(_ name: String) -> String {
        guard name.contains("\\") else { return name }
        var out = ""
        var i = name.startIndex
        while i < name.endIndex {
            if name[i] == "\\", let end = name.index(i, offsetBy: 4, limitedBy: name.endIndex),
               let code = UInt8(name[name.index(after: i)..<end], radix: 8) {
                out.append(Character(Unicode.Scalar(code)))
                i = end
            } else {
                out.append(name[i])
                i = name.index(after: i)
            }
        }
        return out
    }

    // MARK: Requests

    func call(_ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8] = []) async throws -> HTTPResponse {
        let queryString = SigV4.canonicalQuery(query)
        let url = endpoint + path + (queryString.isEmpty ? "" : "?" + queryString)
        let payloadHash = SigV4.hex(SHA256.hash(data: body))
        var headers: [(String, String)] = [("host", authority)]
        if method == "POST" { headers.append(("content-type", "application/xml")) }
        var attempt = 0
        while true {
            attempt += 1
            let signer: SigV4
            do {
                signer = SigV4(credentials: try await credentials.credentials(), region: "us-east-1", service: "route53")
            } catch let e as AWSCredentialsError {
                throw DNSUpdateError(e.isRetryable ? .unreachable : .invalidKey, e.description)
            }
            if !RequestPacer.urgent { try await RequestPacer.route53.turn(signer.credentials.accessKeyId) }
            var request = HTTPRequest(method: method, url: url, body: method == "GET" ? nil : body, timeout: .seconds(30))
            let signed = signer.sign(method: method, path: path, query: query, headers: headers, payloadHash: payloadHash)
            request.headers.add("Host", authority)
            for (n, v) in headers.dropFirst() + signed { request.headers.add(n, v) }
            request.headers.add("Expect", "")
            let response: HTTPResponse
            do {
                response = try await transport.send(request)
            } catch let e as KubeError {
                if case .transport(let t) = e, t.kind == .cancelled { throw CancellationError() }
                guard attempt < 4 else { throw DNSUpdateError(.unreachable, "Route53 at \(endpoint): \(e.description)") }
                try await Task.sleep(for: .milliseconds(250 << attempt))
                continue
            }
            if (200..<300).contains(response.status) { return response }
            let error = try? XMLDecoder().decode(ErrorResponse.self, from: Data(response.body))
            let code = error?.error.code ?? "HTTP\(response.status)"
            let message = "Route53 \(code): \(error?.error.message ?? String(decoding: response.body.prefix(300), as: UTF8.self))"
            // Throttling and server errors are retried; Route53 answers PriorRequestNotComplete while a change is applied.
            let transient = response.status >= 500 || code == "Throttling" || code == "PriorRequestNotComplete"
            if transient && attempt < 4 {
                try await Task.sleep(for: .milliseconds(250 << attempt))
                continue
            }
            if transient { throw DNSUpdateError(.serverFailure, message) }
            switch response.status {
            case 401, 403: throw DNSUpdateError(.badSignature, message)
            case 500...: throw DNSUpdateError(.serverFailure, message)
            default: throw DNSUpdateError(.refused, message)
            }
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        do { return try XMLDecoder().decode(T.self, from: Data(body)) } catch {
            throw DNSUpdateError(.malformed, "Route53's answer cannot be read: \(error)")
        }
    }
}

// Route53's XML answers.
struct ListResourceRecordSetsResponse: Decodable {
    struct Sets: Decodable {
        var items: [RecordSet]
        enum CodingKeys: String, CodingKey { case items = "ResourceRecordSet" }
        init(from decoder: any Decoder) throws {
            items = (try? decoder.container(keyedBy: CodingKeys.self).decode([RecordSet].self, forKey: .items)) ?? []
        }
    }
    struct RecordSet: Decodable {
        var name: String
        var type: String
        var ttl: Int?
        var resourceRecords: Records?
        enum CodingKeys: String, CodingKey { case name = "Name", type = "Type", ttl = "TTL", resourceRecords = "ResourceRecords" }
    }
    struct Records: Decodable {
        var items: [Record]
        enum CodingKeys: String, CodingKey { case items = "ResourceRecord" }
    }
    struct Record: Decodable {
        var value: String
        enum CodingKeys: String, CodingKey { case value = "Value" }
    }
    var resourceRecordSets: Sets
    enum CodingKeys: String, CodingKey { case resourceRecordSets = "ResourceRecordSets" }
}

struct ChangeResponse: Decodable {
    struct Info: Decodable {
        var id: String
        var status: String
        enum CodingKeys: String, CodingKey { case id = "Id", status = "Status" }
    }
    var changeInfo: Info
    enum CodingKeys: String, CodingKey { case changeInfo = "ChangeInfo" }
}

struct ErrorResponse: Decodable {
    struct Body: Decodable {
        var code: String?
        var message: String?
        enum CodingKeys: String, CodingKey { case code = "Code", message = "Message" }
    }
    var error: Body
    enum CodingKeys: String, CodingKey { case error = "Error" }
}
