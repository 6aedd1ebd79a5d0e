import Foundation
import Testing
import BlueGreen
import KubeClient
import KubeCore
import KubeRuntime
import LocalCluster
import TestSupport

/// What a reviewer found the controller got wrong: each test fails on the code before the fix.
@Suite struct BlueGreenCorrectnessTests {
    /// Writes a Deployment's status as the Deployment controller would report it (simulation off).
    func report(_ h: Harness, _ name: String, replicas: Int64, updated: Int64, ready: Int64, available: Int64) async throws {
        let d = try #require(try await h.deployment(name), "\(name) was not created")
        _ = try await Api<Deployment>(h.client, namespace: "default").patchStatus(name, .merge(["status": [
            "observedGeneration": .int(d.metadata.generation ?? 1), "replicas": .int(replicas), "updatedReplicas": .int(updated),
            "readyReplicas": .int(ready), "availableReplicas": .int(available), "unavailableReplicas": .int(max(0, replicas - available)),
        ]]))
    }

    func events(_ h: Harness, reason: String) async throws -> [Event] {
        try await Api<Event>(h.client, namespace: "default").list().items.filter { $0.reason == reason }
    }

    @Test func aColourWithOldOrUnavailablePodsIsNeverSwitchedTo() async throws {
        let h = try await Harness.start(simulateWorkloads: false)
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.bgd("api", image: "api:1", service: "api")
        #expect(try await h.eventually { try await h.deployment("api-blue") != nil })
        try await report(h, "api-blue", replicas: 2, updated: 2, ready: 2, available: 2)
        #expect(try await h.eventually { try await h.selectedColor("api") == "blue" })
        try await h.setImage("api", "api:2")
        #expect(try await h.eventually { try await h.deployment("api-green") != nil })
        // Mid-rollout: three pods, two of the new template (one of them not ready) and one old one that is ready, so
        // readyReplicas and updatedReplicas both read 2.
        try await report(h, "api-green", replicas: 3, updated: 2, ready: 2, available: 2)
        try await Task.sleep(for: .milliseconds(1200))
        #expect(try await h.selectedColor("api") == "blue", "switched to a colour still running an old pod")
        // Every pod updated, none old, but one not available yet.
        try await report(h, "api-green", replicas: 2, updated: 2, ready: 1, available: 1)
        try await Task.sleep(for: .milliseconds(1200))
        #expect(try await h.selectedColor("api") == "blue", "switched to a colour with an unavailable pod")
        // Rolled out as `kubectl rollout status` would say.
        try await report(h, "api-green", replicas: 2, updated: 2, ready: 2, available: 2)
        #expect(try await h.eventually { try await h.selectedColor("api") == "green" })
    }

    @Test func aPromoteWithNothingToPromoteIsClearedAndDoesNotOpenTheNextGate() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("shop", app: "shop")
        try await h.bgd("shop", image: "shop:1", service: "shop", manual: true)
        #expect(try await h.eventually { try await h.api.get("shop").status?.phase == "Healthy" })
        // A promote with nothing waiting is cleared, with a Warning saying so.
        _ = try await h.api.patch("shop", .merge(["spec": ["promote": true]]))
        #expect(try await h.eventually { try await h.api.get("shop").spec.promote == nil })
        #expect(try await h.eventually { try await events(h, reason: "PromotionIgnored").first?.type == "Warning" })
        // The next rollout still waits at the gate.
        try await h.setImage("shop", "shop:2")
        #expect(try await h.eventually { try await h.api.get("shop").status?.phase == "Paused" })
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await h.selectedColor("shop") == "blue", "a stale promote switched the next rollout without a gate")
        // Waiting is said once, not once per reconcile (nor folded into a series of two).
        #expect(try await h.eventually { try await events(h, reason: "AwaitingPromotion").count == 1 })
        let awaiting = try await events(h, reason: "AwaitingPromotion")
        #expect(awaiting.count == 1 && (awaiting.first?.series?.count ?? 1) == 1, "AwaitingPromotion: \(awaiting.map { $0.series?.count ?? 1 })")
        // A promote given now switches, and the approval names the template it approved.
        _ = try await h.api.patch("shop", .merge(["spec": ["promote": true]]))
        #expect(try await h.eventually { try await h.selectedColor("shop") == "green" })
        let promoted = try await h.api.get("shop")
        #expect(promoted.spec.promote == nil)
        #expect(promoted.metadata.annotations?[BlueGreenController.promotedTemplateAnnotation]
                == BlueGreenController.approval(.green, BlueGreenController.templateHash(promoted.spec.template)))
        // That approval does not carry over to the template after it.
        try await h.setImage("shop", "shop:3")
        #expect(try await h.eventually { try await h.api.get("shop").status?.phase == "Paused" })
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await h.selectedColor("shop") == "green")
    }

    @Test func anAutomaticResourceClearsAPromoteToo() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("auto", app: "auto")
        try await h.bgd("auto", image: "auto:1", service: "auto")
        #expect(try await h.eventually { try await h.api.get("auto").status?.phase == "Healthy" })
        _ = try await h.api.patch("auto", .merge(["spec": ["promote": true]]))
        #expect(try await h.eventually { try await h.api.get("auto").spec.promote == nil })
        #expect(try await h.eventually { try await events(h, reason: "PromotionIgnored").count == 1 })
    }

    @Test func theOldColourIsScaledDownEvenWhenTheStatusWriteAfterTheSwitchIsLost() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("cart", app: "cart")
        try await h.bgd("cart", image: "cart:1", service: "cart", delay: 1)
        #expect(try await h.eventually { try await h.api.get("cart").status?.phase == "Healthy" })
        // The first status write after the Service switch never reaches the API server (as a crash or a cut
        // connection would lose it).
        let step = h.loseFirstWrite(after: "/services/cart", of: "/bluegreendeployments/cart/status")
        try await h.setImage("cart", "cart:2")
        #expect(try await h.eventually { try await h.selectedColor("cart") == "green" })
        #expect(try await h.eventually { step.value == .lost })
        // The cluster shows two colours up and the Service on green: blue is scaled down after its window.
        #expect(try await h.eventually(.seconds(10)) { try await h.deployment("cart-blue")?.spec?.replicas == 0 },
                "the old colour still runs after the lost status write")
        #expect(try await h.eventually { try await h.api.get("cart").status?.phase == "Healthy" })
        #expect(try await h.api.get("cart").status?.activeColor == "green")
    }

    @Test func aPromotePinnedToAnotherTemplateIsDroppedAndAColourChangeWaitsAtTheGate() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("pin", app: "pin")
        try await h.bgd("pin", image: "pin:1", service: "pin", manual: true)
        #expect(try await h.eventually { try await h.api.get("pin").status?.phase == "Healthy" })
        try await h.setImage("pin", "pin:2")
        #expect(try await h.eventually { try await h.api.get("pin").status?.phase == "Paused" })
        // A promote given while another template was on preview (as the CLI pins it).
        _ = try await h.api.patch("pin", .merge(["metadata": ["annotations": [BlueGreenController.promoteTemplateAnnotation: "someothertemplate"]],
                                                 "spec": ["promote": true]]))
        #expect(try await h.eventually { try await h.api.get("pin").spec.promote == nil })
        #expect(try await h.eventually { try await events(h, reason: "PromotionIgnored").count == 1 })
        #expect(try await h.selectedColor("pin") == "blue")
        #expect(try await h.api.get("pin").metadata.annotations?[BlueGreenController.promoteTemplateAnnotation] == nil)
        // Pinned to the template on preview, it switches.
        let hash = BlueGreenController.templateHash(try await h.api.get("pin").spec.template)
        _ = try await h.api.patch("pin", .merge(["metadata": ["annotations": [BlueGreenController.promoteTemplateAnnotation: .string(hash)]],
                                                 "spec": ["promote": true]]))
        #expect(try await h.eventually { try await h.selectedColor("pin") == "green" })
        // The same template on the other colour is a new preview: it waits for its own promotion.
        _ = try await h.api.patch("pin", .merge(["spec": ["activeColor": "blue"]]))
        #expect(try await h.eventually { try await h.api.get("pin").status?.phase == "Paused" })
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await h.selectedColor("pin") == "green")
    }

    @Test func aLostIngressSwitchIsFinishedBeforeTheOldColourGoes() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("site", app: "site")
        try await h.ingress("site", to: "site")
        try await h.bgd("site", image: "site:1", service: "site", delay: 1)
        _ = try await h.api.patch("site", .merge(["spec": ["ingress": ["name": "site"]]]))
        func ingressTarget() async throws -> String? { try await h.ingressTarget("site") }
        #expect(try await h.eventually { try await ingressTarget() == "site-blue" })
        #expect(try await h.eventually { try await h.api.get("site").status?.phase == "Healthy" })
        // The Ingress write after the next Service switch is lost.
        let step = h.loseFirstWrite(after: "/services/site", of: "/ingresses/site")
        try await h.setImage("site", "site:2")
        #expect(try await h.eventually { step.value == .lost })
        // Whenever blue is scaled down, the Ingress no longer sends traffic to it.
        #expect(try await h.eventually(.seconds(10)) { try await h.deployment("site-blue")?.spec?.replicas == 0 })
        #expect(try await ingressTarget() == "site-green")
    }

    @Test func aTemplateTheAPIServerRefusesStallsThatResourceWithAnEvent() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("typo", app: "typo")
        try await h.service("fine", app: "fine")
        // The CRD keeps the template as given; the API server refuses the Deployment made from it.
        var spec = BlueGreenDeployment.Spec(replicas: 2, selector: LabelSelector(matchLabels: ["app": "typo"]),
                                            template: ["metadata": ["labels": ["app": "typo"]],
                                                       "spec": ["containers": [["name": "app", "imagee": "typo:1"]]]],
                                            activeService: "typo")
        spec.scaleDownDelaySeconds = 1
        _ = try await h.api.create(BlueGreenDeployment(metadata: ObjectMeta(name: "typo"), spec: spec))
        try await h.bgd("fine", image: "fine:1", service: "fine")
        #expect(try await h.eventually {
            try await h.api.get("typo").status?.conditions?.first { $0.type == "Stalled" }?.reason == "InvalidTemplate"
        })
        let stalled = try await h.api.get("typo").status?.conditions?.first { $0.type == "Stalled" }?.message ?? ""
        #expect(stalled.contains("imagee"), "\(stalled)")
        #expect(try await h.eventually { try await events(h, reason: "InvalidTemplate").first?.type == "Warning" })
        #expect(try await h.eventually { try await h.selectedColor("fine") == "blue" })  // others carry on
        // Fixing the template (a merge patch replaces the containers list) resumes it.
        try await h.setImage("typo", "typo:2")
        #expect(try await h.eventually { try await h.selectedColor("typo") == "blue" })
    }
}
