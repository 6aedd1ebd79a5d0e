/// `metav1.ObjectMeta`: the metadata every persisted object has.
public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String?
    /// Prefix the server completes with a random suffix when `name` is empty.
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    /// Opaque version for optimistic concurrency and watches. Compare only for equality.
    public var resourceVersion: String?
    /// Bumped by the server on every change to the spec (not to status or metadata).
    public var generation: Int64?
    public var creationTimestamp: Time?
    /// Set when deletion was requested and finalizers are still pending.
    public var deletionTimestamp: Time?
    public var deletionGracePeriodSeconds: Int64?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?
    public var finalizers: [String]?
    /// Server-side apply's record of who owns which field; kept as raw JSON.
    public var managedFields: [JSONValue]?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil,
                annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }
}

/// `metav1.OwnerReference`: ties a dependent to its owner for garbage collection and for controllers.
public struct OwnerReference: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    /// `true` on the one reference that names the managing controller.
    public var controller: Bool?
    /// With foreground deletion, the owner is not removed before this dependent is.
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil,
                blockOwnerDeletion: Bool? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

/// `metav1.Condition`: one observation of an object's state, as kstatus, Flux and Argo CD read them.
public struct Condition: Codable, Sendable, Hashable {
    /// e.g. `Ready`, `Reconciling`, `Stalled`.
    public var type: String
    /// `True`, `False` or `Unknown`.
    public var status: String
    /// The `metadata.generation` this condition was computed from.
    public var observedGeneration: Int64?
    /// When `status` last changed.
    public var lastTransitionTime: Time?
    /// CamelCase machine-readable reason.
    public var reason: String?
    public var message: String?

    public init(type: String, status: String, observedGeneration: Int64? = nil, lastTransitionTime: Time? = nil,
                reason: String? = nil, message: String? = nil) {
        self.type = type
        self.status = status
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }
}

/// `metav1.LabelSelector`: match labels and set-based expressions.
public struct LabelSelector: Codable, Sendable, Hashable {
    public var matchLabels: [String: String]?
    public var matchExpressions: [LabelSelectorRequirement]?
    public init(matchLabels: [String: String]? = nil, matchExpressions: [LabelSelectorRequirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }
}

/// One set-based requirement of a ``LabelSelector``: `In`, `NotIn`, `Exists` or `DoesNotExist`.
public struct LabelSelectorRequirement: Codable, Sendable, Hashable {
    public var key: String
    public var `operator`: String
    public var values: [String]?
    public init(key: String, operator: String, values: [String]? = nil) {
        self.key = key
        self.operator = `operator`
        self.values = values
    }
}
