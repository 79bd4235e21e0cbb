import Foundation
import GatewayEphemeral
import GatewayEvents
import GatewayProtocol
import GatewayStore
import Logging

// Messages: a user posts, the hosting device replies; both reach the session and device streams.
extension RelayService {
    /// Stores the message, then puts it on the session stream and in the host's inbox. If the
    /// host is offline it waits in the device stream's history (bounded by its length and age)
    /// and is delivered when the device resumes from its last position.
    package func postMessage(
        userID: String, sessionID: String, text: String?, idempotencyKey: String?, context: [ContextTurn]? = nil
    ) async throws -> PostedMessage {
        let (session, agent) = try await usableSession(userID: userID, id: sessionID)
        guard session.closedAt == nil else { throw RelayError.sessionClosed }
        guard let text, !text.isEmpty else { throw RelayError.invalid("text must not be empty") }
        guard text.utf8.count <= limits.maximumMessageBytes else { throw RelayError.tooLarge(limit: limits.maximumMessageBytes) }
        if let key = idempotencyKey, !(1...200).contains(key.count) { throw RelayError.invalid("idempotency keys are 1-200 characters") }
        var context = context
        if let turns = context {
            guard turns.count <= 200 else { throw RelayError.invalid("at most 200 earlier turns") }
            let bytes = turns.reduce(0) { $0 + $1.text.utf8.count + $1.role.utf8.count }
            guard bytes <= limits.maximumMessageBytes * 4 else { throw RelayError.tooLarge(limit: limits.maximumMessageBytes * 4) }
            context = try Self.checkedContext(turns, fromOwner: agent.ownerID == userID)
        }
        try await takeBudget(.messages, key: "messages:user:\(userID)", perMinute: limits.messagesPerMinute)
        let (message, created) = try await store.addMessage(
            sessionID: session.id, role: .user, authorID: userID, replyTo: nil, text: text, idempotencyKey: idempotencyKey)
        let online = try await bus.isOnline(agent.deviceInstanceID)
        let view = MessageView(message)
        if created {
            let user = try await store.user(id: userID)
            try await append(RelayStreams.session(session.id), MessageCreatedEvent(sessionID: session.id, message: view))
            try await append(
                RelayStreams.device(of: agent),
                MessageCreatedEvent(
                    sessionID: session.id, message: view, agentID: agent.id, agentKey: agent.key,
                    user: UserRef(id: userID, displayName: user?.displayName ?? ""), context: context))
        }
        return PostedMessage(message: view, hostOnline: online, queued: !online, created: created)
    }

    /// The roles a context turn may have.
    package static let contextRoles: Set<String> = ["system", "user", "assistant"]

    /// Earlier turns as the host's agent gets them: one of the three roles, without control
    /// characters (other than newline and tab). A guest's `system` turn is demoted to `user`:
    /// instructions to the agent are its owner's to give, so the agent must be able to tell what
    /// a guest wrote from what its owner set up.
    static func checkedContext(_ turns: [ContextTurn], fromOwner: Bool) throws(RelayError) -> [ContextTurn] {
        var checked: [ContextTurn] = []
        for turn in turns {
            guard contextRoles.contains(turn.role) else {
                throw .invalid("a context turn's role must be system, user or assistant, not \(turn.role.prefix(40))")
            }
            let role = turn.role == "system" && !fromOwner ? "user" : turn.role
            checked.append(ContextTurn(role: role, text: PersonText.withoutControlCharacters(turn.text)))
        }
        return checked
    }

    /// Asks the host to stop answering one of the caller's messages: `reply.stop_requested` goes
    /// to the device stream (the host stops its agent and posts what it had as the reply) and to
    /// the session stream (other tabs show it). A message already answered is a conflict.
    package func stopReply(userID: String, sessionID: String, messageID: String) async throws {
        let (session, agent) = try await usableSession(userID: userID, id: sessionID)
        guard session.closedAt == nil else { throw RelayError.sessionClosed }
        guard let answered = try await store.userMessageIsAnswered(sessionID: session.id, messageID: messageID) else {
            throw RelayError.notFound("message not found")
        }
        guard !answered else { throw RelayError.conflict("this message has been answered already") }
        try await takeBudget(.messages, key: "messages:user:\(userID)", perMinute: limits.messagesPerMinute)
        try await noteStopRequested(sessionID: session.id, replyTo: messageID)
        let event = ReplyStopRequestedEvent(sessionID: session.id, replyTo: messageID)
        try await append(RelayStreams.device(of: agent), event)
        try await append(RelayStreams.session(session.id), event)
    }

    /// What the caller's own device still has to answer (see `SharingStore.unansweredMessages`).
    package func unansweredMessages(userID: String, deviceID: String) async throws -> [MessageCreatedEvent] {
        let device = try await ownDevice(userID: userID, id: deviceID)
        return try await store.unansweredMessages(deviceID: device.id).map(MessageCreatedEvent.init)
    }
}
