import KubeCore

/// A Secret or a key of it that is not there; says which, never a value.
public struct SecretValueMissing: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension Api where T == Secret {
    /// The text of one key of a Secret (in this Api's namespace). Throws ``SecretValueMissing`` naming the Secret
    /// or the key when either is absent; API errors as they come.
    public func value(_ name: String, key: String) async throws -> String {
        guard let s = try await getIfExists(name) else { throw SecretValueMissing(description: "Secret \(name) not found") }
        guard let bytes = s.decodedData[key] else { throw SecretValueMissing(description: "Secret \(name) has no key \(key)") }
        return String(decoding: bytes, as: UTF8.self)
    }
}
