import Foundation
import KubeCore
import Synchronization
@testable import KubeClient

/// A transport that replays scripted replies and records every request: for fault injection in unit tests.
final class ScriptedTransport: HTTPTransport {
    enum Reply: Sendable {
        case response(HTTPResponse)
        case stream(status: Int, chunks: [[UInt8]], endError: KubeError? = nil)
        case failure(KubeError)
    }
    private struct State {
        var replies: [Reply]
        var requests: [HTTPRequest] = []
    }
    private let state: Mutex<State>

    init(_ replies: [Reply]) { state = Mutex(State(replies: replies)) }

    var requests: [HTTPRequest] { state.withLock { $0.requests } }

    private func next(_ request: HTTPRequest) throws -> Reply {
        try state.withLock { s in
            s.requests.append(request)
            guard !s.replies.isEmpty else {
                throw KubeError.transport(TransportError(kind: .other, message: "script exhausted at \(request.method) \(request.url)"))
            }
            return s.replies.removeFirst()
        }
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        switch try next(request) {
        case .response(let r): return r
        case .failure(let e): throw e
        case .stream(let status, let chunks, _): return HTTPResponse(status: status, body: chunks.flatMap { $0 })
        }
    }

    func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse {
        switch try next(request) {
        case .response(let r):
            return HTTPStreamingResponse(status: r.status, headers: r.headers, body: AsyncThrowingStream { c in
                c.yield(r.body)
                c.finish()
            })
        case .failure(let e): throw e
        case .stream(let status, let chunks, let endError):
            return HTTPStreamingResponse(status: status, body: AsyncThrowingStream { c in
                for chunk in chunks { c.yield(chunk) }
                c.finish(throwing: endError)
            })
        }
    }
}

/// A clock that never waits: each sleep is recorded and time jumps to its deadline.
final class ManualClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by d: Duration) -> Instant { Instant(offset: offset + d) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }
    private let state = Mutex<(now: Instant, sleeps: [Duration])>((Instant(offset: .zero), []))
    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }
    var sleeps: [Duration] { state.withLock { $0.sleeps } }
    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        state.withLock { s in
            s.sleeps.append(s.now.duration(to: deadline))
            if s.now < deadline { s.now = deadline }
        }
    }
}

/// A wall clock the test moves by hand.
final class ManualWallClock: Sendable {
    private let seconds: Mutex<Double>
    init(_ start: String) { seconds = Mutex(Time(rfc3339: start)!.secondsSince1970) }
    func now() -> Time { Time(secondsSince1970: seconds.withLock { $0 }) }
    func advance(_ s: Double) { seconds.withLock { $0 += s } }
}

func json(_ status: Int, _ body: JSONValue, headers: HTTPHeaders = HTTPHeaders()) -> ScriptedTransport.Reply {
    .response(HTTPResponse(status: status, headers: headers, body: body.serialized()))
}

func statusBody(_ code: Int, _ reason: String, _ message: String) -> JSONValue {
    ["kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": .string(reason), "message": .string(message),
     "code": .int(Int64(code))]
}

func makeClient(_ transport: ScriptedTransport, auth: AuthMethod = .token("t0k"), clock: ManualClock = ManualClock(),
                authenticator: Authenticator? = nil, maxRetries: Int = 10) -> KubeClient {
    KubeClient(configuration: ClientConfiguration(server: "https://k8s.test:6443", auth: auth, namespace: "ns1"),
               transport: transport, authenticator: authenticator, clock: clock, maxRetries: maxRetries)
}

/// A fresh temporary directory, removed by the caller via `defer`.
func temporaryDirectory() throws -> String {
    let dir = NSTemporaryDirectory() + "salespot-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Runs a program and returns its exit status and output; fails loudly if it cannot start.
@discardableResult
func run(_ executable: String, _ args: [String], env: [String: String]? = nil, cwd: String? = nil) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    if let env { p.environment = env }
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// The path of a required tool, or an error naming it (tests never skip silently).
func requireTool(_ name: String) throws -> String {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"] + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) {
        let path = dir + "/" + name
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    struct Missing: Error, CustomStringConvertible { let description: String }
    throw Missing(description: "required component '\(name)' is not installed (run .ci/run, which installs it)")
}

/// The Tests/Fixtures directory.
let fixturesDirectory: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
}()

/// Stops a server started by a test: SIGTERM, then SIGKILL after 5 s. (Process.waitUntilExit can block forever
/// when called from a test's teardown on Linux, so this polls instead.)
func stopProcess(_ process: Process) {
    guard process.isRunning else { return }
    process.terminate()
    for _ in 0..<500 where process.isRunning { usleep(10_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
}
