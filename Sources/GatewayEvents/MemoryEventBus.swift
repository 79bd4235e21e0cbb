import Foundation

/// Event streams in this process, for `gateway dev` and single-node use: same contract as the
/// Redis bus, lost on restart (clients then get a `reset`, because the epoch is new).
public final class MemoryEventBus: EventBus, @unchecked Sendable {
    public let kind = "in-process"
    private let retention: StreamRetention
    private let fanout: LocalFanout
    private let presenceFanout = PresenceFanout()
    private let lock = NSLock()
    private var streams: [StreamName: StoredStream] = [:]
    private var presence: [String: [String: ContinuousClock.Instant]] = [:]
    private var announcedOnline: Set<String> = []
    private var presenceSequence: UInt64 = 0

    private struct StoredStream {
        let epoch: String
        var nextOffset: UInt64 = 1
        var events: [StreamEvent] = []
        var bytes = 0
        var lastAppend = ContinuousClock.now
    }

    public init(retention: StreamRetention = StreamRetention(), subscriberBufferLimit: Int = 1024) {
        self.retention = retention
        self.fanout = LocalFanout(bufferLimit: subscriberBufferLimit)
    }

    /// The stream, dropped first if it outlived its time to live, as Redis would expire it.
    private func stored(_ name: StreamName) -> StoredStream {
        if let stream = streams[name], ContinuousClock.now - stream.lastAppend < retention.timeToLive {
            return stream
        }
        let fresh = StoredStream(epoch: StreamPosition.makeEpoch())
        streams[name] = fresh
        return fresh
    }

    public func append(to stream: StreamName, type: String, data: String) async throws -> StreamEvent {
        // Appending and publishing under one lock keeps live order equal to offset order.
        lock.withLock {
            var current = stored(stream)
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
            streams[stream] = current
            fanout.publish(event)
            return event
        }
    }

    public func head(of stream: StreamName) async throws -> StreamPosition {
        lock.withLock {
            let current = stored(stream)
            return StreamPosition(epoch: current.epoch, offset: current.nextOffset - 1)
        }
    }

    public func read(_ stream: StreamName, after position: StreamPosition, limit: Int) async throws -> CatchUp {
        lock.withLock {
            let current = stored(stream)
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

    public func subscribe(_ stream: StreamName) async throws -> EventSubscription {
        fanout.add(stream) { _ in }.0
    }

    public func subscribe(_ stream: StreamName, sink: EventSignalSink) async throws -> EventSubscription {
        fanout.add(stream, sink: sink) { _ in }.0
    }

    public func markOnline(_ subject: String, connection: String, ttl: Duration) async throws -> Bool {
        let sequence: UInt64? = lock.withLock {
            presence[subject, default: [:]][connection] = .now + ttl
            return announcedOnline.insert(subject).inserted ? nextSequence() : nil
        }
        if let sequence { presenceFanout.publish(PresenceChange(subject: subject, isOnline: true, sequence: sequence)) }
        return sequence != nil
    }

    public func markOffline(_ subject: String, connection: String) async throws -> Bool {
        let sequence: UInt64? = lock.withLock {
            presence[subject]?[connection] = nil
            return settleOffline(subject) ? nextSequence() : nil
        }
        if let sequence { presenceFanout.publish(PresenceChange(subject: subject, isOnline: false, sequence: sequence)) }
        return sequence != nil
    }

    public func isOnline(_ subject: String) async throws -> Bool {
        lock.withLock { hasLiveConnection(subject) }
    }

    private func nextSequence() -> UInt64 {
        presenceSequence += 1
        return presenceSequence
    }

    private func hasLiveConnection(_ subject: String) -> Bool {
        let now = ContinuousClock.now
        return presence[subject]?.values.contains { $0 > now } ?? false
    }

    /// When no live connection is left, forgets the subject; true if it had been announced online
    /// (so exactly one offline change follows each online change).
    private func settleOffline(_ subject: String) -> Bool {
        guard !hasLiveConnection(subject) else { return false }
        presence[subject] = nil
        return announcedOnline.remove(subject) != nil
    }

    public func presenceChanges() async -> PresenceSubscription {
        presenceFanout.add()
    }

    public var isReceiving: Bool { true }

    /// Sweeps expired presence so a subject whose connections lapsed is announced offline.
    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            let expired: [PresenceChange] = lock.withLock {
                let candidates = announcedOnline
                return candidates.filter { settleOffline($0) }.map {
                    PresenceChange(subject: $0, isOnline: false, sequence: nextSequence())
                }
            }
            for change in expired {
                presenceFanout.publish(change)
            }
        }
    }
}
