import KubeCore

/// The columns kube-apiserver prints for its built-in kinds (`kubectl get`, `-o wide` shows priority 1), with the
/// same cells: what a user sees against a cluster, they see here.
struct BuiltinTable: Sendable {
    struct Column: Sendable {
        var name: String
        var type = "string"
        var priority = 0
        var format = ""
        var cell: @Sendable (JSONValue, Time) -> JSONValue
    }
    var columns: [Column]

    static func name(_ o: JSONValue, _: Time) -> JSONValue { o[path: ["metadata", "name"]] ?? "" }
    static func age(_ o: JSONValue, _ now: Time) -> JSONValue { .string(since(o[path: ["metadata", "creationTimestamp"]], now) ?? "<unknown>") }
    static let nameColumn = Column(name: "Name", format: "name", cell: name)
    static let ageColumn = Column(name: "Age", cell: age)

    /// "5m" since a timestamp, or nil when there is none.
    static func since(_ t: JSONValue?, _ now: Time) -> String? {
        guard let s = t?.stringValue, let time = Time(rfc3339: s) else { return nil }
        return TablePrinter.age(now.secondsSince1970 - time.secondsSince1970)
    }

    static func int(_ v: JSONValue?) -> Int64 { v?.intValue ?? 0 }
    static func podSpec(_ o: JSONValue, _ path: [String]) -> [JSONValue] { o[path: path + ["containers"]]?.arrayValue ?? [] }
    static func containers(_ path: [String]) -> Column {
        Column(name: "Containers", priority: 1) { o, _ in .string(podSpec(o, path).compactMap { $0["name"]?.stringValue }.joined(separator: ",")) }
    }
    static func images(_ path: [String]) -> Column {
        Column(name: "Images", priority: 1) { o, _ in .string(podSpec(o, path).compactMap { $0["image"]?.stringValue }.joined(separator: ",")) }
    }
    /// metav1.FormatLabelSelector: `a=b,c in (d,e)`, `<none>` when empty.
    static func labelSelector(_ s: JSONValue?) -> String {
        guard let s else { return "<none>" }
        var parts = (s["matchLabels"]?.objectValue ?? JSONObject()).map { "\($0.key)=\($0.value.stringValue ?? "")" }.sorted()
        for e in s["matchExpressions"]?.arrayValue ?? [] {
            let key = e["key"]?.stringValue ?? ""
            let values = (e["values"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ",")
            switch e["operator"]?.stringValue {
            case "In": parts.append("\(key) in (\(values))")
            case "NotIn": parts.append("\(key) notin (\(values))")
            case "Exists": parts.append(key)
            case "DoesNotExist": parts.append("!\(key)")
            default: break
            }
        }
        return parts.isEmpty ? "<none>" : parts.joined(separator: ",")
    }
    static func selector(_ path: [String]) -> Column {
        Column(name: "Selector", priority: 1) { o, _ in .string(labelSelector(o[path: path])) }
    }
    /// A map selector (Services): sorted `k=v`, `<none>` when empty.
    static func mapSelector(_ s: JSONValue?) -> String {
        let parts = (s?.objectValue ?? JSONObject()).map { "\($0.key)=\($0.value.stringValue ?? "")" }.sorted()
        return parts.isEmpty ? "<none>" : parts.joined(separator: ",")
    }
    static func condition(_ o: JSONValue, _ type: String) -> Bool {
        (o[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"]?.stringValue == type && $0["status"]?.stringValue == "True" }
    }

    static func forType(_ type: ResourceType) -> BuiltinTable? {
        let workload = ["spec", "template", "spec"]
        switch (type.descriptor.group, type.descriptor.kind) {
        case ("", "Pod"):
            return BuiltinTable(columns: [nameColumn,
                Column(name: "Ready") { o, _ in
                    let statuses = o[path: ["status", "containerStatuses"]]?.arrayValue ?? []
                    let ready = statuses.filter { $0["ready"]?.boolValue == true }.count
                    return .string("\(ready)/\(podSpec(o, ["spec"]).count)")
                },
                Column(name: "Status") { o, _ in
                    if o[path: ["metadata", "deletionTimestamp"]] != nil { return "Terminating" }
                    for s in o[path: ["status", "containerStatuses"]]?.arrayValue ?? [] {
                        if let reason = s[path: ["state", "waiting", "reason"]]?.stringValue { return .string(reason) }
                    }
                    return .string(o[path: ["status", "reason"]]?.stringValue ?? o[path: ["status", "phase"]]?.stringValue ?? "Pending")
                },
                Column(name: "Restarts", type: "string") { o, _ in
                    .string(String((o[path: ["status", "containerStatuses"]]?.arrayValue ?? []).reduce(0) { $0 + int($1["restartCount"]) }))
                },
                ageColumn,
                Column(name: "IP", priority: 1) { o, _ in .string(o[path: ["status", "podIP"]]?.stringValue ?? "<none>") },
                Column(name: "Node", priority: 1) { o, _ in .string(o[path: ["spec", "nodeName"]]?.stringValue ?? "<none>") },
                Column(name: "Nominated Node", priority: 1) { o, _ in .string(o[path: ["status", "nominatedNodeName"]]?.stringValue ?? "<none>") },
                Column(name: "Readiness Gates", priority: 1) { o, _ in
                    let gates = o[path: ["spec", "readinessGates"]]?.arrayValue ?? []
                    return .string(gates.isEmpty ? "<none>" : "0/\(gates.count)")
                },
            ])
        case ("", "Service"):
            return BuiltinTable(columns: [nameColumn,
                Column(name: "Type") { o, _ in o[path: ["spec", "type"]] ?? "ClusterIP" },
                Column(name: "Cluster-IP") { o, _ in .string(o[path: ["spec", "clusterIP"]]?.stringValue ?? "<none>") },
                Column(name: "External-IP") { o, _ in
                    switch o[path: ["spec", "type"]]?.stringValue ?? "ClusterIP" {
                    case "ExternalName": return .string(o[path: ["spec", "externalName"]]?.stringValue ?? "<none>")
                    case "LoadBalancer":
                        let ingress = (o[path: ["status", "loadBalancer", "ingress"]]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue ?? $0["hostname"]?.stringValue }
                        let external = (o[path: ["spec", "externalIPs"]]?.arrayValue ?? []).compactMap(\.stringValue)
                        let all = ingress + external
                        return .string(all.isEmpty ? "<pending>" : all.joined(separator: ","))
                    default:
                        let external = (o[path: ["spec", "externalIPs"]]?.arrayValue ?? []).compactMap(\.stringValue)
                        return .string(external.isEmpty ? "<none>" : external.joined(separator: ","))
                    }
                },
                Column(name: "Port(s)") { o, _ in
                    let ports = (o[path: ["spec", "ports"]]?.arrayValue ?? []).map { p -> String in
                        let proto = p["protocol"]?.stringValue ?? "TCP"
                        if let node = p["nodePort"]?.intValue { return "\(int(p["port"])):\(node)/\(proto)" }
                        return "\(int(p["port"]))/\(proto)"
                    }
                    return .string(ports.isEmpty ? "<none>" : ports.joined(separator: ","))
                },
                ageColumn,
                Column(name: "Selector", priority: 1) { o, _ in .string(mapSelector(o[path: ["spec", "selector"]])) },
            ])
        case ("apps", "Deployment"):
            return BuiltinTable(columns: [nameColumn,
                Column(name: "Ready") { o, _ in .string("\(int(o[path: ["status", "readyReplicas"]]))/\(int(o[path: ["spec", "replicas"]]))") },
                Column(name: "Up-to-date", type: "integer") { o, _ in .int(int(o[path: ["status", "updatedReplicas"]])) },
                Column(name: "Available", type: "integer") { o, _ in .int(int(o[path: ["status", "availableReplicas"]])) },
                ageColumn, containers(workload), images(workload), selector(["spec", "selector"]),
            ])
        case ("apps", "ReplicaSet"):
            return BuiltinTable(columns: [nameColumn,
                Column(name: "Desired", type: "integer") { o, _ in .int(int(o[path: ["spec", "replicas"]])) },
                Column(name: "Current", type: "integer") { o, _ in .int(int(o[path: ["status", "replicas"]])) },
                Column(name: "Ready", type: "integer") { o, _ in .int(int(o[path: ["status", "readyReplicas"]])) },
                ageColumn, containers(workload), images(workload), selector(["spec", "selector"]),
            ])
        case ("batch", "Job"):
            return BuiltinTable(columns: [nameColumn,
                Column(name: "Status") { o, _ in
                    if condition(o, "Complete") { return "Complete" }
                    if condition(o, "Failed") { return "Failed" }
                    if o[path: ["metadata", "deletionTimestamp"]] != nil { return "Terminating" }
                    if condition(o, "SuccessCriteriaMet") { return "SuccessCriteriaMet" }
                    if condition(o, "FailureTarget") { return "FailureTarget" }
                    if condition(o, "Suspended") { return "Suspended" }
                    return "Running"
                },
                Column(name: "Completions") { o, _ in
                    let succeeded = int(o[path: ["status", "succeeded"]])
                    if let completions = o[path: ["spec", "completions"]]?.intValue { return .string("\(succeeded)/\(completions)") }
                    let parallelism = o[path: ["spec", "parallelism"]]?.intValue ?? 1
                    return .string(parallelism > 1 ? "\(succeeded)/1 of \(parallelism)" : "\(succeeded)/1")
                },
                Column(name: "Duration") { o, now in
                    guard let start = o[path: ["status", "startTime"]]?.stringValue.flatMap(Time.init(rfc3339:)) else { return "" }
                    let end = o[path: ["status", "completionTime"]]?.stringValue.flatMap(Time.init(rfc3339:)) ?? now
                    return .string(TablePrinter.age(end.secondsSince1970 - start.secondsSince1970))
                },
                ageColumn, containers(workload), images(workload), selector(["spec", "selector"]),
            ])
        case ("batch", "CronJob"):
            let jobPod = ["spec", "jobTemplate", "spec", "template", "spec"]
            return BuiltinTable(columns: [nameColumn,
                Column(name: "Schedule") { o, _ in o[path: ["spec", "schedule"]] ?? "" },
                Column(name: "Timezone") { o, _ in .string(o[path: ["spec", "timeZone"]]?.stringValue ?? "<none>") },
                Column(name: "Suspend", type: "boolean") { o, _ in .bool(o[path: ["spec", "suspend"]]?.boolValue ?? false) },
                Column(name: "Active", type: "integer") { o, _ in .int(Int64(o[path: ["status", "active"]]?.arrayValue?.count ?? 0)) },
                Column(name: "Last Schedule") { o, now in .string(since(o[path: ["status", "lastScheduleTime"]], now) ?? "<none>") },
                ageColumn, containers(jobPod), images(jobPod), selector(["spec", "jobTemplate", "spec", "selector"]),
            ])
        case ("", "ConfigMap"):
            return BuiltinTable(columns: [nameColumn,
                Column(name: "Data", type: "integer") { o, _ in .int(Int64((o["data"]?.objectValue?.count ?? 0) + (o["binaryData"]?.objectValue?.count ?? 0))) },
                ageColumn])
        case ("", "Secret"):
            return BuiltinTable(columns: [nameColumn,
                Column(name: "Type") { o, _ in o["type"] ?? "Opaque" },
                Column(name: "Data", type: "integer") { o, _ in .int(Int64(o["data"]?.objectValue?.count ?? 0)) },
                ageColumn])
        case ("", "Namespace"):
            return BuiltinTable(columns: [nameColumn, Column(name: "Status") { o, _ in o[path: ["status", "phase"]] ?? "Active" }, ageColumn])
        case ("", "ServiceAccount"):
            return BuiltinTable(columns: [nameColumn,
                Column(name: "Secrets", type: "integer") { o, _ in .int(Int64(o["secrets"]?.arrayValue?.count ?? 0)) }, ageColumn])
        case ("networking.k8s.io", "Ingress"):
            return BuiltinTable(columns: [nameColumn,
                Column(name: "Class") { o, _ in .string(o[path: ["spec", "ingressClassName"]]?.stringValue ?? "<none>") },
                Column(name: "Hosts") { o, _ in
                    let hosts = (o[path: ["spec", "rules"]]?.arrayValue ?? []).map { $0["host"]?.stringValue ?? "*" }
                    return .string(hosts.isEmpty ? "*" : hosts.joined(separator: ","))
                },
                Column(name: "Address") { o, _ in
                    .string((o[path: ["status", "loadBalancer", "ingress"]]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue ?? $0["hostname"]?.stringValue }.joined(separator: ","))
                },
                Column(name: "Ports") { o, _ in .string((o[path: ["spec", "tls"]]?.arrayValue ?? []).isEmpty ? "80" : "80, 443") },
                ageColumn])
        case ("coordination.k8s.io", "Lease"):
            return BuiltinTable(columns: [nameColumn, Column(name: "Holder") { o, _ in o[path: ["spec", "holderIdentity"]] ?? "" }, ageColumn])
        case ("discovery.k8s.io", "EndpointSlice"):
            return BuiltinTable(columns: [nameColumn,
                Column(name: "AddressType") { o, _ in o["addressType"] ?? "" },
                Column(name: "Ports") { o, _ in
                    let ports = (o["ports"]?.arrayValue ?? []).compactMap { $0["port"]?.intValue }.map(String.init)
                    return .string(ports.isEmpty ? "<unset>" : ports.joined(separator: ","))
                },
                Column(name: "Endpoints") { o, _ in
                    let addresses = (o["endpoints"]?.arrayValue ?? []).flatMap { $0["addresses"]?.arrayValue ?? [] }.compactMap(\.stringValue)
                    if addresses.isEmpty { return "<unset>" }
                    let shown = addresses.prefix(3).joined(separator: ",")
                    return .string(addresses.count > 3 ? "\(shown) + \(addresses.count - 3) more..." : shown)
                },
                ageColumn])
        case ("", "Event"), ("events.k8s.io", "Event"):
            // The stored (core/v1) form, whichever API asks.
            return BuiltinTable(columns: [
                Column(name: "Last Seen") { o, now in .string(eventLastSeen(o, now)) },
                Column(name: "Type") { o, _ in o["type"] ?? "" },
                Column(name: "Reason") { o, _ in o["reason"] ?? "" },
                Column(name: "Object") { o, _ in
                    .string("\((o[path: ["involvedObject", "kind"]]?.stringValue ?? "").lowercased())/\(o[path: ["involvedObject", "name"]]?.stringValue ?? "")")
                },
                Column(name: "Subobject", priority: 1) { o, _ in o[path: ["involvedObject", "fieldPath"]] ?? "" },
                Column(name: "Source", priority: 1) { o, _ in
                    let component = o[path: ["source", "component"]]?.stringValue ?? ""
                    if !component.isEmpty {
                        let host = o[path: ["source", "host"]]?.stringValue ?? ""
                        return .string(host.isEmpty ? component : "\(component), \(host)")
                    }
                    let controller = o["reportingComponent"]?.stringValue ?? ""
                    let instance = o["reportingInstance"]?.stringValue ?? ""
                    return .string(instance.isEmpty ? controller : "\(controller), \(instance)")
                },
                Column(name: "Message") { o, _ in .string((o["message"]?.stringValue ?? "").trimmingASCIIWhitespace()) },
                Column(name: "First Seen", priority: 1) { o, now in
                    .string(since(o["firstTimestamp"], now) ?? since(o["eventTime"], now) ?? "<unknown>")
                },
                Column(name: "Count", type: "integer", priority: 1) { o, _ in
                    .int(o[path: ["series", "count"]]?.intValue ?? o["count"]?.intValue ?? 1)
                },
                Column(name: "Name", priority: 1, format: "name", cell: name),
            ])
        case ("apiextensions.k8s.io", "CustomResourceDefinition"), ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "ClusterRole"):
            return BuiltinTable(columns: [nameColumn, Column(name: "Created At", type: "date") { o, _ in o[path: ["metadata", "creationTimestamp"]] ?? "" }])
        case ("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"):
            func subjects(_ kind: String) -> Column {
                Column(name: kind == "User" ? "Users" : kind == "Group" ? "Groups" : "ServiceAccounts", priority: 1) { o, _ in
                    .string((o["subjects"]?.arrayValue ?? []).filter { $0["kind"]?.stringValue == kind }.compactMap { s in
                        kind == "ServiceAccount" ? "\(s["namespace"]?.stringValue ?? ""):\(s["name"]?.stringValue ?? "")" : s["name"]?.stringValue
                    }.joined(separator: ", "))
                }
            }
            return BuiltinTable(columns: [nameColumn,
                Column(name: "Role") { o, _ in .string("\(o[path: ["roleRef", "kind"]]?.stringValue ?? "")/\(o[path: ["roleRef", "name"]]?.stringValue ?? "")") },
                ageColumn, subjects("User"), subjects("Group"), subjects("ServiceAccount")])
        default:
            return nil
        }
    }

    /// When an Event last happened: the newest step of a series, else its last timestamp, else its event time.
    static func eventLastSeen(_ o: JSONValue, _ now: Time) -> String {
        since(o[path: ["series", "lastObservedTime"]], now) ?? since(o["lastTimestamp"], now) ?? since(o["eventTime"], now) ?? "<unknown>"
    }
}
