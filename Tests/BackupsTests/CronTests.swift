@testable import Backups
import Foundation
import Testing

/// Schedules as Kubernetes CronJob reads them.
@Suite struct CronTests {
    func date(_ s: String) -> Date {
        // "2026-12-02T18:30:00Z"
        let f = ISO8601DateFormatter()
        return f.date(from: s)!
    }
    func iso(_ d: Date?, _ tz: String = "UTC") -> String {
        guard let d else { return "none" }
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: tz)
        return f.string(from: d)
    }

    @Test func theOriginalDesignsSchedules() throws {
        let daily = try CronSchedule("0 2 * * *")
        #expect(iso(daily.next(after: date("2026-12-02T18:30:00Z"))) == "2026-12-03T02:00:00Z")
        #expect(iso(daily.next(after: date("2026-12-03T02:00:00Z"))) == "2026-12-04T02:00:00Z")
        let hourly = try CronSchedule("@hourly")
        #expect(iso(hourly.next(after: date("2026-12-02T18:30:00Z"))) == "2026-12-02T19:00:00Z")
        #expect(iso(hourly.next(after: date("2026-12-02T18:59:59Z"))) == "2026-12-02T19:00:00Z")
    }

    @Test func listsRangesStepsAndNames() throws {
        let s = try CronSchedule("*/15 9-17 * jan-mar mon-fri")
        #expect(iso(s.next(after: date("2026-01-02T17:50:00Z"))) == "2026-01-05T09:00:00Z")  // Friday evening to Monday
        #expect(iso(s.next(after: date("2026-03-31T17:45:00Z"))) == "2027-01-01T09:00:00Z")
        let sunday7 = try CronSchedule("0 0 * * 7")
        #expect(iso(sunday7.next(after: date("2026-12-02T00:00:00Z"))) == "2026-12-06T00:00:00Z")
        // Both day fields restricted: either matches (the 1st, or a Monday).
        let either = try CronSchedule("0 0 1 * 1")
        #expect(iso(either.next(after: date("2026-12-01T00:00:00Z"))) == "2026-12-07T00:00:00Z")
        #expect(iso(either.next(after: date("2026-12-28T00:00:00Z"))) == "2027-01-01T00:00:00Z")
        let stepFrom = try CronSchedule("5/20 * * * *")
        #expect(iso(stepFrom.next(after: date("2026-12-02T10:46:00Z"))) == "2026-12-02T11:05:00Z")
    }

    /// Corners where robfig/cron (CronJob's parser) decides: `N/step` in day of week stops at Saturday, `*/1` leaves
    /// a day field unrestricted (so the other day field alone decides) while `*/2` restricts it, and a step beyond
    /// the field's end is accepted (the first value alone).
    @Test func stepsReadAsCronJobReadsThem() throws {
        let fridays = try CronSchedule("0 0 * * 5/2")  // 5 only: 7 (Sunday) is past Saturday
        #expect(iso(fridays.next(after: date("2026-12-04T00:00:00Z"))) == "2026-12-11T00:00:00Z")  // Fri → next Fri, no Sunday
        // Day of month */1 is unrestricted: Mondays only, not "every day or Monday".
        let mondays = try CronSchedule("0 0 */1 * 1")
        #expect(iso(mondays.next(after: date("2026-12-07T00:00:00Z"))) == "2026-12-14T00:00:00Z")
        // */2 restricts: odd days or Mondays.
        let oddOrMonday = try CronSchedule("0 0 */2 * 1")
        #expect(iso(oddOrMonday.next(after: date("2026-12-07T00:00:00Z"))) == "2026-12-09T00:00:00Z")
        let bigStep = try CronSchedule("*/100 * * * *")
        #expect(iso(bigStep.next(after: date("2026-12-07T10:00:00Z"))) == "2026-12-07T11:00:00Z")
        #expect(throws: CronSchedule.ParseError.self) { try CronSchedule("*/0 * * * *") }
    }

    @Test func timeZonesAndDaylightSaving() throws {
        let berlin = try CronSchedule("0 2 * * *", timeZone: "Europe/Berlin")
        #expect(iso(berlin.next(after: date("2026-12-02T12:00:00Z"))) == "2026-12-03T01:00:00Z")  // CET, UTC+1
        // 29 March 2026: 02:00 does not exist in Berlin; the next run is on the 30th (CEST, UTC+2).
        #expect(iso(berlin.next(after: date("2026-03-28T12:00:00Z"))) == "2026-03-30T00:00:00Z")
        // 25 October 2026: 02:30 happens twice; it runs once, at the first.
        let twice = try CronSchedule("30 2 * * *", timeZone: "Europe/Berlin")
        let first = twice.next(after: date("2026-10-24T12:00:00Z"))
        #expect(iso(first) == "2026-10-25T00:30:00Z")
        #expect(iso(twice.next(after: first!)) == "2026-10-26T01:30:00Z")
    }

    @Test func missedRunsAreCountedAsCronJobCountsThem() throws {
        let s = try CronSchedule("0 * * * *")
        let (t, n) = s.mostRecent(after: date("2026-12-02T10:00:00Z"), atOrBefore: date("2026-12-02T13:30:00Z"))
        #expect(iso(t) == "2026-12-02T13:00:00Z")
        #expect(n == 3)
        #expect(s.mostRecent(after: date("2026-12-02T13:00:00Z"), atOrBefore: date("2026-12-02T13:59:00Z")).time == nil)
    }

    @Test func badSchedulesAreRefusedWithTheReason() {
        for (expr, words) in [("0 2 * *", "5 fields"), ("61 * * * *", "out of range"), ("0 0 30 2 *", "no day"),
                              ("@fortnightly", "macro"), ("*/0 * * * *", "step"), ("5-1 * * * *", "backwards"),
                              ("CRON_TZ=UTC 0 0 * * *", "timeZone")] {
            do {
                _ = try CronSchedule(expr)
                Issue.record("\(expr) was accepted")
            } catch {
                #expect("\(error)".contains(words), "\(expr): \(error)")
            }
        }
        #expect(throws: CronSchedule.ParseError.self) { try CronSchedule("0 0 * * *", timeZone: "Mars/Olympus") }
    }
}
