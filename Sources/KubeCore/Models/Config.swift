#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `core/v1 ConfigMap`.
public struct ConfigMap: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var data: [String: String]?
    /// Base64 on the wire.
    public var binaryData: [String: String]?
    public var immutable: Bool?
    @RawJSON public var rawJSON: JSONValue?
    public init(metadata: ObjectMeta, data: [String: String]? = nil) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.data = data
    }
}

/// `core/v1 Secret`. `data` holds base64 text as on the wire; ``decodedData`` gives the bytes.
public struct Secret: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "", version: "v1", resource: "secrets", kind: "Secret", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    /// Base64-encoded values.
    public var data: [String: String]?
    /// Write-only plain-text values; the server merges them into `data`.
    public var stringData: [String: String]?
    /// e.g. `Opaque`.
    public var type: String?
    public var immutable: Bool?
    @RawJSON public var rawJSON: JSONValue?
    public init(metadata: ObjectMeta, data: [String: String]? = nil, type: String? = nil) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.data = data
        self.type = type
    }

    /// Builds a Secret from plain values, base64-encoding them into `data`.
    public init(metadata: ObjectMeta, plainData: [String: String], type: String? = "Opaque") {
        self.init(metadata: metadata, data: plainData.mapValues { Data($0.utf8).base64EncodedString() }, type: type)
    }

    /// `data` decoded from base64; entries that are not valid base64 are left out.
    public var decodedData: [String: [UInt8]] {
        (data ?? [:]).compactMapValues { Data(base64Encoded: $0).map { [UInt8]($0) } }
    }
}

/// `core/v1 Namespace`.
public struct Namespace: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: JSONValue?
    public var status: JSONValue?
    @RawJSON public var rawJSON: JSONValue?
    public init(metadata: ObjectMeta) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
    }
}

/// `coordination.k8s.io/v1 Lease`: the lock behind leader election.
public struct Lease: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "coordination.k8s.io", version: "v1", resource: "leases",
                                                    kind: "Lease", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: LeaseSpec?
    @RawJSON public var rawJSON: JSONValue?
    public init(metadata: ObjectMeta, spec: LeaseSpec? = nil) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }
}

/// `coordination.k8s.io/v1 LeaseSpec`.
public struct LeaseSpec: Codable, Sendable, Hashable {
    public var holderIdentity: String?
    public var leaseDurationSeconds: Int32?
    public var acquireTime: MicroTime?
    public var renewTime: MicroTime?
    public var leaseTransitions: Int32?
    public init(holderIdentity: String? = nil, leaseDurationSeconds: Int32? = nil, acquireTime: MicroTime? = nil,
                renewTime: MicroTime? = nil, leaseTransitions: Int32? = nil) {
        self.holderIdentity = holderIdentity
        self.leaseDurationSeconds = leaseDurationSeconds
        self.acquireTime = acquireTime
        self.renewTime = renewTime
        self.leaseTransitions = leaseTransitions
    }
}

/// `events.k8s.io/v1 Event`: what happened to an object, with repeats folded into `series`.
public struct Event: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "events.k8s.io", version: "v1", resource: "events",
                                                    kind: "Event", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var eventTime: MicroTime?
    public var series: EventSeries?
    /// The component that reported it, e.g. `salespot-operator`.
    public var reportingController: String?
    public var reportingInstance: String?
    /// What was done or failed, e.g. `SwitchTraffic`.
    public var action: String?
    /// CamelCase reason, e.g. `Promoted`.
    public var reason: String?
    /// The object this is about.
    public var regarding: ObjectReference?
    public var related: ObjectReference?
    public var note: String?
    /// `Normal` or `Warning`.
    public var type: String?
    public var deprecatedCount: Int32?
    public var deprecatedFirstTimestamp: Time?
    public var deprecatedLastTimestamp: Time?
    public var deprecatedSource: JSONValue?
    @RawJSON public var rawJSON: JSONValue?
    public init(metadata: ObjectMeta) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
    }
}

/// `events.k8s.io/v1 EventSeries`.
public struct EventSeries: Codable, Sendable, Hashable {
    public var count: Int32
    public var lastObservedTime: MicroTime
    public init(count: Int32, lastObservedTime: MicroTime) {
        self.count = count
        self.lastObservedTime = lastObservedTime
    }
}

/// `core/v1 ObjectReference`.
public struct ObjectReference: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var fieldPath: String?
    public init(apiVersion: String? = nil, kind: String? = nil, name: String? = nil, namespace: String? = nil,
                uid: String? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.uid = uid
    }
}

/// `apiextensions.k8s.io/v1 CustomResourceDefinition`. The schema stays JSON, for the validator to read.
public struct CustomResourceDefinition: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "apiextensions.k8s.io", version: "v1",
                                                    resource: "customresourcedefinitions",
                                                    kind: "CustomResourceDefinition", namespaced: false)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: CRDSpec
    public var status: JSONValue?
    @RawJSON public var rawJSON: JSONValue?
    public init(metadata: ObjectMeta, spec: CRDSpec) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }
}

/// `CustomResourceDefinitionSpec`.
public struct CRDSpec: Codable, Sendable, Hashable {
    public var group: String
    public var names: CRDNames
    /// `Namespaced` or `Cluster`.
    public var scope: String
    public var versions: [CRDVersion]
    public init(group: String, names: CRDNames, scope: String, versions: [CRDVersion]) {
        self.group = group
        self.names = names
        self.scope = scope
        self.versions = versions
    }
}

/// `CustomResourceDefinitionNames`.
public struct CRDNames: Codable, Sendable, Hashable {
    public var plural: String
    public var singular: String?
    public var kind: String
    public var listKind: String?
    public var shortNames: [String]?
    public var categories: [String]?
    public init(plural: String, singular: String? = nil, kind: String, listKind: String? = nil,
                shortNames: [String]? = nil, categories: [String]? = nil) {
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.listKind = listKind
        self.shortNames = shortNames
        self.categories = categories
    }
}

/// `CustomResourceDefinitionVersion`.
public struct CRDVersion: Codable, Sendable, Hashable {
    public var name: String
    public var served: Bool
    public var storage: Bool
    public var deprecated: Bool?
    /// `{openAPIV3Schema: {...}}`.
    public var schema: JSONValue?
    /// `{status: {}, scale: {...}}`.
    public var subresources: JSONValue?
    public var additionalPrinterColumns: [JSONValue]?
    public init(name: String, served: Bool = true, storage: Bool = true, schema: JSONValue? = nil,
                subresources: JSONValue? = nil) {
        self.name = name
        self.served = served
        self.storage = storage
        self.schema = schema
        self.subresources = subresources
    }
}
