/// The controller's work queue, with controller-runtime's guarantees:
/// - a key is never handed out while it is being processed (no concurrent reconciles of one object);
/// - adding a key that is already queued merges with it; adding one that is being processed queues it once more
///   for after ``done(_:)``;
/// - ``addRateLimited(_:)`` delays a key by its own exponential backoff (``Backoff/workQueue``), reset by
///   ``forget(_:)``; ``add(_:after:)`` delays it by a fixed time.
///
/// Time comes from the injected clock, so delays are tested without sleeping.
///
/// A queue that was shut down can be ``reopen()``ed for a new term of leadership: it then starts empty, as a fresh
/// process of controller-runtime would.
public actor WorkQueue<Key: Hashable & Sendable> {
    private var queue: [Key] = []
    private var head = 0
    private var queued: Set<Key> = []
    private var processing: Set<Key> = []
    private var dirtyWhileProcessing: Set<Key> = []
    private var failures: [Key: Int] = [:]
    private var waiters: [CheckedContinuation<Key?, Never>] = []
    /// Pending delayed adds, each with a token so that a superseded one that already woke up cannot touch its
    /// successor.
    private var delayed: [Key: (token: UInt64, task: Task<Void, Never>)] = [:]
    private var nextToken: UInt64 = 0
    private var addedAt: [Key: ContinuousClock.Instant] = [:]
    /// Whether ``shutDown()`` was called (and not undone by ``reopen()``).
    public private(set) var isShutDown = false
    private let backoff: Backoff
    private let sleep: @Sendable (Duration) async throws -> Void
    /// Observes the queue, for metrics.
    private let observer: WorkQueueObserver?

    /// - Parameters:
    ///   - clock: drives delays; inject a manual clock in tests.
    public init(backoff: Backoff = .workQueue, clock: some Clock<Duration> = ContinuousClock(), observer: WorkQueueObserver? = nil) {
        self.backoff = backoff
        self.sleep = { try await clock.sleep(for: $0) }
        self.observer = observer
    }

    /// Keys waiting to be handed out.
    public var depth: Int { queue.count - head }
    /// Whether a key is being processed.
    public func isProcessing(_ key: Key) -> Bool { processing.contains(key) }
    /// How many consecutive failures a key has had.
    public func failureCount(_ key: Key) -> Int { failures[key] ?? 0 }

    /// Queues a key now.
    public func add(_ key: Key) {
        guard !isShutDown else { return }
        observer?.added()
        if processing.contains(key) {
            dirtyWhileProcessing.insert(key)
            return
        }
        guard queued.insert(key).inserted else { return }
        addedAt[key] = .now
        if let w = waiters.first {
            waiters.removeFirst()
            queued.remove(key)
            hand(key, to: w)
        } else {
            queue.append(key)
            observer?.depthChanged(depth)
        }
    }

    /// Queues a key after a delay. A later call for the same key replaces an earlier pending one.
    public func add(_ key: Key, after delay: Duration) {
        guard !isShutDown else { return }
        if delay <= .zero { add(key); return }
        delayed[key]?.task.cancel()
        nextToken &+= 1
        let token = nextToken
        let sleep = self.sleep
        delayed[key] = (token, Task {
            do { try await sleep(delay) } catch { return }
            await self.fireDelayed(key, token: token)
        })
    }

    /// A delayed add whose time has come. One that was superseded (or cancelled by a shutdown) after its sleep
    /// returned does nothing: the newer one keeps its handle, so it can still be cancelled.
    func fireDelayed(_ key: Key, token: UInt64) {
        guard delayed[key]?.token == token else { return }
        delayed[key] = nil
        add(key)
    }

    /// The token of the delayed add pending for a key (for tests of superseded adds).
    func pendingDelayToken(_ key: Key) -> UInt64? { delayed[key]?.token }

    /// Queues a key after its next backoff delay; returns that delay.
    @discardableResult
    public func addRateLimited(_ key: Key) -> Duration {
        let n = (failures[key] ?? 0) + 1
        failures[key] = n
        observer?.retried()
        let d = backoff.delay(forFailures: n)
        add(key, after: d)
        return d
    }

    /// Resets a key's backoff (after a successful reconcile).
    public func forget(_ key: Key) { failures[key] = nil }

    /// The next key to process, waiting until there is one; `nil` once the queue is shut down.
    public func next() async -> Key? {
        if isShutDown { return nil }
        if head < queue.count {
            let key = queue[head]
            head += 1
            if head > 1024 && head * 2 > queue.count { queue.removeFirst(head); head = 0 }
            queued.remove(key)
            observer?.depthChanged(depth)
            markProcessing(key)
            return key
        }
        return await withCheckedContinuation { waiters.append($0) }
    }

    private func hand(_ key: Key, to waiter: CheckedContinuation<Key?, Never>) {
        markProcessing(key)
        waiter.resume(returning: key)
    }

    private func markProcessing(_ key: Key) {
        processing.insert(key)
        if let at = addedAt.removeValue(forKey: key) { observer?.waited(ContinuousClock.now - at) }
    }

    /// Marks a key as processed; if it was added meanwhile, it is queued again.
    public func done(_ key: Key) {
        processing.remove(key)
        if dirtyWhileProcessing.remove(key) != nil { add(key) }
    }

    /// Stops handing out keys; waiting ``next()`` calls return `nil`. Keys being processed may still call ``done(_:)``.
    public func shutDown() {
        isShutDown = true
        for w in waiters { w.resume(returning: nil) }
        waiters.removeAll()
        for (_, d) in delayed { d.task.cancel() }
        delayed.removeAll()
    }

    /// Starts a new term after a shut-down: empty, no backoffs, nothing delayed, handing out keys again. Keys of
    /// the last term still being processed are forgotten (their ``done(_:)`` is harmless).
    /// Counts the terms (reopens), so a shut-down meant for one term cannot close the next.
    public private(set) var term = 0

    /// Shuts down only if no new term has begun since `term`.
    public func shutDown(term t: Int) {
        if t == term { shutDown() }
    }

    @discardableResult
    public func reopen() -> Int {
        term += 1
        shutDown()
        queue.removeAll()
        head = 0
        queued.removeAll()
        processing.removeAll()
        dirtyWhileProcessing.removeAll()
        failures.removeAll()
        addedAt.removeAll()
        isShutDown = false
        observer?.depthChanged(0)
        return term
    }
}

/// Receives the queue's measurements (workqueue_* metrics).
public protocol WorkQueueObserver: Sendable {
    func added()
    func retried()
    func depthChanged(_ depth: Int)
    func waited(_ duration: Duration)
}
