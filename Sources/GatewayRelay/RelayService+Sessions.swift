import Foundation
import GatewayEphemeral
import GatewayEvents
import GatewayProtocol
import GatewayStore
import Logging

// Chat sessions: opening, listing, reading and closing them.
extension RelayService {
    package func openSession(userID: String, agentID: String) async throws -> SessionView {
        guard let access = try await store.access(userID: userID, agentID: agentID), let agent = try await store.agent(id: agentID) else {
            throw RelayError.notFound("agent not found")
        }
        let shareID: String? = if case .guest(let id) = access { id } else { nil }
        try await takeBudget(.sessions, key: "sessions:user:\(userID)", perMinute: limits.sessionsPerMinute)
        let session = try await store.createSession(agentID: agent.id, userID: userID, shareID: shareID)
        let user = try await store.user(id: userID)
        try await append(
            RelayStreams.device(of: agent),
            SessionCreatedEvent(
                sessionID: session.id, agentID: agent.id, agentKey: agent.key,
                user: UserRef(id: userID, displayName: user?.displayName ?? "")))
        return try await view(session, agent: agent)
    }

    package func sessions(userID: String) async throws -> [SessionView] {
        var views: [SessionView] = []
        for session in try await store.sessions(userID: userID) {
            guard let agent = try await store.agent(id: session.agentID) else { continue }
            views.append(try await view(session, agent: agent))
        }
        return views
    }

    /// The caller's session and its agent, checked against current access: a session under a
    /// revoked or abandoned share is refused.
    package func usableSession(userID: String, id: String) async throws -> (ChatSession, Agent) {
        guard let session = try await store.session(id: id), session.userID == userID,
            let agent = try await store.agent(id: session.agentID)
        else { throw RelayError.notFound("session not found") }
        if let shareID = session.shareID {
            guard case .guest(let activeShare)? = try await store.access(userID: userID, agentID: agent.id), activeShare == shareID else {
                throw RelayError.shareRevoked
            }
        } else if agent.ownerID != userID {
            throw RelayError.notFound("session not found")
        }
        return (session, agent)
    }

    package func session(userID: String, id: String) async throws -> SessionView {
        let (session, agent) = try await usableSession(userID: userID, id: id)
        return try await view(session, agent: agent)
    }

    package func closeSession(userID: String, id: String) async throws {
        let (session, _) = try await usableSession(userID: userID, id: id)
        if try await store.closeSession(id: session.id) { try await announceClosed(session, reason: .closedByUser) }
    }

    /// Names (or, with nil or blank, unnames) one of the caller's conversations: at most 100
    /// characters, no control or invisible formatting characters (it is shown in lists).
    package func renameSession(userID: String, id: String, title: String?) async throws -> SessionView {
        let (session, agent) = try await ownSession(userID: userID, id: id)
        let trimmed = title?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard trimmed.count <= 100 else { throw RelayError.invalid("a title is at most 100 characters") }
        _ = try Self.withoutControlCharacters(trimmed, field: "title")
        try await store.renameSession(id: session.id, title: trimmed.isEmpty ? nil : trimmed)
        var renamed = session
        renamed.title = trimmed.isEmpty ? nil : trimmed
        return try await view(renamed, agent: agent)
    }

    /// Deletes one of the caller's conversations with its messages: it is closed first (the
    /// host is told, as for a close), then removed, and its stream position forgotten. Allowed
    /// also when its share was revoked or given up: what the caller wrote is theirs to erase.
    package func deleteSession(userID: String, id: String) async throws {
        let (session, _) = try await ownSession(userID: userID, id: id)
        if try await store.closeSession(id: session.id) { try await announceClosed(session, reason: .closedByUser) }
        try await store.deleteSession(id: session.id)
        try await saveReplyProgress([:], sessionID: session.id)
    }

    /// The caller's session, whatever became of the share it was opened under.
    private func ownSession(userID: String, id: String) async throws -> (ChatSession, Agent) {
        guard let session = try await store.session(id: id), session.userID == userID,
            let agent = try await store.agent(id: session.agentID)
        else { throw RelayError.notFound("session not found") }
        return (session, agent)
    }

    func view(_ session: ChatSession, agent: Agent) async throws -> SessionView {
        SessionView(
            id: session.id, agentID: agent.id, agentName: agent.name, userID: session.userID, shareID: session.shareID,
            createdAt: session.createdAt, closedAt: session.closedAt, hostOnline: try await bus.isOnline(agent.deviceInstanceID),
            streamPosition: try await bus.head(of: RelayStreams.session(session.id)).description, title: session.title)
    }

    func announceClosed(_ session: ChatSession, reason: SessionCloseReason) async throws {
        let closed = SessionClosedEvent(sessionID: session.id, reason: reason)
        try await append(RelayStreams.session(session.id), closed)
        if let agent = try await store.agent(id: session.agentID) {
            try await append(RelayStreams.device(of: agent), closed)
        }
    }
}
