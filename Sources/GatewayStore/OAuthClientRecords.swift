import Foundation

/// An OAuth client that registered itself (RFC 7591 dynamic client registration). Its name is
/// whatever the client said, so pages show it as unverified.
package struct RegisteredOAuthClient: Sendable, Equatable {
    package let id: String
    package let name: String
    package let redirectURIs: [String]
    package let createdAt: Date
    package let lastUsedAt: Date
    /// The first sign-in with it; nil while nobody has used it (it then expires within hours).
    package let firstUsedAt: Date?
    /// The client address that registered it (as per-address limits count it).
    package let registeredFrom: String

    package init(
        id: String, name: String, redirectURIs: [String], createdAt: Date, lastUsedAt: Date, firstUsedAt: Date? = nil,
        registeredFrom: String = ""
    ) {
        self.id = id
        self.name = name
        self.redirectURIs = redirectURIs
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.firstUsedAt = firstUsedAt
        self.registeredFrom = registeredFrom
    }
}

/// When registrations expire: a used one when unused since `unusedSince`, one nobody ever
/// signed in with when registered before `neverUsedSince` (registering is cheap, so a
/// registration that leads nowhere must not hold a place for long).
package struct OAuthClientExpiry: Sendable {
    package let unusedSince: Date
    package let neverUsedSince: Date

    package init(unusedSince: Date, neverUsedSince: Date) {
        self.unusedSince = unusedSince
        self.neverUsedSince = neverUsedSince
    }

    func isExpired(_ client: RegisteredOAuthClient) -> Bool {
        client.lastUsedAt <= unusedSince || (client.firstUsedAt == nil && client.createdAt <= neverUsedSince)
    }
}

extension GatewayStore {
    package func registerOAuthClient(_ client: RegisteredOAuthClient) async throws {
        let uris = String(decoding: try JSONEncoder().encode(client.redirectURIs), as: UTF8.self)
        try await database.execute(
            """
            INSERT INTO oauth_clients (id, name, redirect_uris, created_at, last_used_at, first_used_at, registered_from)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            .text(client.id), .text(client.name), .text(uris), SQLValue(client.createdAt), SQLValue(client.lastUsedAt),
            SQLValue(client.firstUsedAt), .text(client.registeredFrom))
    }

    /// The registered client, or nil when unknown or expired (an expired registration is
    /// deleted here, so expiry needs no sweeper).
    package func registeredOAuthClient(id: String, expiry: OAuthClientExpiry) async throws -> RegisteredOAuthClient? {
        guard
            let row = try await database.execute(
                """
                SELECT id, name, redirect_uris, created_at, last_used_at, first_used_at, registered_from
                FROM oauth_clients WHERE id = $1
                """, .text(id)
            ).first
        else { return nil }
        let client = RegisteredOAuthClient(
            id: try row.string("id"), name: try row.string("name"),
            redirectURIs: (try? JSONDecoder().decode([String].self, from: Data(try row.string("redirect_uris").utf8))) ?? [],
            createdAt: try row.date("created_at"), lastUsedAt: try row.date("last_used_at"),
            firstUsedAt: row["first_used_at"] == .null ? nil : try row.date("first_used_at"),
            registeredFrom: try row.string("registered_from"))
        guard !expiry.isExpired(client) else {
            try await database.execute("DELETE FROM oauth_clients WHERE id = $1", .text(id))
            return nil
        }
        return client
    }

    /// Records that the client was used (a sign-in or a token refresh): the first use at once,
    /// later ones at most once an hour per client, so a busy client costs reads only.
    package func touchOAuthClient(id: String, now: Date = Date()) async throws {
        try await database.execute(
            """
            UPDATE oauth_clients SET last_used_at = $2, first_used_at = COALESCE(first_used_at, $2)
            WHERE id = $1 AND (last_used_at < $3 OR first_used_at IS NULL)
            """,
            .text(id), SQLValue(now), SQLValue(now.addingTimeInterval(-3600)))
    }

    /// Deletes expired registrations and returns how many are live, overall and from `address`.
    package func liveOAuthClientCounts(from address: String, expiry: OAuthClientExpiry) async throws -> (
        overall: Int, fromAddress: Int
    ) {
        try await database.execute(
            "DELETE FROM oauth_clients WHERE last_used_at <= $1 OR (first_used_at IS NULL AND created_at <= $2)",
            SQLValue(expiry.unusedSince), SQLValue(expiry.neverUsedSince))
        let overall = try await database.execute("SELECT COUNT(*) AS n FROM oauth_clients")
        let fromAddress = try await database.execute(
            "SELECT COUNT(*) AS n FROM oauth_clients WHERE registered_from = $1", .text(address))
        return (Int(try overall.first?.int64("n") ?? 0), Int(try fromAddress.first?.int64("n") ?? 0))
    }

    /// Deletes the oldest registration nobody has signed in with (from `address` only, when
    /// given) to make room for a new one; false when there is none.
    package func evictOldestUnusedOAuthClient(from address: String? = nil) async throws -> Bool {
        let rows =
            if let address {
                try await database.execute(
                    """
                    SELECT id FROM oauth_clients WHERE first_used_at IS NULL AND registered_from = $1
                    ORDER BY created_at, id LIMIT 1
                    """, .text(address))
            } else {
                try await database.execute(
                    "SELECT id FROM oauth_clients WHERE first_used_at IS NULL ORDER BY created_at, id LIMIT 1")
            }
        guard let id = try rows.first?.string("id") else { return false }
        try await database.execute("DELETE FROM oauth_clients WHERE id = $1 AND first_used_at IS NULL", .text(id))
        return true
    }
}
