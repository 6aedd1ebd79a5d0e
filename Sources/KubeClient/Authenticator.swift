#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeCore

/// Supplies credentials for each request and refreshes them: re-reads token files, reruns exec plugins when their
/// credential expires or the server answers 401.
public actor Authenticator {
    /// What to add to a request.
    public struct Credentials: Sendable {
        public var authorization: String?
        public var clientIdentity: TLSIdentity?
    }

    public let method: AuthMethod
    private let server: String
    private let caPEM: [UInt8]?
    private let now: @Sendable () -> Time
    private let runExec: @Sendable (ExecCredentialPlugin) async throws -> ExecCredentialPlugin.Credential
    private var cachedToken: (value: String, readAt: Time)?
    private var cachedExec: ExecCredentialPlugin.Credential?
    /// How many times the exec plugin has run; for tests and `config view`.
    public private(set) var execRuns = 0

    /// - Parameters:
    ///   - now: the wall clock, injectable for tests.
    ///   - runExec: how to run the plugin, injectable for fault injection; defaults to running it for real.
    public init(method: AuthMethod, server: String, caPEM: [UInt8]? = nil,
                now: @escaping @Sendable () -> Time = { Time.now() },
                runExec: @escaping @Sendable (ExecCredentialPlugin) async throws -> ExecCredentialPlugin.Credential = { try await $0.run() }) {
        self.method = method
        self.server = server
        self.caPEM = caPEM
        self.now = now
        self.runExec = runExec
    }

    /// Whether a 401 can be cured by refreshing (token file or exec plugin).
    public var canRefresh: Bool {
        switch method {
        case .tokenFile, .exec: return true
        default: return false
        }
    }

    /// The credentials for the next request.
    public func credentials() async throws -> Credentials {
        switch method {
        case .none, .clientCertificate: return Credentials()
        case .token(let t): return Credentials(authorization: "Bearer \(t)")
        case .basic(let u, let p):
            return Credentials(authorization: "Basic \(Data("\(u):\(p)".utf8).base64EncodedString())")
        case .tokenFile(let path):
            let t = now()
            if let cached = cachedToken,
               t.secondsSince1970 - cached.readAt.secondsSince1970 < Double(ClientConfiguration.tokenFileRefresh.components.seconds) {
                return Credentials(authorization: "Bearer \(cached.value)")
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                if let cached = cachedToken { return Credentials(authorization: "Bearer \(cached.value)") }
                throw KubeError.authentication("cannot read token file \(path)")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingASCIIWhitespace()
            cachedToken = (token, t)
            return Credentials(authorization: "Bearer \(token)")
        case .exec(let config):
            if let c = cachedExec, c.expiration.map({ $0 > now() }) ?? true {
                return Self.credentials(from: c)
            }
            execRuns += 1
            let c = try await runExec(ExecCredentialPlugin(config: config, server: server, caPEM: caPEM))
            cachedExec = c
            return Self.credentials(from: c)
        }
    }

    /// Forgets cached credentials after a 401, so the next request reads or runs them again.
    public func invalidate() {
        cachedToken = nil
        cachedExec = nil
    }

    static func credentials(from c: ExecCredentialPlugin.Credential) -> Credentials {
        Credentials(authorization: c.token.map { "Bearer \($0)" }, clientIdentity: c.clientIdentity)
    }
}
