import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RedisClient

/// Event streams in Redis, shared by every replica.
///
/// Layout of a stream `NAME` (all keys share the hash tag `{s:NAME}`, so Redis Cluster keeps
/// them on one shard): `…{s:NAME}:log` (a Redis stream whose entry ids are `offset-0`),
/// `…{s:NAME}:seq` (the last offset) and `…{s:NAME}:epoch`. One Lua script allocates the next
/// offset, XADDs with a length cap, refreshes the expiry and PUBLISHes the event, so appending
/// and publishing are atomic (the pattern Centrifugo uses). Each replica holds ONE pub/sub
/// connection, subscribed to the channels of the streams its clients watch, and fans events out
/// in process; after that connection drops, every local subscriber is told to catch up.
package final class RedisEventBus: EventBus, Sendable {
    package let kind = "redis"
    let redis: RedisClient
    let receiver: RedisSubscriber
    let prefix: String
    let retention: StreamRetention
    let logger: Logger
    let fanout: LocalFanout
    let presenceFanout: PresenceFanout
    /// Turns what the pub/sub connection receives into local deliveries, on its event loop.
    let dispatcher: RedisEventDispatcher
    let channels = ChannelSynchronizer()
    let presenceSweepInterval: Duration

    package init(
        redis: RedisClient, receiverConfiguration: RedisConfiguration, prefix: String = "gw:",
        retention: StreamRetention = StreamRetention(), subscriberBufferLimit: Int = 1024,
        presenceSweepInterval: Duration = .seconds(1), logger: Logger
    ) throws {
        let fanout = LocalFanout(bufferLimit: subscriberBufferLimit)
        let presenceFanout = PresenceFanout()
        let dispatcher = RedisEventDispatcher(
            fanout: fanout, presenceFanout: presenceFanout, presenceChannel: "\(prefix)presence", logger: logger)
        self.redis = redis
        self.receiver = try RedisSubscriber(configuration: receiverConfiguration, logger: logger) { event in dispatcher.handle(event) }
        self.prefix = prefix
        self.retention = retention
        self.logger = logger
        self.fanout = fanout
        self.presenceFanout = presenceFanout
        self.dispatcher = dispatcher
        self.presenceSweepInterval = presenceSweepInterval
    }

    // MARK: Keys

    func keys(_ stream: StreamName) -> [String] {
        let tag = "\(prefix){s:\(stream.rawValue)}"
        return ["\(tag):log", "\(tag):epoch", "\(tag):seq", "\(tag):bytes"]
    }

    func channel(_ stream: StreamName) -> String { "\(prefix)ev:\(stream.rawValue)" }
    var presenceChannel: String { "\(prefix)presence" }
    var presenceIndex: String { "\(prefix)presence:index" }
    var presenceSequenceKey: String { "\(prefix)presence:seq" }
    func presenceKey(_ subject: String) -> String { "\(prefix)presence:s:\(subject)" }

    var ttlSeconds: Int { max(1, Int(retention.timeToLive.components.seconds)) }

    // MARK: Streams

    static let appendScript = RedisScript(
        """
        local epoch = redis.call('GET', KEYS[2])
        if not epoch then
            epoch = ARGV[1]
            redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
        end
        local offset = redis.call('INCR', KEYS[3])
        redis.call('XADD', KEYS[1], offset .. '-0', 't', ARGV[4], 'd', ARGV[5])
        -- Trim the oldest events while the stream is over its length or byte budget; the
        -- newest one always stays. XTRIM MINID frees the trimmed entries' memory.
        local bytes = redis.call('INCRBY', KEYS[4], #ARGV[4] + #ARGV[5])
        local length = redis.call('XLEN', KEYS[1])
        local max_length = tonumber(ARGV[2])
        local max_bytes = tonumber(ARGV[8])
        while length > 1 and (length > max_length or bytes > max_bytes) do
            local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
            local size = 0
            for i = 2, #oldest[2], 2 do size = size + #oldest[2][i] end
            local next_id = (tonumber(string.match(oldest[1], '^(%d+)')) + 1) .. '-0'
            redis.call('XTRIM', KEYS[1], 'MINID', next_id)
            bytes = redis.call('DECRBY', KEYS[4], size)
            length = length - 1
        end
        if bytes < 0 then redis.call('SET', KEYS[4], 0) end
        redis.call('SET', KEYS[2], epoch, 'EX', ARGV[3])
        redis.call('EXPIRE', KEYS[1], ARGV[3])
        redis.call('EXPIRE', KEYS[3], ARGV[3])
        redis.call('EXPIRE', KEYS[4], ARGV[3])
        redis.call('PUBLISH', ARGV[6], 'e1\\n' .. epoch .. '\\n' .. offset .. '\\n' .. ARGV[7] .. '\\n' .. ARGV[4] .. '\\n' .. ARGV[5])
        return {epoch, offset}
        """)

    package func append(to stream: StreamName, type: String, data: String) async throws -> StreamEvent {
        let reply = try await redis.eval(
            Self.appendScript, keys: keys(stream),
            arguments: [
                StreamPosition.makeEpoch(), retention.maximumLength, ttlSeconds, type, data, channel(stream), stream.rawValue,
                retention.maximumBytes,
            ])
        guard let values = reply.array, values.count == 2, let epoch = values[0].string, let offset = values[1].int else {
            throw RedisError.unexpectedReply(command: "EVALSHA append", reply: "\(reply)")
        }
        return StreamEvent(stream: stream, position: StreamPosition(epoch: epoch, offset: UInt64(offset)), type: type, data: data)
    }

    /// Reads epoch, last offset and (when the epoch matches) entries after the position in one
    /// atomic step, creating the epoch when the stream has none.
    static let readScript = RedisScript(
        """
        local epoch = redis.call('GET', KEYS[2])
        if not epoch then
            epoch = ARGV[1]
            redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
            redis.call('SET', KEYS[2], epoch, 'EX', ARGV[2])
        end
        local seq = tonumber(redis.call('GET', KEYS[3]) or '0')
        local entries = {}
        local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
        local first_offset = 0
        if #first > 0 then first_offset = tonumber(string.match(first[1][1], '^(%d+)')) end
        if ARGV[3] == epoch and tonumber(ARGV[4]) < seq then
            entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[4] .. '-0', '+', 'COUNT', ARGV[5])
        end
        return {epoch, seq, first_offset, entries}
        """)

    package func head(of stream: StreamName) async throws -> StreamPosition {
        let result = try await readRaw(stream, after: StreamPosition(epoch: "none", offset: 0), limit: 0)
        return result.head
    }

    package func read(_ stream: StreamName, after position: StreamPosition, limit: Int) async throws -> CatchUp {
        let result = try await readRaw(stream, after: position, limit: max(1, limit))
        return MemoryEventBus.catchUp(after: position, head: result.head, firstRetained: result.firstRetained, events: result.events)
    }

    private func readRaw(_ stream: StreamName, after position: StreamPosition, limit: Int) async throws
        -> (head: StreamPosition, firstRetained: UInt64?, events: [StreamEvent])
    {
        let reply = try await redis.eval(
            Self.readScript, keys: keys(stream),
            arguments: [StreamPosition.makeEpoch(), ttlSeconds, position.epoch, String(position.offset), max(1, limit)])
        guard let values = reply.array, values.count == 4, let epoch = values[0].string, let seq = values[1].int,
            let firstOffset = values[2].int
        else {
            throw RedisError.unexpectedReply(command: "EVALSHA read", reply: "\(reply)")
        }
        var events: [StreamEvent] = []
        for entry in values[3].array ?? [] {
            guard let parsed = RedisStreamEntry(entry), let offset = parsed.id.split(separator: "-").first.flatMap({ UInt64($0) })
            else { continue }
            let fields = Dictionary(parsed.fields.map { ($0.name, String(buffer: $0.value)) }) { first, _ in first }
            events.append(
                StreamEvent(
                    stream: stream, position: StreamPosition(epoch: epoch, offset: offset), type: fields["t"] ?? "message",
                    data: fields["d"] ?? ""))
        }
        return (StreamPosition(epoch: epoch, offset: UInt64(seq)), firstOffset > 0 ? UInt64(firstOffset) : nil, events)
    }

    package func subscribe(_ stream: StreamName) async throws -> EventSubscription {
        try await subscribed(stream, fanout.add(stream, onLastRemoved: unsubscribeWhenUnused).0)
    }

    package func subscribe(_ stream: StreamName, sink: EventSignalSink) async throws -> EventSubscription {
        try await subscribed(stream, fanout.add(stream, sink: sink, onLastRemoved: unsubscribeWhenUnused).0)
    }

    private var unsubscribeWhenUnused: @Sendable (StreamName) -> Void {
        { [weak self] name in
            guard let self else { return }
            Task { await self.channels.sync(name, bus: self) }
        }
    }

    private func subscribed(_ stream: StreamName, _ subscription: EventSubscription) async throws -> EventSubscription {
        // Returns once Redis has applied the SUBSCRIBE (when connected), so a catch-up read
        // made after this cannot miss an event published in between.
        await channels.sync(stream, bus: self)
        return subscription
    }

    // MARK: Presence

    /// KEYS: subject's connection set, index. ARGV: connection, ttl ms, subject, channel.
    static let onlineScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local expiry = now + tonumber(ARGV[2])
        redis.call('ZADD', KEYS[1], expiry, ARGV[1])
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
        local added = redis.call('ZADD', KEYS[2], 'GT', expiry, ARGV[3])
        if added == 1 then
            local id = redis.call('INCR', KEYS[3])
            redis.call('PUBLISH', ARGV[4], cjson.encode({s = ARGV[3], online = true, id = id}))
        end
        return added
        """)

    /// Removes a connection (ARGV[1]) or, with ARGV[1] empty, only expired ones; announces
    /// offline once when nothing live is left and the subject was announced online.
    static let offlineScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        if redis.call('ZCARD', KEYS[1]) > 0 then
            local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
            redis.call('ZADD', KEYS[2], 'XX', newest[2], ARGV[2])
            return 0
        end
        if redis.call('ZREM', KEYS[2], ARGV[2]) == 1 then
            local id = redis.call('INCR', KEYS[3])
            redis.call('PUBLISH', ARGV[3], cjson.encode({s = ARGV[2], online = false, id = id}))
            return 1
        end
        return 0
        """)

    static let isOnlineScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
        """)

    static let expiredSubjectsScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
        """)

    package func markOnline(_ subject: String, connection: String, ttl: Duration) async throws -> Bool {
        let milliseconds = max(1, Int(ttl.components.seconds) * 1000 + Int(ttl.components.attoseconds / 1_000_000_000_000_000))
        let reply = try await redis.eval(
            Self.onlineScript, keys: [presenceKey(subject), presenceIndex, presenceSequenceKey],
            arguments: [connection, milliseconds, subject, presenceChannel])
        return reply.int == 1
    }

    package func markOffline(_ subject: String, connection: String) async throws -> Bool {
        try await settle(subject, removing: connection)
    }

    private func settle(_ subject: String, removing connection: String) async throws -> Bool {
        let reply = try await redis.eval(
            Self.offlineScript, keys: [presenceKey(subject), presenceIndex, presenceSequenceKey],
            arguments: [connection, subject, presenceChannel])
        return reply.int == 1
    }

    package func isOnline(_ subject: String) async throws -> Bool {
        try await redis.eval(Self.isOnlineScript, keys: [presenceKey(subject)]).int ?? 0 > 0
    }

    package func presenceChanges() async -> PresenceSubscription {
        presenceFanout.add()
    }

    /// Subjects whose every connection lapsed (their process died) are announced offline by
    /// whichever replica's sweep gets to them first; the script makes that exactly once.
    func sweepPresence() async {
        do {
            let reply = try await redis.eval(Self.expiredSubjectsScript, keys: [presenceIndex])
            for subject in (reply.array ?? []).compactMap(\.string) {
                _ = try await settle(subject, removing: "")
            }
        } catch {
            logger.debug("presence sweep failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Receiver

    package var isReceiving: Bool {
        get async { dispatcher.isReceiving }
    }

    struct WirePresence: Decodable {
        let s: String
        let online: Bool
        let id: UInt64
    }

    package func run() async {
        do {
            try await receiver.subscribe([presenceChannel])
        } catch {
            logger.error("cannot subscribe to presence changes", metadata: ["error": "\(error)"])
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.receiver.run() }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.presenceSweepInterval)
                    await self.sweepPresence()
                }
            }
            await group.next()
            group.cancelAll()
        }
        dispatcher.stoppedReceiving()
    }
}

/// What the pub/sub connection receives, dispatched on its event loop without a task hop:
/// stream events to the local fan-out, presence changes to their consumers, and a gap to every
/// subscriber after a reconnect.
struct RedisEventDispatcher: Sendable {
    let fanout: LocalFanout
    let presenceFanout: PresenceFanout
    let presenceChannel: String
    let logger: Logger
    /// Whether the pub/sub receiver is connected (live delivery works).
    private let receiving = NIOLockedValueBox(false)

    init(fanout: LocalFanout, presenceFanout: PresenceFanout, presenceChannel: String, logger: Logger) {
        self.fanout = fanout
        self.presenceFanout = presenceFanout
        self.presenceChannel = presenceChannel
        self.logger = logger
    }

    var isReceiving: Bool { receiving.withLockedValue { $0 } }

    func stoppedReceiving() {
        receiving.withLockedValue { $0 = false }
    }

    func handle(_ event: RedisSubscriptionEvent) {
        switch event {
        case .connected, .reconnected:
            receiving.withLockedValue { $0 = true }
            // Anything published while we were not subscribed must be read from the streams.
            fanout.broadcastGap()
            logger.info("event receiver connected", metadata: ["event": "events.receiver_connected"])
        case .disconnected(let error):
            receiving.withLockedValue { $0 = false }
            logger.warning("event receiver disconnected", metadata: ["event": "events.receiver_disconnected", "error": "\(error)"])
        case .message(let channel, let payload):
            if channel == presenceChannel {
                if let change = try? JSONDecoder().decode(RedisEventBus.WirePresence.self, from: Data(payload.readableBytesView)) {
                    presenceFanout.publish(PresenceChange(subject: change.s, isOnline: change.online, sequence: change.id))
                }
            } else if let event = Self.decodeEvent(payload) ?? Self.decodeJSONEvent(payload) {
                fanout.publish(event)
            }
        case .patternMessage:
            break
        }
    }

    /// The JSON payload earlier versions published (older replicas still do during a rolling
    /// upgrade).
    static func decodeJSONEvent(_ payload: ByteBuffer) -> StreamEvent? {
        struct WireEvent: Decodable {
            let s: String
            let e: String
            let o: UInt64
            let t: String
            let d: String
        }
        guard payload.readableBytesView.first == UInt8(ascii: "{"),
            let wire = try? JSONDecoder().decode(WireEvent.self, from: Data(payload.readableBytesView)), let stream = StreamName(wire.s)
        else { return nil }
        return StreamEvent(stream: stream, position: StreamPosition(epoch: wire.e, offset: wire.o), type: wire.t, data: wire.d)
    }

    /// The payload the append script publishes: `e1`, epoch, offset, stream, type and data, one
    /// per line (only the data, last, may itself contain newlines). Parsed without Foundation:
    /// this runs once per event per replica.
    static func decodeEvent(_ payload: ByteBuffer) -> StreamEvent? {
        let bytes = payload.readableBytesView
        var fields: [String] = []
        var fieldStart = bytes.startIndex
        var index = bytes.startIndex
        while fields.count < 5, index < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "\n") {
                fields.append(String(decoding: bytes[fieldStart..<index], as: UTF8.self))
                fieldStart = index + 1
            }
            index += 1
        }
        guard fields.count == 5, fields[0] == "e1", let offset = UInt64(fields[2]), let stream = StreamName(fields[3]) else { return nil }
        return StreamEvent(
            stream: stream, position: StreamPosition(epoch: fields[1], offset: offset), type: fields[4],
            data: String(decoding: bytes[fieldStart...], as: UTF8.self))
    }
}

/// Keeps the receiver's channel subscriptions equal to the streams with local subscribers.
/// Calls run one at a time and each looks at the current wish, so the last call wins.
actor ChannelSynchronizer {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func sync(_ stream: StreamName, bus: RedisEventBus) async {
        while busy { await withCheckedContinuation { waiters.append($0) } }
        busy = true
        defer {
            busy = false
            if !waiters.isEmpty { waiters.removeFirst().resume() }
        }
        let wanted = bus.fanout.streams.contains(stream)
        let channel = bus.channel(stream)
        let subscribed = await bus.receiver.subscribedChannels.contains(channel)
        do {
            if wanted && !subscribed {
                try await bus.receiver.subscribe([channel])
            } else if !wanted && subscribed {
                try await bus.receiver.unsubscribe([channel])
            }
        } catch {
            bus.logger.warning("channel subscription change failed", metadata: ["stream": "\(stream)", "error": "\(error)"])
        }
    }
}
