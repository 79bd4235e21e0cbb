import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Anything commands can be sent to: a single ``RedisConnection`` or the pooled ``RedisClient``.
/// The typed helpers (`get`, `xadd`, `eval`, ...) are defined once on this protocol.
public protocol RedisCommandExecutor: Sendable {
    /// Sends one command. An error reply is thrown as ``RedisError/server(message:)``.
    func send(_ command: RedisCommand) async throws -> RESPValue
    /// Sends all commands in one write on one connection; replies (error replies included, as
    /// values) come back in order.
    func pipeline(_ commands: [RedisCommand]) async throws -> [RESPValue]
}

extension RedisCommandExecutor {
    /// Sends one command built from a name and its arguments, e.g. `send("SET", "key", "value")`.
    @discardableResult
    public func send(_ name: String, _ arguments: any RESPArgumentConvertible...) async throws -> RESPValue {
        try await send(RedisCommand(name, arguments: arguments))
    }
}

/// The main client: a bounded pool of pipelined connections to one Redis server.
///
/// - Connections are opened lazily, one more whenever every open connection is busy, up to
///   ``RedisConfiguration/maximumConnections``; when all are busy, commands are pipelined on the
///   least loaded one. Dead connections are dropped and replaced on demand.
/// - When connecting fails, the pool backs off exponentially (``RedisConfiguration/reconnectBackoff``).
///   During the backoff commands fail at once with ``RedisError/connectionUnavailable(lastError:)``
///   instead of queueing, so callers never hang while Redis is down; the first command after the
///   backoff tries again, so the same client recovers by itself once Redis is back.
/// - Because connections are shared, blocking commands (BLPOP, XREAD BLOCK) and MULTI/EXEC
///   should not be sent through the pool; use a dedicated ``RedisConnection`` for those.
///
/// Call ``shutdown()`` when done, or run ``run()`` as a service: it returns after cancellation,
/// having shut the pool down.
public actor RedisClient: RedisCommandExecutor {
    public nonisolated let configuration: RedisConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let sslContext: NIOSSLContext?

    private struct PooledConnection {
        var id: Int
        var connection: RedisConnection
        var inFlight: Int
    }

    private var connections: [PooledConnection] = []
    /// Connects in progress. Each task records its outcome in the pool before it completes, so
    /// anyone awaiting it sees the updated pool afterwards.
    private var connectionAttempts: [Int: Task<Void, any Error>] = [:]
    private var nextConnectionID = 0
    private var consecutiveConnectFailures = 0
    private var retryNotBefore: ContinuousClock.Instant?
    private var lastConnectError: RedisError?
    private var isShutDown = false
    private var shutdownWaiters: [CheckedContinuation<Void, Never>] = []

    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "redis")
    ) throws {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        do {
            self.sslContext = try configuration.tls.map { try NIOSSLContext(configuration: $0) }
        } catch {
            throw RedisError.connectionFailed(message: "invalid TLS configuration: \(error)")
        }
    }

    /// Convenience for `RedisClient(configuration: RedisConfiguration(url: url))`.
    public init(
        url: String,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "redis")
    ) throws {
        try self.init(configuration: RedisConfiguration(url: url), eventLoopGroup: eventLoopGroup, logger: logger)
    }

    // MARK: Sending

    public func send(_ command: RedisCommand) async throws -> RESPValue {
        try await withConnection { connection in try await connection.sendReportingUnsent(command) }
    }

    public func pipeline(_ commands: [RedisCommand]) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        return try await withConnection { connection in try await connection.pipelineReportingUnsent(commands) }
    }

    /// Runs `body` on a leased connection. If the connection turns out to have closed before the
    /// request was written (it died after we last checked), the commands certainly did not run,
    /// so they are retried once on another connection instead of failing spuriously.
    private func withConnection<Result: Sendable>(
        _ body: @Sendable (RedisConnection) async throws -> Result
    ) async throws -> Result {
        var attempt = 0
        while true {
            attempt += 1
            let lease = try await acquireConnection()
            do {
                let result = try await body(lease.connection)
                release(lease.id)
                return result
            } catch is RequestNotSentError {
                release(lease.id)
                guard attempt < 2 else { throw RedisError.connectionClosed }
                logger.debug("Redis connection closed before the request was sent; retrying on another")
            } catch {
                release(lease.id)
                throw error
            }
        }
    }

    /// Number of open connections, for metrics and tests.
    public var openConnectionCount: Int {
        connections.filter { $0.connection.isActive }.count
    }

    // MARK: Pool

    private func acquireConnection() async throws -> (id: Int, connection: RedisConnection) {
        var connectionsOpened = 0
        while true {
            guard !isShutDown else { throw RedisError.shutDown }
            try Task.checkCancellation()
            connections.removeAll { pooled in
                guard !pooled.connection.isActive else { return false }
                logger.debug("Dropping closed Redis connection from pool")
                return true
            }

            if let idle = connections.firstIndex(where: { $0.inFlight == 0 }) {
                return lease(at: idle)
            }
            let isBackingOff = retryNotBefore.map { ContinuousClock.now < $0 } ?? false
            if !isBackingOff, connections.count + connectionAttempts.count < max(configuration.maximumConnections, 1) {
                // A server that accepts and then immediately drops connections must not keep us looping.
                guard connectionsOpened < 3 else { throw RedisError.connectionClosed }
                connectionsOpened += 1
                // Throws this attempt's own error (e.g. authenticationFailed) to the caller that
                // triggered it; on success the new idle connection is picked up by the next loop.
                try await openConnection()
                continue
            }
            if let leastLoaded = connections.indices.min(by: { connections[$0].inFlight < connections[$1].inFlight }) {
                return lease(at: leastLoaded)
            }
            if isBackingOff {
                throw RedisError.connectionUnavailable(lastError: lastConnectError?.description ?? "unknown")
            }
            // Every slot is busy connecting: wait for one of those attempts, then look again.
            if let attempt = connectionAttempts.values.first {
                _ = try? await attempt.value
            }
        }
    }

    private func lease(at index: Int) -> (id: Int, connection: RedisConnection) {
        connections[index].inFlight += 1
        return (connections[index].id, connections[index].connection)
    }

    private func release(_ id: Int) {
        if let index = connections.firstIndex(where: { $0.id == id }) {
            connections[index].inFlight -= 1
        }
    }

    private func openConnection() async throws {
        let id = nextConnectionID
        nextConnectionID += 1
        let attempt = Task { [configuration, sslContext, eventLoopGroup, logger] in
            let connection: RedisConnection
            do {
                connection = try await RedisConnection.connect(
                    configuration: configuration,
                    sslContext: sslContext,
                    eventLoop: eventLoopGroup.any(),
                    logger: logger,
                    pushHandler: nil
                )
            } catch {
                let redisError = error as? RedisError ?? .connectionFailed(message: "\(error)")
                self.connectionAttemptFailed(id: id, error: redisError)
                throw redisError
            }
            await self.connectionAttemptSucceeded(id: id, connection: connection)
        }
        connectionAttempts[id] = attempt
        // Not cancelled with the caller: a connection that comes up is still useful to the pool.
        try await attempt.value
    }

    private func connectionAttemptSucceeded(id: Int, connection: RedisConnection) async {
        connectionAttempts[id] = nil
        guard !isShutDown else {
            await connection.close()
            return
        }
        if consecutiveConnectFailures > 0 {
            logger.info("Reconnected to Redis", metadata: ["redis.server": "\(configuration.endpoint)"])
        }
        consecutiveConnectFailures = 0
        retryNotBefore = nil
        lastConnectError = nil
        connections.append(PooledConnection(id: id, connection: connection, inFlight: 0))
    }

    private func connectionAttemptFailed(id: Int, error: RedisError) {
        connectionAttempts[id] = nil
        consecutiveConnectFailures += 1
        let delay = configuration.reconnectBackoff.delay(forAttempt: consecutiveConnectFailures)
        retryNotBefore = .now + delay
        lastConnectError = error
        logger.warning(
            "Could not connect to Redis; backing off",
            metadata: [
                "error": "\(error)", "redis.retry_in": "\(delay)",
                "redis.attempt": "\(consecutiveConnectFailures)",
            ]
        )
    }

    // MARK: Lifecycle

    /// Stops accepting commands, lets commands already sent finish (bounded by the command timeout),
    /// and closes every connection. Safe to call more than once.
    public func shutdown() async {
        guard !isShutDown else { return }
        isShutDown = true
        let open = connections
        connections = []
        for attempt in connectionAttempts.values { attempt.cancel() }
        await withTaskGroup(of: Void.self) { group in
            for pooled in open {
                group.addTask {
                    // Replies arrive in order, so once this PING is answered every earlier command is too.
                    _ = try? await pooled.connection.send(RedisCommand("PING"))
                    await pooled.connection.close()
                }
            }
        }
        for waiter in shutdownWaiters { waiter.resume() }
        shutdownWaiters = []
        logger.debug("Redis client shut down")
    }

    /// Runs until the calling task is cancelled (e.g. by service-lifecycle's graceful shutdown),
    /// then shuts the client down. The client is usable before and while this runs.
    public func run() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if isShutDown {
                    continuation.resume()
                } else {
                    shutdownWaiters.append(continuation)
                }
            }
        } onCancel: {
            Task { await self.shutdown() }
        }
    }
}
