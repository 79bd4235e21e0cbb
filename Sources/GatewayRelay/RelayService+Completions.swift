import Foundation
import GatewayEvents
import GatewayProtocol
import Logging
import NIOConcurrencyHelpers

/// What the caller of a one-shot completion sees while the host answers.
package enum CompletionUpdate: Sendable, Equatable {
    /// A piece of the reply as the host streams it.
    case delta(String)
    /// The whole reply, as stored.
    case done(String)
}

/// Why a completion ended without a reply.
package enum CompletionFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The host did not start answering within the wait. A completion closes its session then
    /// (its message is never answered); an MCP conversation stays open and is answered later.
    case hostOffline(waited: Duration)
    /// The host reported that its agent failed.
    case agentFailed(String)
    /// The session ended (share revoked, agent removed) before the reply was complete.
    case ended(String)
    case timedOut(Duration)
    /// The API key or sign-in the request was made with was revoked while it waited.
    case credentialRevoked
    /// The host went away (or started over) in the middle of the reply: what was streamed is
    /// not the answer.
    case interrupted

    package var description: String {
        switch self {
        case .hostOffline(let waited):
            "the agent's host is offline (waited \(waited.components.seconds) s)"
        case .agentFailed(let error): "the agent could not answer: \(error)"
        case .ended(let reason): "the conversation ended: \(reason)"
        case .timedOut(let limit): "no complete reply within \(limit.components.seconds) s"
        case .credentialRevoked: "the API key or sign-in this request was made with was revoked"
        case .interrupted: "the agent's host went offline in the middle of the reply"
        }
    }
}

/// How long a one-shot completion waits.
package struct CompletionLimits: Sendable {
    /// For the host to start answering when it is offline at the time of the request.
    package var hostWait: Duration = .seconds(30)
    /// For the whole reply.
    package var replyLimit: Duration = .seconds(600)

    package init() {}
}

// One-shot completions for clients that send a whole conversation per request (the
// OpenAI-compatible API): a session per request, taken from the idle ones a finished completion
// left (`CompletionSessionPool`) or opened anew, and closed when the reply fails.
extension RelayService {
    /// Posts `text` with the earlier turns as context in an idle or new session with `agentID`,
    /// and yields the reply as the host streams it; the session goes back to the idle ones when
    /// the reply is complete, and is closed when it fails or the consumer stops listening (which
    /// also tells the host to stop).
    /// `credential`: what the caller authenticated with; its revocation ends the completion.
    package func complete(
        userID: String, agentID: String, text: String, context: [ContextTurn], limits: CompletionLimits = CompletionLimits(),
        credential: CallerCredential? = nil
    ) async throws -> AsyncThrowingStream<CompletionUpdate, any Error> {
        await closeIdleCompletionSessions()
        // A session a finished completion left, already subscribed; else a new one. Each message
        // carries its whole conversation as `context` (possibly empty), so the host never mixes
        // in what an earlier completion said in the same session.
        func newSession() async throws -> PooledCompletionSession {
            let view = try await openSession(userID: userID, agentID: agentID)
            // Subscribed before posting, so no reply event can be missed.
            return PooledCompletionSession(
                userID: userID, agentID: agentID, sessionID: view.id, subscription: try await bus.subscribe(RelayStreams.session(view.id)),
                position: StreamPosition(view.streamPosition) ?? StreamPosition(epoch: "none", offset: 0))
        }
        func post(in session: PooledCompletionSession) async throws -> PostedMessage {
            do {
                return try await postMessage(
                    userID: userID, sessionID: session.sessionID, text: text, idempotencyKey: nil, context: context)
            } catch {
                session.subscription.cancel()
                try? await closeSession(userID: userID, id: session.sessionID)
                throw error
            }
        }
        var session: PooledCompletionSession
        let posted: PostedMessage
        if let idle = completionSessions.take(userID: userID, agentID: agentID) {
            session = idle
            do {
                posted = try await post(in: idle)
            } catch RelayError.sessionClosed, RelayError.shareRevoked, RelayError.notFound, RelayError.forbidden {
                // The idle session ended while it waited (its share was revoked and given again,
                // its agent moved): a fresh session decides whether the caller may still ask.
                session = try await newSession()
                posted = try await post(in: session)
            }
        } else {
            session = try await newSession()
            posted = try await post(in: session)
        }
        let (updates, continuation) = AsyncThrowingStream.makeStream(of: CompletionUpdate.self)
        let relay = self
        let subscription = session.subscription
        let work = Task {
            let revocation = relay.watchRevocation(
                of: credential, userID: userID, continuation: continuation, ending: subscription)
            defer { revocation?.cancel() }
            let (position, completed) = await relay.relayReply(
                subscription, stream: RelayStreams.session(session.sessionID), from: session.position, to: posted, limits: limits,
                continuation: continuation)
            if completed && !Task.isCancelled {
                var idle = session
                idle.position = position
                if let surplus = relay.completionSessions.put(idle) {
                    // Over the bound: the oldest idle one is no longer needed.
                    surplus.subscription.cancel()
                    try? await relay.closeSession(userID: surplus.userID, id: surplus.sessionID)
                }
            } else {
                subscription.cancel()
                try? await relay.closeSession(userID: userID, id: session.sessionID)
            }
        }
        continuation.onTermination = { termination in
            // A consumer that leaves before the end: stop following (the session is closed, which
            // tells the host to stop).
            if case .cancelled = termination {
                subscription.cancel()
                work.cancel()
            }
        }
        return updates
    }

    /// Closes the completion sessions idle for longer than the pool keeps them.
    package func closeIdleCompletionSessions() async {
        for expired in completionSessions.sweep() {
            expired.subscription.cancel()
            try? await closeSession(userID: expired.userID, id: expired.sessionID)
        }
    }

    /// Closes idle completion sessions every minute until cancelled, so they do not wait for the
    /// next completion to be swept.
    package func runCompletionSessionSweeper() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(60))
            await closeIdleCompletionSessions()
        }
    }

    /// Follows the reply to `posted` on `subscription` into `continuation` until it is complete,
    /// a limit passes (the host's wait while it is offline, then the whole reply's) or the
    /// consumer leaves; a failure finishes `continuation` with it. Returns how far the stream was
    /// read and whether the reply completed.
    func relayReply(
        _ subscription: EventSubscription, stream: StreamName, from start: StreamPosition, to posted: PostedMessage,
        limits: CompletionLimits, continuation: AsyncThrowingStream<CompletionUpdate, any Error>.Continuation
    ) async -> (position: StreamPosition, completed: Bool) {
        // Ends the subscription (and so the wait below) when a limit passes.
        let waitingForHost = !posted.hostOnline
        func watchdog(_ limit: Duration) -> Task<Void, any Error> {
            Task {
                try await Task.sleep(for: limit)
                subscription.cancel()
            }
        }
        var limit = watchdog(waitingForHost ? limits.hostWait : limits.replyLimit)
        defer { limit.cancel() }
        var answered = false
        var position = start
        do {
            let completed = try await follow(
                subscription, stream: stream, from: &position, replyTo: posted.message.id,
                onFirst: {
                    answered = true
                    // The host is answering: from now on the whole-reply limit applies (not none,
                    // or a reply that never ends would hold its call and stream lease for good).
                    if waitingForHost {
                        limit.cancel()
                        limit = watchdog(limits.replyLimit)
                    }
                }, continuation: continuation)
            if !completed {
                throw waitingForHost && !answered
                    ? CompletionFailure.hostOffline(waited: limits.hostWait) : CompletionFailure.timedOut(limits.replyLimit)
            }
            return (position, true)
        } catch {
            continuation.finish(throwing: error)
            return (position, false)
        }
    }

    /// Reads the session stream until the reply to `replyTo` is complete and finishes
    /// `continuation` with it (true), or throws why it cannot come. False when the subscription
    /// ended first (a limit passed, or the consumer left).
    func follow(
        _ subscription: EventSubscription, stream: StreamName, from position: inout StreamPosition, replyTo: String,
        onFirst: () -> Void, continuation: AsyncThrowingStream<CompletionUpdate, any Error>.Continuation
    ) async throws -> Bool {
        var first = true
        var streamed = false
        func handle(_ event: StreamEvent) throws -> Bool {
            position = event.position
            switch GatewayEvent(type: event.type, data: event.data) {
            case .replyStarted(let started) where started.replyTo == replyTo:
                // A second attempt after text was streamed cannot be shown to a client that
                // already has the first one's text.
                if streamed { throw CompletionFailure.interrupted }
                if first {
                    first = false
                    onFirst()
                }
            case .replyInterrupted(let interrupted) where interrupted.replyTo == replyTo:
                throw CompletionFailure.interrupted
            case .replyDelta(let delta) where delta.replyTo == replyTo:
                if first {
                    first = false
                    onFirst()
                }
                streamed = true
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

/// A completion's session between two completions: its stream subscription and how far it read.
struct PooledCompletionSession: Sendable {
    let userID: String
    let agentID: String
    let sessionID: String
    let subscription: EventSubscription
    var position: StreamPosition
    var idleSince = ContinuousClock.now
}

/// Idle completion sessions per user and agent, so a client that sends one request after another
/// pays for opening a session and subscribing once (as the web app does per conversation).
/// Bounded: a few per user and agent, and closed after ten idle minutes.
final class CompletionSessionPool: Sendable {
    static let maximumIdlePerAgent = 4
    static let idleLimit: Duration = .seconds(600)

    private let idle = NIOLockedValueBox([String: [PooledCompletionSession]]())

    func take(userID: String, agentID: String) -> PooledCompletionSession? {
        idle.withLockedValue { $0["\(userID) \(agentID)"]?.popLast() }
    }

    /// Keeps `session` idle; returns the oldest idle one when that makes more than the bound, for
    /// the caller to close.
    func put(_ session: PooledCompletionSession) -> PooledCompletionSession? {
        var session = session
        session.idleSince = .now
        return idle.withLockedValue { idle in
            let key = "\(session.userID) \(session.agentID)"
            idle[key, default: []].append(session)
            return idle[key]!.count > Self.maximumIdlePerAgent ? idle[key]!.removeFirst() : nil
        }
    }

    /// Removes and returns the sessions idle for longer than `idleLimit`, to be closed.
    func sweep(now: ContinuousClock.Instant = .now) -> [PooledCompletionSession] {
        idle.withLockedValue { idle in
            var expired: [PooledCompletionSession] = []
            for key in Array(idle.keys) {
                let (old, fresh) = idle[key]!.reduce(into: ([PooledCompletionSession](), [PooledCompletionSession]())) {
                    if now - $1.idleSince > Self.idleLimit { $0.0.append($1) } else { $0.1.append($1) }
                }
                expired += old
                idle[key] = fresh.isEmpty ? nil : fresh
            }
            return expired
        }
    }
}
