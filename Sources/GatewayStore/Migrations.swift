import Foundation
import Logging

/// One schema change. Statements are portable between Postgres and SQLite: ids are TEXT,
/// timestamps are BIGINT Unix milliseconds, flags are INTEGER 0/1.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let statements: [String]
}

public enum Schema {
    /// Append only: a published migration is never edited, a change is a new version.
    public static let migrations: [Migration] = [
        Migration(version: 1, name: "users", statements: [
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                display_name TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                last_seen_at BIGINT NOT NULL
            )
            """,
        ]),
    ]
}

/// Applies pending migrations under the database's cross-process migration lock.
public struct Migrator: Sendable {
    let database: any SQLDatabase
    let logger: Logger

    public init(database: any SQLDatabase, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Returns the versions this call applied (empty when another replica already did).
    @discardableResult
    public func migrate(_ migrations: [Migration] = Schema.migrations) async throws -> [Int] {
        let logger = self.logger
        return try await database.withMigrationLock { executor in
            try await executor.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at BIGINT NOT NULL
                )
                """)
            let applied = Set(try await executor.execute("SELECT version FROM schema_migrations").map { try $0.int64("version") })
            var appliedNow: [Int] = []
            for migration in migrations.sorted(by: { $0.version < $1.version }) where !applied.contains(Int64(migration.version)) {
                try await executor.execute("BEGIN")
                do {
                    for statement in migration.statements {
                        try await executor.execute(statement)
                    }
                    try await executor.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                        .integer(Int64(migration.version)), .text(migration.name), SQLValue(Date()))
                    try await executor.execute("COMMIT")
                } catch {
                    _ = try? await executor.execute("ROLLBACK")
                    throw StoreError.migrationFailed(version: migration.version, reason: "\(error)")
                }
                logger.info("migration applied", metadata: ["event": "store.migration_applied", "version": "\(migration.version)", "name": "\(migration.name)"])
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }
}
