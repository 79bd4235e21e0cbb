import Foundation
import ServerSentEvents

/// The `data:` of the stream events the client reads (docs/protocol.md). Fields a stream does
/// not carry are optional.
enum EventPayload {
    /// `message.created` (session and device streams; the device stream adds agent and user).
    struct MessageCreated: Decodable, Sendable {
        var sessionId: String
        var agentKey: String?
        var message: Message
        var user: UserRef?
    }

    /// `GET /v1/devices/{id}/unanswered`: messages shaped like the device stream's
    /// `message.created`.
    struct UnansweredMessages: Decodable, Sendable {
        var messages: [MessageCreated]
    }

    /// `session.created` (device stream).
    struct SessionCreated: Decodable {
        var sessionId: String
        var agentKey: String
        var user: UserRef
    }

    /// `session.closed`, and `reset` (which carries a reason too).
    struct Reason: Decodable {
        var sessionId: String?
        var reason: String
    }

    /// `share.revoked` (device stream: with `session_ids`).
    struct ShareRevoked: Decodable {
        var shareId: String
        var sessionIds: [String]?
    }

    /// `agent.unpublished`.
    struct AgentUnpublished: Decodable {
        var key: String?
    }

    /// `reply.done` carries the stored message.
    struct ReplyDone: Decodable {
        var message: Message
    }

    struct ReplyDelta: Decodable {
        var replyTo: String
        var index: Int
        var text: String
    }

    struct ReplyError: Decodable {
        var replyTo: String
        var error: String
    }

    /// `host.status`.
    struct HostStatus: Decodable {
        var online: Bool
    }
}

extension ServerSentEvent {
    /// The event's JSON data as `type`, or nil when it does not fit.
    func payload<T: Decodable>(_ type: T.Type) -> T? {
        try? APICoding.decoder.decode(type, from: Data(data.utf8))
    }
}
