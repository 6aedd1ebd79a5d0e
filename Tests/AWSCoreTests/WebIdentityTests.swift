@testable import AWSCore
import Backups
import BackupAPI
import DNSProviders
import Foundation
import KubeClient
import ObjectStore
import Synchronization
import TestSupport
import Testing

/// The real libcurl transport, recording what is sent; a test may answer some requests itself (STS failing or
/// refusing, which moto never does) before they reach the server.
final class RecordingTransport: HTTPTransport {
    let inner = CurlTransport()
    private let sent = Mutex<[HTTPRequest]>([])
    private let answer = Mutex<(@Sendable (HTTPRequest) -> HTTPResponse?)?>(nil)
    private let stall = Mutex<Duration?>(nil)
    var requests: [HTTPRequest] { sent.withLock { $0 } }
    func answer(with a: (@Sendable (HTTPRequest) -> HTTPResponse?)?) { answer.withLock { $0 = a } }
    /// Every request waits this long before it is answered or sent (a server that does not answer yet).
    func stall(for d: Duration?) { stall.withLock { $0 = d } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        sent.withLock { $0.append(request) }
        if let d = stall.withLock({ $0 }) { try await Task.sleep(for: d) }
        if let r = answer.withLock({ $0 })?(request) { return r }
        return try await inner.send(request)
    }
    func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse { try await inner.stream(request) }
}

/// IAM roles for service accounts: the web identity token exchanged with STS (moto's) for a role's credentials,
/// kept and renewed, and used to sign S3 and Route53 requests that moto checks against the role's policy.
@Suite struct WebIdentityTests {
    static let role = "arn:aws:iam::123456789012:role/salespot-operator"

    /// A token file as the kubelet keeps it (a JWT's shape; moto does not verify it).
    static func tokenFile(_ token: String) throws -> (dir: String, path: String) {
        let dir = try temporaryDirectory()
        try token.write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        return (dir, dir + "/token")
    }

    @Test func theTokenIsExchangedOnceKeptAndRenewedBeforeItExpires() async throws {
        let moto = try await MotoServer.start()
        defer { moto.stop() }
        let (dir, file) = try Self.tokenFile("eyJhbGciOiJSUzI1NiJ9.first.sig")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let transport = RecordingTransport()
        let clock = Locked(Date())
        let provider = WebIdentityCredentials(roleArn: Self.role, tokenFile: file, sessionName: "salespot-test", stsEndpoint: moto.endpoint,
                                              durationSeconds: 900, transport: transport, now: { clock.value })
        // Eight callers at once: one exchange serves them all.
        let first = try await withThrowingTaskGroup(of: AWSCredentials.self) { group in
            for _ in 0..<8 { group.addTask { try await provider.credentials() } }
            return try await group.reduce(into: [AWSCredentials]()) { $0.append($1) }
        }
        #expect(Set(first.map(\.accessKeyId)).count == 1)
        #expect(first[0].accessKeyId.hasPrefix("ASIA"), "temporary credentials: \(first[0].accessKeyId)")
        #expect(first[0].sessionToken?.isEmpty == false)
        #expect(transport.requests.count == 1)
        let body = String(decoding: transport.requests[0].body ?? [], as: UTF8.self)
        #expect(body.contains("Action=AssumeRoleWithWebIdentity") && body.contains("RoleSessionName=salespot-test") && body.contains("DurationSeconds=900"))
        #expect(body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fsalespot-operator"), "\(body)")
        #expect(transport.requests[0].headers.first { $0.name.lowercased() == "authorization" } == nil, "the exchange is unsigned")
        let expiration = try #require(await provider.expiration)
        #expect(abs(expiration.timeIntervalSince(clock.value) - 900) < 60, "expires in 15 minutes: \(expiration)")
        // Kept while more than 5 minutes remain.
        clock.mutate { $0 += 590 }
        #expect(try await provider.credentials() == first[0])
        #expect(transport.requests.count == 1)
        // Renewed with 5 minutes or less left, with the token the kubelet has written since.
        try "eyJhbGciOiJSUzI1NiJ9.second.sig".write(toFile: file, atomically: true, encoding: .utf8)
        clock.mutate { $0 += 20 }
        let renewed = try await provider.credentials()
        #expect(transport.requests.count == 2)
        #expect(renewed.accessKeyId != first[0].accessKeyId)
        #expect(String(decoding: transport.requests[1].body ?? [], as: UTF8.self).contains("WebIdentityToken=eyJhbGciOiJSUzI1NiJ9.second.sig"))
        // STS failing at renewal while the held credentials are still good for more than a minute: they stay in use
        // (an upload in flight is not failed), and STS is left alone for 30 s.
        transport.answer { _ in HTTPResponse(status: 503, body: Array("<ErrorResponse><Error><Code>ServiceUnavailable</Code><Message>down</Message></Error></ErrorResponse>".utf8)) }
        let renewedExpiration = try #require(await provider.expiration)
        clock.mutate { $0 = renewedExpiration.addingTimeInterval(-290) }
        #expect(try await provider.credentials() == renewed)
        #expect(transport.requests.count == 5, "one renewal, tried three times")
        clock.mutate { $0 += 20 }
        #expect(try await provider.credentials() == renewed)
        #expect(transport.requests.count == 5)
        // Less than a minute left and STS still failing: an error, not credentials about to expire.
        clock.mutate { $0 = renewedExpiration.addingTimeInterval(-50) }
        await #expect(throws: AWSCredentialsError.self) { _ = try await provider.credentials() }
        // STS back: renewed.
        transport.answer(with: nil)
        #expect(try await provider.credentials().accessKeyId != renewed.accessKeyId)
    }

    @Test func aCancelledCallerStopsWaitingForTheExchange() async throws {
        let (dir, file) = try Self.tokenFile("eyJhbGciOiJSUzI1NiJ9.slow.sig")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let transport = RecordingTransport()
        transport.stall(for: .seconds(5))
        transport.answer { _ in HTTPResponse(status: 403, body: Array("<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>".utf8)) }
        let provider = WebIdentityCredentials(roleArn: Self.role, tokenFile: file, sessionName: "s", stsEndpoint: "http://127.0.0.1:9", transport: transport)
        let caller = Task { try await provider.credentials() }
        try await Task.sleep(for: .milliseconds(300))
        let start = ContinuousClock.now
        caller.cancel()
        await #expect(throws: CancellationError.self) { _ = try await caller.value }
        #expect(ContinuousClock.now - start < .seconds(2), "the cancelled caller waited for the exchange")
        // A caller that comes meanwhile still gets that exchange's own outcome.
        await #expect(throws: AWSCredentialsError.self) { _ = try await provider.credentials() }
        #expect(transport.requests.count == 1)
    }

    @Test func failuresSayWhyNeverCarryTheTokenAndOnlyTransientOnesAreRetried() async throws {
        let (dir, file) = try Self.tokenFile("secret-token-value")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let transport = RecordingTransport()
        // The role does not trust the token: one request, the code and message, not the token.
        transport.answer { _ in
            HTTPResponse(status: 403, body: Array("""
                <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code>
                <Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>
                """.utf8))
        }
        let provider = WebIdentityCredentials(roleArn: Self.role, tokenFile: file, sessionName: "s", stsEndpoint: "http://127.0.0.1:9", transport: transport)
        do {
            _ = try await provider.credentials()
            Issue.record("a refused token gave credentials")
        } catch let e as AWSCredentialsError {
            #expect(e.description.contains("AccessDenied") && e.description.contains("Not authorized to perform"), "\(e)")
            #expect(e.description.contains(Self.role))
            #expect(!e.description.contains("secret-token-value"))
            #expect(!e.isRetryable)
        }
        #expect(transport.requests.count == 1)
        // InvalidIdentityToken is what STS answers while it cannot fetch the identity provider's keys: tried again.
        transport.answer { _ in
            HTTPResponse(status: 400, body: Array("<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>Couldn't retrieve verification key from your identity provider</Message></Error></ErrorResponse>".utf8))
        }
        await #expect(throws: AWSCredentialsError.self) { _ = try await provider.credentials() }
        #expect(transport.requests.count == 4)
        // STS failing: tried three times, then a retryable error.
        transport.answer { _ in HTTPResponse(status: 503, body: Array("<ErrorResponse><Error><Code>ServiceUnavailable</Code><Message>try later</Message></Error></ErrorResponse>".utf8)) }
        await #expect(throws: AWSCredentialsError.self) { _ = try await provider.credentials() }
        #expect(transport.requests.count == 7)
        // STS unreachable (nothing listens on port 9): retryable, and says where.
        transport.answer(with: nil)
        do {
            _ = try await provider.credentials()
            Issue.record("an unreachable STS gave credentials")
        } catch let e as AWSCredentialsError {
            #expect(e.isRetryable && e.description.contains("127.0.0.1:9"), "\(e)")
        }
        // No token file: says which file, and asks nothing of STS.
        let before = transport.requests.count
        let missing = WebIdentityCredentials(roleArn: Self.role, tokenFile: dir + "/absent", sessionName: "s", stsEndpoint: "http://127.0.0.1:9", transport: transport)
        do {
            _ = try await missing.credentials()
            Issue.record("a missing token file gave credentials")
        } catch let e as AWSCredentialsError {
            #expect(e.description.contains(dir + "/absent") && e.description.contains("AWS_WEB_IDENTITY_TOKEN_FILE"), "\(e)")
        }
        #expect(transport.requests.count == before)
    }

    @Test func theDefaultChainIsTheSDKs() throws {
        let keys = try AWSDefaultCredentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t",
                                                                  "AWS_ROLE_ARN": Self.role, "AWS_WEB_IDENTITY_TOKEN_FILE": "/t"])
        #expect((keys as? AWSCredentials) == AWSCredentials(accessKeyId: "AKIDENV", secretAccessKey: "s", sessionToken: "t"))
        func sts(_ env: [String: String]) throws -> String? {
            (try AWSDefaultCredentials.resolve(environment: ["AWS_ROLE_ARN": Self.role, "AWS_WEB_IDENTITY_TOKEN_FILE": "/t"].merging(env) { $1 })
                as? WebIdentityCredentials)?.stsEndpoint
        }
        #expect(try sts([:]) == "https://sts.amazonaws.com")
        #expect(try sts(["AWS_REGION": "eu-west-1"]) == "https://sts.eu-west-1.amazonaws.com")
        #expect(try sts(["AWS_DEFAULT_REGION": "eu-central-1"]) == "https://sts.eu-central-1.amazonaws.com")
        #expect(try sts(["AWS_REGION": "eu-west-1", "AWS_STS_REGIONAL_ENDPOINTS": "legacy"]) == "https://sts.amazonaws.com")
        #expect(try sts(["AWS_REGION": "ap-east-1", "AWS_STS_REGIONAL_ENDPOINTS": "legacy"]) == "https://sts.ap-east-1.amazonaws.com")
        #expect(try sts(["AWS_REGION": "cn-north-1"]) == "https://sts.cn-north-1.amazonaws.com.cn")
        #expect(try sts(["AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5000/"]) == "http://127.0.0.1:5000")
        do {
            _ = try AWSDefaultCredentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "only-half"])
            Issue.record("half a key pair resolved")
        } catch let e as AWSCredentialsError {
            #expect(e.description.contains("AWS_ROLE_ARN") && e.description.contains("eks.amazonaws.com/role-arn"), "\(e)")
        }
    }

    /// The backup runner without a credentials Secret, in a pod whose ServiceAccount has the role: moto checks each
    /// request's signature and the role's policy, as AWS would, so a write outside the role's prefix is refused.
    @Test func theRunnerActsAsItsRoleAndOnlyWithinTheRolesPolicy() async throws {
        // Three set-up calls and the exchange are let through; everything after is authenticated and authorized.
        let moto = try await MotoServer.start(unauthenticatedActions: 4)
        defer { moto.stop() }
        let aws = try requireTool("aws")
        let env = ProcessInfo.processInfo.environment.merging(["AWS_ACCESS_KEY_ID": "AKIDSETUP", "AWS_SECRET_ACCESS_KEY": "setup",
                                                               "AWS_DEFAULT_REGION": "eu-west-1"]) { $1 }
        let trust = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/X"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:ListBucket","s3:DeleteObject"],"Resource":["arn:aws:s3:::salespot-irsa","arn:aws:s3:::salespot-irsa/backups/*"]}]}"#
        for args in [["iam", "create-role", "--role-name", "salespot-backup-runner", "--assume-role-policy-document", trust],
                     ["iam", "put-role-policy", "--role-name", "salespot-backup-runner", "--policy-name", "backups", "--policy-document", policy],
                     ["s3api", "create-bucket", "--bucket", "salespot-irsa", "--create-bucket-configuration", "LocationConstraint=eu-west-1"]] {
            let r = try await runAsync(aws, ["--endpoint-url", moto.endpoint, "--output", "json"] + args, env: env)
            try #require(r.status == 0, "aws \(args[0]) \(args[1]): \(r.err)")
        }
        let (dir, file) = try Self.tokenFile("eyJhbGciOiJSUzI1NiJ9.runner.sig")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // What EKS's pod identity webhook puts in the Job's pod; no AWS keys anywhere.
        let podEnvironment = ["AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/salespot-backup-runner", "AWS_WEB_IDENTITY_TOKEN_FILE": file,
                              "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_STS": moto.endpoint]
        let plan = S3Plan(S3Destination(endpoint: moto.endpoint, region: "eu-west-1", bucket: "salespot-irsa", forcePathStyle: true))
        let s3 = try plan.client(environment: podEnvironment)
        try await s3.put("backups/default/nightly/run-1/manifest.json", Array(#"{"ok":true}"#.utf8))
        #expect(try await s3.get("backups/default/nightly/run-1/manifest.json") == Array(#"{"ok":true}"#.utf8))
        do {
            try await s3.put("elsewhere/manifest.json", Array("x".utf8))
            Issue.record("a write outside the role's prefix went through")
        } catch let e as S3Error {
            #expect(e.status == 403 && e.code == "AccessDenied", "\(e)")
        }
        // The same requests signed with keys nobody issued are refused: moto does check.
        let stranger = try S3Client(S3Endpoint(endpoint: moto.endpoint, region: "eu-west-1", bucket: "salespot-irsa", pathStyle: true),
                                    credentials: AWSCredentials(accessKeyId: "AKIDNOBODY", secretAccessKey: "nothing"))
        await #expect(throws: S3Error.self) { try await stranger.put("backups/default/nightly/run-2/manifest.json", Array("x".utf8)) }
        // Without a Secret and without a role, the runner says what it needs.
        do {
            _ = try plan.client(environment: ["AWS_REGION": "eu-west-1"])
            Issue.record("a runner with no credentials at all got a client")
        } catch {
            #expect("\(error)".contains("AWS_WEB_IDENTITY_TOKEN_FILE"), "\(error)")
        }
    }

    /// A DRPolicy's Route53 record changed with the operator's role (no Secret), read back with awscli.
    @Test func route53ChangesAreSignedWithTheRole() async throws {
        let moto = try await MotoServer.start()
        defer { moto.stop() }
        let zone = try await moto.createZone("irsa.test", accessKey: "AKIDSETUP", secretKey: "setup")
        let (dir, file) = try Self.tokenFile("eyJhbGciOiJSUzI1NiJ9.operator.sig")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let transport = RecordingTransport()
        let provider = try AWSDefaultCredentials.resolve(environment: ["AWS_ROLE_ARN": Self.role, "AWS_WEB_IDENTITY_TOKEN_FILE": file,
                                                                      "AWS_ENDPOINT_URL_STS": moto.endpoint], transport: transport)
        let c = try Route53Client(hostedZoneId: zone, credentials: provider, endpoint: moto.endpoint, transport: transport)
        let record = DNSRecordSet(name: "app.irsa.test", type: "A", ttl: 60, values: ["198.51.100.7"])
        try await c.replace(record, expected: nil)
        #expect(try await c.read(name: "app.irsa.test", type: "A")?.values == ["198.51.100.7"])
        let temporary = try await provider.credentials()
        let signed = transport.requests.filter { $0.url.contains("/2013-04-01/") }
        #expect(!signed.isEmpty)
        for r in signed {
            #expect(r.headers.first { $0.name == "Authorization" }?.value.contains("Credential=\(temporary.accessKeyId)/") == true)
            #expect(r.headers.first { $0.name == "x-amz-security-token" }?.value == temporary.sessionToken)
        }
        #expect(transport.requests.filter { $0.url.hasPrefix(moto.endpoint + "/") && !$0.url.contains("/2013-04-01/") }.count == 1, "one exchange")
    }
}
