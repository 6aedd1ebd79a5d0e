import Foundation
import Synchronization
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport
@testable import KubeRuntime

/// Terms of leadership, cancellation and shutdown of controllers (each of these failed before the fix).
@Suite struct TermTests {
    @Test func aSupersededDelayedAddThatWokeUpLeavesItsSuccessorPending() async throws {
        let q = WorkQueue<String>()  // real clock: these delays never come due during the test
        await q.add("k", after: .seconds(3600))
        let first = try #require(await q.pendingDelayToken("k"))
        await q.add("k", after: .seconds(7200))
        let second = try #require(await q.pendingDelayToken("k"))
        #expect(first != second)
        // The first one's sleep had already returned when it was superseded: it arrives late and must do nothing.
        await q.fireDelayed("k", token: first)
        #expect(await q.depth == 0)
        #expect(await q.pendingDelayToken("k") == second)  // still cancellable by shutDown
        await q.shutDown()
        #expect(await q.pendingDelayToken("k") == nil)
    }

    @Test func aReopenedQueueHandsOutKeysAgain() async throws {
        let q = WorkQueue<String>(clock: ManualClock())
        await q.add("a")
        await q.shutDown()
        #expect(await q.next() == nil)
        await q.reopen()
        #expect(await q.depth == 0)  // nothing of the last term
        await q.add("b")
        #expect(await q.next() == "b")
    }

    @Test func aSecondTermReconcilesAgain() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let controller = MirrorController.make(client: client)
        let maps = Api<ConfigMap>(client)
        _ = try await maps.create(configMap(0, value: "a"))
        var term = Task { await controller.run() }
        #expect(try await waitForMirrors(client, count: 1, timeout: .seconds(10)))
        term.cancel()
        await term.value
        #expect(!controller.hasSynced)  // a term that ended no longer counts as synced
        // Created while no term runs, seen by the next one.
        _ = try await maps.create(configMap(2, value: "b"))
        term = Task { await controller.run() }
        defer { term.cancel() }
        #expect(try await waitForMirrors(client, count: 2, timeout: .seconds(10)))
    }

    @Test func cancellingARunCancelsTheReconcileInFlight() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        _ = try await Api<ConfigMap>(client).create(configMap(0, value: "a"))
        let started = Locked(false), cancelled = Locked(false)
        let controller = Controller(name: "slow", api: Api<ConfigMap>(client)) { _ in
            started.mutate { $0 = true }
            do { try await Task.sleep(for: .seconds(3600)) } catch { cancelled.mutate { $0 = true } }
            return .awaitChange
        }
        let run = Task { await controller.run() }
        try await waitUntil(started)
        let at = ContinuousClock.now
        run.cancel()
        let finished = Task { await run.value; return true }
        let done = try await withThrowingTaskGroup(of: Bool.self) { g in
            g.addTask { await finished.value }
            g.addTask { try await Task.sleep(for: .seconds(5)); return false }
            let r = try await g.next() ?? false
            g.cancelAll()
            return r
        }
        #expect(done, "run() did not return within 5 s of cancellation")
        #expect(cancelled.value)
        #expect(ContinuousClock.now - at < .seconds(5))
    }

    @Test func drainLetsTheReconcileInFlightFinishAndStopsAWorkerWaitingForASync() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        _ = try await Api<ConfigMap>(client).create(configMap(0, value: "a"))
        let started = Locked(false), finished = Locked(false)
        let controller = Controller(name: "steady", api: Api<ConfigMap>(client)) { _ in
            started.mutate { $0 = true }
            try await Task.sleep(for: .milliseconds(300))
            finished.mutate { $0 = true }
            return .awaitChange
        }
        let run = Task { await controller.run() }
        try await waitUntil(started)
        await controller.drain()
        await run.value
        #expect(finished.value)  // not cancelled: it ran to its end

        // A resource that does not exist (no CRD): the list keeps failing, the workers wait for a sync; drain ends it.
        let missing = ResourceDescriptor(group: "ops.salespot.by", version: "v1alpha1", resource: "nothings", kind: "Nothing", namespaced: true)
        let never = Controller(name: "never", api: Api<DynamicObject>(client, resource: missing)) { _ in .awaitChange }
        let stuck = Task { await never.run() }
        try await Task.sleep(for: .milliseconds(300))
        let at = ContinuousClock.now
        await never.drain()
        await stuck.value
        #expect(ContinuousClock.now - at < .seconds(3))
    }

    @Test func aSecondaryDeletedWhileTheWatchWasDownReconcilesItsOwner() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let (client, faults) = FaultTransport.client(cluster.clientConfiguration())
        let controller = MirrorController.make(client: client)
        let run = Task { await controller.run() }
        defer { run.cancel() }
        _ = try await Api<ConfigMap>(client).create(configMap(0, value: "a"))
        #expect(try await waitForMirrors(client, count: 1, timeout: .seconds(10)))
        // The Secrets watch goes down and cannot come back for a while; meanwhile the Secret is deleted and the
        // history it would resume from is gone, so it comes back through a re-list (410) that no longer has it.
        faults.set([.init(method: "GET", urlContains: ["/secrets", "watch=true"], fault: .fail)])
        await cluster.closeAllWatches()
        try await Task.sleep(for: .milliseconds(200))
        _ = try await Api<Secret>(client, namespace: "default").delete("cm-0")
        await cluster.compactHistory()
        faults.set([])
        #expect(try await waitForMirrors(client, count: 1, timeout: .seconds(10)), "the owner was not reconciled after the re-list")
    }

    @Test func aNewTermDeliversItsFirstListAsCreatedSoPredicatesDoNotDropIt() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        _ = try await Api<ConfigMap>(client, namespace: "default").create(ConfigMap(metadata: ObjectMeta(name: "x", namespace: "default")))
        let reconciles = Locked(0)
        let hooks = Locked(0)
        // Only creations pass (as an echo filter would pass a fresh informer's objects).
        let controller = Controller<ConfigMap>(name: "creates", api: Api<ConfigMap>(client, namespace: "default")) { _ in
            reconciles.mutate { $0 += 1 }
            return .awaitChange
        }.filter { _, old in old == nil }.onNewTerm { hooks.mutate { $0 += 1 } }
        var term = Task { await controller.run() }
        for _ in 0..<500 where reconciles.value < 1 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(reconciles.value == 1)
        term.cancel()
        await term.value
        term = Task { await controller.run() }
        defer { term.cancel() }
        for _ in 0..<500 where reconciles.value < 2 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(reconciles.value == 2, "the second term's list was filtered against the first term's cache")
        #expect(hooks.value == 2)
    }
}

/// Waits (at most 5 s) until a flag a reconcile sets is true.
func waitUntil(_ flag: Locked<Bool>) async throws {
    for _ in 0..<500 where !flag.value { try await Task.sleep(for: .milliseconds(10)) }
    #expect(flag.value)
}
