import Crypto
import Foundation
import GatewayEphemeral
import GatewayEvents
import GatewayProtocol
import GatewayStore
import Logging

// Shares and invites: creating, listing, revoking, accepting and leaving shares.
extension RelayService {
    static func hash(_ code: String) -> String {
        SHA256.hash(data: Data(code.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func makeCode() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    package func createShare(userID: String, agentID: String, label: String?, expiresInSeconds: Int?, maxUses: Int?) async throws
        -> CreatedShare
    {
        guard let agent = try await store.agent(id: agentID), agent.ownerID == userID else { throw RelayError.notFound("agent not found") }
        if let expiresInSeconds, !(60...(365 * 86400)).contains(expiresInSeconds) {
            throw RelayError.invalid("expires_in must be between 60 seconds and 365 days")
        }
        if let maxUses, !(1...10_000).contains(maxUses) { throw RelayError.invalid("max_uses must be between 1 and 10000") }
        let label = try label.map { String($0.trimmingCharacters(in: .whitespacesAndNewlines).prefix(100)) }.flatMap {
            $0.isEmpty ? nil : $0
        }
        .map { try Self.withoutControlCharacters($0, field: "label") }
        let code = Self.makeCode()
        let share = try await store.createShare(
            agentID: agent.id, ownerID: userID, codeHash: Self.hash(code), label: label,
            expiresAt: expiresInSeconds.map { Date().addingTimeInterval(Double($0)) }, maxUses: maxUses)
        let view = ShareView(share, agentName: agent.name, guests: [])
        try await append(RelayStreams.user(userID), ShareCreatedEvent(share: view))
        return CreatedShare(share: view, code: code, inviteURL: "\(publicBaseURL)/invite/\(code)")
    }

    package func outgoingShares(userID: String) async throws -> [ShareView] {
        var views: [ShareView] = []
        for share in try await store.shares(ownerID: userID) {
            let guests = try await store.guests(shareID: share.id).map {
                GuestView(
                    userID: $0.grant.guestID, displayName: $0.displayName, acceptedAt: $0.grant.createdAt, left: $0.grant.leftAt != nil)
            }
            views.append(ShareView(share, agentName: try await store.agent(id: share.agentID)?.name ?? "", guests: guests))
        }
        return views
    }

    /// Revokes at once: the grant stops working on every replica (checked per request), open
    /// session streams get `share.revoked` and end, the host device and the guests are told.
    package func revokeShare(userID: String, shareID: String) async throws -> ShareView {
        guard let existing = try await store.share(id: shareID), existing.ownerID == userID else {
            throw RelayError.notFound("share not found")
        }
        guard let (share, guests, sessions) = try await store.revokeShare(id: shareID, ownerID: userID) else {
            return ShareView(existing, agentName: try await store.agent(id: existing.agentID)?.name ?? "", guests: nil)
        }
        let revoked = ShareRevokedEvent(shareID: share.id, agentID: share.agentID)
        for session in sessions {
            var event = revoked
            event.sessionID = session.id
            try await append(RelayStreams.session(session.id), event)
        }
        for guest in guests { try await append(RelayStreams.user(guest), revoked) }
        if let agent = try await store.agent(id: share.agentID) {
            var event = revoked
            event.sessionIDs = sessions.map(\.id)
            try await append(RelayStreams.device(of: agent), event)
        }
        logger.info("share revoked", metadata: ["event": "share.revoked", "share_id": .string(share.id), "sessions": "\(sessions.count)"])
        return ShareView(share, agentName: try await store.agent(id: share.agentID)?.name ?? "", guests: nil)
    }

    package func invite(code: String) async throws -> InvitePreview {
        guard let share = try await store.share(codeHash: Self.hash(code)), let agent = try await store.agent(id: share.agentID) else {
            throw RelayError.notFound("invite not found")
        }
        let owner = try await store.user(id: share.ownerID)
        return InvitePreview(
            agentName: agent.name, agentDescription: agent.description, ownerName: owner?.displayName ?? "",
            status: ShareStatus(share), expiresAt: share.expiresAt)
    }

    package func acceptInvite(userID: String, code: String) async throws -> AcceptedInvite {
        do {
            let (share, newly) = try await store.acceptShare(codeHash: Self.hash(code), guestID: userID)
            guard let agent = try await store.agent(id: share.agentID) else { throw RelayError.notFound("invite not found") }
            if newly {
                let guest = try await store.user(id: userID)
                let accepted = ShareAcceptedEvent(
                    shareID: share.id, agentID: agent.id, guest: UserRef(id: userID, displayName: guest?.displayName ?? ""))
                try await append(RelayStreams.user(share.ownerID), accepted)
                // The guest's own clients (an MCP client's tool list among them) learn they have a
                // new agent.
                try await append(RelayStreams.user(userID), accepted)
            }
            return AcceptedInvite(
                share: ShareView(share, agentName: agent.name, guests: nil), agent: try await view(agent, for: userID, shareID: share.id),
                newlyAccepted: newly)
        } catch let refusal as ShareAcceptance {
            switch refusal {
            case .unknown: throw RelayError.notFound("invite not found")
            case .revoked: throw RelayError.inviteRevoked
            case .expired: throw RelayError.inviteExpired
            case .exhausted: throw RelayError.inviteExhausted
            case .ownAgent: throw RelayError.ownInvite
            }
        }
    }

    package func incomingShares(userID: String) async throws -> [ShareView] {
        var views: [ShareView] = []
        for (share, _) in try await store.incomingShares(guestID: userID) {
            views.append(ShareView(share, agentName: try await store.agent(id: share.agentID)?.name ?? "", guests: nil))
        }
        return views
    }

    package func leaveShare(userID: String, shareID: String) async throws {
        guard let closed = try await store.leaveShare(shareID: shareID, guestID: userID) else {
            throw RelayError.notFound("share not found")
        }
        for session in closed { try await announceClosed(session, reason: .leftShare) }
    }
}
