import KubeCore

/// Status conditions as kstatus, Flux and Argo CD read them.
public enum Conditions {
    /// Sets a condition: `lastTransitionTime` changes only when `status` flips; `observedGeneration` is always
    /// updated. Returns whether anything changed.
    @discardableResult
    public static func set(_ conditions: inout [Condition], type: String, status: Bool?, reason: String, message: String,
                           observedGeneration: Int64?, now: Time = .now()) -> Bool {
        let statusText = status.map { $0 ? "True" : "False" } ?? "Unknown"
        if let i = conditions.firstIndex(where: { $0.type == type }) {
            var c = conditions[i]
            let flipped = c.status != statusText
            c.status = statusText
            c.reason = reason
            c.message = message
            c.observedGeneration = observedGeneration
            if flipped || c.lastTransitionTime == nil { c.lastTransitionTime = now }
            let changed = c != conditions[i]
            conditions[i] = c
            return changed
        }
        conditions.append(Condition(type: type, status: statusText, observedGeneration: observedGeneration,
                                    lastTransitionTime: now, reason: reason, message: message))
        return true
    }

    /// Removes a condition; returns whether it was there.
    @discardableResult
    public static func remove(_ conditions: inout [Condition], type: String) -> Bool {
        let before = conditions.count
        conditions.removeAll { $0.type == type }
        return conditions.count != before
    }
}
