#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
#if canImport(Glibc)
import Glibc
#endif

/// The CA and serving certificate LocalCluster uses, made with the `openssl` command (present on every Debian
/// system with ca-certificates) and kept in the cluster's directory so a data directory reuses them.
struct ServingCertificates {
    let caPath: String
    let certPath: String
    let keyPath: String

    /// Loads the certificates in `directory`, making them first if they are missing.
    /// Safe when several clusters start at once: the files are made in a private directory that is renamed into
    /// place in one step, so nobody sees half a set.
    static func ensure(in directory: String) async throws -> ServingCertificates {
        let fm = FileManager.default
        if let existing = complete(directory) { return existing }
        let parent = Paths.directory(of: directory)
        try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let scratch = directory + ".tmp-" + UUID().uuidString
        try await make(in: scratch)
        if rename(scratch, directory) != 0 {
            // Someone else won the race (or an old, partial directory is in the way).
            if let existing = complete(directory) {
                try? fm.removeItem(atPath: scratch)
                return existing
            }
            try? fm.removeItem(atPath: directory)
            guard rename(scratch, directory) == 0 else {
                throw APIFailure(code: 500, reason: "InternalError", message: "cannot move certificates into \(directory)")
            }
        }
        return complete(directory)!
    }

    static func complete(_ directory: String) -> ServingCertificates? {
        let c = ServingCertificates(caPath: directory + "/ca.crt", certPath: directory + "/server.crt", keyPath: directory + "/server.key")
        let fm = FileManager.default
        guard fm.fileExists(atPath: c.caPath), fm.fileExists(atPath: c.certPath), fm.fileExists(atPath: c.keyPath) else { return nil }
        return c
    }

    private static func make(in directory: String) async throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func file(_ name: String) -> String { Paths.join(directory, name) }
        try Data("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n".utf8)
            .write(to: URL(fileURLWithPath: file("server.ext")))
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
             "-subj", "/CN=salespot-localcluster-ca", "-keyout", file("ca.key"), "-out", file("ca.crt")],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
             "-keyout", file("server.key"), "-out", file("server.csr")],
            ["x509", "-req", "-in", file("server.csr"), "-CA", file("ca.crt"), "-CAkey", file("ca.key"), "-CAcreateserial",
             "-days", "3650", "-extfile", file("server.ext"), "-out", file("server.crt")],
        ]
        for args in steps {
            let result: (status: Int32, stdout: [UInt8], stderr: [UInt8])
            do {
                result = try await Posix.run("openssl", arguments: args, environment: ProcessInfo.processInfo.environment)
            } catch {
                throw APIFailure(code: 500, reason: "InternalError", message: "LocalCluster needs the openssl command to make its serving certificate: \(error)")
            }
            guard result.status == 0 else {
                throw APIFailure(code: 500, reason: "InternalError",
                                 message: "openssl \(args[0]) failed: \(String(decoding: result.stderr, as: UTF8.self))")
            }
        }
        try? fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file("server.key"))
    }
}
