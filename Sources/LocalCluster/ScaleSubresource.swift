import KubeCore

/// The autoscaling/v1 Scale view of a workload (`deployments/scale`, `replicasets/scale`).
enum ScaleSubresource {
    static func supports(_ type: ResourceType) -> Bool {
        type.definedBy == nil && type.descriptor.group == "apps" && ["Deployment", "ReplicaSet", "StatefulSet"].contains(type.descriptor.kind)
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
