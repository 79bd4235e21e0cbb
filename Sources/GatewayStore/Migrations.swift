import Foundation
import Logging

/// One schema change. Statements are portable between Postgres and SQLite: ids are TEXT,
/// timestamps are BIGINT Unix milliseconds, flags are INTEGER 0/1.
package struct Migration: Sendable {
    package let version: Int
    package let name: String
    package let statements: [String]
}

package enum Schema {
    /// Append only: a published migration is never edited, a change is a new version.
    package static let migrations: [Migration] = [
        Migration(
            version: 1, name: "users",
            statements: [
                """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY,
                    display_name TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL
                )
                """
            ]),
        Migration(
            version: 2, name: "identities and refresh tokens",
            statements: [
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
        Migration(
            version: 3, name: "devices, agents, shares, sessions, messages",
            statements: [
                """
                CREATE TABLE devices (
                    id TEXT PRIMARY KEY,
                    owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    platform TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX devices_owner ON devices (owner_id)",
                """
                CREATE TABLE agents (
                    id TEXT PRIMARY KEY,
                    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
                    agent_key TEXT NOT NULL,
                    owner_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    description TEXT NOT NULL,
                    capabilities TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    UNIQUE (device_id, agent_key)
                )
                """,
                "CREATE INDEX agents_owner ON agents (owner_id)",
                """
                CREATE TABLE shares (
                    id TEXT PRIMARY KEY,
                    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
                    owner_id TEXT NOT NULL,
                    code_hash TEXT NOT NULL UNIQUE,
                    label TEXT,
                    expires_at BIGINT,
                    max_uses BIGINT,
                    use_count BIGINT NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX shares_owner ON shares (owner_id)",
                "CREATE INDEX shares_agent ON shares (agent_id)",
                """
                CREATE TABLE grants (
                    share_id TEXT NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
                    guest_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    agent_id TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    left_at BIGINT,
                    PRIMARY KEY (share_id, guest_id)
                )
                """,
                "CREATE INDEX grants_guest ON grants (guest_id)",
                """
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY,
                    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    share_id TEXT,
                    created_at BIGINT NOT NULL,
                    closed_at BIGINT
                )
                """,
                "CREATE INDEX sessions_user ON sessions (user_id)",
                "CREATE INDEX sessions_agent ON sessions (agent_id)",
                """
                CREATE TABLE messages (
                    id TEXT PRIMARY KEY,
                    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                    role TEXT NOT NULL,
                    author_id TEXT,
                    reply_to TEXT,
                    text TEXT NOT NULL,
                    idempotency_key TEXT,
                    created_at BIGINT NOT NULL,
                    UNIQUE (session_id, idempotency_key)
                )
                """,
                "CREATE INDEX messages_session ON messages (session_id, created_at)",
            ]),
        // A device id is chosen by its client and becomes free again when the device is deleted,
        // so its event stream and presence are named by an id that is never reused. Existing
        // devices keep their streams (their instance id is their device id); every later
        // registration gets a random one.
        Migration(
            version: 4, name: "device instance ids",
            statements: [
                "ALTER TABLE devices ADD COLUMN instance_id TEXT",
                "UPDATE devices SET instance_id = id",
                "CREATE UNIQUE INDEX devices_instance ON devices (instance_id)",
                "ALTER TABLE agents ADD COLUMN device_instance_id TEXT",
                "UPDATE agents SET device_instance_id = device_id",
            ]),
        // Static keys for AI clients that cannot sign in (OpenAI-compatible API): only a hash of
        // each key is stored; a key stops working when revoked or expired.
        Migration(
            version: 5, name: "personal api keys",
            statements: [
                """
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    prefix TEXT NOT NULL,
                    key_hash TEXT NOT NULL UNIQUE,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT,
                    last_used_at BIGINT,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX api_keys_user ON api_keys (user_id)",
            ]),
        // AI clients that register themselves (RFC 7591), and the resource (RFC 8707) a sign-in's
        // tokens are for: NULL is the gateway's API, otherwise e.g. the MCP endpoint's URL.
        Migration(
            version: 6, name: "registered oauth clients and token resources",
            statements: [
                """
                CREATE TABLE oauth_clients (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    redirect_uris TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    last_used_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX oauth_clients_last_used ON oauth_clients (last_used_at)",
                "ALTER TABLE refresh_token_families ADD COLUMN resource TEXT",
            ]),
        // Registrations nobody signed in with expire within hours, and each client address may
        // hold a bounded number: the first use and the registering address are kept. Rows from
        // before count as used (their first use was not recorded).
        Migration(
            version: 7, name: "registered oauth clients: first use and registering address",
            statements: [
                "ALTER TABLE oauth_clients ADD COLUMN first_used_at BIGINT",
                "ALTER TABLE oauth_clients ADD COLUMN registered_from TEXT NOT NULL DEFAULT ''",
                "UPDATE oauth_clients SET first_used_at = last_used_at",
                "CREATE INDEX oauth_clients_registered_from ON oauth_clients (registered_from)",
            ]),
        // People name their conversations; without a name a client shows the first message.
        Migration(version: 8, name: "conversation titles", statements: ["ALTER TABLE sessions ADD COLUMN title TEXT"]),
    ]
}

/// Applies pending migrations under the database's cross-process migration lock.
package struct Migrator: Sendable {
    let database: any SQLDatabase
    let logger: Logger

    package init(database: any SQLDatabase, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Returns the versions this call applied (empty when another replica already did).
    @discardableResult
    package func migrate(_ migrations: [Migration] = Schema.migrations) async throws -> [Int] {
        let logger = self.logger
        return try await database.withMigrationLock { executor in
            try await executor.execute(
                """
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
                logger.info(
                    "migration applied",
                    metadata: ["event": "store.migration_applied", "version": "\(migration.version)", "name": "\(migration.name)"])
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }
}
