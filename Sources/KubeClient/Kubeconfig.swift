import KubeCore

/// A kubeconfig file (`kind: Config`), as kubectl reads it.
public struct Kubeconfig: Codable, Sendable, Equatable {
    public var apiVersion: String?
    public var kind: String?
    public var currentContext: String?
    public var clusters: [NamedCluster]?
    public var users: [NamedUser]?
    public var contexts: [NamedContext]?
    public var preferences: JSONValue?
    public var extensions: [JSONValue]?

    enum CodingKeys: String, CodingKey {
        case apiVersion, kind, clusters, users, contexts, preferences, extensions
        case currentContext = "current-context"
    }

    public init() {}

    /// A named cluster entry.
    public struct NamedCluster: Codable, Sendable, Equatable {
        public var name: String
        public var cluster: Cluster
    }
    /// A named user entry.
    public struct NamedUser: Codable, Sendable, Equatable {
        public var name: String
        public var user: User
    }
    /// A named context entry.
    public struct NamedContext: Codable, Sendable, Equatable {
        public var name: String
        public var context: Context
    }

    /// How to reach and trust an API server.
    public struct Cluster: Codable, Sendable, Equatable {
        public var server: String?
        public var certificateAuthority: String?
        public var certificateAuthorityData: String?
        public var insecureSkipTLSVerify: Bool?
        public var tlsServerName: String?
        public var proxyURL: String?
        public var extensions: [JSONValue]?
        enum CodingKeys: String, CodingKey {
            case server, extensions
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            case tlsServerName = "tls-server-name"
            case proxyURL = "proxy-url"
        }
    }

    /// How to authenticate.
    public struct User: Codable, Sendable, Equatable {
        public var token: String?
        public var tokenFile: String?
        public var clientCertificate: String?
        public var clientCertificateData: String?
        public var clientKey: String?
        public var clientKeyData: String?
        public var username: String?
        public var password: String?
        public var exec: ExecConfig?
        public var authProvider: JSONValue?
        enum CodingKeys: String, CodingKey {
            case token, tokenFile, username, password, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case authProvider = "auth-provider"
        }
    }

    /// Which cluster, user and namespace a context means.
    public struct Context: Codable, Sendable, Equatable {
        public var cluster: String?
        public var user: String?
        public var namespace: String?
    }
}

/// An exec credential plugin (`users[].user.exec`).
public struct ExecConfig: Codable, Sendable, Equatable {
    /// `client.authentication.k8s.io/v1` or `/v1beta1`.
    public var apiVersion: String?
    public var command: String
    public var args: [String]?
    public var env: [ExecEnvVar]?
    /// Pass the cluster's server and CA to the plugin in `KUBERNETES_EXEC_INFO`.
    public var provideClusterInfo: Bool?
    public var installHint: String?
    /// `Never`, `IfAvailable` or `Always`; the operator never has a terminal, so it always runs non-interactively.
    public var interactiveMode: String?

    public init(apiVersion: String? = "client.authentication.k8s.io/v1", command: String, args: [String]? = nil,
                env: [ExecEnvVar]? = nil, provideClusterInfo: Bool? = nil) {
        self.apiVersion = apiVersion
        self.command = command
        self.args = args
        self.env = env
        self.provideClusterInfo = provideClusterInfo
    }
}

/// One environment variable for an exec plugin.
public struct ExecEnvVar: Codable, Sendable, Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
