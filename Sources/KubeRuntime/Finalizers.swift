import KubeClient
import KubeCore

/// Adds and removes finalizers with JSON patches guarded by `test` operations, so a concurrent change to the list
/// makes the patch fail (422) instead of silently dropping someone else's finalizer.
public enum Finalizers {
    /// Adds `finalizer` unless present. Returns the patched object, or the object itself when nothing was needed.
    public static func add<T: KubernetesObject>(_ finalizer: String, to object: T, api: Api<T>) async throws -> T {
        let current = object.metadata.finalizers ?? []
        if current.contains(finalizer) { return object }
        let name = object.metadata.name ?? ""
        let ops: [JSONPatchOperation]
        if object.metadata.finalizers == nil {
            ops = [.test("/metadata/resourceVersion", .string(object.metadata.resourceVersion ?? "")),
                   .add("/metadata/finalizers", [.string(finalizer)])]
        } else {
            ops = [.test("/metadata/finalizers", .array(current.map { .string($0) })),
                   .add("/metadata/finalizers/-", .string(finalizer))]
        }
        return try await api.patch(name, namespace: object.metadata.namespace, .json(ops))
    }

    /// Removes `finalizer` if present.
    public static func remove<T: KubernetesObject>(_ finalizer: String, from object: T, api: Api<T>) async throws -> T {
        guard let index = object.metadata.finalizers?.firstIndex(of: finalizer) else { return object }
        let path = "/metadata/finalizers/\(index)"
        return try await api.patch(object.metadata.name ?? "", namespace: object.metadata.namespace,
                                   .json([.test(path, .string(finalizer)), .remove(path)]))
    }
}

extension KubernetesObject {
    /// An owner reference to this object (controller by default), for the objects it manages.
    public func ownerReference(resource: ResourceDescriptor, controller: Bool = true) -> OwnerReference? {
        guard let name = metadata.name, let uid = metadata.uid else { return nil }
        return OwnerReference(apiVersion: resource.apiVersion, kind: resource.kind, name: name, uid: uid,
                              controller: controller, blockOwnerDeletion: controller)
    }

    /// Whether `owner` is this object's controlling owner.
    public func isControlled(by ownerUID: String) -> Bool {
        metadata.ownerReferences?.contains { $0.uid == ownerUID && $0.controller == true } ?? false
    }
}
