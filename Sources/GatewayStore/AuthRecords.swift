import Foundation

/// Who a person is at a sign-in provider (`demo`, `firebase`, `oidc:<issuer>`).
package struct Identity: Sendable, Equatable {
    package let provider: String
    package let subject: String

    package init(provider: String, subject: String) {
        self.provider = provider
        self.subject = subject
    }
}

/// The grant a refresh token carries.
package struct RefreshGrant: Sendable, Equatable {
    package let familyID: String
    package let userID: String
    package let clientID: String
    package let scope: String
    /// The RFC 8707 resource the family's access tokens are for; nil is the gateway's API.
    package let resource: String?
}

package enum RefreshRotation: Sendable, Equatable {
    /// The presented token was current; it is now used and `grant` continues with the new token.
    case rotated(RefreshGrant)
    /// The presented token had already been used: the whole family is now revoked.
    case reuseDetected(familyID: String)
    /// Unknown, expired, or belonging to a revoked family.
    case invalid
}

extension GatewayStore {
    // MARK: Identities

    /// The user behind an identity, creating both on first sign-in.
    package func user(signingInAs identity: Identity, displayName: String, now: Date = Date()) async throws -> User {
        if let existing = try await user(identity: identity) {
            try await database.execute(
                "UPDATE users SET display_name = $1, last_seen_at = $2 WHERE id = $3",
                .text(displayName), SQLValue(now), .text(existing.id))
            return User(id: existing.id, displayName: displayName, createdAt: existing.createdAt, lastSeenAt: now)
        }
        let user = User(id: UUID().uuidString.lowercased(), displayName: displayName, createdAt: now, lastSeenAt: now)
        let inserted = try await database.transaction { executor in
            try await executor.execute(
                "INSERT INTO users (id, display_name, created_at, last_seen_at) VALUES ($1, $2, $3, $4)",
                .text(user.id), .text(user.displayName), SQLValue(now), SQLValue(now))
            return try await executor.execute(
                """
                INSERT INTO identities (provider, subject, user_id, created_at) VALUES ($1, $2, $3, $4)
                ON CONFLICT (provider, subject) DO NOTHING RETURNING user_id
                """,
                .text(identity.provider), .text(identity.subject), .text(user.id), SQLValue(now))
        }
        if inserted.isEmpty {
            // A concurrent first sign-in of the same identity won; use its user.
            try await database.execute("DELETE FROM users WHERE id = $1", .text(user.id))
            guard let winner = try await self.user(identity: identity) else { throw StoreError.unavailable("identity vanished") }
            return winner
        }
        return user
    }

    package func user(identity: Identity) async throws -> User? {
        try await database.execute(
            """
            SELECT u.id, u.display_name, u.created_at, u.last_seen_at FROM identities i
            JOIN users u ON u.id = i.user_id WHERE i.provider = $1 AND i.subject = $2
            """,
            .text(identity.provider), .text(identity.subject)
        ).first.map(Self.user(from:))
    }

    // MARK: Refresh tokens (stored only as hashes)

    /// Starts a new family with its first token.
    package func createRefreshFamily(
        tokenHash: String, userID: String, clientID: String, scope: String, resource: String? = nil, expiresAt: Date,
        now: Date = Date()
    ) async throws -> RefreshGrant {
        let familyID = UUID().uuidString.lowercased()
        try await database.transaction { executor in
            try await executor.execute(
                """
                INSERT INTO refresh_token_families (id, user_id, client_id, scope, resource, created_at)
                VALUES ($1, $2, $3, $4, $5, $6)
                """,
                .text(familyID), .text(userID), .text(clientID), .text(scope), resource.map(SQLValue.text) ?? .null, SQLValue(now))
            try await executor.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                .text(tokenHash), .text(familyID), SQLValue(now), SQLValue(expiresAt))
        }
        return RefreshGrant(familyID: familyID, userID: userID, clientID: clientID, scope: scope, resource: resource)
    }

    /// Marks `tokenHash` used and adds `newTokenHash` to its family, atomically. Presenting a
    /// used token again revokes the family (as Ory Hydra does): a stolen token and its
    /// legitimate holder can never both keep going.
    package func rotateRefreshToken(
        _ tokenHash: String, clientID: String, newTokenHash: String, newExpiresAt: Date, familyStartedAfter: Date = .distantPast,
        now: Date = Date()
    ) async throws -> RefreshRotation {
        try await database.transaction { executor in
            // The conditional UPDATE is the race arbiter: only one presenter can flip used_at,
            // and only a presenter that is the family's client (a token sent by the wrong
            // client stays unused, so its rightful holder is not taken for a thief).
            let claimed = try await executor.execute(
                """
                UPDATE refresh_tokens SET used_at = $1
                WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1
                AND family_id IN (
                    SELECT id FROM refresh_token_families WHERE client_id = $3 AND revoked_at IS NULL AND created_at > $4)
                RETURNING family_id
                """,
                SQLValue(now), .text(tokenHash), .text(clientID), SQLValue(familyStartedAfter))
            guard let familyID = try claimed.first?.string("family_id") else {
                let known = try await executor.execute(
                    "SELECT family_id, used_at FROM refresh_tokens WHERE token_hash = $1", .text(tokenHash))
                if let row = known.first, row["used_at"] != .null {
                    let family = try row.string("family_id")
                    try await Self.revokeFamily(family, reason: "refresh token reuse", now: now, executor: executor)
                    return .reuseDetected(familyID: family)
                }
                return .invalid
            }
            let families = try await executor.execute(
                "SELECT user_id, client_id, scope, resource, revoked_at FROM refresh_token_families WHERE id = $1", .text(familyID))
            guard let family = families.first else { return .invalid }
            try await executor.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                .text(newTokenHash), .text(familyID), SQLValue(now), SQLValue(newExpiresAt))
            return .rotated(
                RefreshGrant(
                    familyID: familyID, userID: try family.string("user_id"), clientID: clientID,
                    scope: try family.string("scope"), resource: family["resource"] == .null ? nil : try family.string("resource")))
        }
    }

    /// The resource of the family `tokenHash` belongs to: nil for an unknown token, `.some(nil)`
    /// for the gateway's API.
    package func refreshTokenResource(_ tokenHash: String) async throws -> String?? {
        let rows = try await database.execute(
            """
            SELECT f.resource FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id WHERE t.token_hash = $1
            """, .text(tokenHash))
        guard let row = rows.first else { return nil }
        return .some(row["resource"] == .null ? nil : try row.string("resource"))
    }

    /// Revokes the family a token belongs to (RFC 7009) and returns its id; unknown tokens are
    /// ignored (nil).
    @discardableResult
    package func revokeRefreshToken(_ tokenHash: String, now: Date = Date()) async throws -> String? {
        let rows = try await database.execute("SELECT family_id FROM refresh_tokens WHERE token_hash = $1", .text(tokenHash))
        guard let familyID = try rows.first?.string("family_id") else { return nil }
        try await revokeRefreshFamily(familyID, reason: "revoked", now: now)
        return familyID
    }

    /// The user a refresh token family (a sign-in) belongs to.
    package func refreshFamilyUser(_ familyID: String) async throws -> String? {
        try await database.execute("SELECT user_id FROM refresh_token_families WHERE id = $1", .text(familyID)).first?.string("user_id")
    }

    package func revokeRefreshFamily(_ familyID: String, reason: String, now: Date = Date()) async throws {
        try await Self.revokeFamily(familyID, reason: reason, now: now, executor: database)
    }

    package func isRefreshFamilyActive(_ familyID: String) async throws -> Bool {
        let rows = try await database.execute("SELECT revoked_at FROM refresh_token_families WHERE id = $1", .text(familyID))
        return rows.first.map { $0["revoked_at"] == .null } ?? false
    }

    static func revokeFamily(_ familyID: String, reason: String, now: Date, executor: any SQLExecutor) async throws {
        try await executor.execute(
            "UPDATE refresh_token_families SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
            SQLValue(now), .text(reason), .text(familyID))
    }
}
