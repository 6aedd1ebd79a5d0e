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


/// `salespot-operator manifests`: the CRDs and samples built into this binary.
struct Manifests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the built-in CRDs (for kubectl apply -f -) or samples.")

    @Argument(help: "crds or samples.")
    var what: String = "crds"

    func validate() throws {
        if what != "crds" && what != "samples" { throw ValidationError("give crds or samples") }
    }

    func run() async throws {
        let docs = what == "crds" ? EmbeddedManifests.crds : EmbeddedManifests.samples
        print(docs.map { $0.yaml.hasSuffix("\n") ? String($0.yaml.dropLast()) : $0.yaml }.joined(separator: "\n---\n"))
    }
}
