import Subprocess
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The last bytes of a stream (a child's standard error), for error messages.
struct Tail {
    let limit: Int
    var bytes: [UInt8] = []
    init(limit: Int = 16 << 10) { self.limit = limit }
    mutating func append(_ b: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: b)
        if bytes.count > limit * 2 { bytes.removeFirst(bytes.count - limit) }
    }
    var text: String {
        String(decoding: bytes.suffix(limit), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Child processes for the runners, through swift-subprocess: output streamed with backpressure (the child blocks
/// when we stop reading), standard error kept as a bounded tail, the child killed if the task is cancelled.
enum Child {
    /// Ignored once per process: a child that exits while we write to it must give EPIPE, not kill us.
    static let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    struct Failed: Error, CustomStringConvertible {
        var program: String
        var status: TerminationStatus
        var stderr: String
        var description: String {
            let how: String
            switch status {
            case .exited(let c): how = "exited with status \(c)"
            case .signaled(let s): how = "was killed by signal \(s)"
            }
            return stderr.isEmpty ? "\(program) \(how)" : "\(program) \(how): \(stderr)"
        }
    }

    /// Runs `program` and hands each piece of its standard output to `sink` (at most a pipe's worth, 64 KiB, copied
    /// once out of the child's buffer). Throws ``Failed`` (with the end of its
    /// standard error) unless it exits 0 or with one of `okStatuses`; returns the end of its standard error (the
    /// warnings of a run that succeeded).
    @discardableResult
    static func read(_ program: String, _ arguments: [String], environment: [String: String] = [:], okStatuses: Set<Int32> = [0],
                     _ sink: ([UInt8]) async throws -> Void) async throws -> String {
        _ = ignoreSIGPIPE
        let result = try await run(.name(program), arguments: Arguments(arguments), environment: env(environment),
                                   input: .none, output: .sequence, error: .sequence) { execution in
            async let err = tail(execution.standardError)
            for try await chunk in execution.standardOutput {
                try await sink(chunk.withUnsafeBytes { Array($0) })
            }
            return try await err
        }
        try Task.checkCancellation()
        try check(program, result.terminationStatus, result.closureResult, okStatuses)
        return result.closureResult
    }

    /// Runs `program`, writing every chunk of `input` to its standard input; its output is discarded but for a
    /// bounded tail of each stream. Returns the tail of standard output.
    @discardableResult
    static func write<S: AsyncSequence>(_ program: String, _ arguments: [String], environment: [String: String] = [:],
                                        okStatuses: Set<Int32> = [0], drainInput: Bool = false, input: S) async throws -> String where S.Element == [UInt8] {
        _ = ignoreSIGPIPE
        let result = try await run(.name(program), arguments: Arguments(arguments), environment: env(environment),
                                   input: .inputWriter, output: .sequence, error: .sequence) { execution in
            async let out = tail(execution.standardOutput)
            async let err = tail(execution.standardError)
            let writer = execution.standardInputWriter
            var inputError: (any Error)?
            // With `drainInput`, the input is read to its end even after the child stops reading (a checksum of
            // all of it is wanted); otherwise a child that stops reading ends the input, and its status says why.
            var open = true
            do {
                for try await chunk in input {
                    if !open && !drainInput { break }
                    guard open else { continue }
                    do {
                        let n = try await writer.write(chunk)
                        if n < chunk.count { open = false }
                    } catch let e as SubprocessError {
                        _ = e  // EPIPE: the child stopped reading
                        open = false
                    }
                }
            } catch {
                // The input failed (a read error, or a checksum that did not match at its end): the child must
                // not take what it got for the whole input, so it is killed instead of seeing the end of it.
                inputError = error
                try? execution.send(signal: .kill)
            }
            try? await writer.finish()
            return (try await out, try await err, inputError)
        }
        try Task.checkCancellation()
        let (out, err, inputError) = result.closureResult
        if let inputError { throw inputError }
        try check(program, result.terminationStatus, err, okStatuses)
        return out
    }

    /// The first line a program prints for `--version`.
    static func version(_ program: String) async -> String {
        var t = Tail(limit: 400)
        do {
            try await read(program, ["--version"]) { bytes in bytes.withUnsafeBytes { t.append($0) } }
        } catch {
            return "unknown"
        }
        return t.text.split(separator: "\n").first.map(String.init) ?? "unknown"
    }

    static func check(_ program: String, _ status: TerminationStatus, _ stderr: String, _ ok: Set<Int32>) throws {
        if case .exited(let c) = status, ok.contains(c) { return }
        throw Failed(program: program, status: status, stderr: stderr)
    }

    static func tail(_ seq: SubprocessOutputSequence) async throws -> String {
        var t = Tail()
        for try await chunk in seq { chunk.withUnsafeBytes { t.append($0) } }
        return t.text
    }

    /// The children's environment: only what the tools need from ours (never credentials: a secret a child needs,
    /// such as PGPASSWORD, is given to that child alone in `extra`).
    static func env(_ extra: [String: String]) -> Environment {
        let passed: Set<String> = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PGSSLROOTCERT", "PGSSLCERT",
                                   "PGSSLKEY", "PGCONNECT_TIMEOUT", "PGAPPNAME"]
        var d: [Environment.Key: String] = [:]
        for (k, v) in ProcessInfo.processInfo.environment where passed.contains(k) {
            if let key = Environment.Key(rawValue: k) { d[key] = v }
        }
        if d[Environment.Key(rawValue: "PATH")!] == nil { d[Environment.Key(rawValue: "PATH")!] = "/usr/local/bin:/usr/bin:/bin" }
        for (k, v) in extra { if let key = Environment.Key(rawValue: k) { d[key] = v } }
        return .custom(d)
    }
}
