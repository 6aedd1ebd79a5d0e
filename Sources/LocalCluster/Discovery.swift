import KubeCore

/// The discovery documents kubectl reads: /api, /apis, /apis/GROUP, and the resource lists per group version.
enum Discovery {
    static func coreVersions(address: String) -> JSONValue {
        ["kind": "APIVersions", "versions": ["v1"],
         "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(address)]]]
    }

    static func groups(_ types: [ResourceType]) -> JSONValue {
        var byGroup: [String: Set<String>] = [:]
        var preferred: [String: String] = [:]
        for t in types where !t.descriptor.group.isEmpty {
            byGroup[t.descriptor.group, default: []].formUnion(t.servedVersions)
            preferred[t.descriptor.group] = preferred[t.descriptor.group] ?? t.descriptor.version
        }
        let list: [JSONValue] = byGroup.keys.sorted().map { g in group(g, versions: byGroup[g]!.sorted(by: versionOrder), preferred: preferred[g]!) }
        return ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(list)]
    }

    /// Kubernetes version priority: GA before beta before alpha, higher numbers first.
    static func versionOrder(_ a: String, _ b: String) -> Bool {
        func rank(_ v: String) -> (Int, Int, Int) {
            let major = Int(v.dropFirst().prefix { $0.isNumber }) ?? 0
            if let r = v.firstRange(of: "beta") { return (1, major, Int(v[r.upperBound...]) ?? 0) }
            if let r = v.firstRange(of: "alpha") { return (2, major, Int(v[r.upperBound...]) ?? 0) }
            return (0, major, 0)
        }
        let ra = rank(a), rb = rank(b)
        if ra.0 != rb.0 { return ra.0 < rb.0 }
        if ra.1 != rb.1 { return ra.1 > rb.1 }
        return ra.2 > rb.2
    }

    static func group(_ name: String, versions: [String], preferred: String) -> JSONValue {
        let vs: [JSONValue] = versions.map { ["groupVersion": .string("\(name)/\($0)"), "version": .string($0)] }
        let pref = versions.contains(preferred) ? preferred : versions.first ?? preferred
        return ["kind": "APIGroup", "apiVersion": "v1", "name": .string(name), "versions": .array(vs),
                "preferredVersion": ["groupVersion": .string("\(name)/\(pref)"), "version": .string(pref)]]
    }

    static func resources(_ types: [ResourceType], group: String, version: String) -> JSONValue? {
        let matching = types.filter { $0.descriptor.group == group && $0.servedVersions.contains(version) }
        guard !matching.isEmpty else { return nil }
        var list: [JSONValue] = []
        for t in matching.sorted(by: { $0.descriptor.resource < $1.descriptor.resource }) {
            var r: JSONValue = [
                "name": .string(t.descriptor.resource), "singularName": .string(t.singular),
                "namespaced": .bool(t.descriptor.namespaced), "kind": .string(t.descriptor.kind),
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            ]
            if !t.shortNames.isEmpty { r["shortNames"] = .array(t.shortNames.map { .string($0) }) }
            if !t.categories.isEmpty { r["categories"] = .array(t.categories.map { .string($0) }) }
            list.append(r)
            if t.hasStatusSubresource {
                list.append(["name": .string(t.descriptor.resource + "/status"), "singularName": "",
                             "namespaced": .bool(t.descriptor.namespaced), "kind": .string(t.descriptor.kind),
                             "verbs": ["get", "patch", "update"]])
            }
            if ScaleSubresource.supports(t) {
                list.append(["name": .string(t.descriptor.resource + "/scale"), "singularName": "",
                             "namespaced": .bool(t.descriptor.namespaced), "kind": "Scale", "group": "autoscaling", "version": "v1",
                             "verbs": ["get", "patch", "update"]])
            }
        }
        return ["kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"), "resources": .array(list)]
    }
}
