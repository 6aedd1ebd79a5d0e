import KubeCore

/// Why a flag's spec cannot be served: the checks the CRD schema cannot make (a value of the wrong type for the
/// flag, an unknown variant, targeting that is not valid JSONLogic), plus the schema's own checks again, so a flag
/// written where the schema did not apply (an older CRD, `POST /feature-flags`) is held to the same rules.
public struct FlagValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A CamelCase reason for conditions and Events.
    public var reason: String
    public var message: String
    public init(_ reason: String, _ message: String) {
        self.reason = reason
        self.message = message
    }
    public var description: String { message }
}

/// A flag checked and prepared for evaluation: immutable, so every request reads it without a lock (a class, so
/// handing it to a request is one reference, not a copy of every field).
public final class CompiledFlag: Sendable {
    public let key: String
    public let type: FlagType
    public let enabled: Bool
    /// The default value; nil in the flagd form without a `defaultVariant` (the caller's default applies).
    public let defaultValue: JSONValue?
    /// The variant name the default value has (flagd form: `defaultVariant`; native form: "default").
    public let defaultVariant: String?
    public let description: String?
    /// How many rules (flagd form: 1 with targeting, else 0), for the status and listings.
    public let ruleCount: Int
    /// The spec this was compiled from, as JSON (what `GET /feature-flags` shows and `status.served` records).
    public let definition: JSONValue
    /// flagd's flag metadata (strings, numbers, booleans), returned with every evaluation.
    public let metadata: JSONObject?
    let form: Form

    init(key: String, type: FlagType, enabled: Bool, defaultValue: JSONValue?, defaultVariant: String?, description: String?,
         ruleCount: Int, definition: JSONValue = .null, metadata: JSONObject? = nil, form: Form) {
        self.key = key
        self.type = type
        self.enabled = enabled
        self.defaultValue = defaultValue
        self.defaultVariant = defaultVariant
        self.description = description
        self.ruleCount = ruleCount
        self.definition = definition
        self.metadata = metadata
        self.form = form
    }

    /// The same flag, recording the spec it came from.
    func with(definition: JSONValue) -> CompiledFlag {
        CompiledFlag(key: key, type: type, enabled: enabled, defaultValue: defaultValue, defaultVariant: defaultVariant,
                     description: description, ruleCount: ruleCount, definition: definition, metadata: metadata, form: form)
    }

    enum Form: Sendable {
        case native(rules: [NativeRule], bucketing: BucketingV1)
        case flagd(variants: [String: JSONValue], targeting: JSONLogic?)
    }

    /// Where the native form finds the user id: the targeting key, else the original API's `userId`.
    static let userAttributes = ["targetingKey", "userId"]

    /// The versions of the bucketing algorithm this build knows.
    public static let bucketingVersions = [1]
    public static let environments: Set<String> = ["dev", "staging", "production"]
    static let keyLimit = 128

    /// Checks `spec` and prepares it. `name` is the object's name (the key when `spec.key` is unset).
    public static func compile(_ spec: FeatureFlag.Spec, name: String) throws(FlagValidationError) -> CompiledFlag {
        try compileSpec(spec, name: name).with(definition: (try? JSONValueEncoder().encode(spec)) ?? .null)
    }

    static func compileSpec(_ spec: FeatureFlag.Spec, name: String) throws(FlagValidationError) -> CompiledFlag {
        let key = spec.key ?? name
        try checkKey(key)
        if let flagd = spec.flagd {
            // bucketing and enabled are defaulted by the CRD, so they are there in either form; enabled still works as
            // the kill switch (on top of flagd's state), bucketing.salt has no meaning for flagd's fractional.
            if spec.defaultValue != nil || spec.rules != nil || spec.variants != nil || spec.bucketing?.salt != nil {
                throw FlagValidationError("InvalidSpec", "spec.flagd replaces defaultValue, variants, rules and bucketing.salt: give one form only")
            }
            return try compileFlagd(flagd, key: key, declaredType: spec.type, description: spec.description, enabled: spec.enabled ?? true)
        }
        guard let typeName = spec.type else { throw FlagValidationError("InvalidSpec", "spec.type is required (boolean, string, number or json)") }
        guard let type = FlagType(rawValue: typeName) else {
            throw FlagValidationError("InvalidSpec", "spec.type '\(typeName)' is not one of boolean, string, number, json")
        }
        guard let defaultValue = spec.defaultValue, !defaultValue.isNull else {
            throw FlagValidationError("InvalidSpec", "spec.defaultValue is required (or give spec.flagd)")
        }
        guard type.accepts(defaultValue) else {
            throw FlagValidationError("TypeMismatch", "spec.defaultValue is \(defaultValue.typeName), not \(type.rawValue)")
        }
        let variants = spec.variants ?? [:]
        for (name, value) in variants.sorted(by: { $0.key < $1.key }) where !type.accepts(value) {
            throw FlagValidationError("TypeMismatch", "spec.variants.\(name) is \(value.typeName), not \(type.rawValue)")
        }
        let bucketing = spec.bucketing ?? FeatureFlag.Bucketing()
        let version = bucketing.version ?? 1
        guard bucketingVersions.contains(version) else {
            throw FlagValidationError("UnknownBucketingVersion",
                                      "spec.bucketing.version \(version) is not known to this operator (it knows \(bucketingVersions.map(String.init).joined(separator: ", ")))")
        }
        var rules: [NativeRule] = []
        for (i, rule) in (spec.rules ?? []).enumerated() {
            let at = "spec.rules[\(i)]"
            let served: JSONValue
            switch (rule.value, rule.variant) {
            case (let value?, nil):
                guard type.accepts(value) else { throw FlagValidationError("TypeMismatch", "\(at).value is \(value.typeName), not \(type.rawValue)") }
                served = value
            case (nil, let variant?):
                guard let value = variants[variant] else {
                    throw FlagValidationError("UnknownVariant", "\(at).variant '\(variant)' is not in spec.variants")
                }
                served = value
            default:
                throw FlagValidationError("InvalidSpec", "\(at) needs exactly one of value and variant")
            }
            for env in rule.environments ?? [] where !environments.contains(env) {
                throw FlagValidationError("InvalidSpec", "\(at).environments: '\(env)' is not one of dev, staging, production")
            }
            var basisPoints: Int?
            if let p = rule.percentage {
                guard p.isFinite, p >= 0, p <= 100 else { throw FlagValidationError("InvalidSpec", "\(at).percentage must be within 0 and 100") }
                basisPoints = Int((p * 100).rounded())
            }
            rules.append(NativeRule(name: rule.name, users: rule.users.map(Set.init), roles: rule.roles.map(Set.init),
                                    environments: rule.environments.map(Set.init), basisPoints: basisPoints,
                                    value: served, variant: rule.variant ?? rule.name ?? "rule-\(i + 1)"))
        }
        return CompiledFlag(key: key, type: type, enabled: spec.enabled ?? true, defaultValue: defaultValue,
                            defaultVariant: "default", description: spec.description, ruleCount: rules.count,
                            form: .native(rules: rules, bucketing: BucketingV1(salt: bucketing.salt ?? key)))
    }

    static func checkKey(_ key: String) throws(FlagValidationError) {
        let allowed = key.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x2d || b == 0x5f || b == 0x2e
        }
        guard !key.isEmpty, key.utf8.count <= keyLimit, allowed,
              let first = key.utf8.first, let last = key.utf8.last,
              first != 0x2d, first != 0x5f, first != 0x2e, last != 0x2d, last != 0x5f, last != 0x2e else {
            throw FlagValidationError("InvalidKey",
                                      "key '\(key.prefix(140))' must be 1–\(keyLimit) letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
        }
    }

    static func compileFlagd(_ def: FeatureFlag.FlagdDefinition, key: String, declaredType: String?, description: String?,
                             enabled: Bool) throws(FlagValidationError) -> CompiledFlag {
        guard def.state == "ENABLED" || def.state == "DISABLED" else {
            throw FlagValidationError("InvalidSpec", "spec.flagd.state '\(def.state)' is not ENABLED or DISABLED")
        }
        guard !def.variants.isEmpty else { throw FlagValidationError("InvalidSpec", "spec.flagd.variants is empty") }
        var type: FlagType?
        if let declaredType {
            guard let t = FlagType(rawValue: declaredType) else {
                throw FlagValidationError("InvalidSpec", "spec.type '\(declaredType)' is not one of boolean, string, number, json")
            }
            type = t
        }
        for (name, value) in def.variants.sorted(by: { $0.key < $1.key }) {
            guard let t = FlagType.of(value) else {
                throw FlagValidationError("TypeMismatch", "spec.flagd.variants.\(name) is \(value.typeName): a variant is a boolean, string, number or object")
            }
            if let known = type, known != t {
                throw FlagValidationError("TypeMismatch", "spec.flagd.variants.\(name) is \(t.rawValue), but the flag is \(known.rawValue) (all variants of a flag have one type)")
            }
            type = t
        }
        guard let type else { throw FlagValidationError("InvalidSpec", "spec.flagd.variants is empty") }
        var metadata: JSONObject?
        if let m = def.metadata, !m.isNull {
            guard let o = m.objectValue else { throw FlagValidationError("InvalidSpec", "spec.flagd.metadata must be an object") }
            for (k, v) in o {
                switch v {
                case .string, .int, .double, .bool: continue
                default: throw FlagValidationError("InvalidSpec", "spec.flagd.metadata.\(k) is \(v.typeName): metadata values are strings, numbers or booleans")
                }
            }
            metadata = o
        }
        // flagd: an empty or absent defaultVariant means "the caller's default".
        let defaultVariant = def.defaultVariant.flatMap { $0.isEmpty ? nil : $0 }
        var defaultValue: JSONValue?
        if let defaultVariant {
            guard let value = def.variants[defaultVariant] else {
                throw FlagValidationError("UnknownVariant", "spec.flagd.defaultVariant '\(defaultVariant)' is not in spec.flagd.variants")
            }
            defaultValue = value
        }
        var targeting: JSONLogic?
        if let t = def.targeting, !(t.objectValue?.isEmpty ?? false), !t.isNull {
            do {
                targeting = try JSONLogic(t, evaluators: def.evaluators ?? [:])
            } catch {
                throw FlagValidationError("InvalidTargeting", "spec.flagd.targeting: \(error)")
            }
        }
        return CompiledFlag(key: key, type: type, enabled: enabled && def.state == "ENABLED", defaultValue: defaultValue,
                            defaultVariant: defaultVariant, description: description, ruleCount: targeting == nil ? 0 : 1,
                            metadata: metadata, form: .flagd(variants: def.variants, targeting: targeting))
    }

    /// Evaluates the flag for a caller.
    /// - Parameter environment: the server's environment, used when the context names none.
    public func evaluate(_ context: EvaluationContext, environment: String) -> Resolution {
        switch form {
        case .native(let rules, let bucketing):
            return evaluateNative(rules, bucketing, context, environment: environment)
        case .flagd(let variants, let targeting):
            return evaluateFlagd(variants, targeting, context)
        }
    }

    /// flagd's resolution (openfeature-flagd-core): DISABLED and a missing default give no value (the caller's
    /// default applies); a targeting result of null gives the default variant (DEFAULT); any other result names a
    /// variant (booleans as "true"/"false", other values by Python's `str()`), TARGETING_MATCH; a name that is not
    /// a variant, or an evaluation error, is GENERAL.
    func evaluateFlagd(_ variants: [String: JSONValue], _ targeting: JSONLogic?, _ context: EvaluationContext) -> Resolution {
        // flagd-core answers DISABLED with the caller's default; the default variant's value is sent here (when there
        // is one), because typed OFREP clients (the Go provider) need a value of the flag's type to report DISABLED.
        guard enabled else { return withMetadata(Resolution(value: defaultValue, variant: nil, reason: .disabled)) }
        guard let targeting else {
            return withMetadata(Resolution(value: defaultValue, variant: defaultVariant, reason: defaultValue == nil ? .default : .static))
        }
        var data = context.attributes
        data["$flagd"] = ["flagKey": .string(key), "timestamp": .int(UsageCell.wallMillis() / 1000)]
        data["targetingKey"] = context["targetingKey"] ?? .null
        let result: JSONValue
        do {
            result = try targeting.evaluate(.object(data))
        } catch {
            return .failure(.general, "targeting failed: \(error)")
        }
        if result.isNull { return withMetadata(Resolution(value: defaultValue, variant: defaultVariant, reason: .default)) }
        let name = JSONLogic.pythonStr(result)
        // By exact code points, as Python's dict: Swift's own lookup would also match canonically equivalent names.
        guard !name.isEmpty, let value = variants.first(where: { $0.key.utf8.elementsEqual(name.utf8) })?.value, !value.isNull else {
            return .failure(.general, "targeting chose '\(name.prefix(100))', which is not a variant of flag '\(key)'")
        }
        return withMetadata(Resolution(value: value, variant: name, reason: .targetingMatch))
    }

    /// Adds the flag's metadata (flagd form) to a resolution, as flagd returns it with every evaluation.
    func withMetadata(_ r: Resolution) -> Resolution {
        var r = r
        r.metadata = metadata
        return r
    }

    func evaluateNative(_ rules: [NativeRule], _ bucketing: BucketingV1, _ context: EvaluationContext, environment: String) -> Resolution {
        let defaultValue = self.defaultValue ?? .null
        guard enabled else { return Resolution(value: defaultValue, variant: defaultVariant, reason: .disabled) }
        guard !rules.isEmpty else { return Resolution(value: defaultValue, variant: defaultVariant, reason: .static) }
        var user: String?
        for name in Self.userAttributes {
            switch context[name] {
            case nil, .null?: continue
            case .string(let s)?: user = user ?? (s.isEmpty ? nil : s)
            case let other?: return .failure(.invalidContext, "\(name) is \(other.typeName), not a string")
            }
        }
        var role: String?
        switch context["role"] {
        case nil, .null?: break
        case .string(let s)?: role = s
        case let other?: return .failure(.invalidContext, "role is \(other.typeName), not a string")
        }
        var env = environment
        switch context["environment"] {
        case nil, .null?: break
        case .string(let s)?: env = s
        case let other?: return .failure(.invalidContext, "environment is \(other.typeName), not a string")
        }
        for rule in rules {
            if let users = rule.users { guard let user, users.contains(user) else { continue } }
            if let roles = rule.roles { guard let role, roles.contains(role) else { continue } }
            if let envs = rule.environments { guard envs.contains(env) else { continue } }
            if let basisPoints = rule.basisPoints {
                guard let user else {
                    return .failure(.targetingKeyMissing, "rule \(rule.name.map { "'\($0)'" } ?? "") is a percentage rollout: it needs a targeting key (the user id)")
                }
                guard bucketing.bucket(user) < basisPoints else { continue }
                return Resolution(value: rule.value, variant: rule.variant, reason: .split)
            }
            return Resolution(value: rule.value, variant: rule.variant, reason: .targetingMatch)
        }
        return Resolution(value: defaultValue, variant: defaultVariant, reason: .default)
    }
}

/// One native rule, prepared: sets for membership, the percentage in hundredths of a percent.
struct NativeRule: Sendable {
    var name: String?
    var users: Set<String>?
    var roles: Set<String>?
    var environments: Set<String>?
    var basisPoints: Int?
    var value: JSONValue
    var variant: String?
}

/// Bucketing version 1: `murmur3_x86_32(salt + "/" + userId) mod 10,000`; a user is in a rollout of p percent when
/// the bucket is below p × 100. A user's bucket never changes, so raising the percentage only adds users.
public struct BucketingV1: Sendable {
    public let salt: String
    public init(salt: String) { self.salt = salt }
    public func bucket(_ user: String) -> Int {
        var hasher = Murmur3.Hasher()
        hasher.feed(salt)
        hasher.feed(0x2f)  // "/"
        hasher.feed(user)
        return Int(hasher.finish() % 10_000)
    }
}
