import Crypto
import Foundation
import GatewayEphemeral
import GatewayEvents
import GatewayProtocol
import GatewayStore
import Logging

/// Limits on what users and devices may send and hold (see docs/security.md).
public struct RelayLimits: Sendable {
    public var maximumMessageBytes = 64 * 1024
    public var messagesPerMinute = 120
    public var sessionsPerMinute = 30
    public var repliesPerMinute = 6000
    public var replyBytesPerMinute = 4 << 20
    public var streamsPerUser = 100
    public var streamsPerDevice = 4
    /// An open stream's hold on its user's and device's stream budget expires this long after
    /// its last renewal (so the holds of a replica that died run out by themselves)…
    public var streamLeaseTTL: Duration = .seconds(60)
    /// …and is renewed this often while the stream is open.
    public var streamLeaseRenewal: Duration = .seconds(20)
    /// A device is online while its stream is open; it refreshes this often…
    public var presenceRefresh: Duration = .seconds(3)
    /// …and is offline this long after its process stopped refreshing.
    public var presenceTTL: Duration = .seconds(10)

    public init() {}
}

/// Sharing and relay rules: who may see and use what, and which streams hear about it.
/// HTTP handlers parse and render; every rule lives here.
public struct RelayService: Sendable {
    public let store: GatewayStore
    public let bus: any EventBus
    let ephemeral: any EphemeralStore
    let publicBaseURL: String
    public let limits: RelayLimits
    let logger: Logger

    public init(
        store: GatewayStore, bus: any EventBus, ephemeral: any EphemeralStore, publicBaseURL: String, limits: RelayLimits = RelayLimits(),
        logger: Logger
    ) {
        self.store = store
        self.bus = bus
        self.ephemeral = ephemeral
        self.publicBaseURL = publicBaseURL
        self.limits = limits
        self.logger = logger
    }

    // MARK: Devices

    static func isValidIdentifier(_ id: String) -> Bool {
        (1...64).contains(id.count) && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    static func validatedName(_ name: String?, field: String) throws(RelayError) -> String {
        let trimmed = (name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(trimmed.count) else { throw .invalid("\(field) must be 1 to 100 characters") }
        return try withoutControlCharacters(trimmed, field: field)
    }

    /// Names, descriptions and labels are shown in other people's browsers and terminals: control
    /// characters (C0 and C1, which carry terminal escape sequences) are refused, as they are in
    /// display names. `allowingLineBreaks` admits newline and tab in longer texts.
    static func withoutControlCharacters(_ text: String, field: String, allowingLineBreaks: Bool = false) throws(RelayError) -> String {
        let refused = text.unicodeScalars.contains { scalar in
            scalar.properties.generalCategory == .control && !(allowingLineBreaks && (scalar == "\n" || scalar == "\t"))
        }
        guard !refused else {
            throw .invalid("\(field) must not contain control characters\(allowingLineBreaks ? " other than newline and tab" : "")")
        }
        return text
    }

    public func registerDevice(userID: String, id: String, name: String?, platform: String?) async throws -> (DeviceView, created: Bool) {
        guard Self.isValidIdentifier(id) else { throw RelayError.invalid("device ids are 1-64 letters, digits, '-' or '_'") }
        let name = try Self.validatedName(name, field: "name")
        let platform = try Self.withoutControlCharacters(String((platform ?? "unknown").prefix(50)), field: "platform")
        do {
            let (device, created) = try await store.registerDevice(id: id, ownerID: userID, name: name, platform: platform)
            return (try await view(device), created)
        } catch is DeviceIDTaken {
            throw RelayError.conflict("this device id is registered to another account; choose another id")
        }
    }

    public func devices(userID: String) async throws -> [DeviceView] {
        var views: [DeviceView] = []
        for device in try await store.devices(ownerID: userID) { views.append(try await view(device)) }
        return views
    }

    /// The caller's own device, or not found.
    public func ownDevice(userID: String, id: String) async throws -> Device {
        guard let device = try await store.device(id: id), device.ownerID == userID else { throw RelayError.notFound("device not found") }
        return device
    }

    public func renameDevice(userID: String, id: String, name: String?) async throws -> DeviceView {
        let name = try Self.validatedName(name, field: "name")
        guard let device = try await store.renameDevice(id: id, ownerID: userID, name: name) else {
            throw RelayError.notFound("device not found")
        }
        return try await view(device)
    }

    public func deleteDevice(userID: String, id: String) async throws {
        let agents = try await store.agents(deviceID: id)
        guard let device = try await store.device(id: id), device.ownerID == userID,
            let closed = try await store.deleteDevice(id: id, ownerID: userID)
        else { throw RelayError.notFound("device not found") }
        for session in closed { try await announceClosed(session, reason: .deviceDeleted) }
        // Ends the deleted registration's open streams; the id may be registered again, but
        // under a new instance id whose stream starts empty.
        try await append(RelayStreams.device(device), DeviceDeletedEvent(deviceID: id))
        for agent in agents {
            try await append(RelayStreams.user(userID), AgentUnpublishedEvent(agentID: agent.id, deviceID: id))
        }
    }

    func view(_ device: Device) async throws -> DeviceView {
        DeviceView(
            id: device.id, name: device.name, platform: device.platform, online: try await bus.isOnline(device.instanceID),
            createdAt: device.createdAt, updatedAt: device.updatedAt)
    }

    // MARK: Device presence (driven by the device stream being open)

    public func deviceStreamOpened(_ device: Device, connection: String) async {
        do {
            if try await bus.markOnline(device.instanceID, connection: connection, ttl: limits.presenceTTL) {
                logger.info("device online", metadata: ["event": "device.online", "device_id": .string(device.id)])
            }
        } catch {
            logger.warning("presence update failed", metadata: ["device_id": .string(device.id), "error": "\(error)"])
        }
    }

    public func deviceStreamRefresh(_ device: Device, connection: String) async {
        _ = try? await bus.markOnline(device.instanceID, connection: connection, ttl: limits.presenceTTL)
    }

    public func deviceStreamClosed(_ device: Device, connection: String) async {
        if (try? await bus.markOffline(device.instanceID, connection: connection)) == true {
            logger.info("device offline", metadata: ["event": "device.offline", "device_id": .string(device.id)])
        }
    }

    /// Tells everyone interested about presence changes. Every replica hears every change; one
    /// claims each change in the ephemeral store and writes the events, so they appear once.
    public func runPresenceFanOut() async {
        let changes = await bus.presenceChanges()
        defer { changes.cancel() }
        for await change in changes {
            do {
                let claim = "presence-fanout:\(change.subject):\(change.isOnline):\(change.sequence)"
                guard try await ephemeral.setIfAbsent(claim, "1", ttl: .seconds(60)) else { continue }
                try await announceHostStatus(instanceID: change.subject, online: change.isOnline)
            } catch {
                logger.warning("presence fan-out failed", metadata: ["device_id": .string(change.subject), "error": "\(error)"])
            }
        }
    }

    func announceHostStatus(instanceID: String, online: Bool) async throws {
        guard let device = try await store.device(instanceID: instanceID) else { return }
        try await append(RelayStreams.user(device.ownerID), DeviceStatusEvent(deviceID: device.id, online: online))
        let agents = try await store.agents(deviceID: device.id)
        for guestID in try await store.guestIDs(deviceID: device.id) {
            for agent in agents {
                try await append(RelayStreams.user(guestID), HostStatusEvent(agentID: agent.id, online: online))
            }
        }
        for session in try await store.openSessions(deviceID: device.id) {
            try await append(RelayStreams.session(session.id), HostStatusEvent(agentID: session.agentID, online: online))
        }
    }

    // MARK: Agents

    public func publishAgent(
        userID: String, deviceID: String, key: String, name: String?, description: String?, capabilities: [String]?
    ) async throws -> (AgentView, created: Bool) {
        let device = try await ownDevice(userID: userID, id: deviceID)
        guard Self.isValidIdentifier(key) else { throw RelayError.invalid("agent keys are 1-64 letters, digits, '-' or '_'") }
        let name = try Self.validatedName(name, field: "name")
        let description = try Self.withoutControlCharacters(
            String((description ?? "").prefix(2000)).replacingOccurrences(of: "\r\n", with: "\n"), field: "description",
            allowingLineBreaks: true)
        let capabilities = try Array(
            (capabilities ?? []).prefix(32).map { try Self.withoutControlCharacters(String($0.prefix(64)), field: "capabilities") })
        let (agent, created) = try await store.publishAgent(
            deviceID: device.id, ownerID: userID, key: key, name: name, description: description, capabilities: capabilities)
        return (try await view(agent, for: userID), created)
    }

    public func unpublishAgent(userID: String, deviceID: String, key: String) async throws {
        let device = try await ownDevice(userID: userID, id: deviceID)
        guard let (agent, open) = try await store.unpublishAgent(deviceID: device.id, key: key) else {
            throw RelayError.notFound("agent not found")
        }
        for session in open { try await announceClosed(session, reason: .agentUnpublished) }
        try await append(RelayStreams.device(device), AgentUnpublishedEvent(agentID: agent.id, key: agent.key))
    }

    /// The caller's own agents and the agents shared with them.
    public func agents(userID: String) async throws -> [AgentView] {
        var views: [AgentView] = []
        for agent in try await store.agents(ownerID: userID) { views.append(try await view(agent, for: userID)) }
        for (agent, shareID) in try await store.sharedAgents(guestID: userID) {
            views.append(try await view(agent, for: userID, shareID: shareID))
        }
        return views
    }

    /// An agent the caller may use; anyone else (including a guest whose share was revoked) gets not found.
    public func agent(userID: String, id: String) async throws -> AgentView {
        guard let access = try await store.access(userID: userID, agentID: id), let agent = try await store.agent(id: id) else {
            throw RelayError.notFound("agent not found")
        }
        if case .guest(let shareID) = access { return try await view(agent, for: userID, shareID: shareID) }
        return try await view(agent, for: userID)
    }

    func view(_ agent: Agent, for userID: String, shareID: String? = nil) async throws -> AgentView {
        let owner = try await store.user(id: agent.ownerID)
        return AgentView(
            id: agent.id, deviceID: agent.deviceID, key: agent.key, name: agent.name, description: agent.description,
            capabilities: agent.capabilities, ownerID: agent.ownerID, ownerName: owner?.displayName ?? "",
            access: agent.ownerID == userID ? .owner : .guest, shareID: shareID,
            hostOnline: try await bus.isOnline(agent.deviceInstanceID))
    }

    // MARK: Shares

    static func hash(_ code: String) -> String {
        SHA256.hash(data: Data(code.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func makeCode() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    public func createShare(userID: String, agentID: String, label: String?, expiresInSeconds: Int?, maxUses: Int?) async throws
        -> CreatedShare
    {
        guard let agent = try await store.agent(id: agentID), agent.ownerID == userID else { throw RelayError.notFound("agent not found") }
        if let expiresInSeconds, !(60...(365 * 86400)).contains(expiresInSeconds) {
            throw RelayError.invalid("expires_in must be between 60 seconds and 365 days")
        }
        if let maxUses, !(1...10_000).contains(maxUses) { throw RelayError.invalid("max_uses must be between 1 and 10000") }
        let label = try label.map { String($0.trimmingCharacters(in: .whitespacesAndNewlines).prefix(100)) }.flatMap {
            $0.isEmpty ? nil : $0
        }
        .map { try Self.withoutControlCharacters($0, field: "label") }
        let code = Self.makeCode()
        let share = try await store.createShare(
            agentID: agent.id, ownerID: userID, codeHash: Self.hash(code), label: label,
            expiresAt: expiresInSeconds.map { Date().addingTimeInterval(Double($0)) }, maxUses: maxUses)
        let view = ShareView(share, agentName: agent.name, guests: [])
        try await append(RelayStreams.user(userID), ShareCreatedEvent(share: view))
        return CreatedShare(share: view, code: code, inviteURL: "\(publicBaseURL)/invite/\(code)")
    }

    public func outgoingShares(userID: String) async throws -> [ShareView] {
        var views: [ShareView] = []
        for share in try await store.shares(ownerID: userID) {
            let guests = try await store.guests(shareID: share.id).map {
                GuestView(
                    userID: $0.grant.guestID, displayName: $0.displayName, acceptedAt: $0.grant.createdAt, left: $0.grant.leftAt != nil)
            }
            views.append(ShareView(share, agentName: try await store.agent(id: share.agentID)?.name ?? "", guests: guests))
        }
        return views
    }

    /// Revokes at once: the grant stops working on every replica (checked per request), open
    /// session streams get `share.revoked` and end, the host device and the guests are told.
    public func revokeShare(userID: String, shareID: String) async throws -> ShareView {
        guard let existing = try await store.share(id: shareID), existing.ownerID == userID else {
            throw RelayError.notFound("share not found")
        }
        guard let (share, guests, sessions) = try await store.revokeShare(id: shareID, ownerID: userID) else {
            return ShareView(existing, agentName: try await store.agent(id: existing.agentID)?.name ?? "", guests: nil)
        }
        let revoked = ShareRevokedEvent(shareID: share.id, agentID: share.agentID)
        for session in sessions {
            var event = revoked
            event.sessionID = session.id
            try await append(RelayStreams.session(session.id), event)
        }
        for guest in guests { try await append(RelayStreams.user(guest), revoked) }
        if let agent = try await store.agent(id: share.agentID) {
            var event = revoked
            event.sessionIDs = sessions.map(\.id)
            try await append(RelayStreams.device(of: agent), event)
        }
        logger.info("share revoked", metadata: ["event": "share.revoked", "share_id": .string(share.id), "sessions": "\(sessions.count)"])
        return ShareView(share, agentName: try await store.agent(id: share.agentID)?.name ?? "", guests: nil)
    }

    public func invite(code: String) async throws -> InvitePreview {
        guard let share = try await store.share(codeHash: Self.hash(code)), let agent = try await store.agent(id: share.agentID) else {
            throw RelayError.notFound("invite not found")
        }
        let owner = try await store.user(id: share.ownerID)
        return InvitePreview(
            agentName: agent.name, agentDescription: agent.description, ownerName: owner?.displayName ?? "",
            status: ShareStatus(share), expiresAt: share.expiresAt)
    }

    public func acceptInvite(userID: String, code: String) async throws -> AcceptedInvite {
        do {
            let (share, newly) = try await store.acceptShare(codeHash: Self.hash(code), guestID: userID)
            guard let agent = try await store.agent(id: share.agentID) else { throw RelayError.notFound("invite not found") }
            if newly {
                let guest = try await store.user(id: userID)
                try await append(
                    RelayStreams.user(share.ownerID),
                    ShareAcceptedEvent(
                        shareID: share.id, agentID: agent.id, guest: UserRef(id: userID, displayName: guest?.displayName ?? "")))
            }
            return AcceptedInvite(
                share: ShareView(share, agentName: agent.name, guests: nil), agent: try await view(agent, for: userID, shareID: share.id),
                newlyAccepted: newly)
        } catch let refusal as ShareAcceptance {
            switch refusal {
            case .unknown: throw RelayError.notFound("invite not found")
            case .revoked: throw RelayError.inviteRevoked
            case .expired: throw RelayError.inviteExpired
            case .exhausted: throw RelayError.inviteExhausted
            case .ownAgent: throw RelayError.ownInvite
            }
        }
    }

    public func incomingShares(userID: String) async throws -> [ShareView] {
        var views: [ShareView] = []
        for (share, _) in try await store.incomingShares(guestID: userID) {
            views.append(ShareView(share, agentName: try await store.agent(id: share.agentID)?.name ?? "", guests: nil))
        }
        return views
    }

    public func leaveShare(userID: String, shareID: String) async throws {
        guard let closed = try await store.leaveShare(shareID: shareID, guestID: userID) else {
            throw RelayError.notFound("share not found")
        }
        for session in closed { try await announceClosed(session, reason: .leftShare) }
    }

    // MARK: Sessions

    public func openSession(userID: String, agentID: String) async throws -> SessionView {
        guard let access = try await store.access(userID: userID, agentID: agentID), let agent = try await store.agent(id: agentID) else {
            throw RelayError.notFound("agent not found")
        }
        let shareID: String? = if case .guest(let id) = access { id } else { nil }
        try await takeBudget(.sessions, key: "sessions:user:\(userID)", perMinute: limits.sessionsPerMinute)
        let session = try await store.createSession(agentID: agent.id, userID: userID, shareID: shareID)
        let user = try await store.user(id: userID)
        try await append(
            RelayStreams.device(of: agent),
            SessionCreatedEvent(
                sessionID: session.id, agentID: agent.id, agentKey: agent.key,
                user: UserRef(id: userID, displayName: user?.displayName ?? "")))
        return try await view(session, agent: agent)
    }

    public func sessions(userID: String) async throws -> [SessionView] {
        var views: [SessionView] = []
        for session in try await store.sessions(userID: userID) {
            guard let agent = try await store.agent(id: session.agentID) else { continue }
            views.append(try await view(session, agent: agent))
        }
        return views
    }

    /// The caller's session and its agent, checked against current access: a session under a
    /// revoked or abandoned share is refused.
    public func usableSession(userID: String, id: String) async throws -> (ChatSession, Agent) {
        guard let session = try await store.session(id: id), session.userID == userID,
            let agent = try await store.agent(id: session.agentID)
        else { throw RelayError.notFound("session not found") }
        if let shareID = session.shareID {
            guard case .guest(let activeShare)? = try await store.access(userID: userID, agentID: agent.id), activeShare == shareID else {
                throw RelayError.shareRevoked
            }
        } else if agent.ownerID != userID {
            throw RelayError.notFound("session not found")
        }
        return (session, agent)
    }

    public func session(userID: String, id: String) async throws -> SessionView {
        let (session, agent) = try await usableSession(userID: userID, id: id)
        return try await view(session, agent: agent)
    }

    public func closeSession(userID: String, id: String) async throws {
        let (session, _) = try await usableSession(userID: userID, id: id)
        if try await store.closeSession(id: session.id) { try await announceClosed(session, reason: .closedByUser) }
    }

    func view(_ session: ChatSession, agent: Agent) async throws -> SessionView {
        SessionView(
            id: session.id, agentID: agent.id, agentName: agent.name, userID: session.userID, shareID: session.shareID,
            createdAt: session.createdAt, closedAt: session.closedAt, hostOnline: try await bus.isOnline(agent.deviceInstanceID),
            streamPosition: try await bus.head(of: RelayStreams.session(session.id)).description)
    }

    func announceClosed(_ session: ChatSession, reason: SessionCloseReason) async throws {
        let closed = SessionClosedEvent(sessionID: session.id, reason: reason)
        try await append(RelayStreams.session(session.id), closed)
        if let agent = try await store.agent(id: session.agentID) {
            try await append(RelayStreams.device(of: agent), closed)
        }
    }

    // MARK: Messages

    /// Stores the message, then puts it on the session stream and in the host's inbox. If the
    /// host is offline it waits in the device stream's history (bounded by its length and age)
    /// and is delivered when the device resumes from its last position.
    public func postMessage(userID: String, sessionID: String, text: String?, idempotencyKey: String?) async throws -> PostedMessage {
        let (session, agent) = try await usableSession(userID: userID, id: sessionID)
        guard session.closedAt == nil else { throw RelayError.sessionClosed }
        guard let text, !text.isEmpty else { throw RelayError.invalid("text must not be empty") }
        guard text.utf8.count <= limits.maximumMessageBytes else { throw RelayError.tooLarge(limit: limits.maximumMessageBytes) }
        if let key = idempotencyKey, !(1...200).contains(key.count) { throw RelayError.invalid("idempotency keys are 1-200 characters") }
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
                    user: UserRef(id: userID, displayName: user?.displayName ?? "")))
        }
        return PostedMessage(message: view, hostOnline: online, queued: !online, created: created)
    }

    public func messages(userID: String, sessionID: String) async throws -> [MessageView] {
        let (session, _) = try await usableSession(userID: userID, id: sessionID)
        return try await store.messages(sessionID: session.id).map(MessageView.init)
    }

    /// What the caller's own device still has to answer (see `SharingStore.unansweredMessages`).
    public func unansweredMessages(userID: String, deviceID: String) async throws -> [MessageCreatedEvent] {
        let device = try await ownDevice(userID: userID, id: deviceID)
        return try await store.unansweredMessages(deviceID: device.id).map(MessageCreatedEvent.init)
    }

    /// A hosting device answers: deltas stream to the guest, `done` stores the full reply,
    /// `error` reports a failure. Only the device hosting the session's agent may answer, and
    /// not once the session is closed or its share revoked.
    public func postReply(
        userID: String, deviceID: String, sessionID: String, kind: ReplyKind, replyTo: String?, text: String?, index: Int?
    ) async throws -> MessageView? {
        let device = try await ownDevice(userID: userID, id: deviceID)
        guard let session = try await store.session(id: sessionID), let agent = try await store.agent(id: session.agentID),
            agent.deviceID == device.id
        else { throw RelayError.notFound("session not found") }
        if let shareID = session.shareID, let share = try await store.share(id: shareID), share.revokedAt != nil {
            throw RelayError.shareRevoked
        }
        guard session.closedAt == nil else { throw RelayError.sessionClosed }
        let text = text ?? ""
        let maximumBytes = min(limits.maximumMessageBytes * 4, limits.replyBytesPerMinute)
        guard text.utf8.count <= maximumBytes else { throw RelayError.tooLarge(limit: maximumBytes) }
        try await takeBudget(.replies, key: "replies:device:\(device.instanceID)", perMinute: limits.repliesPerMinute)
        try await takeBudget(
            .replyBytes, key: "reply-bytes:device:\(device.instanceID)", cost: text.utf8.count, perMinute: limits.replyBytesPerMinute)
        let stream = RelayStreams.session(session.id)
        switch kind {
        case .delta:
            try await append(stream, ReplyDeltaEvent(sessionID: session.id, replyTo: replyTo ?? "", index: index ?? 0, text: text))
            return nil
        case .done:
            let (message, created) = try await store.addMessage(
                sessionID: session.id, role: .agent, authorID: nil, replyTo: replyTo, text: text,
                idempotencyKey: replyTo.map { "reply:\($0)" })
            let view = MessageView(message)
            if created { try await append(stream, ReplyDoneEvent(sessionID: session.id, message: view)) }
            return view
        case .error:
            try await append(stream, ReplyErrorEvent(sessionID: session.id, replyTo: replyTo ?? "", error: String(text.prefix(2000))))
            return nil
        }
    }

    // MARK: Budgets

    /// Takes `cost` from a per-minute budget shared by every replica, or refuses naming the limit.
    func takeBudget(_ limit: UsageLimit, key: String, cost: Int = 1, perMinute: Int) async throws {
        let decision = try await ephemeral.consume(key, cost: cost, limit: .perMinute(perMinute))
        guard decision.allowed else {
            throw RelayError.rateLimited(limit, retryAfterSeconds: max(1, Int(decision.retryAfter.components.seconds) + 1))
        }
    }

    /// Counts a stream about to open against its user's (and device's) budget of open streams,
    /// or refuses naming the limit reached. The stream renews the lease while open and
    /// releases it when it ends.
    public func acquireStreamLease(userID: String, device: Device? = nil) async throws -> StreamLease {
        var budgets = [("streams:user:\(userID)", UsageLimit.streamsPerUser, limits.streamsPerUser)]
        if let device { budgets.append(("streams:device:\(device.instanceID)", .streamsPerDevice, limits.streamsPerDevice)) }
        let lease = StreamLease(
            keys: budgets.map(\.0), holder: UUID().uuidString, ephemeral: ephemeral, ttl: limits.streamLeaseTTL,
            renewal: limits.streamLeaseRenewal)
        for (index, (key, limit, maximum)) in budgets.enumerated() {
            guard try await ephemeral.acquireLease(key, holder: lease.holder, limit: maximum, ttl: lease.ttl) else {
                for (heldKey, _, _) in budgets[..<index] { try? await ephemeral.releaseLease(heldKey, holder: lease.holder) }
                logger.notice(
                    "stream refused: limit reached",
                    metadata: ["event": "relay.stream_limit", "limit": .string(limit.rawValue), "user_id": .string(userID)])
                throw RelayError.tooManyStreams(limit, maximum: maximum)
            }
        }
        return lease
    }

    // MARK: Streams

    func append<Payload: EventPayload>(_ stream: StreamName, _ payload: Payload) async throws {
        _ = try await bus.append(to: stream, type: Payload.eventType.rawValue, data: try WireJSON.string(payload))
    }
}

/// One open stream's hold on its user's (and device's) stream budgets.
public struct StreamLease: Sendable {
    let keys: [String]
    let holder: String
    let ephemeral: any EphemeralStore
    let ttl: Duration
    /// How often the stream should call `renew()`.
    public let renewal: Duration

    public func renew() async {
        for key in keys { _ = try? await ephemeral.acquireLease(key, holder: holder, limit: .max, ttl: ttl) }
    }

    public func release() async {
        for key in keys { try? await ephemeral.releaseLease(key, holder: holder) }
    }
}
