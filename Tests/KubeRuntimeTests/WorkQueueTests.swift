import Testing
import KubeCore
import TestSupport
@testable import KubeRuntime

@Suite struct WorkQueueTests {
    @Test func aKeyIsNeverHandedOutWhileBeingProcessed() async throws {
        let q = WorkQueue<String>(clock: ManualClock())
        await q.add("a")
        await q.add("b")
        await q.add("a")  // merged with the queued one
        #expect(await q.depth == 2)
        let first = await q.next()
        #expect(first == "a")
        await q.add("a")  // while processing: queued again only after done
        #expect(await q.depth == 1)
        #expect(await q.next() == "b")
        #expect(await q.depth == 0)
        await q.done("a")
        #expect(await q.depth == 1)
        #expect(await q.next() == "a")
        await q.done("a")
        await q.done("b")
        #expect(await q.depth == 0)
    }

    @Test func perKeyBackoffMatchesControllerRuntime() async throws {
        let clock = ManualClock()
        let q = WorkQueue<String>(clock: clock)
        var delays: [Duration] = []
        for _ in 0..<20 { delays.append(await q.addRateLimited("k")) }
        #expect(Array(delays.prefix(5)) == [.milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(40), .milliseconds(80)])
        #expect(delays.last == .seconds(1000))  // capped
        #expect(await q.failureCount("k") == 20)
        await q.forget("k")
        #expect(await q.addRateLimited("k") == .milliseconds(5))
        // Delays go through the injected clock: nothing slept for real.
        for _ in 0..<100 where clock.sleeps.count < 21 { await Task.yield() }
        #expect(clock.sleeps.contains(.seconds(1000)))
    }

    @Test func delayedAddsArriveThroughTheClock() async throws {
        let clock = ManualClock()
        let q = WorkQueue<String>(clock: clock)
        await q.add("later", after: .seconds(30))
        let got = await q.next()
        #expect(got == "later")
        #expect(clock.sleeps == [.seconds(30)])
    }

    @Test func shutDownReleasesWaiters() async throws {
        let q = WorkQueue<Int>(clock: ManualClock())
        async let waiting = q.next()
        try await Task.sleep(for: .milliseconds(10))
        await q.shutDown()
        #expect(await waiting == nil)
    }

    @Test func backoffConstants() {
        let w = Backoff.watcher
        #expect(w.delay(forFailures: 1) == .milliseconds(800))
        #expect(w.delay(forFailures: 2) == .milliseconds(1600))
        #expect(w.delay(forFailures: 6) == .milliseconds(25_600))
        #expect(w.delay(forFailures: 7) == .seconds(30))
        #expect(abs(w.jittered(forFailures: 1, random: 0.5).seconds - 1.2) < 1e-9)
    }

    @Test func conditionsChangeTransitionTimeOnlyOnFlip() {
        var conditions: [Condition] = []
        let t0 = Time(rfc3339: "2026-01-01T00:00:00Z")!
        let t1 = Time(rfc3339: "2026-01-01T00:05:00Z")!
        Conditions.set(&conditions, type: "Ready", status: false, reason: "Progressing", message: "m", observedGeneration: 1, now: t0)
        Conditions.set(&conditions, type: "Ready", status: false, reason: "StillProgressing", message: "m2", observedGeneration: 2, now: t1)
        #expect(conditions[0].lastTransitionTime == t0)
        #expect(conditions[0].observedGeneration == 2)
        #expect(conditions[0].reason == "StillProgressing")
        Conditions.set(&conditions, type: "Ready", status: true, reason: "Promoted", message: "ok", observedGeneration: 2, now: t1)
        #expect(conditions[0].lastTransitionTime == t1)
        #expect(conditions[0].status == "True")
    }

    @Test func metricsRenderInTheExpositionFormat() {
        let registry = MetricsRegistry()
        let m = ControllerMetrics(registry: registry)
        m.reconciled("mirror", result: "success", duration: .milliseconds(20))
        m.reconciled("mirror", result: "error", duration: .milliseconds(7))
        m.recordRequest(method: "GET", code: "200", host: "127.0.0.1")
        let text = registry.render()
        #expect(text.contains("# TYPE controller_runtime_reconcile_total counter"))
        #expect(text.contains("controller_runtime_reconcile_total{controller=\"mirror\",result=\"success\"} 1"))
        #expect(text.contains("controller_runtime_reconcile_errors_total{controller=\"mirror\"} 1"))
        #expect(text.contains("controller_runtime_reconcile_time_seconds_bucket{controller=\"mirror\",le=\"0.01\"} 1"))
        #expect(text.contains("controller_runtime_reconcile_time_seconds_count{controller=\"mirror\"} 2"))
        #expect(text.contains("rest_client_requests_total{code=\"200\",method=\"GET\",host=\"127.0.0.1\"} 1"))
    }
}
