import Foundation
import KubeCore
import Synchronization
import TestSupport
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

