import Foundation

// The server-sent events of the user, session and device streams (docs/protocol.md): every
// event type is a case of `EventType`, every payload a type that names its event type.

/// The `event:` field of a stream's events.
public enum EventType: String, WireEnum {
    /// First event of a stream opened without a position: where it starts.
    case streamOpen = "stream.open"
    /// The requested position cannot be honoured; reload state from the API.
    case reset
    case sessionCreated = "session.created"
    case sessionClosed = "session.closed"
    case messageCreated = "message.created"
    /// The host started working on a message (a new attempt at its reply).
    case replyStarted = "reply.started"
    case replyDelta = "reply.delta"
    case replyDone = "reply.done"
    case replyError = "reply.error"
    case replyStopRequested = "reply.stop_requested"
    /// The host went away in the middle of a reply; it answers again when it is back.
    case replyInterrupted = "reply.interrupted"
    case hostStatus = "host.status"
    case deviceStatus = "device.status"
    case shareCreated = "share.created"
    case shareAccepted = "share.accepted"
    case shareRevoked = "share.revoked"
    case agentUnpublished = "agent.unpublished"
    /// The last event of a deleted device's stream.
    case deviceDeleted = "device.deleted"
    /// One of the user's credentials (a personal API key, a sign-in) was revoked.
    case credentialRevoked = "credential.revoked"
}

/// The `data:` of one event type.
public protocol EventPayload: Codable, Sendable, Equatable {
    static var eventType: EventType { get }
}

public struct StreamOpenEvent: EventPayload {
    public static let eventType = EventType.streamOpen
    public var position: String

    public init(position: String) { self.position = position }
}

public enum ResetReason: String, WireEnum {
    /// The history after the position was trimmed (length, bytes or age bounds).
    case trimmed
    /// The stream was recreated (e.g. Redis lost its data): positions of the old epoch are void.
    case epochChanged = "epoch_changed"
    /// The position is not one this stream ever had.
    case unknownPosition = "unknown_position"
}

public struct ResetEvent: EventPayload {
    public static let eventType = EventType.reset
    public var reason: ResetReason
    /// The stream's head: resume from here after reloading.
    public var position: String

    public init(reason: ResetReason, position: String) {
        self.reason = reason
        self.position = position
    }
}

/// Device stream: a user opened a session with one of the device's agents.
public struct SessionCreatedEvent: EventPayload {
    public static let eventType = EventType.sessionCreated
    public var sessionID: String
    public var agentID: String
    public var agentKey: String
    public var user: UserRef

    public init(sessionID: String, agentID: String, agentKey: String, user: UserRef) {
        self.sessionID = sessionID
        self.agentID = agentID
        self.agentKey = agentKey
        self.user = user
    }

    enum CodingKeys: String, CodingKey {
        case user
        case sessionID = "session_id"
        case agentID = "agent_id"
        case agentKey = "agent_key"
    }
}

public enum SessionCloseReason: String, WireEnum {
    case closedByUser = "closed_by_user"
    case deviceDeleted = "device_deleted"
    case agentUnpublished = "agent_unpublished"
    case leftShare = "left_share"
}

/// Session and device streams.
public struct SessionClosedEvent: EventPayload {
    public static let eventType = EventType.sessionClosed
    public var sessionID: String
    public var reason: SessionCloseReason

    public init(sessionID: String, reason: SessionCloseReason) {
        self.sessionID = sessionID
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case reason
        case sessionID = "session_id"
    }
}

/// Session stream: `session_id` and `message`. Device stream (and the unanswered list): also
/// `agent_id`, `agent_key` and `user`.
public struct MessageCreatedEvent: EventPayload {
    public static let eventType = EventType.messageCreated
    public var sessionID: String
    public var message: MessageView
    public var agentID: String?
    public var agentKey: String?
    public var user: UserRef?
    /// Device stream only, when the client supplied it (OpenAI-compatible API): the
    /// conversation's earlier turns, oldest first, for a host whose agent keeps no history of
    /// its own for this session.
    public var context: [ContextTurn]?

    public init(
        sessionID: String, message: MessageView, agentID: String? = nil, agentKey: String? = nil, user: UserRef? = nil,
        context: [ContextTurn]? = nil
    ) {
        self.sessionID = sessionID
        self.message = message
        self.agentID = agentID
        self.agentKey = agentKey
        self.user = user
        self.context = context
    }

    enum CodingKeys: String, CodingKey {
        case message, user, context
        case sessionID = "session_id"
        case agentID = "agent_id"
        case agentKey = "agent_key"
    }
}

/// An earlier turn of a conversation, carried with a message for the host's agent.
public struct ContextTurn: Codable, Sendable, Equatable {
    /// `user`, `assistant` or `system`.
    public var role: String
    public var text: String

    public init(role: String, text: String) {
        self.role = role
        self.text = text
    }
}

/// Session stream: the host started working on `reply_to` — attempt 1 when it picks the message
/// up, a higher one when it answers again (after an interruption, or when it restarted its
/// agent). Clients show "working…" and drop any text of an earlier attempt.
public struct ReplyStartedEvent: EventPayload {
    public static let eventType = EventType.replyStarted
    public var sessionID: String
    public var replyTo: String
    public var attempt: Int

    public init(sessionID: String, replyTo: String, attempt: Int) {
        self.sessionID = sessionID
        self.replyTo = replyTo
        self.attempt = attempt
    }

    enum CodingKeys: String, CodingKey {
        case attempt
        case sessionID = "session_id"
        case replyTo = "reply_to"
    }
}

/// Session stream: a piece of a streamed reply.
public struct ReplyDeltaEvent: EventPayload {
    public static let eventType = EventType.replyDelta
    public var sessionID: String
    /// The user message answered; empty when the device sent none.
    public var replyTo: String
    public var index: Int
    public var text: String
    /// Which attempt at the reply this piece belongs to (absent when `reply_to` is empty).
    public var attempt: Int?

    public init(sessionID: String, replyTo: String, index: Int, text: String, attempt: Int? = nil) {
        self.sessionID = sessionID
        self.replyTo = replyTo
        self.index = index
        self.text = text
        self.attempt = attempt
    }

    enum CodingKeys: String, CodingKey {
        case index, text, attempt
        case sessionID = "session_id"
        case replyTo = "reply_to"
    }
}

/// Session stream: the stored reply.
public struct ReplyDoneEvent: EventPayload {
    public static let eventType = EventType.replyDone
    public var sessionID: String
    public var message: MessageView
    /// The attempt this reply ends (absent for a reply the gateway saw no start of).
    public var attempt: Int?
    /// True when the user asked to stop the reply: the text is what was written until then.
    public var stopped: Bool?

    public init(sessionID: String, message: MessageView, attempt: Int? = nil, stopped: Bool? = nil) {
        self.sessionID = sessionID
        self.message = message
        self.attempt = attempt
        self.stopped = stopped
    }

    enum CodingKeys: String, CodingKey {
        case message, attempt, stopped
        case sessionID = "session_id"
    }
}

/// Session stream: the agent failed to answer.
public struct ReplyErrorEvent: EventPayload {
    public static let eventType = EventType.replyError
    public var sessionID: String
    public var replyTo: String
    public var error: String
    public var attempt: Int?

    public init(sessionID: String, replyTo: String, error: String, attempt: Int? = nil) {
        self.sessionID = sessionID
        self.replyTo = replyTo
        self.error = error
        self.attempt = attempt
    }

    enum CodingKeys: String, CodingKey {
        case error, attempt
        case sessionID = "session_id"
        case replyTo = "reply_to"
    }
}

/// Why a reply was interrupted.
public enum ReplyInterruption: String, WireEnum {
    /// The hosting device went offline (its process ended, or its connection dropped).
    case hostOffline = "host_offline"
}

/// Session stream: the host went away in the middle of `attempt`. Its text so far is not the
/// answer: the message is answered again (a new `reply.started`) when the host is back, unless
/// the host's connection only dropped for a moment, in which case more deltas of the same
/// attempt follow.
public struct ReplyInterruptedEvent: EventPayload {
    public static let eventType = EventType.replyInterrupted
    public var sessionID: String
    public var replyTo: String
    public var attempt: Int
    public var reason: ReplyInterruption

    public init(sessionID: String, replyTo: String, attempt: Int, reason: ReplyInterruption = .hostOffline) {
        self.sessionID = sessionID
        self.replyTo = replyTo
        self.attempt = attempt
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case attempt, reason
        case sessionID = "session_id"
        case replyTo = "reply_to"
    }
}

/// Device and session streams: the user asked the host to stop answering `reply_to`. The host
/// stops its agent and posts `done` with what it had written so far (possibly nothing).
public struct ReplyStopRequestedEvent: EventPayload {
    public static let eventType = EventType.replyStopRequested
    public var sessionID: String
    public var replyTo: String

    public init(sessionID: String, replyTo: String) {
        self.sessionID = sessionID
        self.replyTo = replyTo
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case replyTo = "reply_to"
    }
}

/// Session streams of open sessions and user streams of guests: the agent's host came or went.
public struct HostStatusEvent: EventPayload {
    public static let eventType = EventType.hostStatus
    public var agentID: String
    public var online: Bool

    public init(agentID: String, online: Bool) {
        self.agentID = agentID
        self.online = online
    }

    enum CodingKeys: String, CodingKey {
        case online
        case agentID = "agent_id"
    }
}

/// The owner's user stream.
public struct DeviceStatusEvent: EventPayload {
    public static let eventType = EventType.deviceStatus
    public var deviceID: String
    public var online: Bool

    public init(deviceID: String, online: Bool) {
        self.deviceID = deviceID
        self.online = online
    }

    enum CodingKeys: String, CodingKey {
        case online
        case deviceID = "device_id"
    }
}

/// The owner's user stream.
public struct ShareCreatedEvent: EventPayload {
    public static let eventType = EventType.shareCreated
    public var share: ShareView

    public init(share: ShareView) { self.share = share }
}

/// The owner's user stream, on a guest's first acceptance.
public struct ShareAcceptedEvent: EventPayload {
    public static let eventType = EventType.shareAccepted
    public var shareID: String
    public var agentID: String
    public var guest: UserRef

    public init(shareID: String, agentID: String, guest: UserRef) {
        self.shareID = shareID
        self.agentID = agentID
        self.guest = guest
    }

    enum CodingKeys: String, CodingKey {
        case guest
        case shareID = "share_id"
        case agentID = "agent_id"
    }
}

/// On a session stream with `session_id` (the stream then ends); on a guest's user stream
/// without; on the host's device stream with `session_ids`.
public struct ShareRevokedEvent: EventPayload {
    public static let eventType = EventType.shareRevoked
    public var shareID: String
    public var agentID: String
    public var sessionID: String?
    public var sessionIDs: [String]?

    public init(shareID: String, agentID: String, sessionID: String? = nil, sessionIDs: [String]? = nil) {
        self.shareID = shareID
        self.agentID = agentID
        self.sessionID = sessionID
        self.sessionIDs = sessionIDs
    }

    enum CodingKeys: String, CodingKey {
        case shareID = "share_id"
        case agentID = "agent_id"
        case sessionID = "session_id"
        case sessionIDs = "session_ids"
    }
}

/// On the device stream with `key` (the agent was unpublished); on the owner's user stream with
/// `device_id` (for each agent of a deleted device).
public struct AgentUnpublishedEvent: EventPayload {
    public static let eventType = EventType.agentUnpublished
    public var agentID: String
    public var key: String?
    public var deviceID: String?

    public init(agentID: String, key: String? = nil, deviceID: String? = nil) {
        self.agentID = agentID
        self.key = key
        self.deviceID = deviceID
    }

    enum CodingKeys: String, CodingKey {
        case key
        case agentID = "agent_id"
        case deviceID = "device_id"
    }
}

/// The deleted device's own stream, as its last event.
public struct DeviceDeletedEvent: EventPayload {
    public static let eventType = EventType.deviceDeleted
    public var deviceID: String

    public init(deviceID: String) { self.deviceID = deviceID }

    enum CodingKeys: String, CodingKey { case deviceID = "device_id" }
}

/// On the user stream: one of the caller's credentials was revoked (a personal API key, or the
/// sign-in a refresh token family stands for). Every replica ends the responses that credential
/// holds open (MCP streams and tool calls, completions) when it sees this.
public struct CredentialRevokedEvent: EventPayload {
    public static let eventType = EventType.credentialRevoked
    public var apiKeyID: String?
    public var familyID: String?

    public init(apiKeyID: String? = nil, familyID: String? = nil) {
        self.apiKeyID = apiKeyID
        self.familyID = familyID
    }

    enum CodingKeys: String, CodingKey {
        case apiKeyID = "api_key_id"
        case familyID = "family_id"
    }
}

/// One decoded stream event. Types this version does not know, and payloads that do not fit
/// their type, are `.unknown` so a newer server never breaks an older client.
public enum GatewayEvent: Sendable, Equatable {
    case streamOpen(StreamOpenEvent)
    case reset(ResetEvent)
    case sessionCreated(SessionCreatedEvent)
    case sessionClosed(SessionClosedEvent)
    case messageCreated(MessageCreatedEvent)
    case replyStarted(ReplyStartedEvent)
    case replyDelta(ReplyDeltaEvent)
    case replyDone(ReplyDoneEvent)
    case replyError(ReplyErrorEvent)
    case replyStopRequested(ReplyStopRequestedEvent)
    case replyInterrupted(ReplyInterruptedEvent)
    case hostStatus(HostStatusEvent)
    case deviceStatus(DeviceStatusEvent)
    case shareCreated(ShareCreatedEvent)
    case shareAccepted(ShareAcceptedEvent)
    case shareRevoked(ShareRevokedEvent)
    case agentUnpublished(AgentUnpublishedEvent)
    case deviceDeleted(DeviceDeletedEvent)
    case credentialRevoked(CredentialRevokedEvent)
    case unknown(type: String, data: String)

    public init(type: String, data: String) {
        func decode<P: EventPayload>(_ payload: P.Type, _ wrap: (P) -> GatewayEvent) -> GatewayEvent {
            guard let value = try? WireJSON.sharedDecoder.decode(P.self, from: Data(data.utf8)) else {
                return .unknown(type: type, data: data)
            }
            return wrap(value)
        }
        guard let known = EventType(rawValue: type) else {
            self = .unknown(type: type, data: data)
            return
        }
        switch known {
        case .streamOpen: self = decode(StreamOpenEvent.self, GatewayEvent.streamOpen)
        case .reset: self = decode(ResetEvent.self, GatewayEvent.reset)
        case .sessionCreated: self = decode(SessionCreatedEvent.self, GatewayEvent.sessionCreated)
        case .sessionClosed: self = decode(SessionClosedEvent.self, GatewayEvent.sessionClosed)
        case .messageCreated: self = decode(MessageCreatedEvent.self, GatewayEvent.messageCreated)
        case .replyStarted: self = decode(ReplyStartedEvent.self, GatewayEvent.replyStarted)
        case .replyDelta: self = decode(ReplyDeltaEvent.self, GatewayEvent.replyDelta)
        case .replyDone: self = decode(ReplyDoneEvent.self, GatewayEvent.replyDone)
        case .replyError: self = decode(ReplyErrorEvent.self, GatewayEvent.replyError)
        case .replyStopRequested: self = decode(ReplyStopRequestedEvent.self, GatewayEvent.replyStopRequested)
        case .replyInterrupted: self = decode(ReplyInterruptedEvent.self, GatewayEvent.replyInterrupted)
        case .hostStatus: self = decode(HostStatusEvent.self, GatewayEvent.hostStatus)
        case .deviceStatus: self = decode(DeviceStatusEvent.self, GatewayEvent.deviceStatus)
        case .shareCreated: self = decode(ShareCreatedEvent.self, GatewayEvent.shareCreated)
        case .shareAccepted: self = decode(ShareAcceptedEvent.self, GatewayEvent.shareAccepted)
        case .shareRevoked: self = decode(ShareRevokedEvent.self, GatewayEvent.shareRevoked)
        case .agentUnpublished: self = decode(AgentUnpublishedEvent.self, GatewayEvent.agentUnpublished)
        case .deviceDeleted: self = decode(DeviceDeletedEvent.self, GatewayEvent.deviceDeleted)
        case .credentialRevoked: self = decode(CredentialRevokedEvent.self, GatewayEvent.credentialRevoked)
        }
    }
}
