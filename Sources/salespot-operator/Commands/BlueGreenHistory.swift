import ArgumentParser
import BlueGreen
import KubeClient
import KubeCore

extension BlueGreenCommand {
    /// `bluegreen history NAME`: the templates rolled out (status.history) and what became of each.
    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The revisions of a BlueGreenDeployment: each template rolled out and its outcome.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The BlueGreenDeployment.") var name: String

        func run() async throws {
            let bgd = try await BlueGreenCommand.api(connection).get(name)
            let history = bgd.status?.history ?? []
            if history.isEmpty {
                print("no revisions recorded for \(name) yet")
                return
            }
            var rows = [["REVISION", "TEMPLATE", "IMAGE", "OUTCOME", "TIME"]]
            for r in history.reversed() {
                rows.append(["\(r.revision)", r.templateHash, r.image ?? "-", r.outcome, r.time?.rfc3339 ?? "-"])
            }
            FlagsCommand.table(rows)
        }
    }

    /// `bluegreen undo NAME [--to-revision N]`: the template of an earlier revision put back. While the colour that
    /// ran it is still up (inside scaleDownDelaySeconds) that is an instant switch; after, a normal rollout of it.
    struct Undo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Roll back to an earlier revision's template (default: the one before the active one).",
            discussion: "A GitOps repository that owns the resource should carry the same change, or it will set the template back.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The BlueGreenDeployment.") var name: String
        @Option(help: "The revision to go back to (see `bluegreen history`).") var toRevision: Int?

        func run() async throws {
            let api = try BlueGreenCommand.api(connection)
            // The operator writes the status often (each step of a rollout): a write between this command's read and
            // its patch fails the patch's guard, and the decision is made again on a fresh read.
            for attempt in 1...10 {
                do {
                    try await undo(api)
                    return
                } catch let error as KubeError where attempt < 10 && (error.isConflict || (error.code == 422 && (error.status?.message ?? "").contains("testing value"))) {
                    try await Task.sleep(for: .milliseconds(50 * attempt))
                }
            }
        }

        func undo(_ api: Api<BlueGreenDeployment>) async throws {
            let bgd = try await api.get(name)
            let history = bgd.status?.history ?? []
            let current = BlueGreenController.templateHash(bgd.spec.template)
            let target: BlueGreenDeployment.Revision
            if let n = toRevision {
                guard let r = history.first(where: { $0.revision == n }) else {
                    throw ValidationError("\(name) has no revision \(n) (revisions: \(history.map { String($0.revision) }.joined(separator: ", ")))")
                }
                target = r
            } else if let active = history.last(where: { $0.outcome == "Active" }), active.templateHash != current, active.template != nil {
                // The template was changed after the active one (a rollout that failed or runs): back to the active one.
                target = active
            } else {
                // The newest revision before the active one.
                let activeIndex = history.lastIndex { $0.outcome == "Active" } ?? history.count
                guard let r = history[..<activeIndex].last(where: { $0.templateHash != current && $0.template != nil }) else {
                    throw ValidationError("\(name) has no earlier revision to go back to")
                }
                target = r
            }
            guard let template = target.template else { throw ValidationError("revision \(target.revision) has no stored template") }
            guard target.templateHash != current else {
                print("bluegreendeployment.ops.salespot.by/\(name) already runs revision \(target.revision)'s template")
                return
            }
            // The whole template replaced (a merge patch would merge it into the current one), on the condition that
            // the object is still the one this command read (its resourceVersion: comparing the template itself
            // would compare bytes as the API server encodes them).
            _ = try await api.patch(name, .json([.test("/metadata/resourceVersion", .string(bgd.metadata.resourceVersion ?? "")),
                                                 .replace("/spec/template", template)]))
            print("bluegreendeployment.ops.salespot.by/\(name) rolled back to revision \(target.revision) (\(target.image ?? target.templateHash))")
        }
    }
}
