import Foundation
import GatewayProtocol

/// One message for a local agent to answer.
public struct ReplyRequest: Sendable {
    public var sessionID: String
    public var messageID: String
    public var text: String
    public var userName: String
    public var agentKey: String
    /// The conversation before this message when the client sent it (OpenAI-compatible API),
    /// oldest first, possibly empty: then it is the whole history, and what the session said
    /// before does not count. Nil when the conversation lives in the session (web app,
    /// `gatewayctl chat`).
    public var context: [ContextTurn]?

    public init(sessionID: String, messageID: String, text: String, userName: String, agentKey: String, context: [ContextTurn]? = nil) {
        self.sessionID = sessionID
        self.messageID = messageID
        self.text = text
        self.userName = userName
        self.agentKey = agentKey
        self.context = context
    }
}

/// What answers messages for a hosted agent. The reply is a stream of text pieces, posted to the
/// gateway as reply deltas as they come; the stream's end is the end of the reply, and an error
/// thrown from it becomes a `reply.error`.
public protocol AgentBackend: Sendable {
    /// `echo`, `command` or `openai`: shown in status lines and published as a capability.
    var kind: String { get }
    func reply(to request: ReplyRequest) -> AsyncThrowingStream<String, any Error>
    /// The session ended: forget anything kept for it.
    func sessionEnded(_ sessionID: String) async
}

extension AgentBackend {
    public func sessionEnded(_ sessionID: String) async {}
}

/// Errors a backend reports as the reply's error text.
public struct AgentBackendError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
