import KubeCore

/// kube-apiserver's RBAC authorizer, for the users of ``LocalCluster/Options/rbacTokens``: a request is allowed when a
/// ClusterRoleBinding, or a RoleBinding in the request's namespace, binds the user (or one of its groups) to a role
/// with a rule that covers the request's verb, API group, resource (`resource/subresource`) and name. As in a cluster,
/// every authenticated user may read discovery, `/version`, `/openapi` and the health endpoints (system:discovery).
/// Not modelled: aggregated ClusterRoles (aggregationRule), impersonation, escalate/bind checks.
enum RBACAuthorizer {
    /// What a request asks for, as kube-apiserver's RequestInfo has it.
    struct Attributes: Equatable, CustomStringConvertible {
        var verb: String
        var group = ""
        var resource = ""
        var subresource = ""
        var namespace = ""
        var name = ""
        var isResource = true
        var path = ""

        var description: String {
            isResource ? "\(verb) \(group.isEmpty ? "" : group + "/")\(resource)\(subresource.isEmpty ? "" : "/" + subresource)\(name.isEmpty ? "" : " " + name)\(namespace.isEmpty ? "" : " in " + namespace)"
                : "\(verb) \(path)"
        }
    }

    /// The groups a service account's user is in (`system:serviceaccount:NS:NAME`).
    static func groups(of user: String) -> [String] {
        var groups = ["system:authenticated"]
        let parts = user.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 4, parts[0] == "system", parts[1] == "serviceaccount" {
            groups += ["system:serviceaccounts", "system:serviceaccounts:\(parts[2])"]
        }
        return groups
    }

    /// kube-apiserver's RequestInfo for a path, method and query.
    static func attributes(method: String, path: String, query: [String: String]) -> Attributes {
        let segments = path.split(separator: "/").map(String.init)
        var rest: ArraySlice<String>
        var a = Attributes(verb: method.lowercased(), path: path)
        if segments.first == "api", segments.count >= 2 { rest = segments[2...] }
        else if segments.first == "apis", segments.count >= 3 { a.group = segments[1]; rest = segments[3...] }
        else { a.isResource = false; return a }
        if rest.first == "namespaces", rest.count >= 2 {
            a.namespace = rest[rest.startIndex + 1]
            if rest.count > 2 && rest[rest.startIndex + 2] != "status" && rest[rest.startIndex + 2] != "finalize" {
                rest = rest.dropFirst(2)
            }
        }
        let parts = Array(rest)
        if parts.isEmpty { a.isResource = false; return a }
        a.resource = parts[0]
        if parts.count >= 2 { a.name = parts[1] }
        if parts.count >= 3 { a.subresource = parts[2] }
        let watch = ["true", "1", "t", "True", "TRUE"].contains(query["watch"] ?? "")
        switch method {
        case "GET", "HEAD":
            // A collection is listed or watched; a list or watch with an exact metadata.name field selector is
            // authorized for that name (so resourceNames rules apply), as RequestInfo does. A named GET is a get.
            if a.name.isEmpty {
                a.verb = watch ? "watch" : "list"
                let terms = (query["fieldSelector"] ?? "").split(separator: ",")
                for term in terms {
                    for op in ["==", "="] where term.hasPrefix("metadata.name" + op) {
                        a.name = String(term.dropFirst(("metadata.name" + op).count))
                        break
                    }
                    if !a.name.isEmpty { break }
                }
            } else {
                a.verb = "get"
            }
        case "POST": a.verb = "create"
        case "PUT": a.verb = "update"
        case "PATCH": a.verb = "patch"
        case "DELETE": a.verb = a.name.isEmpty ? "deletecollection" : "delete"
        default: a.verb = method.lowercased()
        }
        return a
    }

    /// Paths every authenticated user may GET (the system:discovery and system:public-info-viewer ClusterRoles).
    static func isDiscovery(_ path: String) -> Bool {
        ["/api", "/apis", "/version", "/openapi", "/healthz", "/livez", "/readyz"].contains { path == $0 || path.hasPrefix($0 + "/") }
            && !path.hasPrefix("/api/v1/") && !(path.hasPrefix("/apis/") && path.split(separator: "/").count > 3)
    }

    /// Whether one PolicyRule covers the request.
    static func covers(_ rule: JSONValue, _ a: Attributes) -> Bool {
        func list(_ key: String) -> [String] { rule[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        let verbs = list("verbs")
        guard verbs.contains("*") || verbs.contains(a.verb) else { return false }
        if !a.isResource {
            return list("nonResourceURLs").contains { url in
                url == "*" || url == a.path || (url.hasSuffix("*") && a.path.hasPrefix(String(url.dropLast())))
            }
        }
        let groups = list("apiGroups")
        guard groups.contains("*") || groups.contains(a.group) else { return false }
        let combined = a.subresource.isEmpty ? a.resource : "\(a.resource)/\(a.subresource)"
        let resources = list("resources")
        guard resources.contains(where: { r in
            r == "*" || r == combined || (!a.subresource.isEmpty && r == "*/\(a.subresource)")
        }) else { return false }
        let names = list("resourceNames")
        return names.isEmpty || names.contains(a.name)
    }

    /// Whether a binding's subjects include the user or one of its groups.
    static func binds(_ binding: JSONValue, user: String, groups: [String]) -> Bool {
        let bindingNamespace = binding[path: ["metadata", "namespace"]]?.stringValue ?? ""
        return (binding["subjects"]?.arrayValue ?? []).contains { s in
            let name = s["name"]?.stringValue ?? ""
            switch s["kind"]?.stringValue {
            case "ServiceAccount":
                return user == "system:serviceaccount:\(s["namespace"]?.stringValue ?? bindingNamespace):\(name)"
            case "User": return user == name
            case "Group": return groups.contains(name)
            default: return false
            }
        }
    }
}

extension ClusterState {
    /// Whether RBAC, as stored in this cluster, allows `user` the request.
    func authorize(user: String, _ a: RBACAuthorizer.Attributes) -> Bool {
        if a.verb == "get" || a.verb == "head", RBACAuthorizer.isDiscovery(a.path) { return true }
        let groups = RBACAuthorizer.groups(of: user)
        let rbac = "rbac.authorization.k8s.io/"
        func rules(kind: String?, name: String?, namespace: String) -> [JSONValue] {
            guard let name else { return [] }
            let role = kind == "ClusterRole" ? objects[rbac + "clusterroles"]?[Self.objectKey(nil, name)]
                : objects[rbac + "roles"]?[Self.objectKey(namespace, name)]
            return role?["rules"]?.arrayValue ?? []
        }
        for binding in (objects[rbac + "clusterrolebindings"] ?? [:]).values
        where binding[path: ["roleRef", "kind"]]?.stringValue == "ClusterRole" && RBACAuthorizer.binds(binding, user: user, groups: groups) {
            if rules(kind: "ClusterRole", name: binding[path: ["roleRef", "name"]]?.stringValue, namespace: "")
                .contains(where: { RBACAuthorizer.covers($0, a) }) { return true }
        }
        guard !a.namespace.isEmpty, a.isResource else { return false }
        for (key, binding) in objects[rbac + "rolebindings"] ?? [:]
        where key.hasPrefix(a.namespace + "/") && RBACAuthorizer.binds(binding, user: user, groups: groups) {
            if rules(kind: binding[path: ["roleRef", "kind"]]?.stringValue, name: binding[path: ["roleRef", "name"]]?.stringValue, namespace: a.namespace)
                .contains(where: { RBACAuthorizer.covers($0, a) }) { return true }
        }
        return false
    }
}
