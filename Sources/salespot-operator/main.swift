import ArgumentParser
import KubeClient
import KubeCore

/// The `salespot-operator` command: argument parsing and wiring only.
@main
struct SaleSpotOperator: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "salespot-operator",
        abstract: "Runs SaleSpot's blue/green deployments, feature flags, backups and disaster recovery on Kubernetes.",
        version: version,
        subcommands: [Config.self]
    )
}

/// Connection flags shared by every command that talks to a cluster.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Path of a kubeconfig file. Default: KUBECONFIG, then in-cluster, then ~/.kube/config.")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context to use. Default: its current-context.")
    var context: String?

    @Option(name: [.customShort("n"), .long], help: "The namespace. Default: the context's, else 'default'.")
    var namespace: String?

    func loadConfiguration() throws -> ClientConfiguration {
        try ConfigLoader().load(explicitPath: kubeconfig, context: context, namespace: namespace)
    }
}

struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect the client configuration.",
        subcommands: [View.self]
    )

    struct View: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the resolved server, context, namespace and auth method (never a secret).")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            print(try connection.loadConfiguration().summary)
        }
    }
}
