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


struct Example: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Runnable example controllers.", subcommands: [Mirror.self])

    struct Mirror: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep a Secret mirroring every ConfigMap labelled mirror=true (owned by it, same name and namespace).")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var manager: ManagerOptions

        func run() async throws {
            _ = manager.bootstrapLogging()
            try await runManager(configuration: try connection.loadConfiguration(), controllers: ["mirror"], options: manager,
                                 defaultAddress: "127.0.0.1:8080") { port in
                print("mirror controller running; metrics on http://127.0.0.1:\(port)/metrics")
                fflush(nil)
            }
        }
    }
}
