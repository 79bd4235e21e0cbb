import Foundation
import GatewayProtocol
import ServerSentEvents

/// A terminal chat with one agent: opens a session, follows its event stream (resuming after
/// network loss), posts each input line and waits for its reply before the next one.
public struct ChatClient: Sendable {
    public enum Output: Sendable {
        case opened(session: SessionView, agent: AgentView)
        case sent(message: MessageView, hostOnline: Bool, queued: Bool)
        /// The host started working on a message: attempt 1 when it picks it up, a higher one when
        /// it answers again (what an earlier attempt streamed is not the answer).
        case started(replyTo: String, attempt: Int)
        case delta(replyTo: String, index: Int, text: String)
        /// The host went away in the middle of the reply; it answers again when it is back.
        case interrupted(replyTo: String, attempt: Int)
        case done(message: MessageView)
        case replyError(replyTo: String, error: String)
        case hostStatus(online: Bool)
        case connected
        case reconnecting(reason: String, retryIn: Duration)
        case reset(reason: String)
        case shareRevoked
        case sessionClosed(reason: String)
        case replyTimedOut(messageID: String)
    }

    /// How the chat ended.
    public enum Ending: Sendable, Equatable {
        /// Input ended and every reply arrived.
        case inputEnded
        case shareRevoked
        case sessionClosed(reason: String)
        case replyTimedOut
    }

    public let api: GatewayAPI
    /// Give up waiting for a reply after this long (nil: wait as long as it takes, e.g. for a host
    /// that is offline).
    public var replyTimeout: Duration?

    public init(api: GatewayAPI, replyTimeout: Duration? = nil) {
        self.api = api
        self.replyTimeout = replyTimeout
    }

    /// Finds the agent (id, key or name), or says clearly that its share was revoked.
    public func agent(_ reference: String) async throws -> AgentView {
        do {
            return try await api.findAgent(reference)
        } catch GatewayClientError.notFound(let what) {
            let incoming = (try? await api.incomingShares().value) ?? []
            if incoming.contains(where: { ($0.agentName == reference || $0.agentID == reference) && $0.status == .revoked }) {
                throw GatewayClientError.problem(
                    ProblemDetails(
                        .shareRevoked, title: "Access revoked", status: 403,
                        detail: "the owner revoked your access to \(reference)"))
            }
            throw GatewayClientError.notFound(what)
        }
    }

    public func run(agent reference: String, lines: AsyncStream<String>, output: @escaping @Sendable (Output) -> Void)
        async throws -> Ending
    {
        let agent = try await agent(reference)
        let session = try await api.openSession(agentID: agent.id).value
        output(.opened(session: session, agent: agent))
        let replies = ReplyTracker()
        let conversation = Task { try await converse(session, lines: lines, output: output, replies: replies) }
        let stream = EventStream(api: api, path: "/v1/sessions/\(session.id)/events", startAfter: session.streamPosition)
        let events = Task {
            do {
                for try await update in stream.updates() {
                    // Cancelled because the chat is ending: the stream's end is ours, not news.
                    if Task.isCancelled { return }
                    if let ending = await Self.handle(update, session: session, api: api, output: output, replies: replies) {
                        await replies.end(ending)
                        conversation.cancel()
                        return
                    }
                }
            } catch let error as GatewayClientError where error.isAccessRevoked {
                output(.shareRevoked)
                await replies.end(.shareRevoked)
                conversation.cancel()
            } catch {
                await replies.fail(error)
                conversation.cancel()
            }
        }
        defer { events.cancel() }
        let ending = try await withTaskCancellationHandler {
            try await conversation.value
        } onCancel: {
            conversation.cancel()
        }
        events.cancel()
        if ending == .inputEnded { _ = try? await api.send(.DELETE, "/v1/sessions/\(GatewayAPI.escape(session.id))") }
        return ending
    }

    /// Posts each line and waits for its reply; stops early when the event stream ends the chat.
    private func converse(
        _ session: SessionView, lines: AsyncStream<String>, output: @escaping @Sendable (Output) -> Void, replies: ReplyTracker
    ) async throws -> Ending {
        for await line in lines {
            if let ending = await replies.ending { return ending }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            let posted: PostedMessage
            do {
                posted = try await api.postMessage(sessionID: session.id, text: text, idempotencyKey: UUID().uuidString).value
            } catch let error as GatewayClientError where error.isAccessRevoked {
                output(.shareRevoked)
                return .shareRevoked
            } catch GatewayClientError.problem(let problem) where problem.kind == .sessionClosed {
                return await replies.ending ?? .sessionClosed(reason: "closed")
            }
            await replies.sent(posted.message.id)
            output(.sent(message: posted.message, hostOnline: posted.hostOnline, queued: posted.queued))
            switch try await replies.wait(for: posted.message.id, timeout: replyTimeout) {
            case .replied: continue
            case .ended(let ending): return ending
            case .timedOut:
                output(.replyTimedOut(messageID: posted.message.id))
                return .replyTimedOut
            }
        }
        if let failure = await replies.failure { throw failure }
        return await replies.ending ?? .inputEnded
    }

    // MARK: Events

    /// Shows one update; returns how the chat ends when the update ends it.
    private static func handle(
        _ update: EventStream.Update, session: SessionView, api: GatewayAPI, output: (Output) -> Void, replies: ReplyTracker
    ) async -> Ending? {
        let event: ServerSentEvent
        switch update {
        case .connected:
            output(.connected)
            return nil
        case .interrupted(let reason, let retryIn):
            output(.reconnecting(reason: reason, retryIn: retryIn))
            return nil
        case .event(let value): event = value
        }
        switch event.gatewayEvent {
        case .replyStarted(let started):
            output(.started(replyTo: started.replyTo, attempt: started.attempt))
        case .replyInterrupted(let interrupted):
            output(.interrupted(replyTo: interrupted.replyTo, attempt: interrupted.attempt))
        case .replyDelta(let delta):
            output(.delta(replyTo: delta.replyTo, index: delta.index, text: delta.text))
        case .replyDone(let done):
            // Already taken from the stored messages after a reset.
            if let replyTo = done.message.replyTo, await replies.isAnswered(replyTo) { return nil }
            output(.done(message: done.message))
            if let replyTo = done.message.replyTo { await replies.replied(replyTo) }
        case .replyError(let failure):
            output(.replyError(replyTo: failure.replyTo, error: failure.error))
            await replies.replied(failure.replyTo)
        case .hostStatus(let status):
            output(.hostStatus(online: status.online))
        case .reset(let reset):
            output(.reset(reason: reset.reason.rawValue))
            await completeFromStore(session: session, api: api, output: output, replies: replies)
        case .shareRevoked:
            output(.shareRevoked)
            return .shareRevoked
        case .sessionClosed(let closed):
            output(.sessionClosed(reason: closed.reason.rawValue))
            return .sessionClosed(reason: closed.reason.rawValue)
        default:
            break
        }
        return nil
    }
}

extension ChatClient {
    /// After a reset the events in between are gone, a finished reply among them too: the replies
    /// still awaited are looked up in the session's stored messages, so the chat does not wait
    /// for an event that will never come.
    fileprivate static func completeFromStore(
        session: SessionView, api: GatewayAPI, output: (Output) -> Void, replies: ReplyTracker
    ) async {
        let awaited = await replies.unanswered
        guard !awaited.isEmpty,
            let stored = try? await api.call(MessageList.self, .GET, "/v1/sessions/\(GatewayAPI.escape(session.id))/messages")
        else { return }
        for message in stored.value.messages where message.role == .agent {
            guard let replyTo = message.replyTo, awaited.contains(replyTo), await !replies.isAnswered(replyTo) else { continue }
            output(.done(message: message))
            await replies.replied(replyTo)
        }
    }
}

/// Which messages have their reply, and who waits for one.
actor ReplyTracker {
    enum Outcome: Sendable {
        case replied
        case ended(ChatClient.Ending)
        case timedOut
    }

    private var answered: Set<String> = []
    /// Messages this chat sent.
    private var sentMessages: Set<String> = []
    private var waiters: [String: CheckedContinuation<Outcome, any Error>] = [:]
    private(set) var ending: ChatClient.Ending?
    private(set) var failure: (any Error)?

    func sent(_ messageID: String) { sentMessages.insert(messageID) }

    /// Sent messages whose reply has not arrived.
    var unanswered: Set<String> { sentMessages.subtracting(answered) }

    func isAnswered(_ messageID: String) -> Bool { answered.contains(messageID) }

    func replied(_ messageID: String) {
        answered.insert(messageID)
        waiters.removeValue(forKey: messageID)?.resume(returning: .replied)
    }

    func end(_ ending: ChatClient.Ending) {
        self.ending = ending
        for waiter in waiters.values { waiter.resume(returning: .ended(ending)) }
        waiters = [:]
    }

    func fail(_ error: any Error) {
        failure = error
        for waiter in waiters.values { waiter.resume(throwing: error) }
        waiters = [:]
    }

    private func timeOut(_ messageID: String) {
        waiters.removeValue(forKey: messageID)?.resume(returning: .timedOut)
    }

    func wait(for messageID: String, timeout: Duration?) async throws -> Outcome {
        if answered.contains(messageID) { return .replied }
        if let ending { return .ended(ending) }
        if let failure { throw failure }
        let timer = timeout.map { timeout in
            Task {
                try await Task.sleep(for: timeout)
                self.timeOut(messageID)
            }
        }
        defer { timer?.cancel() }
        return try await withCheckedThrowingContinuation { waiters[messageID] = $0 }
    }
}
