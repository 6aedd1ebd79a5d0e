#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import KubeClient
import KubeCore
import KubeRuntime

/// One probe's outcome.
public struct ProbeResult: Sendable, Equatable {
    public var ok: Bool
    public var latency: Duration
    public var error: String?
    public var time: Date
}

/// A site's health with hysteresis: `failureThreshold` consecutive failures make a healthy site unhealthy,
/// `successThreshold` consecutive successes make an unhealthy one healthy again; a single odd probe changes nothing.
/// A site starts unknown (nil) and takes the first threshold it reaches.
public struct SiteHealth: Sendable, Equatable {
    public var healthy: Bool?
    public var consecutiveFailures = 0
    public var consecutiveSuccesses = 0
    /// The first failure of the current failure streak.
    public var firstFailure: Date?
    /// Since when `healthy` holds.
    public var since: Date?
    public var last: ProbeResult?

    public init() {}

    /// The state after one more probe (pure: the decision tests drive it directly).
    public mutating func record(_ r: ProbeResult, failureThreshold: Int, successThreshold: Int) {
        last = r
        if r.ok {
            consecutiveSuccesses += 1
            consecutiveFailures = 0
            firstFailure = nil
            if healthy != true && consecutiveSuccesses >= successThreshold {
                healthy = true
                since = r.time
            }
        } else {
            if consecutiveFailures == 0 { firstFailure = r.time }
            consecutiveFailures += 1
            consecutiveSuccesses = 0
            if healthy != false && consecutiveFailures >= failureThreshold {
                healthy = false
                since = r.time
            }
        }
    }
}

/// Probes sites over HTTP(S) (libcurl) or TCP, off the reconcile path.
enum Probe {
    static func run(_ check: DRPolicy.HealthCheck, transport: any HTTPTransport) async -> ProbeResult {
        let start = ContinuousClock.now
        let time = Date()
        var error: String?
        if let http = check.http {
            do {
                let r = try await transport.send(HTTPRequest(method: "GET", url: http.url, body: nil, timeout: .seconds(check.timeout)))
                let expected = http.expectedStatus ?? 200
                if r.status != expected {
                    error = "HTTP \(r.status), expected \(expected)"
                } else if let needle = http.bodyContains, !String(decoding: r.body, as: UTF8.self).contains(needle) {
                    error = "the body lacks \"\(needle.prefix(100))\""
                }
            } catch {
                return ProbeResult(ok: false, latency: ContinuousClock.now - start, error: String("\(error)".prefix(300)), time: time)
            }
        } else if let tcp = check.tcp {
            error = await connect(tcp.host, tcp.port, timeout: check.timeout)
        } else {
            error = "no http or tcp check"
        }
        return ProbeResult(ok: error == nil, latency: ContinuousClock.now - start, error: error, time: time)
    }

    /// nil when a TCP connection opens within the timeout; else why not. On a thread of its own (blocking connect).
    static func connect(_ host: String, _ port: Int, timeout: Int) async -> String? {
        await withCheckedContinuation { (c: CheckedContinuation<String?, Never>) in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_flags = AI_NUMERICSERV
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var list: UnsafeMutablePointer<addrinfo>?
                let rc = getaddrinfo(host, String(port), &hints, &list)
                guard rc == 0, let a = list else {
                    c.resume(returning: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
                    return
                }
                defer { freeaddrinfo(list) }
                let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, 0)
                guard fd >= 0 else {
                    c.resume(returning: "socket: \(String(cString: strerror(errno)))")
                    return
                }
                defer { close(fd) }
                var tv = timeval(tv_sec: timeout, tv_usec: 0)
                _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 {
                    let e = errno
                    c.resume(returning: e == EINPROGRESS || e == EAGAIN ? "no connection within \(timeout) s" : "connect: \(String(cString: strerror(e)))")
                    return
                }
                c.resume(returning: nil)
            }
        }
    }
}

/// The probers of every DRPolicy: one task per policy probing both sites every interval (jittered by up to 5 %
/// while healthy, so 200 policies do not probe in step; on the beat while failing), at most `concurrency` probes at once. After each probe that changes a
/// site's health (or every probe, while a site is failing), `notify` enqueues the policy.
public actor Probers {
    struct Entry {
        var spec: DRPolicy.Spec
        var task: Task<Void, Never>
        var health: [String: SiteHealth]
    }

    var entries: [String: Entry] = [:]
    let transport: any HTTPTransport
    let notify: @Sendable (ObjectRef) async -> Void
    let limiter: Limiter

    public init(transport: any HTTPTransport = CurlTransport(), concurrency: Int = 64, notify: @escaping @Sendable (ObjectRef) async -> Void) {
        self.transport = transport
        self.notify = notify
        self.limiter = Limiter(concurrency)
    }

    /// The sites' health as probed so far.
    public func health(_ ref: ObjectRef) -> [String: SiteHealth] { entries[key(ref)]?.health ?? [:] }

    /// Starts (or restarts, when the checks changed) the prober of a policy.
    public func ensure(_ ref: ObjectRef, _ spec: DRPolicy.Spec) {
        let k = key(ref)
        if let e = entries[k], e.spec.primary.healthCheck == spec.primary.healthCheck, e.spec.secondary.healthCheck == spec.secondary.healthCheck { return }
        entries[k]?.task.cancel()
        let health = entries[k]?.health ?? [:]
        let task = Task { [weak self] in _ = await self?.loop(ref, spec) }
        entries[k] = Entry(spec: spec, task: task, health: health)
    }

    public func stop(_ ref: ObjectRef) {
        entries.removeValue(forKey: key(ref))?.task.cancel()
    }

    public func stopAll() {
        for e in entries.values { e.task.cancel() }
        entries = [:]
    }

    func key(_ ref: ObjectRef) -> String { "\(ref.namespace ?? "")/\(ref.name)" }

    nonisolated func loop(_ ref: ObjectRef, _ spec: DRPolicy.Spec) async {
        await withTaskGroup(of: Void.self) { group in
            for site in ["primary", "secondary"] {
                group.addTask { await self.probeLoop(ref, site, spec.site(site).healthCheck) }
            }
        }
    }

    nonisolated func probeLoop(_ ref: ObjectRef, _ site: String, _ check: DRPolicy.HealthCheck) async {
        let interval = Duration.seconds(check.interval)
        // A random phase (within a tenth of the interval, so a new policy's first verdicts come soon), then every
        // interval, each probe up to 5 % late (the gaps stay within 5 % of the interval).
        try? await Task.sleep(for: .milliseconds(Int64.random(in: 0...Int64(check.interval * 100))))
        var next = ContinuousClock.now
        while !Task.isCancelled {
            let result = await limiter.run { await Probe.run(check, transport: self.transport) }
            guard !Task.isCancelled else { return }
            let changed = await record(ref, site, result, check)
            if changed { await notify(ref) }
            next = next.advanced(by: interval)
            // After a failure the next probe comes on the beat: jitter spreads healthy probes apart, and must not
            // stretch a failure streak past failureThreshold x interval (the detection time promised).
            let jitter = result.ok ? Duration.milliseconds(Int64.random(in: 0...Int64(check.interval * 50))) : .zero
            let now = ContinuousClock.now
            if next < now { next = now }
            try? await Task.sleep(until: next.advanced(by: jitter), clock: .continuous)
        }
    }

    /// Records a probe; true when the policy should be looked at (health changed, or a failure streak grows).
    func record(_ ref: ObjectRef, _ site: String, _ r: ProbeResult, _ check: DRPolicy.HealthCheck) -> Bool {
        let k = key(ref)
        guard entries[k] != nil else { return false }
        var h = entries[k]!.health[site] ?? SiteHealth()
        let before = h.healthy
        h.record(r, failureThreshold: check.failures, successThreshold: check.successes)
        entries[k]!.health[site] = h
        return before != h.healthy || !r.ok
    }
}

/// At most N operations at once.
actor Limiter {
    let limit: Int
    var running = 0
    var waiting: [CheckedContinuation<Void, Never>] = []
    init(_ limit: Int) { self.limit = max(1, limit) }

    func acquire() async {
        if running < limit {
            running += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { running -= 1 } else { waiting.removeFirst().resume() }
    }

    nonisolated func run<R: Sendable>(_ body: @Sendable () async -> R) async -> R {
        await acquire()
        let r = await body()
        await release()
        return r
    }
}
