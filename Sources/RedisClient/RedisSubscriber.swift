import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// What a ``RedisSubscriber`` reports.
public enum RedisSubscriptionEvent: Sendable, Equatable {
    /// The first connection is up and every subscription requested so far is active.
    case connected
    /// A message published to a channel subscribed with `subscribe`.
    case message(channel: String, payload: ByteBuffer)
    /// A message matched by a pattern subscribed with `psubscribe`.
    case patternMessage(pattern: String, channel: String, payload: ByteBuffer)
    /// The connection dropped. Messages published from now until `.reconnected` are lost.
    case disconnected(RedisError)
    /// Connected again and resubscribed to everything. Anything published during the gap was
    /// missed: consumers should catch up from durable state (e.g. a stream) now. Messages published
    /// right after the resubscription may be delivered just before this event.
    case reconnected
}

/// A dedicated pub/sub connection serving any number of channels and patterns.
///
/// Start ``run()`` (e.g. as a service); it connects, (re)subscribes, and on connection loss
/// reconnects with exponential backoff and resubscribes to everything, reporting the gap through
/// ``events``. ``events`` has a single consumer; fan-out to local listeners is up to the caller.
///
/// Works with RESP3 (messages are push frames) and RESP2 (the connection is in subscribe mode);
/// in both, a PING sent after each (UN)SUBSCRIBE tells us when the server has applied it.
public actor RedisSubscriber {
    /// Messages and connection-state changes. Finishes when ``run()`` returns. Events are buffered
    /// without limit, so keep consuming them.
    public nonisolated let events: AsyncStream<RedisSubscriptionEvent>
    private nonisolated let eventContinuation: AsyncStream<RedisSubscriptionEvent>.Continuation
    /// Where events go: into ``events``, or straight to the `onEvent` handler.
    private nonisolated let emit: @Sendable (RedisSubscriptionEvent) -> Void

    public nonisolated let configuration: RedisConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let sslContext: NIOSSLContext?

    private var channels: Set<String> = []
    private var patterns: Set<String> = []
    private var connection: RedisConnection?
    private var isRunning = false
    private var isShutDown = false

    /// With `onEvent`, every event is handed to it directly (messages on the connection's event
    /// loop, so it must not block) instead of going through ``events``, which then yields nothing:
    /// a consumer that only dispatches saves a task hop per message.
    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "redis.subscriber"),
        onEvent: (@Sendable (RedisSubscriptionEvent) -> Void)? = nil
    ) throws {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        do {
            self.sslContext = try configuration.tls.map { try NIOSSLContext(configuration: $0) }
        } catch {
            throw RedisError.connectionFailed(message: "invalid TLS configuration: \(error)")
        }
        (events, eventContinuation) = AsyncStream.makeStream(of: RedisSubscriptionEvent.self)
        if let onEvent {
            emit = onEvent
        } else {
            emit = { [eventContinuation] event in eventContinuation.yield(event) }
        }
    }

    /// Channels currently subscribed (or to be subscribed on the next connect).
    public var subscribedChannels: Set<String> { channels }
    /// Patterns currently subscribed (or to be subscribed on the next connect).
    public var subscribedPatterns: Set<String> { patterns }
    /// True while a connection is up.
    public var isConnected: Bool { connection?.isActive ?? false }

    // MARK: Subscriptions

    /// Subscribes to `channels`. If connected, returns once the server has applied the subscription;
    /// if not, returns at once and the subscription is made on (re)connect, announced by
    /// `.connected`/`.reconnected`. Throws if the server rejects it (e.g. ACL `NOPERM`).
    public func subscribe(_ channels: [String]) async throws {
        let added = channels.filter { !self.channels.contains($0) }
        guard !added.isEmpty else { return }
        self.channels.formUnion(added)
        do {
            try await apply("SUBSCRIBE", added)
        } catch let error as RedisError where !error.isConnectionError {
            self.channels.subtract(added)
            throw error
        }
    }

    /// Subscribes to glob-style `patterns` (PSUBSCRIBE); see ``subscribe(_:)``.
    public func psubscribe(_ patterns: [String]) async throws {
        let added = patterns.filter { !self.patterns.contains($0) }
        guard !added.isEmpty else { return }
        self.patterns.formUnion(added)
        do {
            try await apply("PSUBSCRIBE", added)
        } catch let error as RedisError where !error.isConnectionError {
            self.patterns.subtract(added)
            throw error
        }
    }

    /// Unsubscribes from `channels`; no more messages from them are delivered after this returns
    /// (when connected).
    public func unsubscribe(_ channels: [String]) async throws {
        let removed = channels.filter { self.channels.contains($0) }
        guard !removed.isEmpty else { return }
        self.channels.subtract(removed)
        try await apply("UNSUBSCRIBE", removed)
    }

    /// Unsubscribes from `patterns` (PUNSUBSCRIBE).
    public func punsubscribe(_ patterns: [String]) async throws {
        let removed = patterns.filter { self.patterns.contains($0) }
        guard !removed.isEmpty else { return }
        self.patterns.subtract(removed)
        try await apply("PUNSUBSCRIBE", removed)
    }

    /// Sends one (UN)SUBSCRIBE on the current connection, if any. Connection errors are swallowed:
    /// the desired state is already recorded and is re-applied on reconnect.
    private func apply(_ commandName: String, _ names: [String]) async throws {
        guard let connection else { return }
        do {
            try await Self.sendSubscriptionCommands([RedisCommand(commandName, arguments: names)], on: connection)
        } catch let error as RedisError where error.isConnectionError {
            logger.debug("Subscription change will be applied on reconnect", metadata: ["error": "\(error)"])
        }
    }

    /// Writes the commands plus a PING and waits for the PING's reply, which the server sends only
    /// after it has processed the commands before it. Any error reply among them is thrown.
    private static func sendSubscriptionCommands(_ commands: [RedisCommand], on connection: RedisConnection)
        async throws
    {
        var bytes = connection.channel.allocator.buffer(capacity: 256)
        for command in commands { command.encode(into: &bytes) }
        RedisCommand("PING").encode(into: &bytes)
        let name = commands.map(\.name).joined(separator: "+")
        let replies = try await RedisConnection.reportingUnsentAsClosed {
            try await connection.execute(bytes: bytes, expectedReplies: 1, commandName: name, kind: .subscriptionBarrier)
        }
        if let message = replies.lazy.compactMap(\.errorMessage).first {
            throw RedisError.server(message: message)
        }
    }

    // MARK: Running

    /// Connects and keeps the subscriptions alive until the task is cancelled or ``shutdown()`` is
    /// called, then closes the connection and finishes ``events``. Call once.
    public func run() async {
        guard !isRunning, !isShutDown else {
            logger.error("RedisSubscriber.run() called more than once")
            return
        }
        isRunning = true
        defer {
            connection = nil
            eventContinuation.finish()
        }

        var failedAttempts = 0
        var hasConnectedBefore = false
        while !Task.isCancelled, !isShutDown {
            if failedAttempts > 0 {
                let delay = configuration.reconnectBackoff.delay(forAttempt: failedAttempts)
                guard await sleepUnlessStopped(for: delay) else { break }
            }
            let newConnection: RedisConnection
            do {
                newConnection = try await RedisConnection.connect(
                    configuration: configuration,
                    sslContext: sslContext,
                    eventLoop: eventLoopGroup.any(),
                    logger: logger,
                    pushHandler: { [emit] frame in
                        Self.deliver(frame, to: emit)
                    }
                )
            } catch {
                failedAttempts += 1
                logger.warning(
                    "Redis subscriber could not connect; retrying",
                    metadata: ["error": "\(error)", "redis.attempt": "\(failedAttempts)"]
                )
                continue
            }
            guard !isShutDown else {
                await newConnection.close()
                break
            }

            // Publish the connection before resubscribing, so a subscribe() racing with us sends
            // its own command on it rather than being missed by the snapshot below.
            connection = newConnection
            do {
                var commands: [RedisCommand] = []
                if !channels.isEmpty { commands.append(RedisCommand("SUBSCRIBE", arguments: channels.sorted())) }
                if !patterns.isEmpty { commands.append(RedisCommand("PSUBSCRIBE", arguments: patterns.sorted())) }
                if !commands.isEmpty { try await Self.sendSubscriptionCommands(commands, on: newConnection) }
            } catch {
                logger.warning("Redis subscriber could not resubscribe; reconnecting", metadata: ["error": "\(error)"])
                connection = nil
                await newConnection.close()
                failedAttempts += 1
                continue
            }

            failedAttempts = 0
            emit(hasConnectedBefore ? .reconnected : .connected)
            if hasConnectedBefore {
                logger.info("Redis subscriber reconnected and resubscribed")
            }
            hasConnectedBefore = true

            await withTaskCancellationHandler {
                try? await newConnection.channel.closeFuture.get()
            } onCancel: {
                newConnection.channel.close(promise: nil)
            }
            connection = nil
            if Task.isCancelled || isShutDown { break }
            logger.warning("Redis subscriber connection lost; reconnecting")
            emit(.disconnected(.connectionClosed))
        }
    }

    /// Stops ``run()``: closes the connection and finishes ``events``.
    public func shutdown() async {
        isShutDown = true
        if let connection {
            await connection.close()
        }
        if !isRunning { eventContinuation.finish() }
    }

    /// Sleeps in short steps so that shutdown() is noticed promptly. False if stopped meanwhile.
    private func sleepUnlessStopped(for delay: Duration) async -> Bool {
        let deadline = ContinuousClock.now + delay
        while ContinuousClock.now < deadline {
            if isShutDown || Task.isCancelled { return false }
            let step = min(deadline - ContinuousClock.now, .milliseconds(50))
            do {
                try await Task.sleep(for: step)
            } catch {
                return false
            }
        }
        return !isShutDown && !Task.isCancelled
    }

    /// Turns a pub/sub frame into an event. Runs on the event loop, so it only decodes and yields.
    private static func deliver(
        _ frame: [RESPValue],
        to emit: @Sendable (RedisSubscriptionEvent) -> Void
    ) {
        guard let kind = frame.first?.string else { return }
        switch kind {
        case "message" where frame.count == 3:
            if let channel = frame[1].string, let payload = frame[2].buffer {
                emit(.message(channel: channel, payload: payload))
            }
        case "pmessage" where frame.count == 4:
            if let pattern = frame[1].string, let channel = frame[2].string, let payload = frame[3].buffer {
                emit(.patternMessage(pattern: pattern, channel: channel, payload: payload))
            }
        default:
            // (un)subscribe confirmations and other pushes: the PING barrier already tells us when
            // subscriptions are applied.
            break
        }
    }
}
