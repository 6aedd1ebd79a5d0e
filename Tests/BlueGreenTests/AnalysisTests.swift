import BlueGreen
import Foundation
import Hummingbird
import KubeClient
import KubeCore
import LocalCluster
import Notifications
import TestSupport
import Testing

/// A small exporter whose values the test sets (`app_error_rate{color=...}`), scraped by a real Prometheus, and a
/// webhook whose answer the test sets.
final class Exporter: Sendable {
    let errorRate = Locked<[String: Double]>(["blue": 0, "green": 0])
    let hookStatus = Locked(200)
    let hooks = Locked<[JSONValue]>([])
    let notified = Locked<[JSONValue]>([])
    let port = Locked(0)

    static func start() async throws -> Exporter {
        let e = Exporter()
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            let body = e.errorRate.value.sorted { $0.key < $1.key }.map { "app_error_rate{color=\"\($0.key)\"} \($0.value)" }.joined(separator: "\n") + "\n"
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            if let json = try? JSONParser.parse(Array(buffer: body)) { e.hooks.mutate { $0.append(json) } }
            return Response(status: .init(code: e.hookStatus.value))
        }
        router.post("notify") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            if let json = try? JSONParser.parse(Array(buffer: body)) { e.notified.mutate { $0.append(json) } }
            return Response(status: .ok)
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in e.port.mutate { $0 = channel.localAddress?.port ?? 0 } })
        _ = Task { _ = try? await app.runService(gracefulShutdownSignals: []) }
        for _ in 0..<200 where e.port.value == 0 { try await Task.sleep(for: .milliseconds(20)) }
        return e
    }
    var target: String { "127.0.0.1:\(port.value)" }

    /// The events notified so far.
    var events: [String] { notified.value.compactMap { $0["event"]?.stringValue } }

    /// A Secret with this exporter's notification URL, and the targets that use it.
    func notifications(_ client: KubeClient) async throws -> NotificationTargets {
        _ = try await Api<Secret>(client, namespace: "default").create(Secret(metadata: ObjectMeta(name: "hooks"), data: [
            "url": Data("http://\(target)/notify".utf8).base64EncodedString()]))
        return NotificationTargets(webhook: WebhookTarget(urlSecretRef: SecretKeyRef(name: "hooks", key: "url")))
    }
}

/// Pre- and post-promotion analysis against a real Prometheus (started by the test, scraping the exporter every
/// second) and a webhook.
@Suite(.serialized) struct AnalysisTests {
    static func errors(_ prometheus: PrometheusServer, count: Int = 2) -> BlueGreenDeployment.AnalysisCheck {
        var c = BlueGreenDeployment.AnalysisCheck(name: "errors", prometheus: .init(address: prometheus.address, query: "app_error_rate{color=\"{{color}}\"}"))
        c.successCondition = "result < 0.05"
        c.intervalSeconds = 1
        c.count = count
        return c
    }

    func waitForScrape(_ p: PrometheusServer, _ query: String, _ value: String) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if try await p.value(query) == value { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PrometheusTimeout(description: "Prometheus never read \(query) = \(value)")
    }
    struct PrometheusTimeout: Error, CustomStringConvertible { var description: String }

    @Test func aFailingPrePromotionQueryStopsTheRolloutWithTheServiceUntouched() async throws {
        let exporter = try await Exporter.start()
        let prometheus = try await PrometheusServer.start(scraping: [exporter.target])
        defer { prometheus.stop() }
        try await waitForScrape(prometheus, "app_error_rate{color=\"green\"}", "0")
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.bgd("api", image: "api:1", service: "api", delay: 1)
        try await h.changeSpec("api") { spec in
            spec.analysis = .init(prePromotion: [Self.errors(prometheus)])
        }
        let healthy = try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" }
        if !healthy { Issue.record("never Healthy: \(String(describing: try await h.api.get("api").status))") }
        // Green goes bad before it is rolled out.
        exporter.errorRate.mutate { $0["green"] = 0.5 }
        try await waitForScrape(prometheus, "app_error_rate{color=\"green\"}", "0.5")
        try await h.setImage("api", "api:2")
        #expect(try await h.eventually {
            try await h.api.get("api").status?.conditions?.first { $0.type == "Stalled" }?.reason == "AnalysisFailed"
        })
        let stalled = try await h.api.get("api")
        #expect(try await h.selectedColor("api") == "blue", "the Service was switched")
        #expect(stalled.status?.analysis?.stage == "PrePromotion" && stalled.status?.analysis?.phase == "Failed")
        #expect(stalled.status?.analysis?.checks.first?.measurements?.last?.value == "0.5", "\(String(describing: stalled.status?.analysis))")
        #expect(stalled.status?.conditions?.first { $0.type == "Ready" }?.status == "False")
        // The template stays failed even when the metric recovers; a new one is rolled out and checked again.
        exporter.errorRate.mutate { $0["green"] = 0 }
        try await waitForScrape(prometheus, "app_error_rate{color=\"green\"}", "0")
        try await Task.sleep(for: .seconds(2))
        #expect(try await h.selectedColor("api") == "blue")
        try await h.setImage("api", "api:3")
        #expect(try await h.eventually { try await h.selectedColor("api") == "green" })
        #expect(try await h.eventually {
            let a = try await h.api.get("api").status?.analysis
            return a?.phase == "Successful" && a?.checks.first?.successful == 2 && a?.template != stalled.status?.analysis?.template
        })
    }

    /// kstatus's rules for a custom resource (sigs.k8s.io/cli-utils): observedGeneration behind → InProgress;
    /// Stalled=True → Failed; Reconciling=True → InProgress; Ready=False → InProgress; else Current.
    static func kstatus(_ b: BlueGreenDeployment) -> String {
        let c = b.status?.conditions ?? []
        if let g = b.metadata.generation, (b.status?.observedGeneration ?? -1) < g { return "InProgress" }
        if c.contains(where: { $0.type == "Stalled" && $0.status == "True" }) { return "Failed" }
        if c.contains(where: { $0.type == "Reconciling" && $0.status == "True" }) { return "InProgress" }
        if c.contains(where: { $0.type == "Ready" && $0.status == "False" }) { return "InProgress" }
        return "Current"
    }

    @Test func kstatusAndKubectlWaitReadEveryPhase() async throws {
        let kubectl = try requireTool("kubectl")
        let exporter = try await Exporter.start()
        let h = try await Harness.start(readyDelay: .milliseconds(400))
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.bgd("api", image: "api:1", service: "api", delay: 2, manual: true)
        // Every phase seen, with what kstatus makes of it; recorded by a watcher of the resource.
        let seen = Locked<[String: Set<String>]>([:])
        let watcher = Task {
            while !Task.isCancelled {
                // Statuses that describe the current generation (a spec just changed is InProgress by the first rule,
                // whatever the phase it still shows).
                if let b = try? await h.api.get("api"), let phase = b.status?.phase, b.status?.observedGeneration == b.metadata.generation {
                    let s = Self.kstatus(b)
                    seen.mutate { $0[phase, default: []].insert(s) }
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        defer { watcher.cancel() }
        let wait = try await runAsync(kubectl, ["--kubeconfig", h.cluster.kubeconfigPath, "wait", "--for=condition=Ready", "bgd/api", "--timeout=20s"])
        #expect(wait.status == 0, "\(wait.out) \(wait.err)")
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" })
        try await Task.sleep(for: .milliseconds(300))  // seen by the watcher
        try await h.setImage("api", "api:2")
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Paused" })
        try await Task.sleep(for: .milliseconds(300))  // seen by the watcher
        _ = try await h.api.patch("api", .merge(["spec": ["promote": true]]))
        #expect(try await h.eventually {
            let phase = try await h.api.get("api").status?.phase
            let color = try await h.selectedColor("api")
            return phase == "Healthy" && color == "green"
        })
        try await Task.sleep(for: .milliseconds(300))  // seen by the watcher
        // A failed analysis: Stalled.
        try await h.changeSpec("api") { spec in
            var hook = BlueGreenDeployment.AnalysisCheck(name: "smoke", webhook: .init(url: "http://\(exporter.target)/hook"))
            hook.intervalSeconds = 1
            spec.analysis = .init(prePromotion: [hook])
            spec.promotion = .init(mode: "Automatic")
        }
        exporter.hookStatus.mutate { $0 = 503 }
        try await h.setImage("api", "api:3")
        #expect(try await h.eventually { try await h.api.get("api").status?.conditions?.first { $0.type == "Stalled" }?.status == "True" })
        try await Task.sleep(for: .milliseconds(200))
        let phases = seen.value
        #expect(phases["Progressing"] == ["InProgress"], "\(phases)")
        #expect(phases["Paused"] == ["InProgress"], "\(phases)")
        #expect(phases["Promoted"] == ["InProgress"], "\(phases)")
        #expect(phases["Healthy"] == ["Current"], "\(phases)")
        #expect(phases["Degraded"]?.contains("Failed") == true, "\(phases)")
        // kubectl wait on Ready fails (times out) while stalled: the resource is not Ready.
        let stalled = try await runAsync(kubectl, ["--kubeconfig", h.cluster.kubeconfigPath, "wait", "--for=condition=Ready", "bgd/api", "--timeout=2s"])
        #expect(stalled.status != 0)
    }

    @Test func aWebhookAnswering500StopsTheRolloutAnd200LetsItProceed() async throws {
        let exporter = try await Exporter.start()
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.bgd("api", image: "api:1", service: "api", delay: 1)
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" })
        let targets = try await exporter.notifications(h.client)
        try await h.changeSpec("api") { spec in
            var hook = BlueGreenDeployment.AnalysisCheck(name: "smoke", webhook: .init(url: "http://\(exporter.target)/hook"))
            hook.intervalSeconds = 1
            spec.analysis = .init(prePromotion: [hook])
            spec.notifications = targets
        }
        exporter.hookStatus.mutate { $0 = 500 }
        try await h.setImage("api", "api:2")
        #expect(try await h.eventually {
            try await h.api.get("api").status?.conditions?.first { $0.type == "Stalled" }?.reason == "AnalysisFailed"
        })
        #expect(try await h.selectedColor("api") == "blue")
        let call = try #require(exporter.hooks.value.last)
        #expect(call["name"]?.stringValue == "api" && call["color"]?.stringValue == "green" && call["phase"]?.stringValue == "pre-rollout", "\(call)")
        exporter.hookStatus.mutate { $0 = 200 }
        try await h.setImage("api", "api:3")
        #expect(try await h.eventually { try await h.selectedColor("api") == "green" })
        // An abort of the next rollout.
        try await h.setImage("api", "api:4")
        _ = try await h.api.patch("api", .merge(["spec": ["abort": true]]))
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Aborted" })
        // A notification reached the receiver for each: the failed analysis, the promotion, the abort.
        #expect(try await h.eventually { Set(exporter.events).isSuperset(of: ["AnalysisFailed", "Promoted", "Aborted"]) }, "\(exporter.events)")
        #expect(exporter.events.filter { $0 == "Aborted" }.count == 1, "\(exporter.events)")
        let promoted = try #require(exporter.notified.value.first { $0["event"]?.stringValue == "Promoted" })
        #expect(promoted[path: ["object", "name"]]?.stringValue == "api" && promoted["text"]?.stringValue?.contains("to green") == true, "\(promoted)")
    }

    @Test func aFailingPostPromotionQuerySwitchesBackWithinAnIntervalAndNeverToNothing() async throws {
        let exporter = try await Exporter.start()
        let prometheus = try await PrometheusServer.start(scraping: [exporter.target])
        defer { prometheus.stop() }
        try await waitForScrape(prometheus, "app_error_rate{color=\"green\"}", "0")
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.bgd("api", image: "api:1", service: "api", delay: 120)
        let targets = try await exporter.notifications(h.client)
        try await h.changeSpec("api") { spec in
            spec.analysis = .init(postPromotion: [Self.errors(prometheus, count: 60)])
            spec.abortScaleDownDelaySeconds = 2
            spec.notifications = targets
        }
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" })
        let violations = Locked([String]())
        let served = Locked(false)
        let monitor = Task {
            while !Task.isCancelled {
                if let ready = try? await h.readyEndpoints("api") {
                    if ready > 0 { served.mutate { $0 = true } } else if served.value { violations.mutate { $0.append("no ready endpoint behind the active Service") } }
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        defer { monitor.cancel() }
        try await h.setImage("api", "api:2")
        #expect(try await h.eventually { try await h.selectedColor("api") == "green" })
        #expect(try await h.eventually { (try await h.api.get("api").status?.analysis?.checks.first?.successful ?? 0) >= 2 })
        #expect(try await h.deployment("api-blue")?.spec?.replicas == 2, "the old colour is kept while the analysis runs")
        // Green goes bad after the switch: traffic goes back to blue within one interval (1 s) of Prometheus
        // seeing it, plus 1 s.
        exporter.errorRate.mutate { $0["green"] = 0.5 }
        try await waitForScrape(prometheus, "app_error_rate{color=\"green\"}", "0.5")
        let seen = ContinuousClock.now
        #expect(try await h.eventually(.seconds(10)) { try await h.selectedColor("api") == "blue" })
        let took = ContinuousClock.now - seen
        #expect(took < .seconds(2), "switched back \(took) after Prometheus had the bad value")
        #expect(try await h.eventually { try await h.api.get("api").status?.activeColor == "blue" })
        let rolledBack = try await h.api.get("api")
        #expect(rolledBack.status?.conditions?.first { $0.type == "Stalled" }?.reason == "AnalysisFailed")
        #expect(rolledBack.status?.analysis?.stage == "PostPromotion" && rolledBack.status?.analysis?.phase == "Failed")
        // Green stays up abortScaleDownDelaySeconds after the switch back, then goes.
        #expect(try await h.deployment("api-green")?.spec?.replicas == 2)
        if !(try await h.eventually { try await h.deployment("api-green")?.spec?.replicas == 0 }) {
            Issue.record("green was not scaled down: \(String(describing: try await h.api.get("api").status))")
        }
        // It stays back: the failed template is not promoted again.
        try await Task.sleep(for: .seconds(2))
        #expect(try await h.selectedColor("api") == "blue")
        #expect(served.value && violations.value.isEmpty, "\(violations.value)")
        #expect(try await h.eventually { exporter.events.contains("RolledBack") }, "\(exporter.events)")
        #expect(exporter.events.filter { $0 == "RolledBack" }.count == 1, "\(exporter.events)")
    }
}
