import Foundation

/// A personal API key as stored: its hash, never the key.
package struct APIKeyRecord: Sendable, Equatable {
    package let id: String
    package let userID: String
    package let name: String
    package let prefix: String
    package let createdAt: Date
    package let expiresAt: Date?
    package let lastUsedAt: Date?
}

extension GatewayStore {
    static let apiKeyColumns = "id, user_id, name, prefix, created_at, expires_at, last_used_at"

    package func createAPIKey(
        userID: String, name: String, prefix: String, keyHash: String, expiresAt: Date?, now: Date = Date()
    ) async throws -> APIKeyRecord {
        let record = APIKeyRecord(
            id: UUID().uuidString.lowercased(), userID: userID, name: name, prefix: prefix, createdAt: now, expiresAt: expiresAt,
            lastUsedAt: nil)
        try await database.execute(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            .text(record.id), .text(userID), .text(name), .text(prefix), .text(keyHash), SQLValue(now), SQLValue(expiresAt))
        return record
    }

    /// The user's keys that still work (not revoked, not expired), newest first.
    package func apiKeys(userID: String, now: Date = Date()) async throws -> [APIKeyRecord] {
        try await database.execute(
            """
            SELECT \(Self.apiKeyColumns) FROM api_keys
            WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
            ORDER BY created_at DESC, id
            """, .text(userID), SQLValue(now)
        ).map(Self.apiKey(from:))
    }

    /// Revokes one of the user's keys; false when the user has no such working key.
    package func revokeAPIKey(userID: String, id: String, now: Date = Date()) async throws -> Bool {
        !(try await database.execute(
            "UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id",
            .text(id), .text(userID), SQLValue(now)
        )
        .isEmpty)
    }

    /// The working key with this hash; nil for an unknown, revoked or expired key. Checked in the
    /// database on every use, so a revocation holds at once on every replica. `last_used_at` is
    /// written at most once a minute per key, so using a key is a read.
    package func useAPIKey(keyHash: String, now: Date = Date()) async throws -> APIKeyRecord? {
        guard
            let key = try await database.execute(
                """
                SELECT \(Self.apiKeyColumns) FROM api_keys
                WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
                """, .text(keyHash), SQLValue(now)
            ).first.map(Self.apiKey(from:))
        else { return nil }
        if key.lastUsedAt.map({ now.timeIntervalSince($0) >= 60 }) ?? true {
            try await database.execute("UPDATE api_keys SET last_used_at = $2 WHERE id = $1", .text(key.id), SQLValue(now))
            return APIKeyRecord(
                id: key.id, userID: key.userID, name: key.name, prefix: key.prefix, createdAt: key.createdAt, expiresAt: key.expiresAt,
                lastUsedAt: now)
        }
        return key
    }

    static func apiKey(from row: SQLRow) throws -> APIKeyRecord {
        APIKeyRecord(
            id: try row.string("id"), userID: try row.string("user_id"), name: try row.string("name"), prefix: try row.string("prefix"),
            createdAt: try row.date("created_at"), expiresAt: row["expires_at"] == .null ? nil : try row.date("expires_at"),
            lastUsedAt: row["last_used_at"] == .null ? nil : try row.date("last_used_at"))
    }
}
