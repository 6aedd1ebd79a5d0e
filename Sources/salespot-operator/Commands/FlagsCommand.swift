import ArgumentParser
import FeatureFlags
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import KubeCore
import KubeRuntime
import Logging
import ServiceLifecycle

/// Flags of the flag server, for `run` and `dev`.
struct FlagOptions: ParsableArguments {
    @Option(help: "Address of the flag evaluation server (host:port; port 0 picks a free one; 'off' runs none). Every replica serves, leader or not.")
    var flagsBindAddress = "127.0.0.1:8013"

    @Option(help: "The environment flags are evaluated in when a request names none: dev, staging or production. Default: production (dev mode: dev).")
    var flagsEnvironment: String?

    @Option(help: "The namespace whose flags a request reads when it names none (header X-Flag-Namespace or ?namespace=).")
    var flagsNamespace = "default"

    @Option(help: "NAMESPACE/NAME of a Secret of API keys: each entry is named after the namespace its keys read ('_all': every namespace), one key per line. Default: no keys asked for.")
    var flagsApiKeysSecret: String?

    @Option(help: "How often the leader writes each flag's usage (evaluations in the last hour, last evaluation) into its status.")
    var flagsUsageInterval = "60s"

    var host: String { String(flagsBindAddress.split(separator: ":").first ?? "127.0.0.1") }
    var environment: String? { flagsEnvironment }

    func validate() throws {
        if let e = flagsEnvironment, !["dev", "staging", "production"].contains(e) {
            throw ValidationError("--flags-environment must be dev, staging or production")
        }
        if flagsBindAddress != "off" {
            let parts = flagsBindAddress.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]), (0...65535).contains(port) else {
                throw ValidationError("--flags-bind-address: expected HOST:PORT or off")
            }
        }
        if let s = flagsApiKeysSecret, s.split(separator: "/").count != 2 {
            throw ValidationError("--flags-api-keys-secret: expected NAMESPACE/NAME")
        }
        let interval = try usageInterval()
        guard interval >= .seconds(1), interval <= .seconds(86_400) else {
            throw ValidationError("--flags-usage-interval must be between 1s and 24h")
        }
    }

    func usageInterval() throws -> Duration { try parseDuration(flagsUsageInterval, flag: "--flags-usage-interval") }
    /// Replicas publish their counts twice per usage interval, so the leader reads fresh ones.
    func publishInterval() throws -> Duration { try usageInterval() / 2 }

    /// The flag service to run, or nil with `--flags-bind-address off`.
    func service(client: KubeClient, configuration: ClientConfiguration, registry: MetricsRegistry, namespaces: [String]?,
                 identity: String, operatorNamespace: String, defaultEnvironment: String,
                 announce: @escaping @Sendable (Int) -> Void) throws -> FlagService? {
        guard flagsBindAddress != "off" else { return nil }
        var options = FlagServer.Options()
        options.host = host
        options.port = Int(flagsBindAddress.split(separator: ":").last ?? "8013") ?? 8013
        options.defaultNamespace = flagsNamespace
        let keysSecret = flagsApiKeysSecret.map { s in
            let parts = s.split(separator: "/").map(String.init)
            return (namespace: parts[0], name: parts[1])
        }
        let evaluator = FlagEvaluator(catalog: FlagCatalog(), environment: flagsEnvironment ?? defaultEnvironment)
        let server = FlagServer(evaluator: evaluator, options: options, apiKeys: keysSecret == nil ? nil : APIKeys(),
                                kubeConfiguration: configuration, registry: registry)
        var ledger = UsageLedger(client: client, namespace: operatorNamespace, replica: identity)
        ledger.publishInterval = try publishInterval()
        return FlagService(client: client, server: server, namespaces: namespaces, apiKeysSecret: keysSecret, ledger: ledger,
                           onListening: announce)
    }
}

/// `salespot-operator flags ...`: FeatureFlags through the Kubernetes API.
struct FlagsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flags", abstract: "Feature flags: list, get, set, and evaluate them.",
        subcommands: [List.self, Get.self, Set.self, Eval.self])

    static func api(_ connection: ConnectionOptions) throws -> Api<FeatureFlag> {
        let configuration = try connection.loadConfiguration()
        return Api<FeatureFlag>(KubeClient(configuration: configuration), namespace: configuration.namespace)
    }

    /// The FeatureFlag with this key (its name, or `spec.key`).
    static func find(_ api: Api<FeatureFlag>, key: String) async throws -> FeatureFlag {
        if let byName = try? await api.getIfExists(key), byName.key == key { return byName }
        let all = try await api.listAll().items.filter { $0.key == key }
        guard let flag = all.min(by: { ($0.metadata.creationTimestamp?.description ?? "") < ($1.metadata.creationTimestamp?.description ?? "") }) else {
            throw ValidationError("no FeatureFlag with key '\(key)' in namespace \(api.namespace ?? "default")")
        }
        return flag
    }

    static func table(_ rows: [[String]]) {
        let widths = rows[0].indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { $0.element + String(repeating: " ", count: widths[$0.offset] + 2 - $0.element.count) }.joined()
                .trimmingTrailingSpaces())
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the flags of the namespace with their state and usage.")
        @OptionGroup var connection: ConnectionOptions
        @Option(name: [.customShort("l"), .long], help: "Label selector.")
        var selector: String?

        func run() async throws {
            let api = try FlagsCommand.api(connection)
            let flags = try await api.listAll(ListOptions(labelSelector: selector)).items.sorted { $0.key < $1.key }
            if flags.isEmpty {
                printError("No FeatureFlags found in namespace \(api.namespace ?? "default").")
                return
            }
            var rows = [["KEY", "TYPE", "ENABLED", "DEFAULT", "RULES", "READY", "SERVED", "EVALS-1H", "LAST-EVALUATED"]]
            for f in flags {
                let s = f.status
                let ready = s?.conditions?.first { $0.type == "Ready" }
                rows.append([f.key, s?.type ?? f.spec.type ?? "-", s?.enabled.map { String($0) } ?? "-", s?.default ?? "-",
                             s?.rules.map(String.init) ?? "-", ready.map { "\($0.status) (\($0.reason ?? ""))" } ?? "Unknown",
                             s?.servedGeneration.map { "gen \($0)" } ?? "-", s?.usage?.evaluationsLastHour.map(String.init) ?? "0",
                             s?.usage?.lastEvaluatedTime?.rfc3339 ?? "never"])
            }
            FlagsCommand.table(rows)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one flag: its definition, what is served and why.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The flag key.")
        var key: String

        func run() async throws {
            let flag = try await FlagsCommand.find(try FlagsCommand.api(connection), key: key)
            let ready = flag.status?.conditions?.first { $0.type == "Ready" }
            print("key: \(flag.key)")
            print("name: \(flag.metadata.namespace ?? "default")/\(flag.metadata.name ?? "")")
            print("generation: \(flag.metadata.generation ?? 0), served: \(flag.status?.servedGeneration.map(String.init) ?? "none")")
            print("ready: \(ready?.status ?? "Unknown") \(ready?.reason ?? ""): \(ready?.message ?? "not reconciled yet")")
            if let usage = flag.status?.usage {
                print("usage: \(usage.evaluationsLastHour ?? 0) evaluations in the last hour, last \(usage.lastEvaluatedTime?.rfc3339 ?? "never")")
            }
            let spec = (try? JSONValueEncoder().encode(flag.spec)) ?? .null
            print("spec: \(spec.serializedString(sortedKeys: true))")
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a flag: switch it on or off, its default value, a rule's percentage (a merge patch of the FeatureFlag).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The flag key.")
        var key: String
        @Option(help: "true or false: the kill switch.")
        var enabled: Bool?
        @Option(name: .customLong("default"), help: "The default value, as JSON (a bare word is a string).")
        var defaultValue: String?
        @Option(help: "The percentage (0-100) of the percentage rule (with --rule: of that rule).")
        var percentage: Double?
        @Option(help: "The rule --percentage changes, by name. Default: the only rule with a percentage.")
        var rule: String?
        @Option(help: "The description.")
        var description: String?

        func validate() throws {
            if enabled == nil && defaultValue == nil && percentage == nil && description == nil {
                throw ValidationError("give --enabled, --default, --percentage or --description")
            }
            if let p = percentage, !(0...100).contains(p) { throw ValidationError("--percentage must be within 0 and 100") }
        }

        func run() async throws {
            let api = try FlagsCommand.api(connection)
            for attempt in 1...3 {
                let flag = try await FlagsCommand.find(api, key: key)
                var spec = JSONObject()
                if let enabled { spec["enabled"] = .bool(enabled) }
                if let description { spec["description"] = .string(description) }
                if let defaultValue {
                    guard flag.spec.flagd == nil else { throw ValidationError("\(key) is in the flagd form: change spec.flagd.defaultVariant instead") }
                    spec["defaultValue"] = (try? JSONParser.parse(defaultValue)) ?? .string(defaultValue)
                }
                if let percentage {
                    guard var rules = flag.spec.rules else { throw ValidationError("\(key) has no rules") }
                    let candidates = rules.indices.filter { rule == nil ? rules[$0].percentage != nil : rules[$0].name == rule }
                    guard candidates.count == 1, let i = candidates.first else {
                        throw ValidationError(rule.map { "\(key) has no rule named \($0)" } ?? "\(key) has \(candidates.count) percentage rules: name one with --rule")
                    }
                    rules[i].percentage = percentage
                    spec["rules"] = try JSONValueEncoder().encode(rules)
                }
                // Checked as the controller will check it, before anything is written.
                var proposed = flag.spec
                if let d = spec["defaultValue"] { proposed.defaultValue = d }
                if let r = spec["rules"] { proposed.rules = try JSONValueDecoder().decode([FeatureFlag.Rule].self, from: r) }
                if let enabled { proposed.enabled = enabled }
                do { _ = try CompiledFlag.compile(proposed, name: flag.metadata.name ?? "") } catch {
                    throw ValidationError("not changed: \(error.message)")
                }
                do {
                    let patched = try await api.patch(flag.metadata.name ?? "", .merge(["metadata": ["resourceVersion": .string(flag.metadata.resourceVersion ?? "")],
                                                                                     "spec": .object(spec)]), fieldManager: "salespot-cli")
                    print("featureflag/\(patched.metadata.name ?? "") changed (generation \(patched.metadata.generation ?? 0))")
                    return
                } catch let error as KubeError where error.isConflict && attempt < 3 {
                    continue
                }
            }
        }
    }

    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a flag for a user, with the server's code (locally, from the resource), or ask a running server (--server).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The flag key.")
        var key: String
        @Option(help: "The user id (targeting key).")
        var user: String?
        @Option(help: "The user's role.")
        var role: String?
        @Option(help: "The environment (dev, staging, production). Default: locally production; with --server, the server's own.")
        var environment: String?
        @Option(help: "An API key for --server (sent as X-API-Key).")
        var apiKey: String?
        @Option(name: .customLong("attr"), parsing: .singleValue, help: "Another context attribute, NAME=VALUE (VALUE as JSON, else a string). Repeatable.")
        var attributes: [String] = []
        @Option(help: "Ask this flag server (http://HOST:PORT) over OFREP instead of evaluating locally.")
        var server: String?

        func context() throws -> EvaluationContext {
            var attrs: [String: JSONValue] = [:]
            if let environment { attrs["environment"] = .string(environment) }
            if let role { attrs["role"] = .string(role) }
            for a in attributes {
                guard let eq = a.firstIndex(of: "=") else { throw ValidationError("--attr \(a): expected NAME=VALUE") }
                let value = String(a[a.index(after: eq)...])
                attrs[String(a[..<eq])] = (try? JSONParser.parse(value)) ?? .string(value)
            }
            return EvaluationContext(targetingKey: user, attributes: attrs)
        }

        func run() async throws {
            let context = try context()
            if let server {
                let configuration = try connection.loadConfiguration()
                let body: JSONValue = ["context": .object(context.attributes)]
                let url = server.hasSuffix("/") ? String(server.dropLast()) : server
                var headers: HTTPHeaders = ["Content-Type": "application/json", "X-Flag-Namespace": configuration.namespace]
                if let apiKey { headers.add("X-API-Key", apiKey) }
                let request = HTTPRequest(method: "POST", url: url + "/ofrep/v1/evaluate/flags/\(key)", headers: headers,
                                          body: body.serialized(), timeout: .seconds(10))
                let response = try await CurlTransport().send(request)
                print(String(decoding: response.body, as: UTF8.self))
                if response.status >= 400 { throw ExitCode(1) }
                return
            }
            let flag = try await FlagsCommand.find(try FlagsCommand.api(connection), key: key)
            let compiled: CompiledFlag
            do { compiled = try CompiledFlag.compile(flag.spec, name: flag.metadata.name ?? "") } catch {
                throw ValidationError("\(key) is invalid (the servers keep serving generation \(flag.status?.servedGeneration.map(String.init) ?? "none")): \(error.message)")
            }
            let r = compiled.evaluate(context, environment: environment ?? "production")
            if let code = r.errorCode {
                print("error: \(code.rawValue): \(r.errorDetails ?? "")")
                throw ExitCode(1)
            }
            print("value: \(r.value?.serializedString() ?? "(the caller's default)")")
            print("variant: \(r.variant ?? "-")")
            print("reason: \(r.reason.rawValue)")
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
