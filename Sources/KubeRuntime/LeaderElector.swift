import KubeClient
import KubeCore
import Logging
import Synchronization

/// Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection package does it.
///
/// Guarantees: at most one holder at a time as long as clocks agree within the lease duration; the leader renews
/// every ``Config/retryPeriod`` and stops leading (cancelling its work at once) when it has not renewed within
/// ``Config/renewDeadline`` — every request is bounded by that deadline, so a stalled API call cannot extend a term;
/// another instance takes over once the lease has not been renewed for ``Config/leaseDuration``; on a clean stop
/// the leader releases the lease so a successor need not wait.
///
/// A lost lease does not end the process (controller-runtime's default is to exit): the instance campaigns again,
/// and when it wins, its work starts a new term from scratch (fresh queue, caches listed again).
public struct LeaderElector: Sendable {
    /// Timings, validated as client-go validates them.
    public struct Config: Sendable {
        /// How long a lease is valid without renewal. Default 15 s.
        public var leaseDuration: Duration = .seconds(15)
        /// How long the leader keeps trying to renew before giving up. Default 10 s.
        public var renewDeadline: Duration = .seconds(10)
        /// How often to try to acquire or renew. Default 2 s.
        public var retryPeriod: Duration = .seconds(2)
        public init() {}

        /// client-go's rules: leaseDuration > renewDeadline > retryPeriod × 1.2, all positive.
        public func validate() throws {
            guard leaseDuration > .zero, renewDeadline > .zero, retryPeriod > .zero else {
                throw KubeError.configuration(ConfigError(field: "leader election", message: "durations must be positive"))
            }
            guard leaseDuration > renewDeadline else {
                throw KubeError.configuration(ConfigError(field: "leader election", message: "leaseDuration must be greater than renewDeadline"))
            }
            // The Lease carries whole seconds (leaseDurationSeconds), so that is what the others wait for.
            guard leaseDuration >= .seconds(1), Duration.seconds(leaseDuration.components.seconds) > renewDeadline else {
                throw KubeError.configuration(ConfigError(field: "leader election", message: "leaseDuration, in whole seconds as the Lease records it, must be greater than renewDeadline"))
            }
            guard renewDeadline > retryPeriod * 1.2 else {
                throw KubeError.configuration(ConfigError(field: "leader election", message: "renewDeadline must be greater than retryPeriod*1.2"))
            }
        }
    }

    public let api: Api<Lease>
    public let name: String
    public let identity: String
    public let config: Config
    let now: @Sendable () -> Time
    let sleep: @Sendable (Duration) async throws -> Void
    let metrics: MetricsRegistry?
    /// The Lease as this instance last wrote it (client-go's observed record), so a release is one write.
    let observed = Observed()
    let logger: Logger

    public init(api: Api<Lease>, name: String, identity: String, config: Config = Config(),
                now: @escaping @Sendable () -> Time = { .now() }, clock: some Clock<Duration> = ContinuousClock(),
                metrics: MetricsRegistry? = nil, logger: Logger = Logger(label: "salespot.leader")) throws {
        try config.validate()
        self.api = api
        self.name = name
        self.identity = identity
        self.config = config
        self.now = now
        self.sleep = { try await clock.sleep(for: $0) }
        self.metrics = metrics
        self.logger = logger
        metrics?.declare("leader_election_master_status", "gauge", help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.", labels: ["name"])
        metrics?.set("leader_election_master_status", [name], 0)
    }

    /// Campaigns until the task is cancelled; runs `lead` while leading and cancels it at once when leadership is
    /// lost, then campaigns again (so `lead` runs once per term and must start clean each time).
    ///
    /// Every attempt to acquire or renew is bounded by the renew deadline, counted from the start of the last
    /// successful attempt (the renewTime the others see), so a request that stalls cannot keep this instance
    /// leading after a peer may have taken over (client-go bounds its renew the same way).
    ///
    /// When `lead` returns by itself (the work was drained for a graceful stop), the lease is released and `run`
    /// returns. On cancellation `lead` is cancelled, the lease released, and `run` returns.
    /// - Parameter keepCampaigning: checked before every attempt to acquire; once false (a graceful stop began),
    ///   `run` returns instead of campaigning again (a lease lost during the stop is not won back).
    public func run(keepCampaigning: @escaping @Sendable () -> Bool = { true }, lead: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled && keepCampaigning() {
            // Acquire.
            var renewedAt = ContinuousClock.now
            while !Task.isCancelled {
                if !keepCampaigning() { return }
                renewedAt = ContinuousClock.now
                if await attempt(until: renewedAt + config.renewDeadline) { break }
                do { try await sleep(jittered(config.retryPeriod)) } catch { break }
            }
            if Task.isCancelled { break }
            logger.info("became leader", metadata: ["lease": .string(name), "identity": .string(identity)])
            metrics?.set("leader_election_master_status", [name], 1)
            let since = renewedAt
            let ended = await withTaskGroup(of: TermEnd.self) { group in
                group.addTask { await lead(); return .workReturned }
                group.addTask { await self.renew(since: since); return .leaseLost }
                let first = await group.next() ?? .leaseLost
                // Leadership is over (or the work is): stop the other side now. Reconciles in flight are cancelled.
                metrics?.set("leader_election_master_status", [name], 0)
                group.cancelAll()
                await group.waitForAll()
                return first
            }
            if ended == .workReturned || Task.isCancelled {
                // Release in a task of its own (this one may be cancelled, and so would be its requests), given up
                // after a renew deadline: the lease then just expires, and the process still stops in time.
                _ = await Self.first(until: ContinuousClock.now + config.renewDeadline, ignoringCancellation: true) { await release(); return true }
                return
            }
        }
    }

    enum TermEnd: Sendable { case workReturned, leaseLost }

    /// Renews every retry period until a renewal misses the deadline (or the task is cancelled).
    func renew(since start: ContinuousClock.Instant) async {
        var renewedAt = start
        while !Task.isCancelled {
            do { try await sleep(config.retryPeriod) } catch { return }
            let deadline = renewedAt + config.renewDeadline
            while !Task.isCancelled {
                let attemptStart = ContinuousClock.now
                if attemptStart >= deadline {
                    logger.error("lost the lease: could not renew within the deadline", metadata: ["lease": .string(name)])
                    return
                }
                if await attempt(until: deadline) {
                    renewedAt = attemptStart
                    break
                }
                // Retry within the same deadline, as client-go's renew loop.
                do { try await sleep(min(config.retryPeriod, max(.zero, deadline - ContinuousClock.now))) } catch { return }
            }
        }
    }

    /// One acquire-or-renew, abandoned (its requests cancelled) at the deadline: true when it succeeded in time.
    func attempt(until deadline: ContinuousClock.Instant) async -> Bool {
        await Self.first(until: deadline) { (try? await self.tryAcquireOrRenew()) ?? false } ?? false
    }

    /// Runs `operation` and returns its result, or nil at the deadline (or when this task is cancelled), whichever
    /// comes first, without waiting for the operation to end: it is cancelled then, but a request that ignores
    /// cancellation (an exec credential plugin that hangs) cannot hold the caller past the deadline.
    ///
    /// With `ignoringCancellation` the caller's cancellation does not end it early (a release on the way out must
    /// still be sent when the task stopping is the one cancelled); only the deadline does.
    static func first<R: Sendable>(until deadline: ContinuousClock.Instant, ignoringCancellation: Bool = false,
                                   _ operation: @escaping @Sendable () async -> R) async -> R? {
        let outcome = FirstOutcome<R>()
        let work = Task { outcome.finish(await operation()) }
        let timer = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            outcome.finish(nil)
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { outcome.wait($0) }
        } onCancel: {
            if !ignoringCancellation { outcome.finish(nil) }
        }
        work.cancel()
        timer.cancel()
        return result
    }

    func jittered(_ d: Duration) -> Duration { d * (1 + Double.random(in: 0..<0.2)) }

    /// One attempt: true when this identity holds the lease afterwards.
    func tryAcquireOrRenew() async throws -> Bool {
        let t = now()
        let seconds = Int32(config.leaseDuration.components.seconds)
        guard var lease = try await api.getIfExists(name) else {
            observed.set(try await api.create(Lease(metadata: ObjectMeta(name: name),
                                           spec: LeaseSpec(holderIdentity: identity, leaseDurationSeconds: seconds,
                                                           acquireTime: MicroTime(t), renewTime: MicroTime(t), leaseTransitions: 0))))
            return true
        }
        var spec = lease.spec ?? LeaseSpec()
        let holder = spec.holderIdentity ?? ""
        if !holder.isEmpty && holder != identity {
            let renewed = spec.renewTime?.time ?? spec.acquireTime?.time ?? Time(secondsSince1970: 0)
            let duration = Double(spec.leaseDurationSeconds ?? seconds)
            if renewed.adding(seconds: duration) > t { return false }  // held and not expired
        }
        if holder != identity {
            spec.acquireTime = MicroTime(t)
            spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1  // as client-go: every change of holder
        }
        spec.holderIdentity = identity
        spec.renewTime = MicroTime(t)
        spec.leaseDurationSeconds = seconds
        lease.spec = spec
        observed.set(try await api.update(lease))  // resourceVersion makes a concurrent takeover fail with 409
        return true
    }

    /// Gives the lease up (so a successor does not wait for it to expire).
    func release() async {
        // First from the Lease as last written (as client-go); if that is stale (a renewal cancelled on the way out
        // may still have landed), read it again.
        var lease = observed.get()
        for _ in 0..<3 {
            if lease == nil { lease = try? await api.getIfExists(name) }
            guard var current = lease, current.spec?.holderIdentity == identity else { return }
            current.spec?.holderIdentity = ""
            current.spec?.leaseDurationSeconds = 1
            current.spec?.renewTime = MicroTime(now())
            if (try? await api.update(current)) != nil {
                observed.set(nil)
                logger.info("released the lease", metadata: ["lease": .string(name)])
                return
            }
            lease = nil
        }
    }

    /// The last Lease written.
    final class Observed: Sendable {
        private let lease = Mutex<Lease?>(nil)
        func get() -> Lease? { lease.withLock { $0 } }
        func set(_ l: Lease?) { lease.withLock { $0 = l } }
    }


}

/// The first of several outcomes, kept until the waiter is there to take it.
final class FirstOutcome<R: Sendable>: Sendable {
    private let state = Mutex<(waiter: CheckedContinuation<R?, Never>?, outcome: R??)>((nil, nil))

    func finish(_ value: R?) {
        state.withLock { s in
            guard s.outcome == nil else { return }
            s.outcome = .some(value)
            s.waiter?.resume(returning: value)
            s.waiter = nil
        }
    }

    func wait(_ c: CheckedContinuation<R?, Never>) {
        state.withLock { s in
            if let outcome = s.outcome { c.resume(returning: outcome) } else { s.waiter = c }
        }
    }
}
