import Foundation
import GatewayConfig
import Logging

package struct User: Sendable, Equatable, Codable {
    package let id: String
    package var displayName: String
    package let createdAt: Date
    package var lastSeenAt: Date
}

/// Durable metadata (users now; devices, agents, shares and tokens in later migrations),
/// written once in portable SQL over either backend.
package struct GatewayStore: Sendable {
    package let database: any SQLDatabase

    package init(database: any SQLDatabase) {
        self.database = database
    }

    /// Opens the backend named by the configuration. Postgres connects lazily; SQLite opens the file now.
    package static func open(_ settings: DatabaseSettings, logger: Logger) async throws -> GatewayStore {
        switch settings {
        case .postgres(let postgres):
            return GatewayStore(database: PostgresBackend(settings: postgres, logger: logger))
        case .sqlite(let path):
            return GatewayStore(database: try await SQLiteBackend.open(path: path, logger: logger))
        }
    }

    package var kind: String { database.kind }

    /// The readiness probe: one round trip.
    package func ping() async throws {
        try await database.execute("SELECT 1 AS ok")
    }

    // MARK: Users

    package func createUser(displayName: String, now: Date = Date()) async throws -> User {
        let user = User(id: UUID().uuidString.lowercased(), displayName: displayName, createdAt: now, lastSeenAt: now)
        try await database.execute(
            "INSERT INTO users (id, display_name, created_at, last_seen_at) VALUES ($1, $2, $3, $4)",
            .text(user.id), .text(user.displayName), SQLValue(now), SQLValue(now))
        return user
    }

    package func user(id: String) async throws -> User? {
        try await database.execute(
            "SELECT id, display_name, created_at, last_seen_at FROM users WHERE id = $1", .text(id)
        ).first.map(Self.user(from:))
    }

    /// Records activity; returns false when the user does not exist.
    @discardableResult
    package func recordSeen(userID: String, at date: Date = Date()) async throws -> Bool {
        let rows = try await database.execute(
            "UPDATE users SET last_seen_at = $1 WHERE id = $2 RETURNING id", SQLValue(date), .text(userID))
        return !rows.isEmpty
    }

    static func user(from row: SQLRow) throws -> User {
        User(
            id: try row.string("id"), displayName: try row.string("display_name"),
            createdAt: try row.date("created_at"), lastSeenAt: try row.date("last_seen_at"))
    }
}
