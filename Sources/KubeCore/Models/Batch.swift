/// `batch/v1 Job`.
public struct Job: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "batch", version: "v1", resource: "jobs", kind: "Job", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: JobSpec?
    public var status: JobStatus?
    @RawJSON public var rawJSON: JSONValue?
    public init(metadata: ObjectMeta, spec: JobSpec? = nil) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }
}

/// `batch/v1 JobSpec`.
public struct JobSpec: Codable, Sendable, Hashable {
    public var template: PodTemplateSpec
    public var backoffLimit: Int32?
    public var activeDeadlineSeconds: Int64?
    public var ttlSecondsAfterFinished: Int32?
    public var completions: Int32?
    public var parallelism: Int32?
    public var selector: LabelSelector?
    public var suspend: Bool?
    public init(template: PodTemplateSpec, backoffLimit: Int32? = nil) {
        self.template = template
        self.backoffLimit = backoffLimit
    }
}

/// `batch/v1 JobStatus`.
public struct JobStatus: Codable, Sendable, Hashable {
    public var active: Int32?
    public var succeeded: Int32?
    public var failed: Int32?
    public var startTime: Time?
    public var completionTime: Time?
    /// `Complete`, `Failed`, `Suspended`, ...
    public var conditions: [JobCondition]?
    public init() {}
}

/// `batch/v1 JobCondition`.
public struct JobCondition: Codable, Sendable, Hashable {
    public var type: String
    public var status: String
    public var reason: String?
    public var message: String?
    public var lastProbeTime: Time?
    public var lastTransitionTime: Time?
    public init(type: String, status: String, reason: String? = nil, message: String? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
    }
}

/// `batch/v1 CronJob`.
public struct CronJob: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "batch", version: "v1", resource: "cronjobs", kind: "CronJob", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: CronJobSpec?
    public var status: CronJobStatus?
    @RawJSON public var rawJSON: JSONValue?
    public init(metadata: ObjectMeta, spec: CronJobSpec? = nil) {
        self.apiVersion = Self.resource.apiVersion
        self.kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }
}

/// `batch/v1 CronJobSpec`.
public struct CronJobSpec: Codable, Sendable, Hashable {
    /// Cron schedule, e.g. `0 2 * * *`.
    public var schedule: String
    public var timeZone: String?
    public var jobTemplate: JobTemplateSpec
    /// `Allow`, `Forbid` or `Replace`.
    public var concurrencyPolicy: String?
    public var suspend: Bool?
    public var successfulJobsHistoryLimit: Int32?
    public var failedJobsHistoryLimit: Int32?
    public var startingDeadlineSeconds: Int64?
    public init(schedule: String, jobTemplate: JobTemplateSpec) {
        self.schedule = schedule
        self.jobTemplate = jobTemplate
    }
}

/// The Job a CronJob creates.
public struct JobTemplateSpec: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta?
    public var spec: JobSpec?
    public init(metadata: ObjectMeta? = nil, spec: JobSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// `batch/v1 CronJobStatus`.
public struct CronJobStatus: Codable, Sendable, Hashable {
    public var active: [JSONValue]?
    public var lastScheduleTime: Time?
    public var lastSuccessfulTime: Time?
    public init() {}
}
