#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Kubernetes timestamp (`metav1.Time`): RFC 3339 in UTC, whole seconds on the wire.
///
/// Caveat: fractions are accepted when decoding and dropped when encoding, as the API server does for `metav1.Time`.
public struct Time: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z, with any fraction that was parsed.
    public var secondsSince1970: Double

    public init(secondsSince1970: Double) { self.secondsSince1970 = secondsSince1970 }

    /// The current wall-clock time.
    public static func now() -> Time {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Time(secondsSince1970: Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9)
    }

    /// Parses RFC 3339 (`2024-05-01T10:00:00Z`, `2024-05-01T10:00:00.123456+02:00`).
    public init?(rfc3339 text: String) {
        guard let s = Time.parse(text) else { return nil }
        secondsSince1970 = s
    }

    /// RFC 3339 with whole seconds, e.g. `2024-05-01T10:00:00Z`.
    public var rfc3339: String { Time.format(secondsSince1970, fractionDigits: 0) }
    /// RFC 3339 with microseconds, the `metav1.MicroTime` form.
    public var rfc3339Micro: String { Time.format(secondsSince1970, fractionDigits: 6) }
    public var description: String { rfc3339 }

    public static func < (a: Time, b: Time) -> Bool { a.secondsSince1970 < b.secondsSince1970 }

    /// This time plus `seconds`.
    public func adding(seconds: Double) -> Time { Time(secondsSince1970: secondsSince1970 + seconds) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let s = Time.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "'\(text)' is not an RFC 3339 time"))
        }
        secondsSince1970 = s
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rfc3339)
    }

    static func format(_ seconds: Double, fractionDigits: Int) -> String {
        var whole = time_t(seconds.rounded(.down))
        var parts = tm()
        gmtime_r(&whole, &parts)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        var out = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
        if fractionDigits > 0 {
            let frac = Int32(((seconds - seconds.rounded(.down)) * 1_000_000).rounded(.down))
            out += "." + pad(frac, 6)
        }
        return out + "Z"
    }

    static func parse(_ text: String) -> Double? {
        let u = Array(text.utf8)
        guard u.count >= 20 else { return nil }
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= u.count else { return nil }
            var v = 0
            for i in from..<(from + len) {
                guard (48...57).contains(u[i]) else { return nil }
                v = v * 10 + Int(u[i] - 48)
            }
            return v
        }
        guard let y = num(0, 4), u[4] == 45, let mo = num(5, 2), u[7] == 45, let d = num(8, 2),
              u[10] == 84 || u[10] == 116 || u[10] == 32, let h = num(11, 2), u[13] == 58, let mi = num(14, 2),
              u[16] == 58, let s = num(17, 2), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < u.count, u[i] == 46 {
            i += 1
            var scale = 0.1
            let start = i
            while i < u.count, (48...57).contains(u[i]) { fraction += Double(u[i] - 48) * scale; scale /= 10; i += 1 }
            if i == start { return nil }
        }
        guard i < u.count else { return nil }
        var offset = 0
        if u[i] == 90 || u[i] == 122 { i += 1 }
        else if u[i] == 43 || u[i] == 45 {
            guard let oh = num(i + 1, 2), u.count > i + 3, u[i + 3] == 58, let om = num(i + 4, 2) else { return nil }
            offset = (oh * 3600 + om * 60) * (u[i] == 45 ? -1 : 1)
            i += 6
        } else { return nil }
        guard i == u.count else { return nil }
        // Days from civil date (Howard Hinnant's algorithm), so no locale or timezone state is involved.
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return Double(days * 86400 + h * 3600 + mi * 60 + s - offset) + fraction
    }
}

/// A Kubernetes `metav1.MicroTime`: RFC 3339 with microseconds (Events, Leases).
public struct MicroTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The instant.
    public var time: Time
    public init(_ time: Time) { self.time = time }
    public static func now() -> MicroTime { MicroTime(.now()) }
    public var description: String { time.rfc3339Micro }
    public static func < (a: MicroTime, b: MicroTime) -> Bool { a.time < b.time }
    public init(from decoder: any Decoder) throws { time = try Time(from: decoder) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(time.rfc3339Micro)
    }
}

extension Duration {
    /// As seconds in floating point.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
