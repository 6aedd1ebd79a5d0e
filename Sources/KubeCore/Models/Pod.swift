/// `core/v1 PodTemplateSpec`: the pods a workload creates.
public struct PodTemplateSpec: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta?
    public var spec: PodSpec?
    public init(metadata: ObjectMeta? = nil, spec: PodSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// `core/v1 PodSpec`, with the fields the operator reads or sets typed; the rest survive in the object's raw JSON.
public struct PodSpec: Codable, Sendable, Hashable {
    public var containers: [Container]
    public var initContainers: [Container]?
    public var restartPolicy: String?
    public var serviceAccountName: String?
    public var nodeSelector: [String: String]?
    public var volumes: [JSONValue]?
    public var terminationGracePeriodSeconds: Int64?
    public var imagePullSecrets: [JSONValue]?
    public var securityContext: JSONValue?
    public var affinity: JSONValue?
    public var tolerations: [JSONValue]?
    public init(containers: [Container], restartPolicy: String? = nil) {
        self.containers = containers
        self.restartPolicy = restartPolicy
    }
}

/// `core/v1 Container`.
public struct Container: Codable, Sendable, Hashable {
    public var name: String
    public var image: String?
    public var command: [String]?
    public var args: [String]?
    public var env: [EnvVar]?
    public var envFrom: [JSONValue]?
    public var ports: [ContainerPort]?
    public var resources: JSONValue?
    public var readinessProbe: JSONValue?
    public var livenessProbe: JSONValue?
    public var volumeMounts: [JSONValue]?
    public var imagePullPolicy: String?
    public var workingDir: String?
    public var securityContext: JSONValue?
    public init(name: String, image: String? = nil, command: [String]? = nil, args: [String]? = nil,
                env: [EnvVar]? = nil, ports: [ContainerPort]? = nil) {
        self.name = name
        self.image = image
        self.command = command
        self.args = args
        self.env = env
        self.ports = ports
    }
}

/// `core/v1 EnvVar`: a literal value or a reference (`valueFrom`, kept as JSON).
public struct EnvVar: Codable, Sendable, Hashable {
    public var name: String
    public var value: String?
    public var valueFrom: JSONValue?
    public init(name: String, value: String? = nil, valueFrom: JSONValue? = nil) {
        self.name = name
        self.value = value
        self.valueFrom = valueFrom
    }
}

/// `core/v1 ContainerPort`.
public struct ContainerPort: Codable, Sendable, Hashable {
    public var name: String?
    public var containerPort: Int32
    public var `protocol`: String?
    public init(name: String? = nil, containerPort: Int32, protocol: String? = nil) {
        self.name = name
        self.containerPort = containerPort
        self.protocol = `protocol`
    }
}

/// `core/v1 Pod`, for reading what workloads run.
public struct Pod: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "", version: "v1", resource: "pods", kind: "Pod", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: PodSpec?
    public var status: JSONValue?
    @RawJSON public var rawJSON: JSONValue?
    public init(metadata: ObjectMeta, spec: PodSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}
