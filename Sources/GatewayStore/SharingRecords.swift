import Foundation

/// A desktop (or `gatewayctl host`) that hosts agents. Its id is chosen by the client and
/// stable across restarts, so registering is idempotent.
public struct Device: Sendable, Equatable {
    public let id: String
    /// One per registration of `id`, never reused: it names the device's event stream and
    /// presence, so a later registration of the same id cannot read what an earlier one was sent.
    public let instanceID: String
    public let ownerID: String
    public var name: String
    public var platform: String
    public let createdAt: Date
    public var updatedAt: Date

}

public struct Agent: Sendable, Equatable {
    public let id: String
    public let deviceID: String
    /// The hosting device's `Device.instanceID` (its stream and presence).
    public let deviceInstanceID: String
    /// The device's own name for the agent (unique per device); publishing it again updates it.
    public let key: String
    public let ownerID: String
    public var name: String
    public var description: String
    public var capabilities: [String]
    public let createdAt: Date
    public var updatedAt: Date

}

/// An invite to use an agent. The code itself is shown once, at creation; only its hash is kept.
public struct Share: Sendable, Equatable {
    public let id: String
    public let agentID: String
    public let ownerID: String
    public let label: String?
    public let expiresAt: Date?
    public let maxUses: Int?
    public var useCount: Int
    public let createdAt: Date
    public var revokedAt: Date?

}

/// A guest's accepted invite.
public struct Grant: Sendable, Equatable {
    public let shareID: String
    public let guestID: String
    public let agentID: String
    public let createdAt: Date
    public var leftAt: Date?

}

/// A chat between one user and one agent.
public struct ChatSession: Sendable, Equatable {
    public let id: String
    public let agentID: String
    public let userID: String
    /// The share the user chats under; nil when the owner chats with their own agent.
    public let shareID: String?
    public let createdAt: Date
    public var closedAt: Date?
    /// The name its user gave it, if any.
    public var title: String?
}

public struct Message: Sendable, Equatable {
    public enum Role: String, Sendable { case user, agent }
    public let id: String
    public let sessionID: String
    public let role: Role
    public let authorID: String?
    /// For agent replies: the user message answered.
    public let replyTo: String?
    public let text: String
    public let createdAt: Date

}

/// What a hosting device's reply in a session needs to know, read in one statement: the device
/// registration it comes from, and whether the session and its share are still usable.
public struct ReplyTarget: Sendable, Equatable {
    public let deviceInstanceID: String
    public let sessionID: String
    public let closed: Bool
    /// The session came through a share that has been revoked since.
    public let shareRevoked: Bool

    public init(deviceInstanceID: String, sessionID: String, closed: Bool, shareRevoked: Bool) {
        self.deviceInstanceID = deviceInstanceID
        self.sessionID = sessionID
        self.closed = closed
        self.shareRevoked = shareRevoked
    }
}

/// A user message that the hosting device has not answered yet, with what the device needs to
/// answer it (the same facts its `message.created` event carries).
public struct UnansweredMessage: Sendable, Equatable {
    public let message: Message
    public let agentID: String
    public let agentKey: String
    public let authorDisplayName: String
}

/// How a user may use an agent.
public enum AgentAccess: Sendable, Equatable {
    case owner
    case guest(shareID: String)
}

public enum ShareAcceptance: Error, Sendable, Equatable {
    case unknown, revoked, expired, exhausted, ownAgent
}

public struct DeviceIDTaken: Error, Sendable {}
