#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeCore

/// Runs an exec credential plugin (client.authentication.k8s.io v1 / v1beta1) and parses its `ExecCredential`.
public struct ExecCredentialPlugin: Sendable {
    /// API versions the client speaks.
    public static let supportedVersions = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]
    /// How long a plugin may run before it is killed.
    public static let defaultTimeout: Duration = .seconds(60)

    public var config: ExecConfig
    /// Server and CA, passed when `provideClusterInfo` is set.
    public var server: String
    public var caPEM: [UInt8]?

    public init(config: ExecConfig, server: String, caPEM: [UInt8]? = nil) {
        self.config = config
        self.server = server
        self.caPEM = caPEM
    }

    /// What the plugin returned.
    public struct Credential: Sendable, Equatable {
        public var token: String?
        public var clientIdentity: TLSIdentity?
        /// When it stops being valid; `nil` means until the server rejects it (401).
        public var expiration: Time?
    }

    /// Runs the plugin and returns its credential.
    public func run() async throws -> Credential {
        let version = config.apiVersion ?? Self.supportedVersions[0]
        var spec: JSONValue = ["interactive": false]
        if config.provideClusterInfo == true {
            var cluster: JSONValue = ["server": .string(server)]
            if let caPEM { cluster["certificate-authority-data"] = .string(Data(caPEM).base64EncodedString()) }
            spec["cluster"] = cluster
        }
        let info: JSONValue = ["apiVersion": .string(version), "kind": "ExecCredential", "spec": spec]
        var env = ProcessInfo.processInfo.environment
        for e in config.env ?? [] { env[e.name] = e.value }
        env["KUBERNETES_EXEC_INFO"] = info.serializedString()

        let (status, stdout, stderr) = try await Self.runProcess(command: config.command, args: config.args ?? [], env: env)
        guard status == 0 else {
            var message = "exec plugin '\(config.command)' exited with status \(status)"
            let err = String(decoding: stderr.prefix(2048), as: UTF8.self).trimmingASCIIWhitespace()
            if !err.isEmpty { message += ": \(err)" }
            throw KubeError.authentication(message)
        }
        return try Self.parse(stdout, expectedVersion: version, command: config.command)
    }

    /// Parses a plugin's output.
    public static func parse(_ output: [UInt8], expectedVersion: String, command: String) throws -> Credential {
        let json: JSONValue
        do { json = try JSONParser.parse(output) } catch {
            throw KubeError.authentication("exec plugin '\(command)' printed invalid JSON: \(error)")
        }
        guard json["kind"]?.stringValue == "ExecCredential" else {
            throw KubeError.authentication("exec plugin '\(command)' did not print an ExecCredential")
        }
        guard json["apiVersion"]?.stringValue == expectedVersion else {
            throw KubeError.authentication("exec plugin '\(command)' answered with apiVersion "
                + "'\(json["apiVersion"]?.stringValue ?? "")', expected '\(expectedVersion)'")
        }
        guard let status = json["status"] else {
            throw KubeError.authentication("exec plugin '\(command)' printed no status")
        }
        var credential = Credential()
        credential.token = status["token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        if let cert = status["clientCertificateData"]?.stringValue, let key = status["clientKeyData"]?.stringValue,
           !cert.isEmpty, !key.isEmpty {
            credential.clientIdentity = TLSIdentity(certificatePEM: Array(cert.utf8), keyPEM: Array(key.utf8))
        }
        if credential.token == nil && credential.clientIdentity == nil {
            throw KubeError.authentication("exec plugin '\(command)' returned neither a token nor a client certificate and key")
        }
        if let exp = status["expirationTimestamp"]?.stringValue {
            guard let t = Time(rfc3339: exp) else {
                throw KubeError.authentication("exec plugin '\(command)' returned an invalid expirationTimestamp '\(exp)'")
            }
            credential.expiration = t
        }
        return credential
    }

    static func runProcess(command: String, args: [String], env: [String: String]) async throws -> (Int32, [UInt8], [UInt8]) {
        do {
            return try await Posix.run(command, arguments: args, environment: env)
        } catch {
            throw KubeError.authentication("cannot run exec plugin '\(command)': \(error)")
        }
    }
}
