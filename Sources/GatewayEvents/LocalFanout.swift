import Foundation
import NIOConcurrencyHelpers

/// What a live subscriber receives.
public enum EventSignal: Sendable, Equatable {
    case event(StreamEvent)
    /// Live delivery was interrupted (the Redis receiver reconnected): events may have been
    /// missed, so the subscriber must catch up from its last position by reading the stream.
    case gap
}

/// Takes a subscription's live signals directly, on the thread that publishes them, so a
/// consumer that merges them with other inputs needs no task of its own to forward them.
public struct EventSignalSink: Sendable {
    let deliver: @Sendable (EventSignal) -> Bool
    let finish: @Sendable () -> Void

    /// `deliver` returns false when the consumer cannot take more: the subscription then ends
    /// as overflowed and `finish` runs. `finish` also runs when the subscription is cancelled.
    public init(deliver: @escaping @Sendable (EventSignal) -> Bool, finish: @escaping @Sendable () -> Void) {
        self.deliver = deliver
        self.finish = finish
    }

    /// A sink feeding a bounded stream: a full buffer counts as overflow.
    init(_ continuation: AsyncStream<EventSignal>.Continuation) {
        self.init(
            deliver: { signal in
                if case .enqueued = continuation.yield(signal) { return true }
                return false
            },
            finish: { continuation.finish() })
    }
}

/// A live subscription to one stream. Iterate it (unless it was made with a sink); call
/// `cancel()` when done. If the consumer falls more than the buffer behind, the subscription
/// ends with `overflowed == true` rather than growing memory without bound; the consumer
/// resumes from its last position.
public final class EventSubscription: AsyncSequence, Sendable {
    public typealias Element = EventSignal

    public let stream: StreamName
    let signals: AsyncStream<EventSignal>
    private let state = NIOLockedValueBox((overflowed: false, cancelled: false))
    private let onCancel: @Sendable () -> Void

    init(stream: StreamName, signals: AsyncStream<EventSignal>, onCancel: @escaping @Sendable () -> Void) {
        self.stream = stream
        self.signals = signals
        self.onCancel = onCancel
    }

    public var overflowed: Bool { state.withLockedValue { $0.overflowed } }

    func markOverflowed() { state.withLockedValue { $0.overflowed = true } }

    public func cancel() {
        // Only the first call ends the subscription.
        let first = state.withLockedValue { state in
            defer { state.cancelled = true }
            return !state.cancelled
        }
        if first { onCancel() }
    }

    public func makeAsyncIterator() -> AsyncStream<EventSignal>.Iterator {
        signals.makeAsyncIterator()
    }

    deinit {
        cancel()
    }
}

/// In-process fan-out of events to the subscribers of this replica. One instance per bus; the
/// Redis bus feeds it from its single pub/sub connection, the memory bus directly.
final class LocalFanout: Sendable {
    private struct Subscriber: Sendable {
        let sink: EventSignalSink
        weak var subscription: EventSubscription?
    }

    private struct State {
        var subscribers: [StreamName: [UInt64: Subscriber]] = [:]
        var nextID: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())
    let bufferLimit: Int

    init(bufferLimit: Int) {
        self.bufferLimit = bufferLimit
    }

    /// Adds a subscriber whose signals are buffered (up to the bus's limit) for iteration;
    /// `isFirst` tells the Redis bus to SUBSCRIBE the stream's channel.
    func add(_ stream: StreamName, onLastRemoved: @escaping @Sendable (StreamName) -> Void) -> (EventSubscription, isFirst: Bool) {
        let (signals, continuation) = AsyncStream.makeStream(of: EventSignal.self, bufferingPolicy: .bufferingOldest(bufferLimit))
        return add(stream, signals: signals, sink: EventSignalSink(continuation), onLastRemoved: onLastRemoved)
    }

    /// Adds a subscriber that takes its signals through `sink`.
    func add(_ stream: StreamName, sink: EventSignalSink, onLastRemoved: @escaping @Sendable (StreamName) -> Void)
        -> (EventSubscription, isFirst: Bool)
    {
        let (nothing, none) = AsyncStream.makeStream(of: EventSignal.self)
        none.finish()
        return add(stream, signals: nothing, sink: sink, onLastRemoved: onLastRemoved)
    }

    private func add(
        _ stream: StreamName, signals: AsyncStream<EventSignal>, sink: EventSignalSink,
        onLastRemoved: @escaping @Sendable (StreamName) -> Void
    ) -> (EventSubscription, isFirst: Bool) {
        state.withLockedValue { state in
            state.nextID += 1
            let id = state.nextID
            let subscription = EventSubscription(stream: stream, signals: signals) { [weak self] in
                guard let self else { return }
                sink.finish()
                if self.remove(stream, id: id) { onLastRemoved(stream) }
            }
            let isFirst = state.subscribers[stream]?.isEmpty ?? true
            state.subscribers[stream, default: [:]][id] = Subscriber(sink: sink, subscription: subscription)
            return (subscription, isFirst)
        }
    }

    /// Returns true when the stream has no local subscribers left.
    private func remove(_ stream: StreamName, id: UInt64) -> Bool {
        state.withLockedValue { state in
            state.subscribers[stream]?[id] = nil
            if state.subscribers[stream]?.isEmpty ?? false {
                state.subscribers[stream] = nil
                return true
            }
            return false
        }
    }

    func publish(_ event: StreamEvent) {
        deliver(.event(event), to: state.withLockedValue { $0.subscribers[event.stream].map { Array($0.values) } ?? [] })
    }

    /// Tells every subscriber of this replica to catch up.
    func broadcastGap() {
        deliver(.gap, to: state.withLockedValue { $0.subscribers.values.flatMap(\.values) })
    }

    var streams: [StreamName] {
        state.withLockedValue { Array($0.subscribers.keys) }
    }

    var subscriberCount: Int {
        state.withLockedValue { $0.subscribers.values.reduce(0) { $0 + $1.count } }
    }

    private func deliver(_ signal: EventSignal, to targets: [Subscriber]) {
        for target in targets {
            if !target.sink.deliver(signal) {
                // Too far behind: end it; the client resumes from its last position.
                target.subscription?.markOverflowed()
                target.sink.finish()
            }
        }
    }
}

/// Presence changes for one consumer.
public final class PresenceSubscription: AsyncSequence, Sendable {
    public typealias Element = PresenceChange
    let changes: AsyncStream<PresenceChange>
    private let onCancel: @Sendable () -> Void

    init(changes: AsyncStream<PresenceChange>, onCancel: @escaping @Sendable () -> Void) {
        self.changes = changes
        self.onCancel = onCancel
    }

    public func cancel() { onCancel() }

    public func makeAsyncIterator() -> AsyncStream<PresenceChange>.Iterator {
        changes.makeAsyncIterator()
    }
}

/// Broadcasts presence changes to every local consumer.
final class PresenceFanout: Sendable {
    private let consumers = NIOLockedValueBox((byID: [UInt64: AsyncStream<PresenceChange>.Continuation](), nextID: UInt64(0)))

    func add() -> PresenceSubscription {
        let (changes, continuation) = AsyncStream.makeStream(of: PresenceChange.self, bufferingPolicy: .bufferingNewest(10_000))
        let id = consumers.withLockedValue { consumers in
            consumers.nextID += 1
            consumers.byID[consumers.nextID] = continuation
            return consumers.nextID
        }
        return PresenceSubscription(changes: changes) { [weak self] in
            continuation.finish()
            self?.consumers.withLockedValue { _ = $0.byID.removeValue(forKey: id) }
        }
    }

    func publish(_ change: PresenceChange) {
        for continuation in consumers.withLockedValue({ Array($0.byID.values) }) {
            continuation.yield(change)
        }
    }
}
