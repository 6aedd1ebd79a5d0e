import Foundation
import Synchronization
import Testing
import KubeClient
import KubeCore
import LocalCluster
import TestSupport
@testable import KubeRuntime

@Suite struct LeaderElectionTests {
    func fast() -> LeaderElector.Config {
        var c = LeaderElector.Config()
        // Renewals are cut off at the renew deadline: leave room for a 2-core machine running the whole suite.
        c.leaseDuration = .seconds(6)
        c.renewDeadline = .seconds(5)
        c.retryPeriod = .milliseconds(200)
        return c
    }

    @Test func configurationIsValidatedAsClientGoDoes() {
        var c = LeaderElector.Config()
        #expect(throws: Never.self) { try c.validate() }
        c.renewDeadline = .seconds(20)
        #expect(throws: KubeError.self) { try c.validate() }
        c = LeaderElector.Config()
        c.retryPeriod = .seconds(9)
        #expect(throws: KubeError.self) { try c.validate() }
        // The Lease records whole seconds: 900 ms would be written as 0 s (every standby takes over at once).
        c = LeaderElector.Config()
        c.leaseDuration = .milliseconds(900)
        c.renewDeadline = .milliseconds(500)
        c.retryPeriod = .milliseconds(100)
        #expect(throws: KubeError.self) { try c.validate() }
        c.leaseDuration = .milliseconds(10_500)
        c.renewDeadline = .milliseconds(10_200)
        #expect(throws: KubeError.self) { try c.validate() }
    }

    @Test func exactlyOneLeadsAndTheOtherTakesOverWithinTheLease() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let leases = Api<Lease>(client, namespace: "default")
        let leading = Locked([String: Int]())  // identity -> ticks of work done while leading
        let active = Locked(Set<String>())  // who is inside its leading work right now
        let both = Locked(0)
        let registry = MetricsRegistry()
        func elector(_ id: String) throws -> LeaderElector {
            try LeaderElector(api: leases, name: "salespot-operator", identity: id, config: fast(), metrics: id == "a" ? registry : nil)
        }
        func campaign(_ e: LeaderElector) -> Task<Void, Never> {
            Task {
                await e.run {
                    active.mutate { $0.insert(e.identity) }
                    while !Task.isCancelled {
                        leading.mutate { $0[e.identity, default: 0] += 1 }
                        if active.value.count > 1 { both.mutate { $0 += 1 } }
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    active.mutate { $0.remove(e.identity) }
                }
            }
        }
        let a = try elector("a"), b = try elector("b")
        let ta = campaign(a)
        for _ in 0..<250 where leading.value["a", default: 0] == 0 { try await Task.sleep(for: .milliseconds(20)) }
        let tb = campaign(b)
        try await Task.sleep(for: .seconds(1.5))
        let first = leading.value
        #expect(first["a", default: 0] > 0)
        #expect(first["b", default: 0] == 0)  // the non-leader did no work
        #expect(registry.value("leader_election_master_status", ["salespot-operator"]) == 1)
        let holder = try await leases.get("salespot-operator").spec?.holderIdentity
        #expect(holder == "a")
        // Stop the leader: b takes over within the lease duration.
        let stopped = ContinuousClock.now
        ta.cancel()
        await ta.value
        #expect(registry.value("leader_election_master_status", ["salespot-operator"]) == 0)
        // It released the Lease on the way out (so b need not wait for it to expire).
        #expect(try await leases.get("salespot-operator").spec?.holderIdentity != "a")
        var tookOver: Duration?
        for _ in 0..<300 {
            if leading.value["b", default: 0] > 0 { tookOver = ContinuousClock.now - stopped; break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let elapsed = try #require(tookOver)
        #expect(elapsed < fast().leaseDuration)  // a retry period or so; generous for a loaded 2-core machine
        #expect(try await leases.get("salespot-operator").spec?.holderIdentity == "b")
        #expect(try await leases.get("salespot-operator").spec?.leaseTransitions == 1)  // a created it; b took it over once
        tb.cancel()
        await tb.value
        #expect(both.value == 0)
    }

    @Test(arguments: [FaultTransport.Fault.stall, .hang])
    func aStalledRenewalEndsTheTermWithinTheRenewDeadline(_ fault: FaultTransport.Fault) async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let (client, faults) = FaultTransport.client(cluster.clientConfiguration())
        let registry = MetricsRegistry()
        let elector = try LeaderElector(api: Api<Lease>(client, namespace: "default"), name: "stall", identity: "a",
                                        config: fast(), metrics: registry)
        let leading = Locked(false)
        let stoppedLeading = Locked<ContinuousClock.Instant?>(nil)
        let campaign = Task {
            await elector.run {
                leading.mutate { $0 = true }
                while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
                stoppedLeading.mutate { $0 = ContinuousClock.now }
            }
        }
        defer { campaign.cancel() }
        for _ in 0..<250 where !leading.value { try await Task.sleep(for: .milliseconds(20)) }
        #expect(leading.value)
        // Every Lease write now hangs (as a request behind a dead proxy would, for the client's 60 s timeout).
        faults.set([.init(method: "PUT", urlContains: ["/leases/stall"], fault: fault)])
        let stalledAt = ContinuousClock.now
        for _ in 0..<500 where stoppedLeading.value == nil { try await Task.sleep(for: .milliseconds(20)) }
        let stopped = try #require(stoppedLeading.value, "still leading 10 s after renewals stalled")
        // The renew deadline counted from the last renewal, which was at most a retry period before the stall; the
        // margin is for a 2-core machine running the whole suite, and still short of what a stall (60 s) or a hang
        // (10 s) lasts.
        #expect(stopped - stalledAt < fast().renewDeadline + .seconds(3))
        #expect(registry.value("leader_election_master_status", ["stall"]) == 0)
    }

    @Test func releasingAStalledLeaseGivesUpAtTheRenewDeadline() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let (client, faults) = FaultTransport.client(cluster.clientConfiguration())
        let elector = try LeaderElector(api: Api<Lease>(client, namespace: "default"), name: "release", identity: "a", config: fast())
        let leading = Locked(false)
        let stop = Locked(false)
        let campaign = Task {
            await elector.run {
                leading.mutate { $0 = true }
                while !stop.value { try? await Task.sleep(for: .milliseconds(10)) }
            }
        }
        for _ in 0..<250 where !leading.value { try await Task.sleep(for: .milliseconds(20)) }
        #expect(leading.value)
        // The work ends (a drained stop), and the release hangs: run still returns within the renew deadline.
        faults.set([.init(method: "PUT", urlContains: ["/leases/release"], fault: .hang)])
        let at = ContinuousClock.now
        stop.mutate { $0 = true }
        await campaign.value
        // Short of the hang's 10 s, with a margin for a 2-core machine running the whole suite.
        #expect(ContinuousClock.now - at < fast().renewDeadline + .seconds(3))
    }

    @Test func aStandbyStopsCampaigningOnceToldTo() async throws {
        let cluster = try await startCluster()
        defer { Task { await cluster.stop() } }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let leases = Api<Lease>(client, namespace: "default")
        // Someone else holds the lease for a long time.
        _ = try await leases.create(Lease(metadata: ObjectMeta(name: "held"), spec: LeaseSpec(holderIdentity: "other", leaseDurationSeconds: 3600,
                                                                                              acquireTime: .now(), renewTime: .now(), leaseTransitions: 0)))
        let elector = try LeaderElector(api: leases, name: "held", identity: "a", config: fast())
        let keep = Locked(true)
        let campaign = Task { await elector.run(keepCampaigning: { keep.value }) {} }
        try await Task.sleep(for: .milliseconds(300))
        let at = ContinuousClock.now
        keep.mutate { $0 = false }
        // It must stop by itself: the watchdog cancels it only if it has not after 10 s, and says so.
        let cancelled = Locked(false)
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(10))
            if !Task.isCancelled {
                cancelled.mutate { $0 = true }
                campaign.cancel()
            }
        }
        await campaign.value
        watchdog.cancel()
        #expect(!cancelled.value, "still campaigning 10 s after it was told to stop")
        // Within a few retry periods (200 ms), with a margin for a 2-core machine running the whole suite.
        #expect(ContinuousClock.now - at < .seconds(3))
    }
}
