import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// The event streams this process serves from channel pipelines, and the hook tasks they
/// started (presence refreshes, the `closed` hooks that mark a device offline).
///
/// No request task waits for these streams, so graceful shutdown cannot either: the server's
/// quiesce event ends them, and `shutdown()` ends any left and waits for their hooks before
/// Redis and the store are closed.
final class LiveEventStreams: Sendable {
    private struct State {
        var open: [ObjectIdentifier: (eventLoop: any EventLoop, stream: NIOLoopBound<LiveEventStream>)] = [:]
        var hooks: [UInt64: Task<Void, Never>] = [:]
        var nextHook: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())

    var openCount: Int { state.withLockedValue { $0.open.count } }

    /// Called on the stream's event loop when it starts.
    func register(_ stream: LiveEventStream, on eventLoop: any EventLoop) {
        let bound = NIOLoopBound(stream, eventLoop: eventLoop)
        state.withLockedValue { $0.open[ObjectIdentifier(stream)] = (eventLoop, bound) }
    }

    /// Called once when the stream ends: it is forgotten and its `closed` hook runs.
    func ended(_ stream: LiveEventStream, reason: StreamEnd, closed: @escaping @Sendable (StreamEnd) async -> Void) {
        _ = state.withLockedValue { $0.open.removeValue(forKey: ObjectIdentifier(stream)) }
        run { await closed(reason) }
    }

    /// Runs a stream's hook in a task that `shutdown()` waits for.
    func run(_ hook: @escaping @Sendable () async -> Void) {
        state.withLockedValue { state in
            state.nextHook += 1
            let id = state.nextHook
            // Created under the lock, so the task cannot finish (and remove itself) before it is recorded.
            state.hooks[id] = Task {
                await hook()
                _ = self.state.withLockedValue { $0.hooks.removeValue(forKey: id) }
            }
        }
    }

    /// Ends every stream still open and waits (at most `limit`) for all hooks to finish.
    func shutdown(limit: Duration = .seconds(5)) async {
        for (eventLoop, stream) in state.withLockedValue({ Array($0.open.values) }) {
            eventLoop.execute { stream.value.end(.shutdown) }
        }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline, state.withLockedValue({ !$0.open.isEmpty || !$0.hooks.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// Ends the live streams on graceful shutdown. Listed after the services their hooks use
/// (Redis, the event bus, presence), so it stops before them.
struct LiveEventStreamsService: Service, CustomStringConvertible {
    let streams: LiveEventStreams
    var description: String { "live event streams" }

    func run() async throws {
        try? await gracefulShutdown()
        await streams.shutdown()
    }
}
