import Foundation
import Testing
import TestSupport
import KubeCore
@testable import KubeClient

@Suite struct ApiTests {
    func cm(_ name: String, rv: String) -> JSONValue {
        ["metadata": ["name": .string(name), "namespace": "ns1", "resourceVersion": .string(rv)], "data": ["k": "v"]]
    }

    @Test func queriesAndPathSegmentsArePercentEncodedAsRFC3986() {
        #expect(KubeClient.encodeQuery("app in (web,api)") == "app%20in%20%28web%2Capi%29")
        #expect(KubeClient.encodeQuery("a=b&c") == "a%3Db%26c")
        #expect(KubeClient.encodeQuery("Az09-._~") == "Az09-._~")
        // Non-ASCII letters are encoded byte by byte, not passed through as "alphanumerics".
        #expect(KubeClient.encodePathSegment("café") == "caf%C3%A9")
        #expect(" \t value\r\n".trimmingASCIIWhitespace() == "value")
        #expect(" \t ".trimmingASCIIWhitespace() == "")
        #expect("a b".trimmingASCIIWhitespace() == "a b")
        #expect("a%20b%2Fc+d".percentDecoded == "a b/c+d")
        #expect("caf%C3%A9".percentDecoded == "café")
        #expect("bad%2".percentDecoded == nil && "bad%zz".percentDecoded == nil)
    }

    @Test func serverWarningsAreUnquoted() {
        #expect(KubeClient.warningText(#"299 - "unknown field \"spec.replica\"""#) == #"unknown field "spec.replica""#)
        #expect(KubeClient.warningText(#"299 - "policy/v1beta1 PodSecurityPolicy is deprecated""#) == "policy/v1beta1 PodSecurityPolicy is deprecated")
        #expect(KubeClient.warningText("not quoted") == "not quoted")
    }

    @Test func pathArithmetic() {
        #expect(Paths.join("/home/u", ".kube/config") == "/home/u/.kube/config")
        #expect(Paths.join("/home/u/", "x") == "/home/u/x")
        #expect(Paths.join("/", "x") == "/x")
        #expect(Paths.join("", "x") == "x")
        #expect(Paths.directory(of: "/a/b/config") == "/a/b")
        #expect(Paths.directory(of: "/config") == "/")
        #expect(Paths.directory(of: "config") == "")
        #expect(Paths.directory(of: "/a/b/") == "/a")
    }

    @Test func subprocessesReportStatusAndBothStreams() async throws {
        let r = try await Posix.run("sh", arguments: ["-c", "printf out; printf err >&2; head -c 200000 /dev/zero; exit 3"],
                                    environment: ["PATH": "/usr/bin:/bin"])
        #expect(r.status == 3)
        #expect(r.stdout.prefix(3) == Array("out".utf8)[...] && r.stdout.count == 200_003)  // more than a pipe holds
        #expect(r.stderr == Array("err".utf8))
        let killed = try await Posix.run("sh", arguments: ["-c", "kill -9 $$"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(killed.status == 128 + 9)
        await #expect(throws: Posix.SpawnError.self) {
            _ = try await Posix.run("no-such-program-salespot", arguments: [], environment: [:])
        }
    }

    @Test func paginatesAcrossThreePages() async throws {
        let t = ScriptedTransport([
            json(200, ["kind": "ConfigMapList", "metadata": ["resourceVersion": "100", "continue": "tok1"], "items": [cm("a", rv: "1"), cm("b", rv: "2")]]),
            json(200, ["kind": "ConfigMapList", "metadata": ["resourceVersion": "100", "continue": "tok2"], "items": [cm("c", rv: "3")]]),
            json(200, ["kind": "ConfigMapList", "metadata": ["resourceVersion": "100"], "items": [cm("d", rv: "4")]]),
        ])
        let api = Api<ConfigMap>(makeClient(t), namespace: "ns1")
        let (items, rv) = try await api.listAll(ListOptions(labelSelector: "mirror=true", resourceVersion: "0"), pageSize: 2)
        #expect(items.map { $0.metadata.name } == ["a", "b", "c", "d"])
        #expect(rv == "100")
        let urls = t.requests.map(\.url)
        #expect(urls[0] == "https://k8s.test:6443/api/v1/namespaces/ns1/configmaps?labelSelector=mirror%3Dtrue&limit=2&resourceVersion=0")
        #expect(urls[1] == "https://k8s.test:6443/api/v1/namespaces/ns1/configmaps?labelSelector=mirror%3Dtrue&limit=2&continue=tok1")
        #expect(urls[2].hasSuffix("continue=tok2"))
        #expect(t.requests.allSatisfy { $0.headers["Authorization"] == "Bearer t0k" })
    }

    @Test func clusterScopedAndGroupedPaths() async throws {
        let t = ScriptedTransport([json(200, ["metadata": ["name": "x"], "spec": ["group": "g", "names": ["plural": "ps", "kind": "P"], "scope": "Namespaced", "versions": []]]),
                                   json(200, ["metadata": ["name": "d", "namespace": "other"]])])
        let client = makeClient(t)
        _ = try await Api<CustomResourceDefinition>(client, namespace: "ignored").get("x")
        _ = try await Api<Deployment>(client).get("d", namespace: "other")
        #expect(t.requests[0].url == "https://k8s.test:6443/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x")
        #expect(t.requests[1].url == "https://k8s.test:6443/apis/apps/v1/namespaces/other/deployments/d")
    }

    @Test func conflictKeepsTheServerStatus() async throws {
        let t = ScriptedTransport([json(409, statusBody(409, "Conflict", "the object has been modified; please apply your changes to the latest version"))])
        let api = Api<ConfigMap>(makeClient(t), namespace: "ns1")
        var obj = ConfigMap(metadata: ObjectMeta(name: "a", namespace: "ns1"), data: ["k": "v"])
        obj.metadata.resourceVersion = "1"
        do {
            _ = try await api.update(obj)
            Issue.record("expected a conflict")
        } catch let e as KubeError {
            #expect(e.isConflict)
            #expect(!e.isRetryable)
            #expect(e.status?.message?.contains("has been modified") == true)
            #expect(t.requests[0].method == "PUT")
            let sent = try JSONParser.parse(t.requests[0].body ?? [])
            #expect(sent[path: ["metadata", "resourceVersion"]] == "1")
            #expect(sent["kind"] == "ConfigMap")
        }
    }

    @Test func goneIsItsOwnCase() async throws {
        let t = ScriptedTransport([json(410, statusBody(410, "Expired", "too old resource version: 1 (500)"))])
        do {
            _ = try await Api<ConfigMap>(makeClient(t), namespace: "ns1").list(ListOptions(resourceVersion: "1", resourceVersionMatch: "Exact"))
            Issue.record("expected 410")
        } catch let e as KubeError {
            guard case .resourceExpired(let api) = e else { Issue.record("wrong case \(e)"); return }
            #expect(api.code == 410)
            #expect(!e.isRetryable)
        }
    }

    @Test func honoursRetryAfterOn429() async throws {
        let clock = ManualClock()
        var headers = HTTPHeaders()
        headers.add("Retry-After", "7")
        let t = ScriptedTransport([
            json(429, statusBody(429, "TooManyRequests", "slow down"), headers: headers),
            json(200, cm("a", rv: "1")),
        ])
        let got = try await Api<ConfigMap>(makeClient(t, clock: clock), namespace: "ns1").get("a")
        #expect(got.metadata.name == "a")
        #expect(clock.sleeps == [.seconds(7)])
        #expect(t.requests.count == 2)
    }

    @Test func retryAfterFromStatusDetailsAndGiveUpAfterMaxRetries() async throws {
        let clock = ManualClock()
        var body = statusBody(429, "TooManyRequests", "slow down")
        body["details"] = ["retryAfterSeconds": 2]
        let t = ScriptedTransport([json(429, body), json(429, body), json(429, body)])
        do {
            _ = try await Api<ConfigMap>(makeClient(t, clock: clock, maxRetries: 2), namespace: "ns1").get("a")
            Issue.record("expected 429")
        } catch let e as KubeError {
            #expect(e.code == 429)
            #expect(e.isRetryable)
            #expect(e.retryAfter == .seconds(2))
        }
        #expect(clock.sleeps == [.seconds(2), .seconds(2)])
    }

    @Test func serverErrorWithoutRetryAfterIsRetryableButNotRetriedHere() async throws {
        let clock = ManualClock()
        let t = ScriptedTransport([.response(HTTPResponse(status: 503, body: Array("<html>upstream down</html>".utf8)))])
        do {
            _ = try await Api<ConfigMap>(makeClient(t, clock: clock), namespace: "ns1").get("a")
            Issue.record("expected 503")
        } catch let e as KubeError {
            #expect(e.code == 503)
            #expect(e.isRetryable)
            #expect(e.status?.message?.contains("upstream down") == true)
        }
        #expect(clock.sleeps.isEmpty)
    }

    @Test func terminalCodesAreNotRetryable() {
        for code in [400, 403, 404, 409, 422] {
            let e = KubeError.fromResponse(code: code, body: statusBody(code, "X", "m").serialized(), headers: HTTPHeaders(), method: "GET", path: "/")
            #expect(!e.isRetryable, "code \(code)")
        }
        #expect(KubeError.transport(TransportError(kind: .connectionReset, message: "reset")).isRetryable)
        #expect(KubeError.transport(TransportError(kind: .timedOut, message: "timeout")).isRetryable)
        #expect(!KubeError.transport(TransportError(kind: .tls, message: "bad cert")).isRetryable)
    }

    @Test func patchesCarryTheirMediaTypes() async throws {
        let t = ScriptedTransport([json(200, cm("a", rv: "2")), json(200, cm("a", rv: "3")), json(200, cm("a", rv: "4")), json(200, cm("a", rv: "5"))])
        let api = Api<ConfigMap>(makeClient(t), namespace: "ns1")
        _ = try await api.patch("a", .merge(["data": ["k": "w"]]), fieldManager: "salespot")
        _ = try await api.patch("a", .json([.test("/metadata/resourceVersion", "2"), .add("/metadata/finalizers/-", "x")]))
        _ = try await api.apply(["metadata": ["name": "a"], "data": ["k": "z"]], fieldManager: "salespot", force: true)
        _ = try await api.patchStatus("a", .merge(["status": ["ok": true]]))
        let r = t.requests
        #expect(r[0].headers["Content-Type"] == "application/merge-patch+json")
        #expect(r[0].url.hasSuffix("/configmaps/a?fieldManager=salespot"))
        #expect(r[1].headers["Content-Type"] == "application/json-patch+json")
        #expect(String(decoding: r[1].body ?? [], as: UTF8.self) == #"[{"op":"test","path":"/metadata/resourceVersion","value":"2"},{"op":"add","path":"/metadata/finalizers/-","value":"x"}]"#)
        #expect(r[2].headers["Content-Type"] == "application/apply-patch+yaml")
        #expect(r[2].url.hasSuffix("?fieldManager=salespot&force=true"))
        let applied = try JSONParser.parse(r[2].body ?? [])
        #expect(applied["apiVersion"] == "v1" && applied["kind"] == "ConfigMap")
        #expect(r[3].url.hasSuffix("/configmaps/a/status"))
    }

    @Test func deleteSendsOptionsAndReportsPendingOrDeleted() async throws {
        let t = ScriptedTransport([
            json(200, ["kind": "Status", "status": "Success"]),
            json(200, ["metadata": ["name": "b", "deletionTimestamp": "2024-05-01T10:00:00Z", "finalizers": ["x"]]]),
        ])
        let api = Api<ConfigMap>(makeClient(t), namespace: "ns1")
        let first = try await api.delete("a", options: DeleteOptions(propagationPolicy: .foreground, gracePeriodSeconds: 0,
                                                                   preconditions: .init(uid: "u1", resourceVersion: "9")))
        guard case .deleted = first else { Issue.record("expected deleted"); return }
        let second = try await api.delete("b")
        guard case .pending(let obj) = second else { Issue.record("expected pending"); return }
        #expect(obj.metadata.finalizers == ["x"])
        let sent = try JSONParser.parse(t.requests[0].body ?? [])
        #expect(sent["propagationPolicy"] == "Foreground")
        #expect(sent["gracePeriodSeconds"] == 0)
        #expect(sent[path: ["preconditions", "uid"]] == "u1")
        #expect(t.requests[0].method == "DELETE")
    }

    @Test func createFillsKindAndNamespace() async throws {
        let t = ScriptedTransport([json(201, cm("a", rv: "1"))])
        _ = try await Api<ConfigMap>(makeClient(t), namespace: "ns1").create(ConfigMap(metadata: ObjectMeta(name: "a")), dryRun: true)
        let sent = try JSONParser.parse(t.requests[0].body ?? [])
        #expect(sent["apiVersion"] == "v1")
        #expect(sent[path: ["metadata", "namespace"]] == "ns1")
        #expect(t.requests[0].url.hasSuffix("/namespaces/ns1/configmaps?dryRun=All"))
    }

    @Test func dynamicObjectsForAnyResource() async throws {
        let bg = ResourceDescriptor(group: "ops.salespot.by", version: "v1alpha1", resource: "bluegreendeployments",
                                    kind: "BlueGreenDeployment", namespaced: true)
        let t = ScriptedTransport([json(200, ["apiVersion": "ops.salespot.by/v1alpha1", "kind": "BlueGreenDeployment",
                                              "metadata": ["name": "api"], "spec": ["activeColor": "blue"]])])
        let obj = try await Api<DynamicObject>(makeClient(t), resource: bg, namespace: "prod").get("api")
        #expect(obj[path: ["spec", "activeColor"]] == "blue")
        #expect(t.requests[0].url == "https://k8s.test:6443/apis/ops.salespot.by/v1alpha1/namespaces/prod/bluegreendeployments/api")
    }
}
