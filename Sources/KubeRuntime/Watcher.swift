import KubeClient
import KubeCore
import Logging

/// What a ``Watcher`` reports: a (re)list as init-start, init-apply per object, init-done; then changes.
public enum WatcherEvent<T: Sendable>: Sendable {
    /// A list is starting; what follows up to ``initDone`` is the complete current state.
    case initStart
    /// An object that exists, during a list.
    case initApply(T)
    /// The list is complete: objects not seen since ``initStart`` are gone.
    case initDone
    /// An object was added or changed.
    case apply(T)
    /// An object was deleted.
    case delete(T)
}

/// List-then-watch for one resource, as client-go's reflector and kube-rs' watcher do:
/// - lists in pages of ``pageSize`` (500), then watches from the list's resourceVersion with bookmarks;
/// - when a watch ends (server timeout, about 5 minutes, or a cut connection) it watches again from the last version
///   seen; on 410 Gone it lists again;
/// - on any other error it retries after ``Backoff/watcher`` (0.8 s to 30 s, doubling, jittered), reset after
///   ``healthyReset`` (2 minutes) without errors;
/// - a watch silent for ``idleTimeout`` is treated as dead.
public struct Watcher<T: KubernetesObject>: Sendable {
    /// The watcher's state: whether it must list, or can watch from a version.
    public enum State: Sendable, Equatable {
        case empty
        case watching(resourceVersion: String)
    }

    public let api: Api<T>
    public var labelSelector: String?
    public var fieldSelector: String?
    /// Items per list page; 500 as client-go.
    public var pageSize = 500
    /// The server ends each watch after this; a little under kube-apiserver's usual 5–10 minutes.
    public var timeoutSeconds = 290
    /// A watch that sends nothing (not even a bookmark) for this long is considered dead.
    public var idleTimeout: Duration = .seconds(330)
    public var backoff = Backoff.watcher
    /// How long without errors resets the backoff.
    public var healthyReset: Duration = .seconds(120)
    let sleep: @Sendable (Duration) async throws -> Void
    let logger: Logger

    public init(api: Api<T>, labelSelector: String? = nil, fieldSelector: String? = nil,
                clock: some Clock<Duration> = ContinuousClock(), logger: Logger = Logger(label: "salespot.watcher")) {
        self.api = api
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.sleep = { try await clock.sleep(for: $0) }
        self.logger = logger
    }

    /// The events, until the consuming task is cancelled. Errors are retried, never thrown.
    public func events() -> AsyncStream<WatcherEvent<T>> {
        AsyncStream { continuation in
            let task = Task { await run(continuation) }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// One step of the loop: from a state, do the next list or watch, emit, and return the next state.
    /// Errors propagate, so the caller can back off.
    func step(_ state: State, emit: (WatcherEvent<T>) -> Void) async throws -> State {
        switch state {
        case .empty:
            emit(.initStart)
            var options = ListOptions(labelSelector: labelSelector, fieldSelector: fieldSelector, limit: pageSize)
            var version: String?
            while true {
                let page = try await api.list(options)
                for item in page.items { emit(.initApply(item)) }
                version = page.metadata.resourceVersion ?? version
                guard let next = page.metadata.continue, !next.isEmpty else { break }
                options.continueToken = next
            }
            emit(.initDone)
            return .watching(resourceVersion: version ?? "")
        case .watching(var version):
            let options = WatchOptions(labelSelector: labelSelector, fieldSelector: fieldSelector, resourceVersion: version,
                                       allowWatchBookmarks: true, timeoutSeconds: timeoutSeconds, idleTimeout: idleTimeout)
            do {
                for try await event in api.watch(options) {
                    switch event {
                    case .added(let o), .modified(let o):
                        emit(.apply(o))
                        version = o.metadata.resourceVersion ?? version
                    case .deleted(let o):
                        emit(.delete(o))
                        version = o.metadata.resourceVersion ?? version
                    case .bookmark(let rv):
                        if !rv.isEmpty { version = rv }
                    }
                }
            } catch let e as KubeError where e.isExpired {
                logger.info("watch expired, listing again", metadata: ["resource": .string(api.resource.description)])
                return .empty
            } catch {
                // Resume from the last version seen once the caller has backed off.
                throw WatchInterrupted(resumeFrom: .watching(resourceVersion: version), underlying: error)
            }
            return .watching(resourceVersion: version)
        }
    }

    struct WatchInterrupted: Error {
        var resumeFrom: State
        var underlying: any Error
    }

    func run(_ continuation: AsyncStream<WatcherEvent<T>>.Continuation) async {
        var state = State.empty
        var failures = 0
        var healthySince = ContinuousClock.now
        while !Task.isCancelled {
            do {
                state = try await step(state) { continuation.yield($0) }
                if ContinuousClock.now - healthySince >= healthyReset { failures = 0 }
            } catch {
                if Task.isCancelled { break }
                var underlying: any Error = error
                if let w = error as? WatchInterrupted {
                    state = w.resumeFrom
                    underlying = w.underlying
                }
                failures += 1
                healthySince = ContinuousClock.now
                let delay = backoff.jittered(forFailures: failures, random: Double.random(in: 0..<1))
                logger.warning("list/watch failed; retrying", metadata: [
                    "resource": .string(api.resource.description), "error": .string("\(underlying)"),
                    "retryIn": .stringConvertible(delay)])
                do { try await sleep(delay) } catch { break }
            }
        }
        continuation.finish()
    }
}
