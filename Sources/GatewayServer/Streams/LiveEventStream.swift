import GatewayEvents
import GatewayProtocol
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import ServerSentEvents

/// The live phase of one event stream, served from its connection's channel pipeline.
///
/// Once `StreamSession` has written what the client missed, this handler takes the connection
/// over: live events arrive on the channel's event loop (the fan-out hands each event to each
/// loop once) and are written as their shared, pre-encoded frame; heartbeats and the lifetime
/// limit are event-loop timers; a skipped offset or a gap is filled by reading the stream in a
/// short-lived task. An idle stream is a channel, its codec and this handler: no suspended task.
///
/// It sits between the HTTP codec and Hummingbird's connection handlers. The request's task
/// ends by throwing `HandedOver`, and the close Hummingbird then asks for is swallowed here:
/// from that point on, this handler alone decides when the connection ends.
final class LiveEventStream: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    struct Parameters: Sendable {
        let stream: StreamName
        let bus: any EventBus
        let settings: EventStreamSettings
        let hooks: EventStreamResponder.Hooks
        let metrics: GatewayMetrics
        let registry: LiveEventStreams
        let logger: Logger
    }

    /// Ends the request's task once its connection is served by a `LiveEventStream`.
    struct HandedOver: Error {}

    /// Where live signals go: held here while the request's task writes history, then passed
    /// to the handler. Used only on the channel's event loop.
    final class Mailbox {
        let capacity: Int
        fileprivate var early: [EventSignal] = []
        fileprivate var missedSome = false
        fileprivate var handler: LiveEventStream?

        init(capacity: Int) {
            self.capacity = capacity
        }

        func receive(_ signal: EventSignal) {
            if let handler {
                handler.receive(signal)
            } else if early.count < capacity {
                early.append(signal)
            } else {
                // Reading the stream after the hand-over recovers whatever was dropped here.
                missedSome = true
            }
        }
    }

    /// The heartbeat comment every idle stream writes: encoded once for all of them.
    static let heartbeatFrame = ByteBuffer(string: ServerSentEvent.comment("heartbeat"))

    private let parameters: Parameters
    private let subscription: EventSubscription
    private var delivered: StreamPosition
    private var context: ChannelHandlerContext?
    private var mailbox: Mailbox?
    /// Cancel the heartbeat, lifetime and periodic timers.
    private var timers: [() -> Void] = []
    /// A read of the stream is under way; live signals wait in `waiting` until it is written.
    private var catchingUp = false
    private var catchUpAgain = false
    private var waiting: [EventSignal] = []
    /// Frames written while the channel was not writable: the client is not keeping up.
    private var backlog = 0
    private var needsFlush = false
    private var ended = false

    private init(parameters: Parameters, subscription: EventSubscription, delivered: StreamPosition) {
        self.parameters = parameters
        self.subscription = subscription
        self.delivered = delivered
    }

    /// Puts a handler for the stream into `channel`'s pipeline and starts it with the signals
    /// that arrived meanwhile. Runs on the channel's event loop; false when the client has gone
    /// or the channel has no HTTP/1 connection handler to sit in front of.
    static func install(
        on channel: any Channel, parameters: Parameters, subscription: EventSubscription, delivered: StreamPosition, mailbox: Mailbox
    ) -> Bool {
        guard channel.isActive, let connection = try? channel.pipeline.syncOperations.context(handlerType: HTTPConnectionStateHandler.self)
        else { return false }
        let handler = LiveEventStream(parameters: parameters, subscription: subscription, delivered: delivered)
        do {
            try channel.pipeline.syncOperations.addHandler(handler, position: .before(connection.handler))
        } catch {
            return false
        }
        handler.start(mailbox: mailbox)
        return true
    }

    private func start(mailbox: Mailbox) {
        guard let context else { return }
        self.mailbox = mailbox
        mailbox.handler = self
        let early = mailbox.early
        mailbox.early = []
        parameters.registry.register(self, on: context.eventLoop)
        startTimers(on: context.eventLoop)
        if mailbox.missedSome { startCatchUp() }
        for signal in early { receive(signal) }
        flushIfNeeded()
        // Hummingbird's reader stopped with the request's task; read on to notice the client
        // leaving (an EventSource never sends anything else).
        context.read()
    }

    private func startTimers(on eventLoop: any EventLoop) {
        let this = NIOLoopBound(self, eventLoop: eventLoop)
        let settings = parameters.settings
        let heartbeat = TimeAmount(settings.heartbeatInterval)
        let heartbeatTask = eventLoop.scheduleRepeatedTask(initialDelay: heartbeat, delay: heartbeat) { _ in
            this.value.write(Self.heartbeatFrame)
            this.value.flushIfNeeded()
        }
        let lifetimeTask = eventLoop.scheduleTask(in: TimeAmount(settings.maximumLifetime)) { this.value.end(.lifetime) }
        timers = [{ heartbeatTask.cancel() }, { lifetimeTask.cancel() }]
        if let (interval, action) = parameters.hooks.periodic {
            let registry = parameters.registry
            let periodicTask = eventLoop.scheduleRepeatedTask(initialDelay: TimeAmount(interval), delay: TimeAmount(interval)) { _ in
                registry.run(action)
            }
            timers.append { periodicTask.cancel() }
        }
    }

    // MARK: Live delivery

    /// One live signal, on the channel's event loop.
    func receive(_ signal: EventSignal) {
        guard !ended else { return }
        if catchingUp {
            switch signal {
            case .gap: catchUpAgain = true
            case .event: waiting.append(signal)
            }
            if waiting.count > parameters.settings.maximumBacklog {
                // Rather than hold them all, read the stream again once this read is written.
                waiting.removeAll()
                catchUpAgain = true
            }
            return
        }
        switch signal {
        case .gap:
            startCatchUp()
        case .event(let event):
            if event.position.epoch == delivered.epoch {
                if event.position.offset <= delivered.offset { return }
                if event.position.offset == delivered.offset + 1 {
                    writeEvent(event)
                    flushIfNeeded()
                    return
                }
            }
            // A skipped offset or a new epoch: the stream itself says what happened.
            startCatchUp()
        }
    }

    private func writeEvent(_ event: StreamEvent) {
        write(event.frame)
        delivered = event.position
        if !parameters.hooks.keepOpenAfter(event) { end(.closedByServer) }
    }

    private func write(_ frame: ByteBuffer) {
        guard !ended, let context else { return }
        context.write(wrapOutboundOut(.body(frame)), promise: nil)
        needsFlush = true
        if !context.channel.isWritable {
            backlog += 1
            if backlog > parameters.settings.maximumBacklog { end(.overflow) }
        }
    }

    private func flushIfNeeded() {
        guard needsFlush, !ended, let context else { return }
        needsFlush = false
        context.flush()
    }

    // MARK: Catching up

    private func startCatchUp() {
        guard let context, !ended else { return }
        guard !catchingUp else {
            catchUpAgain = true
            return
        }
        catchingUp = true
        let eventLoop = context.eventLoop
        let this = NIOLoopBound(self, eventLoop: eventLoop)
        let parameters = self.parameters
        let after = delivered
        Task {
            let result = await LiveEventStream.readResult(parameters, after: after)
            eventLoop.execute { this.value.finishCatchUp(result) }
        }
    }

    private static func readResult(_ parameters: Parameters, after position: StreamPosition) async -> Result<CatchUpResult, any Error> {
        do {
            return .success(
                try await catchUp(
                    bus: parameters.bus, stream: parameters.stream, after: position, pageSize: parameters.settings.catchUpPageSize))
        } catch {
            return .failure(error)
        }
    }

    private func finishCatchUp(_ result: Result<CatchUpResult, any Error>) {
        catchingUp = false
        guard !ended else { return }
        switch result {
        case .failure(let error):
            parameters.logger.warning(
                "event stream could not read its history", metadata: ["stream": "\(parameters.stream)", "error": "\(error)"])
            end(.error)
            return
        case .success(let caughtUp):
            for event in caughtUp.events where event.position.epoch != delivered.epoch || event.position.offset > delivered.offset {
                writeEvent(event)
                if ended { return }
            }
            if let reset = caughtUp.reset {
                write(Self.resetFrame(reason: reset.reason, head: reset.head))
                delivered = reset.head
            }
        }
        let queued = waiting
        waiting = []
        if catchUpAgain {
            catchUpAgain = false
            startCatchUp()
        }
        for signal in queued { receive(signal) }
        flushIfNeeded()
    }

    /// What a read of the stream after a position found: events, then possibly a reset (the
    /// position could not be honoured, or the stream was trimmed or restarted mid-read).
    struct CatchUpResult: Sendable {
        var events: [StreamEvent] = []
        var reset: (reason: ResetReason, head: StreamPosition)?
    }

    /// Reads `stream` after `position` page by page up to its head.
    static func catchUp(bus: any EventBus, stream: StreamName, after position: StreamPosition, pageSize: Int) async throws
        -> CatchUpResult
    {
        var result = CatchUpResult()
        var delivered = position
        while true {
            switch try await bus.read(stream, after: delivered, limit: pageSize) {
            case .reset(let reason, let head):
                result.reset = (reason, head)
                return result
            case .events(let events, let head):
                result.events += events
                delivered = events.last?.position ?? delivered
                if events.count < pageSize || delivered.offset >= head.offset { return result }
            }
        }
    }

    static func resetFrame(reason: ResetReason, head: StreamPosition) -> ByteBuffer {
        var frame = ByteBuffer()
        let data = (try? WireJSON.string(ResetEvent(reason: reason, position: head.description))) ?? "{}"
        ServerSentEvent(id: head.description, event: EventType.reset.rawValue, data: data).write(into: &frame)
        return frame
    }

    // MARK: Ending

    /// Ends the stream once: stops its timers and subscription, finishes the response (unless
    /// the client is gone or too slow), closes the connection and runs the `closed` hook.
    func end(_ reason: StreamEnd) {
        guard !ended else { return }
        ended = true
        for cancel in timers { cancel() }
        timers = []
        subscription.cancel()
        mailbox?.handler = nil
        mailbox = nil
        waiting = []
        if let context {
            switch reason {
            case .clientGone, .overflow:
                context.close(promise: nil)
            case .lifetime, .shutdown, .closedByServer, .error:
                // The terminating chunk first; a client that does not take it within a second
                // is closed on anyway.
                let finished = context.writeAndFlush(wrapOutboundOut(.end(nil)))
                let closeAnyway = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { context.close(promise: nil) }
                finished.assumeIsolated().whenComplete { _ in
                    closeAnyway.cancel()
                    context.close(promise: nil)
                }
            }
        }
        if reason == .overflow {
            parameters.logger.info(
                "slow event-stream client disconnected", metadata: ["event": "stream.slow_client", "stream": "\(parameters.stream)"])
        }
        parameters.metrics.recordStreamEnded(reason: reason.rawValue)
        parameters.registry.ended(self, reason: reason, closed: parameters.hooks.closed)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        end(.clientGone)
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Nothing more is expected from an event-stream client; whatever comes is dropped.
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !ended { context.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(.clientGone)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            // EventSource clients never half-close: input closed means gone.
            end(.clientGone)
        case is ChannelShouldQuiesceEvent:
            end(.shutdown)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end(.clientGone)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { backlog = 0 }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The request's task has ended; nothing behind this handler writes any more.
        promise?.fail(ChannelError.ioOnClosedChannel)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // The close Hummingbird asks for when the request's task ends (and its idle timer):
        // the connection belongs to the stream now, which closes it itself when it ends.
        promise?.succeed(())
    }
}
