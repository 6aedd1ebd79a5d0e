import Foundation
import Testing
@testable import FeatureFlags
import KubeClient
import KubeCore
import LocalCluster
import TestSupport

/// A real OpenFeature client (openfeature-sdk with openfeature-provider-ofrep, from PyPI) evaluates every sample
/// flag against the running server.
@Suite struct OpenFeatureClientTests {
    @Test func theOFREPProviderEvaluatesEverySample() async throws {
        let python = try testPython()
        let h = try await FlagHarness.start()
        defer { h.stop() }
        let samples = try FileManager.default.contentsOfDirectory(atPath: repository + "/manifests/samples").filter { $0.hasPrefix("flag-") }.sorted()
        #expect(samples.count >= 4)
        for file in samples {
            let r = try await h.kubectl(["apply", "-f", repository + "/manifests/samples/" + file])
            #expect(r.status == 0, "\(file): \(r.err)")
        }
        let broken = """
        apiVersion: ops.salespot.by/v1alpha1
        kind: FeatureFlag
        metadata: {name: broken, namespace: default}
        spec: {type: string, defaultValue: 7}
        """
        #expect(try await h.kubectl(["apply"], stdin: broken).status == 0)
        #expect(try await h.within(.seconds(3)) { try await h.json("GET", "/feature-flags").1.arrayValue?.count == samples.count + 1 } != nil)

        // Users inside and outside new-checkout's 20%, and dark-mode's answer for one, by the server's own code.
        let bucketing = BucketingV1(salt: "new-checkout")
        let inside = (0...).lazy.map { "user-\($0)" }.first { bucketing.bucket($0) < 2000 }!
        let outside = (0...).lazy.map { "user-\($0)" }.first { bucketing.bucket($0) >= 2000 }!
        let darkMode = try await h.flags.get("dark-mode")
        let dark = try CompiledFlag.compile(darkMode.spec, name: "dark-mode").evaluate(EvaluationContext(targetingKey: "visitor-1"), environment: "production")

        let expectations: JSONValue = [
            ["flag": "new-checkout", "type": "boolean", "default": false, "targetingKey": "alice", "value": true, "reason": "TARGETING_MATCH", "variant": "testers"],
            ["flag": "new-checkout", "type": "boolean", "default": false, "targetingKey": .string(inside), "value": true, "reason": "SPLIT"],
            ["flag": "new-checkout", "type": "boolean", "default": true, "targetingKey": .string(outside), "value": false, "reason": "DEFAULT"],
            ["flag": "new-checkout", "type": "boolean", "default": true, "value": true, "errorCode": "TARGETING_KEY_MISSING"],
            ["flag": "new-checkout", "type": "string", "default": "x", "targetingKey": "alice", "value": "x", "errorCode": "TYPE_MISMATCH"],
            ["flag": "banner-text", "type": "string", "default": "d", "targetingKey": "u1", "attributes": ["role": "ADMIN"], "value": "Welcome back, admin", "reason": "TARGETING_MATCH"],
            ["flag": "banner-text", "type": "string", "default": "d", "targetingKey": "u1", "value": "Welcome", "reason": "DEFAULT"],
            ["flag": "banner-text", "type": "string", "default": "d", "targetingKey": "u1", "attributes": ["role": 5], "value": "d", "errorCode": "INVALID_CONTEXT"],
            ["flag": "search-config", "type": "object", "default": [:], "targetingKey": "u1", "attributes": ["environment": "staging"],
             "value": ["engine": "v2", "resultsPerPage": 50], "variant": "v2-large"],
            ["flag": "search-config", "type": "object", "default": [:], "targetingKey": "u1", "value": ["engine": "v1", "resultsPerPage": 25], "reason": "TARGETING_MATCH"],
            ["flag": "dark-mode", "type": "boolean", "default": false, "targetingKey": "u1", "attributes": ["email": "ann@salespot.by"], "value": true, "variant": "on"],
            ["flag": "dark-mode", "type": "boolean", "default": false, "targetingKey": "u1", "attributes": ["role": "ADMIN"], "value": true, "reason": "TARGETING_MATCH"],
            ["flag": "dark-mode", "type": "boolean", "default": true, "targetingKey": "visitor-1", "value": dark.value ?? .null, "variant": .string(dark.variant ?? "")],
            ["flag": "broken", "type": "string", "default": "d", "targetingKey": "u1", "value": "d", "errorCode": "GENERAL"],
            ["flag": "missing", "type": "boolean", "default": true, "value": true, "errorCode": "FLAG_NOT_FOUND"],
        ]
        let file = h.cluster.kubeconfigPath + ".expectations.json"
        try expectations.serializedString().write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await runAsync(python, [fixturesDirectory + "/ofrep_client.py", "http://127.0.0.1:\(h.port)", file])
        #expect(result.status == 0, "the OpenFeature client disagreed:\n\(result.err)\n\(result.out)")
        #expect(result.out.split(separator: "\n").count == expectations.arrayValue?.count, "\(result.out)")
    }
}
