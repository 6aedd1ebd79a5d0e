/// Spaces requests to an API with a per-account rate limit: Route53 allows five requests a second per AWS account
/// and answers Throttling beyond it, so 200 policies with the same credentials share one pace instead of each
/// retrying against the others. Keyed by the access key id (the account as the client sees it).
public actor RequestPacer {
    /// Route53's documented limit: five requests per second per account.
    public static let route53 = RequestPacer(perSecond: 5)

    /// Set for the requests of a switch being made: they are not queued behind routine reads and checks (Route53's
    /// Throttling answers, retried with backoff, still apply to them).
    @TaskLocal public static var urgent = false

    let interval: Duration
    var next: [String: ContinuousClock.Instant] = [:]

    public init(perSecond: Int) { interval = .nanoseconds(1_000_000_000 / Int64(max(1, perSecond))) }

    /// Waits for this key's next turn: at most `perSecond` turns a second, in the order asked.
    public func turn(_ key: String) async throws {
        let now = ContinuousClock.now
        let at = max(now, next[key] ?? now)
        next[key] = at.advanced(by: interval)
        if next.count > 1000 { next = next.filter { $0.value > now } }
        if at > now { try await Task.sleep(until: at, clock: .continuous) }
    }
}
