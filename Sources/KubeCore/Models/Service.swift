/// `core/v1 Service`.
public struct Service: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "", version: "v1", resource: "services", kind: "Service", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: ServiceSpec?
    public var status: JSONValue?
    @RawJSON public var rawJSON: JSONValue?
    public init(metadata: ObjectMeta, spec: ServiceSpec? = nil) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }
}

/// `core/v1 ServiceSpec`.
public struct ServiceSpec: Codable, Sendable, Hashable {
    /// Pods with these labels receive the traffic.
    public var selector: [String: String]?
    public var ports: [ServicePort]?
    /// `ClusterIP` (default), `NodePort`, `LoadBalancer` or `ExternalName`.
    public var type: String?
    public var clusterIP: String?
    public var clusterIPs: [String]?
    public var sessionAffinity: String?
    public var externalName: String?
    public init(selector: [String: String]? = nil, ports: [ServicePort]? = nil, type: String? = nil) {
        self.selector = selector
        self.ports = ports
        self.type = type
    }
}

/// `core/v1 ServicePort`; `targetPort` is a number or a port name, kept as JSON.
public struct ServicePort: Codable, Sendable, Hashable {
    public var name: String?
    public var port: Int32
    public var targetPort: JSONValue?
    public var `protocol`: String?
    public var nodePort: Int32?
    public init(name: String? = nil, port: Int32, targetPort: JSONValue? = nil, protocol: String? = nil) {
        self.name = name
        self.port = port
        self.targetPort = targetPort
        self.protocol = `protocol`
    }
}

/// `networking.k8s.io/v1 Ingress`.
public struct Ingress: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "networking.k8s.io", version: "v1", resource: "ingresses",
                                                    kind: "Ingress", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: IngressSpec?
    public var status: JSONValue?
    @RawJSON public var rawJSON: JSONValue?
    public init(metadata: ObjectMeta, spec: IngressSpec? = nil) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }
}

/// `networking.k8s.io/v1 IngressSpec`.
public struct IngressSpec: Codable, Sendable, Hashable {
    public var ingressClassName: String?
    public var defaultBackend: IngressBackend?
    public var tls: [JSONValue]?
    public var rules: [IngressRule]?
    public init(ingressClassName: String? = nil, defaultBackend: IngressBackend? = nil, rules: [IngressRule]? = nil) {
        self.ingressClassName = ingressClassName
        self.defaultBackend = defaultBackend
        self.rules = rules
    }
}

/// `networking.k8s.io/v1 IngressRule`.
public struct IngressRule: Codable, Sendable, Hashable {
    public var host: String?
    public var http: HTTPIngressRuleValue?
    public init(host: String? = nil, http: HTTPIngressRuleValue? = nil) {
        self.host = host
        self.http = http
    }
}

/// The HTTP paths of an ``IngressRule``.
public struct HTTPIngressRuleValue: Codable, Sendable, Hashable {
    public var paths: [HTTPIngressPath]
    public init(paths: [HTTPIngressPath]) { self.paths = paths }
}

/// One path of an Ingress rule and where it goes.
public struct HTTPIngressPath: Codable, Sendable, Hashable {
    public var path: String?
    /// `Exact`, `Prefix` or `ImplementationSpecific`.
    public var pathType: String
    public var backend: IngressBackend
    public init(path: String? = nil, pathType: String = "Prefix", backend: IngressBackend) {
        self.path = path
        self.pathType = pathType
        self.backend = backend
    }
}

/// An Ingress backend: a Service and port, or a resource reference (kept as JSON).
public struct IngressBackend: Codable, Sendable, Hashable {
    public var service: IngressServiceBackend?
    public var resource: JSONValue?
    public init(service: IngressServiceBackend? = nil) { self.service = service }
}

/// A Service backend of an Ingress.
public struct IngressServiceBackend: Codable, Sendable, Hashable {
    public var name: String
    /// `{number: 80}` or `{name: "http"}`.
    public var port: ServiceBackendPort?
    public init(name: String, port: ServiceBackendPort? = nil) {
        self.name = name
        self.port = port
    }
}

/// A Service port by number or by name.
public struct ServiceBackendPort: Codable, Sendable, Hashable {
    public var name: String?
    public var number: Int32?
    public init(name: String? = nil, number: Int32? = nil) {
        self.name = name
        self.number = number
    }
}
