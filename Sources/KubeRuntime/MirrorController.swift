#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import KubeCore
import Logging

/// The runtime's reference controller: for every ConfigMap labelled `mirror=true`, keep a Secret with the same name
/// and namespace whose data equals the ConfigMap's data, owned (controller=true) by the ConfigMap, so it is updated
/// when the ConfigMap changes and garbage-collected when it goes.
public enum MirrorController {
    /// The label that selects ConfigMaps to mirror.
    public static let labelSelector = "mirror=true"
    /// The field manager of the Secrets it writes.
    public static let fieldManager = "salespot-mirror"

    /// Builds the controller.
    /// - Parameter shardSelector: an extra label selector, to split the ConfigMaps across operator instances.
    public static func make(client: KubeClient, namespaces: [String]? = nil, shardSelector: String? = nil, workers: Int = 2,
                            metrics: ControllerMetrics? = nil, logger: Logger = Logger(label: "salespot.mirror")) -> Controller<ConfigMap> {
        let secrets = Store<Secret>()
        let secretApi = Api<Secret>(client)
        let selector = [labelSelector, shardSelector].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ",")
        return Controller(name: "mirror", api: Api<ConfigMap>(client), namespaces: namespaces, labelSelector: selector,
                          workers: workers, metrics: metrics, logger: logger) { request in
            guard let cm = request.object else { return .awaitChange }  // deleted: the Secret is garbage-collected
            guard let uid = cm.metadata.uid, let name = cm.metadata.name else { return .awaitChange }
            let data = desiredData(cm)
            if let existing = secrets.get(request.ref), existing.data ?? [:] == data,
               existing.metadata.ownerReferences?.contains(where: { $0.uid == uid && $0.controller == true }) == true {
                return .awaitChange
            }
            let secret: JSONValue = [
                "apiVersion": "v1", "kind": "Secret",
                "metadata": ["name": .string(name), "namespace": .string(cm.metadata.namespace ?? "default"),
                             "ownerReferences": [["apiVersion": "v1", "kind": "ConfigMap", "name": .string(name), "uid": .string(uid),
                                                  "controller": true, "blockOwnerDeletion": true]]],
                "type": "Opaque",
                "data": .object(JSONObject(data.mapValues { JSONValue.string($0) })),
            ]
            _ = try await secretApi.apply(secret, fieldManager: fieldManager, force: true)
            return .awaitChange
        }
        .owns(Api<Secret>(client), store: secrets)
    }

    /// The Secret data for a ConfigMap: its `data` base64-encoded, plus its `binaryData` as it is.
    public static func desiredData(_ cm: ConfigMap) -> [String: String] {
        var out = (cm.data ?? [:]).mapValues { Data($0.utf8).base64EncodedString() }
        for (k, v) in cm.binaryData ?? [:] { out[k] = v }
        return out
    }
}
