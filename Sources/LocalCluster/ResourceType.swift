import KubeCore

/// One kind of object the LocalCluster serves: a built-in or one defined by a CustomResourceDefinition.
public struct ResourceType: Sendable {
    /// Group, the storage version, plural, kind, scope.
    public var descriptor: ResourceDescriptor
    /// Every version served (CRDs may serve several; objects are stored once, without conversion).
    public var servedVersions: [String]
    public var singular: String
    public var shortNames: [String]
    public var categories: [String]
    /// Whether `/status` is a separate subresource (then the main endpoint ignores status changes).
    public var hasStatusSubresource: Bool
    /// The CRD's `openAPIV3Schema` for the storage version, if any.
    public var schema: JSONValue?
    /// The CRD's printer columns, for `kubectl get`.
    public var printerColumns: [JSONValue]
    /// Name of the CRD that defines this type, if any.
    public var definedBy: String?
    /// A CRD's `scale` subresource: where the replicas and the selector are (JSON paths such as `.spec.replicas`).
    public var scalePaths: ScalePaths?
    /// Where its objects are kept when another resource's store serves them too (events.k8s.io/v1 Events are the
    /// core/v1 Events, seen through a conversion, as in kube-apiserver); nil: its own.
    public var storageKey: String?

    /// The key of the store its objects live in.
    public var storeKey: String { storageKey ?? key }

    /// `group/plural`: the storage key, independent of version.
    public var key: String { ResourceType.key(group: descriptor.group, resource: descriptor.resource) }
    static func key(group: String, resource: String) -> String { "\(group)/\(resource)" }

    public init(_ descriptor: ResourceDescriptor, singular: String? = nil, shortNames: [String] = [],
                categories: [String] = [], hasStatusSubresource: Bool = false, servedVersions: [String]? = nil,
                schema: JSONValue? = nil, printerColumns: [JSONValue] = [], definedBy: String? = nil, storageKey: String? = nil) {
        self.storageKey = storageKey
        self.descriptor = descriptor
        self.servedVersions = servedVersions ?? [descriptor.version]
        self.singular = singular ?? descriptor.kind.lowercased()
        self.shortNames = shortNames
        self.categories = categories
        self.hasStatusSubresource = hasStatusSubresource
        self.schema = schema
        self.printerColumns = printerColumns
        self.definedBy = definedBy
    }

    /// The built-in resources LocalCluster serves.
    public static let builtins: [ResourceType] = [
        ResourceType(Namespace.resource, shortNames: ["ns"], hasStatusSubresource: true),
        ResourceType(Service.resource, shortNames: ["svc"], categories: ["all"], hasStatusSubresource: true),
        ResourceType(ConfigMap.resource, shortNames: ["cm"]),
        ResourceType(Secret.resource),
        ResourceType(Pod.resource, shortNames: ["po"], categories: ["all"], hasStatusSubresource: true),
        ResourceType(ResourceDescriptor(group: "", version: "v1", resource: "events", kind: "Event", namespaced: true), shortNames: ["ev"]),
        ResourceType(ResourceDescriptor(group: "", version: "v1", resource: "serviceaccounts", kind: "ServiceAccount", namespaced: true), shortNames: ["sa"]),
        ResourceType(Event.resource, shortNames: ["ev"], storageKey: "/events"),
        ResourceType(Deployment.resource, shortNames: ["deploy"], categories: ["all"], hasStatusSubresource: true),
        ResourceType(ResourceDescriptor(group: "apps", version: "v1", resource: "replicasets", kind: "ReplicaSet", namespaced: true),
                     shortNames: ["rs"], categories: ["all"], hasStatusSubresource: true),
        ResourceType(ResourceDescriptor(group: "discovery.k8s.io", version: "v1", resource: "endpointslices", kind: "EndpointSlice", namespaced: true)),
        ResourceType(Ingress.resource, shortNames: ["ing"], hasStatusSubresource: true),
        ResourceType(Job.resource, categories: ["all"], hasStatusSubresource: true),
        ResourceType(CronJob.resource, shortNames: ["cj"], categories: ["all"], hasStatusSubresource: true),
        ResourceType(Lease.resource),
        ResourceType(ResourceDescriptor(group: "policy", version: "v1", resource: "poddisruptionbudgets", kind: "PodDisruptionBudget", namespaced: true),
                     shortNames: ["pdb"], hasStatusSubresource: true),
        ResourceType(CustomResourceDefinition.resource, shortNames: ["crd", "crds"], hasStatusSubresource: true),
        ResourceType(ResourceDescriptor(group: "rbac.authorization.k8s.io", version: "v1", resource: "roles", kind: "Role", namespaced: true)),
        ResourceType(ResourceDescriptor(group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings", kind: "RoleBinding", namespaced: true)),
        ResourceType(ResourceDescriptor(group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles", kind: "ClusterRole", namespaced: false)),
        ResourceType(ResourceDescriptor(group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false)),
    ]

    /// Builds the type a CRD defines, or explains why the CRD is unusable.
    static func fromCRD(_ crd: JSONValue) throws(APIFailure) -> ResourceType {
        let spec = crd["spec"] ?? .null
        guard let group = spec["group"]?.stringValue, !group.isEmpty,
              let plural = spec[path: ["names", "plural"]]?.stringValue, !plural.isEmpty,
              let kind = spec[path: ["names", "kind"]]?.stringValue, !kind.isEmpty else {
            throw .invalid(kind: "CustomResourceDefinition", name: crd[path: ["metadata", "name"]]?.stringValue ?? "",
                           causes: [StatusCause(reason: "FieldValueRequired", message: "group, names.plural and names.kind are required", field: "spec")])
        }
        let name = crd[path: ["metadata", "name"]]?.stringValue ?? ""
        if name != "\(plural).\(group)" {
            throw .invalid(kind: "CustomResourceDefinition", name: name,
                           causes: [StatusCause(reason: "FieldValueInvalid", message: "must be spec.names.plural+\".\"+spec.group", field: "metadata.name")])
        }
        let versions = spec["versions"]?.arrayValue ?? []
        let served = versions.filter { $0["served"]?.boolValue ?? false }
        guard let storage = versions.first(where: { $0["storage"]?.boolValue ?? false }) ?? served.first,
              let storageName = storage["name"]?.stringValue else {
            throw .invalid(kind: "CustomResourceDefinition", name: name,
                           causes: [StatusCause(reason: "FieldValueInvalid", message: "exactly one version must be the storage version", field: "spec.versions")])
        }
        for (i, v) in versions.enumerated() {
            if let schema = v[path: ["schema", "openAPIV3Schema"]], let problem = schemaProblem(schema, path: "spec.versions[\(i)].schema.openAPIV3Schema") {
                throw .invalid(kind: "CustomResourceDefinition", name: name, causes: [StatusCause(reason: "FieldValueInvalid", message: problem.message, field: problem.field)])
            }
        }
        let scope = spec["scope"]?.stringValue ?? "Namespaced"
        let descriptor = ResourceDescriptor(group: group, version: storageName, resource: plural, kind: kind, namespaced: scope == "Namespaced")
        return ResourceType(descriptor,
                            singular: spec[path: ["names", "singular"]]?.stringValue ?? kind.lowercased(),
                            shortNames: spec[path: ["names", "shortNames"]]?.arrayValue?.compactMap(\.stringValue) ?? [],
                            categories: spec[path: ["names", "categories"]]?.arrayValue?.compactMap(\.stringValue) ?? [],
                            hasStatusSubresource: storage[path: ["subresources", "status"]] != nil,
                            servedVersions: served.compactMap { $0["name"]?.stringValue },
                            schema: storage[path: ["schema", "openAPIV3Schema"]],
                            printerColumns: storage["additionalPrinterColumns"]?.arrayValue ?? [],
                            definedBy: name)
            .withScale(storage[path: ["subresources", "scale"]])
    }

    /// What kube-apiserver's CRD validation refuses in a schema's shape: a property, `items` or
    /// `additionalProperties` that is not a schema object (a YAML indentation slip makes them null or strings), and a
    /// `type` that is not one of the OpenAPI types.
    static func schemaProblem(_ schema: JSONValue, path: String) -> (field: String, message: String)? {
        guard case .object = schema else { return (path, "Required value: must be a schema object") }
        if let t = schema["type"], !["object", "array", "string", "integer", "number", "boolean"].contains(t.stringValue ?? "") {
            return (path + ".type", "Unsupported value: \(t.serializedString()): supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\"")
        }
        if schema["additionalProperties"]?.boolValue == false {
            return (path + ".additionalProperties", "Forbidden: additionalProperties cannot be set to false")
        }
        if let p = schema["properties"], p != .null, let a = schema["additionalProperties"], a != .null {
            _ = (p, a)
            return (path + ".additionalProperties", "Forbidden: additionalProperties and properties are mutual exclusive")
        }
        if let props = schema["properties"], props != .null {
            guard case .object(let o) = props else { return (path + ".properties", "Invalid value: must be a map of schemas") }
            for (k, v) in o.dictionary.sorted(by: { $0.key < $1.key }) {
                if let p = schemaProblem(v, path: path + ".properties[\(k)]") { return p }
            }
        }
        if let items = schema["items"], items != .null, let p = schemaProblem(items, path: path + ".items") { return p }
        if let extra = schema["additionalProperties"], extra != .null, extra.boolValue == nil,
           let p = schemaProblem(extra, path: path + ".additionalProperties") { return p }
        return nil
    }

    func withScale(_ scale: JSONValue?) -> ResourceType {
        guard let scale, let spec = scale["specReplicasPath"]?.stringValue, let status = scale["statusReplicasPath"]?.stringValue else { return self }
        var copy = self
        copy.scalePaths = ScalePaths(specReplicas: spec, statusReplicas: status, labelSelector: scale["labelSelectorPath"]?.stringValue)
        return copy
    }
}

/// `subresources.scale` of a CRD version.
public struct ScalePaths: Sendable, Hashable {
    public var specReplicas: String
    public var statusReplicas: String
    public var labelSelector: String?

    /// `.spec.replicas` → ["spec", "replicas"].
    static func components(_ path: String) -> [String] {
        path.split(separator: ".", omittingEmptySubsequences: true).map(String.init)
    }
}
