import KubeCore

/// The value types a flag can have.
public enum FlagType: String, Sendable, CaseIterable, Codable {
    case boolean, string, number, json

    /// Whether `value` is of this type (json: an object or an array).
    public func accepts(_ value: JSONValue) -> Bool {
        switch (self, value) {
        case (.boolean, .bool), (.string, .string), (.number, .int), (.number, .double), (.json, .object), (.json, .array): true
        default: false
        }
    }

    /// The type of a value, if a flag can have it.
    public static func of(_ value: JSONValue) -> FlagType? {
        FlagType.allCases.first { $0.accepts(value) }
    }
}

/// Why a value was served: OpenFeature's resolution reasons, as OFREP carries them.
public enum Reason: String, Sendable, Codable, CaseIterable {
    /// The flag has no rules: its value is the same for everyone.
    case `static` = "STATIC"
    /// A rule (or flagd targeting) matched.
    case targetingMatch = "TARGETING_MATCH"
    /// A percentage rule (or flagd's `fractional`) put the user in its share.
    case split = "SPLIT"
    /// Rules exist and none matched.
    case `default` = "DEFAULT"
    /// The flag is switched off (its kill switch): the default value.
    case disabled = "DISABLED"
    /// The evaluation failed; the error code says why.
    case error = "ERROR"
}

/// OpenFeature's error codes, as OFREP carries them.
public enum ErrorCode: String, Sendable, Codable, CaseIterable {
    case flagNotFound = "FLAG_NOT_FOUND"
    case parseError = "PARSE_ERROR"
    case typeMismatch = "TYPE_MISMATCH"
    case targetingKeyMissing = "TARGETING_KEY_MISSING"
    case invalidContext = "INVALID_CONTEXT"
    case general = "GENERAL"
}

/// The outcome of one evaluation.
public struct Resolution: Sendable, Equatable {
    /// The value served; nil on an error.
    public var value: JSONValue?
    public var variant: String?
    public var reason: Reason
    public var errorCode: ErrorCode?
    public var errorDetails: String?
    /// Flag metadata returned with the evaluation (flagd form).
    public var metadata: JSONObject?

    public init(value: JSONValue?, variant: String? = nil, reason: Reason) {
        self.value = value
        self.variant = variant
        self.reason = reason
    }

    public static func failure(_ code: ErrorCode, _ details: String) -> Resolution {
        var r = Resolution(value: nil, reason: .error)
        r.errorCode = code
        r.errorDetails = details
        return r
    }
}

/// What an evaluation knows of its caller: OpenFeature's evaluation context (a targeting key and attributes).
///
/// The native rules read the user id (`targetingKey`, or the attribute `userId`), `role` and `environment`; flagd
/// targeting sees every attribute.
public struct EvaluationContext: Sendable {
    public var attributes: JSONObject

    public init(_ attributes: JSONObject = [:]) { self.attributes = attributes }

    public init(targetingKey: String?, attributes: [String: JSONValue] = [:]) {
        var o = JSONObject()
        if let targetingKey { o["targetingKey"] = .string(targetingKey) }
        for (k, v) in attributes.sorted(by: { $0.key < $1.key }) { o[k] = v }
        self.attributes = o
    }

    public subscript(key: String) -> JSONValue? { attributes[key] }
}
