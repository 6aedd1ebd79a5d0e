import KubeCore

/// `ops.salespot.by/v1alpha1 DRDrill`: one rehearsal of a DRPolicy's recovery (the original design's
/// test-dr-plan.sh), run once; its steps, measured RTO and result stay in its status. See
/// crds/drdrills.ops.salespot.by.yaml.
public struct DRDrill: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "ops.salespot.by", version: "v1alpha1", resource: "drdrills",
                                                    kind: "DRDrill", namespaced: true)
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

    /// The modes of test-dr-plan.sh.
    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// The latest backup exists, is verified and is inside the RPO.
        case backup
        /// backup, and the latest backup restored into the scratch database with its check query, timed.
        case restore
        /// The sites probed (the secondary healthy) and the DNS provider reachable, taking a dry run of the change.
        case partial
        /// All of these, and a real switch of the test record to the secondary's value and back.
        case full
    }

    public struct Spec: Codable, Sendable, Hashable {
        /// The DRPolicy, in the same namespace.
        public var policy: String
        public var mode: Mode
        public init(policy: String, mode: Mode) {
            self.policy = policy
            self.mode = mode
        }
    }

    public struct Step: Codable, Sendable, Hashable {
        /// backup, restore, probes, dns, failover, failback or rto.
        public var name: String
        public var passed: Bool
        public var message: String
        public var durationSeconds: Double?
        public init(name: String, passed: Bool, message: String, durationSeconds: Double? = nil) {
            self.name = name
            self.passed = passed
            self.message = message
            self.durationSeconds = durationSeconds
        }
    }

    /// The recovery time a drill measured: detection as configured (a drill does not wait for an outage), the
    /// restore and the switch as measured.
    public struct RTO: Codable, Sendable, Hashable {
        public var detectionSeconds: Double?
        public var restoreSeconds: Double?
        public var switchSeconds: Double?
        public var totalSeconds: Double
        public var objectiveSeconds: Int
        public var met: Bool
    }

    public struct Status: Codable, Sendable, Hashable {
        /// Running, Passed or Failed (final).
        public var phase: String?
        public var startTime: String?
        public var completionTime: String?
        public var steps: [Step]?
        /// The Restore of a restore or full drill.
        public var restore: String?
        public var rto: RTO?
        public var observedGeneration: Int?
        public var conditions: [Condition]?
        public init() {}
    }
}
