import Foundation
import Testing
import BlueGreen
import KubeClient
import KubeCore
import KubeRuntime
import LocalCluster
import TestSupport

/// activeMetadata / previewMetadata, and the template hash that names what a colour runs.
@Suite struct PodMetadataTests {
    static let role = "mesh.salespot.by/role"
    static let owner = "salespot.example/owner"

    func pods(_ h: Harness, _ selector: String) async throws -> [Pod] {
        try await Api<Pod>(h.client, namespace: "default").list(ListOptions(labelSelector: selector)).items
            .filter { $0.metadata.deletionTimestamp == nil }
    }

    static func isReady(_ pod: Pod) -> Bool {
        (pod.status?["conditions"]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
    }

    @Test func roleMetadataFollowsTheColoursInPlaceAndSomeReadyPodAlwaysCarriesTheActiveRole() async throws {
        let kubectl = try requireTool("kubectl")
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.bgd("api", image: "api:1", service: "api", delay: 30, manual: true)
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" })
        let generation = try #require(try await h.deployment("api-blue")?.metadata.generation)
        try await h.changeSpec("api") { spec in
            spec.activeMetadata = .init(labels: [Self.role: "active"], annotations: [Self.owner: "team-a"])
            spec.previewMetadata = .init(labels: [Self.role: "preview"])
        }
        // The running blue pods get the active metadata in place: the Deployment's template is not touched.
        #expect(try await h.eventually {
            let blue = try await pods(h, "app=api,salespot.by/color=blue")
            return blue.count == 2 && blue.allSatisfy {
                $0.metadata.labels?[Self.role] == "active" && $0.metadata.annotations?[Self.owner] == "team-a"
                    && $0.metadata.annotations?[BlueGreenController.podMetadataAnnotation] == "labels=\(Self.role);annotations=\(Self.owner)"
            }
        })
        #expect(try await h.deployment("api-blue")?.metadata.generation == generation, "the template was changed")
        #expect(try await h.deployment("api-blue")?.spec?.template.metadata?.labels?[Self.role] == nil)

        // From here on, at every moment some ready pod carries the active role.
        let violations = Locked([String]())
        let monitor = Task {
            while !Task.isCancelled {
                if let active = try? await pods(h, "\(Self.role)=active"), !active.contains(where: Self.isReady) {
                    violations.mutate { $0.append("no ready pod carries \(Self.role)=active (\(active.count) unready)") }
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        // The preview carries the preview metadata, not the active one.
        try await h.setImage("api", "api:2")
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Paused" })
        #expect(try await h.eventually {
            let green = try await pods(h, "app=api,salespot.by/color=green")
            return green.count == 2 && green.allSatisfy {
                $0.metadata.labels?[Self.role] == "preview" && $0.metadata.annotations?[Self.owner] == nil
                    && $0.metadata.annotations?[BlueGreenController.podMetadataAnnotation] == "labels=\(Self.role)"
            }
        })
        let greenUIDs = Set(try await pods(h, "app=api,salespot.by/color=green").compactMap(\.metadata.uid))
        // Promoted: the same green pods (not restarted) become active; blue, kept for rollback, loses its role.
        _ = try await h.api.patch("api", .merge(["spec": ["promote": true]]))
        #expect(try await h.eventually { try await h.selectedColor("api") == "green" })
        #expect(try await h.eventually {
            let green = try await pods(h, "app=api,salespot.by/color=green")
            let blue = try await pods(h, "app=api,salespot.by/color=blue")
            return green.allSatisfy { $0.metadata.labels?[Self.role] == "active" && $0.metadata.annotations?[Self.owner] == "team-a" }
                && blue.count == 2
                && blue.allSatisfy {
                    $0.metadata.labels?[Self.role] == nil && $0.metadata.annotations?[Self.owner] == nil
                        && $0.metadata.annotations?[BlueGreenController.podMetadataAnnotation] == nil
                }
        })
        #expect(Set(try await pods(h, "app=api,salespot.by/color=green").compactMap(\.metadata.uid)) == greenUIDs, "green's pods were replaced")
        // A pod that appears later (a scale) gets the metadata of its colour's role.
        let scale = try await runAsync(kubectl, ["--kubeconfig", h.cluster.kubeconfigPath, "scale", "bgd/api", "--replicas=3"])
        #expect(scale.status == 0, "\(scale.out) \(scale.err)")
        #expect(try await h.eventually {
            let green = try await pods(h, "app=api,salespot.by/color=green")
            return green.count == 3 && green.allSatisfy { $0.metadata.labels?[Self.role] == "active" }
        })
        // A label taken off by hand is put back.
        let victim = try #require(try await pods(h, "app=api,salespot.by/color=green").first?.metadata.name)
        _ = try await Api<Pod>(h.client, namespace: "default").patch(victim, .merge(["metadata": ["labels": [.init(stringLiteral: Self.role): nil]]]))
        #expect(try await h.eventually { try await Api<Pod>(h.client, namespace: "default").get(victim).metadata.labels?[Self.role] == "active" })
        monitor.cancel()
        #expect(violations.value.isEmpty, "\(violations.value.prefix(3))")

        // Taken out of the spec: taken off the pods, with the record.
        try await h.changeSpec("api") { spec in
            spec.activeMetadata = nil
            spec.previewMetadata = nil
        }
        #expect(try await h.eventually {
            try await pods(h, "app=api").allSatisfy {
                $0.metadata.labels?[Self.role] == nil && $0.metadata.annotations?[Self.owner] == nil
                    && $0.metadata.annotations?[BlueGreenController.podMetadataAnnotation] == nil
            }
        })
        #expect(try await h.eventually { try await h.api.get("api").status?.conditions?.first { $0.type == "Ready" }?.status == "True" })
    }

    @Test func roleMetadataThatWouldRelabelTheSelectionOrThatTheServerRefusesStallsWithTheReason() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.bgd("api", image: "api:1", service: "api")
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" })
        func stalled(_ text: String) async throws -> Bool {
            let c = try await h.api.get("api").status?.conditions?.first { $0.type == "Stalled" }
            return c?.reason == "InvalidSpec" && (c?.message ?? "").contains(text)
        }
        for (labels, reason) in [(["app": "other"], "selects the pods"), (["salespot.by/color": "green"], "selects the pods"),
                                 (["team": "bad value!"], "Invalid value: \"bad value!\""), (["bad key!": "x"], "name part must consist")] {
            try await h.changeSpec("api") { spec in spec.activeMetadata = .init(labels: labels) }
            #expect(try await h.eventually { try await stalled(reason) }, "\(labels)")
        }
        // Nothing reached the pods, and the Service still selects them.
        let pods = try await pods(h, "app=api")
        #expect(pods.count == 2 && pods.allSatisfy { $0.metadata.annotations?[BlueGreenController.podMetadataAnnotation] == nil })
        #expect(try await h.selectedColor("api") == "blue")
        // Label values the API server would refuse are refused by the CRD schema already.
        var bgd = try await h.api.get("api")
        bgd.spec.activeMetadata = .init(labels: ["team": String(repeating: "a", count: 64)])
        await #expect(throws: KubeError.self) { _ = try await h.api.update(bgd) }
        // Fixed: the stall clears and the pods get it.
        try await h.changeSpec("api") { spec in spec.activeMetadata = .init(labels: ["team": "payments"]) }
        #expect(try await h.eventually {
            let labelled = try await self.pods(h, "app=api,team=payments").count
            let conditions = try await h.api.get("api").status?.conditions ?? []
            return labelled == 2 && !conditions.contains { $0.type == "Stalled" }
        })
    }

    @Test func aRefusedPodPatchHoldsTheSwitchWithAReasonButNeverAnAbort() async throws {
        let h = try await Harness.start()
        defer { h.stop() }
        try await h.service("api", app: "api")
        try await h.bgd("api", image: "api:1", service: "api", delay: 30, manual: true)
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Healthy" })
        try await h.changeSpec("api") { spec in spec.activeMetadata = .init(labels: [Self.role: "active"]) }
        #expect(try await h.eventually { try await pods(h, "\(Self.role)=active").count == 2 })
        try await h.setImage("api", "api:2")
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Paused" })
        // From here the API server refuses every pod patch (as an admission webhook or a policy might).
        h.cluster.failNext(10_000, pathContains: "/pods/", method: "PATCH", status: 422)
        _ = try await h.api.patch("api", .merge(["spec": ["promote": true]]))
        #expect(try await h.eventually {
            let stalled = try await h.api.get("api").status?.conditions?.first { $0.type == "Stalled" }
            return stalled?.reason == "PodMetadataRefused" && (stalled?.message ?? "").contains("refused its role metadata")
        })
        #expect(try await h.selectedColor("api") == "blue", "switched to pods without the active metadata")
        // An abort is never held up by it.
        _ = try await h.api.patch("api", .merge(["spec": ["abort": true]]))
        #expect(try await h.eventually { try await h.api.get("api").status?.phase == "Aborted" })
        #expect(try await h.eventually { try await h.deployment("api-green")?.spec?.replicas == 0 })
        // Once the server takes them again, the rollout goes on.
        h.cluster.clearFaults()
        _ = try await h.api.patch("api", .merge(["spec": ["abort": false, "promote": true]]))
        #expect(try await h.eventually(.seconds(30)) { try await h.selectedColor("api") == "green" })
        #expect(try await h.eventually { try await pods(h, "app=api,salespot.by/color=green,\(Self.role)=active").count == 2 })
    }

    /// The template-hash label names what each colour's Deployment runs; an operator upgrade that computed it
    /// differently would roll every BlueGreenDeployment out again. Pinned to values computed by this version.
    @Test func theTemplateHashIsStableAcrossKeyOrderAndPinned() throws {
        let a: JSONValue = try JSONParser.parse(Array(#"{"metadata":{"labels":{"app":"api","tier":"web"}},"spec":{"containers":[{"name":"app","image":"api:1","ports":[{"containerPort":8080}]}]}}"#.utf8))
        let b: JSONValue = try JSONParser.parse(Array(#"{"spec":{"containers":[{"ports":[{"containerPort":8080}],"image":"api:1","name":"app"}]},"metadata":{"labels":{"tier":"web","app":"api"}}}"#.utf8))
        #expect(BlueGreenController.templateHash(a) == BlueGreenController.templateHash(b))
        #expect(BlueGreenController.templateHash(a) == "3smei77rfkf3n")
        // Any change of the template changes it, a container's order too.
        var c = a
        c[path: ["spec", "containers"]] = [["name": "app", "image": "api:2", "ports": [["containerPort": 8080]]]]
        #expect(BlueGreenController.templateHash(c) != BlueGreenController.templateHash(a))
        #expect(BlueGreenController.templateHash(["metadata": ["labels": ["app": "api"]], "spec": ["containers": [["name": "app", "image": "api:1"]]]]) == "f0qozm6dt4sb")
    }
}
