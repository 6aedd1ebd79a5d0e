import KubeCore

/// `ops.salespot.by/v1alpha1 FeatureFlag`: one flag, in the native form (`type`, `defaultValue`, `rules`) or in
/// flagd's flag-definition form (`flagd`). See crds/featureflags.ops.salespot.by.yaml.
public struct FeatureFlag: KubernetesResource, Hashable {
    public static let resource = ResourceDescriptor(group: "ops.salespot.by", version: "v1alpha1", resource: "featureflags",
                                                    kind: "FeatureFlag", namespaced: true)
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

    /// The flag's key: `spec.key`, else the object's name.
    public var key: String { spec.key ?? metadata.name ?? "" }

    /// The desired flag.
    public struct Spec: Codable, Sendable, Hashable {
        /// The key clients ask for. Default: the object's name.
        public var key: String?
        /// boolean, string, number or json. Required in the native form; inferred from the variants in the flagd form.
        public var type: String?
        public var description: String?
        /// The kill switch (default true): a disabled flag serves its default with reason DISABLED.
        public var enabled: Bool?
        /// The value served when no rule matches (native form).
        public var defaultValue: JSONValue?
        /// Named values rules may return by name.
        public var variants: [String: JSONValue]?
        /// Evaluated in order; the first match wins.
        public var rules: [Rule]?
        /// How users are put into percentage buckets.
        public var bucketing: Bucketing?
        /// The flag in flagd's flag-definition form, instead of the native fields.
        public var flagd: FlagdDefinition?

        public init(type: String? = nil, defaultValue: JSONValue? = nil, rules: [Rule]? = nil) {
            self.type = type
            self.defaultValue = defaultValue
            self.rules = rules
        }
    }

    /// One targeting rule: its conditions are ANDed; a rule without conditions always matches.
    public struct Rule: Codable, Sendable, Hashable {
        public var name: String?
        /// User ids (the evaluation context's targeting key).
        public var users: [String]?
        public var roles: [String]?
        /// dev, staging or production.
        public var environments: [String]?
        /// 0–100: the share of users, by their sticky bucket.
        public var percentage: Double?
        /// The value served on a match, of the flag's type (or `variant`).
        public var value: JSONValue?
        /// The name of one of `spec.variants` served on a match.
        public var variant: String?

        public init(name: String? = nil, users: [String]? = nil, roles: [String]? = nil, environments: [String]? = nil,
                    percentage: Double? = nil, value: JSONValue? = nil, variant: String? = nil) {
            self.name = name
            self.users = users
            self.roles = roles
            self.environments = environments
            self.percentage = percentage
            self.value = value
            self.variant = variant
        }
    }

    /// The bucketing algorithm, versioned so that an operator upgrade never moves a user to another bucket.
    public struct Bucketing: Codable, Sendable, Hashable {
        /// 1 (the default, and the only version so far): murmur3 (x86, 32-bit, seed 0) of `salt/userId`, modulo 10,000.
        public var version: Int?
        /// Mixed into the hash; default: the flag key. Changing it reshuffles users.
        public var salt: String?
        public init(version: Int? = nil, salt: String? = nil) {
            self.version = version
            self.salt = salt
        }
    }

    /// A flag as flagd defines it in a flags file.
    public struct FlagdDefinition: Codable, Sendable, Hashable {
        /// ENABLED or DISABLED.
        public var state: String
        public var variants: [String: JSONValue]
        public var defaultVariant: String?
        /// JSONLogic with flagd's operators; absent or `{}` means no targeting.
        public var targeting: JSONValue?
        /// What `{"$ref": "name"}` in the targeting refers to (flagd's top-level `$evaluators`).
        public var evaluators: [String: JSONValue]?
        public var metadata: JSONValue?

        public init(state: String, variants: [String: JSONValue], defaultVariant: String?, targeting: JSONValue? = nil,
                    evaluators: [String: JSONValue]? = nil) {
            self.state = state
            self.variants = variants
            self.defaultVariant = defaultVariant
            self.targeting = targeting
            self.evaluators = evaluators
        }
    }

    /// What the operator observed and serves.
    public struct Status: Codable, Sendable, Hashable {
        public var observedGeneration: Int64?
        /// The generation every evaluation server serves: the last valid one.
        public var servedGeneration: Int64?
        /// The spec of `servedGeneration`, so a replica that starts while the current generation is invalid still
        /// serves the last valid one.
        public var served: JSONValue?
        /// The effective type (inferred in the flagd form).
        public var type: String?
        /// Whether the flag is on (the flagd form: state ENABLED).
        public var enabled: Bool?
        /// The default value as compact JSON, at most 64 characters (for `kubectl get`).
        public var `default`: String?
        /// The number of rules (flagd form: 1 with targeting, else 0).
        public var rules: Int?
        public var usage: Usage?
        public var conditions: [Condition]?
        public init() {}
    }

    /// How much the flag is used, summed over every replica of the evaluation server.
    public struct Usage: Codable, Sendable, Hashable {
        public var evaluationsLastHour: Int64?
        public var lastEvaluatedTime: Time?
        public init(evaluationsLastHour: Int64? = nil, lastEvaluatedTime: Time? = nil) {
            self.evaluationsLastHour = evaluationsLastHour
            self.lastEvaluatedTime = lastEvaluatedTime
        }
    }
}
