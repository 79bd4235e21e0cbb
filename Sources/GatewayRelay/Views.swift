import Foundation
import GatewayStore

/// What the API returns. Field names are snake_case; dates are RFC 3339.
public struct DeviceView: Sendable, Encodable {
    public let id: String
    public let name: String
    public let platform: String
    public let online: Bool
    public let createdAt: Date
    public let updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, name, platform, online
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

public struct AgentView: Sendable, Encodable {
    public let id: String
    public let deviceID: String
    public let key: String
    public let name: String
    public let description: String
    public let capabilities: [String]
    public let ownerID: String
    public let ownerName: String
    /// `owner` or `guest`.
    public let access: String
    public let shareID: String?
    public let hostOnline: Bool

    enum CodingKeys: String, CodingKey {
        case id, key, name, description, capabilities, access
        case deviceID = "device_id"
        case ownerID = "owner_id"
        case ownerName = "owner_name"
        case shareID = "share_id"
        case hostOnline = "host_online"
    }
}

public struct GuestView: Sendable, Encodable {
    public let userID: String
    public let displayName: String
    public let acceptedAt: Date
    public let left: Bool

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
        case displayName = "display_name"
        case acceptedAt = "accepted_at"
        case left
    }
}

public struct ShareView: Sendable, Encodable {
    public let id: String
    public let agentID: String
    public let agentName: String
    public let label: String?
    public let expiresAt: Date?
    public let maxUses: Int?
    public let useCount: Int
    public let createdAt: Date
    public let revokedAt: Date?
    /// `active`, `revoked`, `expired` or `exhausted`.
    public let status: String
    public let guests: [GuestView]?

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

    init(_ share: Share, agentName: String, guests: [GuestView]?, now: Date = Date()) {
        id = share.id
        agentID = share.agentID
        self.agentName = agentName
        label = share.label
        expiresAt = share.expiresAt
        maxUses = share.maxUses
        useCount = share.useCount
        createdAt = share.createdAt
        revokedAt = share.revokedAt
        self.guests = guests
        if share.revokedAt != nil {
            status = "revoked"
        } else if let expiresAt = share.expiresAt, expiresAt <= now {
            status = "expired"
        } else if let maxUses = share.maxUses, share.useCount >= maxUses {
            status = "exhausted"
        } else {
            status = "active"
        }
    }
}

/// Returned once, when a share is created: the code is not stored and cannot be shown again.
public struct CreatedShare: Sendable, Encodable {
    public let share: ShareView
    public let code: String
    public let inviteURL: String

    enum CodingKeys: String, CodingKey {
        case share, code
        case inviteURL = "invite_url"
    }
}

public struct InvitePreview: Sendable, Encodable {
    public let agentName: String
    public let agentDescription: String
    public let ownerName: String
    public let status: String
    public let expiresAt: Date?

    enum CodingKeys: String, CodingKey {
        case status
        case agentName = "agent_name"
        case agentDescription = "agent_description"
        case ownerName = "owner_name"
        case expiresAt = "expires_at"
    }
}

public struct AcceptedInvite: Sendable, Encodable {
    public let share: ShareView
    public let agent: AgentView
    public let newlyAccepted: Bool

    enum CodingKeys: String, CodingKey {
        case share, agent
        case newlyAccepted = "newly_accepted"
    }
}

public struct SessionView: Sendable, Encodable {
    public let id: String
    public let agentID: String
    public let agentName: String
    public let userID: String
    public let shareID: String?
    public let createdAt: Date
    public let closedAt: Date?
    public let hostOnline: Bool
    /// Resume the session stream from here to see everything after this snapshot.
    public let streamPosition: String

    enum CodingKeys: String, CodingKey {
        case id
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

public struct PostedMessage: Sendable, Encodable {
    public let message: Message
    public let hostOnline: Bool
    /// True when the host is offline: the message waits in the device's stream until it returns.
    public let queued: Bool
    /// False when this was a retry of an earlier post with the same idempotency key.
    public let created: Bool

    enum CodingKeys: String, CodingKey {
        case message, queued, created
        case hostOnline = "host_online"
    }
}

public enum RelayJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func string<T: Encodable>(_ value: T) -> String {
        (try? String(decoding: encoder().encode(value), as: UTF8.self)) ?? "{}"
    }
}

/// A message the device has yet to answer, shaped like the `message.created` device event.
public struct UnansweredMessageView: Sendable, Encodable {
    public struct Author: Sendable, Encodable {
        public let id: String
        public let displayName: String

        enum CodingKeys: String, CodingKey {
            case id
            case displayName = "display_name"
        }
    }

    public let sessionID: String
    public let agentID: String
    public let agentKey: String
    public let message: Message
    public let user: Author

    init(_ record: UnansweredMessage) {
        sessionID = record.message.sessionID
        agentID = record.agentID
        agentKey = record.agentKey
        message = record.message
        user = Author(id: record.message.authorID ?? "", displayName: record.authorDisplayName)
    }

    enum CodingKeys: String, CodingKey {
        case message, user
        case sessionID = "session_id"
        case agentID = "agent_id"
        case agentKey = "agent_key"
    }
}
