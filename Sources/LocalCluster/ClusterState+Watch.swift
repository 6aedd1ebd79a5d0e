import KubeCore

/// Watches: the event history, delivery to open watches, and the faults tests inject into them.
extension ClusterState {
    func record(_ typeKey: String, _ eventType: String, _ object: JSONValue, old: JSONValue?) {
        let rv = Int64(object[path: ["metadata", "resourceVersion"]]?.stringValue ?? "") ?? resourceVersion
        let entry = HistoryEntry(rv: rv, typeKey: typeKey, eventType: eventType, object: object, old: old)
        var h = histories.removeValue(forKey: typeKey) ?? History(compactedThrough: compactedThrough)
        func dropOldest() {
            h.compactedThrough = h.entries[h.start].rv
            h.start += 1
        }
        while h.entries.count - h.start >= max(1, historyLimit) { dropOldest() }
        while h.entries.count - h.start > historyMinimum, entry.at - h.entries[h.start].at > historyWindow { dropOldest() }
        if h.start > 4096 || (h.start > 0 && h.start == h.entries.count) { h.entries.removeFirst(h.start); h.start = 0 }
        h.entries.append(entry)
        histories[typeKey] = h
        var shared: [String: [UInt8]] = [:]
        for (_, w) in watchers where w.typeKey == typeKey { deliver(entry, to: w, shared: &shared) }
        onChange?(typeKey, eventType, object)
    }

    /// Sends an event, turning a change that moves an object into or out of a selector into ADDED or DELETED.
    func deliver(_ e: HistoryEntry, to w: Watcher) {
        var shared: [String: [UInt8]] = [:]
        deliver(e, to: w, shared: &shared)
    }

    func deliver(_ e: HistoryEntry, to w: Watcher, shared: inout [String: [UInt8]]) {
        func send(_ type: String) {
            if w.plain {
                if let line = shared[type] { w.channel.send(line); return }
                let line = w.render(type, e.object)
                shared[type] = line
                w.channel.send(line)
            } else {
                w.channel.send(w.render(type, e.object))
            }
        }
        func matches(_ o: JSONValue?) -> Bool {
            guard let o else { return false }
            if let ns = w.namespace, o[path: ["metadata", "namespace"]]?.stringValue != ns { return false }
            if let l = w.labels, !l.matches(Self.labels(o)) { return false }
            if let f = w.fields, !f.matches(o) { return false }
            return true
        }
        let now = matches(e.object)
        switch e.eventType {
        case "MODIFIED":
            let before = matches(e.old)
            if now && before { send("MODIFIED") }
            else if now { send("ADDED") }
            else if before { send("DELETED") }
        default:
            if now { send(e.eventType) }
        }
    }

    /// Opens a watch. With no resourceVersion (or "0") it starts with ADDED events for what exists; with one it
    /// replays the history after it, or fails with 410 when that is older than the retained history.
    func watch(_ type: ResourceType, namespace: String?, labels: LabelSelectorQuery?, fields: FieldSelectorQuery?,
               resourceVersion from: String?, channel: WatchChannel, plain: Bool,
               render: @escaping @Sendable (String, JSONValue) -> [UInt8]) throws(APIFailure) -> Int {
        let w = Watcher(typeKey: type.storeKey, namespace: namespace, labels: labels, fields: fields, channel: channel,
                        render: render, plain: plain)
        if let from, !from.isEmpty, from != "0" {
            guard let rv = Int64(from) else { throw .badRequest("invalid resourceVersion \"\(from)\"") }
            // As the watch cache: once a resource's history has dropped events, anything before its oldest event
            // but one is too old (resourceVersions are cluster-wide, so that is stricter than "after the last drop").
            var floor = compactedThrough
            if let h = histories[type.storeKey], h.compactedThrough > compactedThrough, let oldest = h.retained.first?.rv {
                floor = max(floor, oldest - 1)
            }
            if rv < floor {
                throw .gone("too old resource version: \(rv) (\(floor))")
            }
            for e in histories[type.storeKey]?.retained ?? [] where e.rv > rv { deliver(e, to: w) }
        } else {
            let bucket = objects[type.storeKey] ?? [:]
            for key in bucket.keys.sorted() {
                deliver(HistoryEntry(rv: 0, typeKey: type.storeKey, eventType: "ADDED", object: bucket[key]!, old: nil), to: w)
            }
        }
        nextWatcherID += 1
        watchers[nextWatcherID] = w
        return nextWatcherID
    }

    func stopWatch(_ id: Int) {
        watchers.removeValue(forKey: id)?.channel.close()
    }

    /// Fault injection: ends every open watch, as an API server restart or a proxy timeout would.
    func closeAllWatches() {
        for (_, w) in watchers { w.channel.close() }
        watchers.removeAll()
    }

    var openWatches: Int { watchers.count }

    /// Drops the whole history, so any resume from an earlier version gets 410 (for tests).
    func compactHistory() {
        compactedThrough = resourceVersion
        histories.removeAll()
    }
}
