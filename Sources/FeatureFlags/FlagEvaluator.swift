import KubeCore
import KubeRuntime
import Synchronization

/// Evaluates flags from a ``FlagCatalog`` and counts what it serves: the code behind every evaluation endpoint and
/// the CLI's local `flags eval`.
public struct FlagEvaluator: Sendable {
    public let catalog: FlagCatalog
    /// The environment used when a context names none (the server's own: `--flags-environment`).
    public let environment: String
    let notFound = NotFoundCounts()

    public init(catalog: FlagCatalog, environment: String) {
        self.catalog = catalog
        self.environment = environment
    }

    /// Evaluates `key` in `namespace` and counts it (usage and metrics).
    public func evaluate(namespace: String, key: String, context: EvaluationContext) -> Resolution {
        guard let entry = catalog.lookup(namespace: namespace, key: key) else {
            notFound.add(namespace)
            return .failure(.flagNotFound, "flag '\(key)' not found in namespace '\(namespace)'")
        }
        let resolution = Self.resolve(entry, context: context, environment: environment)
        entry.usage.record(resolution.reason)
        return resolution
    }

    /// Evaluates a catalog entry without counting it.
    public static func resolve(_ entry: FlagCatalog.Entry, context: EvaluationContext, environment: String) -> Resolution {
        guard let flag = entry.flag else {
            return .failure(.general, "flag '\(entry.key)' has no valid definition: \(entry.invalid?.message ?? "not validated")")
        }
        return flag.evaluate(context, environment: environment)
    }

    /// Declares the flag metrics in `registry` and fills them from the catalog's counts at every scrape.
    public func register(_ registry: MetricsRegistry, latency: [String: LatencyHistogram]) {
        registry.declare("salespot_flag_evaluations_total", "counter",
                         help: "Flag evaluations served, by namespace, reason and flag key (empty for flags not found)",
                         labels: ["namespace", "reason", "flag"])
        registry.declare("salespot_flags_served", "gauge", help: "FeatureFlags with a valid generation served, by namespace", labels: ["namespace"])
        registry.declare("salespot_flags_invalid", "gauge",
                         help: "FeatureFlags whose current generation is invalid (the last valid one, if any, is served), by namespace",
                         labels: ["namespace"])
        registry.declare("salespot_flag_evaluation_duration_seconds", "histogram",
                         help: "Time to answer an evaluation request, by API (ofrep, flags)", labels: ["api"], buckets: LatencyHistogram.buckets)
        let catalog = self.catalog
        let notFound = self.notFound
        registry.addCollector { registry in
            var served: [String: Double] = [:]
            var invalid: [String: Double] = [:]
            for entry in catalog.allEntries() {
                served[entry.ref.namespace, default: 0] += entry.flag == nil ? 0 : 1
                invalid[entry.ref.namespace, default: 0] += entry.invalid == nil ? 0 : 1
                for (reason, n) in entry.usage.totals() {
                    registry.set("salespot_flag_evaluations_total", [entry.ref.namespace, reason.rawValue, entry.key], Double(n))
                }
            }
            for (ns, n) in notFound.snapshot() {
                registry.set("salespot_flag_evaluations_total", [ns, Reason.error.rawValue, ""], Double(n))
            }
            for (ns, n) in served { registry.set("salespot_flags_served", [ns], n) }
            for (ns, n) in invalid { registry.set("salespot_flags_invalid", [ns], n) }
            for (api, histogram) in latency {
                let s = histogram.snapshot()
                registry.setHistogram("salespot_flag_evaluation_duration_seconds", [api], cumulative: s.cumulative, sum: s.sum, count: s.count)
            }
        }
    }
}

/// Evaluations of keys no flag has, per namespace (the key itself is not kept: it is the caller's input).
final class NotFoundCounts: Sendable {
    private let counts = Mutex<[String: Int64]>([:])
    func add(_ namespace: String) { counts.withLock { $0[namespace, default: 0] += 1 } }
    func snapshot() -> [String: Int64] { counts.withLock { $0 } }
}
