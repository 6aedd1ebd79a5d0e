#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KubeCore

/// One event of a watch.
public enum WatchEvent<T: Sendable>: Sendable {
    case added(T)
    case modified(T)
    case deleted(T)
    /// The server's progress marker: everything up to this resource version has been sent.
    case bookmark(resourceVersion: String)

    /// The object, for added/modified/deleted.
    public var object: T? {
        switch self {
        case .added(let o), .modified(let o), .deleted(let o): return o
        case .bookmark: return nil
        }
    }
}

/// Splits a watch body into lines and decodes each into a ``WatchEvent``, whatever the chunk boundaries
/// (mid-line, mid-UTF-8 character): bytes are only decoded once a whole line is in.
///
/// An `ERROR` event throws: ``KubeError/resourceExpired(_:)`` for 410 Gone, ``KubeError/api(_:)`` otherwise.
public struct WatchStreamDecoder<T: KubernetesObject> {
    private var buffer: [UInt8] = []
    private var start = 0
    /// Longest line accepted (the API server's own limit on object size is ~1.5 MiB; lists are not watched).
    public static var maxLineBytes: Int { 16 << 20 }

    public init() {}

    /// Feeds a chunk; returns the events completed by it.
    public mutating func feed(_ chunk: some Collection<UInt8>) throws -> [WatchEvent<T>] {
        var events: [WatchEvent<T>] = []
        if buffer.count == start {
            // Nothing pending: decode whole lines straight from the chunk, keep only the tail.
            buffer.removeAll(keepingCapacity: true)
            start = 0
            let handled: Bool? = try chunk.withContiguousStorageIfAvailable { buf in
                let raw = UnsafeRawBufferPointer(buf)
                var lineStart = 0
                while let nl = Self.newline(in: raw, from: lineStart) {
                    try Self.decode(UnsafeRawBufferPointer(rebasing: raw[lineStart..<nl]), into: &events)
                    lineStart = nl + 1
                }
                buffer.append(contentsOf: raw[lineStart...])
                return true
            }
            if handled == true {
                try checkLineLength()
                return events
            }
        }
        buffer.append(contentsOf: chunk)
        try buffer.withUnsafeBytes { raw in
            while let nl = Self.newline(in: raw, from: start) {
                try Self.decode(UnsafeRawBufferPointer(rebasing: raw[start..<nl]), into: &events)
                start = nl + 1
            }
        }
        if start > 0 && (start == buffer.count || start > 65536) {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        try checkLineLength()
        return events
    }

    private func checkLineLength() throws {
        if buffer.count - start > Self.maxLineBytes {
            throw KubeError.decoding("watch event longer than \(Self.maxLineBytes) bytes")
        }
    }

    private static func newline(in raw: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard from < raw.count, let base = raw.baseAddress else { return nil }
        guard let p = memchr(base + from, 0x0A, raw.count - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(p))
    }

    private static func decode(_ line: UnsafeRawBufferPointer, into events: inout [WatchEvent<T>]) throws {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { return }
        events.append(try decodeLine(line))
    }

    /// Decodes what remains when the stream ends without a final newline.
    public mutating func finish() throws -> [WatchEvent<T>] {
        let rest = buffer[start...]
        buffer = []
        start = 0
        if rest.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 || $0 == 0x0A }) { return [] }
        return [try Self.decodeLine(rest)]
    }

    /// Decodes one `{"type": ..., "object": ...}` line.
    public static func decodeLine(_ line: some Collection<UInt8>) throws -> WatchEvent<T> {
        let json: JSONValue
        do { json = try JSONParser.parse(line) } catch { throw KubeError.decoding("watch event: \(error)") }
        guard let type = json["type"]?.stringValue, let object = json["object"] else {
            throw KubeError.decoding("watch event without type or object")
        }
        switch type {
        case "BOOKMARK":
            return .bookmark(resourceVersion: object[path: ["metadata", "resourceVersion"]]?.stringValue ?? "")
        case "ERROR":
            let status = (try? JSONValueDecoder().decode(Status.self, from: object)) ?? Status(message: object.serializedString())
            let code = status.code ?? 500
            throw KubeError.fromResponse(code: code, body: object.serialized(), headers: HTTPHeaders(), method: "WATCH", path: "")
        case "ADDED", "MODIFIED", "DELETED":
            let decoded: T
            do { decoded = try T.decodePreserving(object) } catch {
                throw KubeError.decoding("watch \(type) event: \(error)")
            }
            switch type {
            case "ADDED": return .added(decoded)
            case "MODIFIED": return .modified(decoded)
            default: return .deleted(decoded)
            }
        default:
            throw KubeError.decoding("unknown watch event type '\(type)'")
        }
    }
}
