import ArgumentParser

/// The `salespot-operator` command: argument parsing and wiring only.
@main
struct SaleSpotOperator: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "salespot-operator",
        abstract: "Runs SaleSpot's blue/green deployments, feature flags, backups and disaster recovery on Kubernetes.",
        version: version,
        subcommands: [Run.self, Dev.self, BlueGreenCommand.self, FlagsCommand.self, BackupCommand.self, RestoreCommand.self, DRCommand.self, Manifests.self, Example.self, Config.self]
    )
}
