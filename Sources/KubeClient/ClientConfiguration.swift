#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeCore

/// How the client authenticates, resolved from the configuration.
public enum AuthMethod: Sendable, Equatable {
    case none
    /// A bearer token given inline.
    case token(String)
    /// A bearer token read from a file and re-read at least every ``ClientConfiguration/tokenFileRefresh``
    /// (service-account tokens rotate).
    case tokenFile(String)
    /// HTTP basic authentication.
    case basic(username: String, password: String)
    /// An exec credential plugin.
    case exec(ExecConfig)
    /// Only the TLS client certificate identifies the client.
    case clientCertificate

    /// What `config view` prints: the method, never the secret.
    public var summary: String {
        switch self {
        case .none: return "none"
        case .token: return "token"
        case .tokenFile(let path): return "token file (\(path))"
        case .basic(let user, _): return "basic (user \(user))"
        case .exec(let e): return "exec plugin (\(e.command), \(e.apiVersion ?? "client.authentication.k8s.io/v1"))"
        case .clientCertificate: return "client certificate"
        }
    }
}

/// A fully resolved client configuration: where the API server is, how to trust it and how to authenticate.
public struct ClientConfiguration: Sendable, Equatable {
    /// How often a token file is re-read at the most (client-go re-reads every minute).
    public static let tokenFileRefresh: Duration = .seconds(60)

    /// Base URL of the API server, e.g. `https://127.0.0.1:6443`.
    public var server: String
    public var tls: TLSConfiguration
    public var proxyURL: String?
    public var auth: AuthMethod
    /// The namespace to use when none is given. Default `default`.
    public var namespace: String
    /// Where this came from: kubeconfig file paths, or `in-cluster`.
    public var source: String
    public var contextName: String?
    public var clusterName: String?
    public var userName: String?

    public init(server: String, tls: TLSConfiguration = TLSConfiguration(), proxyURL: String? = nil,
                auth: AuthMethod = .none, namespace: String = "default", source: String = "explicit",
                contextName: String? = nil, clusterName: String? = nil, userName: String? = nil) {
        self.server = server
        self.tls = tls
        self.proxyURL = proxyURL
        self.auth = auth
        self.namespace = namespace
        self.source = source
        self.contextName = contextName
        self.clusterName = clusterName
        self.userName = userName
    }

    /// A human-readable summary with no secrets: server, context, namespace, auth method.
    public var summary: String {
        var lines = [
            "source: \(source)",
            "server: \(server)",
            "context: \(contextName ?? "(none)")",
            "cluster: \(clusterName ?? "(none)")",
            "user: \(userName ?? "(none)")",
            "namespace: \(namespace)",
            "auth: \(auth.summary)",
        ]
        var tlsText = tls.insecureSkipVerify ? "verification disabled (insecure-skip-tls-verify)"
            : (tls.caPEM != nil ? "verified against inline CA data" : tls.caFile.map { "verified against \($0)" } ?? "verified against the system trust store")
        if let name = tls.serverName { tlsText += ", server name \(name)" }
        if tls.clientIdentity != nil { tlsText += ", client certificate" }
        lines.append("tls: \(tlsText)")
        if let proxyURL { lines.append("proxy: \(proxyURL)") }
        return lines.joined(separator: "\n")
    }
}
