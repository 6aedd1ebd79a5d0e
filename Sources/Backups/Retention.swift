import Foundation

/// Which completed backups a policy keeps (restic's and K8up's keep rules): the newest `keepLast`; the newest
/// backup of each of the newest `keepHourly` hours, `keepDaily` days, `keepWeekly` ISO weeks and `keepMonthly`
/// months (in the policy's time zone); `maxAge` is a ceiling: nothing older is kept by a rule (with no other rule
/// set, everything younger is kept). Whatever the rules say, the newest verified backup is kept (Velero #9061),
/// and every backup a kept incremental builds on.
enum RetentionRules {
    struct Item: Equatable {
        var name: String
        var time: Date
        var verified: Bool
        var parent: String?
        /// Exempt by annotation (`ops.salespot.by/keep: "true"`).
        var pinned: Bool
    }

    static func keep(_ items: [Item], rules r: Retention?, timeZone: TimeZone, now: Date) -> Set<String> {
        let sorted = items.sorted { $0.time == $1.time ? $0.name > $1.name : $0.time > $1.time }  // newest first
        guard let r else { return Set(items.map(\.name)) }
        let maxAge = r.maxAge.flatMap(PolicyValidation.parseAge)
        let young = sorted.filter { maxAge == nil || now.timeIntervalSince($0.time) <= maxAge! }
        var keep = Set<String>()
        let anyRule = [r.keepLast, r.keepHourly, r.keepDaily, r.keepWeekly, r.keepMonthly].contains { $0 != nil }
        if !anyRule { keep.formUnion(young.map(\.name)) }
        if let n = r.keepLast { keep.formUnion(young.prefix(max(0, n)).map(\.name)) }
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = timeZone
        func bucketed(_ n: Int?, _ bucket: (Date) -> String) {
            guard let n, n > 0 else { return }
            var seen: [String] = []
            for item in young {
                let b = bucket(item.time)
                if seen.contains(b) { continue }
                seen.append(b)
                keep.insert(item.name)
                if seen.count == n { break }
            }
        }
        func parts(_ d: Date, _ c: Set<Calendar.Component>) -> DateComponents { calendar.dateComponents(c, from: d) }
        bucketed(r.keepHourly) { let c = parts($0, [.year, .month, .day, .hour]); return "\(c.year!)-\(c.month!)-\(c.day!)-\(c.hour!)" }
        bucketed(r.keepDaily) { let c = parts($0, [.year, .month, .day]); return "\(c.year!)-\(c.month!)-\(c.day!)" }
        bucketed(r.keepWeekly) { let c = parts($0, [.yearForWeekOfYear, .weekOfYear]); return "\(c.yearForWeekOfYear!)-W\(c.weekOfYear!)" }
        bucketed(r.keepMonthly) { let c = parts($0, [.year, .month]); return "\(c.year!)-\(c.month!)" }
        if let newestVerified = sorted.first(where: \.verified) { keep.insert(newestVerified.name) }
        keep.formUnion(items.filter(\.pinned).map(\.name))
        // The bases of kept incrementals, down their chains.
        let byName = Dictionary(items.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var stack = Array(keep)
        while let name = stack.popLast() {
            if let p = byName[name]?.parent, !keep.contains(p) {
                keep.insert(p)
                stack.append(p)
            }
        }
        return keep
    }
}
