import KubeCore

/// An error answer, built as the real API server builds it: a `Status` with code, reason, message and details.
public struct APIFailure: Error, Sendable {
    public var status: Status
    public var retryAfterSeconds: Int?

    public var code: Int { status.code ?? 500 }

    init(code: Int, reason: String, message: String, details: StatusDetails? = nil, retryAfterSeconds: Int? = nil) {
        status = Status(status: "Failure", message: message, reason: reason, details: details, code: code)
        self.retryAfterSeconds = retryAfterSeconds
    }

    static func notFound(_ type: ResourceType, _ name: String) -> APIFailure {
        let d = type.descriptor
        let res = d.group.isEmpty ? d.resource : "\(d.resource).\(d.group)"
        return APIFailure(code: 404, reason: "NotFound", message: "\(res) \"\(name)\" not found",
                          details: StatusDetails(name: name, group: d.group, kind: d.resource))
    }

    static func alreadyExists(_ type: ResourceType, _ name: String) -> APIFailure {
        let d = type.descriptor
        let res = d.group.isEmpty ? d.resource : "\(d.resource).\(d.group)"
        return APIFailure(code: 409, reason: "AlreadyExists", message: "\(res) \"\(name)\" already exists",
                          details: StatusDetails(name: name, group: d.group, kind: d.resource))
    }

    static func conflict(_ type: ResourceType, _ name: String, _ why: String = "the object has been modified; please apply your changes to the latest version and try again") -> APIFailure {
        let d = type.descriptor
        let res = d.group.isEmpty ? d.resource : "\(d.resource).\(d.group)"
        return APIFailure(code: 409, reason: "Conflict", message: "Operation cannot be fulfilled on \(res) \"\(name)\": \(why)",
                          details: StatusDetails(name: name, group: d.group, kind: d.resource))
    }

    static func invalid(kind: String, group: String = "", name: String, causes: [StatusCause]) -> APIFailure {
        let qualified = group.isEmpty ? kind : "\(kind).\(group)"
        let summary = causes.map { "\($0.field ?? ""): \($0.message ?? "")" }.joined(separator: ", ")
        return APIFailure(code: 422, reason: "Invalid", message: "\(qualified) \"\(name)\" is invalid: \(summary)",
                          details: StatusDetails(name: name, group: group, kind: kind, causes: causes))
    }

    static func badRequest(_ message: String) -> APIFailure { APIFailure(code: 400, reason: "BadRequest", message: message) }
    static func methodNotAllowed(_ message: String) -> APIFailure { APIFailure(code: 405, reason: "MethodNotAllowed", message: message) }
    static func unsupportedMediaType(_ type: String) -> APIFailure {
        APIFailure(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got \(type))")
    }
    static func gone(_ message: String) -> APIFailure { APIFailure(code: 410, reason: "Expired", message: message) }
    static let unauthorized = APIFailure(code: 401, reason: "Unauthorized", message: "Unauthorized")
}
