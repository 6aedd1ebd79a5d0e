/// How a transport verifies the server and identifies itself, resolved from a kubeconfig or in-cluster files.
public struct TLSConfiguration: Sendable, Hashable {
    /// PEM bundle of trusted CAs; `nil` uses the system's trust store.
    public var caPEM: [UInt8]?
    /// Path of a CA bundle file, used when `caPEM` is `nil`.
    public var caFile: String?
    /// Skip verification of the server's certificate and name. Default `false`; only for testing.
    public var insecureSkipVerify: Bool
    /// The name to verify the server's certificate against (and to send as SNI) instead of the URL's host.
    public var serverName: String?
    /// The client certificate to present, if any.
    public var clientIdentity: TLSIdentity?

    public init(caPEM: [UInt8]? = nil, caFile: String? = nil, insecureSkipVerify: Bool = false,
                serverName: String? = nil, clientIdentity: TLSIdentity? = nil) {
        self.caPEM = caPEM
        self.caFile = caFile
        self.insecureSkipVerify = insecureSkipVerify
        self.serverName = serverName
        self.clientIdentity = clientIdentity
    }
}
