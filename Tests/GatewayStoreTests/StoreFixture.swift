import Foundation
import GatewayConfig
import GatewayStore
import GatewayTestSupport
import Logging
import Testing

enum Backend: String, CaseIterable, CustomTestStringConvertible {
    case sqliteFile, sqliteMemory, postgres
    var testDescription: String { rawValue }

    /// Every backend this machine can run (Postgres only with the test services; always under
    /// `scripts/test.sh` and CI, where a missing one fails).
    static var runnable: [Backend] { allCases.filter { $0 != .postgres || TestEnvironment.runs([.postgres]) } }
}

/// Opens a fresh, empty database of the given backend and runs its background work for `body`.
func withFreshDatabase<T: Sendable>(
    _ backend: Backend, _ body: @Sendable (any SQLDatabase, DatabaseSettings) async throws -> T
) async throws -> T {
    let logger = Logger(label: "test.store")
    let settings: DatabaseSettings
    var directory: String?
    switch backend {
    case .sqliteMemory:
        settings = .sqlite(path: ":memory:")
    case .sqliteFile:
        directory = NSTemporaryDirectory() + "gateway-test-\(UUID().uuidString)"
        settings = .sqlite(path: directory! + "/gateway.sqlite")
    case .postgres:
        settings = .postgres(try await createPostgresDatabase(logger: logger))
    }
    // The file backend's directory is the test's own: nothing is left behind in the temp dir.
    defer { if let directory { try? FileManager.default.removeItem(atPath: directory) } }
    let store = try await GatewayStore.open(settings, logger: logger)
    return try await withRunning(store.database) { try await body(store.database, settings) }
}

/// Runs the database's background service around `body`, then cancels it.
func withRunning<T: Sendable>(_ database: any SQLDatabase, _ body: @Sendable () async throws -> T) async throws -> T {
    let runner = Task { await database.run() }
    do {
        let result = try await body()
        runner.cancel()
        await runner.value
        return result
    } catch {
        runner.cancel()
        await runner.value
        throw error
    }
}

/// A fresh database on the shared test Postgres, as typed settings.
func createPostgresDatabase(logger: Logger) async throws -> PostgresSettings {
    let url = try await TestEnvironment.createDatabase()
    guard case .postgres(let settings) = try DatabaseSettings(url: url)
    else { throw MissingTestServiceError(description: "TEST_DATABASE_URL is not a postgres URL") }
    return settings
}
