#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeCore

/// Every error the client reports. Each says whether retrying can help (``isRetryable``).
///
/// API errors keep the server's ``Status``; `410 Gone` (a watch or list from a resource version the server no longer
/// has) is its own case, ``resourceExpired(_:)``, because the only remedy is to list again.
public enum KubeError: Error, Sendable, CustomStringConvertible {
    /// The server answered with an error status.
    case api(APIError)
    /// 410 Gone / reason `Expired`: the requested resource version is too old. List again, then watch.
    case resourceExpired(APIError)
    /// The request did not get an HTTP answer: refused, reset, timed out, TLS failure.
    case transport(TransportError)
    /// The server's answer could not be decoded.
    case decoding(String)
    /// The configuration is unusable; names the file and field.
    case configuration(ConfigError)
    /// Credentials could not be obtained (e.g. an exec plugin failed).
    case authentication(String)

    /// Whether the same request may succeed later: 429, 5xx, and connection resets and timeouts are retryable;
    /// 400, 401, 403, 404, 409, 410, 422, TLS failures and configuration errors are terminal.
    public var isRetryable: Bool {
        switch self {
        case .api(let e): return e.isRetryable
        case .resourceExpired: return false
        case .transport(let t): return t.isRetryable
        case .decoding, .configuration, .authentication: return false
        }
    }

    /// The server's Status, for API errors.
    public var status: Status? {
        switch self {
        case .api(let e), .resourceExpired(let e): return e.status
        default: return nil
        }
    }

    /// The HTTP status code, for API errors.
    public var code: Int? {
        switch self {
        case .api(let e), .resourceExpired(let e): return e.code
        default: return nil
        }
    }

    /// 409 Conflict: a stale resourceVersion on update, or a server-side apply conflict.
    public var isConflict: Bool { code == 409 && status?.reason != "AlreadyExists" }
    /// 409 with reason `AlreadyExists`, from create.
    public var isAlreadyExists: Bool { code == 409 && status?.reason == "AlreadyExists" }
    /// 404 Not Found.
    public var isNotFound: Bool { code == 404 }
    /// 422 Invalid.
    public var isInvalid: Bool { code == 422 }
    /// 410 Gone.
    public var isExpired: Bool { if case .resourceExpired = self { return true }; return false }

    /// How long the server asked the client to wait (Retry-After header or `details.retryAfterSeconds`).
    public var retryAfter: Duration? {
        if case .api(let e) = self { return e.retryAfter }
        return nil
    }

    public var description: String {
        switch self {
        case .api(let e), .resourceExpired(let e): return e.description
        case .transport(let t): return t.description
        case .decoding(let m): return "cannot decode the server's answer: \(m)"
        case .configuration(let c): return c.description
        case .authentication(let m): return "authentication failed: \(m)"
        }
    }

    /// Builds the right case from an HTTP error response.
    static func fromResponse(code: Int, body: [UInt8], headers: HTTPHeaders, method: String, path: String) -> KubeError {
        var status: Status
        if let json = try? JSONParser.parse(body), json["kind"]?.stringValue == "Status",
           let decoded = try? JSONValueDecoder().decode(Status.self, from: json) {
            status = decoded
        } else {
            // Not a Status (e.g. a proxy's HTML page): make one, as client-go does.
            let text = String(decoding: body.prefix(512), as: UTF8.self)
            status = Status(message: text.isEmpty ? "the server answered \(code)" : text,
                            reason: APIError.reasonForCode(code), code: code)
        }
        if status.code == nil { status.code = code }
        var retryAfter: Duration?
        if let header = headers["retry-after"], let seconds = Int(header.trimmingASCIIWhitespace()) {
            retryAfter = .seconds(seconds)
        } else if let s = status.details?.retryAfterSeconds {
            retryAfter = .seconds(s)
        }
        let error = APIError(code: code, status: status, retryAfter: retryAfter, method: method, path: path)
        if code == 410 || status.reason == "Expired" || status.reason == "Gone" { return .resourceExpired(error) }
        return .api(error)
    }
}

/// An error answer from the API server.
public struct APIError: Error, Sendable, CustomStringConvertible {
    /// HTTP status code.
    public var code: Int
    /// The server's Status body (or one made from a non-Status body).
    public var status: Status
    /// The server's Retry-After, if it sent one.
    public var retryAfter: Duration?
    /// The request's method and path, for messages.
    public var method: String
    public var path: String

    /// 429 and 5xx are retryable (except 501 Not Implemented); other codes are terminal.
    public var isRetryable: Bool { code == 429 || (code >= 500 && code != 501) }

    public var description: String {
        var text = "\(method) \(path): \(code) \(status.reason ?? APIError.reasonForCode(code))"
        if let m = status.message, !m.isEmpty { text += ": \(m)" }
        return text
    }

    static func reasonForCode(_ code: Int) -> String {
        switch code {
        case 400: return "BadRequest"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "NotFound"
        case 405: return "MethodNotAllowed"
        case 406: return "NotAcceptable"
        case 409: return "Conflict"
        case 410: return "Expired"
        case 415: return "UnsupportedMediaType"
        case 422: return "Invalid"
        case 429: return "TooManyRequests"
        case 500: return "InternalError"
        case 503: return "ServiceUnavailable"
        case 504: return "Timeout"
        default: return "Unknown"
        }
    }
}

/// A failure below HTTP: connecting, TLS, sending, receiving.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, by kind.
    public enum Kind: Sendable, Equatable {
        case connectionFailed, connectionReset, timedOut, tls, invalidRequest, cancelled, other
    }
    public var kind: Kind
    /// libcurl's message (or the transport's).
    public var message: String
    /// libcurl's CURLcode, when it came from libcurl.
    public var curlCode: Int?

    public init(kind: Kind, message: String, curlCode: Int? = nil) {
        self.kind = kind
        self.message = message
        self.curlCode = curlCode
    }

    /// Connection failures, resets and timeouts are retryable; TLS and malformed requests are not.
    public var isRetryable: Bool { [.connectionFailed, .connectionReset, .timedOut].contains(kind) }
    public var description: String { "transport error (\(kind)): \(message)" }
}

/// A configuration problem, naming the file (if any) and the field.
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The kubeconfig or other file that is wrong, if any.
    public var file: String?
    /// The field, e.g. `users[admin].user.client-key`.
    public var field: String?
    public var message: String

    public init(file: String? = nil, field: String? = nil, message: String) {
        self.file = file
        self.field = field
        self.message = message
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let field { parts.append(field) }
        return (parts.isEmpty ? "" : parts.joined(separator: ": ") + ": ") + message
    }
}
