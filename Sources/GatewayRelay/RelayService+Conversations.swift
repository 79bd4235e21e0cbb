import Foundation
import GatewayEvents
import GatewayProtocol

// Conversations for clients that send one message at a time and keep a conversation id (MCP
// tool calls): a session that stays open between calls, so the host keeps its history, exactly
// as in the web app.
extension RelayService {
    /// Posts `text` to the caller's session `sessionID` with `agentID` (a new session when nil) and
    /// yields the reply as the host streams it. A consumer that leaves early asks the host to stop.
    /// `credential`: what the caller authenticated with; its revocation ends the wait.
    package func converse(
        userID: String, agentID: String, sessionID: String?, text: String, limits: CompletionLimits = CompletionLimits(),
        credential: CallerCredential? = nil
    ) async throws -> (session: SessionView, updates: AsyncThrowingStream<CompletionUpdate, any Error>) {
        let view: SessionView
        if let sessionID {
            view = try await session(userID: userID, id: sessionID)
            guard view.agentID == agentID else { throw RelayError.invalid("that conversation is with another agent") }
            guard view.closedAt == nil else { throw RelayError.sessionClosed }
        } else {
            view = try await openSession(userID: userID, agentID: agentID)
        }
        let stream = RelayStreams.session(view.id)
        // Subscribed before posting, so no reply event can be missed.
        let subscription = try await bus.subscribe(stream)
        let posted: PostedMessage
        do {
            posted = try await postMessage(userID: userID, sessionID: view.id, text: text, idempotencyKey: nil)
        } catch {
            subscription.cancel()
            throw error
        }
        let (updates, continuation) = AsyncThrowingStream.makeStream(of: CompletionUpdate.self)
        let relay = self
        let start = StreamPosition(view.streamPosition) ?? StreamPosition(epoch: "none", offset: 0)
        let work = Task {
            let revocation = relay.watchRevocation(of: credential, userID: userID, continuation: continuation, ending: subscription)
            defer { revocation?.cancel() }
            _ = await relay.relayReply(subscription, stream: stream, from: start, to: posted, limits: limits, continuation: continuation)
            subscription.cancel()
        }
        continuation.onTermination = { termination in
            guard case .cancelled = termination else { return }
            subscription.cancel()
            work.cancel()
            // The caller left (the client closed its request): the host stops answering.
            Task { try? await relay.stopReply(userID: userID, sessionID: view.id, messageID: posted.message.id) }
        }
        return (view, updates)
    }
}
