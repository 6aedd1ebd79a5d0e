import Foundation
import Testing
import TestSupport
import KubeCore
@testable import KubeClient

@Suite struct WatchTests {
    /// A watch body with multi-byte UTF-8 in it, a bookmark and every event type.
    static let body: [UInt8] = {
        var lines: [String] = []
        lines.append(#"{"type":"ADDED","object":{"metadata":{"name":"café-1","namespace":"ns1","resourceVersion":"101"},"data":{"emoji":"😀 ünïcode ✓"}}}"#)
        lines.append(#"{"type":"MODIFIED","object":{"metadata":{"name":"café-1","namespace":"ns1","resourceVersion":"102"},"data":{"emoji":"日本語"}}}"#)
        lines.append(#"{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"150"}}}"#)
        lines.append(#"{"type":"DELETED","object":{"metadata":{"name":"café-1","namespace":"ns1","resourceVersion":"151"}}}"#)
        return Array((lines.joined(separator: "\n") + "\n").utf8)
    }()

    func describe(_ events: [WatchEvent<ConfigMap>]) -> [String] {
        events.map { e in
            switch e {
            case .added(let o): return "ADDED \(o.metadata.name!) \(o.metadata.resourceVersion!) \(o.data?["emoji"] ?? "")"
            case .modified(let o): return "MODIFIED \(o.metadata.name!) \(o.metadata.resourceVersion!) \(o.data?["emoji"] ?? "")"
            case .deleted(let o): return "DELETED \(o.metadata.name!) \(o.metadata.resourceVersion!)"
            case .bookmark(let rv): return "BOOKMARK \(rv)"
            }
        }
    }

    func decode(chunks: [ArraySlice<UInt8>]) throws -> [WatchEvent<ConfigMap>] {
        var d = WatchStreamDecoder<ConfigMap>()
        var out: [WatchEvent<ConfigMap>] = []
        for c in chunks { out += try d.feed(c) }
        return out + (try d.finish())
    }

    @Test func decodesEveryEventType() throws {
        let events = describe(try decode(chunks: [Self.body[...]]))
        #expect(events == ["ADDED café-1 101 😀 ünïcode ✓", "MODIFIED café-1 102 日本語", "BOOKMARK 150", "DELETED café-1 151"])
    }

    @Test func everySplitPointDecodesTheSame() throws {
        let expected = describe(try decode(chunks: [Self.body[...]]))
        let b = Self.body
        for cut in 0...b.count {
            #expect(describe(try decode(chunks: [b[0..<cut], b[cut...]])) == expected, "cut at \(cut)")
        }
        // Byte by byte, and random multi-way cuts.
        #expect(describe(try decode(chunks: b.indices.map { b[$0...$0] })) == expected)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var cuts = (0..<Int.random(in: 1...12, using: &rng)).map { _ in Int.random(in: 0...b.count, using: &rng) }.sorted()
            cuts = [0] + cuts + [b.count]
            let chunks = zip(cuts, cuts.dropFirst()).map { b[$0..<$1] }
            #expect(describe(try decode(chunks: chunks)) == expected)
        }
    }

    @Test func lastLineWithoutNewlineIsDecodedAtTheEnd() throws {
        let b = Array(Self.body.dropLast())
        #expect(try decode(chunks: [b[...]]).count == 4)
    }

    @Test func apiWatchSendsQueryAndYieldsBookmarks() async throws {
        let chunks = stride(from: 0, to: Self.body.count, by: 7).map { Array(Self.body[$0..<min($0 + 7, Self.body.count)]) }
        let t = ScriptedTransport([.stream(status: 200, chunks: chunks)])
        let api = Api<ConfigMap>(makeClient(t), namespace: "ns1")
        var lastVersion = "100"
        var kinds: [String] = []
        for try await event in api.watch(WatchOptions(labelSelector: "mirror=true", resourceVersion: lastVersion, timeoutSeconds: 300)) {
            switch event {
            case .bookmark(let rv): lastVersion = rv; kinds.append("bookmark")
            default: lastVersion = event.object?.metadata.resourceVersion ?? lastVersion; kinds.append("change")
            }
        }
        #expect(kinds == ["change", "change", "bookmark", "change"])
        #expect(lastVersion == "151")
        let url = t.requests[0].url
        #expect(url == "https://k8s.test:6443/api/v1/namespaces/ns1/configmaps?watch=1&labelSelector=mirror%3Dtrue&resourceVersion=100&allowWatchBookmarks=true&timeoutSeconds=300")
        #expect(t.requests[0].idleTimeout == .seconds(330))
    }

    @Test func bookmarkMovesTheResourceVersion() async throws {
        let t = ScriptedTransport([.stream(status: 200, chunks: [Array(#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"777"}}}"#.utf8) + [10]])])
        var seen: String?
        for try await e in Api<ConfigMap>(makeClient(t), namespace: "ns1").watch(WatchOptions(resourceVersion: "5")) {
            if case .bookmark(let rv) = e { seen = rv }
        }
        #expect(seen == "777")
    }

    @Test func errorEvent410BecomesResourceExpired() async throws {
        let line = #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 5 (900)","reason":"Expired","code":410}}"#
        let t = ScriptedTransport([.stream(status: 200, chunks: [Array(line.utf8) + [10]])])
        do {
            for try await _ in Api<ConfigMap>(makeClient(t), namespace: "ns1").watch(WatchOptions(resourceVersion: "5")) {}
            Issue.record("expected an error")
        } catch let e as KubeError {
            #expect(e.isExpired)
            #expect(e.status?.message?.contains("too old") == true)
        }
    }

    @Test func errorEventOtherThan410IsAnAPIError() async throws {
        let line = #"{"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"internal","reason":"InternalError","code":500}}"#
        let t = ScriptedTransport([.stream(status: 200, chunks: [Array(line.utf8) + [10]])])
        do {
            for try await _ in Api<ConfigMap>(makeClient(t), namespace: "ns1").watch() {}
            Issue.record("expected an error")
        } catch let e as KubeError {
            guard case .api(let api) = e else { Issue.record("wrong case"); return }
            #expect(api.code == 500)
            #expect(e.isRetryable)
        }
    }

    @Test func watchRefusedWith410UpFront() async throws {
        let t = ScriptedTransport([json(410, statusBody(410, "Gone", "too old"))])
        do {
            for try await _ in Api<ConfigMap>(makeClient(t), namespace: "ns1").watch(WatchOptions(resourceVersion: "1")) {}
            Issue.record("expected an error")
        } catch let e as KubeError {
            #expect(e.isExpired)
        }
    }

    @Test func droppedStreamSurfacesTheTransportError() async throws {
        let half = Array(Self.body.prefix(150))
        let t = ScriptedTransport([.stream(status: 200, chunks: [half], endError: .transport(TransportError(kind: .connectionReset, message: "reset")))])
        var count = 0
        do {
            for try await _ in Api<ConfigMap>(makeClient(t), namespace: "ns1").watch() { count += 1 }
            Issue.record("expected an error")
        } catch let e as KubeError {
            #expect(e.isRetryable)
        }
        #expect(count == 1)  // the first, complete line was delivered before the reset
    }
}
