import Foundation
import NIOConcurrencyHelpers

/// Event streams in this process, for `gateway dev` and single-node use: same contract as the
/// Redis bus, lost on restart (clients then get a `reset`, because the epoch is new).
package final class MemoryEventBus: EventBus, Sendable {
    package let kind = "in-process"
    private let retention: StreamRetention
    private let fanout: LocalFanout
    private let presenceFanout = PresenceFanout()
    private let state = NIOLockedValueBox(State())

    private struct StoredStream {
        let epoch: String
        var nextOffset: UInt64 = 1
        var events: [StreamEvent] = []
        var bytes = 0
        var lastAppend = ContinuousClock.now
    }

    /// Everything mutable, behind one lock.
    private struct State {
        var streams: [StreamName: StoredStream] = [:]
        var presence: [String: [String: ContinuousClock.Instant]] = [:]
        var announcedOnline: Set<String> = []
        var presenceSequence: UInt64 = 0

        /// The stream, dropped first if it outlived its time to live, as Redis would expire it.
        mutating func stored(_ name: StreamName, timeToLive: Duration) -> StoredStream {
            if let stream = streams[name], ContinuousClock.now - stream.lastAppend < timeToLive {
                return stream
            }
            let fresh = StoredStream(epoch: StreamPosition.makeEpoch())
            streams[name] = fresh
            return fresh
        }

        mutating func nextSequence() -> UInt64 {
            presenceSequence += 1
            return presenceSequence
        }

        func hasLiveConnection(_ subject: String) -> Bool {
            let now = ContinuousClock.now
            return presence[subject]?.values.contains { $0 > now } ?? false
        }

        /// When no live connection is left, forgets the subject; true if it had been announced
        /// online (so exactly one offline change follows each online change).
        mutating func settleOffline(_ subject: String) -> Bool {
            guard !hasLiveConnection(subject) else { return false }
            presence[subject] = nil
            return announcedOnline.remove(subject) != nil
        }
    }

    package init(retention: StreamRetention = StreamRetention(), subscriberBufferLimit: Int = 1024) {
        self.retention = retention
        self.fanout = LocalFanout(bufferLimit: subscriberBufferLimit)
    }

    package func append(to stream: StreamName, type: String, data: String) async throws -> StreamEvent {
        // Appending and publishing under one lock keeps live order equal to offset order.
        state.withLockedValue { state in
            var current = state.stored(stream, timeToLive: retention.timeToLive)
            let event = StreamEvent(
                stream: stream, position: StreamPosition(epoch: current.epoch, offset: current.nextOffset), type: type, data: data)
            current.nextOffset += 1
            current.events.append(event)
            current.bytes += StreamRetention.size(type: type, data: data)
            var trimmed = 0
            while current.events.count - trimmed > 1,
                current.events.count - trimmed > retention.maximumLength || current.bytes > retention.maximumBytes
            {
                current.bytes -= StreamRetention.size(type: current.events[trimmed].type, data: current.events[trimmed].data)
                trimmed += 1
            }
            current.events.removeFirst(trimmed)
            current.lastAppend = .now
            state.streams[stream] = current
            fanout.publish(event)
            return event
        }
    }

    package func head(of stream: StreamName) async throws -> StreamPosition {
        state.withLockedValue { state in
            let current = state.stored(stream, timeToLive: retention.timeToLive)
            return StreamPosition(epoch: current.epoch, offset: current.nextOffset - 1)
        }
    }

    package func read(_ stream: StreamName, after position: StreamPosition, limit: Int) async throws -> CatchUp {
        state.withLockedValue { state in
            let current = state.stored(stream, timeToLive: retention.timeToLive)
            let head = StreamPosition(epoch: current.epoch, offset: current.nextOffset - 1)
            return Self.catchUp(
                after: position, head: head, firstRetained: current.events.first?.position.offset,
                events: current.events.lazy.filter { $0.position.offset > position.offset }.prefix(limit).map { $0 })
        }
    }

    /// The reset rules both buses share.
    static func catchUp(after position: StreamPosition, head: StreamPosition, firstRetained: UInt64?, events: [StreamEvent]) -> CatchUp {
        if position.epoch != head.epoch { return .reset(reason: .epochChanged, head: head) }
        if position.offset > head.offset { return .reset(reason: .unknownPosition, head: head) }
        if position.offset < head.offset {
            // The next event the client needs is position.offset + 1; it must still be here.
            guard let first = firstRetained ?? events.first?.position.offset, first <= position.offset + 1,
                events.first?.position.offset == position.offset + 1
            else { return .reset(reason: .trimmed, head: head) }
        }
        return .events(events, head: head)
    }

    package func subscribe(_ stream: StreamName) async throws -> EventSubscription {
        fanout.add(stream) { _ in }.0
    }

    package func subscribe(_ stream: StreamName, sink: EventSignalSink) async throws -> EventSubscription {
        fanout.add(stream, sink: sink) { _ in }.0
    }

    package func markOnline(_ subject: String, connection: String, ttl: Duration) async throws -> Bool {
        let sequence: UInt64? = state.withLockedValue { state in
            state.presence[subject, default: [:]][connection] = .now + ttl
            return state.announcedOnline.insert(subject).inserted ? state.nextSequence() : nil
        }
        if let sequence { presenceFanout.publish(PresenceChange(subject: subject, isOnline: true, sequence: sequence)) }
        return sequence != nil
    }

    package func markOffline(_ subject: String, connection: String) async throws -> Bool {
        let sequence: UInt64? = state.withLockedValue { state in
            state.presence[subject]?[connection] = nil
            return state.settleOffline(subject) ? state.nextSequence() : nil
        }
        if let sequence { presenceFanout.publish(PresenceChange(subject: subject, isOnline: false, sequence: sequence)) }
        return sequence != nil
    }

    package func isOnline(_ subject: String) async throws -> Bool {
        state.withLockedValue { $0.hasLiveConnection(subject) }
    }

    package func presenceChanges() async -> PresenceSubscription {
        presenceFanout.add()
    }

    package var isReceiving: Bool { true }

    /// Sweeps expired presence so a subject whose connections lapsed is announced offline.
    package func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            let expired: [PresenceChange] = state.withLockedValue { state in
                let candidates = state.announcedOnline
                return candidates.filter { state.settleOffline($0) }.map {
                    PresenceChange(subject: $0, isOnline: false, sequence: state.nextSequence())
                }
            }
            for change in expired {
                presenceFanout.publish(change)
            }
        }
    }
}
