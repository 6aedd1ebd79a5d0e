/// Exponential backoff with optional jitter and a cap.
///
/// Defaults are the watcher's (client-go's reflector): 0.8 s doubling to 30 s with up to 100% jitter... as
/// ``Backoff/watcher``; the work queue's per-key backoff is ``Backoff/workQueue`` (controller-runtime's 5 ms to 1000 s).
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    public var factor: Double
    /// Fraction of random extra delay, 0 for none (0.5 adds up to 50%).
    public var jitter: Double

    public init(initial: Duration, maximum: Duration, factor: Double = 2, jitter: Double = 0) {
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
    }

    /// The watcher's backoff between failed list/watch attempts: 0.8 s to 30 s, doubling, with jitter.
    public static let watcher = Backoff(initial: .milliseconds(800), maximum: .seconds(30), factor: 2, jitter: 1.0)
    /// The work queue's per-key backoff after a failed reconcile: 5 ms to 1000 s, doubling.
    public static let workQueue = Backoff(initial: .milliseconds(5), maximum: .seconds(1000), factor: 2)

    /// The delay before attempt number `failures` (1 for the first retry), without jitter.
    public func delay(forFailures failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        // Exact for the usual factor of 2 (no floating-point drift: 0.8 s, 1.6 s, 3.2 s, ...).
        if factor == 2 {
            var d = initial
            for _ in 1..<min(failures, 64) {
                d = d * 2
                if d >= maximum { return maximum }
            }
            return min(d, maximum)
        }
        let seconds = initial.seconds * pow2(factor, failures - 1)
        return seconds >= maximum.seconds ? maximum : .seconds(seconds)
    }

    /// The delay with jitter applied, using `random` in [0, 1).
    public func jittered(forFailures failures: Int, random: Double) -> Duration {
        let base = delay(forFailures: failures)
        guard jitter > 0 else { return base }
        return .seconds(base.seconds * (1 + jitter * random))
    }

    private func pow2(_ f: Double, _ n: Int) -> Double {
        var r = 1.0
        for _ in 0..<min(n, 64) { r *= f }
        return r
    }
}
