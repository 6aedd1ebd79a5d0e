import AWSCore
import DNSProviders
import Foundation
import KubeClient
import KubeCore

/// The policy's record at its DNS provider: read it, change it on the condition that it is still what was read,
/// or check (a dry run) that the provider is reachable, accepts the credentials and would take the change.
protocol RecordProvider: Sendable {
    var description: String { get }
    func read() async throws -> DNSRecordSet?
    /// Changes the record and returns once the provider serves the change (Route53: INSYNC).
    func replace(_ desired: DNSRecordSet, expected: DNSRecordSet?) async throws
    func check(expected: DNSRecordSet?) async throws
    /// Seconds between routine reads of the record (reconciles with nothing to do) and between dry runs.
    var refreshSeconds: Double { get }
    var checkSeconds: Double { get }
}

struct RFC2136Provider: RecordProvider {
    let client: RFC2136Client
    let record: DRPolicy.DNSRecord
    var description: String { "RFC 2136 at \(client.transport.server):\(client.transport.port)" }
    var refreshSeconds: Double { 30 }
    var checkSeconds: Double { 60 }

    func read() async throws -> DNSRecordSet? { try await client.read(name: record.name, type: record.type) }
    func replace(_ desired: DNSRecordSet, expected: DNSRecordSet?) async throws { try await client.replace(desired, expected: expected) }
    func check(expected: DNSRecordSet?) async throws {
        // An update with the prerequisite only: the server authenticates the key and evaluates the prerequisite.
        let probe = expected ?? DNSRecordSet(name: record.name, type: record.type, ttl: record.ttl ?? 60, values: ["0.0.0.0"])
        try await client.replace(probe, expected: expected, dryRun: true)
    }
}

struct Route53Provider: RecordProvider {
    let client: Route53Client
    let record: DRPolicy.DNSRecord
    var description: String { "Route53 zone \(client.hostedZoneId)" }
    // Route53 allows 5 requests a second per account, and a dry run is a real (no-op) change batch: 200 policies
    // on one account stay under the limit (200 x (1/60 + 2/300) = 4.7 a second), their requests paced.
    var refreshSeconds: Double { 60 }
    var checkSeconds: Double { 300 }

    func read() async throws -> DNSRecordSet? { try await client.read(name: record.name, type: record.type) }
    func replace(_ desired: DNSRecordSet, expected: DNSRecordSet?) async throws {
        if let change = try await client.replace(desired, expected: expected) {
            try await client.waitInSync(change: change, every: .seconds(1), timeout: .seconds(120))
        }
    }
    func check(expected: DNSRecordSet?) async throws {
        let probe = expected ?? DNSRecordSet(name: record.name, type: record.type, ttl: record.ttl ?? 60, values: ["0.0.0.0"])
        try await client.replace(probe, expected: expected, dryRun: true)
    }
}

enum Providers {
    /// The provider of a policy, its credentials read from Secrets (never logged or written anywhere).
    /// `record` replaces the policy's (a drill's test record, with the same zone and provider).
    static func make(_ spec: DRPolicy.Spec, namespace ns: String, client: KubeClient, record: DRPolicy.DNSRecord? = nil) async throws -> any RecordProvider {
        let r = record ?? spec.dns
        if let p = r.rfc2136 {
            var key: TSIGKey?
            if let ref = p.tsigSecretRef {
                let secret = try await Self.secret(ns, ref.name, ref.key, client)
                guard let algorithm = TSIGKey.algorithm(named: p.algorithm ?? "hmac-sha256") else {
                    throw DNSUpdateError(.invalidKey, "TSIG algorithm \(p.algorithm ?? "") is not hmac-sha256 or hmac-sha512")
                }
                key = try TSIGKey(name: p.keyName ?? ref.name, algorithm: algorithm, base64Secret: secret)
            }
            let transport = DNSTransport(server: p.server, port: p.port ?? 53, timeout: .seconds(3))
            return RFC2136Provider(client: RFC2136Client(transport: transport, zone: r.zone, key: key), record: r)
        }
        if let p = r.route53 {
            let credentials: any AWSCredentialsProvider
            do {
                credentials = try await AWSDefaultCredentials.named(secret: p.credentialsSecret, namespace: ns, client: client)
            } catch let e as SecretValueMissing {
                throw DNSUpdateError(.invalidKey, e.description)
            } catch let e as AWSCredentialsError {
                throw DNSUpdateError(.invalidKey, e.description)
            }
            let c = try Route53Client(hostedZoneId: p.hostedZoneId, credentials: credentials, endpoint: p.endpoint)
            return Route53Provider(client: c, record: r)
        }
        throw DNSUpdateError(.invalidRecord, "spec.dns needs rfc2136 or route53")
    }

    static func secret(_ ns: String, _ name: String, _ key: String, _ client: KubeClient) async throws -> String {
        do {
            return try await Api<Secret>(client, namespace: ns).value(name, key: key).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch let missing as SecretValueMissing {
            throw DNSUpdateError(.invalidKey, missing.description)
        }
    }
}
