import Foundation
import GatewayTestSupport
import Logging
import NIOCore
import NIOPosix
import RedisClient
import Testing

/// Log to stderr only when REDIS_TEST_LOG is set, so failures can be debugged without noisy runs.
let testLogger: Logger = {
    var logger = Logger(label: "redis-tests")
    logger.logLevel = ProcessInfo.processInfo.environment["REDIS_TEST_LOG"] == nil ? .critical : .trace
    return logger
}()

/// Short timeouts and backoff so failure paths finish quickly.
func testConfiguration(_ url: String, protocolVersion: RESPProtocolVersion = .resp3) throws -> RedisConfiguration {
    var configuration = try RedisConfiguration(url: url)
    configuration.protocolVersion = protocolVersion
    configuration.connectTimeout = .seconds(1)
    configuration.commandTimeout = .seconds(2)
    configuration.reconnectBackoff = RedisBackoff(initial: .milliseconds(50), maximum: .milliseconds(400))
    return configuration
}

/// Starts a private redis-server for `body` and always cleans it up. Throws (so the test fails)
/// if redis-server is not installed.
func withRedisServer<Result>(
    bindAddresses: [String] = ["127.0.0.1"],
    arguments: [String] = [],
    tls: RedisServerProcess.TLSFiles? = nil,
    _ body: (RedisServerProcess) async throws -> Result
) async throws -> Result {
    let server = try await RedisServerProcess.start(bindAddresses: bindAddresses, arguments: arguments, tls: tls)
    do {
        let result = try await body(server)
        await server.cleanUp()
        return result
    } catch {
        await server.cleanUp()
        throw error
    }
}

/// A pooled client for `body`, shut down afterwards.
func withClient<Result>(
    _ configuration: RedisConfiguration,
    _ body: (RedisClient) async throws -> Result
) async throws -> Result {
    let client = try RedisClient(configuration: configuration, logger: testLogger)
    do {
        let result = try await body(client)
        await client.shutdown()
        return result
    } catch {
        await client.shutdown()
        throw error
    }
}

/// Server + client in one go.
func withRedis<Result>(
    protocolVersion: RESPProtocolVersion = .resp3,
    arguments: [String] = [],
    _ body: (RedisClient, RedisServerProcess) async throws -> Result
) async throws -> Result {
    try await withRedisServer(arguments: arguments) { server throws in
        try await withClient(testConfiguration(server.url, protocolVersion: protocolVersion)) { client throws in
            try await body(client, server)
        }
    }
}

/// Asserts that `body` throws a `RedisError` and returns it.
@discardableResult
func expectRedisError(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> RedisError? {
    do {
        try await body()
        Issue.record("expected a RedisError, but the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as RedisError {
        return error
    } catch {
        Issue.record("expected a RedisError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Retries `body` until it succeeds or `timeout` passes (then rethrows the last error).
func eventually<Result>(
    timeout: Duration = .seconds(5),
    _ body: () async throws -> Result
) async throws -> Result {
    let deadline = ContinuousClock.now + timeout
    while true {
        do {
            return try await body()
        } catch {
            if ContinuousClock.now >= deadline { throw error }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// Measures how long `body` takes.
func elapsed(_ body: () async throws -> Void) async rethrows -> Duration {
    let start = ContinuousClock.now
    try await body()
    return ContinuousClock.now - start
}

/// A port on 127.0.0.1 that refuses connections: bound but not listening. Keeping it bound stops
/// a concurrently running test from being given the same port.
final class ClosedLoopbackPort: Sendable {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw RedisServerProcessError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        var actual = sockaddr_in()
        var actualLength = length
        let named = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &actualLength) }
        }
        guard bound == 0, named == 0 else {
            close(descriptor)
            throw RedisServerProcessError("could not reserve a loopback port")
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: actual.sin_port))
    }

    func release() {
        close(descriptor)
    }
}

/// A TCP server that accepts connections but never writes a byte: a hung Redis.
final class SilentServer: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    init() async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async {
        try? await channel.close()
    }
}

/// Collects subscriber events from a background task so tests can wait for them with a timeout.
actor EventRecorder {
    private(set) var events: [RedisSubscriptionEvent] = []
    private var cursor = 0

    func record(_ event: RedisSubscriptionEvent) {
        events.append(event)
    }

    /// Waits for the next recorded event (after those already consumed) matching `predicate`.
    func next(
        timeout: Duration = .seconds(5),
        where predicate: @Sendable (RedisSubscriptionEvent) -> Bool = { _ in true }
    ) async throws -> RedisSubscriptionEvent {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            while cursor < events.count {
                let event = events[cursor]
                cursor += 1
                if predicate(event) { return event }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw RecorderTimeout(seen: events)
    }

    struct RecorderTimeout: Error, CustomStringConvertible {
        var seen: [RedisSubscriptionEvent]
        var description: String { "no matching event; saw \(seen)" }
    }
}

extension RedisSubscriptionEvent {
    var isMessage: Bool {
        switch self {
        case .message, .patternMessage: true
        default: false
        }
    }
}
