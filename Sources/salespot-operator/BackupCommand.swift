import ArgumentParser
import Backups
import Foundation
import KubeCore

/// `salespot-operator backup ...`: the runner a backup Job executes.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Backups: the runner that Backup Jobs execute.",
        subcommands: [RunBackup.self])

    struct RunBackup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run one backup: dump or archive the sources into S3, verify, write the manifest.",
            discussion: """
            The plan (JSON, no secrets) comes from the file given with --plan or from SALESPOT_BACKUP_PLAN; the S3 \
            credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), the database password \
            from PGPASSWORD: in a Job, from Secrets. The manifest is printed on success; on failure the error goes to \
            standard error and to the termination log.
            """)
        @Option(help: "A file with the plan (JSON); default: the SALESPOT_BACKUP_PLAN environment variable.")
        var plan: String?

        func run() async throws {
            let p: BackupPlan = try RunnerIO.plan(file: plan, env: "SALESPOT_BACKUP_PLAN")
            try await RunnerIO.outcome {
                let client = try p.s3.client()
                let manifest = try await BackupRunner(plan: p, client: client, log: RunnerIO.log).run()
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
        commandName: "restore", abstract: "Restores: the runner that Restore Jobs execute.",
        subcommands: [RunRestore.self])

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
                let json: JSONValue = ["chain": .array(outcome.chain.map { .string($0) }), "bytes": .int(Int64(outcome.bytes))]
                return json.serialized()
            }
        }
    }
}

enum RunnerIO {
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

    /// Prints the result, or writes the error to standard error and the termination log (which Kubernetes shows
    /// in the Pod's status, where the controller reads it) and exits 1.
    static func outcome(_ body: () async throws -> [UInt8]) async throws {
        do {
            let out = try await body()
            FileHandle.standardOutput.write(Data(out + [10]))
        } catch {
            let message = "\(error)"
            log("failed: \(message)")
            let path = ProcessInfo.processInfo.environment["SALESPOT_TERMINATION_LOG"] ?? "/dev/termination-log"
            if FileManager.default.isWritableFile(atPath: path) || !FileManager.default.fileExists(atPath: path) && path != "/dev/termination-log" {
                try? Data(message.prefix(4000).utf8).write(to: URL(fileURLWithPath: path))
            }
            throw ExitCode(1)
        }
    }
}
