import Foundation
import Testing
@testable import FeatureFlags
import KubeCore
import TestSupport

/// The native form's semantics, bucketing and validation, without a cluster.
@Suite struct EvaluationTests {
    func flag(_ type: String = "boolean", default value: JSONValue = false, rules: [FeatureFlag.Rule] = [], enabled: Bool? = nil,
              variants: [String: JSONValue]? = nil, name: String = "f") throws -> CompiledFlag {
        var spec = FeatureFlag.Spec(type: type, defaultValue: value, rules: rules.isEmpty ? nil : rules)
        spec.enabled = enabled
        spec.variants = variants
        return try CompiledFlag.compile(spec, name: name)
    }

    func ctx(_ user: String? = nil, role: String? = nil, env: String? = nil) -> EvaluationContext {
        var attrs: [String: JSONValue] = [:]
        if let role { attrs["role"] = .string(role) }
        if let env { attrs["environment"] = .string(env) }
        return EvaluationContext(targetingKey: user, attributes: attrs)
    }

    @Test func murmur3MatchesTheReferenceVectors() {
        // mmh3.hash(s, signed=False), seed 0 (Tests/Fixtures: flagd's and Python's murmur3).
        let vectors: [(String, UInt32)] = [("", 0), ("a", 1_009_084_850), ("abcd", 1_139_631_978), ("hello", 613_153_351),
                                           ("Hello, world!", 3_224_780_355), ("The quick brown fox jumps over the lazy dog", 776_992_547),
                                           ("new-checkout/user-1", 1_707_527_752), ("\u{e9}", 269_551_495), ("\u{1F642}", 1_042_440_291)]
        for (input, expected) in vectors { #expect(Murmur3.hash32(input) == expected, "\(input)") }
    }

    @Test func bucketingVersion1IsFixed() {
        // A user's bucket is part of the contract: an operator upgrade must never change it.
        #expect(BucketingV1(salt: "new-checkout").bucket("user-1") == 7752)
        #expect(BucketingV1(salt: "beta").bucket("alice@example.com") == 6770)
    }

    @Test func rulesAreOrderedAndTheirConditionsAnded() throws {
        let f = try flag("string", default: "base", rules: [
            .init(name: "admins-in-prod", roles: ["ADMIN"], environments: ["production"], value: "admin-prod"),
            .init(name: "alice", users: ["alice"], value: "alice"),
            .init(name: "staging", environments: ["staging"], value: "staging"),
        ])
        #expect(f.evaluate(ctx("bob", role: "ADMIN", env: "production"), environment: "dev").value == "admin-prod")
        #expect(f.evaluate(ctx("bob", role: "ADMIN", env: "production"), environment: "dev").reason == .targetingMatch)
        // Role alone is not enough: the environment must match too.
        #expect(f.evaluate(ctx("bob", role: "ADMIN", env: "dev"), environment: "dev").reason == .default)
        // The first match wins: alice in staging is alice.
        #expect(f.evaluate(ctx("alice", env: "staging"), environment: "dev").value == "alice")
        // Without an environment in the context, the server's own applies.
        #expect(f.evaluate(ctx("carol"), environment: "staging").value == "staging")
        #expect(f.evaluate(ctx("carol"), environment: "dev").value == "base")
        #expect(f.evaluate(ctx("carol"), environment: "dev").variant == "default")
    }

    @Test func killSwitchStaticAndErrors() throws {
        let off = try flag(default: false, rules: [.init(users: ["alice"], value: true)], enabled: false)
        let r = off.evaluate(ctx("alice"), environment: "dev")
        #expect(r.value == false && r.reason == .disabled)
        #expect(try flag(default: true).evaluate(ctx(), environment: "dev").reason == .static)
        let rollout = try flag(rules: [.init(percentage: 50, value: true)])
        #expect(rollout.evaluate(ctx(nil), environment: "dev").errorCode == .targetingKeyMissing)
        let badRole = rollout.evaluate(EvaluationContext(["targetingKey": "u", "role": 5]), environment: "dev")
        #expect(badRole.errorCode == .invalidContext)
        let badKey = rollout.evaluate(EvaluationContext(["targetingKey": ["x"]]), environment: "dev")
        #expect(badKey.errorCode == .invalidContext)
        // A named variant is served by name.
        let v = try flag("json", default: ["a": 1], rules: [.init(roles: ["X"], variant: "big")], variants: ["big": ["a": 2]])
        #expect(v.evaluate(ctx("u", role: "X"), environment: "dev").value == ["a": 2])
        #expect(v.evaluate(ctx("u", role: "X"), environment: "dev").variant == "big")
    }

    @Test func percentageRolloutIsAccurateAndSticky() throws {
        let users = (0..<100_000).map { "user-\($0)" }
        func holders(_ percentage: Double) throws -> Set<String> {
            let f = try flag(rules: [.init(name: "rollout", percentage: percentage, value: true)], name: "new-checkout")
            var on = Set<String>()
            for u in users {
                let r = f.evaluate(ctx(u), environment: "dev")
                if r.value == true {
                    #expect(r.reason == .split)
                    on.insert(u)
                }
            }
            return on
        }
        var byTarget: [Double: Set<String>] = [:]
        for target in [5.0, 20, 50, 73.5] {
            byTarget[target] = try holders(target)
            let share = Double(byTarget[target]!.count) / Double(users.count) * 100
            #expect(abs(share - target) <= 1, "\(target)%: got \(share)%")
        }
        let twenty = byTarget[20]!, fifty = byTarget[50]!
        #expect(twenty.isSubset(of: fifty), "raising 20% to 50% took the flag from \(twenty.subtracting(fifty).count) users")
        // The same user always gets the same answer (a fresh compile, the first 10,000 users).
        let again = try flag(rules: [.init(name: "rollout", percentage: 20, value: true)], name: "new-checkout")
        for u in users.prefix(10_000) { #expect((again.evaluate(ctx(u), environment: "dev").value == true) == twenty.contains(u)) }
        let none = try flag(rules: [.init(percentage: 0, value: true)], name: "new-checkout")
        let all = try flag(rules: [.init(percentage: 100, value: true)], name: "new-checkout")
        #expect(users.prefix(10_000).allSatisfy { none.evaluate(ctx($0), environment: "dev").value == false })
        #expect(users.prefix(10_000).allSatisfy { all.evaluate(ctx($0), environment: "dev").value == true })
    }

    @Test func invalidSpecsAreRejectedWithTheirReason() throws {
        func reason(_ spec: FeatureFlag.Spec) -> String? {
            do { _ = try CompiledFlag.compile(spec, name: "f"); return nil } catch { return error.reason }
        }
        #expect(reason(FeatureFlag.Spec(type: "boolean", defaultValue: "yes")) == "TypeMismatch")
        #expect(reason(FeatureFlag.Spec(type: "number", defaultValue: 1, rules: [.init(roles: ["A"], value: "x")])) == "TypeMismatch")
        #expect(reason(FeatureFlag.Spec(type: "string", defaultValue: "a", rules: [.init(roles: ["A"], variant: "nope")])) == "UnknownVariant")
        #expect(reason(FeatureFlag.Spec(type: "colour", defaultValue: "a")) == "InvalidSpec")
        #expect(reason(FeatureFlag.Spec(type: "string", defaultValue: "a", rules: [.init(roles: ["A"])])) == "InvalidSpec")
        var v2 = FeatureFlag.Spec(type: "boolean", defaultValue: false)
        v2.bucketing = .init(version: 2)
        #expect(reason(v2) == "UnknownBucketingVersion")
        var badKey = FeatureFlag.Spec(type: "boolean", defaultValue: false)
        badKey.key = "has space"
        #expect(reason(badKey) == "InvalidKey")
        var mixed = FeatureFlag.Spec()
        mixed.flagd = .init(state: "ENABLED", variants: ["a": true, "b": "x"], defaultVariant: "a")
        #expect(reason(mixed) == "TypeMismatch")
        var unknownRef = FeatureFlag.Spec()
        unknownRef.flagd = .init(state: "ENABLED", variants: ["a": true], defaultVariant: "a", targeting: ["if": [["$ref": "nope"], "a", nil]])
        #expect(reason(unknownRef) == "InvalidTargeting")
        var unknownOp = FeatureFlag.Spec()
        unknownOp.flagd = .init(state: "ENABLED", variants: ["a": true], defaultVariant: "a", targeting: ["regex": ["x", "y"]])
        #expect(reason(unknownOp) == "InvalidTargeting")
        var both = FeatureFlag.Spec(type: "boolean", defaultValue: false)
        both.flagd = .init(state: "ENABLED", variants: ["a": true], defaultVariant: "a")
        #expect(reason(both) == "InvalidSpec")
    }

    @Test func refExpansionIsBoundedAndFloatsNameVariantsAsPythonDoes() throws {
        // Evaluators that refer to the next one twice would expand to 2^40 nodes: refused when compiled.
        var evaluators: [String: JSONValue] = [:]
        for i in 0..<40 { evaluators["e\(i)"] = ["and": [["$ref": .string("e\(i + 1)")], ["$ref": .string("e\(i + 1)")]]] }
        evaluators["e40"] = true
        let started = ContinuousClock.now
        #expect(throws: JSONLogic.CompileError.self) { try JSONLogic(["$ref": "e0"], evaluators: evaluators) }
        #expect(ContinuousClock.now - started < .seconds(2))
        // Python's repr(float), which flagd uses to turn a numeric targeting result into a variant name.
        let cases: [(Double, String)] = [(2.0, "2.0"), (1e16, "1e+16"), (1e15, "1000000000000000.0"), (1.5e-05, "1.5e-05"),
                                         (0.0001, "0.0001"), (123456789012345678.0, "1.2345678901234568e+17"), (0.1, "0.1"),
                                         (-2.5, "-2.5"), (-0.0, "-0.0"), (1e22, "1e+22"), (12345.678, "12345.678")]
        for (value, python) in cases { #expect(JSONLogic.pythonFloatRepr(value) == python, "\(value)") }
        // substr with an infinite index is an error in flagd (Python's int(inf)), not an empty string.
        #expect(throws: JSONLogic.EvaluationError.self) { try JSONLogic(["substr": ["abc", "infinity"]]).evaluate([:]) }
        // Variant names compare by code points: "cafe" + combining accent is not "café".
        var spec = FeatureFlag.Spec()
        spec.flagd = .init(state: "ENABLED", variants: ["caf\u{e9}": true, "off": false], defaultVariant: "off", targeting: ["var": "v"])
        let f = try CompiledFlag.compile(spec, name: "f")
        #expect(f.evaluate(EvaluationContext(["v": "cafe\u{301}"]), environment: "dev").errorCode == .general)
        #expect(f.evaluate(EvaluationContext(["v": "caf\u{e9}"]), environment: "dev").value == true)
    }

    @Test func usageFallsToZeroForFlagsNobodyEvaluates() {
        var totals = UsageLedger.Totals()
        let old = FeatureFlag.Usage(evaluationsLastHour: 100, lastEvaluatedTime: Time(secondsSince1970: 1_700_000_000))
        // Nothing collected yet: keep what the status says.
        #expect(totals.usage(namespace: "default", key: "f", current: old) == old)
        totals.collected = true
        let now = totals.usage(namespace: "default", key: "f", current: old)
        #expect(now?.evaluationsLastHour == 0 && now?.lastEvaluatedTime == old.lastEvaluatedTime)
        totals.flags["default.f"] = (3, 1_800_000_000_000)
        #expect(totals.usage(namespace: "default", key: "f", current: old)?.evaluationsLastHour == 3)
    }
}
