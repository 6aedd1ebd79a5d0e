import KubeCore

/// The OpenAPI v3 documents kubectl reads before `apply` and `patch`: an index of group versions, and per group
/// version the paths with their `x-kubernetes-group-version-kind` and the `fieldValidation` parameter, so kubectl
/// uses server-side field validation. CRD schemas are published under `components.schemas` (for `kubectl explain`).
enum OpenAPI {
    static func gvPath(_ group: String, _ version: String) -> String { group.isEmpty ? "api/\(version)" : "apis/\(group)/\(version)" }

    static func index(_ types: [ResourceType]) -> JSONValue {
        var paths = JSONObject()
        for t in types {
            for v in t.servedVersions {
                let p = gvPath(t.descriptor.group, v)
                paths[p] = ["serverRelativeURL": .string("/openapi/v3/\(p)")]
            }
        }
        return ["paths": .object(paths)]
    }

    static func document(_ types: [ResourceType], group: String, version: String) -> JSONValue? {
        let matching = types.filter { $0.descriptor.group == group && $0.servedVersions.contains(version) }
        guard !matching.isEmpty else { return nil }
        var paths = JSONObject()
        var schemas = JSONObject()
        let base = "/" + gvPath(group, version)
        let params: JSONValue = [
            ["name": "fieldValidation", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
            ["name": "fieldManager", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
            ["name": "dryRun", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
        ]
        for t in matching {
            let gvk: JSONValue = ["group": .string(group), "version": .string(version), "kind": .string(t.descriptor.kind)]
            let schemaName = "\(group.isEmpty ? "io.k8s.api.core" : group).\(version).\(t.descriptor.kind)"
            let ref: JSONValue = ["$ref": .string("#/components/schemas/\(schemaName)")]
            let ok: JSONValue = ["200": ["description": "OK", "content": ["application/json": ["schema": ref]]]]
            func op(_ action: String) -> JSONValue {
                ["operationId": .string("\(action)\(t.descriptor.kind)"), "x-kubernetes-action": .string(action),
                 "x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": ok]
            }
            let collection = t.descriptor.namespaced ? "\(base)/namespaces/{namespace}/\(t.descriptor.resource)" : "\(base)/\(t.descriptor.resource)"
            paths[collection] = ["get": op("list"), "post": op("post")]
            paths["\(collection)/{name}"] = ["get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")]
            if t.hasStatusSubresource {
                paths["\(collection)/{name}/status"] = ["get": op("get"), "put": op("put"), "patch": op("patch")]
            }
            var schema = t.schema ?? ["type": "object", "x-kubernetes-preserve-unknown-fields": true]
            schema["x-kubernetes-group-version-kind"] = [gvk]
            schemas[schemaName] = schema
        }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.32.0"],
                "paths": .object(paths), "components": ["schemas": .object(schemas)]]
    }
}
