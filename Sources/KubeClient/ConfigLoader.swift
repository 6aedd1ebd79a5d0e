#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeCore

/// Finds and resolves the client configuration in client-go's order: an explicit kubeconfig path, then
/// `KUBECONFIG` (several files merged as kubectl merges them), then in-cluster, then `~/.kube/config`.
public struct ConfigLoader: Sendable {
    /// The service-account directory in a pod.
    public static let defaultServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// Environment variables to read (`KUBECONFIG`, `KUBERNETES_SERVICE_HOST`, `KUBERNETES_SERVICE_PORT`, `HOME`).
    public var environment: [String: String]
    /// Where in-cluster files live; changeable for tests.
    public var serviceAccountDirectory: String

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                serviceAccountDirectory: String = ConfigLoader.defaultServiceAccountDirectory) {
        self.environment = environment
        self.serviceAccountDirectory = serviceAccountDirectory
    }

    /// Resolves the configuration.
    /// - Parameters:
    ///   - explicitPath: `--kubeconfig`; when set, only that file is read and it must exist.
    ///   - context: `--context`; overrides `current-context`.
    ///   - namespace: `--namespace`; overrides the context's namespace.
    public func load(explicitPath: String? = nil, context: String? = nil, namespace: String? = nil) throws -> ClientConfiguration {
        if let explicitPath {
            let merged = try Self.loadFiles([explicitPath], mustExist: true)
            return try resolve(merged, context: context, namespace: namespace)
        }
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            let paths = list.split(separator: ":").map(String.init).filter { !$0.isEmpty }
            let merged = try Self.loadFiles(paths, mustExist: false)
            if !merged.sources.isEmpty { return try resolve(merged, context: context, namespace: namespace) }
        }
        if let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"],
           !host.isEmpty, !port.isEmpty {
            return try inCluster(host: host, port: port, namespace: namespace)
        }
        if let home = environment["HOME"] {
            let path = Paths.join(home, ".kube/config")
            if FileManager.default.fileExists(atPath: path) {
                return try resolve(try Self.loadFiles([path], mustExist: true), context: context, namespace: namespace)
            }
        }
        throw KubeError.configuration(ConfigError(message:
            "no configuration found: pass --kubeconfig, set KUBECONFIG, run in a pod, or create ~/.kube/config"))
    }

    /// In a pod: the service's address, the mounted token (re-read as it rotates), CA and namespace.
    public func inCluster(host: String, port: String, namespace: String? = nil) throws -> ClientConfiguration {
        let dir = serviceAccountDirectory
        let tokenPath = Paths.join(dir, "token")
        let caPath = Paths.join(dir, "ca.crt")
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubeError.configuration(ConfigError(file: tokenPath, message: "in-cluster token file is missing"))
        }
        let ns = namespace ?? (try? String(contentsOfFile: Paths.join(dir, "namespace"), encoding: .utf8))?
            .trimmingASCIIWhitespace() ?? "default"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return ClientConfiguration(
            server: "https://\(hostPart):\(port)",
            tls: TLSConfiguration(caFile: FileManager.default.fileExists(atPath: caPath) ? caPath : nil),
            auth: .tokenFile(tokenPath), namespace: ns.isEmpty ? "default" : ns, source: "in-cluster")
    }

    /// Kubeconfig files merged, remembering which file each named entry came from (for messages and relative paths).
    public struct Merged: Sendable {
        public var config = Kubeconfig()
        public var sources: [String] = []
        var clusterOrigin: [String: String] = [:]
        var userOrigin: [String: String] = [:]
        var contextOrigin: [String: String] = [:]
    }

    /// Reads and merges kubeconfig files with kubectl's rules: the first file to set a cluster, user or context name
    /// wins, and the first file to set `current-context` wins. Missing files are skipped unless `mustExist`.
    public static func loadFiles(_ paths: [String], mustExist: Bool) throws -> Merged {
        var merged = Merged()
        var seen = Set<String>()
        for path in paths where seen.insert(path).inserted {
            guard FileManager.default.fileExists(atPath: path) else {
                if mustExist { throw KubeError.configuration(ConfigError(file: path, message: "file does not exist")) }
                continue
            }
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw KubeError.configuration(ConfigError(file: path, message: "cannot read: \(error)"))
            }
            let file = try parse(text, path: path)
            merged.sources.append(path)
            let dir = Paths.directory(of: path)
            if merged.config.currentContext == nil || merged.config.currentContext == "" {
                if let c = file.currentContext, !c.isEmpty { merged.config.currentContext = c }
            }
            for var entry in file.clusters ?? [] where merged.clusterOrigin[entry.name] == nil {
                entry.cluster.certificateAuthority = entry.cluster.certificateAuthority.map { resolvePath($0, dir) }
                merged.config.clusters = (merged.config.clusters ?? []) + [entry]
                merged.clusterOrigin[entry.name] = path
            }
            for var entry in file.users ?? [] where merged.userOrigin[entry.name] == nil {
                entry.user.clientCertificate = entry.user.clientCertificate.map { resolvePath($0, dir) }
                entry.user.clientKey = entry.user.clientKey.map { resolvePath($0, dir) }
                entry.user.tokenFile = entry.user.tokenFile.map { resolvePath($0, dir) }
                if var exec = entry.user.exec, exec.command.contains("/") {
                    // kubectl resolves a relative exec command containing a slash against the file's directory.
                    exec.command = resolvePath(exec.command, dir)
                    entry.user.exec = exec
                }
                merged.config.users = (merged.config.users ?? []) + [entry]
                merged.userOrigin[entry.name] = path
            }
            for entry in file.contexts ?? [] where merged.contextOrigin[entry.name] == nil {
                merged.config.contexts = (merged.config.contexts ?? []) + [entry]
                merged.contextOrigin[entry.name] = path
            }
        }
        return merged
    }

    /// Parses one kubeconfig, naming the file and field on error.
    public static func parse(_ text: String, path: String) throws -> Kubeconfig {
        let json: JSONValue
        do { json = try YAML.parse(text) } catch {
            throw KubeError.configuration(ConfigError(file: path, message: error.description))
        }
        if json.isNull { return Kubeconfig() }
        guard case .object = json else {
            throw KubeError.configuration(ConfigError(file: path, message: "a kubeconfig must be a mapping, found \(json.typeName)"))
        }
        do {
            return try JSONValueDecoder().decode(Kubeconfig.self, from: json)
        } catch let e as DecodingError {
            throw KubeError.configuration(ConfigError(file: path, field: fieldPath(of: e, in: json), message: decodingMessage(e)))
        }
    }

    static func resolvePath(_ p: String, _ dir: String) -> String {
        if p.isEmpty || p.hasPrefix("/") { return p }
        return Paths.join(dir, p)
    }

    /// `users[admin].user.token` style paths from a decoding error, naming list items by their `name`.
    static func fieldPath(of error: DecodingError, in json: JSONValue) -> String {
        let keys: [any CodingKey]
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): keys = c.codingPath
        case .keyNotFound(let k, let c): keys = c.codingPath + [k]
        @unknown default: keys = []
        }
        var text = ""
        var node: JSONValue? = json
        for key in keys {
            if let i = key.intValue {
                let name = node?[i]?["name"]?.stringValue
                text += name.map { "[\($0)]" } ?? "[\(i)]"
                node = node?[i]
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                node = node?[key.stringValue]
            }
        }
        return text.isEmpty ? "(top level)" : text
    }

    static func decodingMessage(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let t, let c): return "wrong type, expected \(t): \(c.debugDescription)"
        case .valueNotFound(_, let c): return c.debugDescription
        case .keyNotFound(let k, _): return "required field '\(k.stringValue)' is missing"
        case .dataCorrupted(let c): return c.debugDescription
        @unknown default: return "\(error)"
        }
    }

    /// Picks the context, cluster and user and turns them into a ``ClientConfiguration``.
    public func resolve(_ merged: Merged, context override: String?, namespace: String?) throws -> ClientConfiguration {
        let cfg = merged.config
        let source = merged.sources.joined(separator: ":")
        guard let contextName = override ?? cfg.currentContext, !contextName.isEmpty else {
            throw KubeError.configuration(ConfigError(file: source, field: "current-context",
                                                      message: "no current context is set and none was given"))
        }
        guard let ctx = cfg.contexts?.first(where: { $0.name == contextName })?.context else {
            throw KubeError.configuration(ConfigError(file: source, field: "contexts",
                                                      message: "context '\(contextName)' is not defined"))
        }
        let ctxFile = merged.contextOrigin[contextName] ?? source
        guard let clusterName = ctx.cluster, !clusterName.isEmpty else {
            throw KubeError.configuration(ConfigError(file: ctxFile, field: "contexts[\(contextName)].context.cluster", message: "is empty"))
        }
        guard let cluster = cfg.clusters?.first(where: { $0.name == clusterName })?.cluster else {
            throw KubeError.configuration(ConfigError(file: ctxFile, field: "contexts[\(contextName)].context.cluster",
                                                      message: "cluster '\(clusterName)' is not defined"))
        }
        let clusterFile = merged.clusterOrigin[clusterName] ?? source
        let clusterField = "clusters[\(clusterName)].cluster"
        guard let server = cluster.server, !server.isEmpty else {
            throw KubeError.configuration(ConfigError(file: clusterFile, field: "\(clusterField).server", message: "no server is set"))
        }
        guard server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw KubeError.configuration(ConfigError(file: clusterFile, field: "\(clusterField).server",
                                                      message: "'\(server)' must start with https:// or http://"))
        }
        var tls = TLSConfiguration(insecureSkipVerify: cluster.insecureSkipTLSVerify ?? false, serverName: cluster.tlsServerName)
        if let data = cluster.certificateAuthorityData, !data.isEmpty {
            tls.caPEM = try decodeBase64(data, file: clusterFile, field: "\(clusterField).certificate-authority-data")
        } else if let file = cluster.certificateAuthority, !file.isEmpty {
            tls.caPEM = try readFile(file, file: clusterFile, field: "\(clusterField).certificate-authority")
        }
        if tls.insecureSkipVerify && tls.caPEM != nil {
            // client-go refuses this combination.
            throw KubeError.configuration(ConfigError(file: clusterFile, field: "\(clusterField).insecure-skip-tls-verify",
                message: "specifying a root certificate together with insecure-skip-tls-verify is not allowed"))
        }
        var auth = AuthMethod.none
        var userName: String?
        if let name = ctx.user, !name.isEmpty {
            userName = name
            guard let user = cfg.users?.first(where: { $0.name == name })?.user else {
                throw KubeError.configuration(ConfigError(file: ctxFile, field: "contexts[\(contextName)].context.user",
                                                          message: "user '\(name)' is not defined"))
            }
            let userFile = merged.userOrigin[name] ?? source
            let userField = "users[\(name)].user"
            var cert: [UInt8]?
            var key: [UInt8]?
            if let d = user.clientCertificateData, !d.isEmpty {
                cert = try decodeBase64(d, file: userFile, field: "\(userField).client-certificate-data")
            } else if let f = user.clientCertificate, !f.isEmpty {
                cert = try readFile(f, file: userFile, field: "\(userField).client-certificate")
            }
            if let d = user.clientKeyData, !d.isEmpty {
                key = try decodeBase64(d, file: userFile, field: "\(userField).client-key-data")
            } else if let f = user.clientKey, !f.isEmpty {
                key = try readFile(f, file: userFile, field: "\(userField).client-key")
            }
            switch (cert, key) {
            case (let c?, let k?): tls.clientIdentity = TLSIdentity(certificatePEM: c, keyPEM: k); auth = .clientCertificate
            case (.some, nil): throw KubeError.configuration(ConfigError(file: userFile, field: "\(userField).client-key",
                                                                         message: "a client certificate is set but no key"))
            case (nil, .some): throw KubeError.configuration(ConfigError(file: userFile, field: "\(userField).client-certificate",
                                                                         message: "a client key is set but no certificate"))
            default: break
            }
            let methods = [user.token?.isEmpty == false, user.tokenFile?.isEmpty == false,
                           user.username?.isEmpty == false, user.exec != nil].filter { $0 }.count
            if methods > 1 {
                throw KubeError.configuration(ConfigError(file: userFile, field: userField,
                    message: "more than one of token, tokenFile, username/password and exec is set"))
            }
            if let token = user.token, !token.isEmpty { auth = .token(token) }
            else if let file = user.tokenFile, !file.isEmpty {
                guard FileManager.default.isReadableFile(atPath: file) else {
                    throw KubeError.configuration(ConfigError(file: userFile, field: "\(userField).tokenFile",
                                                              message: "cannot read \(file)"))
                }
                auth = .tokenFile(file)
            } else if let u = user.username, !u.isEmpty {
                auth = .basic(username: u, password: user.password ?? "")
            } else if let exec = user.exec {
                guard !exec.command.isEmpty else {
                    throw KubeError.configuration(ConfigError(file: userFile, field: "\(userField).exec.command", message: "is empty"))
                }
                let version = exec.apiVersion ?? ""
                guard ExecCredentialPlugin.supportedVersions.contains(version) else {
                    throw KubeError.configuration(ConfigError(file: userFile, field: "\(userField).exec.apiVersion",
                        message: "'\(version)' is not supported; use one of \(ExecCredentialPlugin.supportedVersions.joined(separator: ", "))"))
                }
                auth = .exec(exec)
            } else if user.authProvider != nil {
                throw KubeError.configuration(ConfigError(file: userFile, field: "\(userField).auth-provider",
                    message: "auth-provider plugins were removed from Kubernetes; use an exec plugin"))
            }
        }
        return ClientConfiguration(server: server.hasSuffix("/") ? String(server.dropLast()) : server, tls: tls,
                                   proxyURL: cluster.proxyURL, auth: auth,
                                   namespace: namespace ?? ctx.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default",
                                   source: source, contextName: contextName, clusterName: clusterName, userName: userName)
    }

    func decodeBase64(_ text: String, file: String, field: String) throws -> [UInt8] {
        let cleaned = text.filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: cleaned) else {
            throw KubeError.configuration(ConfigError(file: file, field: field, message: "is not valid base64"))
        }
        return [UInt8](data)
    }

    func readFile(_ path: String, file: String, field: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubeError.configuration(ConfigError(file: file, field: field, message: "cannot read \(path)"))
        }
        return [UInt8](data)
    }
}
