import Foundation
import GatewayProtocol
import GatewayStore

// How store records become the wire types of GatewayProtocol: the store's records are storage,
// never API types.

extension ShareStatus {
    /// A share's state at `now`: revoked wins over expired, expired over used up.
    init(_ share: Share, now: Date = Date()) {
        if share.revokedAt != nil {
            self = .revoked
        } else if let expiresAt = share.expiresAt, expiresAt <= now {
            self = .expired
        } else if let maxUses = share.maxUses, share.useCount >= maxUses {
            self = .exhausted
        } else {
            self = .active
        }
    }
}

extension ShareView {
    init(_ share: Share, agentName: String, guests: [GuestView]?, now: Date = Date()) {
        self.init(
            id: share.id, agentID: share.agentID, agentName: agentName, label: share.label, expiresAt: share.expiresAt,
            maxUses: share.maxUses, useCount: share.useCount, createdAt: share.createdAt, revokedAt: share.revokedAt,
            status: ShareStatus(share, now: now), guests: guests)
    }
}

extension MessageView {
    init(_ message: Message) {
        self.init(
            id: message.id, sessionID: message.sessionID, role: MessageRole(message.role), authorID: message.authorID,
            replyTo: message.replyTo, text: message.text, createdAt: message.createdAt)
    }
}

extension MessageRole {
    init(_ role: Message.Role) {
        switch role {
        case .user: self = .user
        case .agent: self = .agent
        }
    }
}

extension MessageCreatedEvent {
    /// A message the device has yet to answer, shaped like the device stream's `message.created`.
    init(_ record: UnansweredMessage) {
        self.init(
            sessionID: record.message.sessionID, message: MessageView(record.message), agentID: record.agentID,
            agentKey: record.agentKey, user: UserRef(id: record.message.authorID ?? "", displayName: record.authorDisplayName))
    }
}
