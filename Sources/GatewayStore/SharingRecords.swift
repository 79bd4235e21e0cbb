import Foundation

/// A desktop (or `gatewayctl host`) that hosts agents. Its id is chosen by the client and
/// stable across restarts, so registering is idempotent.
package struct Device: Sendable, Equatable {
    package let id: String
    /// One per registration of `id`, never reused: it names the device's event stream and
    /// presence, so a later registration of the same id cannot read what an earlier one was sent.
    package let instanceID: String
    package let ownerID: String
    package var name: String
    package var platform: String
    package let createdAt: Date
    package var updatedAt: Date

}

package struct Agent: Sendable, Equatable {
    package let id: String
    package let deviceID: String
    /// The hosting device's `Device.instanceID` (its stream and presence).
    package let deviceInstanceID: String
    /// The device's own name for the agent (unique per device); publishing it again updates it.
    package let key: String
    package let ownerID: String
    package var name: String
    package var description: String
    package var capabilities: [String]
    package let createdAt: Date
    package var updatedAt: Date

}

/// An invite to use an agent. The code itself is shown once, at creation; only its hash is kept.
package struct Share: Sendable, Equatable {
    package let id: String
    package let agentID: String
    package let ownerID: String
    package let label: String?
    package let expiresAt: Date?
    package let maxUses: Int?
    package var useCount: Int
    package let createdAt: Date
    package var revokedAt: Date?

}

/// A guest's accepted invite.
package struct Grant: Sendable, Equatable {
    package let shareID: String
    package let guestID: String
    package let agentID: String
    package let createdAt: Date
    package var leftAt: Date?

}

/// A chat between one user and one agent.
package struct ChatSession: Sendable, Equatable {
    package let id: String
    package let agentID: String
    package let userID: String
    /// The share the user chats under; nil when the owner chats with their own agent.
    package let shareID: String?
    package let createdAt: Date
    package var closedAt: Date?
    /// The name its user gave it, if any.
    package var title: String?
}

package struct Message: Sendable, Equatable {
    package enum Role: String, Sendable { case user, agent }
    package let id: String
    package let sessionID: String
    package let role: Role
    package let authorID: String?
    /// For agent replies: the user message answered.
    package let replyTo: String?
    package let text: String
    package let createdAt: Date

}

/// What a hosting device's reply in a session needs to know, read in one statement: the device
/// registration it comes from, and whether the session and its share are still usable.
package struct ReplyTarget: Sendable, Equatable {
    package let deviceInstanceID: String
    package let sessionID: String
    package let closed: Bool
    /// The session came through a share that has been revoked since.
    package let shareRevoked: Bool

    package init(deviceInstanceID: String, sessionID: String, closed: Bool, shareRevoked: Bool) {
        self.deviceInstanceID = deviceInstanceID
        self.sessionID = sessionID
        self.closed = closed
        self.shareRevoked = shareRevoked
    }
}

/// A user message that the hosting device has not answered yet, with what the device needs to
/// answer it (the same facts its `message.created` event carries).
package struct UnansweredMessage: Sendable, Equatable {
    package let message: Message
    package let agentID: String
    package let agentKey: String
    package let authorDisplayName: String
}

/// How a user may use an agent.
package enum AgentAccess: Sendable, Equatable {
    case owner
    case guest(shareID: String)
}

package enum ShareAcceptance: Error, Sendable, Equatable {
    case unknown, revoked, expired, exhausted, ownAgent
}

package struct DeviceIDTaken: Error, Sendable {}
