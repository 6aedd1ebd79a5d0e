#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The evaluation counts of one flag in this replica: per minute for the last hour (for `status.usage`), the time
/// of the last evaluation, and totals per reason (for the metrics).
///
/// Guarantees: recording takes one uncontended lock and no allocation.
public final class UsageCell: Sendable {
    static let minutes = 60

    struct Counts {
        /// Evaluations per minute, in a ring indexed by minute number modulo 60, with the minute each slot holds.
        var perMinute = [Int64](repeating: 0, count: UsageCell.minutes)
        var slotMinute = [Int64](repeating: -1, count: UsageCell.minutes)
        var lastEvaluatedMillis: Int64 = 0
        var byReason = [Int64](repeating: 0, count: Reason.allCases.count)
    }
    private let counts = Mutex(Counts())

    public init() {}

    /// Counts one evaluation at `nowMillis` (milliseconds since 1970).
    public func record(_ reason: Reason, nowMillis: Int64 = UsageCell.wallMillis()) {
        let minute = nowMillis / 60_000
        let slot = Int(minute % Int64(Self.minutes))
        let reasonIndex = reason.index
        counts.withLock { c in
            if c.slotMinute[slot] != minute {
                c.slotMinute[slot] = minute
                c.perMinute[slot] = 0
            }
            c.perMinute[slot] += 1
            if nowMillis > c.lastEvaluatedMillis { c.lastEvaluatedMillis = nowMillis }
            c.byReason[reasonIndex] += 1
        }
    }

    /// Evaluations in the 60 minutes up to `nowMillis`, and the time of the last one (nil: never).
    public func lastHour(nowMillis: Int64 = UsageCell.wallMillis()) -> (count: Int64, lastEvaluatedMillis: Int64?) {
        let minute = nowMillis / 60_000
        return counts.withLock { c in
            var total: Int64 = 0
            for i in 0..<Self.minutes where c.slotMinute[i] > minute - Int64(Self.minutes) && c.slotMinute[i] <= minute {
                total += c.perMinute[i]
            }
            return (total, c.lastEvaluatedMillis > 0 ? c.lastEvaluatedMillis : nil)
        }
    }

    /// Total evaluations per reason since the process started.
    public func totals() -> [Reason: Int64] {
        counts.withLock { c in
            var out: [Reason: Int64] = [:]
            for (i, r) in Reason.allCases.enumerated() where c.byReason[i] > 0 { out[r] = c.byReason[i] }
            return out
        }
    }

    /// The wall clock in milliseconds, cheaply (the coarse clock: a few milliseconds of resolution is plenty here).
    public static func wallMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

extension Reason {
    var index: Int {
        switch self {
        case .static: 0
        case .targetingMatch: 1
        case .split: 2
        case .default: 3
        case .disabled: 4
        case .error: 5
        }
    }
}

/// A latency histogram cheap enough for every request: fixed buckets, one lock, no allocation.
public final class LatencyHistogram: Sendable {
    /// Evaluations take microseconds: buckets from 10 µs to 100 ms.
    public static let buckets: [Double] = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1]
    struct Counts {
        var counts = [Double](repeating: 0, count: LatencyHistogram.buckets.count)
        var sum = 0.0
        var count = 0.0
    }
    private let state = Mutex(Counts())
    public init() {}

    public func observe(seconds: Double) {
        let i = Self.buckets.firstIndex { seconds <= $0 }
        state.withLock { s in
            if let i { s.counts[i] += 1 }
            s.sum += seconds
            s.count += 1
        }
    }

    /// Cumulative bucket counts, sum and count, as Prometheus expects them.
    public func snapshot() -> (cumulative: [Double], sum: Double, count: Double) {
        state.withLock { s in
            var running = 0.0
            return (s.counts.map { running += $0; return running }, s.sum, s.count)
        }
    }
}
