import Foundation

// The `/v1` API's resources, as docs/openapi.yaml's `components.schemas` describe them (a test
// round-trips every schema through these types). Optional fields are left out when nil.

public enum AgentAccess: String, WireEnum {
    /// The caller hosts the agent.
    case owner
    /// The caller accepted a share of it.
    case guest
}

public enum ShareStatus: String, WireEnum {
    case active, revoked, expired, exhausted
}

public enum MessageRole: String, WireEnum {
    case user, agent
}

/// `GET /v1/me`.
public struct Me: Codable, Sendable, Equatable {
    public var id: String
    public var displayName: String
    public var createdAt: Date
    /// `demo`, `firebase` or `oidc`.
    public var authMode: String
    public var nonProduction: Bool
    /// The OAuth client the token was issued to.
    public var clientID: String

    public init(id: String, displayName: String, createdAt: Date, authMode: String, nonProduction: Bool, clientID: String) {
        self.id = id
        self.displayName = displayName
        self.createdAt = createdAt
        self.authMode = authMode
        self.nonProduction = nonProduction
        self.clientID = clientID
    }

    enum CodingKeys: String, CodingKey {
        case id
        case displayName = "display_name"
        case createdAt = "created_at"
        case authMode = "auth_mode"
        case nonProduction = "non_production"
        case clientID = "client_id"
    }
}

public struct DeviceView: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var platform: String
    public var online: Bool
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, name: String, platform: String, online: Bool, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.name = name
        self.platform = platform
        self.online = online
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, platform, online
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

public struct AgentView: Codable, Sendable, Equatable {
    public var id: String
    public var deviceID: String
    /// The hosting device's own name for the agent.
    public var key: String
    public var name: String
    public var description: String
    public var capabilities: [String]
    public var ownerID: String
    public var ownerName: String
    public var access: AgentAccess
    /// For guests: the share that gives them access.
    public var shareID: String?
    public var hostOnline: Bool

    public init(
        id: String, deviceID: String, key: String, name: String, description: String, capabilities: [String], ownerID: String,
        ownerName: String, access: AgentAccess, shareID: String?, hostOnline: Bool
    ) {
        self.id = id
        self.deviceID = deviceID
        self.key = key
        self.name = name
        self.description = description
        self.capabilities = capabilities
        self.ownerID = ownerID
        self.ownerName = ownerName
        self.access = access
        self.shareID = shareID
        self.hostOnline = hostOnline
    }

    enum CodingKeys: String, CodingKey {
        case id, key, name, description, capabilities, access
        case deviceID = "device_id"
        case ownerID = "owner_id"
        case ownerName = "owner_name"
        case shareID = "share_id"
        case hostOnline = "host_online"
    }
}

public struct GuestView: Codable, Sendable, Equatable {
    public var userID: String
    public var displayName: String
    public var acceptedAt: Date
    /// The guest left the share (or was removed by its revocation).
    public var left: Bool

    public init(userID: String, displayName: String, acceptedAt: Date, left: Bool) {
        self.userID = userID
        self.displayName = displayName
        self.acceptedAt = acceptedAt
        self.left = left
    }

    enum CodingKeys: String, CodingKey {
        case left
        case userID = "user_id"
        case displayName = "display_name"
        case acceptedAt = "accepted_at"
    }
}

public struct ShareView: Codable, Sendable, Equatable {
    public var id: String
    public var agentID: String
    public var agentName: String
    public var label: String?
    public var expiresAt: Date?
    public var maxUses: Int?
    public var useCount: Int
    public var createdAt: Date
    public var revokedAt: Date?
    public var status: ShareStatus
    /// The owner's view lists the guests; a guest's view does not.
    public var guests: [GuestView]?

    public init(
        id: String, agentID: String, agentName: String, label: String?, expiresAt: Date?, maxUses: Int?, useCount: Int,
        createdAt: Date, revokedAt: Date?, status: ShareStatus, guests: [GuestView]?
    ) {
        self.id = id
        self.agentID = agentID
        self.agentName = agentName
        self.label = label
        self.expiresAt = expiresAt
        self.maxUses = maxUses
        self.useCount = useCount
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.status = status
        self.guests = guests
    }

    enum CodingKeys: String, CodingKey {
        case id, label, status, guests
        case agentID = "agent_id"
        case agentName = "agent_name"
        case expiresAt = "expires_at"
        case maxUses = "max_uses"
        case useCount = "use_count"
        case createdAt = "created_at"
        case revokedAt = "revoked_at"
    }
}

/// Returned once, when a share is created: the code is not stored and cannot be shown again.
public struct CreatedShare: Codable, Sendable, Equatable {
    public var share: ShareView
    public var code: String
    public var inviteURL: String

    public init(share: ShareView, code: String, inviteURL: String) {
        self.share = share
        self.code = code
        self.inviteURL = inviteURL
    }

    enum CodingKeys: String, CodingKey {
        case share, code
        case inviteURL = "invite_url"
    }
}

/// `GET /v1/invites/{code}`: what an invite leads to, before accepting it.
public struct InvitePreview: Codable, Sendable, Equatable {
    public var agentName: String
    public var agentDescription: String
    public var ownerName: String
    public var status: ShareStatus
    public var expiresAt: Date?

    public init(agentName: String, agentDescription: String, ownerName: String, status: ShareStatus, expiresAt: Date?) {
        self.agentName = agentName
        self.agentDescription = agentDescription
        self.ownerName = ownerName
        self.status = status
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case status
        case agentName = "agent_name"
        case agentDescription = "agent_description"
        case ownerName = "owner_name"
        case expiresAt = "expires_at"
    }
}

public struct AcceptedInvite: Codable, Sendable, Equatable {
    public var share: ShareView
    public var agent: AgentView
    /// False when the caller had accepted this share before.
    public var newlyAccepted: Bool

    public init(share: ShareView, agent: AgentView, newlyAccepted: Bool) {
        self.share = share
        self.agent = agent
        self.newlyAccepted = newlyAccepted
    }

    enum CodingKeys: String, CodingKey {
        case share, agent
        case newlyAccepted = "newly_accepted"
    }
}

public struct SessionView: Codable, Sendable, Equatable {
    public var id: String
    public var agentID: String
    public var agentName: String
    public var userID: String
    public var shareID: String?
    public var createdAt: Date
    public var closedAt: Date?
    public var hostOnline: Bool
    /// Resume the session stream from here to see everything after this snapshot.
    public var streamPosition: String
    /// The name its user gave the conversation (`PATCH /v1/sessions/{id}`); absent when none.
    public var title: String?

    public init(
        id: String, agentID: String, agentName: String, userID: String, shareID: String?, createdAt: Date, closedAt: Date?,
        hostOnline: Bool, streamPosition: String, title: String? = nil
    ) {
        self.id = id
        self.agentID = agentID
        self.agentName = agentName
        self.userID = userID
        self.shareID = shareID
        self.createdAt = createdAt
        self.closedAt = closedAt
        self.hostOnline = hostOnline
        self.streamPosition = streamPosition
        self.title = title
    }

    enum CodingKeys: String, CodingKey {
        case id, title
        case agentID = "agent_id"
        case agentName = "agent_name"
        case userID = "user_id"
        case shareID = "share_id"
        case createdAt = "created_at"
        case closedAt = "closed_at"
        case hostOnline = "host_online"
        case streamPosition = "stream_position"
    }
}

/// A stored chat message (the schema `Message`).
public struct MessageView: Codable, Sendable, Equatable {
    public var id: String
    public var sessionID: String
    public var role: MessageRole
    /// The user who wrote a user message; absent for agent replies.
    public var authorID: String?
    /// For agent replies: the user message answered.
    public var replyTo: String?
    public var text: String
    public var createdAt: Date

    public init(
        id: String, sessionID: String, role: MessageRole, authorID: String?, replyTo: String?, text: String, createdAt: Date
    ) {
        self.id = id
        self.sessionID = sessionID
        self.role = role
        self.authorID = authorID
        self.replyTo = replyTo
        self.text = text
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, role, text
        case sessionID = "session_id"
        case authorID = "author_id"
        case replyTo = "reply_to"
        case createdAt = "created_at"
    }
}

public struct PostedMessage: Codable, Sendable, Equatable {
    public var message: MessageView
    public var hostOnline: Bool
    /// True when the host is offline: the message waits in the device's stream until it returns.
    public var queued: Bool
    /// False when this was a retry of an earlier post with the same idempotency key.
    public var created: Bool

    public init(message: MessageView, hostOnline: Bool, queued: Bool, created: Bool) {
        self.message = message
        self.hostOnline = hostOnline
        self.queued = queued
        self.created = created
    }

    enum CodingKeys: String, CodingKey {
        case message, queued, created
        case hostOnline = "host_online"
    }
}

/// `GET /v1/sessions/{id}/messages`: the stored messages, the replies in progress, and where
/// to read the session stream from so that nothing is missed, including the text so far of the
/// replies in progress.
public struct MessageList: Codable, Sendable, Equatable {
    public var messages: [MessageView]
    /// The replies the host is working on, or was when it went away, oldest first.
    public var replies: [ReplyProgressView]?
    /// Read the session stream after this position to see everything after this snapshot; when
    /// replies are in progress it lies before the first `reply.started` of their current
    /// attempts, so their text so far is replayed (messages already listed may then appear on
    /// the stream again; recognise them by `id`).
    public var streamPosition: String?

    public init(messages: [MessageView], replies: [ReplyProgressView]? = nil, streamPosition: String? = nil) {
        self.messages = messages
        self.replies = replies
        self.streamPosition = streamPosition
    }

    enum CodingKeys: String, CodingKey {
        case messages, replies
        case streamPosition = "stream_position"
    }
}

/// Where a reply that is not finished stands.
public enum ReplyState: String, WireEnum {
    /// The host picked the message up (`reply.started`) and has sent no text yet.
    case working
    /// Deltas are arriving.
    case streaming
    /// The host went away mid-reply (`reply.interrupted`); it answers again when it is back.
    case interrupted
}

/// A reply in progress, in `MessageList.replies`.
public struct ReplyProgressView: Codable, Sendable, Equatable {
    public var replyTo: String
    public var attempt: Int
    public var state: ReplyState
    /// Set when the user asked to stop it (`reply.stop_requested`).
    public var stopRequested: Bool?

    public init(replyTo: String, attempt: Int, state: ReplyState, stopRequested: Bool? = nil) {
        self.replyTo = replyTo
        self.attempt = attempt
        self.state = state
        self.stopRequested = stopRequested
    }

    enum CodingKeys: String, CodingKey {
        case attempt, state
        case replyTo = "reply_to"
        case stopRequested = "stop_requested"
    }
}

/// `GET /v1/devices/{id}/unanswered`: the user messages of the device's open sessions that have
/// no stored answer, each shaped like the device stream's `message.created`.
public struct UnansweredMessageList: Codable, Sendable, Equatable {
    public var messages: [MessageCreatedEvent]

    public init(messages: [MessageCreatedEvent]) { self.messages = messages }
}

/// `POST /v1/devices/{id}/sessions/{id}/replies` (202): the stored reply for `done`, nothing
/// for `delta` and `error`.
public struct ReplyAccepted: Codable, Sendable, Equatable {
    public var message: MessageView?

    public init(message: MessageView?) { self.message = message }
}

/// A user as other users see them.
public struct UserRef: Codable, Sendable, Equatable {
    public var id: String
    public var displayName: String

    public init(id: String, displayName: String) {
        self.id = id
        self.displayName = displayName
    }

    enum CodingKeys: String, CodingKey {
        case id
        case displayName = "display_name"
    }
}
