import ArgumentParser
import Foundation
import LocalCluster
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
        subcommands: [Dev.self, Config.self]
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

struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start an embedded local Kubernetes API server with this project's CRDs and run until Ctrl+C.")

    @Option(help: "Port on 127.0.0.1 (0 picks a free one).")
    var port: Int = 0

    @Option(help: "Keep the cluster's state in this directory across restarts.")
    var dataDir: String?

    @Option(help: "Directory of CustomResourceDefinition manifests to install.")
    var crds: String = "crds"

    @Option(help: "Where to write the kubeconfig. Default: .salespot/kubeconfig in the current directory.")
    var kubeconfig: String = ".salespot/kubeconfig"

    func run() async throws {
        try FileManager.default.createDirectory(atPath: (kubeconfig as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var options = LocalCluster.Options()
        options.port = port
        options.dataDirectory = dataDir
        options.kubeconfigPath = kubeconfig
        options.localJobExecutables = ["salespot-operator": CommandLine.arguments[0]]
        let cluster = try await LocalCluster.start(options)
        var installed: [String] = []
        if let files = try? FileManager.default.contentsOfDirectory(atPath: crds) {
            for file in files.sorted() where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
                let text = try String(contentsOfFile: (crds as NSString).appendingPathComponent(file), encoding: .utf8)
                try await cluster.installCRDs(text)
                installed.append(file)
            }
        }
        print("""
        LocalCluster is serving on \(cluster.server)
        kubeconfig: \(cluster.kubeconfigPath)
        CRDs installed: \(installed.isEmpty ? "none" : installed.joined(separator: ", "))

        Try:
          kubectl --kubeconfig \(cluster.kubeconfigPath) get namespaces
          kubectl --kubeconfig \(cluster.kubeconfigPath) api-resources

        Press Ctrl+C to stop.
        """)
        await waitForTermination()
        print("stopping...")
        await cluster.stop()
    }
}

/// Waits for SIGINT or SIGTERM.
func waitForTermination() async {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let (stream, continuation) = AsyncStream<Void>.makeStream()
    let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
        let source = DispatchSource.makeSignalSource(signal: sig)
        source.setEventHandler { continuation.yield() }
        source.resume()
        return source
    }
    for await _ in stream { break }
    sources.forEach { $0.cancel() }
}
