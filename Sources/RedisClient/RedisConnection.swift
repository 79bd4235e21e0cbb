import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// One connection to Redis. Commands may be sent concurrently from many tasks; they are pipelined
/// on the wire and every caller gets its own reply. See ``RedisCommandHandler`` for how timeouts
/// and cancellation keep replies matched to requests.
public final class RedisConnection: RedisCommandExecutor {
    public let channel: any Channel
    /// The protocol actually negotiated (RESP2 if the server did not accept `HELLO 3`).
    public let protocolVersion: RESPProtocolVersion
    private let commandTimeout: Duration
    private let logger: Logger

    private init(channel: any Channel, protocolVersion: RESPProtocolVersion, commandTimeout: Duration, logger: Logger) {
        self.channel = channel
        self.protocolVersion = protocolVersion
        self.commandTimeout = commandTimeout
        self.logger = logger
    }

    /// False once the connection has closed for any reason.
    public var isActive: Bool { channel.isActive }

    /// Connects, negotiates the protocol, authenticates and selects the database.
    ///
    /// - Parameter pushHandler: receives pub/sub messages and other out-of-band frames, on the
    ///   connection's event loop; keep it cheap and non-blocking.
    public static func connect(
        configuration: RedisConfiguration,
        eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any(),
        logger: Logger,
        pushHandler: (@Sendable ([RESPValue]) -> Void)? = nil
    ) async throws -> RedisConnection {
        let sslContext = try configuration.tls.map { configuration in
            do {
                return try NIOSSLContext(configuration: configuration)
            } catch {
                throw RedisError.connectionFailed(message: "invalid TLS configuration: \(error)")
            }
        }
        return try await connect(
            configuration: configuration,
            sslContext: sslContext,
            eventLoop: eventLoop,
            logger: logger,
            pushHandler: pushHandler
        )
    }

    /// As above, reusing an `NIOSSLContext` (loading trust roots is too expensive to do per connection).
    static func connect(
        configuration: RedisConfiguration,
        sslContext: NIOSSLContext?,
        eventLoop: any EventLoop,
        logger: Logger,
        pushHandler: (@Sendable ([RESPValue]) -> Void)?
    ) async throws -> RedisConnection {
        var logger = logger
        logger[metadataKey: "redis.server"] = "\(configuration.endpoint)"
        let handlerLogger = logger
        // SNI must be a host name, never an IP literal.
        let serverHostname = isIPAddressLiteral(configuration.host) ? nil : configuration.host
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            // Lets the kernel eventually notice peers that vanished without closing the connection.
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                do {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverHostname))
                    }
                    try pipeline.addHandler(ByteToMessageHandler(RESPFrameDecoder()))
                    try pipeline.addHandler(
                        RedisCommandHandler(
                            pushHandler: pushHandler,
                            recognizesRESP2PubSubArrays: pushHandler != nil,
                            logger: handlerLogger
                        )
                    )
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }

        let channel: any Channel
        do {
            // connect(host:port:) resolves the name and races IPv4/IPv6 addresses (happy eyeballs).
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RedisError.connectionFailed(message: "\(configuration.endpoint): \(describe(error))")
        }

        do {
            let handshake = RedisConnection(
                channel: channel,
                protocolVersion: .resp2,
                commandTimeout: configuration.commandTimeout,
                logger: logger
            )
            let version = try await handshake.performHandshake(configuration)
            logger.debug("Connected to Redis", metadata: ["redis.protocol": "RESP\(version.rawValue)"])
            return RedisConnection(
                channel: channel,
                protocolVersion: version,
                commandTimeout: configuration.commandTimeout,
                logger: logger
            )
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    private func performHandshake(_ configuration: RedisConfiguration) async throws -> RESPProtocolVersion {
        var version = RESPProtocolVersion.resp2
        var authenticated = false
        var named = false

        if configuration.protocolVersion == .resp3 {
            var hello = RedisCommand("HELLO", "3")
            if let password = configuration.password {
                hello.append("AUTH")
                hello.append(configuration.username ?? "default")
                hello.append(password)
            }
            if let clientName = configuration.clientName {
                hello.append("SETNAME")
                hello.append(clientName)
            }
            let reply = try await sendReturningErrorReply(hello)
            if let message = reply.errorMessage {
                // NOPROTO: RESP3 unsupported; unknown command: Redis < 6. Both mean "speak RESP2".
                let unsupported = message.hasPrefix("NOPROTO") || message.lowercased().contains("unknown command")
                guard unsupported else {
                    if configuration.password != nil || message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") {
                        throw RedisError.authenticationFailed(message: message)
                    }
                    throw RedisError.server(message: message)
                }
                logger.debug("Redis does not support RESP3; using RESP2", metadata: ["redis.reply": "\(message)"])
            } else {
                version = .resp3
                authenticated = true
                named = true
            }
        }

        if !authenticated, let password = configuration.password {
            let auth =
                if let username = configuration.username {
                    RedisCommand("AUTH", username, password)
                } else {
                    RedisCommand("AUTH", password)
                }
            let reply = try await sendReturningErrorReply(auth)
            if let message = reply.errorMessage { throw RedisError.authenticationFailed(message: message) }
        }
        if !named, let clientName = configuration.clientName {
            _ = try await send(RedisCommand("CLIENT", "SETNAME", clientName))
        }
        if configuration.database != 0 {
            _ = try await send(RedisCommand("SELECT", configuration.database))
        }
        return version
    }

    // MARK: Sending

    /// Sends one command. An error reply is thrown as ``RedisError/server(message:)``.
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        try await Self.reportingUnsentAsClosed { try await self.sendReportingUnsent(command) }
    }

    /// Sends one command and returns an error reply as a value instead of throwing it.
    public func sendReturningErrorReply(_ command: RedisCommand) async throws -> RESPValue {
        try await Self.reportingUnsentAsClosed {
            try await self.execute([command], commandName: command.name)[0]
        }
    }

    /// Writes all commands in one write and returns their replies in order. Error replies are
    /// returned as ``RESPValue/error(_:)`` values so one failed command does not hide the others'
    /// results. The command timeout applies to the pipeline as a whole.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RESPValue] {
        try await Self.reportingUnsentAsClosed { try await self.pipelineReportingUnsent(commands) }
    }

    // The `ReportingUnsent` variants may throw `RequestNotSentError`, which the pool turns into a
    // retry on another connection; everybody else sees `RedisError.connectionClosed`.

    func sendReportingUnsent(_ command: RedisCommand) async throws -> RESPValue {
        let reply = try await execute([command], commandName: command.name)[0]
        if case .error(let message) = reply {
            // NOAUTH means the configuration lacks credentials the server requires (RESP2 has no
            // handshake to catch that up front): report it as the configuration problem it is.
            if message.hasPrefix("NOAUTH") { throw RedisError.authenticationFailed(message: message) }
            throw RedisError.server(message: message)
        }
        return reply
    }

    func pipelineReportingUnsent(_ commands: [RedisCommand]) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        let name = commands.count == 1 ? commands[0].name : "pipeline of \(commands.count) commands"
        return try await execute(commands, commandName: name)
    }

    private func execute(_ commands: [RedisCommand], commandName: String) async throws -> [RESPValue] {
        var bytes = channel.allocator.buffer(capacity: commands.reduce(0) { $0 + $1.encodedByteCount })
        for command in commands { command.encode(into: &bytes) }
        return try await execute(bytes: bytes, expectedReplies: commands.count, commandName: commandName)
    }

    static func reportingUnsentAsClosed<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch is RequestNotSentError {
            throw RedisError.connectionClosed
        }
    }

    /// Low-level send used by the subscriber as well: `expectedReplies` may be 0 for commands whose
    /// answers arrive as pushes.
    func execute(
        bytes: ByteBuffer,
        expectedReplies: Int,
        commandName: String,
        kind: RedisRequest.Kind = .regular
    ) async throws -> [RESPValue] {
        // Checked before writing: once written, the reply must be consumed whatever the caller does.
        try Task.checkCancellation()
        let promise = enqueue(bytes: bytes, expectedReplies: expectedReplies, commandName: commandName, kind: kind)
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            // The request keeps its FIFO slot; its late reply is dropped by the handler.
            promise.fail(CancellationError())
        }
    }

    /// Hands the request to the channel synchronously, so requests enqueued one after another by
    /// the same caller (e.g. an actor) reach the wire in that order.
    func enqueue(
        bytes: ByteBuffer,
        expectedReplies: Int,
        commandName: String,
        kind: RedisRequest.Kind = .regular
    ) -> EventLoopPromise<[RESPValue]> {
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        let request = RedisRequest(
            bytes: bytes,
            expectedReplies: expectedReplies,
            commandName: commandName,
            timeout: commandTimeout,
            kind: kind,
            promise: promise
        )
        // If the channel is already closed the handler may never see the write; fail the request
        // from the write result instead (a no-op if the handler already completed it).
        channel.writeAndFlush(request).whenFailure { error in
            // ioOnClosedChannel: the channel was closed before the write got anywhere.
            let notSent = error is RequestNotSentError || (error as? ChannelError) == .ioOnClosedChannel
            promise.fail(notSent ? RequestNotSentError() : RedisError.connectionClosed)
        }
        return promise
    }

    /// Closes the connection; in-flight commands fail with ``RedisError/connectionClosed``.
    public func close() async {
        do {
            try await channel.close()
        } catch {
            // Already closed: nothing to do.
        }
    }

    // MARK: Helpers

    static func isIPAddressLiteral(_ host: String) -> Bool {
        if host.contains(":") { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in !part.isEmpty && part.allSatisfy(\.isNumber) }
    }

    /// Shortens NIO's connection errors to something a human can act on.
    static func describe(_ error: any Error) -> String {
        if let error = error as? ChannelError, case .connectTimeout(let amount) = error {
            return "connect timed out after \(amount.nanoseconds / 1_000_000) ms"
        }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first {
                return "\(first.error)"
            }
            if let dnsError = error.dnsAAAAError ?? error.dnsAError {
                return "could not resolve host: \(dnsError)"
            }
        }
        return "\(error)"
    }
}
