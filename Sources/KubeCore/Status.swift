/// The API server's `Status` object: the body of every error response and of watch `ERROR` events.
public struct Status: Codable, Sendable, Hashable {
    public var kind: String? = "Status"
    public var apiVersion: String? = "v1"
    /// `Success` or `Failure`.
    public var status: String?
    /// A human-readable description.
    public var message: String?
    /// A machine-readable reason, e.g. `NotFound`, `Conflict`, `AlreadyExists`, `Invalid`, `Expired`, `Gone`.
    public var reason: String?
    /// Extra data about the reason, e.g. the invalid fields.
    public var details: StatusDetails?
    /// The HTTP status code this Status stands for.
    public var code: Int?
    public var metadata: ListMeta?

    public init(status: String? = "Failure", message: String? = nil, reason: String? = nil,
                details: StatusDetails? = nil, code: Int? = nil) {
        self.status = status
        self.message = message
        self.reason = reason
        self.details = details
        self.code = code
    }
}

/// `StatusDetails`: which object the Status is about and, for `Invalid`, each field's cause.
public struct StatusDetails: Codable, Sendable, Hashable {
    public var name: String?
    public var group: String?
    public var kind: String?
    public var uid: String?
    public var causes: [StatusCause]?
    /// Seconds the client should wait before retrying (sent with 429 and some 5xx).
    public var retryAfterSeconds: Int?

    public init(name: String? = nil, group: String? = nil, kind: String? = nil, uid: String? = nil,
                causes: [StatusCause]? = nil, retryAfterSeconds: Int? = nil) {
        self.name = name
        self.group = group
        self.kind = kind
        self.uid = uid
        self.causes = causes
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// One cause of a failure: for `Invalid`, the field path (e.g. `spec.replicas`) and what is wrong with it.
public struct StatusCause: Codable, Sendable, Hashable {
    /// e.g. `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`.
    public var reason: String?
    public var message: String?
    /// The field path, e.g. `spec.template.spec.containers[0].image`.
    public var field: String?

    public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
        self.reason = reason
        self.message = message
        self.field = field
    }
}

/// `ListMeta`: the resource version and continue token of a list.
public struct ListMeta: Codable, Sendable, Hashable {
    public var resourceVersion: String?
    /// Opaque token for the next page; empty or absent on the last page.
    public var `continue`: String?
    public var remainingItemCount: Int64?
    public init(resourceVersion: String? = nil, continue: String? = nil, remainingItemCount: Int64? = nil) {
        self.resourceVersion = resourceVersion
        self.continue = `continue`
        self.remainingItemCount = remainingItemCount
    }
}
