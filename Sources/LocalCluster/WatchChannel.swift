import Synchronization

/// The bytes waiting to be written to one watch response. Producers append whole lines; the writer takes everything
/// pending at once, so a burst of events becomes one write (one TLS record, one syscall) instead of one per event.
final class WatchChannel: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var closed = false
        var waiter: CheckedContinuation<[UInt8]?, Never>?
    }
    private let state = Mutex(State())

    /// Appends a line (already newline-terminated). Ignored once closed.
    func send(_ bytes: [UInt8]) {
        let waiter = state.withLock { s -> CheckedContinuation<[UInt8]?, Never>? in
            guard !s.closed else { return nil }
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending.append(contentsOf: bytes)
            return nil
        }
        waiter?.resume(returning: bytes)
    }

    /// Ends the stream after what is pending.
    func close() {
        let waiter = state.withLock { s -> CheckedContinuation<[UInt8]?, Never>? in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Whatever is pending now, without waiting.
    func takePending() -> [UInt8] {
        state.withLock { s in
            defer { s.pending = [] }
            return s.pending
        }
    }

    /// Everything pending, waiting for more if there is none; `nil` when closed and drained.
    func next() async -> [UInt8]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<[UInt8]?, Never>) in
                let immediate: [UInt8]?? = state.withLock { s in
                    if !s.pending.isEmpty {
                        defer { s.pending = [] }
                        return .some(s.pending)
                    }
                    if s.closed { return .some(nil) }
                    s.waiter = c
                    return .none
                }
                if let immediate { c.resume(returning: immediate) }
            }
        } onCancel: {
            close()
        }
    }
}
