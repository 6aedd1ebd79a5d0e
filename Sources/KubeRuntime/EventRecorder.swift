#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import KubeCore
import Logging

/// Records `events.k8s.io/v1` Events about objects, folding repeats into a series as client-go's recorder does:
/// the same regarding object, type, reason, action and note within ``seriesWindow`` bump `series.count` and
/// `series.lastObservedTime` on the existing Event instead of creating another.
///
/// Recording never throws: a failure is logged, since an Event must not fail a reconcile. Reconcilers use
/// ``emit(regarding:type:reason:action:note:)``, which stamps the time and returns at once (as with client-go's
/// broadcaster, an Event is not worth a round trip on the reconcile's critical path); one sender posts them in
/// order, and past ``queueLimit`` waiting Events new ones are dropped.
public actor EventRecorder {
    /// Events waiting to be sent beyond which new ones are dropped.
    public static let queueLimit = 4096
    /// How long a repeat is folded into the earlier Event (client-go uses 6 minutes).
    public static let seriesWindow: Double = 360

    let client: KubeClient
    let controller: String
    let instance: String
    let now: @Sendable () -> Time
    let logger: Logger
    private var recent: [String: (name: String, namespace: String, count: Int32, first: Time)] = [:]
    private nonisolated let queue: AsyncStream<Item>.Continuation

    enum Item: Sendable {
        case event(Pending)
        case flush(CheckedContinuation<Void, Never>)
    }

    struct Pending: Sendable {
        var regarding: ObjectReference, type: String, reason: String, action: String, note: String, at: Time
    }

    /// The level each emitted Event is also logged at (client-go's broadcaster logs them too); nil: not logged.
    let logLevel: Logger.Level?

    public init(client: KubeClient, reportingController: String, reportingInstance: String,
                now: @escaping @Sendable () -> Time = { .now() }, logger: Logger = Logger(label: "salespot.events"),
                logLevel: Logger.Level? = nil) {
        self.logLevel = logLevel
        self.client = client
        self.controller = reportingController
        self.instance = reportingInstance
        self.now = now
        self.logger = logger
        let (stream, continuation) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingOldest(Self.queueLimit))
        queue = continuation
        // Holds the recorder weakly: when it goes, deinit finishes the stream and this ends.
        Task { [weak self] in
            for await item in stream {
                switch item {
                case .flush(let waiter): waiter.resume()
                case .event(let p):
                    guard let self else { return }
                    await self.record(regarding: p.regarding, type: p.type, reason: p.reason, action: p.action, note: p.note, at: p.at)
                }
            }
        }
    }

    deinit { queue.finish() }

    /// Queues an Event stamped now and returns at once.
    public nonisolated func emit(regarding: ObjectReference, type: String = "Normal", reason: String, action: String, note: String) {
        let p = Pending(regarding: regarding, type: type, reason: reason, action: action, note: note, at: now())
        if let logLevel {
            let object = "\((regarding.kind ?? "").lowercased())/\(regarding.namespace.map { "\($0)/" } ?? "")\(regarding.name ?? "")"
            logger.log(level: type == "Warning" ? max(logLevel, .warning) : logLevel, "\(object) \(reason): \(note)",
                       metadata: ["object": .string(object), "reason": .string(reason), "type": .string(type)])
        }
        if case .dropped = queue.yield(.event(p)) {
            logger.warning("event queue full; event dropped", metadata: ["reason": .string(reason)])
        }
    }

    /// Waits until every Event emitted before this call has been sent (or given up on).
    public func drain() async {
        await withCheckedContinuation { waiter in
            if case .dropped(let item) = queue.yield(.flush(waiter)), case .flush(let w) = item { w.resume() }
        }
    }

    /// Records an Event. `type` is `Normal` or `Warning`; `reason` is CamelCase; `action` what was done.
    public func record(regarding: ObjectReference, type: String = "Normal", reason: String, action: String, note: String) async {
        await record(regarding: regarding, type: type, reason: reason, action: action, note: note, at: now())
    }

    private func record(regarding: ObjectReference, type: String, reason: String, action: String, note: String, at t: Time) async {
        let namespace = regarding.namespace ?? "default"
        let api = Api<Event>(client, namespace: namespace)
        let key = [regarding.uid ?? regarding.name ?? "", type, reason, action, note].joined(separator: "\u{1}")
        do {
            if let previous = recent[key], t.secondsSince1970 - previous.first.secondsSince1970 < Self.seriesWindow {
                let count = previous.count + 1
                _ = try await api.patch(previous.name, .merge(["series": ["count": .int(Int64(count)),
                                                                          "lastObservedTime": .string(MicroTime(t).description)]]))
                recent[key] = (previous.name, namespace, count, previous.first)
                return
            }
            var event = Event(metadata: ObjectMeta(name: "\(regarding.name ?? "object").\(String(UInt64.random(in: 0...UInt64.max), radix: 16))",
                                                   namespace: namespace))
            event.eventTime = MicroTime(t)
            event.reportingController = controller
            event.reportingInstance = instance
            event.action = action
            event.reason = reason
            event.regarding = regarding
            // The API server refuses notes over 1 KiB (bytes, not characters): cut at a character boundary.
            var clipped = note.prefix(1024)
            while clipped.utf8.count > 1024 { clipped = clipped.dropLast() }
            event.note = String(clipped)
            event.type = type
            let created = try await api.create(event)
            recent[key] = (created.metadata.name ?? "", namespace, 1, t)
            if recent.count > 4096 {
                recent = recent.filter { t.secondsSince1970 - $0.value.first.secondsSince1970 < Self.seriesWindow }
            }
        } catch {
            logger.warning("could not record event", metadata: ["reason": .string(reason), "error": .string("\(error)")])
        }
    }
}
