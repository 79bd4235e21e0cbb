import Foundation

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
    private let state = LockedState()
    private let onCancel: @Sendable () -> Void

    final class LockedState: @unchecked Sendable {
        private let lock = NSLock()
        private var overflowed = false
        private var cancelled = false

        func markOverflowed() { lock.withLock { overflowed = true } }
        var isOverflowed: Bool { lock.withLock { overflowed } }
        /// True the first time only.
        func markCancelled() -> Bool {
            lock.withLock {
                defer { cancelled = true }
                return !cancelled
            }
        }
    }

    init(stream: StreamName, signals: AsyncStream<EventSignal>, onCancel: @escaping @Sendable () -> Void) {
        self.stream = stream
        self.signals = signals
        self.onCancel = onCancel
    }

    public var overflowed: Bool { state.isOverflowed }

    func markOverflowed() { state.markOverflowed() }

    public func cancel() {
        if state.markCancelled() { onCancel() }
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
final class LocalFanout: @unchecked Sendable {
    private struct Subscriber {
        let sink: EventSignalSink
        weak var subscription: EventSubscription?
    }

    private let lock = NSLock()
    private var subscribers: [StreamName: [UInt64: Subscriber]] = [:]
    private var nextID: UInt64 = 0
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
        lock.withLock {
            nextID += 1
            let id = nextID
            let subscription = EventSubscription(stream: stream, signals: signals) { [weak self] in
                guard let self else { return }
                sink.finish()
                if self.remove(stream, id: id) { onLastRemoved(stream) }
            }
            let isFirst = subscribers[stream]?.isEmpty ?? true
            subscribers[stream, default: [:]][id] = Subscriber(sink: sink, subscription: subscription)
            return (subscription, isFirst)
        }
    }

    /// Returns true when the stream has no local subscribers left.
    private func remove(_ stream: StreamName, id: UInt64) -> Bool {
        lock.withLock {
            subscribers[stream]?[id] = nil
            if subscribers[stream]?.isEmpty ?? false {
                subscribers[stream] = nil
                return true
            }
            return false
        }
    }

    func publish(_ event: StreamEvent) {
        deliver(.event(event), to: lock.withLock { subscribers[event.stream].map { Array($0.values) } ?? [] })
    }

    /// Tells every subscriber of this replica to catch up.
    func broadcastGap() {
        deliver(.gap, to: lock.withLock { subscribers.values.flatMap(\.values) })
    }

    var streams: [StreamName] {
        lock.withLock { Array(subscribers.keys) }
    }

    var subscriberCount: Int {
        lock.withLock { subscribers.values.reduce(0) { $0 + $1.count } }
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
final class PresenceFanout: @unchecked Sendable {
    private let lock = NSLock()
    private var consumers: [UInt64: AsyncStream<PresenceChange>.Continuation] = [:]
    private var nextID: UInt64 = 0

    func add() -> PresenceSubscription {
        let (changes, continuation) = AsyncStream.makeStream(of: PresenceChange.self, bufferingPolicy: .bufferingNewest(10_000))
        let id = lock.withLock {
            nextID += 1
            consumers[nextID] = continuation
            return nextID
        }
        return PresenceSubscription(changes: changes) { [weak self] in
            continuation.finish()
            self?.lock.withLock { self?.consumers[id] = nil }
        }
    }

    func publish(_ change: PresenceChange) {
        for continuation in lock.withLock({ Array(consumers.values) }) {
            continuation.yield(change)
        }
    }
}
