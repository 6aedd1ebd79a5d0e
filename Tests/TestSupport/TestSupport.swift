import Foundation
import KubeCore
import Synchronization

// Helpers shared by the test targets: clocks that never wait, processes, temporary directories.

/// A clock that never waits: each sleep is recorded and time jumps to its deadline.
public final class ManualClock: Clock, Sendable {
    public init() {}
    public struct Instant: InstantProtocol {
        public var offset: Duration
        public func advanced(by d: Duration) -> Instant { Instant(offset: offset + d) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }
    private let state = Mutex<(now: Instant, sleeps: [Duration])>((Instant(offset: .zero), []))
    public var now: Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .zero }
    public var sleeps: [Duration] { state.withLock { $0.sleeps } }
    public func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        state.withLock { s in
            s.sleeps.append(s.now.duration(to: deadline))
            if s.now < deadline { s.now = deadline }
        }
    }
}

/// A wall clock the test moves by hand.
public final class ManualWallClock: Sendable {
    private let seconds: Mutex<Double>
    public init(_ start: String) { seconds = Mutex(Time(rfc3339: start)!.secondsSince1970) }
    public func now() -> Time { Time(secondsSince1970: seconds.withLock { $0 }) }
    public func advance(_ s: Double) { seconds.withLock { $0 += s } }
}

/// A fresh temporary directory, removed by the caller via `defer`.
public func temporaryDirectory() throws -> String {
    let dir = NSTemporaryDirectory() + "salespot-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Runs a program and returns its exit status and output; fails loudly if it cannot start, or if it runs past
/// `timeout` (it is killed, and the error names it). Its stdin is /dev/null, so nothing waits on the terminal or on
/// a pipe the test runner holds open.
@discardableResult
public func run(_ executable: String, _ args: [String], env: [String: String]? = nil, cwd: String? = nil,
                timeout: Duration = .seconds(120)) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    if let env { p.environment = env }
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    p.standardInput = FileHandle.nullDevice
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    // The exit is told by the termination handler, set before the start so that a fast exit is not missed.
    // (Process.waitUntilExit, called off the main thread, can wait forever on Linux: it depends on a run loop that
    // nothing wakes.)
    let exited = DispatchSemaphore(value: 0)
    p.terminationHandler = { _ in exited.signal() }
    try p.run()
    // Both pipes drained on threads of their own, so a chatty program never blocks on a full pipe.
    let output = Locked<[Data]>([Data(), Data()])
    let drained = DispatchGroup()
    for (i, pipe) in [out, err].enumerated() {
        drained.enter()
        Thread.detachNewThread {
            while true {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                output.mutate { $0[i].append(chunk) }
            }
            drained.leave()
        }
    }
    if exited.wait(timeout: .now() + timeout.seconds) == .timedOut {
        // Its process group too (Foundation starts each child in a group of its own): what it started goes with it.
        kill(-p.processIdentifier, SIGKILL)
        kill(p.processIdentifier, SIGKILL)
        _ = exited.wait(timeout: .now() + 5)
        struct TimedOut: Error, CustomStringConvertible { let description: String }
        let o = output.value
        throw TimedOut(description: "\(executable) \(args.joined(separator: " ")) ran past \(timeout) and was killed; "
                       + "it had written: \(String(decoding: o[0] + o[1], as: UTF8.self).suffix(2000))")
    }
    // A program whose own child still holds its output open (a daemon it started): what arrived within 10 s.
    _ = drained.wait(timeout: .now() + 10)
    let o = output.value
    return (p.terminationStatus, String(decoding: o[0], as: UTF8.self), String(decoding: o[1], as: UTF8.self))
}

/// The path of a required tool, or an error naming it (tests never skip silently).
public func requireTool(_ name: String) throws -> String {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"] + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) {
        let path = dir + "/" + name
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    struct Missing: Error, CustomStringConvertible { let description: String }
    throw Missing(description: "required component '\(name)' is not installed (run .ci/run, which installs it)")
}

/// The Python of the repository's test venv (`.venv`, made by `scripts/install-deps.sh test`), with the
/// OpenFeature SDK, its OFREP provider and flagd-core; or an error naming what is missing.
public func testPython() throws -> String {
    let root = URL(fileURLWithPath: fixturesDirectory).deletingLastPathComponent().deletingLastPathComponent().path
    let python = ProcessInfo.processInfo.environment["SALESPOT_TEST_PYTHON"] ?? root + "/.venv/bin/python"
    struct Missing: Error, CustomStringConvertible { let description: String }
    guard FileManager.default.isExecutableFile(atPath: python) else {
        throw Missing(description: "required component: the OpenFeature Python venv \(python) (openfeature-sdk, openfeature-provider-ofrep, openfeature-flagd-core) is missing; run scripts/install-deps.sh test")
    }
    return python
}

/// The Tests/Fixtures directory.
public let fixturesDirectory: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
}()

/// Stops a server started by a test: SIGTERM, then SIGKILL after 5 s. (Process.waitUntilExit can block forever
/// when called from a test's teardown on Linux, so this polls instead.)
public func stopProcess(_ process: Process) {
    guard process.isRunning else { return }
    process.terminate()
    for _ in 0..<500 where process.isRunning { usleep(10_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
}

/// Runs a program on its own thread and awaits it, so the test's cooperative threads stay free (the servers under
/// test run their actors there; blocking them would deadlock a 2-core machine).
public func runAsync(_ executable: String, _ args: [String], env: [String: String]? = nil,
                     timeout: Duration = .seconds(120)) async throws -> (status: Int32, out: String, err: String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do { continuation.resume(returning: try run(executable, args, env: env, timeout: timeout)) } catch { continuation.resume(throwing: error) }
        }
    }
}

/// A value behind a lock that closures can share (a Mutex cannot be captured by escaping closures).
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    public var value: Value { mutex.withLock { $0 } }
    public func mutate(_ body: (inout Value) -> Void) { mutex.withLock { body(&$0) } }
}

/// A helper server started by a test.
public final class ServerProcess: Sendable {
    let shell: Process
    /// The server's own pid (the shell around it reports it).
    public let pid: Int32

    init(shell: Process, pid: Int32) {
        self.shell = shell
        self.pid = pid
    }

    /// Freezes the server (SIGSTOP): it holds its state and answers nothing, as a host that stopped responding.
    public func pause() { if pid > 0 { kill(pid, SIGSTOP) } }
    /// Lets a paused server go on (SIGCONT).
    public func resume() { if pid > 0 { kill(pid, SIGCONT) } }

    /// Stops the server and the shell around it.
    public func stop() {
        // SIGKILL: the test runner's children may inherit an ignored SIGTERM.
        if pid > 0 { kill(pid, SIGKILL) }
        stopProcess(shell)
    }
}

/// Starts a helper server for a test so that it does not outlive the test process: a shell runs it in the
/// background, reports its pid, and kills it when its standard input (a pipe this process holds) closes, which
/// happens when the test process exits, a crash included. Stop it early with ``ServerProcess/stop()``.
public func startServer(_ executable: String, _ args: [String]) throws -> ServerProcess {
    let quoted = ([executable] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    // fd 3 keeps the pipe (background jobs get /dev/null as stdin).
    p.arguments = ["-c", "exec 3<&0; \(quoted) >/dev/null 2>&1 & child=$!; echo $child; "
                       + "(cat <&3 >/dev/null; kill $child 2>/dev/null) & wait $child"]
    p.standardInput = Pipe()
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    var line = Data()
    while !line.contains(0x0A) {
        let chunk = out.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        line.append(chunk)
    }
    return ServerProcess(shell: p, pid: Int32(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
}
