#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import KubeCore

extension BlueGreenDeployment {
    /// Checks of a colour by its metrics or a webhook (Argo Rollouts' pre/postPromotionAnalysis, Flagger's metric
    /// checks and webhooks): before the switch against the preview, after it against the new active colour.
    public struct Analysis: Codable, Sendable, Hashable {
        /// Run against the ready preview before traffic moves; a failure stops the rollout (AnalysisFailed), the
        /// Service untouched.
        public var prePromotion: [AnalysisCheck]?
        /// Run after the switch, while the old colour is kept; a failure switches traffic back to it at once.
        public var postPromotion: [AnalysisCheck]?
        public init(prePromotion: [AnalysisCheck]? = nil, postPromotion: [AnalysisCheck]? = nil) {
            self.prePromotion = prePromotion
            self.postPromotion = postPromotion
        }
    }

    public struct AnalysisCheck: Codable, Sendable, Hashable {
        public var name: String
        public var prometheus: PrometheusQuery?
        public var webhook: WebhookCheck?
        /// For Prometheus: e.g. `result < 0.05`, `result >= 0.99 && result <= 1` (`result` is the first sample's
        /// value). A measurement passes when it holds.
        public var successCondition: String?
        /// A measurement fails when it holds (checked first).
        public var failureCondition: String?
        /// Seconds between measurements (default 10).
        public var intervalSeconds: Int?
        /// Measurements to take (default 1).
        public var count: Int?
        /// Failed measurements tolerated (default 0): one more fails the check.
        public var failureLimit: Int?
        /// Inconclusive measurements (no data, NaN, neither of two conditions holds) tolerated (default 0): one more
        /// fails the check.
        public var inconclusiveLimit: Int?
        /// Consecutive errors (the query or the call failed) tolerated (default 4, Argo Rollouts'); errors do not
        /// count as measurements.
        public var consecutiveErrorLimit: Int?
        public init(name: String, prometheus: PrometheusQuery? = nil, webhook: WebhookCheck? = nil) {
            self.name = name
            self.prometheus = prometheus
            self.webhook = webhook
        }
        public var interval: Double { Double(max(1, intervalSeconds ?? 10)) }
        public var measurements: Int { max(1, count ?? 1) }
    }

    public struct PrometheusQuery: Codable, Sendable, Hashable {
        /// e.g. `http://prometheus.monitoring.svc:9090`.
        public var address: String
        /// PromQL; `{{color}}`, `{{namespace}}`, `{{name}}` and `{{template}}` are replaced first.
        public var query: String
        public init(address: String, query: String) {
            self.address = address
            self.query = query
        }
    }

    /// Flagger-style: the rollout's details POSTed as JSON; 2xx passes, anything else fails.
    public struct WebhookCheck: Codable, Sendable, Hashable {
        public var url: String
        public var timeoutSeconds: Int?
        public init(url: String, timeoutSeconds: Int? = nil) {
            self.url = url
            self.timeoutSeconds = timeoutSeconds
        }
    }

    /// One analysis of one template on one colour, kept in status so `kubectl describe` shows why.
    public struct AnalysisStatus: Codable, Sendable, Hashable {
        /// PrePromotion or PostPromotion.
        public var stage: String
        public var template: String
        public var color: String
        /// Running, Successful or Failed.
        public var phase: String
        public var startedAt: Time?
        public var message: String?
        public var checks: [CheckStatus]
        public init(stage: String, template: String, color: String, phase: String, startedAt: Time?, checks: [CheckStatus]) {
            self.stage = stage
            self.template = template
            self.color = color
            self.phase = phase
            self.startedAt = startedAt
            self.checks = checks
        }
    }

    public struct CheckStatus: Codable, Sendable, Hashable {
        public var name: String
        /// Running, Successful or Failed.
        public var phase: String
        public var successful: Int
        public var failed: Int
        public var inconclusive: Int
        /// Errors in a row (a measurement resets it).
        public var consecutiveErrors: Int?
        /// The newest measurements (at most 10).
        public var measurements: [Measurement]?
        public init(name: String) {
            self.name = name
            phase = "Running"
            successful = 0
            failed = 0
            inconclusive = 0
        }
    }

    public struct Measurement: Codable, Sendable, Hashable {
        public var time: Time
        /// Successful, Failed, Inconclusive or Error.
        public var phase: String
        public var value: String?
        public var message: String?
    }
}

/// The conditions' little language: `result OP NUMBER` comparisons (`<`, `<=`, `>`, `>=`, `==`, `!=`) joined by
/// `&&` and `||` (`&&` binds tighter); `result[0]` is `result`, as Argo Rollouts writes it.
public struct AnalysisCondition: Sendable, Hashable {
    enum Op: String, CaseIterable { case le = "<=", ge = ">=", eq = "==", ne = "!=", lt = "<", gt = ">" }
    struct Comparison: Sendable, Hashable { var op: Op; var number: Double }
    /// Alternatives (||) of conjunctions (&&).
    let alternatives: [[Comparison]]

    public struct Invalid: Error, CustomStringConvertible { public var description: String }

    public init(_ text: String) throws {
        var alternatives: [[Comparison]] = []
        for alternative in text.split(separator: "||", omittingEmptySubsequences: false) {
            var all: [Comparison] = []
            for part in alternative.split(separator: "&&", omittingEmptySubsequences: false) {
                let whole = String(part).trimmingASCIIWhitespace()
                var s = whole
                for prefix in ["result[0]", "result"] where s.hasPrefix(prefix) {
                    s = String(s.dropFirst(prefix.count)).trimmingASCIIWhitespace()
                    break
                }
                guard let op = Op.allCases.first(where: { s.hasPrefix($0.rawValue) }), whole.hasPrefix("result"),
                      let number = Double(String(s.dropFirst(op.rawValue.count)).trimmingASCIIWhitespace()) else {
                    throw Invalid(description: "\"\(whole)\" is not `result <op> number` (op one of < <= > >= == !=)")
                }
                all.append(Comparison(op: op, number: number))
            }
            alternatives.append(all)
        }
        self.alternatives = alternatives
    }

    public func holds(_ result: Double) -> Bool {
        alternatives.contains { all in
            all.allSatisfy { c in
                switch c.op {
                case .lt: result < c.number
                case .le: result <= c.number
                case .gt: result > c.number
                case .ge: result >= c.number
                case .eq: result == c.number
                case .ne: result != c.number
                }
            }
        }
    }
}

/// Takes measurements and judges checks; the state lives in the resource's status.
struct Analyzer: Sendable {
    let transport: any HTTPTransport

    struct Context: Sendable {
        var name: String
        var namespace: String
        var color: String
        var template: String
        var stage: String
    }

    enum Verdict: Equatable {
        case running(nextIn: Double)
        case successful
        case failed(String)
    }

    /// Why a check cannot run at all (reported as InvalidSpec).
    static func problem(_ checks: [BlueGreenDeployment.AnalysisCheck]) -> String? {
        var names = Set<String>()
        for c in checks {
            if !names.insert(c.name).inserted { return "analysis check \(c.name) appears twice" }
            if (c.prometheus == nil) == (c.webhook == nil) { return "analysis check \(c.name) needs exactly one of prometheus or webhook" }
            if c.prometheus != nil && c.successCondition == nil && c.failureCondition == nil {
                return "analysis check \(c.name) needs a successCondition or a failureCondition"
            }
            for text in [c.successCondition, c.failureCondition].compactMap({ $0 }) {
                do { _ = try AnalysisCondition(text) } catch { return "analysis check \(c.name): \(error)" }
            }
        }
        return nil
    }

    /// Takes the measurements that are due and judges: the state as it is now and what follows.
    func step(_ checks: [BlueGreenDeployment.AnalysisCheck], _ state: inout BlueGreenDeployment.AnalysisStatus, context: Context,
              now: Time) async -> Verdict {
        var next = Double.infinity
        // The checks that are due, measured at once (concurrently: one slow endpoint does not hold up the others).
        var due: [BlueGreenDeployment.AnalysisCheck] = []
        for check in checks {
            let s = state.checks.first { $0.name == check.name } ?? BlueGreenDeployment.CheckStatus(name: check.name)
            if !state.checks.contains(where: { $0.name == check.name }) { state.checks.append(s) }
            guard s.phase == "Running" else { continue }
            if let last = s.measurements?.last?.time, last.secondsSince1970 + check.interval > now.secondsSince1970 {
                next = min(next, last.secondsSince1970 + check.interval - now.secondsSince1970)
                continue
            }
            due.append(check)
        }
        let taken = await withTaskGroup(of: (String, BlueGreenDeployment.Measurement).self) { group in
            for check in due { group.addTask { (check.name, await self.measure(check, context: context)) } }
            var out: [String: BlueGreenDeployment.Measurement] = [:]
            for await (name, m) in group { out[name] = m }
            return out
        }
        for check in due {
            guard let m = taken[check.name], let i = state.checks.firstIndex(where: { $0.name == check.name }) else { continue }
            var s = state.checks[i]
            switch m.phase {
            case "Successful": s.successful += 1; s.consecutiveErrors = 0
            case "Failed": s.failed += 1; s.consecutiveErrors = 0
            case "Inconclusive": s.inconclusive += 1; s.consecutiveErrors = 0
            default: s.consecutiveErrors = (s.consecutiveErrors ?? 0) + 1
            }
            s.measurements = Array(((s.measurements ?? []) + [m]).suffix(10))
            if s.failed > (check.failureLimit ?? 0) || s.inconclusive > (check.inconclusiveLimit ?? 0)
                || (s.consecutiveErrors ?? 0) > (check.consecutiveErrorLimit ?? 4) {
                s.phase = "Failed"
            } else if s.successful + s.failed + s.inconclusive >= check.measurements {
                s.phase = "Successful"
            } else {
                next = min(next, check.interval)
            }
            state.checks[i] = s
        }
        if let failed = state.checks.first(where: { $0.phase == "Failed" }) {
            let last = failed.measurements?.last
            let message = "check \(failed.name) failed (\(failed.failed) failed, \(failed.inconclusive) inconclusive, \(failed.consecutiveErrors ?? 0) errors in a row): "
                + "\(last?.message ?? last?.value.map { "result \($0)" } ?? "")"
            state.phase = "Failed"
            state.message = message
            return .failed(message)
        }
        if checks.allSatisfy({ c in state.checks.first { $0.name == c.name }?.phase == "Successful" }) {
            state.phase = "Successful"
            state.message = "every check passed"
            return .successful
        }
        return .running(nextIn: next.isFinite ? max(0.1, next) : 1)
    }

    func measure(_ check: BlueGreenDeployment.AnalysisCheck, context: Context) async -> BlueGreenDeployment.Measurement {
        let t = Time.now()
        if let p = check.prometheus {
            let query = Self.render(p.query, context)
            var address = p.address
            while address.hasSuffix("/") { address.removeLast() }
            let url = address + "/api/v1/query?query=" + query.percentEncoded
            do {
                let response = try await transport.send(HTTPRequest(method: "GET", url: url, timeout: .seconds(10)))
                guard response.status == 200 else {
                    return .init(time: t, phase: "Error", value: nil,
                                 message: "Prometheus answered \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self))")
                }
                guard let value = try Self.firstValue(response.body) else {
                    return .init(time: t, phase: "Inconclusive", value: nil, message: "the query returned no data")
                }
                if value.isNaN { return .init(time: t, phase: "Inconclusive", value: "NaN", message: "the query returned NaN") }
                let text = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
                if let f = check.failureCondition, (try? AnalysisCondition(f))?.holds(value) == true {
                    return .init(time: t, phase: "Failed", value: text, message: "result \(text): \(f)")
                }
                if let s = check.successCondition {
                    if (try? AnalysisCondition(s))?.holds(value) == true { return .init(time: t, phase: "Successful", value: text, message: nil) }
                    // With both conditions, a result that meets neither decides nothing (Argo Rollouts: Inconclusive).
                    return check.failureCondition != nil
                        ? .init(time: t, phase: "Inconclusive", value: text, message: "result \(text): neither condition holds")
                        : .init(time: t, phase: "Failed", value: text, message: "result \(text): not \(s)")
                }
                return .init(time: t, phase: "Successful", value: text, message: nil)
            } catch {
                return .init(time: t, phase: "Error", value: nil, message: "Prometheus at \(p.address): \(error)")
            }
        }
        guard let w = check.webhook else { return .init(time: t, phase: "Inconclusive", value: nil, message: "no check") }
        let body: JSONValue = ["name": .string(context.name), "namespace": .string(context.namespace), "phase": .string(context.stage),
                               "color": .string(context.color), "template": .string(context.template), "check": .string(check.name)]
        var request = HTTPRequest(method: "POST", url: w.url, body: body.serialized(), timeout: .seconds(Int64(min(30, max(1, w.timeoutSeconds ?? 10)))))
        request.headers.add("Content-Type", "application/json")
        do {
            let response = try await transport.send(request)
            let ok = (200..<300).contains(response.status)
            return .init(time: t, phase: ok ? "Successful" : "Failed", value: String(response.status),
                         message: ok ? nil : "the webhook answered \(response.status)")
        } catch {
            return .init(time: t, phase: "Error", value: nil, message: "the webhook: \(error)")
        }
    }

    static func render(_ text: String, _ c: Context) -> String {
        text.replacing("{{color}}", with: c.color).replacing("{{namespace}}", with: c.namespace)
            .replacing("{{name}}", with: c.name).replacing("{{template}}", with: c.template)
    }

    /// The first sample of a Prometheus instant query's answer (vector or scalar); nil when there is none.
    static func firstValue(_ body: [UInt8]) throws -> Double? {
        let json = try JSONParser.parse(body)
        guard json["status"]?.stringValue == "success", let data = json["data"] else {
            throw AnalysisCondition.Invalid(description: "Prometheus: \(json["error"]?.stringValue ?? "an answer without data")")
        }
        let sample: JSONValue?
        switch data["resultType"]?.stringValue {
        case "vector": sample = data["result"]?.arrayValue?.first?["value"]
        case "scalar": sample = data["result"]
        default: sample = nil
        }
        guard let text = sample?.arrayValue?.last?.stringValue else { return nil }
        return text == "NaN" ? .nan : Double(text)
    }
}
