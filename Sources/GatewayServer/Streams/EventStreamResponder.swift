import Foundation
import GatewayEvents
import GatewayProtocol
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServerSentEvents
import ServiceLifecycle

/// Timing and limits of Server-Sent Event streams.
public struct EventStreamSettings: Sendable {
    /// A comment line at least this often keeps proxies (Railway's edge closes idle requests
    /// after 5 minutes) and clients from timing the stream out.
    public var heartbeatInterval: Duration = .seconds(15)
    /// Streams end cleanly before this (Railway cuts requests at 15 minutes); clients resume.
    public var maximumLifetime: Duration = .seconds(14 * 60)
    /// The `retry:` hint: how long an EventSource waits before reconnecting.
    public var retryMilliseconds = 2000
    /// Events read per catch-up round trip.
    public var catchUpPageSize = 500
    /// Inputs (mostly live events) a stream may have waiting to be written before its client
    /// counts as too slow and is disconnected; it resumes from its last id.
    public var maximumBacklog = 1024

    public init() {}
}

/// Why a stream ended, for logs and metrics.
enum StreamEnd: String {
    case clientGone = "client_gone"
    case lifetime
    case shutdown
    case overflow = "slow_client"
    case closedByServer = "closed"
    case error
}

/// Serves one event stream as `text/event-stream` with exact resume.
///
/// Order of operations makes the handover from history to live delivery exact: subscribe to
/// live events first, then read history after the client's position, then deliver live events,
/// dropping those already sent (offset not above the last one written) and reading the stream
/// again whenever an offset is skipped or live delivery reports a gap. Every event is therefore
/// written once, in offset order. A position that cannot be honoured yields a `reset` event.
struct EventStreamResponder: Sendable {
    let bus: any EventBus
    let settings: EventStreamSettings
    let metrics: GatewayMetrics
    let logger: Logger

    /// Hooks for the stream's owner: `opened` runs once headers are committed, `closed` when it
    /// ends (presence uses them); `stop` lets the owner end the stream (e.g. share revoked)
    /// by yielding a final event or nil.
    struct Hooks: Sendable {
        var opened: @Sendable () async -> Void = {}
        var closed: @Sendable () async -> Void = {}
        var periodic: (interval: Duration, action: @Sendable () async -> Void)?
        /// Inspect each event before it is written: return false to end the stream after it.
        var keepOpenAfter: @Sendable (StreamEvent) -> Bool = { _ in true }
    }

    static let resumeQueryParameter = "last_event_id"

    /// The position a client asked to resume from: `Last-Event-ID` header first (EventSource
    /// sends it on reconnect), else `?last_event_id=` (browsers cannot set headers on the first
    /// connect). `.some(nil)` means an id was sent but is not one of ours.
    static func requestedPosition(_ request: Request) -> StreamPosition?? {
        let raw = request.headers[.init("Last-Event-ID")!] ?? FormData.query(of: request)?[resumeQueryParameter]
        guard let raw, !raw.isEmpty else { return nil }
        return .some(StreamPosition(raw))
    }

    func response(_ stream: StreamName, request: Request, context: GatewayRequestContext, hooks: Hooks = Hooks()) -> Response {
        let requested = Self.requestedPosition(request)
        let channel = context.channel
        let headers: HTTPFields = [
            .contentType: "text/event-stream; charset=utf-8",
            .cacheControl: "no-cache, no-transform",
            .init("X-Accel-Buffering")!: "no",
            .connection: "keep-alive",
        ]
        let body = ResponseBody { writer in
            metrics.recordStreamOpened()
            let session = StreamSession(
                stream: stream, requested: requested, bus: bus, settings: settings, channel: channel, hooks: hooks, logger: logger)
            let ended = await session.run(writer: &writer)
            metrics.recordStreamEnded(reason: ended.rawValue)
            try? await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}

/// The inputs a stream reacts to, merged into one sequence.
enum StreamInput: Sendable {
    /// Live signals are waiting in the stream's `StreamInbox`.
    case signals
    case heartbeat
    case periodic
    case end(StreamEnd)
}

/// Live signals for one stream, filled by the publisher's thread and drained by the stream in
/// one go: however many events arrived since the stream last ran, it wakes once, writes them
/// in one buffer and flushes once. Holding more than `capacity` undrained signals means the
/// client cannot keep up: the delivery is refused and the subscription ends as overflowed.
final class StreamInbox: Sendable {
    private let state = NIOLockedValueBox((signals: [EventSignal](), wakePending: false))
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Adds `signal`; returns nil when full, else whether the stream must be woken (it was
    /// idle; otherwise a wake-up is already on its way).
    func add(_ signal: EventSignal) -> Bool? {
        state.withLockedValue { state in
            guard state.signals.count < capacity else { return nil }
            state.signals.append(signal)
            defer { state.wakePending = true }
            return !state.wakePending
        }
    }

    /// Everything waiting, oldest first; the next `add` wakes the stream again.
    func drain() -> [EventSignal] {
        state.withLockedValue { state in
            state.wakePending = false
            defer { state.signals.removeAll(keepingCapacity: true) }
            return state.signals
        }
    }
}

/// One client's stream from subscribe to close.
struct StreamSession {
    let stream: StreamName
    let requested: StreamPosition??
    let bus: any EventBus
    let settings: EventStreamSettings
    let channel: any Channel
    let hooks: EventStreamResponder.Hooks
    let logger: Logger

    func run(writer: inout any ResponseBodyWriter) async -> StreamEnd {
        // Every input (live signals, timers, the client going away, shutdown) is pushed into one
        // sequence by callbacks, so an idle stream is one suspended task and a live event
        // reaches the writer without a hop through another task. Live signals wait in the
        // inbox, so a burst costs one wake-up and one write; a client too slow to take
        // `maximumBacklog` of them overflows it and is disconnected (it resumes later). The other
        // inputs come from timers and callbacks at a bounded pace, so their queue needs no bound.
        let inbox = StreamInbox(capacity: settings.maximumBacklog)
        let (inputs, continuation) = AsyncStream.makeStream(of: StreamInput.self)
        let sink = EventSignalSink(
            deliver: { signal in
                guard let wake = inbox.add(signal) else { return false }
                if wake { continuation.yield(.signals) }
                return true
            },
            finish: { continuation.finish() })
        let subscription: EventSubscription
        do {
            subscription = try await bus.subscribe(stream, sink: sink)
        } catch {
            logger.warning("event stream could not subscribe", metadata: ["stream": "\(stream)", "error": "\(error)"])
            return .error
        }
        defer { subscription.cancel() }
        let timers = StreamTimers(on: channel.eventLoop, settings: settings, periodic: hooks.periodic?.interval, inputs: continuation)
        defer { timers.cancel() }
        let watcher = await ClientDisconnectWatcher.install(on: channel) { continuation.yield(.end(.clientGone)) }
        defer { watcher?.remove() }
        if watcher == nil { return .clientGone }

        return await withGracefulShutdownHandler {
            await serve(inputs: inputs, inbox: inbox, subscription: subscription, writer: &writer)
        } onGracefulShutdown: {
            continuation.yield(.end(.shutdown))
        }
    }

    private func serve(
        inputs: AsyncStream<StreamInput>, inbox: StreamInbox, subscription: EventSubscription, writer: inout any ResponseBodyWriter
    ) async -> StreamEnd {
        var delivered: StreamPosition
        do {
            try await writer.write(ByteBuffer(string: ServerSentEvent.retryHint(milliseconds: settings.retryMilliseconds)))
            await hooks.opened()
            delivered = try await start(writer: &writer)
        } catch {
            await hooks.closed()
            return .clientGone
        }

        // The inputs only finish on their own when the subscription overflowed.
        var ended = StreamEnd.error
        do {
            inputLoop: for await input in inputs {
                switch input {
                case .signals:
                    let (position, keepOpen) = try await deliver(inbox.drain(), after: delivered, writer: &writer)
                    delivered = position
                    if !keepOpen {
                        ended = .closedByServer
                        break inputLoop
                    }
                case .heartbeat:
                    try await writer.write(Self.heartbeat)
                case .periodic:
                    await hooks.periodic?.action()
                case .end(let reason):
                    ended = reason
                    break inputLoop
                }
            }
            if ended == .error, subscription.overflowed { ended = .overflow }
        } catch let closed as StreamClosedByHook {
            ended = closed.reason
        } catch {
            ended = .clientGone
        }
        await hooks.closed()
        if ended == .overflow {
            logger.info("slow event-stream client disconnected", metadata: ["event": "stream.slow_client", "stream": "\(stream)"])
        }
        return ended
    }

    /// The heartbeat comment every idle stream writes: encoded once for all of them.
    static let heartbeat = ByteBuffer(string: ServerSentEvent.comment("heartbeat"))

    /// Writes the live signals that arrived since the last wake-up: consecutive events go out
    /// in one buffer and one flush; a skipped offset, a new epoch or a gap first sends what is
    /// batched, then reads the stream itself. Returns the last position written and whether
    /// the stream stays open.
    private func deliver(_ signals: [EventSignal], after position: StreamPosition, writer: inout any ResponseBodyWriter)
        async throws -> (StreamPosition, keepOpen: Bool)
    {
        var delivered = position
        var batch = ByteBuffer()
        func flush(_ writer: inout any ResponseBodyWriter) async throws {
            guard batch.readableBytes > 0 else { return }
            try await writer.write(batch)
            batch.clear()
        }
        for signal in signals {
            switch signal {
            case .event(let event):
                if event.position.epoch == delivered.epoch && event.position.offset <= delivered.offset { continue }
                if event.position.epoch == delivered.epoch && event.position.offset == delivered.offset + 1 {
                    if signals.count == 1 {
                        // The common case: one event, written as the shared frame, no copy.
                        try await writer.write(event.frame)
                    } else {
                        var frame = event.frame
                        batch.writeBuffer(&frame)
                    }
                    delivered = event.position
                    if !hooks.keepOpenAfter(event) {
                        try await flush(&writer)
                        return (delivered, false)
                    }
                } else {
                    // A skipped offset or a new epoch: the stream itself says what happened.
                    try await flush(&writer)
                    delivered = try await catchUp(after: delivered, writer: &writer)
                }
            case .gap:
                try await flush(&writer)
                delivered = try await catchUp(after: delivered, writer: &writer)
            }
        }
        try await flush(&writer)
        return (delivered, true)
    }

    struct StreamClosedByHook: Error {
        let reason: StreamEnd
    }

    /// Writes history after the requested position, or announces where the client stands.
    func start(writer: inout any ResponseBodyWriter) async throws -> StreamPosition {
        switch requested {
        case .some(.some(let position)):
            return try await catchUp(after: position, writer: &writer)
        case .some(.none):
            let head = try await bus.head(of: stream)
            try await writeReset(reason: .unknownPosition, head: head, writer: &writer)
            return head
        case .none:
            let head = try await bus.head(of: stream)
            let event = try ServerSentEvent(
                id: head.description, event: EventType.streamOpen.rawValue,
                data: WireJSON.string(StreamOpenEvent(position: head.description)))
            try await writer.write(ByteBuffer(string: event.encoded()))
            return head
        }
    }

    /// Reads the stream after `position` page by page, writing every event or a reset.
    func catchUp(after position: StreamPosition, writer: inout any ResponseBodyWriter) async throws -> StreamPosition {
        var delivered = position
        while true {
            switch try await bus.read(stream, after: delivered, limit: settings.catchUpPageSize) {
            case .reset(let reason, let head):
                try await writeReset(reason: reason, head: head, writer: &writer)
                return head
            case .events(let events, let head):
                for event in events {
                    try await write(event, to: &writer)
                    delivered = event.position
                    if !hooks.keepOpenAfter(event) { throw StreamClosedByHook(reason: .closedByServer) }
                }
                if events.count < settings.catchUpPageSize || delivered.offset >= head.offset { return delivered }
            }
        }
    }

    func write(_ event: StreamEvent, to writer: inout any ResponseBodyWriter) async throws {
        try await writer.write(event.frame)
    }

    func writeReset(reason: ResetReason, head: StreamPosition, writer: inout any ResponseBodyWriter) async throws {
        let event = try ServerSentEvent(
            id: head.description, event: EventType.reset.rawValue,
            data: WireJSON.string(ResetEvent(reason: reason, position: head.description)))
        try await writer.write(ByteBuffer(string: event.encoded()))
    }
}

/// The heartbeat, the optional periodic hook and the lifetime limit of one stream, as
/// event-loop timers feeding its input sequence.
struct StreamTimers {
    private let heartbeat: RepeatedTask
    private let periodic: RepeatedTask?
    private let lifetime: Scheduled<Void>

    init(
        on eventLoop: any EventLoop, settings: EventStreamSettings, periodic interval: Duration?,
        inputs: AsyncStream<StreamInput>.Continuation
    ) {
        let heartbeatInterval = TimeAmount(settings.heartbeatInterval)
        heartbeat = eventLoop.scheduleRepeatedTask(initialDelay: heartbeatInterval, delay: heartbeatInterval) { _ in
            inputs.yield(.heartbeat)
        }
        periodic = interval.map { interval in
            eventLoop.scheduleRepeatedTask(initialDelay: TimeAmount(interval), delay: TimeAmount(interval)) { _ in
                inputs.yield(.periodic)
            }
        }
        lifetime = eventLoop.scheduleTask(in: TimeAmount(settings.maximumLifetime)) {
            inputs.yield(.end(.lifetime))
        }
    }

    func cancel() {
        heartbeat.cancel()
        periodic?.cancel()
        lifetime.cancel()
    }
}
