// swift-tools-version:6.1
import PackageDescription

/// Linked with lld and packed relative relocations (DT_RELR, glibc 2.36+): the loader then reads a few kilobytes of
/// relocations instead of megabytes, which is resident memory and start-up time of every operator process.
let compactExecutable: [LinkerSetting] = [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux]))]

let package = Package(
    name: "salespot-operator",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "salespot-operator", targets: ["salespot-operator"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // Without the default traits: FullFoundation would link all of Foundation and ICU into the operator (it only
        // adds DateFormatter support to URL-encoded forms); ConfigurationSupport is a configuration library we do not use.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0", traits: []),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // SHA-256 and HMAC (SigV4) with BoringSSL's assembly, the same on Linux and macOS.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        // Child processes with streamed standard input and output (pg_dump, pg_restore, tar).
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        // S3's XML answers decoded into Codable types.
        .package(url: "https://github.com/CoreOffice/XMLCoder", from: "0.18.0"),
    ],
    targets: [
        // System libraries, wrapped: nothing above KubeCore/KubeClient imports them.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),
        .systemLibrary(name: "CYaml", pkgConfig: "yaml-0.1",
                       providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        // JSON values, YAML, typed API models, API errors: no I/O.
        .target(name: "KubeCore", dependencies: ["CYaml"]),
        // Configuration, authentication, the libcurl transport, the resource API and watch.
        .target(name: "KubeClient", dependencies: [
            "KubeCore", "CCurl",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Watch-driven controllers: watcher, store, work queue, controller, conditions, metrics.
        .target(name: "KubeRuntime", dependencies: [
            "KubeCore", "KubeClient",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Blue/green deployments: the BlueGreenDeployment type and its controller.
        .target(name: "BlueGreen", dependencies: [
            "KubeCore", "KubeClient", "KubeRuntime", "Notifications",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Feature flags: the FeatureFlag type, its evaluation (native rules and flagd's JSONLogic), the evaluation
        // server (the original design's API and OFREP) and the controller.
        .target(name: "FeatureFlags", dependencies: [
            "KubeCore", "KubeClient", "KubeRuntime",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // AWS request signing (SigV4) and credentials (fixed keys; IRSA's web identity exchanged with STS): shared by S3
        // and Route53.
        .target(name: "AWSCore", dependencies: [
            "KubeCore", "KubeClient",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "XMLCoder", package: "XMLCoder"),
        ]),
        // S3 objects over libcurl: multipart uploads streamed at constant memory, ranged reads, retries.
        .target(name: "ObjectStore", dependencies: [
            "KubeClient", "AWSCore",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "XMLCoder", package: "XMLCoder"),
        ]),
        // DNS providers for failover: dynamic updates (RFC 2136) signed with TSIG (RFC 8945) over UDP with TCP
        // fallback, and Route53's ChangeResourceRecordSets.
        .target(name: "DNSProviders", dependencies: [
            "KubeClient", "AWSCore",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "XMLCoder", package: "XMLCoder"),
        ]),
        // Disaster recovery: DRPolicy, its probers, the failover decision and its controller.
        .target(name: "DisasterRecovery", dependencies: [
            "KubeCore", "KubeClient", "KubeRuntime", "DNSProviders", "AWSCore", "BackupAPI",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Slack, Telegram and webhook notifications, and where a resource's go (read from Secrets), for every domain.
        .target(name: "Notifications", dependencies: ["KubeCore", "KubeClient"]),
        // The backup resources' types (BackupPolicy, Backup, Restore): what Backups runs and what other domains read
        // or create (disaster recovery restores the latest verified backup through a Restore).
        .target(name: "BackupAPI", dependencies: ["KubeCore", "Notifications"]),
        // Backups and restores: their controllers and the runners the Jobs execute.
        .target(name: "Backups", dependencies: [
            "KubeCore", "KubeClient", "KubeRuntime", "ObjectStore", "Notifications", "CZlib", "BackupAPI",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Subprocess", package: "swift-subprocess"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The embedded Kubernetes API server: dev mode and tests.
        .target(name: "LocalCluster", dependencies: [
            "KubeCore", "KubeClient",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "salespot-operator", dependencies: [
            "KubeClient", "KubeRuntime", "LocalCluster", "BlueGreen", "FeatureFlags", "Backups", "DisasterRecovery",
            // dev's backup and DR show: a bucket on its SeaweedFS, the sites' health endpoints.
            "ObjectStore", "AWSCore", "BackupAPI",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], linkerSettings: compactExecutable),
        // Benchmarks: run with `swift run -c release salespot-bench ...`; they print their figures.
        .executableTarget(name: "salespot-bench", dependencies: [
            "KubeClient", "KubeRuntime", "LocalCluster", "BlueGreen", "FeatureFlags", "ObjectStore", "DisasterRecovery", "DNSProviders",
            // The real DNS servers and moto the DR benchmarks run against, started as the tests start them.
            "TestSupport",
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        // Helpers shared by the test targets (clocks, processes, temporary directories).
        .target(name: "TestSupport", dependencies: ["KubeCore", "KubeClient"], path: "Tests/TestSupport"),
        .testTarget(name: "KubeCoreTests", dependencies: ["KubeCore"]),
        .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "TestSupport"]),
        .testTarget(name: "LocalClusterTests", dependencies: ["LocalCluster", "KubeClient", "TestSupport"]),
        .testTarget(name: "KubeRuntimeTests", dependencies: ["KubeRuntime", "LocalCluster", "KubeClient", "TestSupport"]),
        .testTarget(name: "FeatureFlagsTests", dependencies: ["FeatureFlags", "KubeRuntime", "LocalCluster", "KubeClient", "TestSupport"]),
        .testTarget(name: "BackupsTests", dependencies: [
            "Backups", "ObjectStore", "Notifications", "KubeRuntime", "LocalCluster", "KubeClient", "TestSupport",
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .testTarget(name: "DNSProvidersTests", dependencies: ["DNSProviders", "TestSupport"]),
        .testTarget(name: "AWSCoreTests", dependencies: ["AWSCore", "ObjectStore", "DNSProviders", "Backups", "KubeClient", "TestSupport"]),
        .testTarget(name: "DisasterRecoveryTests", dependencies: [
            "DisasterRecovery", "DNSProviders", "KubeRuntime", "LocalCluster", "KubeClient", "TestSupport", "Backups", "ObjectStore",
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .testTarget(name: "OperatorManifestsTests", dependencies: [
            "LocalCluster", "KubeClient", "KubeCore", "TestSupport", "BlueGreen", "FeatureFlags", "BackupAPI", "DisasterRecovery",
        ]),
        .testTarget(name: "BlueGreenTests", dependencies: [
            "BlueGreen", "KubeRuntime", "LocalCluster", "KubeClient", "TestSupport", "Notifications",
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
    ]
)
