import Foundation

/// An OAuth client that registered itself (RFC 7591 dynamic client registration). Its name is
/// whatever the client said, so pages show it as unverified.
public struct RegisteredOAuthClient: Sendable, Equatable {
    public let id: String
    public let name: String
    public let redirectURIs: [String]
    public let createdAt: Date
    public let lastUsedAt: Date

    public init(id: String, name: String, redirectURIs: [String], createdAt: Date, lastUsedAt: Date) {
        self.id = id
        self.name = name
        self.redirectURIs = redirectURIs
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
    }
}

extension GatewayStore {
    public func registerOAuthClient(_ client: RegisteredOAuthClient) async throws {
        let uris = String(decoding: try JSONEncoder().encode(client.redirectURIs), as: UTF8.self)
        try await database.execute(
            "INSERT INTO oauth_clients (id, name, redirect_uris, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5)",
            .text(client.id), .text(client.name), .text(uris), SQLValue(client.createdAt), SQLValue(client.lastUsedAt))
    }

    /// The registered client, or nil when unknown or unused since `unusedSince` (an expired
    /// registration is deleted here, so expiry needs no sweeper).
    public func registeredOAuthClient(id: String, unusedSince: Date) async throws -> RegisteredOAuthClient? {
        guard
            let row = try await database.execute(
                "SELECT id, name, redirect_uris, created_at, last_used_at FROM oauth_clients WHERE id = $1", .text(id)
            ).first
        else { return nil }
        let client = RegisteredOAuthClient(
            id: try row.string("id"), name: try row.string("name"),
            redirectURIs: (try? JSONDecoder().decode([String].self, from: Data(try row.string("redirect_uris").utf8))) ?? [],
            createdAt: try row.date("created_at"), lastUsedAt: try row.date("last_used_at"))
        guard client.lastUsedAt > unusedSince else {
            try await database.execute("DELETE FROM oauth_clients WHERE id = $1", .text(id))
            return nil
        }
        return client
    }

    /// Records that the client was used (a sign-in or a token refresh); written at most once an
    /// hour per client, so a busy client costs reads only.
    public func touchOAuthClient(id: String, now: Date = Date()) async throws {
        try await database.execute(
            "UPDATE oauth_clients SET last_used_at = $2 WHERE id = $1 AND last_used_at < $3",
            .text(id), SQLValue(now), SQLValue(now.addingTimeInterval(-3600)))
    }

    /// How many registrations exist (bounded by the registration endpoint).
    public func registeredOAuthClientCount(unusedSince: Date) async throws -> Int {
        try await database.execute("DELETE FROM oauth_clients WHERE last_used_at <= $1", SQLValue(unusedSince))
        let rows = try await database.execute("SELECT COUNT(*) AS n FROM oauth_clients")
        return Int(try rows.first?.int64("n") ?? 0)
    }
}
