@testable import DNSProviders
import AWSCore
import Foundation
import TestSupport
import Testing

/// Route53's record API against moto's Route53 (a real server speaking the API, started here), checked with awscli.
@Suite(.serialized) struct Route53Tests {
    static let credentials = AWSCredentials(accessKeyId: "AKIDTEST", secretAccessKey: "test-secret-not-real")

    static func moto() async throws -> (MotoServer, String) {
        let m = try await MotoServer.start()
        return (m, m.endpoint)
    }

    func aws(_ endpoint: String, _ args: [String]) async throws -> String {
        let env = ProcessInfo.processInfo.environment.merging(["AWS_ACCESS_KEY_ID": Self.credentials.accessKeyId,
                                                               "AWS_SECRET_ACCESS_KEY": Self.credentials.secretAccessKey,
                                                               "AWS_DEFAULT_REGION": "us-east-1"]) { _, n in n }
        let r = try await runAsync(try requireTool("aws"), ["--endpoint-url", endpoint, "--output", "json"] + args, env: env)
        #expect(r.status == 0, "aws \(args.joined(separator: " ")): \(r.err)")
        return r.out
    }

    @Test func anUpsertIsReadBackInSyncAndAStaleChangeIsRefused() async throws {
        let (server, endpoint) = try await Self.moto()
        defer { server.stop() }
        let created = try await aws(endpoint, ["route53", "create-hosted-zone", "--name", "example.test", "--caller-reference", UUID().uuidString])
        let zone = try #require((try JSONSerialization.jsonObject(with: Data(created.utf8)) as? [String: Any])?["HostedZone"] as? [String: Any])
        let id = try #require(zone["Id"] as? String)
        let c = try Route53Client(hostedZoneId: id, credentials: Self.credentials, endpoint: endpoint)
        #expect(try await c.read(name: "app.example.test", type: "A") == nil)
        let first = DNSRecordSet(name: "app.example.test", type: "A", ttl: 60, values: ["192.0.2.10"])
        let change = try #require(try await c.replace(first, expected: nil))
        try await c.waitInSync(change: change, every: .milliseconds(100), timeout: .seconds(10))
        #expect(try await c.read(name: "app.example.test.", type: "A") == DNSRecordSet(name: "app.example.test.", type: "A", ttl: 60, values: ["192.0.2.10"]))
        let second = DNSRecordSet(name: "app.example.test", type: "A", ttl: 30, values: ["198.51.100.20"])
        try await c.replace(second, expected: first)
        // awscli, a real client, sees the change.
        let listed = try await aws(endpoint, ["route53", "list-resource-record-sets", "--hosted-zone-id", id])
        #expect(listed.contains("198.51.100.20") && !listed.contains("192.0.2.10"), "\(listed)")
        // The record is no longer `first`: a change expecting it fails as a conflict and changes nothing.
        do {
            try await c.replace(DNSRecordSet(name: "app.example.test", type: "A", ttl: 30, values: ["203.0.113.5"]), expected: first)
            Issue.record("a change on a stale read went through")
        } catch let e as DNSUpdateError {
            #expect(e.kind == .conflict, "\(e)")
        }
        do {
            try await c.replace(second, expected: first, dryRun: true)
            Issue.record("a dry run on a stale read passed")
        } catch let e as DNSUpdateError {
            #expect(e.kind == .conflict, "\(e)")
        }
        try await c.replace(second, expected: second, dryRun: true)
        #expect(try await c.read(name: "app.example.test", type: "A")?.values == ["198.51.100.20"])
    }

    @Test func anUnknownZoneIsRefusedWithRoute53sReason() async throws {
        let (server, endpoint) = try await Self.moto()
        defer { server.stop() }
        let c = try Route53Client(hostedZoneId: "Z0000000NOSUCHZONE", credentials: Self.credentials, endpoint: endpoint)
        do {
            _ = try await c.replace(DNSRecordSet(name: "app.example.test", type: "A", ttl: 60, values: ["192.0.2.1"]), expected: nil)
            Issue.record("a change to a zone that does not exist went through")
        } catch let e as DNSUpdateError {
            #expect(e.description.contains("NoSuchHostedZone"), "\(e)")
            #expect(!e.isRetryable)
        }
        #expect(throws: DNSUpdateError.self) { try Route53Client(hostedZoneId: "../etc", credentials: Self.credentials) }
    }
}
