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
        Migration(version: 2, name: "identities and refresh tokens", statements: [
            """
            CREATE TABLE identities (
                provider TEXT NOT NULL,
                subject TEXT NOT NULL,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (provider, subject)
            )
            """,
            "CREATE INDEX identities_user ON identities (user_id)",
            """
            CREATE TABLE refresh_token_families (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                client_id TEXT NOT NULL,
                scope TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                revoked_at BIGINT,
                revoked_reason TEXT
            )
            """,
            "CREATE INDEX refresh_token_families_user ON refresh_token_families (user_id)",
            """
            CREATE TABLE refresh_tokens (
                token_hash TEXT PRIMARY KEY,
                family_id TEXT NOT NULL REFERENCES refresh_token_families(id) ON DELETE CASCADE,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                used_at BIGINT
            )
            """,
            "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
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
                do {
                    try await executor.inTransaction { transaction in
                        for statement in migration.statements {
                            try await transaction.execute(statement)
                        }
                        try await transaction.execute(
                            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                            .integer(Int64(migration.version)), .text(migration.name), SQLValue(Date()))
                    }
                } catch {
                    throw StoreError.migrationFailed(version: migration.version, reason: "\(error)")
                }
                logger.info("migration applied", metadata: ["event": "store.migration_applied", "version": "\(migration.version)", "name": "\(migration.name)"])
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }
}
