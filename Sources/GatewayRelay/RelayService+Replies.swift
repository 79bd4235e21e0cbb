import Foundation
import GatewayEvents
import GatewayProtocol
import GatewayStore

// A reply's lifecycle (docs/protocol.md): the host starts an attempt (`reply.started`), streams
// deltas and ends it with `done` or `error`; an attempt whose host goes away is interrupted
// (`reply.interrupted`) and answered again, as a new attempt, when the host is back. What is in
// progress is kept per session in the ephemeral store, which every replica shares, so a client
// that arrives mid-reply learns where the current attempt began on the session stream and
// replays its text so far from there.
extension RelayService {
    /// One reply in progress, as kept in the ephemeral store.
    struct ReplyProgress: Codable, Sendable {
        var attempt = 0
        /// Nil until the host starts (only a stop request was noted).
        var state: ReplyState?
        /// The session stream position just before the current attempt's `reply.started`.
        var from: String?
        var stopRequested = false
    }

    /// As long as the session stream keeps an idle history: past it, a replay is impossible anyway.
    static let replyProgressTTL: Duration = .seconds(24 * 3600)

    private static func progressKey(_ sessionID: String) -> String { "reply-progress:\(sessionID)" }

    func replyProgress(sessionID: String) async throws -> [String: ReplyProgress] {
        guard let text = try await ephemeral.get(Self.progressKey(sessionID)) else { return [:] }
        return (try? JSONDecoder().decode([String: ReplyProgress].self, from: Data(text.utf8))) ?? [:]
    }

    func saveReplyProgress(_ progress: [String: ReplyProgress], sessionID: String) async throws {
        guard !progress.isEmpty else { return try await ephemeral.delete(Self.progressKey(sessionID)) }
        let text = String(decoding: try JSONEncoder().encode(progress), as: UTF8.self)
        try await ephemeral.set(Self.progressKey(sessionID), text, ttl: Self.replyProgressTTL)
    }

    /// Remembers a stop request, so the `reply.done` that follows says `stopped`.
    func noteStopRequested(sessionID: String, replyTo: String) async throws {
        var progress = try await replyProgress(sessionID: sessionID)
        progress[replyTo, default: ReplyProgress()].stopRequested = true
        try await saveReplyProgress(progress, sessionID: sessionID)
    }

    /// Appends `reply.started` for the next attempt at `replyTo` and notes where it begins.
    private func beginAttempt(_ progress: inout [String: ReplyProgress], replyTo: String, sessionID: String) async throws {
        var entry = progress[replyTo] ?? ReplyProgress()
        entry.attempt += 1
        entry.state = .working
        let position = try await append(
            RelayStreams.session(sessionID), ReplyStartedEvent(sessionID: sessionID, replyTo: replyTo, attempt: entry.attempt))
        entry.from = StreamPosition(epoch: position.epoch, offset: position.offset - 1).description
        progress[replyTo] = entry
    }

    /// The host of `sessionID` went away: every attempt in progress there is interrupted.
    func interruptReplies(sessionID: String) async throws {
        var progress = try await replyProgress(sessionID: sessionID)
        let running = progress.filter { $0.value.state == .working || $0.value.state == .streaming }
        guard !running.isEmpty else { return }
        for (replyTo, entry) in running.sorted(by: { ($0.value.from ?? "") < ($1.value.from ?? "") }) {
            progress[replyTo]?.state = .interrupted
            try await append(
                RelayStreams.session(sessionID), ReplyInterruptedEvent(sessionID: sessionID, replyTo: replyTo, attempt: entry.attempt))
        }
        try await saveReplyProgress(progress, sessionID: sessionID)
    }

    /// The stored messages, the replies in progress and where to read the stream from so that
    /// their text so far is replayed. The head is read first: whatever happens after it is on
    /// the stream, whatever happened before is in the store or the progress.
    package func messages(userID: String, sessionID: String) async throws -> MessageList {
        let (session, _) = try await usableSession(userID: userID, id: sessionID)
        let head = try await bus.head(of: RelayStreams.session(session.id))
        let progress = try await replyProgress(sessionID: session.id)
        let messages = try await store.messages(sessionID: session.id).map(MessageView.init)
        let answered = Set(messages.compactMap(\.replyTo))
        var start = head
        var replies: [(from: UInt64, view: ReplyProgressView)] = []
        for (replyTo, entry) in progress where !answered.contains(replyTo) {
            guard let state = entry.state else { continue }
            var offset = head.offset
            if let from = entry.from.flatMap(StreamPosition.init), from.epoch == head.epoch, from.offset < head.offset {
                offset = from.offset
                if offset < start.offset { start = from }
            }
            let view = ReplyProgressView(
                replyTo: replyTo, attempt: entry.attempt, state: state, stopRequested: entry.stopRequested ? true : nil)
            replies.append((offset, view))
        }
        return MessageList(
            messages: messages, replies: replies.sorted { $0.from < $1.from }.map(\.view), streamPosition: start.description)
    }

    /// A hosting device answers: `started` begins an attempt, deltas stream to the guest, `done`
    /// stores the full reply, `error` reports a failure. Only the device hosting the session's
    /// agent may answer, and not once the session is closed or its share revoked.
    package func postReply(
        userID: String, deviceID: String, sessionID: String, kind: ReplyKind, replyTo: String?, text: String?, index: Int?
    ) async throws -> MessageView? {
        guard let target = try await store.replyTarget(sessionID: sessionID, deviceID: deviceID, ownerID: userID) else {
            // Which of the two it is only matters on this rare path: ask once more.
            _ = try await ownDevice(userID: userID, id: deviceID)
            throw RelayError.notFound("session not found")
        }
        if target.shareRevoked { throw RelayError.shareRevoked }
        guard !target.closed else { throw RelayError.sessionClosed }
        let text = text ?? ""
        let maximumBytes = min(limits.maximumMessageBytes * 4, limits.replyBytesPerMinute)
        guard text.utf8.count <= maximumBytes else { throw RelayError.tooLarge(limit: maximumBytes) }
        try await takeBudgets([
            (.replies, "replies:device:\(target.deviceInstanceID)", 1, limits.repliesPerMinute),
            (.replyBytes, "reply-bytes:device:\(target.deviceInstanceID)", text.utf8.count, limits.replyBytesPerMinute),
        ])
        let sessionID = target.sessionID
        let stream = RelayStreams.session(sessionID)
        // Replies without `reply_to` (devices from before it existed) are relayed, not tracked.
        let replyTo = replyTo.flatMap { $0.isEmpty ? nil : $0 }
        switch kind {
        case .started:
            guard let replyTo else { throw RelayError.invalid("reply_to is required to start a reply") }
            var progress = try await replyProgress(sessionID: sessionID)
            // A retried start: the attempt is already under way.
            if progress[replyTo]?.state == .working { return nil }
            switch try await store.userMessageIsAnswered(sessionID: sessionID, messageID: replyTo) {
            case nil: throw RelayError.notFound("no such message in this session")
            case true?: throw RelayError.conflict("this message has been answered already")
            case false?: break
            }
            try await beginAttempt(&progress, replyTo: replyTo, sessionID: sessionID)
            try await saveReplyProgress(progress, sessionID: sessionID)
            return nil
        case .delta:
            var attempt: Int?
            if let replyTo {
                var progress = try await replyProgress(sessionID: sessionID)
                switch progress[replyTo]?.state {
                case nil:
                    // A host that sends no `started` (older versions) starts with its first delta.
                    switch try await store.userMessageIsAnswered(sessionID: sessionID, messageID: replyTo) {
                    case true?: return nil // a late delta of a finished reply: the reply stands
                    case false?:
                        try await beginAttempt(&progress, replyTo: replyTo, sessionID: sessionID)
                        progress[replyTo]?.state = .streaming
                        try await saveReplyProgress(progress, sessionID: sessionID)
                    case nil: break // not a message of this session: relayed as before, not tracked
                    }
                case .interrupted? where (index ?? 0) == 0:
                    // Back after an interruption and answering from the start: a new attempt.
                    try await beginAttempt(&progress, replyTo: replyTo, sessionID: sessionID)
                    progress[replyTo]?.state = .streaming
                    try await saveReplyProgress(progress, sessionID: sessionID)
                case .interrupted?, .working?:
                    // The first text, or the same attempt going on after a dropped connection.
                    progress[replyTo]?.state = .streaming
                    try await saveReplyProgress(progress, sessionID: sessionID)
                case .streaming?:
                    break
                }
                attempt = progress[replyTo]?.attempt
            }
            try await append(
                stream, ReplyDeltaEvent(sessionID: sessionID, replyTo: replyTo ?? "", index: index ?? 0, text: text, attempt: attempt))
            return nil
        case .done:
            let (message, created) = try await store.addMessage(
                sessionID: sessionID, role: .agent, authorID: nil, replyTo: replyTo, text: text,
                idempotencyKey: replyTo.map { "reply:\($0)" })
            let view = MessageView(message)
            if created {
                let entry = try await finishProgress(replyTo, sessionID: sessionID)
                try await append(
                    stream,
                    ReplyDoneEvent(
                        sessionID: sessionID, message: view, attempt: entry?.state == nil ? nil : entry?.attempt,
                        stopped: entry?.stopRequested == true ? true : nil))
            }
            return view
        case .error:
            let entry = try await finishProgress(replyTo, sessionID: sessionID)
            try await append(
                stream,
                ReplyErrorEvent(
                    sessionID: sessionID, replyTo: replyTo ?? "", error: String(text.prefix(2000)),
                    attempt: entry?.state == nil ? nil : entry?.attempt))
            return nil
        }
    }

    /// Forgets the progress of a reply that ended, returning what it was.
    private func finishProgress(_ replyTo: String?, sessionID: String) async throws -> ReplyProgress? {
        guard let replyTo else { return nil }
        var progress = try await replyProgress(sessionID: sessionID)
        guard let entry = progress.removeValue(forKey: replyTo) else { return nil }
        try await saveReplyProgress(progress, sessionID: sessionID)
        return entry
    }
}
