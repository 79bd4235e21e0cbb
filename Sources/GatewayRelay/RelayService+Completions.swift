import Foundation
import GatewayEvents
import GatewayProtocol
import Logging

/// What the caller of a one-shot completion sees while the host answers.
public enum CompletionUpdate: Sendable, Equatable {
    /// A piece of the reply as the host streams it.
    case delta(String)
    /// The whole reply, as stored.
    case done(String)
}

/// Why a completion ended without a reply.
public enum CompletionFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The host did not start answering within the wait; the message stays queued.
    case hostOffline(waited: Duration)
    /// The host reported that its agent failed.
    case agentFailed(String)
    /// The session ended (share revoked, agent removed) before the reply was complete.
    case ended(String)
    case timedOut(Duration)

    public var description: String {
        switch self {
        case .hostOffline(let waited):
            "the agent's host is offline (waited \(waited.components.seconds) s); the message is queued and answered when it is back"
        case .agentFailed(let error): "the agent could not answer: \(error)"
        case .ended(let reason): "the conversation ended: \(reason)"
        case .timedOut(let limit): "no complete reply within \(limit.components.seconds) s"
        }
    }
}

/// How long a one-shot completion waits.
public struct CompletionLimits: Sendable {
    /// For the host to start answering when it is offline at the time of the request.
    public var hostWait: Duration = .seconds(30)
    /// For the whole reply.
    public var replyLimit: Duration = .seconds(600)

    public init() {}
}

// One-shot completions for clients that send a whole conversation per request (the
// OpenAI-compatible API): each request is a fresh session, closed when the reply is complete.
extension RelayService {
    /// Opens a session with `agentID`, posts `text` with the earlier turns as context, and yields
    /// the reply as the host streams it; the session is closed at the end, or when the consumer
    /// stops listening (which also tells the host to stop).
    public func complete(
        userID: String, agentID: String, text: String, context: [ContextTurn], limits: CompletionLimits = CompletionLimits()
    ) async throws -> AsyncThrowingStream<CompletionUpdate, any Error> {
        let session = try await openSession(userID: userID, agentID: agentID)
        let stream = RelayStreams.session(session.id)
        // Subscribed before posting, so no reply event can be missed.
        let subscription = try await bus.subscribe(stream)
        let posted: PostedMessage
        do {
            posted = try await postMessage(userID: userID, sessionID: session.id, text: text, idempotencyKey: nil, context: context)
        } catch {
            subscription.cancel()
            try? await closeSession(userID: userID, id: session.id)
            throw error
        }
        let start = StreamPosition(session.streamPosition) ?? StreamPosition(epoch: "none", offset: 0)
        let (updates, continuation) = AsyncThrowingStream.makeStream(of: CompletionUpdate.self)
        let relay = self
        let work = Task {
            // Ends the subscription (and so the wait below) when a limit passes.
            let waitingForHost = !posted.hostOnline
            let watchdog = Task {
                try await Task.sleep(for: waitingForHost ? limits.hostWait : limits.replyLimit)
                subscription.cancel()
            }
            var answered = false
            do {
                let completed = try await relay.follow(
                    subscription, stream: stream, from: start, replyTo: posted.message.id,
                    onFirst: {
                        answered = true
                        guard waitingForHost else { return }
                        // The host is answering: from now on the whole-reply limit applies.
                        watchdog.cancel()
                    }, continuation: continuation)
                if !completed {
                    throw waitingForHost && !answered
                        ? CompletionFailure.hostOffline(waited: limits.hostWait) : CompletionFailure.timedOut(limits.replyLimit)
                }
            } catch let failure as CompletionFailure {
                continuation.finish(throwing: failure)
            } catch {
                continuation.finish(throwing: error)
            }
            watchdog.cancel()
            subscription.cancel()
            try? await relay.closeSession(userID: userID, id: session.id)
        }
        continuation.onTermination = { _ in
            subscription.cancel()
            work.cancel()
        }
        return updates
    }

    /// Reads the session stream until the reply to `replyTo` is complete and finishes
    /// `continuation` with it (true), or throws why it cannot come. False when the subscription
    /// ended first (a limit passed, or the consumer left).
    private func follow(
        _ subscription: EventSubscription, stream: StreamName, from start: StreamPosition, replyTo: String,
        onFirst: () -> Void, continuation: AsyncThrowingStream<CompletionUpdate, any Error>.Continuation
    ) async throws -> Bool {
        var position = start
        var first = true
        func handle(_ event: StreamEvent) throws -> Bool {
            position = event.position
            switch GatewayEvent(type: event.type, data: event.data) {
            case .replyDelta(let delta) where delta.replyTo == replyTo:
                if first {
                    first = false
                    onFirst()
                }
                continuation.yield(.delta(delta.text))
            case .replyDone(let done) where done.message.replyTo == replyTo:
                if first { onFirst() }
                continuation.yield(.done(done.message.text))
                continuation.finish()
                return true
            case .replyError(let failed) where failed.replyTo == replyTo:
                throw CompletionFailure.agentFailed(failed.error)
            case .sessionClosed(let closed):
                throw CompletionFailure.ended(closed.reason.rawValue)
            case .shareRevoked:
                throw CompletionFailure.ended("the share was revoked")
            default:
                break
            }
            return false
        }
        for await signal in subscription {
            switch signal {
            case .event(let event):
                if event.position.epoch == position.epoch && event.position.offset <= position.offset { continue }
                if event.position.epoch == position.epoch && event.position.offset == position.offset + 1 {
                    if try handle(event) { return true }
                    continue
                }
                fallthrough
            case .gap:
                // Something was missed: read the stream after the last position handled.
                if case .events(let events, _) = try await bus.read(stream, after: position, limit: 1000) {
                    for event in events where try handle(event) { return true }
                }
            }
        }
        return false
    }
}
