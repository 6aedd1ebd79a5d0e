import Foundation
import Testing
import BlueGreen
import KubeClient
import KubeCore
import KubeRuntime
import LocalCluster
import TestSupport

let sharedPKI: String = NSTemporaryDirectory() + "salespot-bluegreen-pki-\(getpid())"
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// A LocalCluster with the project's CRDs, Deployment simulation on, and a running blue/green controller.
struct Harness {
    let cluster: LocalCluster
    let client: KubeClient
    let running: Task<Void, Never>
    /// Faults on the controller's own requests (the test's `client` has none).
    let faults: FaultTransport

    /// - Parameter simulateWorkloads: off, no Deployment status changes unless the test writes it.
    static func start(readyDelay: Duration = .milliseconds(150), serviceAddresses: [String: String] = [:],
                      simulateWorkloads: Bool = true) async throws -> Harness {
        var options = LocalCluster.Options()
        options.pkiDirectory = sharedPKI
        options.deploymentReadyDelay = readyDelay
        options.simulateWorkloads = simulateWorkloads
        let cluster = try await LocalCluster.start(options)
        try await cluster.installCRDs(try String(contentsOfFile: repository + "/crds/bluegreendeployments.ops.salespot.by.yaml", encoding: .utf8))
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let (controllerClient, faults) = FaultTransport.client(cluster.clientConfiguration())
        let controller = BlueGreenController.make(client: controllerClient,
                                                  events: EventRecorder(client: client, reportingController: "salespot.by/bluegreen", reportingInstance: "test"),
                                                  serviceAddresses: serviceAddresses)
        return Harness(cluster: cluster, client: client, running: Task { await controller.run() }, faults: faults)
    }

    func stop() {
        running.cancel()
        Task { await cluster.stop() }
    }

    func service(_ name: String, app: String) async throws {
        _ = try await Api<Service>(client, namespace: "default").create(Service(metadata: ObjectMeta(name: name),
            spec: ServiceSpec(selector: ["app": app], ports: [ServicePort(port: 80, targetPort: 8080)])))
    }

    func bgd(_ name: String, image: String, service: String, delay: Int = 1, manual: Bool = false,
             preview: String? = nil, healthCheck: BlueGreenDeployment.HealthCheck? = nil) async throws {
        var spec = BlueGreenDeployment.Spec(replicas: 2, selector: LabelSelector(matchLabels: ["app": name]),
                                            template: ["metadata": ["labels": ["app": .string(name)]],
                                                       "spec": ["containers": [["name": "app", "image": .string(image)]]]],
                                            activeService: service)
        spec.scaleDownDelaySeconds = delay
        if manual { spec.promotion = .init(mode: "Manual") }
        spec.previewService = preview
        spec.healthCheck = healthCheck
        _ = try await api.create(BlueGreenDeployment(metadata: ObjectMeta(name: name), spec: spec))
    }

    var api: Api<BlueGreenDeployment> { Api<BlueGreenDeployment>(client, namespace: "default") }

    /// Changes the spec on a fresh read, again if the controller wrote in between (409).
    func changeSpec(_ name: String, _ change: (inout BlueGreenDeployment.Spec) throws -> Void) async throws {
        for attempt in 1...10 {
            var b = try await api.get(name)
            try change(&b.spec)
            do {
                _ = try await api.update(b)
                return
            } catch let e as KubeError where e.isConflict && attempt < 10 {
                continue
            }
        }
    }

    func setImage(_ name: String, _ image: String) async throws {
        _ = try await api.patch(name, .merge(["spec": ["template": ["spec": ["containers": [["name": "app", "image": .string(image)]]]]]]))
    }

    func selectedColor(_ service: String) async throws -> String? {
        try await Api<Service>(client, namespace: "default").get(service).spec?.selector?["salespot.by/color"]
    }

    /// An Ingress sending salespot.by/ to a Service.
    func ingress(_ name: String, to service: String) async throws {
        let backend = IngressBackend(service: IngressServiceBackend(name: service, port: ServiceBackendPort(number: 80)))
        _ = try await Api<Ingress>(client, namespace: "default").create(Ingress(metadata: ObjectMeta(name: name), spec: IngressSpec(
            rules: [IngressRule(host: "salespot.by", http: HTTPIngressRuleValue(paths: [HTTPIngressPath(path: "/", backend: backend)]))])))
    }

    /// The Service an Ingress's first path sends to.
    func ingressTarget(_ name: String) async throws -> String? {
        try await Api<Ingress>(client, namespace: "default").get(name).spec?.rules?.first?.http?.paths.first?.backend.service?.name
    }

    enum LossStep: Sendable { case before, switched, lost }

    /// Makes the controller's first write (PUT) to a path containing `lost` after its first PATCH to a path
    /// containing `trigger` fail before it reaches the API server, as a crash or a cut connection would lose it.
    func loseFirstWrite(after trigger: String, of lost: String) -> Locked<LossStep> {
        let step = Locked(LossStep.before)
        faults.set { request in
            var fault: FaultTransport.Fault?
            step.mutate { s in
                if s == .before, request.method == "PATCH", request.url.contains(trigger) { s = .switched }
                else if s == .switched, request.method == "PUT", request.url.contains(lost) {
                    s = .lost
                    fault = .fail
                }
            }
            return fault
        }
        return step
    }

    /// Ready endpoints in the EndpointSlices of a Service.
    func readyEndpoints(_ service: String) async throws -> Int {
        let slices = ResourceDescriptor(group: "discovery.k8s.io", version: "v1", resource: "endpointslices", kind: "EndpointSlice", namespaced: true)
        return try await Api<DynamicObject>(client, resource: slices, namespace: "default")
            .list(ListOptions(labelSelector: "kubernetes.io/service-name=\(service)")).items
            .flatMap { $0.json["endpoints"]?.arrayValue ?? [] }.filter { $0[path: ["conditions", "ready"]] == true }.count
    }

    func deployment(_ name: String) async throws -> Deployment? {
        try await Api<Deployment>(client, namespace: "default").getIfExists(name)
    }

    /// Polls until `condition` holds (at most `timeout`).
    func eventually(_ timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(25))
        }
        return false
    }
}

@Suite struct BlueGreenControllerTests {
    @Test func fullRolloutBlueToGreenNeverSelectingAnUnreadyColour() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("api", app: "api")
        // A 3 s rollback window: long enough that "kept for rollback" is still true when read under a loaded CI.
        try await h.bgd("api", image: "api:1", service: "api", delay: 3)
        // Watch the Service: whenever it selects a colour, that colour must have every replica ready; and once it
        // first has endpoints, its EndpointSlices (what kube-proxy routes by) never run out of ready ones.
        let violations = Locked([String]())
        let served = Locked(false)
        let monitor = Task {
            while !Task.isCancelled {
                if let color = try? await h.selectedColor("api"), let d = try? await h.deployment("api-\(color)"),
                   (d.status?.readyReplicas ?? 0) < 2, (d.spec?.replicas ?? 0) > 0 {
                    violations.mutate { $0.append("\(color) selected with \(d.status?.readyReplicas ?? 0) ready") }
                }
                if let ready = try? await h.readyEndpoints("api") {
                    if ready > 0 { served.mutate { $0 = true } }
                    else if served.value { violations.mutate { $0.append("no ready endpoint behind the active Service") } }
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        defer { monitor.cancel() }
        #expect(try await h.eventually { try await h.selectedColor("api") == "blue" })
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" })
        try await h.setImage("api", "api:2")
        #expect(try await h.eventually { try await h.selectedColor("api") == "green" })
        #expect(try await h.eventually { try await h.api.get("api").status?.activeColor == "green" })
        let promoted = try await h.api.get("api")
        #expect(promoted.status?.conditions?.first { $0.type == "Ready" }?.status == "True")
        #expect(try await h.deployment("api-blue")?.spec?.replicas == 2)  // kept for rollback
        // After the delay the old colour is scaled down.
        #expect(try await h.eventually { try await h.deployment("api-blue")?.spec?.replicas == 0 })
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" })
        let final = try await h.api.get("api")
        #expect(final.status?.observedGeneration == final.metadata.generation)
        #expect(final.status?.colors?["green"]?.image == "api:2")
        #expect(served.value, "the active Service never had a ready endpoint")
        #expect(violations.value.isEmpty, "\(violations.value)")
        // Every step is an Event, in order (Events are sent after the step, so wait for the last one).
        let expected = ["Deploying:bringing up blue", "Ready:blue", "Promoted:traffic switched to blue",
                        "Deploying:bringing up green", "Ready:green", "Promoted:traffic switched to green", "ScaledDown:scaled blue"]
        let events = Locked([String]())
        let inOrder = try await h.eventually {
            let seen = try await Api<Event>(h.client, namespace: "default").list().items
                .sorted { ($0.eventTime?.time.secondsSince1970 ?? 0) < ($1.eventTime?.time.secondsSince1970 ?? 0) }
                .map { "\($0.reason ?? ""):\($0.note ?? "")" }
            events.mutate { $0 = seen }
            var index = 0
            for e in seen where index < expected.count && e.hasPrefix(expected[index]) { index += 1 }
            return index == expected.count
        }
        #expect(inOrder, "events: \(events.value)")
    }

    @Test func kubectlScaleReachesTheActiveColourAndANewColourStartsAtTheScale() async throws {
        let kubectl = try requireTool("kubectl")
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.bgd("api", image: "api:1", service: "api", delay: 1)
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" })
        // The scale subresource, as kubectl and a HorizontalPodAutoscaler use it.
        let scale = try await runAsync(kubectl, ["--kubeconfig", h.cluster.kubeconfigPath, "scale", "bgd/api", "--replicas=5"])
        #expect(scale.status == 0, "\(scale.out) \(scale.err)")
        #expect(try await h.eventually { try await h.deployment("api-blue")?.status?.readyReplicas == 5 })
        #expect(try await h.eventually {
            let s = try await h.api.get("api").status
            return s?.replicas == 5 && s?.selector == "app=api,salespot.by/color=blue"
        })
        let read = try await runAsync(kubectl, ["--kubeconfig", h.cluster.kubeconfigPath, "get", "bgd/api", "--subresource=scale",
                                                "-o", "jsonpath={.spec.replicas} {.status.replicas} {.status.selector}"])
        #expect(read.out == "5 5 app=api,salespot.by/color=blue", "\(read.out) \(read.err)")
        // A rollout now brings the new colour up at the scale, and switches only when all five are ready.
        try await h.setImage("api", "api:2")
        #expect(try await h.eventually { try await h.selectedColor("api") == "green" })
        #expect(try await h.deployment("api-green")?.spec?.replicas == 5)
        #expect((try await h.deployment("api-green")?.status?.readyReplicas ?? 0) == 5)
        // A negative scale is refused by the API server, and nothing changes.
        let negative = try await runAsync(kubectl, ["--kubeconfig", h.cluster.kubeconfigPath, "scale", "bgd/api", "--replicas=-1"])
        #expect(negative.status != 0)
        #expect(try await h.api.get("api").spec.replicas == 5)
    }

    @Test func autoPromotionSecondsPromotesAWaitingPreview() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.bgd("api", image: "api:1", service: "api", delay: 1, manual: true)
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" })
        try await h.changeSpec("api") { spec in
            spec.promotion = .init(mode: "Manual", autoPromotionSeconds: 3)
        }
        try await h.setImage("api", "api:2")
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Paused" })
        let paused = try #require(try await h.api.get("api").status?.pauseStartTime)
        // Not before the time is up: still on blue.
        try await Task.sleep(for: .seconds(1.5))
        #expect(try await h.selectedColor("api") == "blue")
        #expect(try await h.eventually { try await h.selectedColor("api") == "green" })
        // The status written after the switch.
        #expect(try await h.eventually { try await h.api.get("api").status?.activeColor == "green" })
        let after = try await h.api.get("api").status
        let switched = try #require(after?.lastSwitchTime)
        #expect(switched.secondsSince1970 - paused.secondsSince1970 >= 2.9, "promoted \(switched.secondsSince1970 - paused.secondsSince1970) s after the pause")
        #expect(after?.pauseStartTime == nil)
    }

    @Test func aSmallerPreviewIsScaledToFullBeforeTheSwitch() async throws {
        let h = try await Harness.start(readyDelay: .milliseconds(300))
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.bgd("api", image: "api:1", service: "api", delay: 1, manual: true)
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" })
        try await h.changeSpec("api") { spec in
            spec.replicas = 3
            spec.previewReplicaCount = 1
        }
        #expect(try await h.eventually { try await h.deployment("api-blue")?.status?.readyReplicas == 3 })
        // Whenever the Service selects green, all three of green's replicas are ready.
        let violations = Locked([String]())
        let monitor = Task {
            while !Task.isCancelled {
                if try await h.selectedColor("api") == "green", let d = try await h.deployment("api-green"), (d.status?.readyReplicas ?? 0) < 3 {
                    violations.mutate { $0.append("green selected with \(d.status?.readyReplicas ?? 0) ready") }
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        defer { monitor.cancel() }
        try await h.setImage("api", "api:2")
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Paused" })
        #expect(try await h.deployment("api-green")?.spec?.replicas == 1, "the preview runs one replica")
        #expect(try await h.selectedColor("api") == "blue")
        _ = try await h.api.patch("api", .merge(["spec": ["promote": true]]))
        #expect(try await h.eventually { try await h.selectedColor("api") == "green" })
        #expect((try await h.deployment("api-green")?.status?.readyReplicas ?? 0) == 3)
        #expect(violations.value.isEmpty, "\(violations.value)")
        #expect(try await h.eventually {
            let s = try await h.api.get("api").status
            return s?.fullScale == nil && s?.activeColor == "green"
        })
    }

    @Test func aFailingHealthCheckStopsTheRolloutAndAFixResumesIt() async throws {
        // A real HTTP server stands in for the preview Service: /health exists only once the test "fixes" it.
        let python = try requireTool("python3")
        let docroot = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: docroot) }
        let port = Int.random(in: 42000..<52000)
        let server = try startServer(python, ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", docroot])
        defer { server.stop() }
        try "ok".write(toFile: docroot + "/health", atomically: true, encoding: .utf8)
        let h = try await Harness.start(serviceAddresses: ["pay-preview.default.svc:80": "127.0.0.1:\(port)"])
        defer { h.stop() }
        try await h.service("pay", app: "pay")
        try await h.service("pay-preview", app: "pay")
        let check = BlueGreenDeployment.HealthCheck(httpGet: .init(path: "/health", port: 80, expectedStatus: 200), periodSeconds: 1, failureThreshold: 2)
        try await h.bgd("pay", image: "pay:1", service: "pay", preview: "pay-preview", healthCheck: check)
        #expect(try await h.eventually { try await h.selectedColor("pay") == "blue" })
        // The new version is broken: its health endpoint is gone.
        try FileManager.default.removeItem(atPath: docroot + "/health")
        try await h.setImage("pay", "pay:2")
        #expect(try await h.eventually {
            try await h.api.get("pay").status?.conditions?.first { $0.type == "Stalled" }?.reason == "HealthCheckFailed"
        })
        #expect(try await h.selectedColor("pay") == "blue")  // traffic untouched
        #expect(try await h.selectedColor("pay-preview") == "green")  // the preview shows the candidate
        let stalled = try await h.api.get("pay")
        #expect(stalled.status?.healthCheck?.lastResult?.contains("404") == true)
        // The endpoint coming back does not promote the template that failed ...
        try "ok".write(toFile: docroot + "/health", atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await h.selectedColor("pay") == "blue")
        // ... fixing the image (a new template) resumes the rollout.
        try await h.setImage("pay", "pay:3")
        #expect(try await h.eventually { try await h.selectedColor("pay") == "green" })
        #expect(try await h.eventually { try await h.api.get("pay").status?.colors?["green"]?.image == "pay:3" })
        let done = try await h.api.get("pay")
        #expect(done.status?.conditions?.contains { $0.type == "Stalled" } == false)
    }

    @Test func theIngressFollowsTheActiveColour() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("site", app: "site")
        try await h.ingress("site", to: "site")
        try await h.bgd("site", image: "site:1", service: "site")
        _ = try await h.api.patch("site", .merge(["spec": ["ingress": ["name": "site"]]]))
        func ingressTarget() async throws -> String? { try await h.ingressTarget("site") }
        #expect(try await h.eventually { try await ingressTarget() == "site-blue" })
        try await h.setImage("site", "site:2")
        #expect(try await h.eventually { try await ingressTarget() == "site-green" })
        let green = try await Api<Service>(h.client, namespace: "default").get("site-green")
        #expect(green.spec?.selector == ["app": "site", "salespot.by/color": "green"])
        #expect(green.spec?.ports?.first?.port == 80)
        try await h.setImage("site", "site:3")
        #expect(try await h.eventually { try await ingressTarget() == "site-blue" })
        #expect(try await h.api.get("site").status?.conditions?.contains { $0.type == "Stalled" } == false)
    }

    @Test func revertingInsideTheDelayIsAnInstantSwitch() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("web", app: "web")
        try await h.bgd("web", image: "web:1", service: "web", delay: 60)
        #expect(try await h.eventually { try await h.selectedColor("web") == "blue" })
        try await h.setImage("web", "web:2")
        #expect(try await h.eventually { try await h.selectedColor("web") == "green" })
        let blueGeneration = try await h.deployment("web-blue")?.metadata.generation
        let start = ContinuousClock.now
        try await h.setImage("web", "web:1")  // back to what blue runs
        #expect(try await h.eventually { try await h.selectedColor("web") == "blue" })
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(try await h.deployment("web-blue")?.metadata.generation == blueGeneration)  // no new rollout
    }

    @Test func manualPromotionAndAbort() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("shop", app: "shop")
        try await h.bgd("shop", image: "shop:1", service: "shop", manual: true)
        #expect(try await h.eventually { try await h.selectedColor("shop") == "blue" })  // the first colour goes live at once
        try await h.setImage("shop", "shop:2")
        #expect(try await h.eventually { try await h.api.get("shop").status?.phase == "Paused" })
        #expect(try await h.selectedColor("shop") == "blue")
        _ = try await h.api.patch("shop", .merge(["spec": ["abort": true]]))
        #expect(try await h.eventually { try await h.api.get("shop").status?.phase == "Aborted" })
        #expect(try await h.eventually { try await h.deployment("shop-green")?.spec?.replicas == 0 })
        #expect(try await h.selectedColor("shop") == "blue")
        let stalled = try await h.api.get("shop").status?.conditions?.first { $0.type == "Stalled" }
        #expect(stalled?.reason == "Aborted")
        // Resume, then promote by hand.
        _ = try await h.api.patch("shop", .merge(["spec": ["abort": false]]))
        #expect(try await h.eventually { try await h.api.get("shop").status?.phase == "Paused" })
        _ = try await h.api.patch("shop", .merge(["spec": ["promote": true]]))
        #expect(try await h.eventually { try await h.selectedColor("shop") == "green" })
        #expect(try await h.eventually { try await h.api.get("shop").spec.promote == nil })
    }

    @Test func aMissingServiceStallsThatResourceOnly() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("good", app: "good")
        try await h.bgd("orphan", image: "x:1", service: "no-such-service")
        try await h.bgd("good", image: "good:1", service: "good")
        #expect(try await h.eventually {
            try await h.api.get("orphan").status?.conditions?.first { $0.type == "Stalled" }?.reason == "ServiceNotFound"
        })
        let orphan = try await h.api.get("orphan")
        #expect(orphan.status?.conditions?.first { $0.type == "Ready" }?.status == "False")
        #expect(try await h.deployment("orphan-blue") == nil)  // nothing deployed
        #expect(try await h.eventually { try await h.selectedColor("good") == "blue" })
        func warnings() async throws -> Int {
            try await Api<Event>(h.client, namespace: "default").list().items.filter { $0.type == "Warning" && $0.reason == "ServiceNotFound" }.count
        }
        #expect(try await h.eventually { try await warnings() == 1 })
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await warnings() == 1)  // reported once, not on every retry
        // The Service appearing unblocks the resource at once (Services are watched), well before the 15 s retry.
        try await h.service("no-such-service", app: "orphan")
        #expect(try await h.eventually(.seconds(5)) { try await h.selectedColor("no-such-service") == "blue" })
        #expect(try await h.api.get("orphan").status?.conditions?.first { $0.type == "Stalled" } == nil)
        // A selector changed by hand is put back.
        _ = try await Api<Service>(h.client, namespace: "default").patch("good", .merge(["spec": ["selector": ["salespot.by/color": "green"]]]))
        #expect(try await h.eventually(.seconds(5)) { try await h.selectedColor("good") == "blue" })
    }

    @Test func aRestartedOperatorCarriesOnMidRollout() async throws {
        let h = try await Harness.start(readyDelay: .milliseconds(600))
        defer { h.stop() }
        try await h.service("cart", app: "cart")
        try await h.bgd("cart", image: "cart:1", service: "cart")
        #expect(try await h.eventually { try await h.selectedColor("cart") == "blue" })
        try await h.setImage("cart", "cart:2")
        #expect(try await h.eventually { try await h.deployment("cart-green") != nil })
        h.running.cancel()  // the operator goes away while green is coming up
        let controller = BlueGreenController.make(client: h.client)
        let second = Task { await controller.run() }
        defer { second.cancel() }
        #expect(try await h.eventually { try await h.selectedColor("cart") == "green" })
        let names = try await Api<Deployment>(h.client, namespace: "default").list().items.compactMap(\.metadata.name).sorted()
        #expect(names == ["cart-blue", "cart-green"])
    }
}
