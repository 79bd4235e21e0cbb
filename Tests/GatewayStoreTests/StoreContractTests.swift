import Foundation
import GatewayConfig
@testable import GatewayStore
import Logging
import Testing

/// The same cases run against every backend.
@Suite("Store contract")
struct StoreContractTests {
    let logger = Logger(label: "test.store")

    @Test(arguments: Backend.allCases)
    func migrationsApplyOnceAndAreRecorded(backend: Backend) async throws {
        try await withFreshDatabase(backend) { database, _ in
            let migrator = Migrator(database: database, logger: logger)
            #expect(try await migrator.migrate() == Schema.migrations.map(\.version))
            #expect(try await migrator.migrate() == [])
            let recorded = try await database.execute("SELECT version FROM schema_migrations ORDER BY version")
            #expect(try recorded.map { try $0.int64("version") } == Schema.migrations.map { Int64($0.version) })
        }
    }

    @Test(arguments: Backend.allCases)
    func pingAnswers(backend: Backend) async throws {
        try await withFreshDatabase(backend) { database, _ in
            try await GatewayStore(database: database).ping()
        }
    }

    @Test(arguments: Backend.allCases)
    func usersRoundTrip(backend: Backend) async throws {
        try await withFreshDatabase(backend) { database, _ in
            try await Migrator(database: database, logger: logger).migrate()
            let store = GatewayStore(database: database)
            let created = Date(timeIntervalSince1970: 1_800_000_000.123)
            let alice = try await store.createUser(displayName: "Alice ☕️ O'Neil", now: created)
            let twin = try await store.createUser(displayName: "Alice ☕️ O'Neil", now: created)
            #expect(alice.id != twin.id)
            #expect(try await store.user(id: alice.id) == alice)
            #expect(try await store.user(id: "no-such-user") == nil)

            let later = created.addingTimeInterval(60)
            #expect(try await store.recordSeen(userID: alice.id, at: later))
            #expect(try await store.user(id: alice.id)?.lastSeenAt == later)
            #expect(try await store.recordSeen(userID: "no-such-user", at: later) == false)
        }
    }

    @Test(arguments: Backend.allCases)
    func transactionRollsBackOnError(backend: Backend) async throws {
        struct Abort: Error {}
        try await withFreshDatabase(backend) { database, _ in
            try await Migrator(database: database, logger: logger).migrate()
            await #expect(throws: Abort.self) {
                try await database.transaction { executor in
                    try await executor.execute(
                        "INSERT INTO users (id, display_name, created_at, last_seen_at) VALUES ('u1', 'x', 1, 1)")
                    throw Abort()
                }
            }
            #expect(try await database.execute("SELECT id FROM users").isEmpty)
            _ = try await database.transaction { executor in
                try await executor.execute(
                    "INSERT INTO users (id, display_name, created_at, last_seen_at) VALUES ($1, $2, $3, $4)",
                    "u2", "y", 2, 2)
            }
            #expect(try await database.execute("SELECT id FROM users").map { try $0.string("id") } == ["u2"])
        }
    }

    @Test(arguments: Backend.allCases)
    func nullsAndLargeIntegersSurvive(backend: Backend) async throws {
        try await withFreshDatabase(backend) { database, _ in
            let rows = try await database.execute(
                "SELECT CAST($1 AS BIGINT) AS big, CAST($2 AS TEXT) AS absent, $3 AS quoted",
                .integer(Int64.max), .null, .text("it's $1 literally"))
            #expect(rows.first?["big"] == .integer(Int64.max))
            #expect(rows.first?["absent"] == .null)
            #expect(rows.first?["quoted"] == .text("it's $1 literally"))
        }
    }

    /// Replicas starting at the same moment: every migration runs exactly once in total.
    @Test func concurrentMigratorsOnPostgresApplyEachMigrationOnce() async throws {
        let settings = try await createPostgresDatabase(logger: logger)
        let replicas = (0..<4).map { _ in PostgresBackend(settings: settings, logger: logger) }
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for replica in replicas {
                group.addTask {
                    try await withRunning(replica) { try await Migrator(database: replica, logger: logger).migrate() }
                }
            }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(applied.sorted() == Schema.migrations.map(\.version))
    }

    @Test func sqlitePlaceholdersAreNumbered() {
        #expect(SQLiteBackend.sqliteParameters("SELECT $1, '$2', $10") == "SELECT ?1, '$2', ?10")
    }
}
