import KubeCore

/// The autoscaling/v1 Scale view of a workload (`deployments/scale`, `replicasets/scale`).
enum ScaleSubresource {
    static func supports(_ type: ResourceType) -> Bool {
        type.scalePaths != nil
            || type.definedBy == nil && type.descriptor.group == "apps" && ["Deployment", "ReplicaSet", "StatefulSet"].contains(type.descriptor.kind)
    }

    /// Where `spec.replicas` of the Scale is kept in the object.
    static func replicasPath(_ type: ResourceType) -> [String] {
        type.scalePaths.map { ScalePaths.components($0.specReplicas) } ?? ["spec", "replicas"]
    }

    static func scale(of o: JSONValue, type: ResourceType) -> JSONValue {
        guard let paths = type.scalePaths else { return scale(of: o) }
        // As kube-apiserver's custom resource scale: a missing replicas field reads as 0, a missing selector as "".
        var out = scale(of: o)
        out[path: ["spec", "replicas"]] = o[path: ScalePaths.components(paths.specReplicas)] ?? .int(0)
        out[path: ["status", "replicas"]] = o[path: ScalePaths.components(paths.statusReplicas)] ?? .int(0)
        out[path: ["status", "selector"]] = paths.labelSelector.flatMap { o[path: ScalePaths.components($0)] } ?? .string("")
        return out
    }

    static func scale(of o: JSONValue) -> JSONValue {
        let meta = o["metadata"] ?? .emptyObject
        var metadata: JSONValue = ["name": meta["name"] ?? "", "namespace": meta["namespace"] ?? "", "uid": meta["uid"] ?? "",
                                   "resourceVersion": meta["resourceVersion"] ?? "", "creationTimestamp": meta["creationTimestamp"] ?? .null]
        if metadata["namespace"] == "" { metadata["namespace"] = nil }
        return ["apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": metadata,
                "spec": ["replicas": o[path: ["spec", "replicas"]] ?? 1],
                "status": ["replicas": o[path: ["status", "replicas"]] ?? 0,
                           "selector": .string(BuiltinTable.labelSelector(o[path: ["spec", "selector"]]).replacing("<none>", with: ""))]]
    }
}
