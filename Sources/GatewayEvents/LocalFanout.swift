import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// What a live subscriber receives.
package enum EventSignal: Sendable, Equatable {
    case event(StreamEvent)
    /// Live delivery was interrupted (the Redis receiver reconnected): events may have been
    /// missed, so the subscriber must catch up from its last position by reading the stream.
    case gap
}

/// Takes a subscription's live signals directly, so a consumer that merges them with other
/// inputs needs no task of its own to forward them.
package struct EventSignalSink: Sendable {
    enum Delivery: Sendable {
        /// Called on the publisher's thread; false means the consumer cannot take more.
        case immediate(@Sendable (EventSignal) -> Bool)
        /// Called on the event loop: the fan-out hands each signal to every event loop with such
        /// subscribers once, and that loop calls its subscribers in turn.
        case onEventLoop(any EventLoop, @Sendable (EventSignal) -> Void)
    }

    let delivery: Delivery
    let finish: @Sendable () -> Void

    /// `deliver` runs on the publisher's thread and returns false when the consumer cannot take
    /// more: the subscription then ends as overflowed and `finish` runs. `finish` also runs when
    /// the subscription is cancelled.
    package init(deliver: @escaping @Sendable (EventSignal) -> Bool, finish: @escaping @Sendable () -> Void) {
        self.delivery = .immediate(deliver)
        self.finish = finish
    }

    /// `deliver` runs on `eventLoop` (for a connection's consumer: its channel's loop, so it can
    /// write without another hop). Such a consumer bounds its own backlog and cancels the
    /// subscription when it ends; `finish` runs when the subscription is cancelled.
    package init(
        on eventLoop: any EventLoop, deliver: @escaping @Sendable (EventSignal) -> Void, finish: @escaping @Sendable () -> Void = {}
    ) {
        self.delivery = .onEventLoop(eventLoop, deliver)
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
package final class EventSubscription: AsyncSequence, Sendable {
    package typealias Element = EventSignal

    package let stream: StreamName
    let signals: AsyncStream<EventSignal>
    private let state = NIOLockedValueBox((overflowed: false, cancelled: false))
    private let onCancel: @Sendable () -> Void

    init(stream: StreamName, signals: AsyncStream<EventSignal>, onCancel: @escaping @Sendable () -> Void) {
        self.stream = stream
        self.signals = signals
        self.onCancel = onCancel
    }

    package var overflowed: Bool { state.withLockedValue { $0.overflowed } }

    func markOverflowed() { state.withLockedValue { $0.overflowed = true } }

    package func cancel() {
        // Only the first call ends the subscription.
        let first = state.withLockedValue { state in
            defer { state.cancelled = true }
            return !state.cancelled
        }
        if first { onCancel() }
    }

    package func makeAsyncIterator() -> AsyncStream<EventSignal>.Iterator {
        signals.makeAsyncIterator()
    }

    deinit {
        cancel()
    }
}

/// In-process fan-out of events to the subscribers of this replica. One instance per bus; the
/// Redis bus feeds it from its single pub/sub connection, the memory bus directly.
///
/// Subscribers that take their signals on an event loop are grouped by loop: an event costs one
/// hop per loop that has subscribers of its stream, not one per subscriber.
final class LocalFanout: Sendable {
    private struct Subscriber: Sendable {
        let sink: EventSignalSink
        weak var subscription: EventSubscription?
    }

    /// The subscribers of one stream on one event loop, with the list a publish hands to the
    /// loop (rebuilt only after a subscriber came or went).
    private struct LoopGroup {
        let eventLoop: any EventLoop
        var members: [UInt64: @Sendable (EventSignal) -> Void] = [:]
        var snapshot: [@Sendable (EventSignal) -> Void]?

        init(eventLoop: any EventLoop) {
            self.eventLoop = eventLoop
        }

        mutating func deliveries() -> [@Sendable (EventSignal) -> Void] {
            if let snapshot { return snapshot }
            let built = Array(members.values)
            snapshot = built
            return built
        }
    }

    private struct StreamSubscribers {
        var immediate: [UInt64: Subscriber] = [:]
        var loops: [ObjectIdentifier: LoopGroup] = [:]

        var isEmpty: Bool { immediate.isEmpty && loops.isEmpty }
        var count: Int { immediate.count + loops.values.reduce(0) { $0 + $1.members.count } }

        mutating func targets() -> (immediate: [Subscriber], loops: [(any EventLoop, [@Sendable (EventSignal) -> Void])]) {
            var groups: [(any EventLoop, [@Sendable (EventSignal) -> Void])] = []
            groups.reserveCapacity(loops.count)
            for index in loops.values.indices {
                groups.append((loops.values[index].eventLoop, loops.values[index].deliveries()))
            }
            return (immediate.isEmpty ? [] : Array(immediate.values), groups)
        }
    }

    private struct State {
        var subscribers: [StreamName: StreamSubscribers] = [:]
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
                if self.remove(stream, id: id, sink: sink) { onLastRemoved(stream) }
            }
            let isFirst = state.subscribers[stream]?.isEmpty ?? true
            switch sink.delivery {
            case .immediate:
                state.subscribers[stream, default: StreamSubscribers()].immediate[id] = Subscriber(sink: sink, subscription: subscription)
            case .onEventLoop(let eventLoop, let deliver):
                let key = ObjectIdentifier(eventLoop)
                var group = state.subscribers[stream]?.loops[key] ?? LoopGroup(eventLoop: eventLoop)
                group.members[id] = deliver
                group.snapshot = nil
                state.subscribers[stream, default: StreamSubscribers()].loops[key] = group
            }
            return (subscription, isFirst)
        }
    }

    /// Returns true when the stream has no local subscribers left.
    private func remove(_ stream: StreamName, id: UInt64, sink: EventSignalSink) -> Bool {
        state.withLockedValue { state in
            switch sink.delivery {
            case .immediate:
                state.subscribers[stream]?.immediate[id] = nil
            case .onEventLoop(let eventLoop, _):
                let key = ObjectIdentifier(eventLoop)
                if var group = state.subscribers[stream]?.loops[key] {
                    group.members[id] = nil
                    group.snapshot = nil
                    state.subscribers[stream]?.loops[key] = group.members.isEmpty ? nil : group
                }
            }
            if state.subscribers[stream]?.isEmpty ?? false {
                state.subscribers[stream] = nil
                return true
            }
            return false
        }
    }

    func publish(_ event: StreamEvent) {
        guard let targets = state.withLockedValue({ $0.subscribers[event.stream]?.targets() }) else { return }
        deliver(.event(event), immediate: targets.immediate, loops: targets.loops)
    }

    /// Tells every subscriber of this replica to catch up.
    func broadcastGap() {
        let all = state.withLockedValue { state in
            state.subscribers.keys.compactMap { state.subscribers[$0]?.targets() }
        }
        for targets in all { deliver(.gap, immediate: targets.immediate, loops: targets.loops) }
    }

    var streams: [StreamName] {
        state.withLockedValue { Array($0.subscribers.keys) }
    }

    var subscriberCount: Int {
        state.withLockedValue { $0.subscribers.values.reduce(0) { $0 + $1.count } }
    }

    private func deliver(
        _ signal: EventSignal, immediate: [Subscriber], loops: [(any EventLoop, [@Sendable (EventSignal) -> Void])]
    ) {
        for (eventLoop, deliveries) in loops {
            eventLoop.execute {
                for deliver in deliveries { deliver(signal) }
            }
        }
        for target in immediate {
            guard case .immediate(let deliver) = target.sink.delivery else { continue }
            if !deliver(signal) {
                // Too far behind: end it; the client resumes from its last position.
                target.subscription?.markOverflowed()
                target.sink.finish()
            }
        }
    }
}

/// Presence changes for one consumer.
package final class PresenceSubscription: AsyncSequence, Sendable {
    package typealias Element = PresenceChange
    let changes: AsyncStream<PresenceChange>
    private let onCancel: @Sendable () -> Void

    init(changes: AsyncStream<PresenceChange>, onCancel: @escaping @Sendable () -> Void) {
        self.changes = changes
        self.onCancel = onCancel
    }

    package func cancel() { onCancel() }

    package func makeAsyncIterator() -> AsyncStream<PresenceChange>.Iterator {
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
