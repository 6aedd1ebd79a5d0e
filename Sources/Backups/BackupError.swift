@_exported import BackupAPI

public enum BackupError: Error, Sendable, CustomStringConvertible {
    case runner(String)
    case invalid(String)
    public var description: String {
        switch self {
        case .runner(let m), .invalid(let m): return m
        }
    }
}
