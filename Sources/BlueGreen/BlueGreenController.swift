#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import KubeCore
import KubeRuntime
import Logging
import Notifications
import Synchronization

/// Reconciles BlueGreenDeployments, in the original design's order: check prerequisites; find the active colour;
/// bring the target colour up with the new template; wait until every replica is ready; point the preview Service at
/// it; promote (automatically or when asked) by switching the active Service's selector; keep the old colour for
/// `scaleDownDelaySeconds` (going back inside it is an instant switch); then scale it to zero.
///
/// Guarantees: the active Service is only ever switched to a colour whose Deployment has observed its spec and has
/// every replica ready; a missing Service or an invalid template stops the rollout with a Stalled condition and a
/// Warning Event, and the Service is left as it was. Everything is derived from the cluster (Deployments, Service
/// selector, status), so a restarted operator carries on where the last one stopped.
public enum BlueGreenController {
    /// The label that tells the colours apart, on Deployments, pods and Service selectors.
    public static let colorLabel = "salespot.by/color"
    /// The label carrying a hash of the pod template a Deployment runs.
    public static let templateHashLabel = "salespot.by/template-hash"
    public static let fieldManager = "salespot-bluegreen"
    /// The annotation recording which template a manual promotion approved (set when `spec.promote` is consumed),
    /// so an approval opens the gate for that preview only: never for a later template, even if a write after it
    /// is lost.
    public static let promotedTemplateAnnotation = "salespot.by/promoted-template"
    /// Set with `spec.promote` by `salespot-operator bluegreen promote`: the template hash of the preview the user
    /// saw. A promote pinned this way is honoured only for that template; if the template changed in between, the
    /// promote is cleared with a Warning Event instead of approving a template nobody looked at.
    public static let promoteTemplateAnnotation = "salespot.by/promote-template"

    /// What an approval records: the colour and the template it let through (`green/1x2y3z`), so that neither a new
    /// template nor the same template on the other colour passes the gate on an old approval.
    public static func approval(_ color: Color, _ hash: String) -> String { "\(color.rawValue)/\(hash)" }
    /// The store index of resources by the Services (`namespace/name`) they switch.
    static let serviceIndex = "services"

    /// Builds the controller.
    /// - Parameter serviceAddresses: where to connect for a Service host (`NAME.NS.svc:PORT` → `HOST:PORT`), for
    ///   dev mode and tests where cluster DNS does not exist; in a cluster, leave it empty.
    public static func make(client: KubeClient, namespaces: [String]? = nil, shardSelector: String? = nil, workers: Int = 2,
                            metrics: ControllerMetrics? = nil, events: EventRecorder? = nil,
                            serviceAddresses: [String: String] = [:],
                            now: @escaping @Sendable () -> Time = { .now() },
                            logger: Logger = Logger(label: "salespot.bluegreen")) -> Controller<BlueGreenDeployment> {
        let deployments = Store<Deployment>()
        // Every Service in the watched namespaces is cached (a resource may name any of them); compactly, since a
        // reconcile reads one or two.
        let services = Store<Service>(representation: .compact)
        // The pods of the colours (for activeMetadata/previewMetadata), by their metadata only.
        let pods = Store<Pod>(transform: { pod in
            var meta = pod.metadata
            meta.managedFields = nil
            return Pod(metadata: meta)
        })
        pods.addIndex(Self.podIndex) { pod in
            Self.deploymentOf(pod).map { ["\(pod.metadata.namespace ?? "default")/\($0)"] } ?? []
        }
        metrics?.registry.declare("salespot_bluegreen_switches_total", "counter", help: "Traffic switches between colours", labels: ["namespace"])
        metrics?.registry.declare("salespot_bluegreen_rollout_duration_seconds", "histogram",
                                  help: "Time from a new template to traffic switched to it", labels: ["namespace"])
        metrics?.registry.declare("salespot_bluegreen_active_color", "gauge",
                                  help: "BlueGreenDeployments whose active Service selects each colour", labels: ["namespace", "color"])
        metrics?.registry.declare("salespot_bluegreen_analysis_total", "counter", help: "Finished analyses by stage and result",
                                  labels: ["namespace", "stage", "result"])
        metrics?.registry.declare("salespot_bluegreen_rollbacks_total", "counter",
                                  help: "Switches back to the old colour after a failed post-promotion analysis", labels: ["namespace"])
        let written = WrittenVersions()
        let writtenServices = WrittenVersions()
        let activeColors = ActiveColors()
        let reconciler = Reconciler(client: client, deployments: deployments, services: services, pods: pods, events: events, now: now,
                                    checker: HealthChecker(serviceAddresses: serviceAddresses), metrics: metrics?.registry,
                                    activeColors: activeColors, written: written, writtenServices: writtenServices)
        let controller = Controller(name: "bluegreen", api: Api<BlueGreenDeployment>(client), namespaces: namespaces,
                          labelSelector: shardSelector, workers: workers, metrics: metrics, logger: logger) { request in
            guard let cached = request.object else {
                written.forget(request.ref)
                activeColors.remove(request.ref, registry: metrics?.registry)
                return .awaitChange
            }
            // Decide on the latest state: a status this controller wrote a moment ago (health-check counts, the
            // rollback window) may not have reached the cache yet, and acting on it could promote a failed template
            // or scale down too early. So until the cache shows our last write, read the object afresh. (The status
            // write is also guarded by resourceVersion.)
            var bgd = cached
            if !written.cacheIsCurrent(request.ref, cached.metadata.resourceVersion) {
                guard let fresh = try await Api<BlueGreenDeployment>(client, namespace: cached.metadata.namespace)
                    .getIfExists(cached.metadata.name ?? "") else { return .awaitChange }
                bgd = fresh
            }
            return try await reconciler.reconcile(bgd)
        }
        let resources = controller.store
        resources.addIndex(Self.serviceIndex) { bgd in
            [bgd.spec.activeService, bgd.spec.previewService].compactMap { $0 }.map { "\(bgd.metadata.namespace ?? "default")/\($0)" }
        }
        return controller
            // A new term starts without the last term's records: the echoes of its last writes may never come.
            .onNewTerm {
                written.reset()
                writtenServices.reset()
            }
            // The echo of this controller's own write (same resourceVersion) needs no reconcile: the reconcile that
            // wrote it has already decided what comes next. From here on the cache includes that write.
            .filter { new, _ in !written.echoed(ObjectRef(new.metadata), new.metadata.resourceVersion) }
            // Only Deployments carrying the colour label are watched and cached, not every Deployment in the cluster.
            .owns(Api<Deployment>(client), labelSelector: colorLabel, store: deployments)
            // A Service created, edited or deleted reconciles the resources that name it (a missing Service that
            // appears unblocks them at once; a selector changed by hand is put back).
            .watches(Api<Service>(client), store: services,
                     predicate: { service, _ in !writtenServices.echoed(ObjectRef(service.metadata), service.metadata.resourceVersion) }) { service in
                resources.refs(index: Self.serviceIndex, value: "\(service.metadata.namespace ?? "default")/\(service.metadata.name ?? "")")
            }
            // Pods of the colours: one that appears (a scale, a restart) or whose metadata changed gets its role's
            // metadata. Only resources that use role metadata, or pods that carry some, are reconciled for it.
            .watches(Api<Pod>(client), labelSelector: colorLabel, store: pods,
                     predicate: { new, old in
                         old == nil || new.metadata.labels != old?.metadata.labels || new.metadata.annotations != old?.metadata.annotations
                     }) { pod in
                guard let deployment = Self.deploymentOf(pod), let color = pod.metadata.labels?[colorLabel],
                      deployment.hasSuffix("-" + color), deployment.count > color.count + 1 else { return [] }
                let ref = ObjectRef(namespace: pod.metadata.namespace, name: String(deployment.dropLast(color.count + 1)))
                let uses = pod.metadata.annotations?[podMetadataAnnotation] != nil
                    || resources.get(ref).map { $0.spec.activeMetadata != nil || $0.spec.previewMetadata != nil } == true
                return uses ? [ref] : []
            }
    }

    /// A label selector (`app=api,salespot.by/color=blue`) of one colour's pods.
    static func podSelector(_ bgd: BlueGreenDeployment, _ color: Color) -> String {
        var labels = bgd.spec.selector.matchLabels ?? [:]
        labels[colorLabel] = color.rawValue
        return labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// A stable hash of the pod template, so an unchanged template is recognised after a restart.
    public static func templateHash(_ template: JSONValue) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for b in template.serialized(sortedKeys: true) {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return String(h, radix: 36)
    }
}

/// The reconcile logic, separate from the controller wiring.
struct Reconciler: Sendable {
    let client: KubeClient
    let deployments: Store<Deployment>
    let services: Store<Service>
    let pods: Store<Pod>
    let events: EventRecorder?
    let now: @Sendable () -> Time
    let checker: HealthChecker
    let metrics: MetricsRegistry?
    let activeColors: ActiveColors
    let written: WrittenVersions
    /// This controller's last write to each Service, until the Service cache shows it.
    let writtenServices: WrittenVersions
    var analyzer = Analyzer(transport: CurlTransport())
    var notifier = Notifier()

    /// Sends a notification off the reconcile's path (a slow chat service never holds a rollout up); a failure to
    /// send is a Warning Event.
    func notify(_ bgd: BlueGreenDeployment, _ event: String, _ title: String, _ text: String, failure: Bool) {
        guard let targets = bgd.spec.notifications, targets.events.map({ $0.contains(event) }) ?? true else { return }
        let ns = bgd.metadata.namespace ?? "default", name = bgd.metadata.name ?? ""
        let client = self.client, notifier = self.notifier, events = self.events
        let image = bgd.spec.template[path: ["spec", "containers"]]?.arrayValue?.first?["image"]?.stringValue ?? ""
        Task {
            let note = Notification(title: title, text: text, outcome: failure ? .failure : .success,
                                    fields: [("BlueGreenDeployment", name), ("Namespace", ns), ("Image", image)],
                                    kind: "BlueGreenDeployment", namespace: ns, name: name, event: event)
            var problems: [String] = []
            do {
                for f in await notifier.send(note, to: try await targets.channels(namespace: ns, client: client)) { problems.append(f.description) }
            } catch {
                problems.append("\(error)")
            }
            for p in problems {
                events?.emit(regarding: ObjectReference(apiVersion: BlueGreenDeployment.resource.apiVersion, kind: "BlueGreenDeployment",
                                                        name: name, namespace: ns, uid: bgd.metadata.uid),
                             type: "Warning", reason: "NotificationFailed", action: "Notify", note: p)
            }
        }
    }

    struct Invalid: Error, CustomStringConvertible {
        let reason: String
        let description: String
    }

    func deploymentName(_ bgd: BlueGreenDeployment, _ color: Color) -> String { "\(bgd.metadata.name ?? "")-\(color.rawValue)" }

    func reconcile(_ bgd: BlueGreenDeployment) async throws -> Action {
        var bgd = bgd
        let ns = bgd.metadata.namespace ?? "default"
        let serviceAPI = Api<Service>(client, namespace: ns)
        let generation = bgd.metadata.generation
        var status = bgd.status ?? BlueGreenDeployment.Status()
        // The namespace's counters exist from the start at 0, so the first rollback is an increase an alert sees.
        metrics?.add("salespot_bluegreen_rollbacks_total", [ns], 0)
        metrics?.add("salespot_bluegreen_switches_total", [ns], 0)
        func event(_ reason: String, _ action: String, _ note: String, warning: Bool = false) {
            events?.emit(regarding: ObjectReference(apiVersion: BlueGreenDeployment.resource.apiVersion, kind: "BlueGreenDeployment",
                                                            name: bgd.metadata.name, namespace: ns, uid: bgd.metadata.uid),
                                 type: warning ? "Warning" : "Normal", reason: reason, action: action, note: note)
        }

        // 1. Prerequisites.
        guard let service = try await self.service(ns, bgd.spec.activeService) else {
            return try await stall(bgd, &status, reason: "ServiceNotFound",
                                   message: "active Service \"\(bgd.spec.activeService)\" does not exist", event: event)
        }
        if let ingress = bgd.spec.ingress, try await Api<Ingress>(client, namespace: ns).getIfExists(ingress.name) == nil {
            return try await stall(bgd, &status, reason: "IngressNotFound", message: "Ingress \"\(ingress.name)\" does not exist", event: event)
        }
        var previewService: Service?
        if let preview = bgd.spec.previewService {
            previewService = try await self.service(ns, preview)
            if previewService == nil {
                return try await stall(bgd, &status, reason: "ServiceNotFound", message: "preview Service \"\(preview)\" does not exist", event: event)
            }
        }
        let matchLabels = bgd.spec.selector.matchLabels ?? [:]
        let templateLabels = bgd.spec.template[path: ["metadata", "labels"]]?.objectValue?.dictionary.compactMapValues(\.stringValue) ?? [:]
        guard !matchLabels.isEmpty, matchLabels.allSatisfy({ templateLabels[$0.key] == $0.value }) else {
            return try await stall(bgd, &status, reason: "InvalidSelector",
                                   message: "spec.selector.matchLabels must be non-empty and carried by spec.template.metadata.labels", event: event)
        }
        guard (bgd.spec.template[path: ["spec", "containers"]]?.arrayValue ?? []).isEmpty == false else {
            return try await stall(bgd, &status, reason: "InvalidTemplate", message: "spec.template.spec.containers is empty", event: event)
        }
        let preChecks = bgd.spec.analysis?.prePromotion ?? [], postChecks = bgd.spec.analysis?.postPromotion ?? []
        // Role metadata for the pods; invalid, none is applied (and the rollout stalls below, after an abort).
        let metadataProblem = BlueGreenController.podMetadataProblem(bgd.spec)
        let activeMetadata = metadataProblem == nil ? bgd.spec.activeMetadata : nil
        let previewMetadata = metadataProblem == nil ? bgd.spec.previewMetadata : nil

        // 2. The active colour: what the Service selects, else what the status says.
        let active = service.spec?.selector?[BlueGreenController.colorLabel].flatMap(Color.init(rawValue:))
            ?? status.activeColor.flatMap(Color.init(rawValue:))
        let hash = BlueGreenController.templateHash(bgd.spec.template)
        let replicas = bgd.spec.replicas ?? 2
        // What this reconcile applied is newer than the cache (whose copy arrives with the watch).
        var applied: [Color: Deployment] = [:]
        func current(_ c: Color) -> Deployment? { applied[c] ?? deployments.get(ObjectRef(namespace: ns, name: deploymentName(bgd, c))) }
        func isReady(_ d: Deployment?) -> Bool { Reconciler.isRolledOut(d, replicas: replicas) }
        func recordColor(_ c: Color) {
            guard let d = current(c) else { return }
            status.colors = status.colors ?? [:]
            status.colors?[c.rawValue] = .init(image: d.spec?.template.spec?.containers.first?.image, replicas: d.spec?.replicas,
                                               readyReplicas: d.status?.readyReplicas ?? 0)
        }
        func ensure(_ c: Color, replicas count: Int32? = nil) async throws {
            do {
                if let d = try await ensureDeployment(bgd, c, hash: hash, replicas: count ?? replicas) {
                    applied[c] = d
                    recordColor(c)
                }
            } catch let error as KubeError where Reconciler.refusesTemplate(error) {
                // The API server will not take this template (an unknown or invalid field): retrying cannot help.
                throw Invalid(reason: "InvalidTemplate",
                              description: "the API server refused Deployment \(deploymentName(bgd, c)): \(error.status?.message ?? "\(error)")")
            }
        }
        for c in Color.allCases { recordColor(c) }
        // The revision history: the current template gets an entry (once), and its outcome as it changes.
        func revision(_ outcome: String) {
            var history = status.history ?? []
            if let i = history.lastIndex(where: { $0.templateHash == hash }) {
                if history[i].outcome != outcome { history[i].outcome = outcome; history[i].time = now() }
                if i != history.count - 1, outcome == "Progressing" || outcome == "Active" {
                    // Rolled out again (an undo): it moves to the end with a new number.
                    var again = history.remove(at: i)
                    again.revision = (history.map(\.revision).max() ?? 0) + 1
                    history.append(again)
                }
            } else {
                let image = bgd.spec.template[path: ["spec", "containers"]]?.arrayValue?.first?["image"]?.stringValue
                history.append(.init(revision: (history.map(\.revision).max() ?? 0) + 1, templateHash: hash, image: image, outcome: outcome,
                                     time: now(), template: bgd.spec.template))
            }
            if outcome == "Active" {
                for j in history.indices where history[j].templateHash != hash && history[j].outcome == "Active" {
                    history[j].outcome = "Superseded"
                    history[j].time = now()
                }
            }
            status.history = Array(history.suffix(max(1, bgd.spec.revisionHistoryLimit ?? 10)))
        }

        // 3. Abort: traffic back to the previous colour if it is still there; the new colour scaled down.
        if bgd.spec.abort == true {
            if let a = active, let previous = status.previewColor.flatMap(Color.init(rawValue:)),
               current(a)?.metadata.labels?[BlueGreenController.templateHashLabel] == hash, isReady(current(previous)) {
                // Best effort: an abort always switches back.
                await syncPodMetadataBestEffort(bgd, [(previous, activeMetadata)], fresh: true)
                try await switchService(serviceAPI, service, matchLabels, previous)
                // The Ingress too, before the aborted colour's pods go.
                if let ingress = bgd.spec.ingress { try await switchIngress(bgd, ingress.name, service, previous) }
                event("Aborted", "SwitchTraffic", "traffic returned to \(previous.rawValue)")
                await syncPodMetadataBestEffort(bgd, [(a, nil)], fresh: true)
                try await scale(bgd, a, to: 0)
                status.activeColor = previous.rawValue
            } else if let preview = status.previewColor.flatMap(Color.init(rawValue:)), preview != active {
                try await scale(bgd, preview, to: 0)
            }
            if bgd.spec.promote == true || bgd.metadata.annotations?[BlueGreenController.promotedTemplateAnnotation] != nil
                || bgd.metadata.annotations?[BlueGreenController.promoteTemplateAnnotation] != nil {
                // An abort withdraws a pending or given promotion: a resumed rollout waits for a new one.
                bgd = try await clearPromotion(bgd, approving: nil)
                event("PromotionWithdrawn", "Abort", "spec.promote cleared: the rollout was aborted")
            }
            if bgd.status?.phase != "Aborted" {
                notify(bgd, "Aborted", "\(bgd.metadata.name ?? "") rollout aborted", "traffic stays on (or went back to) \(status.activeColor ?? "the previous colour")", failure: true)
            }
            if let a = status.activeColor.flatMap(Color.init(rawValue:)) { await syncPodMetadataBestEffort(bgd, [(a, activeMetadata)]) }
            status.previewColor = nil
            status.rolloutStartTime = nil
            status.fullScale = nil  // a resumed rollout is promoted again, not on this approval
            status.phase = "Aborted"
            if status.history?.last(where: { $0.templateHash == hash })?.outcome == "Progressing" { revision("Aborted") }
            setConditions(&status, ready: active != nil, reconciling: false, stalled: ("Aborted", "rollout aborted; set spec.abort to false to resume"), generation: generation)
            event("Aborted", "Abort", "rollout aborted")
            try await writeStatus(bgd, status)
            return .awaitChange
        }

        // Checked after the abort (an abort always works): an analysis that cannot run stops the rest.
        if let problem = Analyzer.problem(preChecks) ?? Analyzer.problem(postChecks) {
            return try await stall(bgd, &status, reason: "InvalidSpec", message: "spec.analysis: \(problem)", event: event)
        }
        if let metadataProblem {
            return try await stall(bgd, &status, reason: "InvalidSpec", message: metadataProblem, event: event)
        }

        // 4. Nothing to roll out: the active colour runs the desired template.
        if let a = active, current(a)?.metadata.labels?[BlueGreenController.templateHashLabel] == hash,
           bgd.spec.activeColor == nil || bgd.spec.activeColor == a.rawValue {
            do { try await ensure(a) } catch let invalid as Invalid {
                return try await stall(bgd, &status, reason: invalid.reason, message: invalid.description, event: event)
            }
            if bgd.spec.promote == true {
                // Nothing waits for promotion: a promote left set now would open the gate of the next rollout.
                bgd = try await clearPromotion(bgd, approving: nil)
                event("PromotionIgnored", "Promote", "nothing awaits promotion (\(a.rawValue) already runs the template); spec.promote cleared", warning: true)
            }
            var requeue: Duration?
            var requeueAnalysis: Duration?
            // The colour kept for rollback, while it still runs: whatever the status says (a status write lost after
            // a switch must not leave the old colour running for good), the other colour's Deployment decides.
            let kept: Color? = (current(a.other)?.spec?.replicas ?? 0) > 0 ? a.other : nil
            // Everything that routes traffic must be on the active colour before the other one may go: a switch
            // whose Ingress half was lost (an error or a lost lease between the two writes) is finished here.
            // Post-promotion analysis of the new active colour, while the old one is kept: a failure (or one recorded
            // before a restart) switches traffic back at once; until it passes, the old colour is not scaled down.
            var analysing = false
            // The kept colour follows spec.replicas too (a scale during the window): a switch back finds it whole.
            if let old = kept, let d = current(old), let n = d.spec?.replicas, n > 0, n != replicas {
                try await scale(bgd, old, to: replicas)
            }
            if !postChecks.isEmpty, var analysis = status.analysis, analysis.stage == "PostPromotion", analysis.template == hash,
               analysis.color == a.rawValue, analysis.phase == "Running", kept == nil {
                // Nothing left to switch back to (the old colour was scaled down or deleted): the analysis stops here.
                analysis.phase = "Stopped"
                analysis.message = "stopped: the old colour is gone, so there is nothing to roll back to"
                status.analysis = analysis
            }
            if !postChecks.isEmpty, var analysis = status.analysis, analysis.stage == "PostPromotion", analysis.template == hash,
               analysis.color == a.rawValue, analysis.phase != "Successful", analysis.phase != "Stopped" {
                var verdict = Analyzer.Verdict.failed(analysis.message ?? "failed")
                if analysis.phase == "Running" {
                    verdict = await analyzer.step(postChecks, &analysis, context: .init(name: bgd.metadata.name ?? "", namespace: ns, color: a.rawValue,
                                                                                      template: hash, stage: "post-rollout"), now: now())
                    status.analysis = analysis
                }
                switch verdict {
                case .failed(let message):
                    guard let old = kept, isReady(current(old)) else {
                        if kept != nil {
                            // Still coming back to full scale: the verdict is written now (it is not measured again),
                            // and the switch back comes once the old colour is whole.
                            if status.failedTemplate != hash {
                                status.failedTemplate = hash
                                revision("RolledBack")
                                metrics?.add("salespot_bluegreen_analysis_total", [ns, "PostPromotion", "failed"])
                            }
                            try await writeStatus(bgd, status)
                            return .requeue(after: .seconds(1))
                        }
                        metrics?.add("salespot_bluegreen_analysis_total", [ns, "PostPromotion", "failed"])
                        return try await stall(bgd, &status, reason: "AnalysisFailed",
                                               message: "post-promotion analysis of \(a.rawValue) failed: \(message); the old colour is gone, so traffic stays", event: event)
                    }
                    // Recorded before anything moves: a restart after the switch back must not promote the template again.
                    if bgd.status?.failedTemplate != hash {
                        status.failedTemplate = hash
                        revision("RolledBack")
                        if bgd.status?.failedTemplate != hash && status.failedTemplate == hash {
                            metrics?.add("salespot_bluegreen_analysis_total", [ns, "PostPromotion", "failed"])
                        }
                        bgd = try await writeStatus(bgd, status)
                    }
                    // Best effort: the switch back never waits on a pod patch.
                    await syncPodMetadataBestEffort(bgd, [(old, activeMetadata)], fresh: true)
                    try await switchService(serviceAPI, service, matchLabels, old)
                    if let ingress = bgd.spec.ingress { try await switchIngress(bgd, ingress.name, service, old) }
                    metrics?.add("salespot_bluegreen_rollbacks_total", [ns])
                    notify(bgd, "RolledBack", "\(bgd.metadata.name ?? "") rolled back",
                           "post-promotion analysis of \(a.rawValue) failed: \(message); traffic switched back to \(old.rawValue)", failure: true)
                    event("RolledBack", "SwitchTraffic", "post-promotion analysis of \(a.rawValue) failed: \(message); traffic switched back to \(old.rawValue)", warning: true)
                    // The failed colour is scaled down after abortScaleDownDelaySeconds (step 5), once the switch
                    // back has reached every proxy.
                    activeColors.set(ObjectRef(bgd.metadata), old, registry: metrics)
                    status.activeColor = old.rawValue
                    status.previewColor = nil
                    status.scaleDownAt = nil
                    status.lastSwitchTime = now()
                    _ = try await stall(bgd, &status, reason: "AnalysisFailed",
                                        message: "post-promotion analysis of \(a.rawValue) failed: \(message); traffic is back on \(old.rawValue), the template is not rolled out again until it changes",
                                        event: event)
                    // Looked at again when the failed colour is due to go.
                    return .requeue(after: .seconds(Double(max(0, bgd.spec.abortScaleDownDelaySeconds ?? 30)) + 0.1))
                case .running(let next):
                    analysing = true
                    requeueAnalysis = .seconds(next)
                case .successful:
                    metrics?.add("salespot_bluegreen_analysis_total", [ns, "PostPromotion", "successful"])
                    event("AnalysisPassed", "Analysis", "post-promotion analysis of \(a.rawValue) passed")
                }
            }
            await syncPodMetadataBestEffort(bgd, [(a, activeMetadata)])
            try await switchService(serviceAPI, service, matchLabels, a)
            if kept != nil, let ingress = bgd.spec.ingress { try await switchIngress(bgd, ingress.name, service, a) }
            // The colour kept for rollback has no role: it loses the active metadata once nothing routes to it.
            await syncPodMetadataBestEffort(bgd, [(a.other, nil)])
            if analysing, let old = kept, (current(old)?.spec?.replicas ?? 0) > 0 {
                // The rollback window lasts until the analysis ends.
                status.previewColor = old.rawValue
                requeue = requeueAnalysis
            } else if let old = kept, let d = current(old), (d.spec?.replicas ?? 0) > 0 {
                status.previewColor = old.rawValue
                // No recorded deadline (a status lost to a conflict): start the window now rather than cut it short.
                guard let due = status.scaleDownAt else {
                    status.scaleDownAt = now().adding(seconds: Double(bgd.spec.scaleDownDelaySeconds ?? 30))
                    try await writeStatus(bgd, status)
                    return .requeue(after: .seconds(Double(bgd.spec.scaleDownDelaySeconds ?? 30)))
                }
                if due <= now() {
                    try await scale(bgd, old, to: 0)
                    event("ScaledDown", "ScaleDown", "scaled \(old.rawValue) down after the rollback window")
                    status.previewColor = nil
                    status.scaleDownAt = nil
                } else {
                    requeue = .seconds(max(0.1, due.secondsSince1970 - now().secondsSince1970))
                }
            } else {
                // Nothing kept for rollback any more.
                status.previewColor = nil
                status.scaleDownAt = nil
            }
            status.activeColor = a.rawValue
            activeColors.set(ObjectRef(bgd.metadata), a, registry: metrics)
            if status.history?.contains(where: { $0.templateHash == hash && $0.outcome == "Active" }) != true { revision("Active") }
            let ready = isReady(current(a))
            status.phase = ready ? (requeue == nil ? "Healthy" : "Promoted") : "Degraded"
            setConditions(&status, ready: ready, reconciling: requeue != nil, stalled: nil, generation: generation,
                          readyReason: requeue == nil ? "Healthy" : "Promoted")
            try await writeStatus(bgd, status)
            return requeue.map { .requeue(after: $0) } ?? (ready ? .awaitChange : .requeue(after: .seconds(2)))
        }

        var failedScaleDown: Duration?
        // 5. Roll out: bring the target colour up with the new template. A template whose analysis failed stays
        // failed: only a new template (or going back to the active one) moves on.
        if status.failedTemplate == hash {
            status.activeColor = active?.rawValue
            if let a = active {
                // A switch back whose Ingress half was lost is finished here.
                if let ingress = bgd.spec.ingress { try await switchIngress(bgd, ingress.name, service, a) }
                await syncPodMetadataBestEffort(bgd, [(a, activeMetadata), (a.other, nil)])
                // The failed colour goes after abortScaleDownDelaySeconds (from the switch back).
                if let d = current(a.other), (d.spec?.replicas ?? 0) > 0 {
                    let due = (status.lastSwitchTime ?? now()).adding(seconds: Double(bgd.spec.abortScaleDownDelaySeconds ?? 30))
                    if due <= now() {
                        try await scale(bgd, a.other, to: 0)
                        event("ScaledDown", "ScaleDown", "scaled \(a.other.rawValue), whose template failed its analysis, down")
                    } else {
                        failedScaleDown = .seconds(max(0.1, due.secondsSince1970 - now().secondsSince1970))
                    }
                }
            }
            if bgd.spec.promote == true {
                // A promote left set must not open the gate of the next template.
                bgd = try await clearPromotion(bgd, approving: nil)
            }
            let action = try await stall(bgd, &status, reason: "AnalysisFailed",
                                   message: status.analysis?.message.map { "the \(status.analysis?.stage == "PostPromotion" ? "post" : "pre")-promotion analysis of this template failed: \($0)" }
                                       ?? "this template failed its analysis", event: event)
            return failedScaleDown.map { .requeue(after: $0) } ?? action
        }
        let target = bgd.spec.activeColor.flatMap(Color.init(rawValue:)).flatMap { $0 == active ? nil : $0 } ?? active?.other ?? .blue
        let recorded = status.history?.contains { $0.templateHash == hash && ($0.outcome == "Progressing" || $0.outcome == "Active") } ?? false
        if status.rolloutStartTime == nil || !recorded {
            // A new rollout (or the template changed during one: the abandoned one is superseded).
            if var history = status.history {
                for j in history.indices where history[j].outcome == "Progressing" && history[j].templateHash != hash {
                    history[j].outcome = "Superseded"
                    history[j].time = now()
                }
                status.history = history
            }
            event("Deploying", "ScaleUp", "bringing up \(target.rawValue) with the new template")
            status.rolloutStartTime = now()
            revision("Progressing")
        }
        // A rollback window of an earlier switch is over: the colour it kept is the one being rolled out now. (Left
        // set, a lost status write after this rollout's switch would find it past and scale down at once.)
        status.scaleDownAt = nil
        // previewReplicaCount: the preview runs smaller until its promotion is decided, then at full scale (recorded,
        // so later reconciles keep it there) and the switch waits until every replica is ready.
        let approvalOfTarget = BlueGreenController.approval(target, hash)
        let previewCount: Int32 = active != nil && status.fullScale != approvalOfTarget
            ? max(1, min(bgd.spec.previewReplicaCount ?? replicas, replicas)) : replicas
        do { try await ensure(target, replicas: previewCount) } catch let invalid as Invalid {
            return try await stall(bgd, &status, reason: invalid.reason, message: invalid.description, event: event)
        }
        status.previewColor = target.rawValue
        status.activeColor = active?.rawValue
        // The preview's pods get the preview metadata as they appear (before the preview Service, its health checks
        // and its analysis reach them); the active colour keeps the active metadata.
        let previewRefused = try await syncPodMetadata(bgd, [(target, previewMetadata)] + (active.map { [($0, activeMetadata)] } ?? []))
        if let refused = previewRefused.first {
            return try await stall(bgd, &status, reason: "PodMetadataRefused", message: refused, event: event)
        }
        guard Reconciler.isRolledOut(current(target), replicas: previewCount) else {
            status.phase = "Progressing"
            setConditions(&status, ready: active.map { isReady(current($0)) } ?? false, reconciling: true, stalled: nil, generation: generation,
                          readyReason: "Progressing", reconcilingMessage: "waiting for \(target.rawValue) to be ready")
            try await writeStatus(bgd, status)
            return .requeue(after: .seconds(1))
        }
        if let previewService {
            try await switchService(serviceAPI, previewService, matchLabels, target)
        }
        // The HTTP health check, through the preview Service, before any traffic moves.
        if let check = bgd.spec.healthCheck, let httpGet = check.httpGet {
            guard let preview = bgd.spec.previewService else {
                return try await stall(bgd, &status, reason: "InvalidSpec", message: "spec.healthCheck.httpGet needs spec.previewService", event: event)
            }
            var progress = status.healthCheck ?? BlueGreenDeployment.HealthCheckStatus()
            if progress.template != hash { progress = BlueGreenDeployment.HealthCheckStatus(template: hash, successes: 0, failures: 0) }
            // A template that failed its checks stays failed: only a new template (or abort) moves on.
            if (progress.failures ?? 0) >= check.failuresAllowed { return .awaitChange }
            let url = "http://\(preview).\(ns).svc:\(httpGet.port)\(httpGet.path)"
            // One check per period, whatever else reconciles the resource meanwhile (a pod event, a Service edit):
            // successThreshold passes take at least that many periods.
            if (progress.successes ?? 0) < check.successesNeeded, let last = progress.lastCheckTime,
               case let due = last.adding(seconds: check.period.seconds), due > now() {
                status.healthCheck = progress
                try await writeStatus(bgd, status)
                return .requeue(after: .seconds(max(0.05, due.secondsSince1970 - now().secondsSince1970)))
            }
            let result = await checker.check(url: url, expectedStatus: httpGet.expectedStatus ?? 200, timeout: check.timeout)
            progress.lastResult = result.description
            progress.lastCheckTime = now()
            let period = check.period
            if result.healthy {
                progress.successes = (progress.successes ?? 0) + 1
                progress.failures = 0
            } else {
                progress.failures = (progress.failures ?? 0) + 1
                progress.successes = 0
            }
            status.healthCheck = progress
            if (progress.failures ?? 0) >= check.failuresAllowed {
                revision("HealthCheckFailed")
                _ = try await stall(bgd, &status, reason: "HealthCheckFailed",
                                    message: "\(target.rawValue) failed its health check \(progress.failures ?? 0) times: \(result.description); traffic stays on \(active?.rawValue ?? "nothing")",
                                    event: event)
                return .awaitChange
            }
            if (progress.successes ?? 0) < check.successesNeeded {
                status.phase = "Progressing"
                setConditions(&status, ready: active.map { isReady(current($0)) } ?? false, reconciling: true, stalled: nil,
                              generation: generation, readyReason: "HealthChecking", reconcilingMessage: "checking \(url): \(result.description)")
                try await writeStatus(bgd, status)
                return .requeue(after: period)
            }
        }
        // Pre-promotion analysis of the ready preview; a failure stops here, the Service untouched.
        if !preChecks.isEmpty && active != nil {
            var analysis = status.analysis ?? .init(stage: "PrePromotion", template: hash, color: target.rawValue, phase: "Running", startedAt: now(), checks: [])
            if analysis.stage != "PrePromotion" || analysis.template != hash || analysis.color != target.rawValue {
                analysis = .init(stage: "PrePromotion", template: hash, color: target.rawValue, phase: "Running", startedAt: now(), checks: [])
                event("Analysing", "Analysis", "pre-promotion analysis of \(target.rawValue) started")
            }
            if analysis.phase == "Running" {
                let verdict = await analyzer.step(preChecks, &analysis, context: .init(name: bgd.metadata.name ?? "", namespace: ns, color: target.rawValue,
                                                                                     template: hash, stage: "pre-rollout"), now: now())
                status.analysis = analysis
                switch verdict {
                case .failed(let message):
                    status.failedTemplate = hash
                    revision("AnalysisFailed")
                    metrics?.add("salespot_bluegreen_analysis_total", [ns, "PrePromotion", "failed"])
                    let action = try await stall(bgd, &status, reason: "AnalysisFailed",
                                                 message: "pre-promotion analysis of \(target.rawValue) failed: \(message); traffic stays on \(active?.rawValue ?? "nothing")",
                                                 event: event)
                    // Sent once the failure is written (a lost write measures again, and may pass).
                    notify(bgd, "AnalysisFailed", "\(bgd.metadata.name ?? "") analysis failed",
                           "pre-promotion analysis of \(target.rawValue) failed: \(message); traffic stays on \(active?.rawValue ?? "nothing")", failure: true)
                    return action
                case .running(let next):
                    status.phase = "Progressing"
                    setConditions(&status, ready: active.map { isReady(current($0)) } ?? false, reconciling: true, stalled: nil, generation: generation,
                                  readyReason: "Analysing", reconcilingMessage: "pre-promotion analysis of \(target.rawValue)")
                    try await writeStatus(bgd, status)
                    return .requeue(after: .seconds(next))
                case .successful:
                    metrics?.add("salespot_bluegreen_analysis_total", [ns, "PrePromotion", "successful"])
                    event("AnalysisPassed", "Analysis", "pre-promotion analysis of \(target.rawValue) passed")
                }
            }
        }
        // 6. Promote.
        let manual = bgd.spec.promotion?.mode == "Manual" && active != nil
        let approval = BlueGreenController.approval(target, hash)
        if manual && bgd.metadata.annotations?[BlueGreenController.promotedTemplateAnnotation] != approval {
            if bgd.spec.promote == true, let pinned = bgd.metadata.annotations?[BlueGreenController.promoteTemplateAnnotation], pinned != hash {
                // Promoted while another template was on preview: that approval is not for this one.
                bgd = try await clearPromotion(bgd, approving: nil)
                event("PromotionIgnored", "Promote",
                      "the promote was for template \(pinned), but \(target.rawValue) now runs template \(hash); promote again to approve it", warning: true)
            }
            // Said once per preview: a reconcile that finds it already waiting says nothing new.
            let wasWaiting = bgd.status?.phase == "Paused" && bgd.status?.previewColor == target.rawValue
            if !wasWaiting || status.pauseStartTime == nil { status.pauseStartTime = now() }
            // autoPromotionSeconds (Argo Rollouts'): the preview is promoted after that long in the pause.
            let autoDue = bgd.spec.promotion?.autoPromotionSeconds.flatMap { seconds in
                status.pauseStartTime.map { $0.adding(seconds: Double(min(max(0, seconds), 31_536_000))) }
            }
            if status.fullScale == approval {
                // Promoted already (automatically, then scaled to full for the switch): no second wait.
            } else if bgd.spec.promote == true {
                // The promotion is consumed and recorded for this template in one write, before anything switches.
                bgd = try await clearPromotion(bgd, approving: approval)
            } else if let due = autoDue, due <= now() {
                event("AutoPromoted", "Promote", "\(target.rawValue) promoted after \(bgd.spec.promotion?.autoPromotionSeconds ?? 0) s in preview (autoPromotionSeconds)")
            } else {
                status.phase = "Paused"
                setConditions(&status, ready: active.map { isReady(current($0)) } ?? false, reconciling: true, stalled: nil, generation: generation,
                              readyReason: "AwaitingPromotion", reconcilingMessage: "\(target.rawValue) is ready; waiting for promotion"
                                + (autoDue.map { " (automatic at \($0.rfc3339))" } ?? ""))
                if !wasWaiting {
                    event("AwaitingPromotion", "Pause", "\(target.rawValue) is ready; promote with salespot-operator bluegreen promote"
                          + (bgd.spec.promotion?.autoPromotionSeconds.map { ", or wait \($0) s for the automatic promotion" } ?? ""))
                }
                try await writeStatus(bgd, status)
                return autoDue.map { .requeue(after: .seconds(max(0.1, $0.secondsSince1970 - now().secondsSince1970))) } ?? .awaitChange
            }
        }
        if previewCount < replicas {
            // Promotion decided: to full scale first; the switch comes once all of it is ready.
            status.fullScale = approvalOfTarget
            do { try await ensure(target, replicas: replicas) } catch let invalid as Invalid {
                return try await stall(bgd, &status, reason: invalid.reason, message: invalid.description, event: event)
            }
            event("ScalingUp", "ScaleUp", "scaling \(target.rawValue) from \(previewCount) to \(replicas) replicas before the switch")
            status.phase = "Progressing"
            setConditions(&status, ready: active.map { isReady(current($0)) } ?? false, reconciling: true, stalled: nil, generation: generation,
                          readyReason: "Progressing", reconcilingMessage: "scaling \(target.rawValue) to \(replicas) replicas before the switch")
            try await writeStatus(bgd, status)
            return .requeue(after: .seconds(1))
        }
        guard isReady(current(target)) else { return .requeue(after: .seconds(1)) }
        if !postChecks.isEmpty && active != nil {
            // Recorded before the switch: a status write lost after it must not skip the analysis (the old colour
            // would be scaled down after the plain window).
            status.analysis = .init(stage: "PostPromotion", template: hash, color: target.rawValue, phase: "Running", startedAt: now(), checks: [])
            bgd = try await writeStatus(bgd, status)
        }
        // The active metadata goes on before the switch (the old colour loses it after): at no moment does no pod carry it.
        if let refused = try await syncPodMetadata(bgd, [(target, activeMetadata)], fresh: true).first {
            return try await stall(bgd, &status, reason: "PodMetadataRefused", message: refused, event: event)
        }
        try await switchService(serviceAPI, service, matchLabels, target)
        // The colour that was active loses the active metadata now that traffic has left it (kept for rollback, it
        // has no role).
        if let old = active { await syncPodMetadataBestEffort(bgd, [(old, nil)], fresh: true) }
        if let ingress = bgd.spec.ingress { try await switchIngress(bgd, ingress.name, service, target) }
        event("Ready", "HealthCheck", "\(target.rawValue) has \(replicas) ready replicas")
        event("Promoted", "SwitchTraffic", "traffic switched to \(target.rawValue)")
        if active != nil {
            notify(bgd, "Promoted", "\(bgd.metadata.name ?? "") promoted", "traffic switched from \(active!.rawValue) to \(target.rawValue)", failure: false)
        }
        metrics?.add("salespot_bluegreen_switches_total", [ns])
        if let started = status.rolloutStartTime, active != nil {
            metrics?.observe("salespot_bluegreen_rollout_duration_seconds", [ns], max(0, now().secondsSince1970 - started.secondsSince1970))
        }
        activeColors.set(ObjectRef(bgd.metadata), target, registry: metrics)
        status.activeColor = target.rawValue
        status.previewColor = active?.rawValue
        status.rolloutStartTime = nil
        status.pauseStartTime = nil
        status.fullScale = nil
        revision("Active")
        status.lastSwitchTime = now()
        status.scaleDownAt = now().adding(seconds: Double(bgd.spec.scaleDownDelaySeconds ?? 30))
        status.phase = "Promoted"
        setConditions(&status, ready: true, reconciling: active != nil, stalled: nil, generation: generation, readyReason: "Promoted")
        if active == nil {
            // The first colour: nothing kept for rollback, nothing left to do (no later event need come to say so).
            status.scaleDownAt = nil
            status.phase = "Healthy"
            setConditions(&status, ready: true, reconciling: false, stalled: nil, generation: generation, readyReason: "Healthy")
        }
        if !postChecks.isEmpty && active != nil {
            // Measured from the next reconcile on (the first measurement at once), while the old colour is kept.
            event("Analysing", "Analysis", "post-promotion analysis of \(target.rawValue) started")
            try await writeStatus(bgd, status)
            return .requeue(after: .milliseconds(1))
        }
        try await writeStatus(bgd, status)
        return active == nil ? .awaitChange : .requeue(after: .seconds(Double(bgd.spec.scaleDownDelaySeconds ?? 30)))
    }

    /// Whether an API answer to applying a colour's Deployment says the template itself is wrong: 400/422, or the
    /// 500 kube-apiserver gives server-side apply for a field the schema does not declare.
    static func refusesTemplate(_ error: KubeError) -> Bool {
        guard let code = error.code else { return false }
        return code == 400 || code == 422 || (code == 500 && (error.status?.message ?? "").contains("field not declared in schema"))
    }

    /// Whether a colour's Deployment has rolled out `replicas` of its current template, by what
    /// `kubectl rollout status` waits for: the Deployment controller has observed the spec, every replica is updated,
    /// no replica of an older template is left, and the updated ones are available. (`readyReplicas` counts pods of
    /// every ReplicaSet, so alone it would admit old or unready pods.) A Deployment past its progress deadline is not.
    static func isRolledOut(_ d: Deployment?, replicas: Int32) -> Bool {
        guard let d, let s = d.status, let want = d.spec?.replicas, want == replicas else { return false }
        if s.conditions?.contains(where: { $0.type == "Progressing" && $0.reason == "ProgressDeadlineExceeded" }) == true { return false }
        let updated = s.updatedReplicas ?? 0
        return (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 1)
            && updated >= want
            && (s.replicas ?? 0) <= updated
            && (s.availableReplicas ?? 0) >= want
    }

    /// Clears `spec.promote` (and the template it was pinned to) and sets (or, with `nil`, removes) the approval
    /// annotation, in one merge patch guarded by the resourceVersion read: an approval is recorded only for the
    /// colour and template this reconcile saw.
    func clearPromotion(_ bgd: BlueGreenDeployment, approving approval: String?) async throws -> BlueGreenDeployment {
        let annotation: JSONValue = approval.map { .string($0) } ?? .null
        var metadata: JSONValue = ["annotations": .object(JSONObject([BlueGreenController.promotedTemplateAnnotation: annotation,
                                                                      BlueGreenController.promoteTemplateAnnotation: .null]))]
        if let rv = bgd.metadata.resourceVersion { metadata["resourceVersion"] = .string(rv) }
        // Not recorded as our write: its echo is reconciled like any spec change.
        return try await Api<BlueGreenDeployment>(client, namespace: bgd.metadata.namespace)
            .patch(bgd.metadata.name ?? "", .merge(["metadata": metadata, "spec": ["promote": nil]]), fieldManager: BlueGreenController.fieldManager)
    }

    /// A Service from the cache, or read afresh when the cache may not show it yet (not cached, or older than our
    /// last write to it).
    func service(_ namespace: String, _ name: String) async throws -> Service? {
        let ref = ObjectRef(namespace: namespace, name: name)
        if let cached = services.get(ref), writtenServices.cacheIsCurrent(ref, cached.metadata.resourceVersion) { return cached }
        return try await Api<Service>(client, namespace: namespace).getIfExists(name)
    }

    func stall(_ bgd: BlueGreenDeployment, _ status: inout BlueGreenDeployment.Status, reason: String, message: String,
               event: (String, String, String, Bool) -> Void) async throws -> Action {
        let changed = status.conditions?.first(where: { $0.type == "Stalled" })?.reason != reason
        status.phase = "Degraded"
        setConditions(&status, ready: false, reconciling: false, stalled: (reason, message), generation: bgd.metadata.generation)
        if changed { event(reason, "Validate", message, true) }
        try await writeStatus(bgd, status)
        // A Service that appears reconciles at once (Services are watched); Ingresses are not, so look again later.
        return .requeue(after: .seconds(15))
    }

    func setConditions(_ status: inout BlueGreenDeployment.Status, ready: Bool, reconciling: Bool, stalled: (String, String)?,
                       generation: Int64?, readyReason: String = "Healthy", reconcilingMessage: String = "rollout in progress") {
        var c = status.conditions ?? []
        let t = now()
        Conditions.set(&c, type: "Ready", status: ready && stalled == nil, reason: stalled?.0 ?? readyReason,
                       message: stalled?.1 ?? (ready ? "the active colour is available" : "the active colour is not available"),
                       observedGeneration: generation, now: t)
        if reconciling { Conditions.set(&c, type: "Reconciling", status: true, reason: readyReason, message: reconcilingMessage, observedGeneration: generation, now: t) }
        else { Conditions.remove(&c, type: "Reconciling") }
        if let stalled { Conditions.set(&c, type: "Stalled", status: true, reason: stalled.0, message: stalled.1, observedGeneration: generation, now: t) }
        else { Conditions.remove(&c, type: "Stalled") }
        status.conditions = c
        status.observedGeneration = generation
    }

    @discardableResult
    func writeStatus(_ bgd: BlueGreenDeployment, _ status: BlueGreenDeployment.Status) async throws -> BlueGreenDeployment {
        var status = status
        // The scale subresource's view (what a HorizontalPodAutoscaler reads): the active colour's replicas and a
        // selector of its pods only (the preview's do not serve, and must not count in its metrics).
        if let active = status.activeColor, let color = Color(rawValue: active) {
            status.replicas = status.colors?[active]?.replicas
            status.selector = BlueGreenController.podSelector(bgd, color)
        }
        guard status != bgd.status else { return bgd }
        // A full replacement (so cleared fields go away), guarded by the resourceVersion that was read: a write
        // based on a stale read fails with 409 and is retried instead of overwriting newer status.
        var updated = bgd
        updated.status = status
        let stored = try await Api<BlueGreenDeployment>(client, namespace: bgd.metadata.namespace).updateStatus(updated)
        written.record(ObjectRef(stored.metadata), stored.metadata.resourceVersion)
        return stored
    }

    /// Points a Service (as read at the start of this reconcile) at a colour; a merge patch, so nothing else changes.
    func switchService(_ services: Api<Service>, _ current: Service, _ matchLabels: [String: String], _ color: Color) async throws {
        var selector = matchLabels
        selector[BlueGreenController.colorLabel] = color.rawValue
        guard current.spec?.selector != selector, let name = current.metadata.name else { return }
        let patched = try await services.patch(name, .merge(["spec": ["selector": .object(JSONObject(selector.mapValues { .string($0) }))]]),
                                               fieldManager: BlueGreenController.fieldManager)
        writtenServices.record(ObjectRef(patched.metadata), patched.metadata.resourceVersion)
    }

    /// Points the Ingress at the colour: per-colour Services (NAME-blue, NAME-green, owned, with the active
    /// Service's ports) are kept, and every backend naming the active Service or a colour Service is switched.
    func switchIngress(_ bgd: BlueGreenDeployment, _ ingressName: String, _ active: Service, _ color: Color) async throws {
        let ns = bgd.metadata.namespace ?? "default"
        let name = bgd.metadata.name ?? ""
        guard let owner = bgd.ownerReference(resource: BlueGreenDeployment.resource) else { return }
        var labels = bgd.spec.selector.matchLabels ?? [:]
        for c in Color.allCases {
            labels[BlueGreenController.colorLabel] = c.rawValue
            let ports = try JSONValueEncoder().encode(active.spec?.ports ?? [])
            let svc: JSONValue = ["apiVersion": "v1", "kind": "Service",
                                  "metadata": ["name": .string("\(name)-\(c.rawValue)"), "namespace": .string(ns),
                                               "ownerReferences": [try JSONValueEncoder().encode(owner)]],
                                  "spec": ["selector": .object(JSONObject(labels.mapValues { .string($0) })), "ports": ports]]
            _ = try await Api<Service>(client, namespace: ns).apply(svc, fieldManager: BlueGreenController.fieldManager, force: true)
        }
        let api = Api<Ingress>(client, namespace: ns)
        var ingress = try await api.get(ingressName)
        let names: Set<String> = [active.metadata.name ?? "", "\(name)-blue", "\(name)-green"]
        let targetName = "\(name)-\(color.rawValue)"
        var changed = false
        func retarget(_ backend: inout IngressBackend?) {
            if let svc = backend?.service, names.contains(svc.name), svc.name != targetName {
                backend?.service?.name = targetName
                changed = true
            }
        }
        var defaultBackend = ingress.spec?.defaultBackend
        retarget(&defaultBackend)
        if defaultBackend != nil { ingress.spec?.defaultBackend = defaultBackend }
        for r in (ingress.spec?.rules ?? []).indices {
            for p in (ingress.spec?.rules?[r].http?.paths ?? []).indices {
                var backend: IngressBackend? = ingress.spec?.rules?[r].http?.paths[p].backend
                retarget(&backend)
                if let backend { ingress.spec?.rules?[r].http?.paths[p].backend = backend }
            }
        }
        if changed { _ = try await api.update(ingress, fieldManager: BlueGreenController.fieldManager) }
    }

    func scale(_ bgd: BlueGreenDeployment, _ color: Color, to replicas: Int32) async throws {
        let api = Api<Deployment>(client, namespace: bgd.metadata.namespace)
        guard try await api.getIfExists(deploymentName(bgd, color)) != nil else { return }
        _ = try await api.patch(deploymentName(bgd, color), .merge(["spec": ["replicas": .int(Int64(replicas))]]),
                                fieldManager: BlueGreenController.fieldManager)
    }

    /// Server-side applies the colour's Deployment (the template with the colour label, the selector, the replicas)
    /// unless the cached one already runs them; returns what was applied.
    func ensureDeployment(_ bgd: BlueGreenDeployment, _ color: Color, hash: String, replicas: Int32) async throws -> Deployment? {
        let ns = bgd.metadata.namespace ?? "default"
        if let d = deployments.get(ObjectRef(namespace: ns, name: deploymentName(bgd, color))),
           d.metadata.labels?[BlueGreenController.templateHashLabel] == hash, d.spec?.replicas == replicas { return nil }
        var labels = bgd.spec.selector.matchLabels ?? [:]
        labels[BlueGreenController.colorLabel] = color.rawValue
        var template = bgd.spec.template
        for (k, v) in labels { template[path: ["metadata", "labels", k]] = .string(v) }
        var deploymentLabels = labels
        deploymentLabels[BlueGreenController.templateHashLabel] = hash
        guard let owner = bgd.ownerReference(resource: BlueGreenDeployment.resource) else { return nil }
        let body: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": ["name": .string(deploymentName(bgd, color)), "namespace": .string(ns),
                         "labels": .object(JSONObject(deploymentLabels.mapValues { .string($0) })),
                         "ownerReferences": [try JSONValueEncoder().encode(owner)]],
            "spec": ["replicas": .int(Int64(replicas)),
                     "selector": ["matchLabels": .object(JSONObject(labels.mapValues { .string($0) }))],
                     "template": template],
        ]
        return try await Api<Deployment>(client, namespace: ns).apply(body, fieldManager: BlueGreenController.fieldManager, force: true)
    }
}

/// Sends the HTTP GET of a health check.
struct HealthChecker: Sendable {
    let transport = CurlTransport()
    let serviceAddresses: [String: String]

    struct Result: CustomStringConvertible {
        var healthy: Bool
        var description: String
    }

    func check(url: String, expectedStatus: Int, timeout: Duration) async -> Result {
        var request = HTTPRequest(method: "GET", url: url, timeout: timeout)
        if let parts = URLComponents(string: url), let host = parts.host {
            let key = "\(host):\(parts.port ?? 80)"
            if let target = serviceAddresses[key] { request.connectTo = ["\(key):\(target)"] }
        }
        do {
            let response = try await transport.send(request)
            return Result(healthy: response.status == expectedStatus,
                          description: "GET \(url) answered \(response.status), expected \(expectedStatus)")
        } catch {
            return Result(healthy: false, description: "GET \(url) failed: \(error)")
        }
    }
}

/// Which colour each resource's Service selects, summed per namespace and colour for the
/// `salespot_bluegreen_active_color` gauge (no label carries an object name).
final class ActiveColors: Sendable {
    private let state = Mutex((colors: [ObjectRef: Color](), counts: [String: [Color: Int]]()))

    func set(_ ref: ObjectRef, _ color: Color, registry: MetricsRegistry?) {
        let counts = state.withLock { s -> [Color: Int]? in
            let previous = s.colors.updateValue(color, forKey: ref)
            guard previous != color else { return nil }
            if let previous { s.counts[ref.namespace, default: [:]][previous, default: 0] -= 1 }
            s.counts[ref.namespace, default: [:]][color, default: 0] += 1
            return s.counts[ref.namespace]
        }
        if let counts { publish(ref.namespace, counts, registry) }
    }

    private func publish(_ namespace: String, _ counts: [Color: Int], _ registry: MetricsRegistry?) {
        for c in Color.allCases { registry?.set("salespot_bluegreen_active_color", [namespace, c.rawValue], Double(counts[c] ?? 0)) }
    }

    /// A deleted resource no longer counts.
    func remove(_ ref: ObjectRef, registry: MetricsRegistry?) {
        let counts = state.withLock { s -> [Color: Int]? in
            guard let previous = s.colors.removeValue(forKey: ref) else { return nil }
            s.counts[ref.namespace, default: [:]][previous, default: 0] -= 1
            return s.counts[ref.namespace]
        }
        if let counts { publish(ref.namespace, counts, registry) }
    }
}
