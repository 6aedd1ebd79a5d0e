import Backups
import KubeClient
import Foundation
import KubeCore
import ObjectStore
import TestSupport
import Testing

/// The servers the backup tests talk to, started once by `scripts/services.sh start` (which `scripts/test.sh`
/// runs): SeaweedFS for S3 and PostgreSQL 15.
enum Services {
    struct Missing: Error, CustomStringConvertible {
        var what: String
        var description: String {
            "\(what) is not running: start the test servers with `eval \"$(scripts/services.sh start)\"` (scripts/test.sh does)"
        }
    }

    static var env: [String: String] { ProcessInfo.processInfo.environment }

    static func s3Endpoint() throws -> String {
        guard let e = env["SALESPOT_TEST_S3"] else { throw Missing(what: "SeaweedFS (S3, SALESPOT_TEST_S3)") }
        return e
    }

    static var credentials: AWSCredentials {
        AWSCredentials(accessKeyId: env["SALESPOT_TEST_S3_KEY"] ?? "", secretAccessKey: env["SALESPOT_TEST_S3_SECRET"] ?? "")
    }

    /// A new bucket for one test.
    static func bucket(retry: S3Client.RetryPolicy = .init(), endpoint: String? = nil) async throws -> S3Client {
        let name = "t-" + UUID().uuidString.lowercased().prefix(18)
        let client = try S3Client(S3Endpoint(endpoint: endpoint ?? (try s3Endpoint()), bucket: String(name), pathStyle: true),
                                  credentials: credentials, retry: retry)
        if endpoint == nil { try await client.createBucket() }
        return client
    }

    static func plan(_ client: S3Client) -> S3Plan {
        var p = S3Plan(S3Destination(endpoint: client.location.endpoint, bucket: client.location.bucket, forcePathStyle: true,
                                     credentialsSecret: "unused"))
        p.partSizeMiB = 5
        return p
    }

    static func pg() throws -> (host: String, port: Int, user: String, password: String) {
        guard let hp = env["SALESPOT_TEST_PG"] else { throw Missing(what: "PostgreSQL (SALESPOT_TEST_PG)") }
        let parts = hp.split(separator: ":")
        return (String(parts[0]), Int(parts[1]) ?? 5432, env["SALESPOT_TEST_PG_USER"] ?? "", env["SALESPOT_TEST_PG_PASSWORD"] ?? "")
    }

    /// Runs SQL with psql against `database`; returns its output (unaligned, no headers).
    @discardableResult
    static func psql(_ database: String, _ sql: String) async throws -> String {
        let p = try pg()
        let r = try await runAsync("/usr/bin/psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", p.host, "-p", String(p.port), "-U", p.user,
                                                    "-d", database, "-c", sql],
                                   env: env.merging(["PGPASSWORD": p.password]) { _, n in n })
        guard r.status == 0 else { throw BackupError.runner("psql: \(r.err)") }
        return r.out
    }

    /// A new, empty database.
    static func database() async throws -> String {
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        try await psql("postgres", "CREATE DATABASE \(name)")
        return String(name)
    }

    static func source(_ db: String) throws -> DatabaseSource {
        let p = try pg()
        return DatabaseSource(host: p.host, port: p.port, database: db, user: p.user)
    }

    /// The runners read the password as pg_dump does, from PGPASSWORD.
    static func withPassword() throws {
        setenv("PGPASSWORD", try pg().password, 1)
    }
}

/// The client's request type, named apart from HTTPTypes' (which the Hummingbird test servers import).
typealias CurlRequest = HTTPRequest
