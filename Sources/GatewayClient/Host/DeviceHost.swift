import Foundation
import GatewayProtocol
import ServerSentEvents

/// Hosts agents on this machine: registers the device, publishes its agents, keeps the device
/// stream (its relay inbox) open, and answers every `message.created` with reply deltas and a
/// final reply (docs/protocol.md). Messages of one session are answered one after the other;
/// sessions run side by side. The stream's position is saved in the configuration directory, so
/// after a restart the device resumes where it stopped and answers what was sent meanwhile.
public actor DeviceHost {
    public struct HostedAgent: Sendable {
        public var key: String
        public var name: String
        public var description: String
        public var backend: any AgentBackend

        public init(key: String, name: String, description: String, backend: any AgentBackend) {
            self.key = key
            self.name = name
            self.description = description
            self.backend = backend
        }
    }

    /// What the host reports as it goes (the terminal shows it).
    public enum Status: Sendable {
        case registered(deviceID: String, agents: [AgentView])
        case connected
        case reconnecting(reason: String, retryIn: Duration)
        case reset(reason: String)
        case unansweredListFailed(error: String)
        case sessionOpened(sessionID: String, agent: String, user: String)
        case messageReceived(sessionID: String, agent: String, user: String)
        case replied(sessionID: String, agent: String, characters: Int, duration: Duration)
        /// The user stopped the reply; what was written so far was posted as the reply.
        case replyStopped(sessionID: String, agent: String, characters: Int)
        case replyFailed(sessionID: String, agent: String, error: String)
        case sessionClosed(sessionID: String, reason: String)
        case shareRevoked(shareID: String, sessions: Int)
        case agentUnpublished(key: String)
    }

    public private(set) var deviceID: String
    private let api: GatewayAPI
    private let directory: ConfigDirectory
    private let deviceName: String
    private let agents: [String: HostedAgent]
    private let agentOrder: [String]
    private let report: @Sendable (Status) -> Void
    /// The last task of each session's reply queue, and the sessions' work to cancel.
    private var sessionQueues: [String: Task<Void, Never>] = [:]
    private var sessionUsers: [String: String] = [:]
    private var cancelledSessions: Set<String> = []
    public private(set) var openSessions: Set<String> = []
    public private(set) var messagesAnswered = 0
    /// Every message taken on, so one that arrives both on the stream and in the unanswered
    /// list is answered once.
    private var takenMessages: Set<String> = []
    /// The tasks reading agents' replies, by the message they answer, and the messages whose
    /// reply the user asked to stop (`reply.stop_requested`), started or not.
    private var runningReplies: [String: Task<String, Never>] = [:]
    private var stopRequested: Set<String> = []
    private var checkedUnanswered = false

    static let positionFile = "device-stream-position"

    public init(
        api: GatewayAPI, directory: ConfigDirectory, deviceID: String, deviceName: String, agents: [HostedAgent],
        report: @escaping @Sendable (Status) -> Void
    ) {
        self.api = api
        self.directory = directory
        self.deviceID = deviceID
        self.deviceName = deviceName
        self.agents = Dictionary(agents.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        self.agentOrder = agents.map(\.key)
        self.report = report
    }

    /// Registers, publishes and serves until cancelled (or signed out). A gateway that cannot be
    /// reached yet is retried with backoff, as a lost connection is.
    public func run() async throws {
        var failures = 0
        var published: [AgentView]
        while true {
            do {
                published = try await registerAndPublish()
                break
            } catch let error as GatewayClientError where error.isTransient {
                failures += 1
                let delay = EventStream.backoff(failures, maximum: .seconds(30))
                report(.reconnecting(reason: error.description, retryIn: delay))
                try await Task.sleep(for: delay)
            }
        }
        report(.registered(deviceID: deviceID, agents: published))
        let position = savedPosition()
        let stream = EventStream(api: api, path: "/v1/devices/\(deviceID)/events", startAfter: position)
        defer {
            for task in sessionQueues.values { task.cancel() }
        }
        for try await update in stream.updates() {
            switch update {
            case .connected:
                report(.connected)
                if !checkedUnanswered { await takeUnansweredMessages() }
            case .interrupted(let reason, let retryIn):
                report(.reconnecting(reason: reason, retryIn: retryIn))
            case .event(let event):
                handle(event)
                if let id = event.id, !id.isEmpty { savePosition(id) }
                // The stream lost events (history trimmed, Redis flushed): the store still
                // knows which messages wait for an answer.
                if event.event == "reset" { await takeUnansweredMessages() }
            }
        }
    }

    /// Answers what the gateway has stored as unanswered: messages sent before this device first
    /// connected, or whose events its stream lost.
    private func takeUnansweredMessages() async {
        do {
            for created in try await api.unansweredMessages(deviceID: deviceID) { enqueue(created) }
            checkedUnanswered = true
        } catch {
            // Tried again on the next connect; the stream itself still delivers new messages.
            report(.unansweredListFailed(error: String(describing: error)))
        }
    }

    private func registerAndPublish() async throws -> [AgentView] {
        let name = String(deviceName.prefix(100))
        do {
            _ = try await api.registerDevice(id: deviceID, name: name, platform: DeviceIdentity.platform)
        } catch GatewayClientError.problem(let problem) where problem.kind == .conflict {
            // The stored id belongs to another account (someone else signed in with this
            // configuration directory before): this account gets a device id of its own.
            deviceID = try directory.deviceID(renew: true)
            _ = try await api.registerDevice(id: deviceID, name: name, platform: DeviceIdentity.platform)
        }
        var published: [AgentView] = []
        for key in agentOrder {
            guard let agent = agents[key] else { continue }
            published.append(
                try await api.publishAgent(
                    deviceID: deviceID, key: key, name: agent.name, description: agent.description,
                    capabilities: ["chat", agent.backend.kind]
                ).value)
        }
        return published
    }

    // MARK: Events

    private func handle(_ event: ServerSentEvent) {
        switch event.gatewayEvent {
        case .sessionCreated(let created):
            openSessions.insert(created.sessionID)
            sessionUsers[created.sessionID] = created.user.displayName
            report(.sessionOpened(sessionID: created.sessionID, agent: created.agentKey, user: created.user.displayName))
        case .messageCreated(let created) where created.message.role == .user:
            enqueue(created)
        case .replyStopRequested(let stop):
            stopRequested.insert(stop.replyTo)
            runningReplies[stop.replyTo]?.cancel()
        case .sessionClosed(let closed):
            endSession(closed.sessionID)
            report(.sessionClosed(sessionID: closed.sessionID, reason: closed.reason.rawValue))
        case .shareRevoked(let revoked):
            let sessions = revoked.sessionIDs ?? []
            for session in sessions { endSession(session) }
            report(.shareRevoked(shareID: revoked.shareID, sessions: sessions.count))
        case .agentUnpublished(let unpublished):
            report(.agentUnpublished(key: unpublished.key ?? "?"))
        case .reset(let reset):
            report(.reset(reason: reset.reason.rawValue))
        default:
            break // stream.open, and event types this version does not know
        }
    }

    private func endSession(_ sessionID: String) {
        openSessions.remove(sessionID)
        cancelledSessions.insert(sessionID)
        sessionQueues.removeValue(forKey: sessionID)?.cancel()
        for agent in agents.values {
            let backend = agent.backend
            Task { await backend.sessionEnded(sessionID) }
        }
    }

    private func enqueue(_ created: MessageCreatedEvent) {
        guard takenMessages.insert(created.message.id).inserted else { return }
        let sessionID = created.sessionID
        let user = created.user?.displayName ?? sessionUsers[sessionID] ?? "someone"
        openSessions.insert(sessionID)
        guard let key = created.agentKey, let agent = agents[key] else {
            let known = agentOrder.joined(separator: ", ")
            report(.replyFailed(sessionID: sessionID, agent: created.agentKey ?? "?", error: "not hosted here (hosting \(known))"))
            Task { [api, deviceID] in
                try? await api.postReply(
                    deviceID: deviceID, sessionID: sessionID, kind: .error, replyTo: created.message.id,
                    text: "this agent is not running on its host right now")
            }
            return
        }
        cancelledSessions.remove(sessionID)
        report(.messageReceived(sessionID: sessionID, agent: key, user: user))
        let previous = sessionQueues[sessionID]
        let request = ReplyRequest(
            sessionID: sessionID, messageID: created.message.id, text: created.message.text, userName: user, agentKey: key,
            context: created.context)
        sessionQueues[sessionID] = Task {
            await previous?.value
            guard !Task.isCancelled else { return }
            await self.answer(request, with: agent)
        }
    }

    private func answer(_ request: ReplyRequest, with agent: HostedAgent) async {
        let started = ContinuousClock.now
        // The agent is read in a task of its own, so a stop request can cancel just this reply
        // and keep what was written.
        let reading = Task { await self.readReply(request, from: agent) }
        runningReplies[request.messageID] = reading
        let text = await withTaskCancellationHandler {
            await reading.value
        } onCancel: {
            reading.cancel()
        }
        runningReplies[request.messageID] = nil
        let stopped = stopRequested.remove(request.messageID) != nil
        do {
            if let failure = failedReplies.removeValue(forKey: request.messageID), !stopped { throw failure }
            try Task.checkCancellation()
            var final = text
            while final.last?.isNewline == true { final.removeLast() }
            try await post(request, .done, String(final.utf8.prefix(256 * 1024)) ?? final, index: nil)
            messagesAnswered += 1
            if stopped {
                report(.replyStopped(sessionID: request.sessionID, agent: agent.key, characters: final.count))
            } else {
                report(.replied(sessionID: request.sessionID, agent: agent.key, characters: final.count, duration: .now - started))
            }
        } catch {
            if Task.isCancelled || cancelledSessions.contains(request.sessionID) { return }
            if let clientError = error as? GatewayClientError {
                if case .problem(let problem) = clientError, [.shareRevoked, .sessionClosed, .notFound].contains(problem.kind) {
                    report(.sessionClosed(sessionID: request.sessionID, reason: problem.slug))
                    return
                }
            }
            let message = String(describing: error)
            report(.replyFailed(sessionID: request.sessionID, agent: agent.key, error: message))
            try? await post(request, .error, message, index: nil)
        }
    }

    /// Why the agent failed, for replies whose reading task ended in an error.
    private var failedReplies: [String: any Error] = [:]

    /// Streams the agent's reply as deltas and returns its text; a stop request (the task is
    /// cancelled) ends it early with what was written.
    private func readReply(_ request: ReplyRequest, from agent: HostedAgent) async -> String {
        var text = ""
        guard !stopRequested.contains(request.messageID) else { return text }
        // Guests see "working…" from here on, and a re-answer as a new attempt. A gateway that
        // predates `started` refuses it; the first delta then starts the reply as before.
        try? await api.postReply(deviceID: deviceID, sessionID: request.sessionID, kind: .started, replyTo: request.messageID, text: "")
        var index = 0
        do {
            for try await piece in agent.backend.reply(to: request) {
                text += piece
                do {
                    try await post(request, .delta, piece, index: index)
                } catch let error as GatewayClientError where error.isTransient {
                    // Deltas are not stored: a lost one is made good by the final reply.
                }
                index += 1
                if Task.isCancelled { break }
            }
        } catch {
            if !Task.isCancelled { failedReplies[request.messageID] = error }
        }
        return text
    }

    private func post(_ request: ReplyRequest, _ kind: ReplyKind, _ body: String, index: Int?) async throws {
        try await posting(retrying: kind != .delta) {
            try await self.api.postReply(
                deviceID: self.deviceID, sessionID: request.sessionID, kind: kind, replyTo: request.messageID, text: body, index: index)
        }
    }

    /// Runs `body`; with `retrying`, transient failures (the gateway restarting or unreachable)
    /// are retried with backoff for about a minute, since a final reply must not be lost (a
    /// repeated `done` is harmless: the gateway stores it once).
    private func posting(retrying: Bool, _ body: () async throws -> Void) async throws {
        var delay: Duration = .milliseconds(250)
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                return try await body()
            } catch let error as GatewayClientError where retrying && error.isTransient && ContinuousClock.now < deadline {
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    // MARK: Position

    private func savedPosition() -> String? {
        guard let data = directory.read(Self.positionFile) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        // Positions belong to one device's stream: keep "device-id position".
        let parts = text.split(separator: " ")
        guard parts.count == 2, parts[0] == deviceID else { return nil }
        return String(parts[1])
    }

    private func savePosition(_ position: String) {
        try? directory.write(Self.positionFile, Data("\(deviceID) \(position)\n".utf8))
    }
}
