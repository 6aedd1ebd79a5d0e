import ArgumentParser
import Backups
import BlueGreen
import DisasterRecovery
import FeatureFlags
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KubeClient
import KubeCore
import KubeRuntime
import LocalCluster
import Logging
import ServiceLifecycle


/// `salespot-operator bluegreen ...`: the original design's blue-green-deploy.sh, by patching the resources.
struct BlueGreenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bluegreen", abstract: "Drive BlueGreenDeployments: deploy, promote, abort, status, history, undo.",
        subcommands: [Deploy.self, Promote.self, Abort.self, Status.self, History.self, Undo.self])

    /// Which resources a command acts on: one by name, or every one matching a label selector with --all.
    struct Target: ParsableArguments {
        @Argument(help: "The BlueGreenDeployment (omit with --all).")
        var name: String?

        @Flag(help: "Act on every BlueGreenDeployment in the namespace (narrowed with --selector), as the original design's `all`.")
        var all = false

        @Option(name: [.customShort("l"), .long], help: "Label selector for --all, e.g. app.kubernetes.io/part-of=salespot.")
        var selector: String?

        func validate() throws {
            if all == (name != nil) { throw ValidationError("give a name or --all") }
        }

        func resolve(_ api: Api<BlueGreenDeployment>) async throws -> [BlueGreenDeployment] {
            if let name { return [try await api.get(name)] }
            return try await api.listAll(ListOptions(labelSelector: selector)).items
        }
    }

    static func api(_ connection: ConnectionOptions) throws -> Api<BlueGreenDeployment> {
        let configuration = try connection.loadConfiguration()
        return Api<BlueGreenDeployment>(KubeClient(configuration: configuration), namespace: configuration.namespace)
    }

    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Roll out to a colour, optionally with a new image for the first container.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var target: Target
        @Option(help: "The colour to deploy to: blue or green. Default: the idle colour.")
        var color: String?
        @Option(help: "New image of the first container.")
        var image: String?

        func validate() throws {
            if let color, Color(rawValue: color) == nil { throw ValidationError("--color must be blue or green") }
            if color == nil && image == nil { throw ValidationError("give --color, --image or both") }
        }

        func run() async throws {
            let api = try BlueGreenCommand.api(connection)
            for bgd in try await target.resolve(api) {
                var spec: JSONValue = [:]
                if let color { spec["activeColor"] = .string(color) }
                if let image {
                    var template = bgd.spec.template
                    guard var containers = template[path: ["spec", "containers"]]?.arrayValue, !containers.isEmpty else {
                        throw ValidationError("\(bgd.metadata.name ?? ""): the template has no containers")
                    }
                    containers[0]["image"] = .string(image)
                    template[path: ["spec", "containers"]] = .array(containers)
                    spec["template"] = template
                }
                let name = bgd.metadata.name ?? ""
                // A new deploy withdraws a promote that has not been acted on: it approved what was there before.
                var withdrawn = false
                if bgd.spec.promote == true {
                    spec["promote"] = .null
                    withdrawn = true
                }
                var patch: JSONValue = ["spec": spec]
                if withdrawn {
                    patch["metadata"] = ["annotations": .object(JSONObject([BlueGreenController.promoteTemplateAnnotation: .null]))]
                    print("bluegreendeployment/\(name): a pending promote was withdrawn (it was for the previous template)")
                }
                _ = try await api.patch(name, .merge(patch), fieldManager: "salespot-cli")
                if bgd.spec.abort == true {
                    // The controller holds an aborted resource still: say so rather than "deploying".
                    print("bluegreendeployment/\(name) updated, but its rollout is aborted: nothing is deployed until `salespot-operator bluegreen abort \(name) --resume`")
                } else {
                    print("bluegreendeployment/\(name) deploying\(color.map { " to \($0)" } ?? "")\(image.map { " with \($0)" } ?? "")")
                }
            }
        }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Promote a preview that waits for manual promotion.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var target: Target

        /// Why `bgd` has nothing to promote, or nil when a preview waits (or is on its way) for a manual promotion.
        static func refusal(_ bgd: BlueGreenDeployment) -> String? {
            let name = bgd.metadata.name ?? ""
            if bgd.spec.promotion?.mode != "Manual" {
                return "promotion is automatic: traffic switches as soon as the new colour is ready"
            }
            if bgd.spec.abort == true {
                return "the rollout is aborted; resume it first with `salespot-operator bluegreen abort \(name) --resume`"
            }
            // A spec the controller has not seen yet may start a rollout: the controller decides then (and clears a
            // promote that turns out to have nothing to promote, with a Warning Event).
            if (bgd.status?.observedGeneration ?? 0) < (bgd.metadata.generation ?? 0) { return nil }
            let phase = bgd.status?.phase ?? "Pending"
            if phase != "Paused" && phase != "Progressing" {
                return "nothing awaits promotion (phase \(phase))"
            }
            return nil
        }

        func run() async throws {
            let api = try BlueGreenCommand.api(connection)
            var refused: [String] = []
            let resources = try await target.resolve(api)
            for var bgd in resources {
                let name = bgd.metadata.name ?? ""
                // Sent with the resourceVersion read, so a promote decided on a stale read is not applied: read again.
                for attempt in 1...3 {
                    if let why = Self.refusal(bgd) {
                        printError("bluegreendeployment/\(name) not promoted: \(why)")
                        refused.append(name)
                        break
                    }
                    // Pinned to the template on preview now: if it changes before the controller reaches the gate,
                    // the controller drops this promote rather than approve a template nobody looked at.
                    let hash = BlueGreenController.templateHash(bgd.spec.template)
                    do {
                        _ = try await api.patch(name, .merge(["metadata": ["resourceVersion": .string(bgd.metadata.resourceVersion ?? ""),
                                                                           "annotations": [BlueGreenController.promoteTemplateAnnotation: .string(hash)]],
                                                              "spec": ["promote": true]]), fieldManager: "salespot-cli")
                        print("bluegreendeployment/\(name) promoted (template \(hash))")
                        break
                    } catch let error as KubeError where error.isConflict {
                        guard attempt < 3 else {
                            printError("bluegreendeployment/\(name) not promoted: it kept changing while being promoted; try again")
                            refused.append(name)
                            break
                        }
                        bgd = try await api.get(name)
                    }
                }
            }
            // A named resource that was refused is an error; with --all, only when nothing at all was promoted.
            if !refused.isEmpty && (target.name != nil || refused.count == resources.count) {
                throw ExitCode(1)
            }
        }
    }

    struct Abort: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Abort a rollout (traffic back, new colour scaled down); --resume undoes it.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var target: Target
        @Flag(help: "Clear a previous abort so the rollout can go on.")
        var resume = false

        func run() async throws {
            let api = try BlueGreenCommand.api(connection)
            for bgd in try await target.resolve(api) {
                _ = try await api.patch(bgd.metadata.name ?? "", .merge(["spec": ["abort": resume ? nil : true]]), fieldManager: "salespot-cli")
                print("bluegreendeployment/\(bgd.metadata.name ?? "") \(resume ? "resumed" : "aborted")")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the colours, phase and readiness of one resource, or of every one in the namespace.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The BlueGreenDeployment. Default: every one in the namespace (narrowed with --selector).")
        var name: String?
        @Flag(help: "Every BlueGreenDeployment in the namespace (the default without a name).")
        var all = false
        @Option(name: [.customShort("l"), .long], help: "Label selector, e.g. app.kubernetes.io/part-of=salespot.")
        var selector: String?

        func validate() throws {
            if all && name != nil { throw ValidationError("give a name or --all, not both") }
        }

        func run() async throws {
            let api = try BlueGreenCommand.api(connection)
            let resources = if let name { [try await api.get(name)] } else { try await api.listAll(ListOptions(labelSelector: selector)).items }
            if resources.isEmpty {
                printError("No BlueGreenDeployments found in namespace \(api.namespace ?? "default").")
                return
            }
            let rows = resources.map { b -> [String] in
                let s = b.status
                let ready = s?.conditions?.first { $0.type == "Ready" }
                let colors = Color.allCases.compactMap { c in
                    s?.colors?[c.rawValue].map { "\(c.rawValue)=\($0.image ?? "?") \($0.readyReplicas ?? 0)/\($0.replicas ?? 0)" }
                }.joined(separator: ", ")
                return [b.metadata.name ?? "", s?.activeColor ?? "-", s?.previewColor ?? "-", s?.phase ?? "Pending",
                        ready.map { "\($0.status) (\($0.reason ?? ""))" } ?? "Unknown", colors]
            }
            let header = ["NAME", "ACTIVE", "PREVIEW", "PHASE", "READY", "COLOURS"]
            let widths = header.indices.map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
            for row in [header] + rows {
                print(row.enumerated().map { $0.element + String(repeating: " ", count: widths[$0.offset] + 2 - $0.element.count) }.joined())
            }
        }
    }
}
