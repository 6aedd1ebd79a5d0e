import Foundation
import KubeClient
import KubeCore
import XMLCoder

/// Where a client's AWS credentials come from: fixed keys (a Secret's) answer as they are; the pod's own identity
/// (IAM roles for service accounts) is exchanged with STS and renewed before it expires. Clients ask before each
/// request, so a long-lived client never signs with expired credentials.
public protocol AWSCredentialsProvider: Sendable {
    /// Credentials valid now.
    func credentials() async throws -> AWSCredentials
}

extension AWSCredentials: AWSCredentialsProvider {
    public func credentials() async throws -> AWSCredentials { self }
}

/// Why no credentials could be had. Never carries a secret: not the token, not a key.
public struct AWSCredentialsError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// Worth trying again later (STS unreachable, throttled, failing), as opposed to a configuration that cannot work.
    public let isRetryable: Bool
    public init(_ description: String, retryable: Bool = false) {
        self.description = description
        isRetryable = retryable
    }
}

/// IAM roles for service accounts (IRSA). EKS's pod identity webhook gives a pod whose ServiceAccount is annotated
/// `eks.amazonaws.com/role-arn` the variables AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE; the file holds a service
/// account token the kubelet renews. It is exchanged for the role's temporary credentials with STS
/// AssumeRoleWithWebIdentity, an unsigned call (the token is the proof). The file is read again for every exchange.
///
/// As the SDKs' caching providers do: credentials are renewed once less than `refreshBefore` of them is left, and
/// while they are still good for another `staleUse` a failed renewal keeps serving them (the next renewal is tried
/// 30 s later), so that a short STS or identity provider outage never fails a request that could be signed. One
/// exchange serves every caller waiting on it; a caller that is cancelled stops waiting at once.
public actor WebIdentityCredentials: AWSCredentialsProvider {
    public nonisolated let roleArn: String
    public nonisolated let tokenFile: String
    public nonisolated let sessionName: String
    public nonisolated let stsEndpoint: String
    let durationSeconds: Int?
    let refreshBefore: Duration
    let staleUse: Duration
    let transport: any HTTPTransport
    let now: @Sendable () -> Date
    private var cached: (credentials: AWSCredentials, expiration: Date)?
    /// After a failed renewal while the held credentials are still good: no new try before this.
    private var quietUntil: Date?
    private var exchanging = false
    private var waiters: [UInt64: CheckedContinuation<AWSCredentials, any Error>] = [:]
    private var nextWaiter: UInt64 = 0

    public init(roleArn: String, tokenFile: String, sessionName: String, stsEndpoint: String, durationSeconds: Int? = nil,
                refreshBefore: Duration = .seconds(300), staleUse: Duration = .seconds(60), transport: any HTTPTransport = CurlTransport(),
                now: @escaping @Sendable () -> Date = Date.init) {
        self.roleArn = roleArn
        self.tokenFile = tokenFile
        self.sessionName = sessionName
        var endpoint = stsEndpoint
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.stsEndpoint = endpoint
        self.durationSeconds = durationSeconds
        self.refreshBefore = refreshBefore
        self.staleUse = staleUse
        self.transport = transport
        self.now = now
    }

    /// The held credentials, if they need no renewal now.
    private func current() -> AWSCredentials? {
        guard let cached else { return nil }
        let left = cached.expiration.timeIntervalSince(now())
        if left > refreshBefore.seconds { return cached.credentials }
        if let quietUntil, now() < quietUntil, left > staleUse.seconds { return cached.credentials }
        return nil
    }

    public func credentials() async throws -> AWSCredentials {
        if let c = current() { return c }
        nextWaiter += 1
        let id = nextWaiter
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<AWSCredentials, any Error>) in
                if Task.isCancelled {
                    waiter.resume(throwing: CancellationError())
                    return
                }
                waiters[id] = waiter
                if !exchanging {
                    exchanging = true
                    Task { await self.renew() }
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        waiters.removeValue(forKey: id)?.resume(throwing: CancellationError())
    }

    /// One exchange; its outcome goes to every caller waiting then.
    private func renew() async {
        let outcome: Result<AWSCredentials, any Error>
        do {
            let (credentials, expiration) = try await assumeRole()
            cached = (credentials, expiration)
            quietUntil = nil
            outcome = .success(credentials)
        } catch {
            if let cached, cached.expiration.timeIntervalSince(now()) > staleUse.seconds {
                quietUntil = now().addingTimeInterval(30)
                outcome = .success(cached.credentials)
            } else {
                outcome = .failure(error)
            }
        }
        exchanging = false
        let waiting = waiters
        waiters = [:]
        for waiter in waiting.values { waiter.resume(with: outcome) }
    }

    /// When the credentials held now expire (nil: none held yet).
    public var expiration: Date? { cached?.expiration }

    struct Response: Decodable {
        struct Result: Decodable {
            struct Credentials: Decodable {
                let AccessKeyId: String
                let SecretAccessKey: String
                let SessionToken: String
                let Expiration: String
            }
            let Credentials: Credentials
        }
        let AssumeRoleWithWebIdentityResult: Result
    }

    struct ErrorResponse: Decodable {
        struct Detail: Decodable {
            let Code: String
            let Message: String?
        }
        let Error: Detail
    }

    func assumeRole() async throws -> (AWSCredentials, Date) {
        let token: String
        do {
            token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw AWSCredentialsError("cannot read the web identity token file \(tokenFile) (AWS_WEB_IDENTITY_TOKEN_FILE): \((error as NSError).localizedDescription)",
                                      retryable: true)
        }
        guard !token.isEmpty else { throw AWSCredentialsError("the web identity token file \(tokenFile) is empty", retryable: true) }
        var form = [("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", roleArn),
                    ("RoleSessionName", sessionName), ("WebIdentityToken", token)]
        if let durationSeconds { form.append(("DurationSeconds", String(durationSeconds))) }
        let body = Array(form.map { "\(SigV4.uriEncode($0.0, slash: true))=\(SigV4.uriEncode($0.1, slash: true))" }.joined(separator: "&").utf8)
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPRequest(method: "POST", url: stsEndpoint + "/", body: body, timeout: .seconds(30))
            request.headers.add("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            request.headers.add("Expect", "")
            let failure: AWSCredentialsError
            do {
                let r = try await transport.send(request)
                if r.status == 200 {
                    guard let decoded = try? XMLDecoder().decode(Response.self, from: Data(r.body)),
                          let expiration = Time(rfc3339: decoded.AssumeRoleWithWebIdentityResult.Credentials.Expiration) else {
                        throw AWSCredentialsError("STS at \(stsEndpoint) answered AssumeRoleWithWebIdentity with a body that is not its response")
                    }
                    let c = decoded.AssumeRoleWithWebIdentityResult.Credentials
                    return (AWSCredentials(accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken),
                            Date(timeIntervalSince1970: expiration.secondsSince1970))
                }
                let e = try? XMLDecoder().decode(ErrorResponse.self, from: Data(r.body))
                let code = e?.Error.Code ?? "HTTP\(r.status)"
                // Throttling, STS's own failures and the identity provider's are transient. So is InvalidIdentityToken,
                // as the Go SDK treats it: STS answers it too while it cannot fetch the provider's keys. A role that
                // does not trust the token (AccessDenied) or an expired token is not.
                let transient = r.status >= 500 || r.status == 429
                    || ["Throttling", "IDPCommunicationError", "ServiceUnavailable", "InvalidIdentityToken"].contains(code)
                failure = AWSCredentialsError("STS refused AssumeRoleWithWebIdentity for \(roleArn): \(code): \(e?.Error.Message ?? "HTTP \(r.status)")",
                                              retryable: transient)
            } catch let e as KubeError {
                if case .transport(let t) = e, t.kind == .cancelled { throw CancellationError() }
                failure = AWSCredentialsError("STS at \(stsEndpoint) is unreachable: \(e.description)", retryable: true)
            }
            guard failure.isRetryable, attempt < 3 else { throw failure }
            try await Task.sleep(for: .milliseconds(200 << attempt))
        }
    }
}

/// The credentials a process has of its own, from its environment in the AWS SDKs' order: AWS_ACCESS_KEY_ID and
/// AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN), else a web identity (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE,
/// as IRSA sets them; AWS_ROLE_SESSION_NAME). STS is the region's endpoint (AWS_REGION, else AWS_DEFAULT_REGION;
/// see ``stsEndpoint(region:legacy:)``) unless AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL names another. Not read:
/// shared config and credentials files (profiles), container credentials (ECS, EKS Pod Identity) and instance
/// metadata (a pod should not act with its node's rights).
public enum AWSDefaultCredentials {
    public static func resolve(environment: [String: String], transport: any HTTPTransport = CurlTransport()) throws -> any AWSCredentialsProvider {
        func value(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
            return v
        }
        if let id = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY") {
            return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN"))
        }
        if let role = value("AWS_ROLE_ARN"), let file = value("AWS_WEB_IDENTITY_TOKEN_FILE") {
            let endpoint = value("AWS_ENDPOINT_URL_STS") ?? value("AWS_ENDPOINT_URL")
                ?? stsEndpoint(region: value("AWS_REGION") ?? value("AWS_DEFAULT_REGION"), legacy: value("AWS_STS_REGIONAL_ENDPOINTS") == "legacy")
            let session = value("AWS_ROLE_SESSION_NAME") ?? "salespot-\(Int(Date().timeIntervalSince1970))"
            return WebIdentityCredentials(roleArn: role, tokenFile: file, sessionName: session, stsEndpoint: endpoint, transport: transport)
        }
        throw AWSCredentialsError("no AWS credentials: no credentialsSecret is named, and this process has neither AWS_ACCESS_KEY_ID and "
                                  + "AWS_SECRET_ACCESS_KEY nor an IAM role for its service account (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, "
                                  + "which EKS sets when the ServiceAccount is annotated eks.amazonaws.com/role-arn)")
    }

    /// Regions whose STS the `legacy` setting sends to the global endpoint (those that had it before regional
    /// endpoints existed; later regions always use their own).
    static let legacyGlobalRegions: Set<String> = ["ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "aws-global", "ca-central-1",
                                                   "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
                                                   "us-east-1", "us-east-2", "us-west-1", "us-west-2"]

    /// The STS endpoint the SDKs use for a region: its own (the default since 2022), the global one with `legacy`
    /// for the regions above or when no region is set; China's regions are under amazonaws.com.cn.
    static func stsEndpoint(region: String?, legacy: Bool) -> String {
        guard let region, !(legacy && legacyGlobalRegions.contains(region)) else { return "https://sts.amazonaws.com" }
        return "https://sts.\(region).amazonaws.com\(region.hasPrefix("cn-") ? ".cn" : "")"
    }

    /// The credentials a resource names: its Secret's keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, if there,
    /// AWS_SESSION_TOKEN, in `namespace`), or without a Secret this process's own (``shared``). Throws
    /// ``SecretValueMissing`` naming the Secret or key, or ``AWSCredentialsError``; the caller words it for its
    /// resource.
    public static func named(secret: String?, namespace: String, client: KubeClient) async throws -> any AWSCredentialsProvider {
        guard let secret else { return try shared.get() }
        let secrets = Api<Secret>(client, namespace: namespace)
        func value(_ key: String) async throws -> String {
            try await secrets.value(secret, key: key).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return AWSCredentials(accessKeyId: try await value("AWS_ACCESS_KEY_ID"), secretAccessKey: try await value("AWS_SECRET_ACCESS_KEY"),
                              sessionToken: try? await value("AWS_SESSION_TOKEN"))
    }

    /// This process's own credentials, resolved once from its environment: every client shares one provider, so a
    /// web identity is exchanged once per renewal, not once per client.
    public static let shared: Result<any AWSCredentialsProvider, AWSCredentialsError> = {
        do {
            return .success(try resolve(environment: ProcessInfo.processInfo.environment))
        } catch let e as AWSCredentialsError {
            return .failure(e)
        } catch {
            return .failure(AWSCredentialsError("\(error)"))
        }
    }()
}
