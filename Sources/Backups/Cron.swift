#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A standard five-field cron schedule (minute hour day-of-month month day-of-week), as Kubernetes CronJob takes it:
/// lists, ranges, steps (`*/15`, `1-30/2`), month and weekday names, 7 as Sunday, and the macros `@yearly`
/// (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly`. When both day fields are restricted a
/// day matches either (as Vixie cron and Kubernetes). Times are wall-clock times in ``timeZone``: a time skipped by a
/// daylight-saving change does not run that day; a time repeated runs once, at its first occurrence.
public struct CronSchedule: Sendable, Equatable {
    public let expression: String
    let minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>
    let daysRestricted: Bool, weekdaysRestricted: Bool
    public let timeZone: TimeZone

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    public init(_ expression: String, timeZone: String? = nil) throws {
        self.expression = expression
        if let name = timeZone, !name.isEmpty {
            guard let tz = TimeZone(identifier: name) else { throw ParseError(description: "unknown time zone \(name)") }
            self.timeZone = tz
        } else {
            self.timeZone = TimeZone(identifier: "UTC")!
        }
        var text = expression.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("TZ=") || text.hasPrefix("CRON_TZ=") {
            throw ParseError(description: "put the time zone in spec.timeZone, not in the schedule (as CronJob requires)")
        }
        switch text.lowercased() {
        case "@yearly", "@annually": text = "0 0 1 1 *"
        case "@monthly": text = "0 0 1 * *"
        case "@weekly": text = "0 0 * * 0"
        case "@daily", "@midnight": text = "0 0 * * *"
        case "@hourly": text = "0 * * * *"
        default:
            if text.hasPrefix("@") { throw ParseError(description: "unknown schedule macro \(text)") }
        }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(description: "a schedule has 5 fields (minute hour day-of-month month day-of-week), \"\(expression)\" has \(fields.count)")
        }
        let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        minutes = try Self.field(fields[0], "minute", 0...59, names: [:]).values
        hours = try Self.field(fields[1], "hour", 0...23, names: [:]).values
        let dom = try Self.field(fields[2], "day of month", 1...31, names: [:])
        days = dom.values
        months = try Self.field(fields[3], "month", 1...12, names: Dictionary(uniqueKeysWithValues: monthNames.enumerated().map { ($1, $0 + 1) })).values
        let dow = try Self.field(fields[4], "day of week", 0...7, names: Dictionary(uniqueKeysWithValues: dayNames.enumerated().map { ($1, $0) }))
        var wd = dow.values
        if wd.contains(7) { wd.remove(7); wd.insert(0) }
        weekdays = wd
        // As CronJob's parser (robfig/cron) reads it: a day field is unrestricted when one of its parts is `*` or
        // `?` with no step or a step of 1 (`*/2` restricts it).
        daysRestricted = !dom.star
        weekdaysRestricted = !dow.star
        // A schedule that can never fire (30 February) is refused now, not discovered as silence.
        let longest = [1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31]
        if daysRestricted && !weekdaysRestricted && !months.contains(where: { m in days.contains { $0 <= longest[m]! } }) {
            throw ParseError(description: "\"\(expression)\" names no day that exists in its months")
        }
    }

    static func field(_ text: String, _ what: String, _ range: ClosedRange<Int>, names: [String: Int]) throws -> (values: Set<Int>, star: Bool) {
        var out = Set<Int>()
        var star = false
        // Day of week takes 7 for Sunday, but its ranges end at 6 (Saturday): `*` and `5/2` stop there.
        let top = range == 0...7 ? 6 : range.upperBound
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard pieces.count <= 2, !pieces[0].isEmpty else { throw ParseError(description: "bad \(what) field \"\(text)\"") }
            var step = 1
            if pieces.count == 2 {
                // Any positive step (one past the field's end just means the first value alone).
                guard let s = Int(pieces[1]), s > 0 else { throw ParseError(description: "bad step in \(what) field \"\(text)\"") }
                step = s
            }
            func value(_ s: String) throws -> Int {
                if let n = Int(s), range.contains(n) { return n }
                if let n = names[s.lowercased()] { return n }
                throw ParseError(description: "\(what) \"\(s)\" is out of range \(range.lowerBound)-\(range.upperBound)")
            }
            var lo: Int, hi: Int
            if pieces[0] == "*" || pieces[0] == "?" {
                (lo, hi) = (range.lowerBound, top)
                if step == 1 { star = true }
            } else if let dash = pieces[0].firstIndex(of: "-") {
                lo = try value(String(pieces[0][..<dash]))
                hi = try value(String(pieces[0][pieces[0].index(after: dash)...]))
                guard lo <= hi else { throw ParseError(description: "\(what) range \(pieces[0]) runs backwards") }
            } else {
                lo = try value(pieces[0])
                hi = pieces.count == 2 ? max(lo, top) : lo  // "5/15" is 5-max/15, as cron reads it
            }
            for v in stride(from: lo, through: hi, by: step) { out.insert(v) }
        }
        return (out, star)
    }

    /// The first scheduled time strictly after `after`, or `nil` if none in the next five years.
    public func next(after: Date) -> Date? {
        let start = Int((after.timeIntervalSince1970 / 60).rounded(.down)) * 60 + 60  // the next whole minute
        let offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(start)))
        var day = Self.floorDiv(start + offset, 86_400)
        let firstMinute = Self.floorDiv((start + offset) - day * 86_400, 60)
        for i in 0..<(366 * 5) {
            let (y, m, d) = Self.civil(day)
            _ = y
            if months.contains(m) && dayMatches(day: d, weekday: Self.floorMod(day + 4, 7)) {
                for h in hours.sorted() {
                    for mi in minutes.sorted() where i > 0 || h * 60 + mi >= firstMinute {
                        let wall = day * 86_400 + h * 3600 + mi * 60
                        if let t = utc(fromWall: wall), t >= start { return Date(timeIntervalSince1970: Double(t)) }
                    }
                }
            }
            day += 1
        }
        return nil
    }

    /// The latest scheduled time after `after` and at or before `now`, and how many scheduled times fell in that
    /// window (missed runs), as the CronJob controller counts them. Past 10,000 missed runs the count stops and the
    /// search starts again one day before `now`.
    public func mostRecent(after: Date, atOrBefore now: Date) -> (time: Date?, count: Int) {
        var t = after
        var found: Date?
        var count = 0
        while let n = next(after: t), n <= now {
            found = n
            count += 1
            t = n
            if count == 10_000 && now.timeIntervalSince(n) > 86_400 { t = now.addingTimeInterval(-86_400) }
        }
        return (found, count)
    }

    func dayMatches(day: Int, weekday: Int) -> Bool {
        switch (daysRestricted, weekdaysRestricted) {
        case (true, true): return days.contains(day) || weekdays.contains(weekday)
        case (true, false): return days.contains(day)
        case (false, true): return weekdays.contains(weekday)
        case (false, false): return true
        }
    }

    /// Wall-clock seconds in the zone to a UTC instant; `nil` for a time a daylight-saving change skips.
    func utc(fromWall wall: Int) -> Int? {
        var guess = wall - timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(wall)))
        for _ in 0..<3 {
            let off = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(guess)))
            if guess + off == wall {
                // The first occurrence of a repeated hour: an hour earlier may map to the same wall time.
                let earlier = guess - 3600
                if earlier + timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(earlier))) == wall { return earlier }
                return guess
            }
            guess = wall - off
        }
        return nil
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
    static func floorMod(_ a: Int, _ b: Int) -> Int { a - floorDiv(a, b) * b }

    /// (year, month, day) of a day number counted from 1970-01-01.
    static func civil(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
