import Foundation
import Hummingbird
import KubeCore
import Notifications
import Testing
import TestSupport

/// Notifications to a local receiver, as Slack, Telegram and a webhook would get them.
@Suite struct NotifierTests {
    @Test func slackTelegramAndWebhookGetTheirFormatsAndServerErrorsAreRetried() async throws {
        let received = Locked<[(String, JSONValue)]>([])
        let calls = Locked(0)
        let router = Router()
        router.post("**") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            var n = 0
            calls.mutate { $0 += 1; n = $0 }
            if n == 1 { return Response(status: .internalServerError) }
            let json = (try? JSONParser.parse(Array(buffer: body))) ?? .null
            received.mutate { $0.append((request.uri.path, json)) }
            return Response(status: .ok)
        }
        let portBox = Locked(0)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in portBox.mutate { $0 = channel.localAddress?.port ?? 0 } })
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { task.cancel() }
        for _ in 0..<100 where portBox.value == 0 { try await Task.sleep(for: .milliseconds(20)) }
        let base = "http://127.0.0.1:\(portBox.value)"
        let n = Notification(title: "Backup failed", text: "pg_dump: connection refused", outcome: .failure,
                             fields: [("Backup", "nightly-20261202-0200"), ("Policy", "nightly")], kind: "Backup",
                             namespace: "shop", name: "nightly-20261202-0200", event: "BackupFailed")
        let failures = await Notifier().send(n, to: [
            .slack(webhookURL: base + "/services/T000/B000/SECRETPATH"),
            .telegram(botToken: "123:SECRET-TOKEN", chatId: "-100200", apiBase: base),
            .webhook(url: base + "/hook", headers: ["Authorization": "Bearer x"]),
        ])
        #expect(failures.isEmpty, "\(failures)")
        let got = received.value
        #expect(got.count == 3)
        #expect(calls.value == 4, "the first answer (500) was not retried")
        let slack = try #require(got.first { $0.0.hasPrefix("/services/") }?.1)
        #expect(slack["text"]?.stringValue?.contains("Backup failed") == true)
        #expect(slack["blocks"]?.arrayValue?.isEmpty == false)
        let telegram = try #require(got.first { $0.0 == "/bot123:SECRET-TOKEN/sendMessage" }?.1)
        #expect(telegram["chat_id"]?.stringValue == "-100200")
        #expect(telegram["text"]?.stringValue?.contains("nightly-20261202-0200") == true)
        let hook = try #require(got.first { $0.0 == "/hook" }?.1)
        #expect(hook["event"]?.stringValue == "BackupFailed")
        #expect(hook["outcome"]?.stringValue == "failure")
        #expect(hook[path: ["object", "namespace"]]?.stringValue == "shop")
    }

    @Test func aFailureNamesTheChannelButNeverItsAddress() async throws {
        let n = Notification(title: "t", text: "x", outcome: .success, kind: "Backup", namespace: "ns", name: "b", event: "BackupSucceeded")
        // Nothing listens on port 1.
        var notifier = Notifier()
        notifier.attempts = 1
        let failures = await notifier.send(n, to: [.slack(webhookURL: "http://127.0.0.1:1/services/SECRETPATH"),
                                                  .telegram(botToken: "SECRET-TOKEN", chatId: "1", apiBase: "http://127.0.0.1:1")])
        #expect(failures.map(\.channel) == ["slack", "telegram"])
        for f in failures { #expect(!"\(f)".contains("SECRET"), "\(f)") }
    }
}
