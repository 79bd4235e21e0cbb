import GatewayProtocol
import GatewayRelay
import Testing

/// Who may see and use what, checked on `RelayService` itself: every rule refuses a different
/// user, and revocation takes effect at the next call.
@Suite("Sharing and relay rules")
struct SharingRulesTests {
    @Test func aStrangerSeesNoneOfTheOwnersThings() async throws {
        try await withRelay { world in
            let owner = try await world.user("Ada")
            let stranger = try await world.user("Mallory")
            let agent = try await world.agent(owner: owner)
            let session = try await world.relay.openSession(userID: owner, agentID: agent.id)

            #expect(try await world.relay.agents(userID: stranger).isEmpty)
            #expect(try await world.relay.devices(userID: stranger).isEmpty)
            #expect(await relayError { try await world.relay.agent(userID: stranger, id: agent.id) } == .notFound("agent not found"))
            #expect(await relayError { try await world.relay.openSession(userID: stranger, agentID: agent.id) } != nil)
            #expect(await relayError { try await world.relay.session(userID: stranger, id: session.id) } != nil)
            #expect(await relayError { try await world.relay.messages(userID: stranger, sessionID: session.id) } != nil)
            #expect(
                await relayError {
                    try await world.relay.postMessage(userID: stranger, sessionID: session.id, text: "hi", idempotencyKey: nil)
                } != nil)
            #expect(
                await relayError {
                    try await world.relay.createShare(userID: stranger, agentID: agent.id, label: nil, expiresInSeconds: nil, maxUses: nil)
                } == .notFound("agent not found"))
            #expect(
                await relayError {
                    try await world.relay.publishAgent(
                        userID: stranger, deviceID: "laptop-\(owner.prefix(8))", key: "x", name: nil, description: nil, capabilities: nil)
                } != nil)
        }
    }

    @Test func aGuestUsesTheSharedAgentUntilTheShareIsRevoked() async throws {
        try await withRelay { world in
            let owner = try await world.user("Ada")
            let guest = try await world.user("Grace")
            let agent = try await world.agent(owner: owner)
            let created = try await world.share(agent, owner: owner, with: guest)

            #expect(try await world.relay.agents(userID: guest).map(\.id) == [agent.id])
            let session = try await world.relay.openSession(userID: guest, agentID: agent.id)
            let posted = try await world.relay.postMessage(userID: guest, sessionID: session.id, text: "hello", idempotencyKey: "k1")
            #expect(posted.created)
            // A retry with the same key is the same message.
            let retried = try await world.relay.postMessage(userID: guest, sessionID: session.id, text: "hello", idempotencyKey: "k1")
            #expect(!retried.created && retried.message.id == posted.message.id)

            // Only the owner revokes; then the guest's next call is refused.
            #expect(await relayError { try await world.relay.revokeShare(userID: guest, shareID: created.share.id) } != nil)
            _ = try await world.relay.revokeShare(userID: owner, shareID: created.share.id)
            #expect(try await world.relay.agents(userID: guest).isEmpty)
            #expect(
                await relayError {
                    try await world.relay.postMessage(userID: guest, sessionID: session.id, text: "again", idempotencyKey: nil)
                } == .shareRevoked)
            #expect(await relayError { try await world.relay.openSession(userID: guest, agentID: agent.id) } != nil)
        }
    }

    @Test func invitesAreForOthersAndHonourTheirUses() async throws {
        try await withRelay { world in
            let owner = try await world.user("Ada")
            let first = try await world.user("Grace")
            let second = try await world.user("Linus")
            let agent = try await world.agent(owner: owner)
            let created = try await world.relay.createShare(userID: owner, agentID: agent.id, label: nil, expiresInSeconds: nil, maxUses: 1)

            #expect(await relayError { try await world.relay.acceptInvite(userID: owner, code: created.code) } == .ownInvite)
            let accepted = try await world.relay.acceptInvite(userID: first, code: created.code)
            #expect(accepted.newlyAccepted)
            // Accepting again is not a second use.
            #expect(try await !world.relay.acceptInvite(userID: first, code: created.code).newlyAccepted)
            #expect(await relayError { try await world.relay.acceptInvite(userID: second, code: created.code) } == .inviteExhausted)
            #expect(await relayError { try await world.relay.acceptInvite(userID: second, code: "not-a-code") } != nil)
        }
    }

    @Test func messagesOverTheBudgetAreRefusedNamingTheLimit() async throws {
        var limits = RelayLimits()
        limits.messagesPerMinute = 3
        try await withRelay(limits: limits) { world in
            let owner = try await world.user("Ada")
            let agent = try await world.agent(owner: owner)
            let session = try await world.relay.openSession(userID: owner, agentID: agent.id)
            for index in 1...3 {
                _ = try await world.relay.postMessage(userID: owner, sessionID: session.id, text: "m\(index)", idempotencyKey: nil)
            }
            let refused = await relayError {
                try await world.relay.postMessage(userID: owner, sessionID: session.id, text: "m4", idempotencyKey: nil)
            }
            guard case .rateLimited(let limit, let retryAfter) = refused else {
                Issue.record("expected a rate limit, got \(String(describing: refused))")
                return
            }
            #expect(limit == .messages)
            #expect(retryAfter >= 1)
            // Refused messages are not stored.
            #expect(try await world.relay.messages(userID: owner, sessionID: session.id).messages.count == 3)
        }
    }

    @Test func badInputChangesNothing() async throws {
        try await withRelay { world in
            let owner = try await world.user("Ada")
            let agent = try await world.agent(owner: owner)
            let session = try await world.relay.openSession(userID: owner, agentID: agent.id)
            #expect(
                await relayError { try await world.relay.postMessage(userID: owner, sessionID: session.id, text: "", idempotencyKey: nil) }
                    == .invalid("text must not be empty"))
            let huge = String(repeating: "x", count: world.relay.limits.maximumMessageBytes + 1)
            #expect(
                await relayError {
                    try await world.relay.postMessage(userID: owner, sessionID: session.id, text: huge, idempotencyKey: nil)
                }
                    == .tooLarge(limit: world.relay.limits.maximumMessageBytes))
            #expect(
                await relayError {
                    try await world.relay.createShare(userID: owner, agentID: agent.id, label: nil, expiresInSeconds: 5, maxUses: nil)
                } == .invalid("expires_in must be between 60 seconds and 365 days"))
            #expect(try await world.relay.messages(userID: owner, sessionID: session.id).messages.isEmpty)
            #expect(try await world.relay.outgoingShares(userID: owner).isEmpty)
        }
    }
}
