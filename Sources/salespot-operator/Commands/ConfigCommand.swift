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


struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Inspect the client configuration.", subcommands: [View.self])

    struct View: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the resolved server, context, namespace and auth method (never a secret).")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            print(try connection.loadConfiguration().summary)
        }
    }
}
