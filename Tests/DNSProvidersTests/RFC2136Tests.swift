@testable import DNSProviders
import Foundation
import TestSupport
import Testing

/// Dynamic updates with TSIG against real BIND and Knot: what `dig` sees afterwards, conflicts detected by the
/// prerequisites, keys refused with the server's reason, UDP and TCP.
@Suite(.serialized) struct RFC2136Tests {
    func client(_ server: DNSServer, key name: String = "upd-sha256", secret: String? = nil, tcpOnly: Bool = false) throws -> RFC2136Client {
        let algorithm: TSIGKey.Algorithm = name.hasSuffix("512") ? .hmacSHA512 : .hmacSHA256
        let key = try TSIGKey(name: name, algorithm: algorithm, base64Secret: secret ?? server.secrets[name]!)
        return RFC2136Client(transport: DNSTransport(server: "127.0.0.1", port: server.port, timeout: .seconds(2)), zone: DNSServer.zone, key: key)
    }

    @Test(arguments: [DNSServer.Kind.bind, .knot])
    func anUpdateIsSeenByDigAndAConcurrentChangeIsRefused(_ kind: DNSServer.Kind) async throws {
        let server = try await DNSServer.start(kind)
        defer { server.stop() }
        for keyName in ["upd-sha256", "upd-sha512"] {
            let c = try client(server, key: keyName)
            let current = try #require(try await c.read(name: "app.example.test", type: "A"))
            #expect(current.values.count == 1)
            let next = current.values == ["192.0.2.10"] ? "198.51.100.20" : "192.0.2.10"
            try await c.replace(DNSRecordSet(name: "app.example.test", type: "A", ttl: 30, values: [next]), expected: current)
            #expect(try await server.dig("app.example.test", "A") == [next], "\(kind) \(keyName)")
            #expect(try await c.read(name: "APP.example.test.", type: "A")?.values == [next])
            // The old value is no longer there: an update expecting it is refused as a conflict, and changes nothing.
            do {
                try await c.replace(DNSRecordSet(name: "app.example.test", type: "A", ttl: 30, values: ["203.0.113.9"]), expected: current)
                Issue.record("\(kind): an update on a stale read went through")
            } catch let e as DNSUpdateError {
                #expect(e.kind == .conflict, "\(e)")
            }
            #expect(try await server.dig("app.example.test", "A") == [next])
        }
        // A new name ("does not exist" prerequisite), then one that now exists is refused as a conflict.
        let c = try client(server)
        try await c.replace(DNSRecordSet(name: "www.example.test", type: "CNAME", ttl: 60, values: ["app.example.test"]), expected: nil)
        #expect(try await server.dig("www.example.test", "CNAME") == ["app.example.test."])
        await #expect(throws: DNSUpdateError.self) {
            try await c.replace(DNSRecordSet(name: "www.example.test", type: "CNAME", ttl: 60, values: ["ns.example.test"]), expected: nil)
        }
        #expect(try await server.dig("www.example.test", "CNAME") == ["app.example.test."])
        // AAAA with two values.
        try await c.replace(DNSRecordSet(name: "v6.example.test", type: "AAAA", ttl: 60, values: ["2001:db8::1", "2001:db8::2"]), expected: nil)
        #expect(try await server.dig("v6.example.test", "AAAA") == ["2001:db8::1", "2001:db8::2"])
        #expect(Set(try await c.read(name: "v6.example.test", type: "AAAA")?.values ?? []) == ["2001:db8::1", "2001:db8::2"])
        #expect(try await c.serial() > 1)
    }

    @Test(arguments: [DNSServer.Kind.bind, .knot])
    func aWrongKeyAnUnknownKeyAndNoKeyAreRefusedWithTheReason(_ kind: DNSServer.Kind) async throws {
        let server = try await DNSServer.start(kind)
        defer { server.stop() }
        let before = try await server.dig("app.example.test", "A")
        let desired = DNSRecordSet(name: "app.example.test", type: "A", ttl: 30, values: ["203.0.113.1"])
        let expected = DNSRecordSet(name: "app.example.test", type: "A", ttl: 60, values: ["192.0.2.10"])
        let wrong = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        do {
            try await client(server, secret: wrong).replace(desired, expected: expected)
            Issue.record("\(kind): a wrong secret was accepted")
        } catch let e as DNSUpdateError {
            #expect(e.kind == .badSignature, "\(kind): \(e)")
            #expect(!e.description.contains(wrong))
        }
        do {
            try await client(server, key: "nobody", secret: wrong).replace(desired, expected: expected)
            Issue.record("\(kind): an unknown key was accepted")
        } catch let e as DNSUpdateError {
            #expect(e.kind == .badKey || e.kind == .badSignature, "\(kind): \(e)")
        }
        let unsigned = RFC2136Client(transport: DNSTransport(server: "127.0.0.1", port: server.port), zone: DNSServer.zone, key: nil)
        do {
            try await unsigned.replace(desired, expected: expected)
            Issue.record("\(kind): an unsigned update was accepted")
        } catch let e as DNSUpdateError {
            #expect(e.kind == .refused, "\(kind): \(e)")
        }
        // A dry run with the right key checks the key and the prerequisite and changes nothing.
        try await client(server).replace(desired, expected: expected, dryRun: true)
        #expect(try await server.dig("app.example.test", "A") == before)
    }

    @Test func anUnreachableServerTimesOutAndSaysSo() async throws {
        let port = try DNSServer.freePort()
        let c = RFC2136Client(transport: DNSTransport(server: "127.0.0.1", port: port, timeout: .milliseconds(300)), zone: DNSServer.zone, key: nil)
        do {
            _ = try await c.read(name: "app.example.test", type: "A")
            Issue.record("an answer from nowhere")
        } catch let e as DNSUpdateError {
            #expect(e.isRetryable, "\(e)")
        }
    }

    @Test func tcpIsUsedForAnswersTooLargeForUDP() async throws {
        let server = try await DNSServer.start(.bind)
        defer { server.stop() }
        let c = try client(server)
        // 40 AAAA records: over 512 bytes, so the answer is truncated over UDP and read again over TCP.
        let many = (1...40).map { "2001:db8::\(String($0, radix: 16))" }
        try await c.replace(DNSRecordSet(name: "many.example.test", type: "AAAA", ttl: 60, values: many), expected: nil)
        let read = try #require(try await c.read(name: "many.example.test", type: "AAAA"))
        #expect(Set(read.values) == Set(many))
    }

    @Test func wireFormRoundTripsAndHostileNamesAreRefused() throws {
        let m = DNSMessage(id: 7, flags: DNSMessage.Opcode.update << 11, questions: [.init(name: "example.test.", type: 6, rrClass: 1)],
                           answers: [.init(name: "a.example.test.", type: 1, rrClass: 1, ttl: 0, data: [1, 2, 3, 4])])
        #expect(try DNSMessage.decode(try m.encoded()) == m)
        #expect(throws: DNSWireError.self) { try DNSName.wire(String(repeating: "a", count: 64) + ".test") }
        // A compression pointer to itself must not loop.
        var bytes: [UInt8] = [0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1]
        #expect(throws: DNSWireError.self) { try DNSMessage.decode(bytes) }
        bytes[13] = 200
        #expect(throws: DNSWireError.self) { try DNSMessage.decode(bytes) }
    }
}
