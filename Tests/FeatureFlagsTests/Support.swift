import Foundation
import Testing
@testable import FeatureFlags
import KubeClient
import KubeCore
import KubeRuntime
import LocalCluster
import TestSupport

let sharedPKI: String = NSTemporaryDirectory() + "salespot-flags-pki-\(getpid())"
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let viewerToken = "viewer-token-0123456789"

/// A LocalCluster with the FeatureFlag CRD, an evaluation server and (optionally) the controller.
struct FlagHarness {
    let cluster: LocalCluster
    let client: KubeClient
    let service: FlagService
    let port: Int
    let registry: MetricsRegistry
    let tasks: [Task<Void, Never>]

    static func start(controller: Bool = true, apiKeysSecret: (namespace: String, name: String)? = nil, usageInterval: Duration = .seconds(60),
                      cluster existing: LocalCluster? = nil) async throws -> FlagHarness {
        let cluster: LocalCluster
        if let existing {
            cluster = existing
        } else {
            var options = LocalCluster.Options()
            options.pkiDirectory = sharedPKI
            options.readOnlyTokens = [viewerToken: "viewer"]
            cluster = try await LocalCluster.start(options)
            try await cluster.installCRDs(try String(contentsOfFile: repository + "/crds/featureflags.ops.salespot.by.yaml", encoding: .utf8))
        }
        let client = KubeClient(configuration: cluster.clientConfiguration())
        let registry = MetricsRegistry()
        var options = FlagServer.Options()
        options.port = 0
        let server = FlagServer(evaluator: FlagEvaluator(catalog: FlagCatalog(), environment: "production"), options: options,
                                apiKeys: apiKeysSecret == nil ? nil : APIKeys(), kubeConfiguration: cluster.clientConfiguration(), registry: registry)
        var ledger = UsageLedger(client: client, namespace: "default", replica: "test-\(UUID().uuidString.prefix(8))")
        ledger.publishInterval = usageInterval / 2
        let ports = Locked<Int?>(nil)
        let service = FlagService(client: client, server: server, apiKeysSecret: apiKeysSecret, ledger: ledger) { p in ports.mutate { $0 = p } }
        var tasks: [Task<Void, Never>] = [Task { _ = try? await service.run() }]
        if controller {
            let c = FlagController(client: client, events: EventRecorder(client: client, reportingController: "salespot.by/flags", reportingInstance: "test"),
                                   ledger: ledger, usageInterval: usageInterval)
            tasks.append(Task { await c.run() })
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while ports.value == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        guard let port = ports.value else { throw HarnessError(description: "the flag server did not start") }
        return FlagHarness(cluster: cluster, client: client, service: service, port: port, registry: registry, tasks: tasks)
    }

    func stop(cluster stopCluster: Bool = true) {
        for t in tasks { t.cancel() }
        if stopCluster { Task { await cluster.stop() } }
    }

    var flags: Api<FeatureFlag> { Api<FeatureFlag>(client, namespace: "default") }

    /// kubectl against the cluster.
    func kubectl(_ args: [String], stdin: String? = nil) async throws -> (status: Int32, out: String, err: String) {
        let kubectl = try requireTool("kubectl")
        var argv = ["--kubeconfig", cluster.kubeconfigPath, "--cache-dir", cluster.kubeconfigPath + ".kubectl-cache"] + args
        if let stdin {
            let file = cluster.kubeconfigPath + ".\(UUID().uuidString).yaml"
            try stdin.write(toFile: file, atomically: true, encoding: .utf8)
            argv += ["-f", file]
        }
        return try await runAsync(kubectl, argv, env: ["HOME": NSTemporaryDirectory(), "PATH": "/usr/bin:/bin"])
    }

    /// A plain HTTP request to the flag server.
    func http(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) async throws -> HTTPResponse {
        var h = HTTPHeaders()
        for (k, v) in headers { h.add(k, v) }
        if body != nil && h["Content-Type"] == nil { h.add("Content-Type", "application/json") }
        return try await CurlTransport().send(HTTPRequest(method: method, url: "http://127.0.0.1:\(port)\(path)", headers: h,
                                                          body: body.map { Array($0.utf8) }, timeout: .seconds(10)))
    }

    func json(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) async throws -> (Int, JSONValue) {
        let r = try await http(method, path, body: body, headers: headers)
        return (r.status, (try? JSONParser.parse(r.body)) ?? .string(String(decoding: r.body, as: UTF8.self)))
    }

    /// OFREP single evaluation.
    func ofrep(_ key: String, _ context: JSONValue = [:], headers: [String: String] = [:]) async throws -> (Int, JSONValue) {
        try await json("POST", "/ofrep/v1/evaluate/flags/\(key)", body: JSONValue.object(["context": context]).serializedString(), headers: headers)
    }

    /// Polls until `condition` holds; returns how long it took, or nil on timeout.
    @discardableResult
    func within(_ limit: Duration, _ condition: () async throws -> Bool) async throws -> Duration? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if try await condition() { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(10))
        }
        return try await condition() ? ContinuousClock.now - start : nil
    }
}

struct HarnessError: Error, CustomStringConvertible { let description: String }
