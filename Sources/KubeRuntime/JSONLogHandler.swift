#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KubeCore
import Logging
import Synchronization

/// A swift-log handler that writes one JSON object per line to standard error: time, level, logger, message and
/// metadata (controller, object, reconcileID, ...), as log collectors expect.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    private static let lock = Mutex(())

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var entry: JSONValue = ["ts": .string(Time.now().rfc3339Micro), "level": .string(event.level.rawValue),
                                "logger": .string(label), "msg": .string(event.message.description)]
        for (k, v) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) { entry[k] = .string("\(v)") }
        if let error = event.error { entry["error"] = .string("\(error)") }
        var bytes = entry.serialized(sortedKeys: false)
        bytes.append(0x0A)
        Self.lock.withLock { _ in
            // One write(2) per line, so lines from several threads never interleave.
            bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
        }
    }
}
