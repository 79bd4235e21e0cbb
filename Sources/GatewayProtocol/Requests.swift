// The bodies clients send to `/v1`. Fields the schema requires are still optional here so the
// server can answer a missing one with its own problem detail instead of a decoding error.

/// `PUT`/`PATCH /v1/devices/{deviceID}`.
public struct DeviceBody: Codable, Sendable, Equatable {
    public var name: String?
    /// Free text (`macos`, `linux`…); `unknown` when absent on PUT.
    public var platform: String?

    public init(name: String?, platform: String? = nil) {
        self.name = name
        self.platform = platform
    }
}

/// `PUT /v1/devices/{deviceID}/agents/{agentKey}`.
public struct AgentBody: Codable, Sendable, Equatable {
    public var name: String?
    public var description: String?
    public var capabilities: [String]?

    public init(name: String?, description: String? = nil, capabilities: [String]? = nil) {
        self.name = name
        self.description = description
        self.capabilities = capabilities
    }
}

/// `POST /v1/agents/{agentID}/shares`.
public struct ShareBody: Codable, Sendable, Equatable {
    public var label: String?
    /// Seconds until the invite expires.
    public var expiresIn: Int?
    public var maxUses: Int?

    public init(label: String? = nil, expiresIn: Int? = nil, maxUses: Int? = nil) {
        self.label = label
        self.expiresIn = expiresIn
        self.maxUses = maxUses
    }

    enum CodingKeys: String, CodingKey {
        case label
        case expiresIn = "expires_in"
        case maxUses = "max_uses"
    }
}

/// `POST /v1/sessions`.
public struct SessionBody: Codable, Sendable, Equatable {
    public var agentID: String

    public init(agentID: String) { self.agentID = agentID }

    enum CodingKeys: String, CodingKey { case agentID = "agent_id" }
}

/// `POST /v1/sessions/{sessionID}/messages`.
public struct MessageBody: Codable, Sendable, Equatable {
    public var text: String?
    /// Makes retries safe, like the `Idempotency-Key` header (which wins).
    public var clientMessageID: String?

    public init(text: String?, clientMessageID: String? = nil) {
        self.text = text
        self.clientMessageID = clientMessageID
    }

    enum CodingKeys: String, CodingKey {
        case text
        case clientMessageID = "client_message_id"
    }
}

public enum ReplyKind: String, WireEnum {
    /// The host started working on the message (no text): a new attempt at its reply.
    case started
    /// A piece of the streamed reply.
    case delta
    /// The whole reply, stored as a message.
    case done
    /// The agent failed; the text says why.
    case error
}

/// `POST /v1/devices/{deviceID}/sessions/{sessionID}/replies`: the host answering a message.
public struct ReplyBody: Codable, Sendable, Equatable {
    public var kind: ReplyKind
    public var replyTo: String?
    public var text: String?
    /// Deltas' order within one reply.
    public var index: Int?

    public init(kind: ReplyKind, replyTo: String?, text: String?, index: Int? = nil) {
        self.kind = kind
        self.replyTo = replyTo
        self.text = text
        self.index = index
    }

    enum CodingKeys: String, CodingKey {
        case kind, text, index
        case replyTo = "reply_to"
    }
}

/// `PATCH /v1/sessions/{id}`: names a conversation; an empty or null title removes the name.
public struct SessionPatch: Codable, Sendable, Equatable {
    public var title: String?

    public init(title: String?) { self.title = title }
}
