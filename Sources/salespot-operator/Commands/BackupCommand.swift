import ArgumentParser
import Backups
import Foundation
import KubeClient
import KubeCore
import ObjectStore

/// `salespot-operator backup ...`: the runner a backup Job executes.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Backups: start one now, list them, verify one; and the runner that Backup Jobs execute.",
        subcommands: [Now.self, List.self, Verify.self, RunBackup.self])

    struct Now: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a backup of a BackupPolicy now (a Backup resource, run by the operator).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The BackupPolicy.") var policy: String
        @Option(help: "full, database, files or incremental. Default: the policy's.") var type: String?
        @Option(help: "The Backup's name. Default: POLICY-manual-TIMESTAMP.") var name: String?
        @Flag(help: "Wait until the backup has Completed or Failed (exit status 1 if it failed).") var wait = false

        func run() async throws {
            if let type, !["full", "database", "files", "incremental"].contains(type) {
                throw ValidationError("--type must be full, database, files or incremental")
            }
            let configuration = try connection.loadConfiguration()
            let client = KubeClient(configuration: configuration)
            let ns = configuration.namespace
            guard let found = try await Api<BackupPolicy>(client, namespace: ns).getIfExists(policy) else {
                throw ValidationError("no BackupPolicy \(policy) in namespace \(ns ?? "default")")
            }
            let digits = Time.now().rfc3339.filter(\.isNumber)
            let backupName = name ?? "\(policy.prefix(230))-manual-\(digits.prefix(8))-\(digits.dropFirst(8).prefix(6))"
            // The policy's labels (an operator sharded by labels runs it) and the policy's own.
            let labels = (found.metadata.labels ?? [:]).merging([BackupControllers.policyLabel: policy]) { _, n in n }
            let b = Backup(metadata: ObjectMeta(name: backupName, namespace: ns, labels: labels),
                           spec: Backup.Spec(policy: policy, type: type))
            _ = try await Api<Backup>(client, namespace: ns).create(b)
            print("backup.ops.salespot.by/\(backupName) created")
            guard wait else { return }
            let api = Api<Backup>(client, namespace: ns)
            while true {
                let current = try await api.get(backupName)
                switch current.status?.phase {
                case "Completed":
                    print("Completed: \(current.status?.size ?? 0) bytes, verified: \(current.status?.verified == true ? "yes" : "no")")
                    return
                case "Failed":
                    printError("Failed: \(current.status?.error ?? "")")
                    throw ExitCode(1)
                default:
                    try await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the Backups of the namespace, newest first.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Only this policy's.") var policy: String?

        func run() async throws {
            let configuration = try connection.loadConfiguration()
            let api = Api<Backup>(KubeClient(configuration: configuration), namespace: configuration.namespace)
            let items = try await api.listAll(ListOptions(labelSelector: policy.map { "\(BackupControllers.policyLabel)=\($0)" })).items
                .sorted { ($0.metadata.creationTimestamp?.rfc3339 ?? "") > ($1.metadata.creationTimestamp?.rfc3339 ?? "") }
            if items.isEmpty {
                printError("No Backups found in namespace \(configuration.namespace ?? "default").")
                return
            }
            var rows = [["NAME", "POLICY", "TYPE", "PHASE", "SIZE", "VERIFIED", "PARENT", "COMPLETED"]]
            for b in items {
                let s = b.status
                rows.append([b.metadata.name ?? "", b.spec.policy, s?.type ?? b.spec.type ?? "-", s?.phase ?? "New",
                             s?.size.map(String.init) ?? "-", s?.verified.map { $0 ? "yes" : "no" } ?? "-", s?.parent ?? "-",
                             s?.completionTime ?? "-"])
            }
            FlagsCommand.table(rows)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a Backup's objects here and now: sizes and SHA-256 against its manifest, and the contents with pg_restore --list or tar --list.",
            discussion: "Reads the S3 credentials from the destination's Secret with your kubeconfig's rights (without one, your own AWS credentials from the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a web identity); needs pg_restore and tar on PATH.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The Backup.") var backup: String

        func run() async throws {
            let configuration = try connection.loadConfiguration()
            let client = KubeClient(configuration: configuration)
            let ns = configuration.namespace ?? "default"
            let b = try await Api<Backup>(client, namespace: ns).get(backup)
            guard let loc = b.status?.location, let key = b.status?.manifestKey, b.status?.phase == "Completed" else {
                throw ValidationError("Backup \(backup) is \(b.status?.phase ?? "New"), not Completed")
            }
            // The destination's Secret, read with your kubeconfig's rights; without one (the operator uses its IAM
            // role), your own AWS credentials from the environment.
            let credentials: any AWSCredentialsProvider
            do {
                credentials = try await AWSDefaultCredentials.named(secret: loc.credentialsSecret, namespace: ns, client: client)
            } catch let e as SecretValueMissing {
                throw ValidationError(e.description)
            } catch let e as AWSCredentialsError {
                throw ValidationError(e.description)
            }
            let s3 = try S3Client(S3Endpoint(endpoint: loc.endpoint, region: loc.region, bucket: loc.bucket, pathStyle: loc.pathStyle),
                                  credentials: credentials)
            let chain = try await RestoreRunner.chain(s3, key)
            let manifest = chain.last!
            for a in manifest.artifacts {
                try await Verifier(client: s3).verify(a)
                print("ok  \(a.key)  \(a.size) bytes  sha256 \(a.sha256)")
            }
            if chain.count > 1 { print("chain: \(chain.map(\.backup).joined(separator: " → ")) (every manifest present)") }
        }
    }

    struct RunBackup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run one backup: dump or archive the sources into S3, verify, write the manifest.",
            discussion: """
            The plan (JSON, no secrets) comes from the file given with --plan or from SALESPOT_BACKUP_PLAN; the S3 \
            credentials AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and the database password \
            PGPASSWORD are files of those names in SALESPOT_SECRETS_DIR (in a Job: its Secret volume), or else \
            environment variables of those names. The manifest is printed on success; on failure the error goes to \
            standard error and to the termination log.
            """)
        @Option(help: "A file with the plan (JSON); default: the SALESPOT_BACKUP_PLAN environment variable.")
        var plan: String?

        func run() async throws {
            let p: BackupPlan = try RunnerIO.plan(file: plan, env: "SALESPOT_BACKUP_PLAN")
            try await RunnerIO.outcome {
                let client = try p.s3.client()
                let manifest = try await BackupRunner(plan: p, client: client, log: RunnerIO.log).run()
                RunnerIO.log("done; the runner's peak memory (its own, not its children's): \(RunnerIO.peakRSSMiB()) MiB")
                var summary = manifest
                summary.entries = nil  // the file list can be long; it is in S3
                return try summary.encoded()
            }
        }
    }
}

/// `salespot-operator restore ...`: the runner a Restore Job executes.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Restore a Backup (a Restore resource, run by the operator); and the runner that Restore Jobs execute.",
        subcommands: [Start.self, RunRestore.self], defaultSubcommand: Start.self)

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "start", abstract: "Restore a Backup into a database and/or a path (the default subcommand: `restore BACKUP --to-path /srv`).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The Backup.") var backup: String
        @Option(help: "Restore the dump into HOST[:PORT]/DATABASE.") var toDatabase: String?
        @Option(help: "The database user.") var user: String?
        @Option(help: "The database password's Secret key, as SECRET/KEY.") var passwordSecret: String?
        @Option(help: "Restore the files below this path.") var toPath: String?
        @Option(help: "The Restore's name. Default: BACKUP-restore-TIMESTAMP.") var name: String?
        @Flag(help: "Wait until the restore has Completed or Failed (exit status 1 if it failed).") var wait = false

        func run() async throws {
            guard toDatabase != nil || toPath != nil else { throw ValidationError("give --to-database, --to-path or both") }
            let configuration = try connection.loadConfiguration()
            let client = KubeClient(configuration: configuration)
            let ns = configuration.namespace
            var r = Restore(metadata: ObjectMeta(name: name ?? "\(backup.prefix(220))-restore-\(Time.now().rfc3339.filter(\.isNumber).prefix(14))", namespace: ns),
                            spec: Restore.Spec(backup: backup))
            if let target = toDatabase {
                let parts = target.split(separator: "/", maxSplits: 1).map(String.init)
                guard parts.count == 2, let user else { throw ValidationError("--to-database wants HOST[:PORT]/DATABASE and --user") }
                let hp = parts[0].split(separator: ":").map(String.init)
                var source = DatabaseSource(host: hp[0], port: hp.count > 1 ? Int(hp[1]) : nil, database: parts[1], user: user)
                if let ref = passwordSecret {
                    let p = ref.split(separator: "/").map(String.init)
                    guard p.count == 2 else { throw ValidationError("--password-secret wants SECRET/KEY") }
                    source.passwordSecretRef = SecretKeyRef(name: p[0], key: p[1])
                }
                r.spec.database = source
            }
            if let toPath {
                guard toPath.hasPrefix("/") else { throw ValidationError("--to-path must be absolute") }
                r.spec.files = Restore.FilesTarget(path: toPath)
            }
            let api = Api<Restore>(client, namespace: ns)
            let created = try await api.create(r)
            print("restore.ops.salespot.by/\(created.metadata.name ?? "") created")
            guard wait else { return }
            while true {
                let current = try await api.get(created.metadata.name ?? "")
                switch current.status?.phase {
                case "Completed":
                    print("Completed: \((current.status?.chain ?? []).joined(separator: " → ")) in \(current.status?.durationSeconds ?? 0) s")
                    return
                case "Failed":
                    printError("Failed: \(current.status?.error ?? "")")
                    throw ExitCode(1)
                default:
                    try await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    struct RunRestore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run one restore: check every object of the chain, then restore the database and the files.",
            discussion: "The plan comes from --plan or SALESPOT_RESTORE_PLAN; credentials as for `backup run`.")
        @Option(help: "A file with the plan (JSON); default: the SALESPOT_RESTORE_PLAN environment variable.")
        var plan: String?

        func run() async throws {
            let p: RestorePlan = try RunnerIO.plan(file: plan, env: "SALESPOT_RESTORE_PLAN")
            try await RunnerIO.outcome {
                let client = try p.s3.client()
                let outcome = try await RestoreRunner(plan: p, client: client, log: RunnerIO.log).run()
                var json: JSONValue = ["chain": .array(outcome.chain.map { .string($0) }), "bytes": .int(Int64(outcome.bytes))]
                if let check = outcome.check {
                    json["check"] = try JSONValueEncoder().encode(check)
                    // The check's answer reaches the controller even when the whole outcome (a long chain) does not
                    // fit the termination log.
                    let short: JSONValue = ["check": json["check"]!]
                    RunnerIO.terminationLog(short.serialized())
                }
                return json.serialized()
            }
        }
    }
}

enum RunnerIO {
    /// This process's peak resident memory (VmHWM), in MiB.
    static func peakRSSMiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return -1 }
        return kib / 1024
    }

    static func plan<T: Decodable>(file: String?, env: String) throws -> T {
        let bytes: [UInt8]
        if let file {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        } else if let text = ProcessInfo.processInfo.environment[env] {
            bytes = Array(text.utf8)
        } else {
            throw ValidationError("no plan: give --plan FILE or set \(env)")
        }
        do {
            return try JSONValueDecoder().decode(T.self, from: bytes)
        } catch {
            throw ValidationError("the plan cannot be read: \(error)")
        }
    }

    static func log(_ line: String) {
        FileHandle.standardError.write(Data("\(Time.now().rfc3339) \(line)\n".utf8))
    }

    /// Prints the result and writes it to the termination log when it fits (Kubernetes keeps 4096 bytes of it in
    /// the Pod's status, where the controller reads it); or writes the error to standard error and the termination
    /// log (a failed restore check as JSON: `{"error": ..., "check": ...}`) and exits 1.
    static func outcome(_ body: () async throws -> [UInt8]) async throws {
        do {
            let out = try await body()
            FileHandle.standardOutput.write(Data(out + [10]))
            if out.count <= 4000 { terminationLog(out) }
        } catch {
            let message = "\(error)"
            log("failed: \(message)")
            if let failed = error as? RestoreCheckFailed, let check = try? JSONValueEncoder().encode(failed.result) {
                let json: JSONValue = ["error": .string(String(message.prefix(3000))), "check": check]
                terminationLog(json.serialized())
            } else {
                terminationLog(Array(message.prefix(4000).utf8))
            }
            throw ExitCode(1)
        }
    }

    static func terminationLog(_ bytes: [UInt8]) {
        let path = ProcessInfo.processInfo.environment["SALESPOT_TERMINATION_LOG"] ?? "/dev/termination-log"
        if FileManager.default.isWritableFile(atPath: path) || !FileManager.default.fileExists(atPath: path) && path != "/dev/termination-log" {
            try? Data(bytes).write(to: URL(fileURLWithPath: path))
        }
    }
}
