import BackupAPI
import DNSProviders
import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import Logging

/// The DRPolicy controller: probers per policy (off the reconcile path), the decision, the DNS change read back,
/// and status, conditions, Events and metrics. Runs on the leader; see the README for where to run it.
public enum DRControllers {
    public static let fieldManager = "salespot-dr"

    public static func make(client: KubeClient, namespaces: [String]? = nil, shardSelector: String? = nil, workers: Int = 4,
                            metrics: ControllerMetrics? = nil, events: EventRecorder? = nil, probeTransport: any HTTPTransport = CurlTransport(),
                            now: @escaping @Sendable () -> Date = { Date() },
                            logger: Logger = Logger(label: "salespot.dr")) -> [any ManagedController] {
        let registry = metrics?.registry
        DRMetrics.declare(registry)
        let queueBox = QueueBox()
        let probers = Probers(transport: probeTransport) { ref in await queueBox.queue?.add(ref) }
        DrillReconciler.declare(registry)
        let drills = Store<DRDrill>()
        let reconciler = DRReconciler(client: client, events: events, registry: registry, probers: probers, drills: drills, now: now)
        // A drill's end reaches its policy's status (lastDrill).
        let controller = Controller(name: "drpolicy", api: Api<DRPolicy>(client), namespaces: namespaces, labelSelector: shardSelector,
                                    workers: workers, metrics: metrics, logger: logger) { request in
            try await reconciler.reconcile(request)
        }.watches(Api<DRDrill>(client), store: drills, predicate: { new, old in new.status?.phase != old?.status?.phase }) { d in
            [ObjectRef(namespace: d.metadata.namespace, name: d.spec.policy)]
        }
        queueBox.queue = controller.queue
        let drill = DrillReconciler(client: client, events: events, probers: probers, policies: controller.store, sharded: shardSelector != nil, now: now)
        // Drills carry no shard label: each shard runs the drills of the policies in its own cache.
        let drillController = Controller(name: "drdrill", api: Api<DRDrill>(client), namespaces: namespaces, workers: 2, metrics: metrics,
                                         logger: logger) { request in
            try await drill.reconcile(request)
        }
        // Restores are looked at while one runs (every few seconds), not watched: DR works without the backup CRDs
        // installed, until a policy asks for a restore.
        return [DRController(controller: controller, probers: probers), drillController]
    }
}

/// The controller with its probers: they live only while the controller runs (a term of leadership), so a replica
/// that loses its lease, or stops, stops probing too; the next term starts with fresh probes.
struct DRController: ManagedController {
    let controller: Controller<DRPolicy>
    let probers: Probers
    var name: String { controller.name }
    var hasSynced: Bool { controller.hasSynced }

    func run() async {
        await probers.stopAll()
        await controller.run()
        await probers.stopAll()
    }

    func drain() async {
        await controller.drain()
        await probers.stopAll()
    }
}

/// Lets the probers reach the controller's queue, which exists only once the controller does.
final class QueueBox: @unchecked Sendable {
    private let lock = NSLock()
    private var q: WorkQueue<ObjectRef>?
    var queue: WorkQueue<ObjectRef>? {
        get { lock.withLock { q } }
        set { lock.withLock { q = newValue } }
    }
}

enum DRMetrics {
    static func declare(_ r: MetricsRegistry?) {
        guard let r else { return }
        r.declare("salespot_dr_site_healthy", "gauge", help: "1 if the site passes its health checks, 0 if not", labels: ["namespace", "policy", "site"])
        r.declare("salespot_dr_site_consecutive_failures", "gauge", help: "Consecutive failed probes of the site", labels: ["namespace", "policy", "site"])
        r.declare("salespot_dr_probe_latency_seconds", "gauge", help: "Duration of the site's last probe", labels: ["namespace", "policy", "site"])
        r.declare("salespot_dr_active_site", "gauge", help: "1 for the site the record points at", labels: ["namespace", "policy", "site"])
        r.declare("salespot_dr_failovers_total", "counter", help: "Switches of the record from one site to the other", labels: ["namespace", "policy"])
        r.declare("salespot_dr_achieved_rpo_seconds", "gauge", help: "Time since the last successful backup of the policy's BackupPolicy", labels: ["namespace", "policy"])
        r.declare("salespot_dr_failover_ready", "gauge", help: "1 if a failover could be made now (secondary healthy, backups fresh, DNS provider accepts the key)", labels: ["namespace", "policy"])
        r.declare("salespot_dr_dns_provider_errors_total", "counter", help: "Failed DNS provider reads, checks and changes", labels: ["namespace", "policy"])
        r.declare("salespot_dr_switch_seconds", "gauge", help: "The last switch: decision to record changed and read back", labels: ["namespace", "policy"])
        r.declare("salespot_dr_detection_seconds", "gauge", help: "The last switch: first failed probe to decision", labels: ["namespace", "policy"])
        r.declare("salespot_dr_recovery_seconds", "gauge", help: "The last failover: first failed probe to record switched (detection + restore + switch), against the RTO", labels: ["namespace", "policy"])
        r.declare("salespot_dr_rto_objective_seconds", "gauge", help: "The policy's recovery time objective", labels: ["namespace", "policy"])
    }
}

struct DRReconciler: Sendable {
    let client: KubeClient
    let events: EventRecorder?
    let registry: MetricsRegistry?
    let probers: Probers
    let drills: Store<DRDrill>
    let now: @Sendable () -> Date

    static let metricNames = ["salespot_dr_site_healthy", "salespot_dr_site_consecutive_failures", "salespot_dr_probe_latency_seconds",
                              "salespot_dr_active_site", "salespot_dr_failovers_total", "salespot_dr_achieved_rpo_seconds",
                              "salespot_dr_failover_ready", "salespot_dr_dns_provider_errors_total", "salespot_dr_switch_seconds",
                              "salespot_dr_detection_seconds", "salespot_dr_recovery_seconds", "salespot_dr_rto_objective_seconds"]

    func event(_ p: DRPolicy, _ type: String, _ reason: String, _ note: String) {
        events?.emit(regarding: ObjectReference(apiVersion: DRPolicy.resource.apiVersion, kind: DRPolicy.resource.kind, name: p.metadata.name,
                                                namespace: p.metadata.namespace, uid: p.metadata.uid),
                     type: type, reason: reason, action: reason, note: note)  // the recorder cuts it to 1 KiB
    }

    /// A policy whose site is failing or whose switch is pending has its provider requests made at once, not paced
    /// behind the routine ones of other policies (Route53's per-account limit).
    func reconcile(_ request: ReconcileRequest<DRPolicy>) async throws -> Action {
        let health = await probers.health(request.ref)
        let urgent = request.object?.status?.pendingSwitch != nil
            || health.values.contains { $0.healthy == false || $0.consecutiveFailures > 0 }
            || request.object?.spec.activeSite.map { $0 != request.object?.status?.activeSite } == true
        return try await RequestPacer.$urgent.withValue(urgent) { try await reconcileNow(request) }
    }

    func reconcileNow(_ request: ReconcileRequest<DRPolicy>) async throws -> Action {
        guard var policy = request.object, policy.metadata.deletionTimestamp == nil else {
            await probers.stop(request.ref)
            // A policy that is gone leaves no series behind.
            if request.object == nil {
                registry?.removeSeries(Self.metricNames + DrillReconciler.metricNames, labelPrefix: [request.ref.namespace ?? "", request.ref.name])
            }
            return .awaitChange
        }
        let ns = policy.metadata.namespace ?? "default"
        if policy.status?.pendingSwitch != nil {
            // The cache may not have our own last write yet (the switch completed a moment ago): a switch is
            // completed from the object as the API server has it, never twice.
            guard let fresh = try await Api<DRPolicy>(client, namespace: ns).getIfExists(policy.metadata.name ?? "") else { return .awaitChange }
            policy = fresh
        }
        let name = policy.metadata.name ?? ""
        let generation = policy.metadata.generation
        var status = policy.status ?? DRPolicy.Status()
        status.observedGeneration = Int(generation ?? 0)
        var conditions = status.conditions ?? []
        let t = now()

        if let problem = DRValidation.problem(policy.spec) {
            await probers.stop(request.ref)
            let was = conditions.first { $0.type == "Ready" }
            Conditions.set(&conditions, type: "Ready", status: false, reason: "InvalidSpec", message: problem, observedGeneration: generation)
            Conditions.set(&conditions, type: "FailoverReady", status: false, reason: "InvalidSpec", message: problem, observedGeneration: generation)
            if was?.reason != "InvalidSpec" || was?.message != problem { event(policy, "Warning", "InvalidSpec", problem) }
            status.conditions = conditions
            try await write(policy, status)
            return .awaitChange
        }
        if policy.spec.suspend == true {
            await probers.stop(request.ref)
            Conditions.set(&conditions, type: "Ready", status: true, reason: "Suspended", message: "probes and switches are suspended", observedGeneration: generation)
            status.conditions = conditions
            try await write(policy, status)
            return .awaitChange
        }
        await probers.ensure(request.ref, policy.spec)
        let health = await probers.health(request.ref)
        let primary = health["primary"] ?? SiteHealth(), secondary = health["secondary"] ?? SiteHealth()
        status.sites = [siteStatus("primary", primary), siteStatus("secondary", secondary)]
        // The counters exist from the start at 0, so the first failover is an increase an alert sees.
        registry?.add("salespot_dr_failovers_total", [ns, name], 0)
        registry?.add("salespot_dr_dns_provider_errors_total", [ns, name], 0)
        for (site, h) in [("primary", primary), ("secondary", secondary)] {
            if let healthy = h.healthy { registry?.set("salespot_dr_site_healthy", [ns, name, site], healthy ? 1 : 0) }
            registry?.set("salespot_dr_site_consecutive_failures", [ns, name, site], Double(h.consecutiveFailures))
            if let l = h.last?.latency { registry?.set("salespot_dr_probe_latency_seconds", [ns, name, site], l.seconds) }
        }
        Conditions.set(&conditions, type: "PrimaryHealthy", status: primary.healthy,
                       reason: primary.healthy == nil ? "Probing" : primary.healthy! ? "Healthy" : "Unhealthy",
                       message: primary.last.map { $0.ok ? "last probe ok in \(Self.ms($0.latency)) ms" : "last probe failed: \($0.error ?? "")" } ?? "no probe yet",
                       observedGeneration: generation)

        // Achieved RPO from the backup resources' status.
        var rpoOK = true
        var rpoMessage = ""
        var facts: BackupFacts?
        if let ref = policy.spec.backupPolicyRef {
            let read = try? await BackupFacts.read(client, namespace: ns, policy: ref)
            facts = read
            let objective = policy.spec.objectives?.rpoSeconds ?? 300
            if let time = read?.pointInTime {
                let rpo = Int(t.timeIntervalSince1970 - time.timeIntervalSince1970)
                status.achievedRPOSeconds = rpo
                status.lastBackupTime = Time(secondsSince1970: time.timeIntervalSince1970).rfc3339
                registry?.set("salespot_dr_achieved_rpo_seconds", [ns, name], Double(rpo))
                rpoOK = rpo <= objective
                if !rpoOK { rpoMessage = "the last backup is \(rpo) s old, over the RPO of \(objective) s" }
            } else {
                rpoOK = false
                rpoMessage = read == nil ? "BackupPolicy \(ref) cannot be read" : read?.policy == nil ? "BackupPolicy \(ref) not found" : "BackupPolicy \(ref) has no successful backup"
            }
        }

        // The record as the provider has it now.
        let provider: any RecordProvider
        let current: DNSRecordSet?
        do {
            provider = try await Providers.make(policy.spec, namespace: ns, client: client)
            current = try await provider.read()
        } catch {
            // Keep everything (the active site, probe state, a pending switch) and try again with backoff; never
            // guess what the record says.
            registry?.add("salespot_dr_dns_provider_errors_total", [ns, name])
            // A key or credentials the provider refuses, or missing ones, are not fixed by waiting; the rest may be.
            let refused = (error as? DNSUpdateError).map { [.badSignature, .badKey, .badTime, .refused, .invalidKey, .unsigned].contains($0.kind) } ?? false
            let reason = refused ? "DNSProviderRefused" : "DNSProviderUnavailable"
            let message = refused ? "the DNS provider refuses us: \(error)" : "the DNS provider cannot be read: \(error)"
            let was = conditions.first { $0.type == "FailoverReady" }
            Conditions.set(&conditions, type: "FailoverReady", status: false, reason: reason, message: message, observedGeneration: generation)
            Conditions.set(&conditions, type: "Ready", status: false, reason: reason, message: message, observedGeneration: generation)
            if was?.reason != reason { event(policy, "Warning", reason, message) }
            status.conditions = conditions
            try await write(policy, status)
            throw DRError(message)
        }
        let active = Self.site(of: current, policy.spec)
        var known = current  // the record as last read (or as just written and read back)
        status.activeSite = active
        for site in ["primary", "secondary"] { registry?.set("salespot_dr_active_site", [ns, name, site], active == site ? 1 : 0) }

        // A switch decided before (and perhaps interrupted by a restart) is completed first, exactly once.
        var target: (site: String, reason: String)?
        let lastSwitch = status.lastSwitch.flatMap { $0.automatic == false ? nil : Time(rfc3339: $0.switchedTime ?? $0.decidedTime)?.date }
        if let pending = status.pendingSwitch {
            // Completed if the record already points there (the change was made before a restart); else made only
            // if the decision still wants it (the sites' health or a pin may have changed meanwhile).
            if active != pending.to && (primary.healthy == nil || secondary.healthy == nil) {
                return .requeue(after: .seconds(1))  // fresh probers (a restart): their first verdicts decide
            }
            let decision = Decision.decide(policy.spec, active: active, primary: primary, secondary: secondary, lastSwitch: lastSwitch, now: t)
            if active == pending.to || decision == .serve(site: pending.to, reason: Self.reason(decision)) {
                target = (pending.to, pending.reason)
            } else {
                status.pendingSwitch = nil
                if let r = pending.restore, let restore = try await Api<Restore>(client, namespace: ns).getIfExists(r), !FailoverRestore.finished(restore) {
                    // Its restore is stopped: the secondary's database is not dropped and refilled for nothing.
                    try await FailoverRestore.stop(restore, Api<Restore>(client, namespace: ns))
                }
                event(policy, "Warning", "SwitchCancelled", "the switch to the \(pending.to) site decided at \(pending.decidedTime) is no longer wanted; deciding again")
                status.conditions = conditions
                policy = try await write(policy, status)
                return .requeue(after: .seconds(1))
            }
        } else if active == nil, status.lastSwitch != nil, policy.spec.activeSite == nil {
            // The record was set once and now points at neither site: someone changed it outside the operator.
            // Left as it is (detected, not reverted); set activeSite to take it back.
            let message = "\(policy.spec.dns.name) reads \(current?.values ?? []), neither site's value: changed outside the operator; left as it is (set activeSite to take it back)"
            let was = conditions.first { $0.type == "Ready" }
            Conditions.set(&conditions, type: "Ready", status: false, reason: "RecordChangedExternally", message: message, observedGeneration: generation)
            if was?.reason != "RecordChangedExternally" { event(policy, "Warning", "RecordChangedExternally", message) }
        } else {
            switch Decision.decide(policy.spec, active: active, primary: primary, secondary: secondary, lastSwitch: lastSwitch, now: t) {
            case .serve(let site, let reason) where site != active:
                target = (site, reason)
                let first = (active == "secondary" ? secondary : primary).firstFailure
                status.pendingSwitch = DRPolicy.Switch(from: active ?? "none", to: site, reason: reason, firstFailureTime: first.map { Time(secondsSince1970: $0.timeIntervalSince1970).rfc3339Micro },
                                                       decidedTime: Time(secondsSince1970: t.timeIntervalSince1970).rfc3339Micro,
                                                       automatic: policy.spec.activeSite == nil && active != nil)
                status.conditions = conditions
                policy = try await write(policy, status)  // before the change: a restart finds it and completes it
            case .serve:
                break
            case .stay(let warning):
                let was = conditions.first { $0.type == "Ready" }
                if let warning {
                    Conditions.set(&conditions, type: "Ready", status: false, reason: "SwitchWithheld", message: warning, observedGeneration: generation)
                    if was?.message != warning { event(policy, "Warning", "SwitchWithheld", warning) }
                } else {
                    Conditions.set(&conditions, type: "Ready", status: true, reason: "Serving",
                                   message: "the record points at the \(active ?? "unknown") site", observedGeneration: generation)
                }
            }
        }
        if let target, active == "primary", target.site == "secondary", let wanted = policy.spec.restoreOnFailover, var pending = status.pendingSwitch {
            // The secondary's database gets the latest verified backup before the record moves to it.
            switch try await FailoverRestore.step(policy, &pending, wanted: wanted, facts: facts, client: client, now: now()) {
            case .done:
                status.pendingSwitch = pending
            case .proceedWithout(let message):
                status.pendingSwitch = pending
                event(policy, "Warning", "RestoreSkipped", message)
            case .wait(let message, let newlyStarted):
                status.pendingSwitch = pending
                Conditions.set(&conditions, type: "Ready", status: false, reason: "Restoring", message: message, observedGeneration: generation)
                status.conditions = conditions
                try await write(policy, status)
                if newlyStarted { event(policy, "Normal", "Restoring", message) }
                return .requeue(after: .seconds(2))
            case .withheld(let message):
                status.pendingSwitch = pending
                let was = conditions.first { $0.type == "Ready" }
                Conditions.set(&conditions, type: "Ready", status: false, reason: "RestoreFailed", message: message, observedGeneration: generation)
                if was?.reason != "RestoreFailed" || was?.message != message { event(policy, "Warning", "RestoreFailed", message) }
                status.conditions = conditions
                try await write(policy, status)
                return .requeue(after: .seconds(5))
            }
        }
        if let target {
            let site = policy.spec.site(target.site)
            let desired = DNSRecordSet(name: policy.spec.dns.name, type: policy.spec.dns.type, ttl: policy.spec.dns.ttl ?? 60, values: [site.value])
            do {
                if active != target.site {
                    try await provider.replace(desired, expected: current)
                }
                let readBack = try await provider.read()
                guard Self.site(of: readBack, policy.spec) == target.site else {
                    throw DRError("the record reads \(readBack?.values ?? []) after the change, not \(site.value)")
                }
            } catch let e as DNSUpdateError where e.kind == .conflict {
                // A retried change whose first try went through leaves the record where it should be: completed
                // below. Else someone else changed it since it was read: decide again from what it is now.
                let now = try? await provider.read()
                if Self.site(of: now, policy.spec) != target.site {
                    registry?.add("salespot_dr_dns_provider_errors_total", [ns, name])
                    status.pendingSwitch = nil
                    event(policy, "Warning", "RecordChanged", "\(e); deciding again")
                    status.conditions = conditions
                    policy = try await write(policy, status)
                    return .requeue(after: .seconds(1))
                }
            } catch {
                registry?.add("salespot_dr_dns_provider_errors_total", [ns, name])
                let message = "the switch to the \(target.site) site is not made yet: \(error)"
                Conditions.set(&conditions, type: "Ready", status: false, reason: "SwitchFailed", message: message, observedGeneration: generation)
                event(policy, "Warning", "SwitchFailed", message)
                status.conditions = conditions
                try await write(policy, status)
                throw DRError(message)
            }
            let done = now()
            var record = status.pendingSwitch ?? DRPolicy.Switch(from: active ?? "none", to: target.site, reason: target.reason,
                                                                 decidedTime: Time(secondsSince1970: t.timeIntervalSince1970).rfc3339Micro)
            record.switchedTime = Time(secondsSince1970: done.timeIntervalSince1970).rfc3339Micro
            if let decided = Time(rfc3339: record.decidedTime) {
                record.switchSeconds = (done.timeIntervalSince1970 - decided.secondsSince1970).rounded(places: 3)
                if let first = record.firstFailureTime.flatMap({ Time(rfc3339: $0) }) {
                    record.detectionSeconds = (decided.secondsSince1970 - first.secondsSince1970).rounded(places: 3)
                    record.recoverySeconds = (done.timeIntervalSince1970 - first.secondsSince1970).rounded(places: 3)
                }
            }
            status.pendingSwitch = nil
            status.lastSwitch = record
            status.activeSite = target.site
            known = desired
            if record.from != "none" {
                status.lastFailoverTime = record.switchedTime
                status.failovers = (status.failovers ?? 0) + 1
            }
            Conditions.set(&conditions, type: "Ready", status: true, reason: "Serving", message: "the record points at the \(target.site) site", observedGeneration: generation)
            status.conditions = conditions
            // Recorded first: the Event and the counters follow only a switch the API server has taken as done.
            policy = try await write(policy, status)
            if record.from != "none" { registry?.add("salespot_dr_failovers_total", [ns, name]) }
            if record.restore != nil { await FailoverRestore.prune(policy, client: client) }
            if let s = record.switchSeconds { registry?.set("salespot_dr_switch_seconds", [ns, name], s) }
            if let d = record.detectionSeconds { registry?.set("salespot_dr_detection_seconds", [ns, name], d) }
            if let r = record.recoverySeconds { registry?.set("salespot_dr_recovery_seconds", [ns, name], r) }
            let rto = Double(policy.spec.objectives?.rtoSeconds ?? 900)
            if let r = record.recoverySeconds, r > rto {
                event(policy, "Warning", "RTOMissed", "the failover to the \(target.site) site took \(r) s from the first failed probe, over the RTO of \(Int(rto)) s")
            }
            for s in ["primary", "secondary"] { registry?.set("salespot_dr_active_site", [ns, name, s], target.site == s ? 1 : 0) }
            let times = [record.detectionSeconds.map { "detected in \($0) s" }, record.switchSeconds.map { "switched in \($0) s" }].compactMap { $0 }.joined(separator: ", ")
            event(policy, "Normal", record.from == "none" ? "RecordSet" : "SwitchedSite",
                  "\(policy.spec.dns.name) now points at the \(target.site) site (\(site.value)): \(target.reason)\(times.isEmpty ? "" : "; " + times)")
        }

        // FailoverReady (the original design's DRFailoverReadiness): the secondary is up, the backups are fresh
        // enough for the RPO, and the provider takes the key (a dry run, at most once a minute).
        var providerOK = true
        var providerMessage = ""
        let lastCheck = status.lastProviderCheckTime.flatMap { Time(rfc3339: $0)?.date }
        let previous = conditions.first { $0.type == "FailoverReady" }
        if lastCheck.map({ t.timeIntervalSince($0) >= provider.checkSeconds }) ?? true || previous?.reason == "DNSProviderRefused" || previous?.reason == "DNSProviderUnavailable" {
            do {
                try await provider.check(expected: known)
                status.lastProviderCheckTime = Time(secondsSince1970: t.timeIntervalSince1970).rfc3339
            } catch {
                registry?.add("salespot_dr_dns_provider_errors_total", [ns, name])
                providerOK = false
                providerMessage = "\(provider.description) refuses a dry run: \(error)"
            }
        } else if previous?.reason == "DNSProviderRefused" {
            providerOK = false
            providerMessage = previous?.message ?? ""
        }
        let (ready, reason, message): (Bool, String, String) = {
            if !providerOK { return (false, "DNSProviderRefused", providerMessage) }
            // Not known yet (a new policy, a restarted operator: fewer probes than a threshold): not ready, but nothing
            // to warn about.
            guard let healthy = secondary.healthy else {
                return (false, "SecondaryUnknown", "the secondary's health is not known yet" + (secondary.last.map { " (last probe: \($0.error ?? "ok"))" } ?? ": not probed yet"))
            }
            if !healthy { return (false, "SecondaryUnhealthy", "the secondary's last probe: \(secondary.last?.error ?? "ok")") }
            if !rpoOK { return (false, "BackupsStale", rpoMessage) }
            return (true, "Ready", "secondary healthy, DNS provider accepts the key\(status.achievedRPOSeconds.map { ", last backup \($0) s ago" } ?? "")")
        }()
        if Conditions.set(&conditions, type: "FailoverReady", status: ready, reason: reason, message: message, observedGeneration: generation), !ready,
           previous?.reason != reason, reason != "SecondaryUnknown" {
            event(policy, "Warning", reason, message)
        }
        registry?.set("salespot_dr_failover_ready", [ns, name], ready ? 1 : 0)
        registry?.set("salespot_dr_rto_objective_seconds", [ns, name], Double(policy.spec.objectives?.rtoSeconds ?? 900))
        // This policy's finished drills, the newest first: its status and its drill metrics come from them.
        let finished = drills.list(namespace: ns).filter { $0.spec.policy == name && ($0.status?.phase == "Passed" || $0.status?.phase == "Failed") }
            .sorted(by: DrillReconciler.newerFirst)
        Self.summarize(finished: finished, into: &status)
        DrillReconciler.publish(registry, namespace: ns, policy: name, finished: finished, lastPassing: status.lastPassingDrillTime)
        status.conditions = conditions
        try await write(policy, status)
        // Looked at again when a probe changes something (the probers enqueue it), when a hold-down ends, and
        // every 30 s (Route53: 60 s) for the RPO and the provider check.
        var wait = provider.refreshSeconds
        let holdDown = Double(max(0, policy.spec.failbackHoldDownSeconds ?? 300))
        let switched = status.lastSwitch.flatMap { Time(rfc3339: $0.switchedTime ?? $0.decidedTime)?.date }
        for end in [switched?.addingTimeInterval(holdDown), status.activeSite == "secondary" ? primary.since?.addingTimeInterval(holdDown) : nil].compactMap({ $0 }) {
            let left = end.timeIntervalSince(t)
            if left > 0 { wait = min(wait, left + 0.2) }
        }
        return .requeue(after: .milliseconds(Int64(wait * 1000)))
    }

    /// The newest finished drill, and the latest time one passed (kept when the drill itself is pruned).
    static func summarize(finished: [DRDrill], into status: inout DRPolicy.Status) {
        if let last = finished.first {
            status.lastDrill = DRPolicy.DrillSummary(name: last.metadata.name ?? "", mode: last.spec.mode.rawValue, result: last.status?.phase ?? "",
                                                     completionTime: last.status?.completionTime, measuredRTOSeconds: last.status?.rto?.totalSeconds)
        }
        if let passed = finished.first(where: { $0.status?.phase == "Passed" })?.status?.completionTime,
           let t = Time(rfc3339: passed), status.lastPassingDrillTime.flatMap({ Time(rfc3339: $0) }).map({ $0.secondsSince1970 < t.secondsSince1970 }) ?? true {
            status.lastPassingDrillTime = passed
        }
    }

    static func reason(_ d: Decision) -> String {
        if case .serve(_, let r) = d { return r }
        return ""
    }

    static func site(of record: DNSRecordSet?, _ spec: DRPolicy.Spec) -> String? {
        guard let values = record?.values, values.count == 1 else { return nil }
        func same(_ a: String, _ b: String) -> Bool {
            switch spec.dns.type.uppercased() {
            case "CNAME": return DNSName.canonical(a) == DNSName.canonical(b)
            // Addresses as bytes: 2001:db8:0::10 is 2001:db8::10.
            default: return DRValidation.address(a, spec.dns.type) ?? Array(a.utf8) == DRValidation.address(b, spec.dns.type) ?? Array(b.utf8)
            }
        }
        if same(values[0], spec.primary.value) { return "primary" }
        if same(values[0], spec.secondary.value) { return "secondary" }
        return nil
    }

    func siteStatus(_ name: String, _ h: SiteHealth) -> DRPolicy.SiteStatus {
        DRPolicy.SiteStatus(name: name, healthy: h.healthy, consecutiveFailures: h.consecutiveFailures, consecutiveSuccesses: h.consecutiveSuccesses,
                            lastProbeTime: h.last.map { Time(secondsSince1970: $0.time.timeIntervalSince1970.rounded(.down)).rfc3339 },
                            lastLatencyMilliseconds: h.last.map { Self.ms($0.latency) }, lastError: h.last?.error,
                            since: h.since.map { Time(secondsSince1970: $0.timeIntervalSince1970.rounded(.down)).rfc3339 })
    }

    static func ms(_ d: Duration) -> Double {
        (d.seconds * 1000).rounded(places: 1)
    }

    /// Writes the status; returns the object as written (its new resourceVersion, for the next write of the same
    /// reconcile).
    @discardableResult
    func write(_ policy: DRPolicy, _ status: DRPolicy.Status) async throws -> DRPolicy {
        guard status != policy.status else { return policy }
        var updated = policy
        updated.status = status
        return try await Api<DRPolicy>(client, namespace: policy.metadata.namespace ?? "default").updateStatus(updated, fieldManager: DRControllers.fieldManager)
    }
}

struct DRError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

extension Double {
    func rounded(places: Int) -> Double {
        var m = 1.0
        for _ in 0..<places { m *= 10 }
        return (self * m).rounded() / m
    }
}

extension Time {
    var date: Date { Date(timeIntervalSince1970: secondsSince1970) }
}

/// What the schema cannot say (or a server without CEL would let through).
enum DRValidation {
    static func problem(_ s: DRPolicy.Spec) -> String? {
        let type = s.dns.type.uppercased()
        guard ["A", "AAAA", "CNAME"].contains(type) else { return "spec.dns.type must be A, AAAA or CNAME" }
        for (name, site) in [("primary", s.primary), ("secondary", s.secondary)] {
            switch type {
            case "A": if address(site.value, "A") == nil { return "spec.\(name).value \(site.value) is not an IPv4 address (type A)" }
            case "AAAA": if address(site.value, "AAAA") == nil { return "spec.\(name).value \(site.value) is not an IPv6 address (type AAAA)" }
            default: if site.value.isEmpty || site.value.contains(" ") { return "spec.\(name).value \(site.value) is not a host name" }
            }
            let h = site.healthCheck
            if (h.http == nil) == (h.tcp == nil) { return "spec.\(name).healthCheck needs exactly one of http or tcp" }
            if let u = h.http?.url, !(u.hasPrefix("http://") || u.hasPrefix("https://")) { return "spec.\(name).healthCheck.http.url must be http:// or https://" }
        }
        if s.primary.value == s.secondary.value { return "the primary and secondary values are the same: a switch would change nothing" }
        if (s.dns.rfc2136 == nil) == (s.dns.route53 == nil) { return "spec.dns needs exactly one of rfc2136 or route53" }
        let zone = DNSName.canonical(s.dns.zone), record = DNSName.canonical(s.dns.name)
        if !(record == zone || record.hasSuffix("." + zone)) { return "spec.dns.name \(s.dns.name) is not in the zone \(s.dns.zone)" }
        if let f = s.failover, !["automatic", "manual"].contains(f) { return "spec.failover must be automatic or manual" }
        if let f = s.failback, !["automatic", "manual"].contains(f) { return "spec.failback must be automatic or manual" }
        if let a = s.activeSite, !["primary", "secondary"].contains(a) { return "spec.activeSite must be primary or secondary" }
        if let test = s.drills?.testRecord {
            let t = DNSName.canonical(test)
            if t == record { return "spec.drills.testRecord must not be the policy's own record \(s.dns.name)" }
            if !(t == zone || t.hasSuffix("." + zone)) { return "spec.drills.testRecord \(test) is not in the zone \(s.dns.zone)" }
        }
        if s.restoreOnFailover != nil && s.backupPolicyRef == nil { return "spec.restoreOnFailover needs spec.backupPolicyRef (the backups it restores)" }
        if let a = s.dns.rfc2136?.algorithm, TSIGKey.algorithm(named: a) == nil { return "spec.dns.rfc2136.algorithm must be hmac-sha256 or hmac-sha512" }
        return nil
    }

    /// The address's bytes (inet_pton: dotted quad without leading zeros, or IPv6), nil if it is not one.
    static func address(_ s: String, _ type: String) -> [UInt8]? {
        if type.uppercased() == "A" {
            var a = in_addr()
            return inet_pton(AF_INET, s, &a) == 1 ? withUnsafeBytes(of: &a) { Array($0) } : nil
        }
        var a = in6_addr()
        return inet_pton(AF_INET6, s, &a) == 1 ? withUnsafeBytes(of: &a) { Array($0) } : nil
    }
}
