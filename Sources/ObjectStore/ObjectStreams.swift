import Crypto

/// Streams bytes into one S3 object with a multipart upload: memory is the part being filled plus the parts in
/// flight (each also copied once by libcurl), whatever the object's size; the SHA-256 and size of what was written
/// are computed on the way. Until ``finish()`` completes the upload there is no object: a failure (or ``abort()``)
/// aborts the multipart upload, so nothing complete-looking is ever left behind.
///
/// S3 allows 10,000 parts: the part size doubles every 2,000 parts (5 MiB parts: 2,000 × 5 MiB, then 10, 20, 40
/// and 80 MiB, about 300 GiB in all), so memory stays at a few parts for objects under 10 GiB and grows only for
/// the largest. Used by one task at a time. An object smaller than one part is written with a single PUT.
public final class ObjectWriter {
    public let client: S3Client
    public let key: String
    /// The first parts' size (at least 5 MiB, S3's minimum).
    public let partSize: Int
    public let maxInFlight: Int
    let contentType: String
    let encryption: ServerSideEncryption?
    var buffer: [UInt8]
    var hasher = SHA256()
    public private(set) var size = 0
    var uploadId: String?
    var nextPart = 1
    var inFlight: [Task<(Int, String), any Error>] = []
    var done: [(number: Int, etag: String)] = []
    var finished = false

    /// - Parameters:
    ///   - maxInFlight: parts uploading while the next fills (default 2: one part's round trip overlaps the
    ///     next's, which keeps a fast source at the network's pace; each costs two parts of memory, its body and
    ///     libcurl's copy).
    public init(client: S3Client, key: String, contentType: String = "application/octet-stream",
                encryption: ServerSideEncryption? = nil, partSize: Int = 5 << 20, maxInFlight: Int = 2) {
        self.client = client
        self.key = key
        self.contentType = contentType
        self.encryption = encryption
        self.partSize = max(partSize, 5 << 20)
        self.maxInFlight = max(1, maxInFlight)
        buffer = []
        buffer.reserveCapacity(self.partSize)
    }

    /// The size of part `n` (1-based).
    public func size(ofPart n: Int) -> Int { partSize << min(6, (n - 1) / 2000) }

    public func write(_ bytes: UnsafeRawBufferPointer) async throws {
        try await write(Array(bytes))
    }

    public func write(_ bytes: [UInt8]) async throws {
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        size += bytes.count
        var offset = 0
        while offset < bytes.count {
            let target = size(ofPart: nextPart)
            let n = min(target - buffer.count, bytes.count - offset)
            buffer.append(contentsOf: bytes[offset..<offset + n])
            offset += n
            if buffer.count >= target { try await ship() }
        }
    }

    /// Hands the full buffer to an upload task, waiting first if ``maxInFlight`` parts are already in flight.
    func ship() async throws {
        if uploadId == nil {
            uploadId = try await client.createMultipartUpload(key, contentType: contentType, encryption: encryption)
        }
        guard nextPart <= 10_000 else {
            throw S3Error(status: 0, code: "TooManyParts", message: "more than 10,000 parts (\(size) bytes so far): raise the part size", operation: "UploadPart")
        }
        while inFlight.count >= maxInFlight {
            let t = inFlight.removeFirst()
            let (n, etag) = try await t.value
            done.append((n, etag))
        }
        let body = buffer
        buffer = []
        buffer.reserveCapacity(size(ofPart: nextPart + 1))
        let (client, key, id, number) = (client, key, uploadId!, nextPart)
        nextPart += 1
        inFlight.append(Task { (number, try await client.uploadPart(key, uploadId: id, number: number, body: body)) })
    }

    /// Completes the object; returns its size and hex SHA-256. On any failure the upload is aborted.
    public func finish() async throws -> (size: Int, sha256: String) {
        precondition(!finished, "finish() called twice")
        finished = true
        do {
            if uploadId == nil {
                try await client.put(key, buffer, contentType: contentType, encryption: encryption)
            } else {
                if !buffer.isEmpty { try await ship() }
                for t in inFlight { let (n, e) = try await t.value; done.append((n, e)) }
                inFlight = []
                try await client.completeMultipartUpload(key, uploadId: uploadId!, parts: done.sorted { $0.number < $1.number })
            }
        } catch {
            await abort()
            throw error
        }
        buffer = []
        return (size, SigV4.hex(hasher.finalize()))
    }

    /// Abandons the upload: parts in flight are cancelled and the multipart upload is aborted (best effort, with
    /// the client's retries; a bucket lifecycle rule for incomplete uploads is the backstop).
    public func abort() async {
        finished = true
        for t in inFlight { t.cancel() }
        for t in inFlight { _ = try? await t.value }
        inFlight = []
        buffer = []
        if let id = uploadId {
            // In a task of its own: the abort is most needed when this one was cancelled, and a cancelled task's
            // requests end at once.
            let (client, key) = (client, key)
            await Task { try? await client.abortMultipartUpload(key, uploadId: id) }.value
        }
    }
}

/// Reads an object as a sequence of ranged GETs of ``chunkSize`` bytes, each retried on its own: constant memory,
/// and a dropped connection costs one chunk, not the whole download.
public struct ObjectReader: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public let client: S3Client
    public let key: String
    public let size: Int
    public let chunkSize: Int

    public init(client: S3Client, key: String, size: Int, chunkSize: Int = 8 << 20) {
        self.client = client
        self.key = key
        self.size = size
        self.chunkSize = Swift.max(1, chunkSize)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let reader: ObjectReader
        var offset = 0
        var prefetch: Task<[UInt8], any Error>?

        /// The next chunk; the one after it is already being fetched while the caller works on this one.
        public mutating func next() async throws -> [UInt8]? {
            guard offset < reader.size else { return nil }
            let task = prefetch ?? fetch(offset)
            let end = Swift.min(offset + reader.chunkSize, reader.size)
            prefetch = end < reader.size ? fetch(end) : nil
            let chunk: [UInt8]
            do {
                chunk = try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
            } catch {
                prefetch?.cancel()
                throw error
            }
            guard chunk.count == end - offset else {
                prefetch?.cancel()
                throw S3Error(status: 0, code: "ShortRead", message: "\(reader.key): expected \(end - offset) bytes at \(offset), got \(chunk.count) (the object changed?)", operation: "GetObject")
            }
            offset = end
            return chunk
        }

        func fetch(_ start: Int) -> Task<[UInt8], any Error> {
            let (client, key, end) = (reader.client, reader.key, Swift.min(start + reader.chunkSize, reader.size))
            return Task { try await client.get(key, range: start..<end) }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: self) }
}
