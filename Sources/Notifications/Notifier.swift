import KubeClient
import KubeCore

/// What happened, for people: a title, a line of text, the outcome and a few named facts.
public struct Notification: Sendable, Equatable {
    public enum Outcome: String, Sendable { case success, failure, info }
    public var title: String
    public var text: String
    public var outcome: Outcome
    /// Named facts shown under the text (backup name, size, duration, ...), in order.
    public var fields: [(String, String)]
    /// The object it is about: kind, namespace, name.
    public var kind: String
    public var namespace: String
    public var name: String
    /// A machine-readable event name for webhooks (`BackupSucceeded`, `BackupFailed`, ...).
    public var event: String

    public init(title: String, text: String, outcome: Outcome, fields: [(String, String)] = [], kind: String,
                namespace: String, name: String, event: String) {
        self.title = title
        self.text = text
        self.outcome = outcome
        self.fields = fields
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.event = event
    }

    public static func == (a: Notification, b: Notification) -> Bool {
        a.title == b.title && a.text == b.text && a.outcome == b.outcome && a.kind == b.kind && a.namespace == b.namespace
            && a.name == b.name && a.event == b.event && a.fields.map { [$0.0, $0.1] } == b.fields.map { [$0.0, $0.1] }
    }
}

/// Where a notification goes. URLs and tokens are secrets (a Slack webhook URL is a credential): they are never
/// logged, and errors name the channel, not the address.
public enum NotificationChannel: Sendable, CustomStringConvertible {
    /// A Slack incoming webhook.
    case slack(webhookURL: String)
    /// A Telegram bot: `sendMessage` to a chat. `apiBase` is `https://api.telegram.org` unless a test or a proxy says.
    case telegram(botToken: String, chatId: String, apiBase: String = "https://api.telegram.org")
    /// Any HTTP endpoint: the notification as JSON, POSTed, with extra headers (e.g. an Authorization token).
    case webhook(url: String, headers: [String: String] = [:])

    public var description: String {
        switch self {
        case .slack: return "slack"
        case .telegram: return "telegram"
        case .webhook: return "webhook"
        }
    }
}

/// Why a notification did not go out (the address is never part of it).
public struct NotificationError: Error, Sendable, CustomStringConvertible {
    public var channel: String
    public var reason: String
    public var description: String { "\(channel) notification failed: \(reason)" }
}

/// Sends notifications to Slack, Telegram and webhooks: one message format, retried on server errors and dropped
/// connections (3 attempts), bounded by a 10 s timeout per attempt. Used by every domain below the operator.
public struct Notifier: Sendable {
    let transport: any HTTPTransport
    public var attempts = 3

    public init(transport: any HTTPTransport = CurlTransport()) {
        self.transport = transport
    }

    /// Sends to every channel; returns the failures (an empty array when all went out).
    public func send(_ n: Notification, to channels: [NotificationChannel]) async -> [NotificationError] {
        var failures: [NotificationError] = []
        for c in channels {
            do { try await send(n, to: c) } catch let e as NotificationError { failures.append(e) } catch {
                failures.append(NotificationError(channel: c.description, reason: "\(type(of: error))"))
            }
        }
        return failures
    }

    public func send(_ n: Notification, to channel: NotificationChannel) async throws {
        let (url, headers, body) = Self.request(n, channel)
        var last = "not sent"
        for attempt in 1...max(1, attempts) {
            var request = HTTPRequest(method: "POST", url: url, body: body.serialized(), timeout: .seconds(10))
            request.headers.add("Content-Type", "application/json")
            for (k, v) in headers.sorted(by: { $0.key < $1.key }) { request.headers.add(k, v) }
            do {
                let r = try await transport.send(request)
                if (200..<300).contains(r.status) { return }
                // Telegram and Slack explain refusals in the body; keep it short, it names no secret.
                last = "HTTP \(r.status): \(String(decoding: r.body.prefix(200), as: UTF8.self))"
                if r.status < 500 && r.status != 429 { break }
            } catch let e as KubeError {
                if case .transport(let t) = e {
                    if t.kind == .cancelled { throw CancellationError() }
                    last = "\(t.kind)"  // libcurl's message may name the host; the kind is enough
                    if !t.isRetryable { break }
                } else {
                    last = "\(e.code.map(String.init) ?? "error")"
                }
            }
            if attempt < attempts { try? await Task.sleep(for: .milliseconds(300 * attempt)) }
        }
        throw NotificationError(channel: channel.description, reason: last)
    }

    /// `text` cut to at most `limit` characters (Slack refuses a header over 150, a section over 3,000 and a field
    /// over 2,000; Telegram a message over 4,096), with an ellipsis where it was cut.
    static func clip(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// The URL, headers and JSON body for one channel.
    static func request(_ n: Notification, _ channel: NotificationChannel) -> (String, [String: String], JSONValue) {
        let icon = n.outcome == .success ? "✅" : n.outcome == .failure ? "❌" : "ℹ️"
        let facts = n.fields.map { "\($0.0): \($0.1)" }
        switch channel {
        case .slack(let url):
            // Blocks for the layout, `text` for notifications and clients without blocks.
            var blocks: [JSONValue] = [
                ["type": "header", "text": ["type": "plain_text", "text": .string(clip("\(icon) \(n.title)", 150))]],
                ["type": "section", "text": ["type": "mrkdwn", "text": .string(clip(n.text, 3000))]],
            ]
            if !n.fields.isEmpty {
                blocks.append(["type": "section", "fields": .array(n.fields.prefix(10).map {
                    ["type": "mrkdwn", "text": .string(clip("*\($0.0)*\n\($0.1)", 2000))]
                })])
            }
            return (url, [:], ["text": .string(clip("\(icon) \(n.title): \(n.text)", 3000)), "blocks": .array(blocks)])
        case .telegram(let token, let chat, let base):
            let text = clip((["\(icon) \(n.title)", n.text] + facts).joined(separator: "\n"), 4096)
            var b = base
            while b.hasSuffix("/") { b.removeLast() }
            return ("\(b)/bot\(token)/sendMessage", [:], ["chat_id": .string(chat), "text": .string(text), "disable_web_page_preview": true])
        case .webhook(let url, let headers):
            var fields = JSONObject()
            for (k, v) in n.fields { fields[k] = .string(v) }
            return (url, headers, ["event": .string(n.event), "outcome": .string(n.outcome.rawValue), "title": .string(n.title),
                                   "text": .string(n.text), "fields": .object(fields),
                                   "object": ["kind": .string(n.kind), "namespace": .string(n.namespace), "name": .string(n.name)],
                                   "time": .string(Time.now().rfc3339)])
        }
    }
}
