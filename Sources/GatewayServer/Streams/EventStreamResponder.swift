import Foundation
import GatewayEvents
import GatewayProtocol
import Hummingbird
import Logging
import NIOCore
import ServerSentEvents

/// Timing and limits of Server-Sent Event streams.
package struct EventStreamSettings: Sendable {
    /// A comment line at least this often keeps proxies (Railway's edge closes idle requests
    /// after 5 minutes) and clients from timing the stream out.
    package var heartbeatInterval: Duration = .seconds(15)
    /// Streams end cleanly before this (Railway cuts requests at 15 minutes); clients resume.
    package var maximumLifetime: Duration = .seconds(14 * 60)
    /// The `retry:` hint: how long an EventSource waits before reconnecting.
    package var retryMilliseconds = 2000
    /// Events read per catch-up round trip.
    package var catchUpPageSize = 500
    /// Inputs (mostly live events) a stream may have waiting to be written before its client
    /// counts as too slow and is disconnected; it resumes from its last id.
    package var maximumBacklog = 1024

    package init() {}
}

/// Why a stream ended, for logs and metrics.
enum StreamEnd: String, Sendable {
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
///
/// Routing, authentication, the access check and the catch-up run in Hummingbird's request
/// task; the live phase, which is most of a stream's life, is served by a `LiveEventStream`
/// handler in the connection's pipeline, so an open stream holds no suspended task.
struct EventStreamResponder: Sendable {
    let bus: any EventBus
    let settings: EventStreamSettings
    let metrics: GatewayMetrics
    let logger: Logger
    /// The streams being served from channel pipelines: ended and awaited on shutdown.
    let live = LiveEventStreams()

    /// Hooks for the stream's owner: `opened` runs once headers are committed, `closed` when it
    /// ends, with why (presence uses them); `periodic` runs while it is open; `keepOpenAfter` lets the
    /// owner end the stream after an event (e.g. share revoked).
    struct Hooks: Sendable {
        var opened: @Sendable () async -> Void = {}
        var closed: @Sendable (StreamEnd) async -> Void = { _ in }
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

    func response(_ stream: StreamName, request: Request, context: some ConnectionRequestContext, hooks: Hooks = Hooks()) -> Response {
        let requested = Self.requestedPosition(request)
        let channel = context.channel
        let headers: HTTPFields = [
            .contentType: "text/event-stream; charset=utf-8",
            .cacheControl: "no-cache, no-transform",
            .init("X-Accel-Buffering")!: "no",
            .connection: "keep-alive",
        ]
        let parameters = LiveEventStream.Parameters(
            stream: stream, bus: bus, settings: settings, hooks: hooks, metrics: metrics, registry: live, logger: logger)
        let body = ResponseBody { writer in
            metrics.recordStreamOpened()
            let session = StreamSession(parameters: parameters, requested: requested, channel: channel)
            switch await session.run(writer: &writer) {
            case .live:
                // The connection now belongs to its pipeline: end Hummingbird's request task
                // without closing it (LiveEventStream swallows the close that follows).
                throw LiveEventStream.HandedOver()
            case .ended(let reason):
                metrics.recordStreamEnded(reason: reason.rawValue)
                try? await writer.finish(nil)
            }
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}

/// The start of one client's stream, in the request's task: subscribe, write the retry hint
/// and what the client missed, then hand the connection to a `LiveEventStream` in its pipeline.
struct StreamSession {
    let parameters: LiveEventStream.Parameters
    let requested: StreamPosition??
    let channel: any Channel

    enum Outcome {
        /// The stream goes on in the channel pipeline; the request's task must end.
        case live
        case ended(StreamEnd)
    }

    func run(writer: inout any ResponseBodyWriter) async -> Outcome {
        // Subscribe before reading history, so nothing appended meanwhile is missed: live
        // signals wait in the mailbox (on the channel's event loop) until the hand-over.
        let mailbox = NIOLoopBoundBox.makeBoxSendingValue(
            LiveEventStream.Mailbox(capacity: parameters.settings.maximumBacklog), eventLoop: channel.eventLoop)
        let sink = EventSignalSink(on: channel.eventLoop) { signal in mailbox.value.receive(signal) }
        let subscription: EventSubscription
        do {
            subscription = try await parameters.bus.subscribe(parameters.stream, sink: sink)
        } catch {
            parameters.logger.warning(
                "event stream could not subscribe", metadata: ["stream": "\(parameters.stream)", "error": "\(error)"])
            return .ended(.error)
        }
        do {
            try await writer.write(ByteBuffer(string: ServerSentEvent.retryHint(milliseconds: parameters.settings.retryMilliseconds)))
        } catch {
            subscription.cancel()
            return .ended(.clientGone)
        }
        await parameters.hooks.opened()
        let delivered: StreamPosition
        do {
            delivered = try await start(writer: &writer)
        } catch {
            subscription.cancel()
            let reason = (error as? StreamClosedByHook)?.reason ?? .clientGone
            await parameters.hooks.closed(reason)
            return .ended(reason)
        }
        let channel = self.channel
        let parameters = self.parameters
        let handedOver = try? await channel.eventLoop.submit {
            LiveEventStream.install(
                on: channel, parameters: parameters, subscription: subscription, delivered: delivered, mailbox: mailbox.value)
        }.get()
        guard handedOver == true else {
            // The client left meanwhile, or this channel has no HTTP/1 pipeline to take over.
            subscription.cancel()
            await parameters.hooks.closed(.clientGone)
            return .ended(.clientGone)
        }
        return .live
    }

    struct StreamClosedByHook: Error {
        let reason: StreamEnd
    }

    /// Writes history after the requested position, or announces where the client stands.
    func start(writer: inout any ResponseBodyWriter) async throws -> StreamPosition {
        let bus = parameters.bus
        let stream = parameters.stream
        switch requested {
        case .some(.some(let position)):
            let pageSize = parameters.settings.catchUpPageSize
            let caughtUp = try await LiveEventStream.catchUp(bus: bus, stream: stream, after: position, pageSize: pageSize)
            var delivered = position
            for event in caughtUp.events {
                try await writer.write(event.frame)
                delivered = event.position
                if !parameters.hooks.keepOpenAfter(event) { throw StreamClosedByHook(reason: .closedByServer) }
            }
            if let reset = caughtUp.reset {
                try await writer.write(LiveEventStream.resetFrame(reason: reset.reason, head: reset.head))
                delivered = reset.head
            }
            return delivered
        case .some(.none):
            let head = try await bus.head(of: stream)
            try await writer.write(LiveEventStream.resetFrame(reason: .unknownPosition, head: head))
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
}
