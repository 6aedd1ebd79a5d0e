/// `apps/v1 Deployment`.
public struct Deployment: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "apps", version: "v1", resource: "deployments",
                                                    kind: "Deployment", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: DeploymentSpec?
    public var status: DeploymentStatus?
    @RawJSON public var rawJSON: JSONValue?

    public init(metadata: ObjectMeta, spec: DeploymentSpec? = nil) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }
}

/// `apps/v1 DeploymentSpec`.
public struct DeploymentSpec: Codable, Sendable, Hashable {
    /// Desired pods; the server defaults it to 1.
    public var replicas: Int32?
    public var selector: LabelSelector
    public var template: PodTemplateSpec
    public var strategy: JSONValue?
    public var minReadySeconds: Int32?
    public var revisionHistoryLimit: Int32?
    public var progressDeadlineSeconds: Int32?
    public var paused: Bool?
    public init(replicas: Int32? = nil, selector: LabelSelector, template: PodTemplateSpec) {
        self.replicas = replicas
        self.selector = selector
        self.template = template
    }
}

/// `apps/v1 DeploymentStatus`.
public struct DeploymentStatus: Codable, Sendable, Hashable {
    public var observedGeneration: Int64?
    public var replicas: Int32?
    public var updatedReplicas: Int32?
    public var readyReplicas: Int32?
    public var availableReplicas: Int32?
    public var unavailableReplicas: Int32?
    public var conditions: [DeploymentCondition]?
    public var collisionCount: Int32?
    public init() {}
}

/// `apps/v1 DeploymentCondition` (`Available`, `Progressing`, `ReplicaFailure`).
public struct DeploymentCondition: Codable, Sendable, Hashable {
    public var type: String
    public var status: String
    public var reason: String?
    public var message: String?
    public var lastUpdateTime: Time?
    public var lastTransitionTime: Time?
    public init(type: String, status: String, reason: String? = nil, message: String? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
    }
}
