import Foundation
import Testing
import KubeCore
import TestSupport

/// The alert rules (promtool check and unit tests), the Alertmanager routes (amtool) and the Grafana dashboard's
/// queries (promtool), all on metrics the operator declares.
@Suite struct MonitoringTests {
    static let external: Set<String> = ["up", "pg_up", "pg_stat_database_numbackends", "pg_settings_max_connections"]

    /// The PrometheusRule's groups as a Prometheus rule file.
    func ruleFile(in dir: String) throws -> (path: String, alerts: [JSONValue]) {
        let rule = try YAML.parse(try String(contentsOfFile: repository + "/manifests/components/monitoring/prometheusrule.yaml", encoding: .utf8))
        let groups = try #require(rule[path: ["spec", "groups"]])
        let path = dir + "/salespot-rules.yaml"
        try String(decoding: JSONValue.object(["groups": groups]).serialized(sortedKeys: false), as: UTF8.self).write(toFile: path, atomically: true, encoding: .utf8)
        return (path, (groups.arrayValue ?? []).flatMap { $0["rules"]?.arrayValue ?? [] })
    }

    @Test func alertRulesPassPromtoolAndTheirUnitTestsAndUseDeclaredMetrics() async throws {
        let promtool = try requireTool("promtool")
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (rules, alerts) = try ruleFile(in: dir)
        let check = try await runAsync(promtool, ["check", "rules", rules])
        #expect(check.status == 0, "\(check.out) \(check.err)")
        try FileManager.default.copyItem(atPath: repository + "/manifests/monitoring/rules-test.yaml", toPath: dir + "/rules-test.yaml")
        let test = try await runAsync(promtool, ["test", "rules", dir + "/rules-test.yaml"])
        #expect(test.status == 0 && test.out.contains("SUCCESS"), "\(test.out) \(test.err)")
        // The original design's alerts are there, and every alert has a unit test of its own.
        let names = alerts.compactMap { $0["alert"]?.stringValue }
        for name in ["PrimaryDatacenterUnhealthy", "DatabaseConnectionIssues", "APIResponseTimeDegradation", "BackupFailure", "DRFailoverReadiness",
                     "SaleSpotOperatorReconcileErrors", "SaleSpotOperatorQueueBacklog", "SaleSpotOperatorNoLeader", "FlagEvaluationErrors"] {
            #expect(names.contains(name), "no alert \(name)")
        }
        let tests = try String(contentsOfFile: repository + "/manifests/monitoring/rules-test.yaml", encoding: .utf8)
        for name in names { #expect(tests.contains("alertname: \(name)"), "\(name) has no unit test") }
        // Each alert has a severity and a summary, and uses only metrics the operator declares (or the platform's).
        let declared = try declaredMetrics()
        for alert in alerts {
            let name = alert["alert"]?.stringValue ?? "?"
            #expect(["critical", "warning", "info"].contains(alert[path: ["labels", "severity"]]?.stringValue ?? ""), "\(name)")
            #expect(alert[path: ["annotations", "summary"]] != nil, "\(name)")
            for metric in metricNames(in: alert["expr"]?.stringValue ?? "") where !Self.external.contains(metric) {
                #expect(declared.contains(metric), "\(name) uses \(metric), which the operator does not declare")
            }
        }
    }

    @Test func alertmanagerConfigurationAndItsRoutes() async throws {
        let amtool = try requireTool("amtool")
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Debian 12's amtool is 0.25, which predates Telegram's bot_token_file (0.26): it checks a copy with that one
        // field spelled as 0.25 knows it.
        let config = try String(contentsOfFile: repository + "/manifests/monitoring/alertmanager.yml", encoding: .utf8)
        #expect(config.contains("bot_token_file:") && config.contains("api_url_file:") && config.contains("smtp_auth_password_file:"),
                "chat and mail secrets come from files")
        #expect(!config.contains("bot_token:") && !config.contains("api_url: http"), "no secret inline")
        let path = dir + "/alertmanager.yml"
        try config.replacingOccurrences(of: "bot_token_file: /etc/alertmanager/secrets/telegram-bot-token", with: "bot_token: \"0:amtool-0.25\"")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let check = try await runAsync(amtool, ["check-config", path])
        #expect(check.status == 0, "\(check.out) \(check.err)")
        // Which receivers each kind of alert reaches.
        let cases: [([String], String)] = [
            (["alertname=PrimaryDatacenterUnhealthy", "team=dr", "environment=production", "severity=critical"], "email-dr,slack-devops,telegram-devops,email-alerts"),
            (["alertname=DRFailoverReadiness", "team=dr", "environment=production", "severity=warning"], "email-dr,email-alerts"),
            (["alertname=PrimaryDatacenterUnhealthy", "team=dr", "environment=staging", "severity=critical"], "slack-devops,telegram-devops,email-alerts"),
            (["alertname=DRFailoverReadiness", "team=dr", "environment=staging", "severity=warning"], "email-alerts"),
            (["alertname=BackupFailure", "environment=production", "severity=critical"], "slack-devops,telegram-devops,email-alerts"),
            (["alertname=SaleSpotOperatorQueueBacklog", "environment=production", "severity=warning"], "email-alerts"),
            (["alertname=Anything", "severity=info"], "email-alerts"),
        ]
        for (labels, receivers) in cases {
            let r = try await runAsync(amtool, ["config", "routes", "test", "--config.file=" + path, "--verify.receivers=" + receivers] + labels)
            #expect(r.status == 0, "\(labels) should reach \(receivers): \(r.out) \(r.err)")
        }
        // A wrong expectation fails: the check can fail.
        let wrong = try await runAsync(amtool, ["config", "routes", "test", "--config.file=" + path, "--verify.receivers=email-dr",
                                                "alertname=DRFailoverReadiness", "team=dr", "environment=staging", "severity=warning"])
        #expect(wrong.status != 0)
    }

    static let leaderGauges: Set<String> = [
        "salespot_bluegreen_active_color", "workqueue_depth", "salespot_backup_last_success_timestamp_seconds", "salespot_backup_size_bytes",
        "salespot_dr_site_healthy", "salespot_dr_active_site", "salespot_dr_failover_ready", "salespot_dr_probe_latency_seconds",
        "salespot_dr_achieved_rpo_seconds", "salespot_dr_recovery_seconds", "salespot_dr_rto_objective_seconds", "salespot_dr_drill_last_result",
        "salespot_dr_drill_last_success_time_seconds",
    ]

    @Test func everyDashboardQueryIsValidPromQLOnDeclaredMetrics() async throws {
        let promtool = try requireTool("promtool")
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let dashboard = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: repository + "/manifests/monitoring/grafana-dashboard.json"))))
        // The datasource is a variable, used by every panel.
        let variables = dashboard[path: ["templating", "list"]]?.arrayValue ?? []
        #expect(variables.contains { $0["type"] == "datasource" && $0["name"] == "datasource" })
        let panels = (dashboard["panels"]?.arrayValue ?? []).filter { $0["type"] != "row" }
        #expect(panels.count >= 20)
        let rowTitles = (dashboard["panels"]?.arrayValue ?? []).filter { $0["type"] == "row" }.compactMap { $0["title"]?.stringValue }
        #expect(rowTitles == ["Operator health", "Blue/green rollouts", "Feature flags", "Backups", "Disaster recovery"])
        var rules: [JSONValue] = []
        let declared = try declaredMetrics()
        // (The metric-name reader itself: names, not functions, labels or Grafana variables.)
        #expect(metricNames(in: #"histogram_quantile(0.99, sum by (le) (rate(salespot_flag_evaluation_duration_seconds_bucket{namespace=~"$namespace"}[$__rate_interval])))"#)
                == ["salespot_flag_evaluation_duration_seconds"])
        #expect(declared.contains("salespot_bluegreen_switches_total") && declared.count > 30)
        for panel in panels {
            let title = panel["title"]?.stringValue ?? "?"
            #expect(panel[path: ["datasource", "uid"]] == "${datasource}", "\(title)")
            for target in panel["targets"]?.arrayValue ?? [] {
                let expr = target["expr"]?.stringValue ?? ""
                // Grafana's variables, as Grafana fills them in.
                let filled = expr.replacingOccurrences(of: "$__rate_interval", with: "2m").replacingOccurrences(of: "$__range", with: "6h")
                    .replacingOccurrences(of: "$__interval", with: "30s").replacingOccurrences(of: "$namespace", with: ".*")
                rules.append(["record": .string("dashboard:panel_\(rules.count)"), "expr": .string(filled)])
                for metric in metricNames(in: expr) where !Self.external.contains(metric) {
                    #expect(declared.contains(metric), "panel \(title) uses \(metric), which the operator does not declare")
                }
                // A gauge only the leader sets is read from the leader alone: a replica that lost the Lease keeps its
                // last values (the alert rules filter the same way).
                for metric in metricNames(in: expr) where Self.leaderGauges.contains(metric) {
                    #expect(expr.contains(#"and on (instance) (leader_election_master_status{name="salespot-operator"} == 1)"#),
                            "panel \(title) reads \(metric) from every replica")
                }
            }
        }
        let path = dir + "/dashboard-queries.yaml"
        try String(decoding: JSONValue.object(["groups": [["name": "dashboard", "rules": .array(rules)]]]).serialized(sortedKeys: false), as: UTF8.self)
            .write(toFile: path, atomically: true, encoding: .utf8)
        let check = try await runAsync(promtool, ["check", "rules", path])
        #expect(check.status == 0 && check.out.contains("SUCCESS: \(rules.count) rules found"), "\(check.out) \(check.err)")
    }
}
