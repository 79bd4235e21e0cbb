import Foundation

extension GatewayStore {
    // MARK: Devices

    /// Registers or updates the caller's device; throws `DeviceIDTaken` when another user owns the id.
    package func registerDevice(id: String, ownerID: String, name: String, platform: String, now: Date = Date()) async throws
        -> (device: Device, created: Bool)
    {
        let inserted = try await database.execute(
            """
            INSERT INTO devices (id, instance_id, owner_id, name, platform, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING RETURNING id
            """,
            .text(id), .text(UUID().uuidString.lowercased()), .text(ownerID), .text(name), .text(platform), SQLValue(now))
        if inserted.isEmpty {
            let updated = try await database.execute(
                "UPDATE devices SET name = $1, platform = $2, updated_at = $3 WHERE id = $4 AND owner_id = $5 RETURNING id",
                .text(name), .text(platform), SQLValue(now), .text(id), .text(ownerID))
            guard !updated.isEmpty else { throw DeviceIDTaken() }
        }
        guard let device = try await device(id: id) else { throw StoreError.unavailable("device vanished") }
        return (device, !inserted.isEmpty)
    }

    static let deviceColumns = "id, instance_id, owner_id, name, platform, created_at, updated_at"

    package func device(id: String) async throws -> Device? {
        try await database.execute("SELECT \(Self.deviceColumns) FROM devices WHERE id = $1", .text(id)).first.map(Self.device(from:))
    }

    /// The registration an instance id belongs to; nil once that device was deleted, even when
    /// its id was registered again.
    package func device(instanceID: String) async throws -> Device? {
        try await database.execute("SELECT \(Self.deviceColumns) FROM devices WHERE instance_id = $1", .text(instanceID)).first
            .map(Self.device(from:))
    }

    package func devices(ownerID: String) async throws -> [Device] {
        try await database.execute("SELECT \(Self.deviceColumns) FROM devices WHERE owner_id = $1 ORDER BY created_at", .text(ownerID))
            .map(Self.device(from:))
    }

    package func renameDevice(id: String, ownerID: String, name: String, now: Date = Date()) async throws -> Device? {
        let rows = try await database.execute(
            "UPDATE devices SET name = $1, updated_at = $2 WHERE id = $3 AND owner_id = $4 RETURNING \(Self.deviceColumns)",
            .text(name), SQLValue(now), .text(id), .text(ownerID))
        return try rows.first.map(Self.device(from:))
    }

    /// Deletes the device with its agents, their shares and sessions. Returns the sessions that
    /// were open, so their streams can be told.
    package func deleteDevice(id: String, ownerID: String) async throws -> [ChatSession]? {
        try await database.transaction { executor in
            let owned = try await executor.execute("SELECT id FROM devices WHERE id = $1 AND owner_id = $2", .text(id), .text(ownerID))
            guard !owned.isEmpty else { return nil }
            let open = try await executor.execute(
                """
                SELECT \(Self.sessionColumns) FROM sessions WHERE closed_at IS NULL
                AND agent_id IN (SELECT id FROM agents WHERE device_id = $1)
                """, .text(id)
            ).map(Self.session(from:))
            try await executor.execute("DELETE FROM devices WHERE id = $1", .text(id))
            return open
        }
    }

    static func device(from row: SQLRow) throws -> Device {
        Device(
            id: try row.string("id"), instanceID: try row.string("instance_id"), ownerID: try row.string("owner_id"),
            name: try row.string("name"),
            platform: try row.string("platform"), createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    // MARK: Agents

    package func publishAgent(
        deviceID: String, ownerID: String, key: String, name: String, description: String, capabilities: [String],
        now: Date = Date()
    ) async throws -> (agent: Agent, created: Bool) {
        let capabilitiesJSON = String(decoding: try JSONEncoder().encode(capabilities), as: UTF8.self)
        let inserted = try await database.execute(
            """
            INSERT INTO agents (
                id, device_id, device_instance_id, agent_key, owner_id, name, description, capabilities, created_at, updated_at)
            VALUES ($1, $2, (SELECT instance_id FROM devices WHERE id = $2), $3, $4, $5, $6, $7, $8, $8)
            ON CONFLICT (device_id, agent_key) DO NOTHING RETURNING id
            """,
            .text(UUID().uuidString.lowercased()), .text(deviceID), .text(key), .text(ownerID), .text(name), .text(description),
            .text(capabilitiesJSON), SQLValue(now))
        if inserted.isEmpty {
            try await database.execute(
                """
                UPDATE agents SET name = $1, description = $2, capabilities = $3, updated_at = $4
                WHERE device_id = $5 AND agent_key = $6
                """,
                .text(name), .text(description), .text(capabilitiesJSON), SQLValue(now), .text(deviceID), .text(key))
        }
        let rows = try await database.execute(
            "SELECT \(Self.agentColumns) FROM agents WHERE device_id = $1 AND agent_key = $2", .text(deviceID), .text(key))
        guard let agent = try rows.first.map(Self.agent(from:)) else { throw StoreError.unavailable("agent vanished") }
        return (agent, !inserted.isEmpty)
    }

    /// Removes the agent (its shares and sessions go with it); returns it and its open sessions.
    package func unpublishAgent(deviceID: String, key: String) async throws -> (agent: Agent, openSessions: [ChatSession])? {
        try await database.transaction { executor in
            let rows = try await executor.execute(
                "SELECT \(Self.agentColumns) FROM agents WHERE device_id = $1 AND agent_key = $2", .text(deviceID), .text(key))
            guard let agent = try rows.first.map(Self.agent(from:)) else { return nil }
            let open = try await executor.execute(
                "SELECT \(Self.sessionColumns) FROM sessions WHERE agent_id = $1 AND closed_at IS NULL", .text(agent.id)
            ).map(Self.session(from:))
            try await executor.execute("DELETE FROM agents WHERE id = $1", .text(agent.id))
            return (agent, open)
        }
    }

    static let agentColumns =
        "id, device_id, device_instance_id, agent_key, owner_id, name, description, capabilities, created_at, updated_at"

    package func agent(id: String) async throws -> Agent? {
        try await database.execute("SELECT \(Self.agentColumns) FROM agents WHERE id = $1", .text(id)).first.map(Self.agent(from:))
    }

    package func agents(ownerID: String) async throws -> [Agent] {
        try await database.execute("SELECT \(Self.agentColumns) FROM agents WHERE owner_id = $1 ORDER BY created_at", .text(ownerID))
            .map(Self.agent(from:))
    }

    package func agents(deviceID: String) async throws -> [Agent] {
        try await database.execute("SELECT \(Self.agentColumns) FROM agents WHERE device_id = $1 ORDER BY created_at", .text(deviceID))
            .map(Self.agent(from:))
    }

    /// Agents the guest holds an active grant for, with the share it came through.
    package func sharedAgents(guestID: String) async throws -> [(agent: Agent, shareID: String)] {
        try await database.execute(
            """
            SELECT a.id, a.device_id, a.device_instance_id, a.agent_key, a.owner_id, a.name, a.description, a.capabilities, a.created_at,
                   a.updated_at, g.share_id
            FROM grants g JOIN shares s ON s.id = g.share_id JOIN agents a ON a.id = g.agent_id
            WHERE g.guest_id = $1 AND g.left_at IS NULL AND s.revoked_at IS NULL ORDER BY g.created_at
            """, .text(guestID)
        ).map { (try Self.agent(from: $0), try $0.string("share_id")) }
    }

    static func agent(from row: SQLRow) throws -> Agent {
        let capabilities = (try? JSONDecoder().decode([String].self, from: Data(try row.string("capabilities").utf8))) ?? []
        return Agent(
            id: try row.string("id"), deviceID: try row.string("device_id"), deviceInstanceID: try row.string("device_instance_id"),
            key: try row.string("agent_key"),
            ownerID: try row.string("owner_id"), name: try row.string("name"), description: try row.string("description"),
            capabilities: capabilities, createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }

    // MARK: Access

    /// How `userID` may use the agent: as its owner, through an active (unrevoked, not left)
    /// grant, or not at all. Checked on every request, so a revocation applies at once everywhere.
    package func access(userID: String, agentID: String) async throws -> AgentAccess? {
        guard let agent = try await agent(id: agentID) else { return nil }
        if agent.ownerID == userID { return .owner }
        let rows = try await database.execute(
            """
            SELECT g.share_id FROM grants g JOIN shares s ON s.id = g.share_id
            WHERE g.guest_id = $1 AND g.agent_id = $2 AND g.left_at IS NULL AND s.revoked_at IS NULL
            ORDER BY g.created_at LIMIT 1
            """, .text(userID), .text(agentID))
        return try rows.first.map { .guest(shareID: try $0.string("share_id")) }
    }

    // MARK: Shares

    package func createShare(
        agentID: String, ownerID: String, codeHash: String, label: String?, expiresAt: Date?, maxUses: Int?, now: Date = Date()
    ) async throws -> Share {
        let share = Share(
            id: UUID().uuidString.lowercased(), agentID: agentID, ownerID: ownerID, label: label, expiresAt: expiresAt,
            maxUses: maxUses, useCount: 0, createdAt: now, revokedAt: nil)
        try await database.execute(
            """
            INSERT INTO shares (id, agent_id, owner_id, code_hash, label, expires_at, max_uses, use_count, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8)
            """,
            .text(share.id), .text(agentID), .text(ownerID), .text(codeHash), SQLValue(label),
            expiresAt.map(SQLValue.init) ?? .null, SQLValue(maxUses.map(Int64.init)), SQLValue(now))
        return share
    }

    static let shareColumns = "id, agent_id, owner_id, label, expires_at, max_uses, use_count, created_at, revoked_at"

    package func share(id: String) async throws -> Share? {
        try await database.execute("SELECT \(Self.shareColumns) FROM shares WHERE id = $1", .text(id)).first.map(Self.share(from:))
    }

    package func share(codeHash: String) async throws -> Share? {
        try await database.execute("SELECT \(Self.shareColumns) FROM shares WHERE code_hash = $1", .text(codeHash))
            .first.map(Self.share(from:))
    }

    package func shares(ownerID: String) async throws -> [Share] {
        try await database.execute("SELECT \(Self.shareColumns) FROM shares WHERE owner_id = $1 ORDER BY created_at", .text(ownerID))
            .map(Self.share(from:))
    }

    /// Guests who accepted a share (active grants first), with their display names.
    package func guests(shareID: String) async throws -> [(grant: Grant, displayName: String)] {
        try await database.execute(
            """
            SELECT g.share_id, g.guest_id, g.agent_id, g.created_at, g.left_at, u.display_name
            FROM grants g JOIN users u ON u.id = g.guest_id WHERE g.share_id = $1 ORDER BY g.created_at
            """, .text(shareID)
        ).map { (try Self.grant(from: $0), try $0.string("display_name")) }
    }

    /// Every user with an active grant to an agent of `deviceID` (to tell them its host status).
    package func guestIDs(deviceID: String) async throws -> [String] {
        try await database.execute(
            """
            SELECT DISTINCT g.guest_id FROM grants g JOIN shares s ON s.id = g.share_id JOIN agents a ON a.id = g.agent_id
            WHERE a.device_id = $1 AND g.left_at IS NULL AND s.revoked_at IS NULL
            """, .text(deviceID)
        ).map { try $0.string("guest_id") }
    }

    /// Marks the share revoked; returns it (nil if not the owner's or already revoked) with the
    /// grants and open sessions it ends.
    package func revokeShare(id: String, ownerID: String, now: Date = Date()) async throws
        -> (share: Share, guests: [String], openSessions: [ChatSession])?
    {
        try await database.transaction { executor in
            let rows = try await executor.execute(
                "UPDATE shares SET revoked_at = $1 WHERE id = $2 AND owner_id = $3 AND revoked_at IS NULL RETURNING \(Self.shareColumns)",
                SQLValue(now), .text(id), .text(ownerID))
            guard let share = try rows.first.map(Self.share(from:)) else { return nil }
            let guests = try await executor.execute(
                "SELECT guest_id FROM grants WHERE share_id = $1 AND left_at IS NULL", .text(id)
            ).map { try $0.string("guest_id") }
            let open = try await executor.execute(
                "SELECT \(Self.sessionColumns) FROM sessions WHERE share_id = $1 AND closed_at IS NULL", .text(id)
            ).map(Self.session(from:))
            try await executor.execute(
                "UPDATE sessions SET closed_at = $1 WHERE share_id = $2 AND closed_at IS NULL", SQLValue(now), .text(id))
            return (share, guests, open)
        }
    }

    /// Accepts an invite: records a grant, counting a use. Accepting again is harmless.
    package func acceptShare(codeHash: String, guestID: String, now: Date = Date()) async throws -> (share: Share, newlyAccepted: Bool) {
        try await database.transaction { executor in
            let rows = try await executor.execute(
                "SELECT \(Self.shareColumns) FROM shares WHERE code_hash = $1", .text(codeHash))
            guard var share = try rows.first.map(Self.share(from:)) else { throw ShareAcceptance.unknown }
            guard share.revokedAt == nil else { throw ShareAcceptance.revoked }
            guard share.ownerID != guestID else { throw ShareAcceptance.ownAgent }
            let existing = try await executor.execute(
                "SELECT left_at FROM grants WHERE share_id = $1 AND guest_id = $2", .text(share.id), .text(guestID))
            if let grant = existing.first, grant["left_at"] == .null { return (share, false) }
            if let expiresAt = share.expiresAt, expiresAt <= now { throw ShareAcceptance.expired }
            // The conditional UPDATE counts the use and enforces the limit even under concurrency.
            let counted = try await executor.execute(
                """
                UPDATE shares SET use_count = use_count + 1
                WHERE id = $1 AND (max_uses IS NULL OR use_count < max_uses) RETURNING use_count
                """, .text(share.id))
            guard let uses = counted.first?["use_count"].int64 else { throw ShareAcceptance.exhausted }
            share.useCount = Int(uses)
            if existing.isEmpty {
                try await executor.execute(
                    "INSERT INTO grants (share_id, guest_id, agent_id, created_at) VALUES ($1, $2, $3, $4)",
                    .text(share.id), .text(guestID), .text(share.agentID), SQLValue(now))
            } else {
                try await executor.execute(
                    "UPDATE grants SET left_at = NULL, created_at = $1 WHERE share_id = $2 AND guest_id = $3",
                    SQLValue(now), .text(share.id), .text(guestID))
            }
            return (share, true)
        }
    }

    /// Shares the guest accepted and still holds.
    package func incomingShares(guestID: String) async throws -> [(share: Share, grant: Grant)] {
        try await database.execute(
            """
            SELECT s.id, s.agent_id, s.owner_id, s.label, s.expires_at, s.max_uses, s.use_count, s.created_at, s.revoked_at,
                   g.share_id, g.guest_id, g.agent_id AS grant_agent_id, g.created_at AS grant_created_at, g.left_at
            FROM grants g JOIN shares s ON s.id = g.share_id WHERE g.guest_id = $1 AND g.left_at IS NULL ORDER BY g.created_at
            """, .text(guestID)
        ).map { row in
            (
                try Self.share(from: row),
                Grant(
                    shareID: try row.string("share_id"), guestID: try row.string("guest_id"), agentID: try row.string("grant_agent_id"),
                    createdAt: try row.date("grant_created_at"), leftAt: nil)
            )
        }
    }

    /// The guest gives up a grant; returns the sessions it closes, or nil when there was none.
    package func leaveShare(shareID: String, guestID: String, now: Date = Date()) async throws -> [ChatSession]? {
        try await database.transaction { executor in
            let updated = try await executor.execute(
                "UPDATE grants SET left_at = $1 WHERE share_id = $2 AND guest_id = $3 AND left_at IS NULL RETURNING share_id",
                SQLValue(now), .text(shareID), .text(guestID))
            guard !updated.isEmpty else { return nil }
            let open = try await executor.execute(
                "SELECT \(Self.sessionColumns) FROM sessions WHERE share_id = $1 AND user_id = $2 AND closed_at IS NULL",
                .text(shareID), .text(guestID)
            ).map(Self.session(from:))
            try await executor.execute(
                "UPDATE sessions SET closed_at = $1 WHERE share_id = $2 AND user_id = $3 AND closed_at IS NULL",
                SQLValue(now), .text(shareID), .text(guestID))
            return open
        }
    }

    static func share(from row: SQLRow) throws -> Share {
        Share(
            id: try row.string("id"), agentID: try row.string("agent_id"), ownerID: try row.string("owner_id"),
            label: row["label"].string, expiresAt: row["expires_at"] == .null ? nil : try row.date("expires_at"),
            maxUses: row["max_uses"].int64.map(Int.init), useCount: Int(try row.int64("use_count")),
            createdAt: try row.date("created_at"), revokedAt: row["revoked_at"] == .null ? nil : try row.date("revoked_at"))
    }

    static func grant(from row: SQLRow) throws -> Grant {
        Grant(
            shareID: try row.string("share_id"), guestID: try row.string("guest_id"), agentID: try row.string("agent_id"),
            createdAt: try row.date("created_at"), leftAt: row["left_at"] == .null ? nil : try row.date("left_at"))
    }

    // MARK: Sessions and messages

    /// The session `sessionID` as a reply target of device `deviceID` owned by `ownerID`: nil
    /// unless the session is with an agent of that very device. One statement, so the hot path
    /// of a streamed reply (a post per delta) costs one round trip, and revocation and closing
    /// still apply at once because nothing is cached.
    package func replyTarget(sessionID: String, deviceID: String, ownerID: String) async throws -> ReplyTarget? {
        let rows = try await database.execute(
            """
            SELECT d.instance_id AS device_instance_id, s.id AS session_id, s.closed_at AS closed_at,
                sh.revoked_at AS share_revoked_at
            FROM sessions s
            JOIN agents a ON a.id = s.agent_id
            JOIN devices d ON d.id = a.device_id
            LEFT JOIN shares sh ON sh.id = s.share_id
            WHERE s.id = $1 AND d.id = $2 AND d.owner_id = $3
            """, .text(sessionID), .text(deviceID), .text(ownerID))
        return try rows.first.map { row in
            ReplyTarget(
                deviceInstanceID: try row.string("device_instance_id"), sessionID: try row.string("session_id"),
                closed: row["closed_at"] != .null, shareRevoked: row["share_revoked_at"] != .null)
        }
    }

    static let sessionColumns = "id, agent_id, user_id, share_id, created_at, closed_at, title"

    package func createSession(agentID: String, userID: String, shareID: String?, now: Date = Date()) async throws -> ChatSession {
        let session = ChatSession(
            id: UUID().uuidString.lowercased(), agentID: agentID, userID: userID, shareID: shareID, createdAt: now, closedAt: nil,
            title: nil)
        try await database.execute(
            "INSERT INTO sessions (id, agent_id, user_id, share_id, created_at) VALUES ($1, $2, $3, $4, $5)",
            .text(session.id), .text(agentID), .text(userID), SQLValue(shareID), SQLValue(now))
        return session
    }

    package func session(id: String) async throws -> ChatSession? {
        try await database.execute("SELECT \(Self.sessionColumns) FROM sessions WHERE id = $1", .text(id)).first.map(Self.session(from:))
    }

    package func sessions(userID: String) async throws -> [ChatSession] {
        try await database.execute(
            "SELECT \(Self.sessionColumns) FROM sessions WHERE user_id = $1 ORDER BY created_at DESC", .text(userID)
        ).map(Self.session(from:))
    }

    /// Open sessions on any agent of `deviceID` (to tell them the host's status).
    package func openSessions(deviceID: String) async throws -> [ChatSession] {
        try await database.execute(
            """
            SELECT \(Self.sessionColumns) FROM sessions WHERE closed_at IS NULL
            AND agent_id IN (SELECT id FROM agents WHERE device_id = $1)
            """, .text(deviceID)
        ).map(Self.session(from:))
    }

    @discardableResult
    package func closeSession(id: String, now: Date = Date()) async throws -> Bool {
        !(try await database.execute(
            "UPDATE sessions SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL RETURNING id", SQLValue(now), .text(id)
        ).isEmpty)
    }

    /// Names the session (nil: no name).
    package func renameSession(id: String, title: String?) async throws {
        try await database.execute("UPDATE sessions SET title = $1 WHERE id = $2", SQLValue(title), .text(id))
    }

    /// Removes the session and, with it, its messages (the foreign key cascades).
    package func deleteSession(id: String) async throws {
        try await database.execute("DELETE FROM sessions WHERE id = $1", .text(id))
    }

    static func session(from row: SQLRow) throws -> ChatSession {
        ChatSession(
            id: try row.string("id"), agentID: try row.string("agent_id"), userID: try row.string("user_id"),
            shareID: row["share_id"].string, createdAt: try row.date("created_at"),
            closedAt: row["closed_at"] == .null ? nil : try row.date("closed_at"), title: row["title"].string)
    }

    /// Stores a message once per idempotency key: a retried post returns the first one.
    package func addMessage(
        sessionID: String, role: Message.Role, authorID: String?, replyTo: String?, text: String, idempotencyKey: String?,
        now: Date = Date()
    ) async throws -> (message: Message, created: Bool) {
        let message = Message(
            id: UUID().uuidString.lowercased(), sessionID: sessionID, role: role, authorID: authorID, replyTo: replyTo, text: text,
            createdAt: now)
        let inserted = try await database.execute(
            """
            INSERT INTO messages (id, session_id, role, author_id, reply_to, text, idempotency_key, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (session_id, idempotency_key) DO NOTHING RETURNING id
            """,
            .text(message.id), .text(sessionID), .text(role.rawValue), SQLValue(authorID), SQLValue(replyTo), .text(text),
            SQLValue(idempotencyKey), SQLValue(now))
        if !inserted.isEmpty { return (message, true) }
        let existing = try await database.execute(
            "SELECT \(Self.messageColumns) FROM messages WHERE session_id = $1 AND idempotency_key = $2",
            .text(sessionID), SQLValue(idempotencyKey))
        guard let first = try existing.first.map(Self.message(from:)) else { throw StoreError.unavailable("message vanished") }
        return (first, false)
    }

    static let messageColumns = "id, session_id, role, author_id, reply_to, text, created_at"

    /// Where a user message of a session stands: nil when the session has no such user message,
    /// else whether a reply to it is stored.
    package func userMessageIsAnswered(sessionID: String, messageID: String) async throws -> Bool? {
        let rows = try await database.execute(
            """
            SELECT (SELECT r.id FROM messages r WHERE r.session_id = m.session_id AND r.reply_to = m.id LIMIT 1) AS reply_id
            FROM messages m WHERE m.session_id = $1 AND m.id = $2 AND m.role = 'user'
            """, .text(sessionID), .text(messageID))
        return rows.first.map { $0["reply_id"] != .null }
    }

    package func messages(sessionID: String, limit: Int = 500) async throws -> [Message] {
        try await database.execute(
            "SELECT \(Self.messageColumns) FROM messages WHERE session_id = $1 ORDER BY created_at, id LIMIT $2",
            .text(sessionID), .integer(Int64(limit))
        ).map(Self.message(from:))
    }

    /// User messages in the device's open sessions (not closed, share not revoked) that have no
    /// stored reply, oldest first: what a host must still answer, even after its event stream
    /// lost them.
    package func unansweredMessages(deviceID: String, limit: Int = 500) async throws -> [UnansweredMessage] {
        try await database.execute(
            """
            SELECT m.id, m.session_id, m.role, m.author_id, m.reply_to, m.text, m.created_at,
                   a.id AS agent_id, a.agent_key, COALESCE(u.display_name, '') AS author_name
            FROM messages m
            JOIN sessions s ON s.id = m.session_id
            JOIN agents a ON a.id = s.agent_id
            LEFT JOIN shares sh ON sh.id = s.share_id
            LEFT JOIN users u ON u.id = m.author_id
            WHERE a.device_id = $1 AND m.role = 'user' AND s.closed_at IS NULL AND sh.revoked_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.session_id = m.session_id AND r.reply_to = m.id)
            ORDER BY m.created_at, m.id
            LIMIT $2
            """,
            .text(deviceID), .integer(Int64(limit))
        ).map { row in
            UnansweredMessage(
                message: try Self.message(from: row), agentID: try row.string("agent_id"), agentKey: try row.string("agent_key"),
                authorDisplayName: try row.string("author_name"))
        }
    }

    static func message(from row: SQLRow) throws -> Message {
        Message(
            id: try row.string("id"), sessionID: try row.string("session_id"),
            role: Message.Role(rawValue: try row.string("role")) ?? .user, authorID: row["author_id"].string,
            replyTo: row["reply_to"].string, text: try row.string("text"), createdAt: try row.date("created_at"))
    }
}
