#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Small POSIX helpers, so the client needs no more of Foundation than FoundationEssentials.
public enum Posix {
    /// Starts a detached OS thread running `body`, named (for debuggers and `top -H`) where the platform lets us.
    public static func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
        final class Box: @unchecked Sendable {
            let body: @Sendable () -> Void
            let name: String
            init(_ body: @escaping @Sendable () -> Void, _ name: String) { self.body = body; self.name = name }
        }
        let context = Unmanaged.passRetained(Box(body, name)).toOpaque()
        #if canImport(Darwin)
        var thread: pthread_t?
        #else
        var thread = pthread_t()
        #endif
        let rc = pthread_create(&thread, nil, { raw in
            #if canImport(Darwin)
            let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
            pthread_setname_np(String(box.name.prefix(15)))
            #else
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            // pthread_setname_np is not visible to Swift in glibc's module map; /proc is the same thing.
            if let f = fopen("/proc/thread-self/comm", "w") {
                fputs(String(box.name.prefix(15)), f)
                fclose(f)
            }
            #endif
            box.body()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        #if canImport(Darwin)
        pthread_detach(thread!)
        #else
        pthread_detach(thread)
        #endif
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs a program (looked up in PATH when `command` has no slash) with stdin from /dev/null, and returns its
    /// exit status (128 + signal if killed) and everything it wrote to stdout and stderr. Both pipes are drained
    /// on a thread of its own, so the program never blocks on a full pipe and no Swift concurrency thread waits.
    public static func run(_ command: String, arguments: [String], environment: [String: String]) async throws -> (status: Int32, stdout: [UInt8], stderr: [UInt8]) {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        // Close-on-exec, so a program another thread starts meanwhile does not inherit the write ends (this reader
        // would then wait for that program to exit too). The child gets its own copies through dup2.
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))") }
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t?
        #else
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        let argv = ([command] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid = pid_t()
        var rc = posix_spawnp(&pid, command, &actions, nil, argv, envp)
        // ETXTBSY: the program was written a moment ago and a process forked meanwhile (by any thread) still holds
        // it open for writing until it execs; that passes within milliseconds.
        for _ in 0..<10 where rc == ETXTBSY {
            try? await Task.sleep(for: .milliseconds(20))
            rc = posix_spawnp(&pid, command, &actions, nil, argv, envp)
        }
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw SpawnError(description: String(cString: strerror(rc)))
        }
        let (outFD, errFD, child) = (outPipe[0], errPipe[0], pid)
        return await withCheckedContinuation { continuation in
            startThread(name: "salespot-exec") {
                var out: [UInt8] = [], err: [UInt8] = []
                var fds = [pollfd(fd: outFD, events: Int16(POLLIN), revents: 0), pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)]
                var buffer = [UInt8](repeating: 0, count: 16384)
                var open = 2
                while open > 0 {
                    if poll(&fds, nfds_t(fds.count), -1) < 0 {
                        if errno == EINTR { continue }
                        break
                    }
                    for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
                        let n = buffer.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                        if n > 0 {
                            if i == 0 { out.append(contentsOf: buffer[0..<n]) } else { err.append(contentsOf: buffer[0..<n]) }
                        } else if n == 0 || errno != EINTR {
                            close(fds[i].fd)
                            fds[i].fd = -1
                            open -= 1
                        }
                    }
                }
                var status: Int32 = 0
                while waitpid(child, &status, 0) < 0 && errno == EINTR {}
                // WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (they are macros).
                let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                continuation.resume(returning: (code, out, err))
            }
        }
    }
}

/// File path arithmetic on strings (what NSString's path methods did).
public enum Paths {
    /// `directory/component`, with exactly one slash between them.
    public static func join(_ directory: String, _ component: String) -> String {
        if directory.isEmpty { return component }
        var d = Substring(directory)
        while d.count > 1 && d.hasSuffix("/") { d = d.dropLast() }
        return d == "/" ? "/" + component : d + "/" + component
    }

    /// The directory part of a path: `/a/b` → `/a`, `/a` → `/`, `a` → ``.
    public static func directory(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        return slash == p.startIndex ? "/" : String(p[..<slash])
    }
}
