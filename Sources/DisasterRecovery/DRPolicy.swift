import BackupAPI
import KubeCore

/// `ops.salespot.by/v1alpha1 DRPolicy`: two sites, how to tell each is healthy, the DNS record that says which one
/// serves, and when to move it. See crds/drpolicies.ops.salespot.by.yaml.
public struct DRPolicy: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "ops.salespot.by", version: "v1alpha1", resource: "drpolicies",
                                                    kind: "DRPolicy", namespaced: true)
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

    public struct Spec: Codable, Sendable, Hashable {
        public var primary: Site
        public var secondary: Site
        public var dns: DNSRecord
        /// automatic (default): fail over when the primary is down and the secondary up; manual: only when
        /// `activeSite` says so.
        public var failover: String?
        /// manual (default): stay on the secondary until `activeSite: primary`; automatic: go back once the primary
        /// has been healthy for `failbackHoldDownSeconds`.
        public var failback: String?
        /// How long the primary must stay healthy before an automatic failback, and the least time between two
        /// automatic switches (default 300).
        public var failbackHoldDownSeconds: Int?
        /// The site to serve, set by hand (GitOps, `salespot-operator dr failover`): a pin that automatic
        /// decisions never override. Absent: automatic.
        public var activeSite: String?
        public var objectives: Objectives?
        /// A BackupPolicy in the same namespace whose last successful backup gives the achieved RPO.
        public var backupPolicyRef: String?
        /// Restore the latest verified backup into the secondary's database before the record moves to it.
        public var restoreOnFailover: RestoreOnFailover?
        /// How drills (DRDrill) of this policy run.
        public var drills: Drills?
        public var suspend: Bool?
        public init(primary: Site, secondary: Site, dns: DNSRecord) {
            self.primary = primary
            self.secondary = secondary
            self.dns = dns
        }
    }

    public struct Site: Codable, Sendable, Hashable {
        /// The record's value while this site serves: an address for A/AAAA, a host name for CNAME.
        public var value: String
        public var healthCheck: HealthCheck
        public init(value: String, healthCheck: HealthCheck) {
            self.value = value
            self.healthCheck = healthCheck
        }
    }

    public struct HealthCheck: Codable, Sendable, Hashable {
        public var http: HTTPCheck?
        public var tcp: TCPCheck?
        /// Seconds between probes (default 10).
        public var intervalSeconds: Int?
        /// Seconds a probe may take (default 3).
        public var timeoutSeconds: Int?
        /// Consecutive failures that make a healthy site unhealthy (default 3).
        public var failureThreshold: Int?
        /// Consecutive successes that make an unhealthy site healthy (default 2).
        public var successThreshold: Int?
        public init(http: HTTPCheck? = nil, tcp: TCPCheck? = nil) {
            self.http = http
            self.tcp = tcp
        }

        public var interval: Int { max(1, intervalSeconds ?? 10) }
        public var timeout: Int { max(1, timeoutSeconds ?? 3) }
        public var failures: Int { max(1, failureThreshold ?? 3) }
        public var successes: Int { max(1, successThreshold ?? 2) }
    }

    public struct HTTPCheck: Codable, Sendable, Hashable {
        /// http:// or https://
        public var url: String
        /// Default 200.
        public var expectedStatus: Int?
        /// When set, the body must contain it.
        public var bodyContains: String?
        public init(url: String, expectedStatus: Int? = nil, bodyContains: String? = nil) {
            self.url = url
            self.expectedStatus = expectedStatus
            self.bodyContains = bodyContains
        }
    }

    public struct TCPCheck: Codable, Sendable, Hashable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public struct DNSRecord: Codable, Sendable, Hashable {
        public var zone: String
        /// The record's name (absolute, in the zone).
        public var name: String
        /// A, AAAA or CNAME.
        public var type: String
        /// Default 60.
        public var ttl: Int?
        public var rfc2136: RFC2136?
        public var route53: Route53?
        public init(zone: String, name: String, type: String, ttl: Int? = nil) {
            self.zone = zone
            self.name = name
            self.type = type
            self.ttl = ttl
        }
    }

    public struct RFC2136: Codable, Sendable, Hashable {
        public var server: String
        /// Default 53.
        public var port: Int?
        public var keyName: String?
        /// hmac-sha256 (default) or hmac-sha512.
        public var algorithm: String?
        /// A Secret key holding the base64 TSIG secret.
        public var tsigSecretRef: SecretKeySelector?
        public init(server: String, port: Int? = nil) {
            self.server = server
            self.port = port
        }
    }

    public struct Route53: Codable, Sendable, Hashable {
        public var hostedZoneId: String
        /// A Secret with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN). None: the operator's own
        /// identity (IRSA: its ServiceAccount's IAM role).
        public var credentialsSecret: String?
        /// Another endpoint (moto in tests, a VPC endpoint).
        public var endpoint: String?
        public init(hostedZoneId: String, credentialsSecret: String? = nil, endpoint: String? = nil) {
            self.hostedZoneId = hostedZoneId
            self.credentialsSecret = credentialsSecret
            self.endpoint = endpoint
        }
    }

    public struct SecretKeySelector: Codable, Sendable, Hashable {
        public var name: String
        public var key: String
        public init(name: String, key: String) {
            self.name = name
            self.key = key
        }
    }

    /// A restore of `backupPolicyRef`'s last verified backup (a Restore, run by the backup controllers) into the
    /// secondary's database, made before a failover switches the record; the switch waits for it.
    public struct RestoreOnFailover: Codable, Sendable, Hashable {
        /// Dropped and created again from the backup (only a database a restore created, or one without tables).
        public var database: DatabaseSource
        public var check: Restore.Check?
        /// withhold (default): a failed or timed-out restore keeps the record where it is; switch: moves it anyway.
        public var onFailure: String?
        /// Default: the RTO objective.
        public var timeoutSeconds: Int?
        public init(database: DatabaseSource) { self.database = database }
    }

    public struct Drills: Codable, Sendable, Hashable {
        /// For restore and full drills: the scratch database the backup is restored into (recreated each time)
        /// and the query that checks it.
        public var restore: DrillRestore?
        /// For full drills: a record in the zone, not the policy's, moved to the secondary's value and back.
        public var testRecord: String?
        /// Finished drills kept per policy (default 10); older ones are deleted.
        public var historyLimit: Int?
        public init() {}
    }

    public struct DrillRestore: Codable, Sendable, Hashable {
        public var database: DatabaseSource
        public var check: Restore.Check?
        public init(database: DatabaseSource, check: Restore.Check? = nil) {
            self.database = database
            self.check = check
        }
    }

    public struct Objectives: Codable, Sendable, Hashable {
        /// Recovery time objective (default 900: the original design's 15 minutes).
        public var rtoSeconds: Int?
        /// Recovery point objective (default 300: 5 minutes).
        public var rpoSeconds: Int?
        public init(rtoSeconds: Int? = nil, rpoSeconds: Int? = nil) {
            self.rtoSeconds = rtoSeconds
            self.rpoSeconds = rpoSeconds
        }
    }

    public struct Status: Codable, Sendable, Hashable {
        public var observedGeneration: Int?
        /// The site the record points at, as read back from the DNS provider.
        public var activeSite: String?
        public var sites: [SiteStatus]?
        /// A switch decided and not yet confirmed (written before the DNS change, so a restart completes it once).
        public var pendingSwitch: Switch?
        public var lastSwitch: Switch?
        public var lastFailoverTime: String?
        public var failovers: Int?
        /// Now minus the last successful backup of `backupPolicyRef`.
        public var achievedRPOSeconds: Int?
        public var lastBackupTime: String?
        public var lastProviderCheckTime: String?
        /// The newest finished drill, and when a drill last passed.
        public var lastDrill: DrillSummary?
        public var lastPassingDrillTime: String?
        public var conditions: [Condition]?
        public init() {}
    }

    public struct DrillSummary: Codable, Sendable, Hashable {
        public var name: String
        public var mode: String
        /// Passed or Failed.
        public var result: String
        public var completionTime: String?
        public var measuredRTOSeconds: Double?
        public init(name: String, mode: String, result: String, completionTime: String?, measuredRTOSeconds: Double?) {
            self.name = name
            self.mode = mode
            self.result = result
            self.completionTime = completionTime
            self.measuredRTOSeconds = measuredRTOSeconds
        }
    }

    public struct SiteStatus: Codable, Sendable, Hashable {
        public var name: String
        public var healthy: Bool?
        public var consecutiveFailures: Int?
        public var consecutiveSuccesses: Int?
        public var lastProbeTime: String?
        public var lastLatencyMilliseconds: Double?
        public var lastError: String?
        /// Since when the current healthy or unhealthy streak holds.
        public var since: String?
    }

    public struct Switch: Codable, Sendable, Hashable {
        public var from: String
        public var to: String
        public var reason: String
        /// The first failed probe of the streak that led to it (automatic switches).
        public var firstFailureTime: String?
        public var decidedTime: String
        public var switchedTime: String?
        /// First failure → decision.
        public var detectionSeconds: Double?
        /// Decision → record changed and read back.
        public var switchSeconds: Double?
        /// Made by the probes (false: by a pin, or the first setting of the record); only these count for the
        /// hold-down.
        public var automatic: Bool?
        /// The Restore made into the secondary's database before the switch (restoreOnFailover).
        public var restore: String?
        /// Its duration (part of switchSeconds).
        public var restoreSeconds: Double?
        /// The restore was given up (timed out, onFailure: switch) and is being stopped before the switch.
        public var restoreAbandoned: Bool?
        /// Detection plus switch: the recovery time this switch achieved, to compare with the RTO.
        public var recoverySeconds: Double?
    }
}

extension DRPolicy.Spec {
    func site(_ name: String) -> DRPolicy.Site { name == "secondary" ? secondary : primary }
}
