#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Sends one DNS message and returns the answer: over UDP first, over TCP when the answer is truncated or the
/// message is too large for UDP (RFC 1035 §4.2, RFC 7766). Each exchange runs on a thread of its own (blocking
/// sockets with timeouts), never on Swift's cooperative pool.
public struct DNSTransport: Sendable {
    public var server: String
    public var port: Int
    public var timeout: Duration

    public init(server: String, port: Int = 53, timeout: Duration = .seconds(3)) {
        self.server = server
        self.port = port
        self.timeout = timeout
    }

    /// The classic UDP limit without EDNS (RFC 1035 §2.3.4).
    static let udpLimit = 512

    public func exchange(_ request: [UInt8], id: UInt16) async throws -> [UInt8] {
        if request.count <= Self.udpLimit {
            let answer = try await run { try udp(request, id: id) }
            // TC set: the whole answer only over TCP.
            if answer.count >= 3, answer[2] & 0x02 == 0 { return answer }
        }
        return try await run { try tcp(request, id: id) }
    }

    func run(_ body: @escaping @Sendable () throws -> [UInt8]) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<[UInt8], any Error>) in
            DispatchQueue.global().async { c.resume(with: Result { try body() }) }
        }
    }

    func address() throws -> (storage: sockaddr_storage, length: socklen_t, family: Int32) {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(server, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw DNSUpdateError(.unreachable, "cannot resolve the DNS server \(server): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
        }
        return (storage, first.pointee.ai_addrlen, first.pointee.ai_family)
    }

    func open(_ type: Int32) throws -> Int32 {
        var (storage, length, family) = try address()
        #if canImport(Glibc)
        let fd = socket(family, type, 0)
        #else
        let fd = socket(family, type, 0)
        #endif
        guard fd >= 0 else { throw DNSUpdateError(.unreachable, "socket: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: .init(timeout.components.attoseconds / 1_000_000_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))  // bounds connect too
        let rc = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw DNSUpdateError(.unreachable, "cannot reach the DNS server \(server):\(port): \(String(cString: strerror(e)))")
        }
        return fd
    }

    func udp(_ request: [UInt8], id: UInt16) throws -> [UInt8] {
        #if canImport(Glibc)
        let fd = try open(Int32(SOCK_DGRAM.rawValue))
        #else
        let fd = try open(SOCK_DGRAM)
        #endif
        defer { close(fd) }
        guard send(fd, request, request.count, 0) == request.count else {
            throw DNSUpdateError(.unreachable, "cannot send to \(server):\(port): \(String(cString: strerror(errno)))")
        }
        var buffer = [UInt8](repeating: 0, count: 65_535)
        // Datagrams that are not the answer (another ID: a late answer to an earlier try) are skipped.
        for _ in 0..<8 {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n >= 0 else {
                let e = errno
                throw DNSUpdateError(.timeout, e == EAGAIN || e == EWOULDBLOCK ? "no answer from \(server):\(port) within \(timeout)"
                                        : "no answer from \(server):\(port): \(String(cString: strerror(e)))")
            }
            if n >= 12, UInt16(buffer[0]) << 8 | UInt16(buffer[1]) == id { return Array(buffer[0..<n]) }
        }
        throw DNSUpdateError(.malformed, "answers from \(server):\(port) carry the wrong ID")
    }

    func tcp(_ request: [UInt8], id: UInt16) throws -> [UInt8] {
        #if canImport(Glibc)
        let fd = try open(Int32(SOCK_STREAM.rawValue))
        #else
        let fd = try open(SOCK_STREAM)
        #endif
        defer { close(fd) }
        let framed = [UInt8(request.count >> 8), UInt8(request.count & 0xFF)] + request
        var sent = 0
        while sent < framed.count {
            let n = framed[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw DNSUpdateError(.unreachable, "cannot send to \(server):\(port) over TCP: \(String(cString: strerror(errno)))") }
            sent += n
        }
        func read(_ count: Int) throws -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            var got = 0
            while got < count {
                let n = out[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else {
                    throw DNSUpdateError(n == 0 ? .malformed : .timeout, n == 0 ? "\(server):\(port) closed the TCP connection mid-answer"
                                                                            : "no answer from \(server):\(port) over TCP within \(timeout)")
                }
                got += n
            }
            return out
        }
        let length = try read(2)
        let answer = try read(Int(length[0]) << 8 | Int(length[1]))
        guard answer.count >= 12, UInt16(answer[0]) << 8 | UInt16(answer[1]) == id else {
            throw DNSUpdateError(.malformed, "the answer from \(server):\(port) carries the wrong ID")
        }
        return answer
    }
}
