import KubeClient
import KubeCore
import KubeRuntime
import Logging

/// How evaluation counts get from every replica to the leader, which writes them into each flag's `status.usage`.
///
/// Each replica publishes its counts (evaluations in the last hour and the last evaluation time, per flag) into a
/// ConfigMap of its own, `salespot-flag-usage-<replica>`, labelled `salespot.by/flag-usage`, in the operator's
/// namespace, every ``publishInterval``; the leader sums the ConfigMaps published recently. Evaluations never wait
/// for any of this: it runs beside them, and a replica that cannot publish only leaves its counts out for a while.
public struct UsageLedger: Sendable {
    public static let label = "salespot.by/flag-usage"
    static let publishedAtAnnotation = "salespot.by/published-at"
    static let fieldManager = "salespot-flag-usage"

    public let client: KubeClient
    /// Where the usage ConfigMaps live (the operator's namespace).
    public let namespace: String
    /// This replica's name in them.
    public let replica: String
    /// How often a replica publishes. Default 30 s.
    public var publishInterval: Duration = .seconds(30)
    let logger: Logger

    public init(client: KubeClient, namespace: String, replica: String, logger: Logger = Logger(label: "salespot.flags.usage")) {
        self.client = client
        self.namespace = namespace
        self.replica = replica
        self.logger = logger
    }

    /// `salespot-flag-usage-` and the replica's identity made into a valid name.
    var configMapName: String {
        let cleaned = String(replica.lowercased().map { ($0.isLetter && $0.isASCII) || $0.isNumber || $0 == "-" ? $0 : "-" }.prefix(200))
        return "salespot-flag-usage-" + (cleaned.isEmpty ? "replica" : cleaned)
    }

    /// The data entry of one flag: `NAMESPACE.KEY` (a namespace has no dots, so the first one splits them).
    static func entryName(namespace: String, key: String) -> String { "\(namespace).\(key)" }

    /// Publishes this replica's counts now (nothing when none changed since the last call).
    func publish(_ catalog: FlagCatalog, last: inout [String: String]) async {
        let now = UsageCell.wallMillis()
        var data: [String: String] = [:]
        for entry in catalog.allEntries() {
            let (count, lastMillis) = entry.usage.lastHour(nowMillis: now)
            guard let lastMillis else { continue }
            data[Self.entryName(namespace: entry.ref.namespace, key: entry.key)] = "\(count) \(lastMillis)"
        }
        // Published even when unchanged while there is anything to say: the leader counts only fresh ConfigMaps.
        if data.isEmpty && last.isEmpty { return }
        var cm = ConfigMap(metadata: ObjectMeta(name: configMapName, namespace: namespace, labels: [Self.label: "true"]), data: data)
        cm.metadata.annotations = [Self.publishedAtAnnotation: String(now)]
        do {
            _ = try await Api<ConfigMap>(client, namespace: namespace).apply(cm, fieldManager: Self.fieldManager, force: true)
            last = data
        } catch {
            logger.warning("flag usage not published", metadata: ["error": .string("\(error)")])
        }
    }

    /// Publishes every ``publishInterval`` until cancelled.
    public func run(_ catalog: FlagCatalog) async {
        var last: [String: String] = [:]
        while !Task.isCancelled {
            do { try await Task.sleep(for: publishInterval) } catch { return }
            await publish(catalog, last: &last)
        }
    }

    /// What the leader read: per `NAMESPACE.KEY`, evaluations in the last hour and the last evaluation time.
    public struct Totals: Sendable {
        public var flags: [String: (count: Int64, lastMillis: Int64)] = [:]
        /// Whether these were read (rather than nothing known yet).
        public var collected = false

        /// The usage to record for a flag: what the replicas published; a flag none of them evaluated in the
        /// last hour goes to 0 (keeping when it was last evaluated).
        public func usage(namespace: String, key: String, current: FeatureFlag.Usage?) -> FeatureFlag.Usage? {
            guard let t = flags[UsageLedger.entryName(namespace: namespace, key: key)] else {
                guard collected, let current, (current.evaluationsLastHour ?? 0) != 0 else { return current }
                return FeatureFlag.Usage(evaluationsLastHour: 0, lastEvaluatedTime: current.lastEvaluatedTime)
            }
            return FeatureFlag.Usage(evaluationsLastHour: t.count, lastEvaluatedTime: Time(secondsSince1970: Double(t.lastMillis / 1000)))
        }
    }

    /// Sums the ConfigMaps published within three intervals; deletes those not published for an hour (replicas
    /// that are gone).
    public func collect() async throws -> Totals {
        let api = Api<ConfigMap>(client, namespace: namespace)
        let now = UsageCell.wallMillis()
        let fresh = Int64(publishInterval.components.seconds) * 3000 + 1000
        var totals = Totals()
        // Anyone who can write ConfigMaps here can write these: every number is checked (none can overflow, no time
        // lies in the future), so nothing read here can make a status write fail.
        let countLimit: Int64 = 1 << 40
        let latest = now + 60_000  // clocks of replicas may differ a little
        for cm in try await api.listAll(ListOptions(labelSelector: Self.label)).items {
            let published = cm.metadata.annotations?[Self.publishedAtAnnotation].flatMap { Int64($0) } ?? 0
            guard published >= 0, published <= latest, now - published <= 3_600_000 else {
                _ = try? await api.delete(cm.metadata.name ?? "")
                continue
            }
            guard now - published <= fresh else { continue }
            for (name, value) in cm.data ?? [:] {
                let parts = value.split(separator: " ")
                guard parts.count == 2, let count = Int64(parts[0]), let lastMillis = Int64(parts[1]),
                      (0...countLimit).contains(count), (0...latest).contains(lastMillis) else { continue }
                let previous = totals.flags[name]
                totals.flags[name] = (min((previous?.count ?? 0) + count, countLimit), max(previous?.lastMillis ?? 0, lastMillis))
            }
        }
        totals.collected = true
        return totals
    }
}
