import AWSCore
import Foundation
import KubeClient
import ObjectStore
import Testing
import TestSupport

/// The S3 client against SeaweedFS (which checks SigV4 signatures).
@Suite struct ObjectStoreTests {
    @Test func objectsRoundTripWithRangesListsAndDeletes() async throws {
        let s3 = try await Services.bucket()
        let body = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await s3.put("a/b c+ü.bin", body)
        #expect(try await s3.get("a/b c+ü.bin") == body)
        #expect(try await s3.get("a/b c+ü.bin", range: 1000..<1010) == Array(body[1000..<1010]))
        #expect(try await s3.head("a/b c+ü.bin")?.size == body.count)
        #expect(try await s3.head("a/missing") == nil)
        for i in 0..<3 { try await s3.put("a/n\(i)", [UInt8(i)]) }
        #expect(try await s3.list(prefix: "a/").map(\.key).sorted() == ["a/b c+ü.bin", "a/n0", "a/n1", "a/n2"])
        try await s3.delete("a/n1")
        try await s3.delete("a/never-there")
        #expect(try await s3.list(prefix: "a/n").map(\.key) == ["a/n0", "a/n2"])
    }

    @Test func aMultipartUploadStreamsAndReadsBackInRanges() async throws {
        let s3 = try await Services.bucket()
        let w = ObjectWriter(client: s3, key: "big", partSize: 5 << 20)
        var all = [UInt8]()
        var state: UInt32 = 7
        for _ in 0..<13 {
            let chunk = (0..<(1 << 20)).map { _ -> UInt8 in state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) }
            all += chunk
            try await w.write(chunk)
        }
        let (size, sha) = try await w.finish()
        #expect(size == 13 << 20)
        #expect(sha.count == 64)
        var read = [UInt8]()
        for try await chunk in ObjectReader(client: s3, key: "big", size: size, chunkSize: 3 << 20) { read += chunk }
        #expect(read == all)
        #expect(try await s3.pendingUploads(prefix: "").isEmpty)
    }

    @Test func aWrongSecretIsRefusedAndNotRetried() async throws {
        let good = try await Services.bucket()
        let counting = CountingTransport()
        let bad = try S3Client(good.location, credentials: AWSCredentials(accessKeyId: Services.credentials.accessKeyId, secretAccessKey: "wrong"),
                               transport: counting)
        do {
            try await bad.put("x", [1])
            Issue.record("a wrong secret was accepted")
        } catch let e as S3Error {
            #expect(e.status == 403, "\(e)")
            #expect(!e.isRetryable)
        }
        #expect(counting.count.value == 1, "a refused signature must not be retried")
    }

    @Test func anAbortedUploadLeavesNoObject() async throws {
        let s3 = try await Services.bucket()
        let w = ObjectWriter(client: s3, key: "partial", partSize: 5 << 20)
        try await w.write([UInt8](repeating: 1, count: 11 << 20))
        await w.abort()
        #expect(try await s3.head("partial") == nil)
        #expect(try await s3.pendingUploads(prefix: "").isEmpty)
    }
}

/// The libcurl transport, counting the requests sent.
final class CountingTransport: HTTPTransport {
    let inner = CurlTransport()
    let count = Locked(0)
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        count.mutate { $0 += 1 }
        return try await inner.send(request)
    }
    func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse {
        count.mutate { $0 += 1 }
        return try await inner.stream(request)
    }
}
