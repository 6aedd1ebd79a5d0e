import Foundation
import Testing
import KubeClient
import KubeCore
@testable import LocalCluster
import TestSupport

/// LocalCluster's RBAC for rbacTokens users, against kube-apiserver's RequestInfo and rule matching.
@Suite struct RBACAuthorizerTests {
    @Test func requestAttributesAsRequestInfoHasThem() {
        let a = RBACAuthorizer.attributes(method: "GET", path: "/api/v1/namespaces/ns/secrets", query: ["watch": "true", "fieldSelector": "metadata.name=keys"])
        #expect(a.verb == "watch" && a.resource == "secrets" && a.namespace == "ns" && a.name == "keys")
        #expect(RBACAuthorizer.attributes(method: "GET", path: "/api/v1/namespaces/ns/secrets/keys", query: ["watch": "1"]).verb == "get")
        #expect(RBACAuthorizer.attributes(method: "GET", path: "/apis/apps/v1/deployments", query: [:]).verb == "list")
        let status = RBACAuthorizer.attributes(method: "PUT", path: "/apis/ops.salespot.by/v1alpha1/namespaces/ns/bluegreendeployments/api/status", query: [:])
        #expect(status.verb == "update" && status.group == "ops.salespot.by" && status.resource == "bluegreendeployments" && status.subresource == "status")
        let namespace = RBACAuthorizer.attributes(method: "DELETE", path: "/api/v1/namespaces/ns", query: [:])
        #expect(namespace.verb == "delete" && namespace.resource == "namespaces" && namespace.name == "ns" && namespace.namespace == "ns")
        #expect(RBACAuthorizer.attributes(method: "DELETE", path: "/api/v1/namespaces/ns/pods", query: [:]).verb == "deletecollection")
    }

    @Test func rulesMatchAsKubeApiserverMatchesThem() {
        let log = RBACAuthorizer.attributes(method: "GET", path: "/api/v1/namespaces/ns/pods/p/log", query: [:])
        #expect(RBACAuthorizer.covers(["apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]], log))
        #expect(RBACAuthorizer.covers(["apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]], log))
        #expect(!RBACAuthorizer.covers(["apiGroups": [""], "resources": ["pods/*"], "verbs": ["get"]], log), "kube has no resource/* form")
        #expect(!RBACAuthorizer.covers(["apiGroups": [""], "resources": ["pods"], "verbs": ["get"]], log), "a subresource is its own resource")
        let named = RBACAuthorizer.attributes(method: "GET", path: "/api/v1/namespaces/ns/secrets", query: ["watch": "true", "fieldSelector": "metadata.name=keys"])
        #expect(RBACAuthorizer.covers(["apiGroups": [""], "resources": ["secrets"], "resourceNames": ["keys"], "verbs": ["list", "watch"]], named))
        let all = RBACAuthorizer.attributes(method: "GET", path: "/api/v1/namespaces/ns/secrets", query: ["watch": "true"])
        #expect(!RBACAuthorizer.covers(["apiGroups": [""], "resources": ["secrets"], "resourceNames": ["keys"], "verbs": ["list", "watch"]], all))
    }

    @Test func serverSideApplyThatCreatesNeedsCreate() async throws {
        var options = LocalCluster.Options()
        options.pkiDirectory = NSTemporaryDirectory() + "salespot-rbac-pki-\(getpid())"
        options.rbacTokens = ["tok": "system:serviceaccount:default:patcher"]
        let cluster = try await LocalCluster.start(options)
        defer { Task { await cluster.stop() } }
        let admin = KubeClient(configuration: cluster.clientConfiguration())
        _ = try await Api<DynamicObject>(admin, resource: ResourceDescriptor(group: "rbac.authorization.k8s.io", version: "v1", resource: "roles", kind: "Role", namespaced: true), namespace: "default")
            .create(DynamicObject(["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": ["name": "patcher"],
                                   "rules": [["apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"]]]]))
        _ = try await Api<DynamicObject>(admin, resource: ResourceDescriptor(group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings", kind: "RoleBinding", namespaced: true), namespace: "default")
            .create(DynamicObject(["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": ["name": "patcher"],
                                   "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "patcher"],
                                   "subjects": [["kind": "ServiceAccount", "name": "patcher"]]]))
        let patcher = Api<ConfigMap>(KubeClient(configuration: cluster.clientConfiguration(token: "tok")), namespace: "default")
        let body: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "made"], "data": ["a": "1"]]
        do {
            _ = try await patcher.apply(body, fieldManager: "test")
            Issue.record("an apply that creates went through with patch only")
        } catch let e as KubeError { #expect(e.code == 403 && (e.status?.message ?? "").contains("cannot create"), "\(e)") }
        _ = try await Api<ConfigMap>(admin, namespace: "default").create(ConfigMap(metadata: ObjectMeta(name: "made")))
        _ = try await patcher.apply(body, fieldManager: "test")  // it exists now: patch is enough
        #expect(try await Api<ConfigMap>(admin, namespace: "default").get("made").data?["a"] == "1")
        // Another namespace: no binding there.
        do {
            _ = try await Api<ConfigMap>(KubeClient(configuration: cluster.clientConfiguration(token: "tok")), namespace: "kube-system").get("x")
            Issue.record("read outside its namespace")
        } catch let e as KubeError { #expect(e.code == 403) }
    }
}
