import Foundation
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport
@testable import KubeRuntime

@Suite struct HelpersTests {
    @Test func finalizersAreAddedAndRemovedWithTestGuards() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let api = Api<ConfigMap>(KubeClient(configuration: cluster.clientConfiguration()), namespace: "default")
        var cm = try await api.create(ConfigMap(metadata: ObjectMeta(name: "f"), data: [:]))
        cm = try await Finalizers.add("salespot.by/a", to: cm, api: api)
        cm = try await Finalizers.add("salespot.by/b", to: cm, api: api)
        cm = try await Finalizers.add("salespot.by/b", to: cm, api: api)  // idempotent
        #expect(cm.metadata.finalizers == ["salespot.by/a", "salespot.by/b"])
        // A stale copy cannot clobber a concurrent change: the test operation fails.
        let stale = cm
        _ = try await Finalizers.remove("salespot.by/a", from: cm, api: api)
        do {
            _ = try await Finalizers.remove("salespot.by/a", from: stale, api: api)
            Issue.record("expected the guarded patch to fail")
        } catch let e as KubeError {
            #expect(e.isInvalid)
        }
        #expect(try await api.get("f").metadata.finalizers == ["salespot.by/b"])
        // Deleting waits for the last finalizer.
        _ = try await api.delete("f")
        let marked = try await api.get("f")
        #expect(marked.metadata.deletionTimestamp != nil)
        _ = try await Finalizers.remove("salespot.by/b", from: marked, api: api)
        #expect(try await api.getIfExists("f") == nil)
    }

    @Test func eventsFoldRepeatsIntoASeries() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let cm = try await Api<ConfigMap>(client, namespace: "default").create(ConfigMap(metadata: ObjectMeta(name: "x"), data: [:]))
        let recorder = EventRecorder(client: client, reportingController: "salespot.by/test", reportingInstance: "test-1")
        let ref = ObjectReference(apiVersion: "v1", kind: "ConfigMap", name: "x", namespace: "default", uid: cm.metadata.uid)
        for _ in 0..<3 { await recorder.record(regarding: ref, reason: "Synced", action: "Sync", note: "mirrored") }
        await recorder.record(regarding: ref, type: "Warning", reason: "Failed", action: "Sync", note: "boom")
        let events = try await Api<Event>(client, namespace: "default").list().items
        #expect(events.count == 2)
        let synced = try #require(events.first { $0.reason == "Synced" })
        #expect(synced.series?.count == 3)
        #expect(synced.regarding?.uid == cm.metadata.uid)
        #expect(synced.reportingController == "salespot.by/test")
        #expect(events.first { $0.reason == "Failed" }?.type == "Warning")
    }

    @Test func emittedEventsAreSentInOrderWithoutBlockingTheCaller() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let recorder = EventRecorder(client: client, reportingController: "salespot.by/test", reportingInstance: "test-1")
        let ref = ObjectReference(apiVersion: "v1", kind: "ConfigMap", name: "y", namespace: "default", uid: "uid-y")
        for i in 0..<20 { recorder.emit(regarding: ref, reason: "Step", action: "Sync", note: "step \(i)") }
        recorder.emit(regarding: ref, reason: "Step", action: "Sync", note: "step 0")  // a repeat: folded
        await recorder.drain()
        let events = try await Api<Event>(client, namespace: "default").list().items
        let byNote = Dictionary(events.map { ($0.note ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(events.count == 20 && byNote.count == 20)
        // Stamped when emitted, so their times follow the order of the calls.
        let times = (0..<20).map { byNote["step \($0)"]?.eventTime?.time.secondsSince1970 ?? -1 }
        #expect(times.allSatisfy { $0 > 0 } && times == times.sorted(), "\(times)")
        #expect(byNote["step 0"]?.series?.count == 2)
    }

    @Test func ownerReferencesAndLabelIndex() throws {
        var owner = ConfigMap(metadata: ObjectMeta(name: "o", namespace: "ns"))
        owner.metadata.uid = "u-1"
        let ref = try #require(owner.ownerReference(resource: ConfigMap.resource))
        #expect(ref == OwnerReference(apiVersion: "v1", kind: "ConfigMap", name: "o", uid: "u-1", controller: true, blockOwnerDeletion: true))
        var dependent = Secret(metadata: ObjectMeta(name: "d", namespace: "ns", labels: ["app": "web"]))
        dependent.metadata.ownerReferences = [ref]
        #expect(dependent.isControlled(by: "u-1"))
        let store = Store<Secret>()
        store.apply(.apply(dependent))
        #expect(store.owned(by: "u-1").count == 1)
        #expect(store.labelled("app", "web").count == 1)
        #expect(store.list(namespace: "ns").count == 1)
        dependent.metadata.labels = ["app": "api"]
        store.apply(.apply(dependent))
        #expect(store.labelled("app", "web").isEmpty)
        store.apply(.delete(dependent))
        #expect(store.count == 0 && store.owned(by: "u-1").isEmpty)
    }

    @Test func compactStoreRoundTripsAndIndexes() {
        let store = Store<ConfigMap>(representation: .compact)
        var cm = ConfigMap(metadata: ObjectMeta(name: "a", namespace: "n", labels: ["tier": "web"]), data: ["k": "v", "unicode": "жёлтый ✓"])
        cm.metadata.managedFields = [["manager": "kubectl"]]
        cm.metadata.ownerReferences = [OwnerReference(apiVersion: "v1", kind: "X", name: "o", uid: "u", controller: true)]
        store.apply(.apply(cm))
        let got = store.get(ObjectRef(namespace: "n", name: "a"))
        #expect(got?.data == cm.data)
        #expect(got?.metadata.managedFields == nil)  // stripped
        #expect(store.owned(by: "u").count == 1)
        #expect(store.labelled("tier", "web").count == 1)
        store.apply(.delete(cm))
        #expect(store.count == 0 && store.owned(by: "u").isEmpty && store.labelled("tier", "web").isEmpty)
    }

    @Test func aRelistDropsObjectsThatAreGone() {
        let store = Store<ConfigMap>()
        store.apply(.initStart)
        store.apply(.initApply(ConfigMap(metadata: ObjectMeta(name: "a", namespace: "n"))))
        store.apply(.initApply(ConfigMap(metadata: ObjectMeta(name: "b", namespace: "n"))))
        store.apply(.initDone)
        #expect(store.hasSynced && store.count == 2)
        store.apply(.initStart)
        store.apply(.initApply(ConfigMap(metadata: ObjectMeta(name: "a", namespace: "n"))))
        let gone = store.apply(.initDone)
        #expect(gone.map(\.ref.name) == ["b"])
        #expect(store.count == 1)
    }

    @Test func aRelistOfOneNamespaceLeavesTheOthersAlone() {
        let store = Store<ConfigMap>()
        store.expectScopes(2)
        for ns in ["a", "b"] {
            store.apply(.initStart, scope: ns)
            store.apply(.initApply(ConfigMap(metadata: ObjectMeta(name: "x", namespace: ns))), scope: ns)
            #expect(store.hasSynced == false)  // not before both namespaces have listed
            store.apply(.initDone, scope: ns)
        }
        #expect(store.hasSynced && store.count == 2)
        // Namespace a is listed again and is now empty: only its object goes.
        store.apply(.initStart, scope: "a")
        let gone = store.apply(.initDone, scope: "a")
        #expect(gone.map(\.ref) == [ObjectRef(namespace: "a", name: "x")])
        #expect(store.list(namespace: "b").count == 1)
    }

    @Test func customIndexesFollowUpdatesAndDeletes() {
        let store = Store<ConfigMap>()
        store.apply(.apply(ConfigMap(metadata: ObjectMeta(name: "early", namespace: "n"), data: ["svc": "a"])))
        // Added after objects are cached: they are indexed too.
        store.addIndex("svc") { cm in cm.data?["svc"].map { ["\(cm.metadata.namespace ?? "")/\($0)"] } ?? [] }
        store.apply(.apply(ConfigMap(metadata: ObjectMeta(name: "late", namespace: "n"), data: ["svc": "a"])))
        #expect(Set(store.refs(index: "svc", value: "n/a").map(\.name)) == ["early", "late"])
        store.apply(.apply(ConfigMap(metadata: ObjectMeta(name: "late", namespace: "n"), data: ["svc": "b"])))
        #expect(store.refs(index: "svc", value: "n/a").map(\.name) == ["early"])
        #expect(store.refs(index: "svc", value: "n/b").map(\.name) == ["late"])
        store.apply(.delete(ConfigMap(metadata: ObjectMeta(name: "early", namespace: "n"))))
        #expect(store.refs(index: "svc", value: "n/a").isEmpty)
        #expect(store.refs(index: "nope", value: "n/a").isEmpty)
    }

    @Test func writtenVersionsTellOwnEchoesAndStaleCaches() {
        let w = WrittenVersions()
        let ref = ObjectRef(namespace: "n", name: "x")
        #expect(w.cacheIsCurrent(ref, "5"))  // nothing written: the cache is as good as anything
        w.record(ref, "7")
        #expect(!w.cacheIsCurrent(ref, "5"))  // the cache is older than our write
        #expect(!w.echoed(ref, "6"))  // someone else's change
        #expect(w.echoed(ref, "7"))  // our own write coming back: the cache has it now
        #expect(!w.echoed(ref, "7"))  // only once
        #expect(w.cacheIsCurrent(ref, "7"))
        w.record(ref, "9")
        w.forget(ref)
        #expect(w.cacheIsCurrent(ref, "8"))
    }
}
