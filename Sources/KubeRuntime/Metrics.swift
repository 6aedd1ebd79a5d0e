import Synchronization

/// A Prometheus registry with controller-runtime's metric names, rendered in the text exposition format.
///
/// No label ever carries an object name or a URL path, so cardinality stays bounded by controllers and codes.
public final class MetricsRegistry: Sendable {
    /// Histogram buckets for durations, as controller-runtime's reconcile_time_seconds.
    public static let durationBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
                                                   0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9,
                                                   10, 15, 20, 25, 30, 40, 50, 60]

    enum Kind: String { case counter, gauge, histogram }
    struct Family {
        var help: String
        var kind: Kind
        var buckets: [Double] = []
        var values: [[String]: Double] = [:]
        var histograms: [[String]: (counts: [Double], sum: Double, count: Double)] = [:]
        var labelNames: [String]
    }
    private let families = Mutex<[String: Family]>([:])
    /// Called before each rendering, to copy values kept elsewhere (counters updated on a hot path) into the registry.
    private let collectors = Mutex<[@Sendable (MetricsRegistry) -> Void]>([])

    public init() {}

    /// Declares a metric (idempotent).
    public func declare(_ name: String, _ kind: String, help: String, labels: [String], buckets: [Double] = MetricsRegistry.durationBuckets) {
        families.withLock { f in
            if f[name] == nil { f[name] = Family(help: help, kind: Kind(rawValue: kind) ?? .gauge, buckets: buckets, labelNames: labels) }
        }
    }

    /// Removes every series of the named metrics whose labels start with `labelPrefix` (the series of an object
    /// that is gone, as client-go's metrics vectors' DeletePartialMatch).
    public func removeSeries(_ names: [String], labelPrefix: [String]) {
        families.withLock { f in
            for name in names {
                guard var family = f[name] else { continue }
                family.values = family.values.filter { !$0.key.starts(with: labelPrefix) }
                family.histograms = family.histograms.filter { !$0.key.starts(with: labelPrefix) }
                f[name] = family
            }
        }
    }

    public func add(_ name: String, _ labels: [String], _ value: Double = 1) {
        families.withLock { $0[name]?.values[labels, default: 0] += value }
    }

    public func set(_ name: String, _ labels: [String], _ value: Double) {
        families.withLock { $0[name]?.values[labels] = value }
    }

    public func observe(_ name: String, _ labels: [String], _ value: Double) {
        families.withLock { f in
            guard let buckets = f[name]?.buckets else { return }
            // Updated in place: copying the family out and back would copy every label set's histogram.
            f[name]!.histograms[labels, default: (Array(repeating: 0, count: buckets.count), 0, 0)].counts.withUnsafeMutableBufferPointer { counts in
                for (i, b) in buckets.enumerated() where value <= b { counts[i] += 1 }
            }
            f[name]!.histograms[labels]!.sum += value
            f[name]!.histograms[labels]!.count += 1
        }
    }

    /// Sets a histogram's cumulative bucket counts, sum and count (for a collector that keeps its own).
    public func setHistogram(_ name: String, _ labels: [String], cumulative: [Double], sum: Double, count: Double) {
        families.withLock { f in
            guard let buckets = f[name]?.buckets, buckets.count == cumulative.count else { return }
            f[name]!.histograms[labels] = (cumulative, sum, count)
        }
    }

    /// Runs `collect` before every rendering of the registry.
    public func addCollector(_ collect: @escaping @Sendable (MetricsRegistry) -> Void) {
        collectors.withLock { $0.append(collect) }
    }

    /// The current value of a counter or gauge (for tests).
    public func value(_ name: String, _ labels: [String]) -> Double? { families.withLock { $0[name]?.values[labels] } }

    /// The text exposition format, version 0.0.4.
    public func render() -> String {
        for collect in collectors.withLock({ $0 }) { collect(self) }
        return families.withLock { f in
            var out = ""
            for name in f.keys.sorted() {
                let fam = f[name]!
                out += "# HELP \(name) \(fam.help)\n# TYPE \(name) \(fam.kind.rawValue)\n"
                func labelText(_ values: [String], extra: (String, String)? = nil) -> String {
                    var pairs = zip(fam.labelNames, values).map { "\($0)=\"\(escape($1))\"" }
                    if let extra { pairs.append("\(extra.0)=\"\(extra.1)\"") }
                    return pairs.isEmpty ? "" : "{\(pairs.joined(separator: ","))}"
                }
                if fam.kind == .histogram {
                    for (labels, h) in fam.histograms.sorted(by: { $0.key.joined() < $1.key.joined() }) {
                        for (i, b) in fam.buckets.enumerated() {
                            out += "\(name)_bucket\(labelText(labels, extra: ("le", format(b)))) \(format(h.counts[i]))\n"
                        }
                        out += "\(name)_bucket\(labelText(labels, extra: ("le", "+Inf"))) \(format(h.count))\n"
                        out += "\(name)_sum\(labelText(labels)) \(format(h.sum))\n"
                        out += "\(name)_count\(labelText(labels)) \(format(h.count))\n"
                    }
                } else {
                    for (labels, v) in fam.values.sorted(by: { $0.key.joined() < $1.key.joined() }) {
                        out += "\(name)\(labelText(labels)) \(format(v))\n"
                    }
                }
            }
            return out
        }
    }

    private func escape(_ s: String) -> String {
        s.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
    }

    private func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}

/// The controller and work-queue metrics, by controller-runtime's names.
public final class ControllerMetrics: Sendable {
    public let registry: MetricsRegistry

    public init(registry: MetricsRegistry) {
        self.registry = registry
        registry.declare("controller_runtime_reconcile_total", "counter", help: "Total number of reconciliations per controller", labels: ["controller", "result"])
        registry.declare("controller_runtime_reconcile_errors_total", "counter", help: "Total number of reconciliation errors per controller", labels: ["controller"])
        registry.declare("controller_runtime_terminal_reconcile_errors_total", "counter", help: "Total number of terminal reconciliation errors per controller", labels: ["controller"])
        registry.declare("controller_runtime_reconcile_time_seconds", "histogram", help: "Length of time per reconciliation per controller", labels: ["controller"])
        registry.declare("controller_runtime_active_workers", "gauge", help: "Number of currently used workers per controller", labels: ["controller"])
        registry.declare("workqueue_depth", "gauge", help: "Current depth of workqueue", labels: ["name", "controller"])
        registry.declare("workqueue_adds_total", "counter", help: "Total number of adds handled by workqueue", labels: ["name", "controller"])
        registry.declare("workqueue_retries_total", "counter", help: "Total number of retries handled by workqueue", labels: ["name", "controller"])
        registry.declare("workqueue_queue_duration_seconds", "histogram", help: "How long in seconds an item stays in workqueue before being requested", labels: ["name", "controller"])
        registry.declare("workqueue_work_duration_seconds", "histogram", help: "How long in seconds processing an item from workqueue takes", labels: ["name", "controller"])
        registry.declare("rest_client_requests_total", "counter", help: "Number of HTTP requests, partitioned by status code, method, and host", labels: ["code", "method", "host"])
    }

    func reconciled(_ controller: String, result: String, duration: Duration, terminal: Bool = false) {
        registry.add("controller_runtime_reconcile_total", [controller, result])
        if result == "error" { registry.add("controller_runtime_reconcile_errors_total", [controller]) }
        if terminal { registry.add("controller_runtime_terminal_reconcile_errors_total", [controller]) }
        registry.observe("controller_runtime_reconcile_time_seconds", [controller], duration.seconds)
        registry.observe("workqueue_work_duration_seconds", [controller, controller], duration.seconds)
    }

    func activeWorkers(_ controller: String, delta: Double) {
        registry.add("controller_runtime_active_workers", [controller], delta)
    }

    /// Records one HTTP exchange of the client (pass to ``KubeClient``'s observer).
    public func recordRequest(method: String, code: String, host: String) {
        registry.add("rest_client_requests_total", [code, method, host])
    }

    func queueObserver(name: String) -> WorkQueueObserver { QueueObserver(registry: registry, name: name) }

    struct QueueObserver: WorkQueueObserver {
        let registry: MetricsRegistry
        let name: String
        func added() { registry.add("workqueue_adds_total", [name, name]) }
        func retried() { registry.add("workqueue_retries_total", [name, name]) }
        func depthChanged(_ depth: Int) { registry.set("workqueue_depth", [name, name], Double(depth)) }
        func waited(_ duration: Duration) { registry.observe("workqueue_queue_duration_seconds", [name, name], duration.seconds) }
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
