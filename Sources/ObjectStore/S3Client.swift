@_exported import AWSCore
import Crypto
import KubeClient
import XMLCoder
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where objects live: an S3 (or S3-compatible) endpoint, region and bucket.
public struct S3Endpoint: Sendable, Equatable {
    /// `https://host[:port]` or `http://...`; `nil` is AWS (`https://s3.REGION.amazonaws.com`).
    public var endpoint: String?
    public var region: String
    public var bucket: String
    /// Path-style addressing (`endpoint/bucket/key`), as MinIO, SeaweedFS and Ceph usually need; otherwise
    /// virtual-hosted (`bucket.endpoint/key`), as AWS prefers.
    public var pathStyle: Bool

    public init(endpoint: String? = nil, region: String = "us-east-1", bucket: String, pathStyle: Bool = false) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.pathStyle = pathStyle
    }
}

/// Server-side encryption to ask for on every object written.
public enum ServerSideEncryption: Sendable, Equatable {
    case aes256
    case kms(keyId: String?)

    var headers: [(String, String)] {
        switch self {
        case .aes256: return [("x-amz-server-side-encryption", "AES256")]
        case .kms(let id):
            return [("x-amz-server-side-encryption", "aws:kms")] + (id.map { [("x-amz-server-side-encryption-aws-kms-key-id", $0)] } ?? [])
        }
    }
}

/// An S3 error: the HTTP status, S3's code and message (from its XML error body), or a transport failure.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var operation: String
    /// How many times the request was sent (more than one: earlier tries failed and may yet have taken effect).
    public var attempts = 1
    public var retried: Bool { attempts > 1 }
    public init(status: Int, code: String, message: String, operation: String) {
        self.status = status
        self.code = code
        self.message = message
        self.operation = operation
    }
    /// Server errors, throttling and timeouts are worth retrying; a refused signature or a missing bucket is not.
    public var isRetryable: Bool {
        status >= 500 || status == 429 || status == 408 || ["SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"].contains(code)
    }
    public var description: String {
        status == 0 ? "S3 \(operation): \(message)" : "S3 \(operation): HTTP \(status) \(code): \(message)"
    }
}

/// An object in a listing.
public struct S3Object: Sendable, Equatable {
    public var key: String
    public var size: Int
    public var etag: String
    public var lastModified: String
}

/// A small S3 client over the project's libcurl transport: objects (put, get by range, head, list, delete) and
/// multipart uploads (see ``MultipartUpload``). Requests are signed with SigV4; server errors, throttling and dropped
/// connections are retried with exponential backoff (``RetryPolicy``); S3's XML answers are decoded with XMLCoder.
public final class S3Client: Sendable {
    public struct RetryPolicy: Sendable {
        public var attempts: Int
        public var initial: Duration
        public var maximum: Duration
        public init(attempts: Int = 6, initial: Duration = .milliseconds(250), maximum: Duration = .seconds(8)) {
            self.attempts = attempts
            self.initial = initial
            self.maximum = maximum
        }
    }

    public let location: S3Endpoint
    let credentials: any AWSCredentialsProvider
    let transport: any HTTPTransport
    public let retry: RetryPolicy
    let scheme: String
    let authority: String

    /// - Parameter credentials: fixed keys, or a provider that renews them (``WebIdentityCredentials``); asked before
    ///   each request.
    public init(_ location: S3Endpoint, credentials: any AWSCredentialsProvider, transport: any HTTPTransport = CurlTransport(),
                retry: RetryPolicy = RetryPolicy()) throws {
        self.location = location
        self.credentials = credentials
        self.transport = transport
        self.retry = retry
        let base = location.endpoint ?? "https://s3.\(location.region).amazonaws.com"
        guard let sep = base.range(of: "://") else {
            throw S3Error(status: 0, code: "InvalidEndpoint", message: "endpoint \(base) has no scheme (http:// or https://)", operation: "configure")
        }
        scheme = String(base[..<sep.lowerBound]).lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw S3Error(status: 0, code: "InvalidEndpoint", message: "endpoint scheme must be http or https, not \(scheme)", operation: "configure")
        }
        var rest = String(base[sep.upperBound...])
        while rest.hasSuffix("/") { rest.removeLast() }
        guard !rest.isEmpty, !rest.contains("/") else {
            throw S3Error(status: 0, code: "InvalidEndpoint", message: "endpoint \(base) must be scheme://host[:port] without a path", operation: "configure")
        }
        authority = location.pathStyle ? rest : "\(location.bucket).\(rest)"
        guard location.bucket.count >= 3, !location.bucket.contains("/") else {
            throw S3Error(status: 0, code: "InvalidBucketName", message: "bucket name \(location.bucket) is not valid", operation: "configure")
        }
    }

    // MARK: Objects

    /// Writes a whole object (small ones: manifests). Returns its ETag.
    @discardableResult
    public func put(_ key: String, _ body: [UInt8], contentType: String = "application/octet-stream",
                    encryption: ServerSideEncryption? = nil) async throws -> String {
        var headers = [("content-type", contentType)] + (encryption?.headers ?? [])
        headers.append(("content-length", String(body.count)))
        let r = try await call("PutObject", "PUT", key: key, headers: headers, body: body)
        return r.headers["etag"] ?? ""
    }

    /// Reads an object, or the byte range `range` of it.
    public func get(_ key: String, range: Range<Int>? = nil) async throws -> [UInt8] {
        var headers: [(String, String)] = []
        if let range { headers.append(("range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")) }
        let r = try await call("GetObject", "GET", key: key, headers: headers, expect: range == nil ? [200] : [206, 200])
        return r.body
    }

    /// The object's size and ETag, or `nil` if there is no such object.
    public func head(_ key: String) async throws -> S3Object? {
        let r = try await call("HeadObject", "HEAD", key: key, expect: [200, 404])
        guard r.status == 200 else { return nil }
        return S3Object(key: key, size: Int(r.headers["content-length"] ?? "") ?? 0, etag: r.headers["etag"] ?? "",
                        lastModified: r.headers["last-modified"] ?? "")
    }

    /// Deletes an object; deleting one that is not there is not an error (as S3 itself answers).
    public func delete(_ key: String) async throws {
        _ = try await call("DeleteObject", "DELETE", key: key, expect: [200, 204, 404])
    }

    /// Every object under `prefix` (ListObjectsV2, following continuation tokens).
    public func list(prefix: String) async throws -> [S3Object] {
        var out: [S3Object] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let r = try await call("ListObjectsV2", "GET", key: nil, query: query)
            let result = try decode(ListBucketResult.self, r.body, "ListObjectsV2")
            out += (result.contents ?? []).map { S3Object(key: $0.key, size: $0.size, etag: $0.etag ?? "", lastModified: $0.lastModified ?? "") }
            token = nil
            if result.isTruncated == true {
                guard let next = result.nextContinuationToken, !next.isEmpty else {
                    throw S3Error(status: r.status, code: "TruncatedListing", message: "the listing of \(prefix) is truncated without a continuation token",
                                  operation: "ListObjectsV2")
                }
                token = next
            }
        } while token != nil
        return out
    }

    /// Multipart uploads begun under `prefix` and never completed or aborted (following the key and upload-id
    /// markers of truncated answers).
    public func pendingUploads(prefix: String) async throws -> [(key: String, uploadId: String)] {
        var out: [(key: String, uploadId: String)] = []
        var markers: (key: String, uploadId: String)?
        repeat {
            var query = [("uploads", ""), ("prefix", prefix)]
            if let m = markers { query += [("key-marker", m.key), ("upload-id-marker", m.uploadId)] }
            let r = try await call("ListMultipartUploads", "GET", key: nil, query: query)
            let result = try decode(ListMultipartUploadsResult.self, r.body, "ListMultipartUploads")
            out += (result.upload ?? []).map { ($0.key, $0.uploadId) }
            markers = nil
            if result.isTruncated == true {
                guard let k = result.nextKeyMarker, !k.isEmpty else {
                    throw S3Error(status: r.status, code: "TruncatedListing", message: "the upload listing of \(prefix) is truncated without markers",
                                  operation: "ListMultipartUploads")
                }
                markers = (k, result.nextUploadIdMarker ?? "")
            }
        } while markers != nil
        return out
    }

    /// Creates the bucket (in the client's region); an existing bucket of ours is not an error.
    public func createBucket() async throws {
        var body: [UInt8] = []
        if location.region != "us-east-1" {
            body = Array("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(location.region)</LocationConstraint></CreateBucketConfiguration>".utf8)
        }
        do {
            _ = try await call("CreateBucket", "PUT", key: nil, headers: body.isEmpty ? [] : [("content-type", "application/xml")], body: body)
        } catch let e as S3Error where e.code == "BucketAlreadyOwnedByYou" {
        }
    }

    // MARK: Multipart

    public func createMultipartUpload(_ key: String, contentType: String = "application/octet-stream",
                                      encryption: ServerSideEncryption? = nil) async throws -> String {
        let headers = [("content-type", contentType)] + (encryption?.headers ?? [])
        let r = try await call("CreateMultipartUpload", "POST", key: key, query: [("uploads", "")], headers: headers)
        return try decode(InitiateMultipartUploadResult.self, r.body, "CreateMultipartUpload").uploadId
    }

    public func uploadPart(_ key: String, uploadId: String, number: Int, body: [UInt8]) async throws -> String {
        let r = try await call("UploadPart", "PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadId)],
                               headers: [("content-length", String(body.count))], body: body)
        guard let etag = r.headers["etag"] else {
            throw S3Error(status: r.status, code: "NoETag", message: "the server answered part \(number) without an ETag", operation: "UploadPart")
        }
        return etag
    }

    public func completeMultipartUpload(_ key: String, uploadId: String, parts: [(number: Int, etag: String)]) async throws {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for p in parts { xml += "<Part><PartNumber>\(p.number)</PartNumber><ETag>\(Self.escape(p.etag))</ETag></Part>" }
        xml += "</CompleteMultipartUpload>"
        // S3 may answer 200 and still fail (the error is then in the body, and InternalError in it is to be retried,
        // as a 500 is). A retry after a completion whose answer was lost gets NoSuchUpload: the object is then
        // there, with a multipart ETag ("...-N") of as many parts, and that is success.
        var attempt = 0
        while true {
            attempt += 1
            do {
                let r = try await call("CompleteMultipartUpload", "POST", key: key, query: [("uploadId", uploadId)],
                                       headers: [("content-type", "application/xml")], body: Array(xml.utf8))
                if let e = try? XMLDecoder().decode(ErrorBody.self, from: Data(r.body)), let code = e.code {
                    let error = S3Error(status: 200, code: code, message: e.message ?? "", operation: "CompleteMultipartUpload")
                    if ["InternalError", "ServiceUnavailable", "SlowDown"].contains(code) && attempt < retry.attempts {
                        try await Task.sleep(for: backoff(attempt))
                        continue
                    }
                    throw error
                }
                return
            } catch let e as S3Error where e.code == "NoSuchUpload" && (attempt > 1 || e.retried) {
                if let o = try await head(key), o.etag.replacingOccurrences(of: "\"", with: "").hasSuffix("-\(parts.count)") { return }
                throw e
            }
        }
    }

    public func abortMultipartUpload(_ key: String, uploadId: String) async throws {
        _ = try await call("AbortMultipartUpload", "DELETE", key: key, query: [("uploadId", uploadId)], expect: [200, 204, 404])
    }

    // MARK: Requests

    /// Signs and sends one request, retrying what is worth retrying. Returns responses whose status is in `expect`.
    func call(_ operation: String, _ method: String, key: String?, query: [(String, String)] = [],
              headers: [(String, String)] = [], body: [UInt8] = [], expect: Set<Int> = [200]) async throws -> HTTPResponse {
        let bucketPath = location.pathStyle ? "/" + SigV4.uriEncode(location.bucket, slash: true) : ""
        var path = bucketPath + "/" + (key.map { SigV4.uriEncode($0, slash: false) } ?? "")
        if key == nil && location.pathStyle { path = bucketPath }
        if path.isEmpty { path = "/" }
        let queryString = SigV4.canonicalQuery(query)
        let url = "\(scheme)://\(authority)\(path)\(queryString.isEmpty ? "" : "?" + queryString)"
        let payloadHash = SigV4.hex(SHA256.hash(data: body))
        var failures = 0, credentialFailures = 0
        while true {
            var request = HTTPRequest(method: method, url: url, body: method == "GET" || method == "HEAD" || method == "DELETE" ? nil : body,
                                      timeout: .seconds(300))
            let signer: SigV4
            do {
                signer = SigV4(credentials: try await credentials.credentials(), region: location.region, service: "s3")
            } catch let e as AWSCredentialsError {
                // Not sent: retried as a dropped connection would be when STS may answer later, else given up.
                credentialFailures += 1
                guard e.isRetryable, credentialFailures < retry.attempts else {
                    throw S3Error(status: 0, code: "CredentialsUnavailable", message: e.description, operation: operation)
                }
                try await Task.sleep(for: backoff(credentialFailures))
                continue
            }
            let signed = signer.sign(method: method, path: path, query: query, headers: [("host", authority)] + headers,
                                     payloadHash: payloadHash)
            request.headers.add("Host", authority)
            for (n, v) in headers + signed { request.headers.add(n, v) }
            // libcurl would add "Expect: 100-continue" to large bodies, costing a round trip for nothing.
            request.headers.add("Expect", "")
            let outcome: Result<HTTPResponse, S3Error>
            do {
                let r = try await transport.send(request)
                if expect.contains(r.status) {
                    outcome = .success(r)
                } else {
                    let e = try? XMLDecoder().decode(ErrorBody.self, from: Data(r.body))
                    outcome = .failure(S3Error(status: r.status, code: e?.code ?? "HTTP\(r.status)",
                                               message: e?.message ?? String(decoding: r.body.prefix(300), as: UTF8.self), operation: operation))
                }
            } catch let e as KubeError {
                if case .transport(let t) = e, t.kind == .cancelled { throw CancellationError() }
                let retryable = { if case .transport(let t) = e { return t.isRetryable }; return false }()
                outcome = .failure(S3Error(status: 0, code: retryable ? "ConnectionFailed" : "Transport", message: e.description, operation: operation))
            }
            switch outcome {
            case .success(let r): return r
            case .failure(let e):
                failures += 1
                let retryable = e.isRetryable || e.code == "ConnectionFailed"
                guard retryable, failures < retry.attempts else {
                    var e = e
                    e.attempts = failures
                    throw e
                }
                try await Task.sleep(for: backoff(failures))
            }
        }
    }

    /// The wait before try `failures + 1`: exponential, capped, with up to 50% jitter so that many clients failing
    /// together do not retry together.
    func backoff(_ failures: Int) -> Duration {
        var delay = retry.initial
        for _ in 1..<max(1, failures) { delay = min(delay * 2, retry.maximum) }
        return delay + .milliseconds(Int.random(in: 0...max(1, Int(delay / .milliseconds(2)))))
    }

    func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], _ operation: String) throws -> T {
        do {
            return try XMLDecoder().decode(T.self, from: Data(body))
        } catch {
            throw S3Error(status: 200, code: "MalformedAnswer", message: "cannot read the answer: \(error)", operation: operation)
        }
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

// S3's XML answers.
struct ErrorBody: Decodable {
    var code: String?
    var message: String?
    enum CodingKeys: String, CodingKey { case code = "Code", message = "Message" }
}

struct InitiateMultipartUploadResult: Decodable {
    var uploadId: String
    enum CodingKeys: String, CodingKey { case uploadId = "UploadId" }
}

struct ListBucketResult: Decodable {
    struct Entry: Decodable {
        var key: String
        var size: Int
        var etag: String?
        var lastModified: String?
        enum CodingKeys: String, CodingKey { case key = "Key", size = "Size", etag = "ETag", lastModified = "LastModified" }
    }
    var contents: [Entry]?
    var isTruncated: Bool?
    var nextContinuationToken: String?
    enum CodingKeys: String, CodingKey {
        case contents = "Contents", isTruncated = "IsTruncated", nextContinuationToken = "NextContinuationToken"
    }
}

struct ListMultipartUploadsResult: Decodable {
    struct Upload: Decodable {
        var key: String
        var uploadId: String
        enum CodingKeys: String, CodingKey { case key = "Key", uploadId = "UploadId" }
    }
    var upload: [Upload]?
    var isTruncated: Bool?
    var nextKeyMarker: String?
    var nextUploadIdMarker: String?
    enum CodingKeys: String, CodingKey {
        case upload = "Upload", isTruncated = "IsTruncated", nextKeyMarker = "NextKeyMarker", nextUploadIdMarker = "NextUploadIdMarker"
    }
}
