import KubeCore
import Notifications

/// `ops.salespot.by/v1alpha1 BlueGreenDeployment`: see crds/bluegreendeployments.ops.salespot.by.yaml.
public struct BlueGreenDeployment: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "ops.salespot.by", version: "v1alpha1", resource: "bluegreendeployments",
                                                    kind: "BlueGreenDeployment", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?
    @RawJSON public var rawJSON: JSONValue?

    public init(metadata: ObjectMeta, spec: Spec) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }

    /// The desired state.
    public struct Spec: Codable, Sendable, Hashable {
        public var replicas: Int32?
        public var selector: LabelSelector
        /// The pod template (core/v1 PodTemplateSpec), kept as JSON.
        public var template: JSONValue
        public var activeService: String
        public var previewService: String?
        public var activeColor: String?
        public var promotion: Promotion?
        public var promote: Bool?
        public var abort: Bool?
        public var scaleDownDelaySeconds: Int?
        public var healthCheck: HealthCheck?
        /// An Ingress whose backends follow the active colour.
        public var ingress: IngressRef?
        /// Metric and webhook checks before and after the switch.
        public var analysis: Analysis?
        /// Slack, Telegram or webhook messages on Promoted, Aborted, AnalysisFailed and RolledBack (or the `events`
        /// listed).
        public var notifications: NotificationTargets?
        /// Replicas of the preview until its promotion is decided (then full scale before the switch). Default:
        /// `replicas`.
        public var previewReplicaCount: Int32?
        /// Seconds the colour whose post-promotion analysis failed stays up after the switch back (default 30), so
        /// every proxy has moved off it first.
        public var abortScaleDownDelaySeconds: Int?
        /// Templates kept in status.history (default 10).
        public var revisionHistoryLimit: Int?
        /// Labels and annotations put on the pods of the active colour while it is active (Argo Rollouts'
        /// activeMetadata), in place: the pods are not restarted.
        public var activeMetadata: PodMetadata?
        /// Labels and annotations put on the pods of the preview colour while it is in preview.
        public var previewMetadata: PodMetadata?

        public init(replicas: Int32? = 2, selector: LabelSelector, template: JSONValue, activeService: String,
                    previewService: String? = nil) {
            self.replicas = replicas
            self.selector = selector
            self.template = template
            self.activeService = activeService
            self.previewService = previewService
        }
    }

    /// Checks of the new colour before the switch. Unset fields take the CRD's defaults (which the API server
    /// also applies), so a spec read from anywhere behaves the same.
    public struct HealthCheck: Codable, Sendable, Hashable {
        public var httpGet: HTTPGet?
        public var timeoutSeconds: Int?
        public var periodSeconds: Int?
        public var successThreshold: Int?
        public var failureThreshold: Int?

        public init(httpGet: HTTPGet? = nil, periodSeconds: Int? = nil, failureThreshold: Int? = nil) {
            self.httpGet = httpGet
            self.periodSeconds = periodSeconds
            self.failureThreshold = failureThreshold
        }

        public var timeout: Duration { .seconds(timeoutSeconds ?? 5) }
        public var period: Duration { .seconds(periodSeconds ?? 5) }
        public var successesNeeded: Int { successThreshold ?? 1 }
        public var failuresAllowed: Int { failureThreshold ?? 3 }
    }

    /// An HTTP GET that must answer `expectedStatus` (default 200).
    public struct HTTPGet: Codable, Sendable, Hashable {
        public var path: String
        public var port: Int
        public var expectedStatus: Int?
        public init(path: String, port: Int, expectedStatus: Int? = nil) {
            self.path = path
            self.port = port
            self.expectedStatus = expectedStatus
        }
    }

    /// Labels and annotations for the pods of a colour in a role (active or preview).
    public struct PodMetadata: Codable, Sendable, Hashable {
        public var labels: [String: String]?
        public var annotations: [String: String]?
        public init(labels: [String: String]? = nil, annotations: [String: String]? = nil) {
            self.labels = labels
            self.annotations = annotations
        }
    }

    /// Names an Ingress in the same namespace.
    public struct IngressRef: Codable, Sendable, Hashable {
        public var name: String
        public init(name: String) { self.name = name }
    }

    /// How the new colour becomes active.
    public struct Promotion: Codable, Sendable, Hashable {
        /// `Automatic` (default) or `Manual`.
        public var mode: String?
        /// Manual mode: promote anyway after this many seconds with the preview ready (Argo Rollouts'
        /// autoPromotionSeconds). Absent: wait for a promotion.
        public var autoPromotionSeconds: Int?
        public init(mode: String? = nil, autoPromotionSeconds: Int? = nil) {
            self.mode = mode
            self.autoPromotionSeconds = autoPromotionSeconds
        }
    }

    /// What the operator observed.
    public struct Status: Codable, Sendable, Hashable {
        public var observedGeneration: Int64?
        public var activeColor: String?
        public var previewColor: String?
        public var phase: String?
        public var lastSwitchTime: Time?
        /// When the rollout of the current template began.
        public var rolloutStartTime: Time?
        /// When the ready preview began waiting for promotion.
        public var pauseStartTime: Time?
        /// The current (or last) analysis and its measurements.
        public var analysis: AnalysisStatus?
        /// The template hash whose analysis failed: not rolled out again until the template changes.
        public var failedTemplate: String?
        /// The preview (`colour/template`) being scaled from previewReplicaCount to full for its switch.
        public var fullScale: String?
        /// The templates rolled out, newest last (at most revisionHistoryLimit), with what became of each.
        public var history: [Revision]?
        public var scaleDownAt: Time?
        public var healthCheck: HealthCheckStatus?
        public var colors: [String: ColorStatus]?
        /// The active colour's replicas (the scale subresource's status.replicas, what an autoscaler reads).
        public var replicas: Int32?
        /// A label selector of the active colour's pods, as a string (the scale subresource's status.selector).
        public var selector: String?
        public var conditions: [Condition]?
        public init() {}
    }

    /// Progress of the health checks of the preview colour.
    public struct HealthCheckStatus: Codable, Sendable, Hashable {
        public var template: String?
        public var successes: Int?
        public var failures: Int?
        public var lastResult: String?
        /// When the last check was made: the next comes periodSeconds after it, however often the resource is
        /// reconciled.
        public var lastCheckTime: Time?
        public init(template: String? = nil, successes: Int? = nil, failures: Int? = nil, lastResult: String? = nil) {
            self.template = template
            self.successes = successes
            self.failures = failures
            self.lastResult = lastResult
        }
    }

    /// One colour's Deployment as observed.
    public struct ColorStatus: Codable, Sendable, Hashable {
        public var image: String?
        public var replicas: Int32?
        public var readyReplicas: Int32?
        public init(image: String? = nil, replicas: Int32? = nil, readyReplicas: Int32? = nil) {
            self.image = image
            self.replicas = replicas
            self.readyReplicas = readyReplicas
        }
    }
}

extension BlueGreenDeployment {
    /// A template that was rolled out, and its outcome.
    public struct Revision: Codable, Sendable, Hashable {
        public var revision: Int
        /// The template's hash (the `salespot.by/template-hash` label).
        public var templateHash: String
        public var image: String?
        /// Progressing, Active, Superseded, Aborted, HealthCheckFailed, AnalysisFailed or RolledBack.
        public var outcome: String
        public var time: Time?
        /// The pod template itself, for `bluegreen undo --to-revision`.
        public var template: JSONValue?
        public init(revision: Int, templateHash: String, image: String?, outcome: String, time: Time?, template: JSONValue?) {
            self.revision = revision
            self.templateHash = templateHash
            self.image = image
            self.outcome = outcome
            self.time = time
            self.template = template
        }
    }
}

/// The two colours.
public enum Color: String, Sendable, CaseIterable {
    case blue, green
    public var other: Color { self == .blue ? .green : .blue }
}
