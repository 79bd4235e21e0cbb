import Logging
import RedisClient

/// The process's Redis connection pool as the server uses it: a readiness probe and a
/// background service that closes the pool on shutdown.
struct RedisDependency: Sendable {
    let client: RedisClient

    init(url: String, logger: Logger) throws {
        var configuration = try RedisConfiguration(url: url)
        configuration.clientName = "gateway"
        // Readiness allows about a second per check; fail a dead connection well within it.
        configuration.connectTimeout = .milliseconds(800)
        self.client = try RedisClient(configuration: configuration, logger: logger)
    }

    func ping() async throws {
        _ = try await client.ping()
    }

    func run() async {
        await client.run()
    }
}
