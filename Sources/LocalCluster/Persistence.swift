#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KubeClient
import KubeCore
import Synchronization

/// Keeps a LocalCluster's objects in a data directory: one JSON snapshot, written atomically within a second of a
/// change and at stop, read at start.
final class Persistence: Sendable {
    let file: String
    let state: ClusterState
    private let pending = Mutex(false)

    init(directory: String, state: ClusterState) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        file = Paths.join(directory, "state.json")
        self.state = state
    }

    func load() async throws {
        guard let data = FileManager.default.contents(atPath: file) else { return }
        let json = try JSONParser.parse(Array(data))
        var objects: [String: [String: JSONValue]] = [:]
        for (typeKey, bucket) in json["objects"]?.objectValue ?? JSONObject() {
            for (key, o) in bucket.objectValue ?? JSONObject() { objects[typeKey, default: [:]][key] = o }
        }
        // CRDs first, so the types they define exist before their objects are restored.
        await state.restore(resourceVersion: json["resourceVersion"]?.intValue ?? 1, objects: objects)
    }

    func save() async throws {
        let (rv, objects) = await state.snapshot()
        var o = JSONObject()
        for (typeKey, bucket) in objects { o[typeKey] = .object(JSONObject(bucket)) }
        let doc: JSONValue = ["resourceVersion": .int(rv), "objects": .object(o)]
        try Data(doc.serialized()).write(to: URL(fileURLWithPath: file), options: .atomic)
    }

    /// Coalesces saves: at most one per second.
    func scheduleSave() {
        let first = pending.withLock { p -> Bool in
            defer { p = true }
            return !p
        }
        guard first else { return }
        Task {
            try? await Task.sleep(for: .seconds(1))
            pending.withLock { $0 = false }
            try? await save()
        }
    }
}
