import KubeClient
import KubeCore

/// A key of a Secret in the object's namespace.
public struct SecretKeyRef: Codable, Sendable, Hashable {
    public var name: String
    public var key: String
    public init(name: String, key: String) { self.name = name; self.key = key }
}

/// A Slack incoming webhook, its URL (a credential) from a Secret.
public struct SlackTarget: Codable, Sendable, Hashable {
    public var webhookURLSecretRef: SecretKeyRef
    public init(webhookURLSecretRef: SecretKeyRef) { self.webhookURLSecretRef = webhookURLSecretRef }
}

/// A Telegram bot's `sendMessage` to a chat, its token from a Secret.
public struct TelegramTarget: Codable, Sendable, Hashable {
    public var botTokenSecretRef: SecretKeyRef
    public var chatId: String
    /// Default `https://api.telegram.org`.
    public var apiURL: String?
    public init(botTokenSecretRef: SecretKeyRef, chatId: String, apiURL: String? = nil) {
        self.botTokenSecretRef = botTokenSecretRef
        self.chatId = chatId
        self.apiURL = apiURL
    }
}

/// Any HTTP endpoint, its URL (and an optional `Authorization` value) from Secrets.
public struct WebhookTarget: Codable, Sendable, Hashable {
    public var urlSecretRef: SecretKeyRef
    public var authorizationSecretRef: SecretKeyRef?
    public init(urlSecretRef: SecretKeyRef, authorizationSecretRef: SecretKeyRef? = nil) {
        self.urlSecretRef = urlSecretRef
        self.authorizationSecretRef = authorizationSecretRef
    }
}

/// Where a resource's notifications go, as its spec says; every domain's resources use it.
public struct NotificationTargets: Codable, Sendable, Hashable {
    public var slack: SlackTarget?
    public var telegram: TelegramTarget?
    public var webhook: WebhookTarget?
    /// The events that are sent (the resource's kinds of event, e.g. Promoted, RolledBack); absent: all of them.
    public var events: [String]?
    public init(slack: SlackTarget? = nil, telegram: TelegramTarget? = nil, webhook: WebhookTarget? = nil, events: [String]? = nil) {
        self.slack = slack
        self.telegram = telegram
        self.webhook = webhook
        self.events = events
    }

    /// The channels, their addresses and tokens read from Secrets in `namespace` (never logged). Throws
    /// ``NotificationError`` naming the Secret and key, not the value, when one is missing.
    public func channels(namespace: String, client: KubeClient) async throws -> [NotificationChannel] {
        func secret(_ ref: SecretKeyRef) async throws -> String {
            do {
                return try await Api<Secret>(client, namespace: namespace).value(ref.name, key: ref.key).trimmingASCIIWhitespace()
            } catch let missing as SecretValueMissing {
                throw NotificationError(channel: "secret", reason: missing.description)
            }
        }
        var out: [NotificationChannel] = []
        if let s = slack { out.append(.slack(webhookURL: try await secret(s.webhookURLSecretRef))) }
        if let t = telegram {
            out.append(.telegram(botToken: try await secret(t.botTokenSecretRef), chatId: t.chatId, apiBase: t.apiURL ?? "https://api.telegram.org"))
        }
        if let w = webhook {
            var headers: [String: String] = [:]
            if let a = w.authorizationSecretRef { headers["Authorization"] = try await secret(a) }
            out.append(.webhook(url: try await secret(w.urlSecretRef), headers: headers))
        }
        return out
    }
}
