import Foundation
import Testing
@testable import FeatureFlags
import KubeCore
import TestSupport

/// The flagd form against flagd's reference evaluator (openfeature-flagd-core on PyPI): the same definitions,
/// 5,000 random contexts each, the same value, variant, reason and error code.
@Suite struct FlagdAgreementTests {
    @Test func agreesWithFlagdCoreOnRandomContexts() async throws {
        let python = try testPython()
        let definitions = fixturesDirectory + "/flagd-definitions.json"
        let result = try await runAsync(python, [fixturesDirectory + "/flagd_reference.py", definitions, "5000", "7"])
        #expect(result.status == 0, "\(result.err)")
        let file = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: definitions))))
        let evaluators = file["$evaluators"]?.objectValue?.dictionary ?? [:]
        var flags: [String: CompiledFlag] = [:]
        for (key, def) in file["flags"]?.objectValue ?? [:] {
            var spec = FeatureFlag.Spec()
            spec.flagd = try JSONValueDecoder().decode(FeatureFlag.FlagdDefinition.self, from: def)
            spec.flagd?.evaluators = evaluators
            flags[key] = try CompiledFlag.compile(spec, name: key)
        }
        var compared = 0
        var mismatches: [String] = []
        var reasons: [String: Int] = [:]
        for line in result.out.split(separator: "\n") {
            let expected = try JSONParser.parse(String(line))
            guard let key = expected["flag"]?.stringValue, let flag = flags[key], let context = expected["context"]?.objectValue else {
                Issue.record("unreadable reference line: \(line.prefix(200))")
                continue
            }
            let got = flag.evaluate(EvaluationContext(context), environment: "production")
            let wantReason = expected["reason"]?.stringValue ?? ""
            let wantCode = expected["errorCode"]?.stringValue
            let wantValue = expected["value"] ?? .null
            let wantVariant = expected["variant"]?.stringValue
            reasons[wantReason, default: 0] += 1
            // One deliberate difference: DISABLED sends the default variant's value (flagd-core leaves the caller's
            // default), so that typed OFREP clients get a value of the flag's type.
            let disabled = wantReason == "DISABLED"
            let valueAgrees = wantCode != nil || (disabled ? got.value == flag.defaultValue : Self.numericallyEqual(got.value ?? .null, wantValue))
            if got.reason.rawValue != wantReason || got.errorCode?.rawValue != wantCode || !valueAgrees
                || (wantCode == nil && got.variant != wantVariant) {
                mismatches.append("\(key) \(context.dictionary): flagd-core \(wantValue.serializedString())/\(wantVariant ?? "nil")/\(wantReason)/\(wantCode ?? "-"), ours \((got.value ?? .null).serializedString())/\(got.variant ?? "nil")/\(got.reason.rawValue)/\(got.errorCode?.rawValue ?? "-") \(got.errorDetails ?? "")")
            }
            compared += 1
        }
        #expect(compared >= 5000 * flags.count, "compared \(compared)")
        // Every kind of outcome is exercised, so agreement means something.
        for reason in ["TARGETING_MATCH", "DEFAULT", "STATIC", "DISABLED", "ERROR"] { #expect((reasons[reason] ?? 0) > 0, "\(reason) never occurred") }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(compared) disagree; first: \(mismatches.prefix(8).joined(separator: "\n"))")
    }

    /// flagd-core reports float flags as floats (0 as 0.0): numbers compare by value.
    static func numericallyEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int, .double), (.double, .int), (.double, .double), (.int, .int): return a.doubleValue == b.doubleValue
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { numericallyEqual($0, $1) }
        case (.object(let x), .object(let y)): return x.count == y.count && x.allSatisfy { k, v in y[k].map { numericallyEqual(v, $0) } ?? false }
        default: return a == b
        }
    }
}
