import Foundation
import GatewayEvents
import GatewayRelay
import GatewayStore
import Hummingbird

/// The `/v1` sharing and relay API (docs/openapi.yaml). Every route needs a bearer token.
struct RelayRoutes: Sendable {
    let relay: RelayService
    let authentication: BearerAuthentication
    let streams: EventStreamResponder

    struct DeviceBody: Decodable {
        let name: String?
        let platform: String?
    }

    struct AgentBody: Decodable {
        let name: String?
        let description: String?
        let capabilities: [String]?
    }

    struct ShareBody: Decodable {
        let label: String?
        let expiresIn: Int?
        let maxUses: Int?

        enum CodingKeys: String, CodingKey {
            case label
            case expiresIn = "expires_in"
            case maxUses = "max_uses"
        }
    }

    struct SessionBody: Decodable {
        let agentID: String

        enum CodingKeys: String, CodingKey { case agentID = "agent_id" }
    }

    struct MessageBody: Decodable {
        let text: String?
        let clientMessageID: String?

        enum CodingKeys: String, CodingKey {
            case text
            case clientMessageID = "client_message_id"
        }
    }

    struct ReplyBody: Decodable {
        let kind: String
        let replyTo: String?
        let text: String?
        let index: Int?

        enum CodingKeys: String, CodingKey {
            case kind, text, index
            case replyTo = "reply_to"
        }
    }

    func user(_ request: Request) async throws -> String {
        try await authentication.claims(for: request).subject
    }

    func register(on router: Router<GatewayRequestContext>) {
        let v1 = router.group("v1")

        // Devices
        v1.get("devices") { request, _ in try APIJSON.response(try await relay.devices(userID: try await user(request))) }
        v1.put("devices/:deviceID") { request, context in
            let userID = try await user(request)
            let body = try await APIJSON.decode(DeviceBody.self, from: request)
            let (device, created) = try await relay.registerDevice(
                userID: userID, id: try context.parameters.require("deviceID"), name: body.name, platform: body.platform)
            return try APIJSON.response(device, status: created ? .created : .ok)
        }
        v1.get("devices/:deviceID") { request, context in
            let userID = try await user(request)
            let device = try await relay.ownDevice(userID: userID, id: try context.parameters.require("deviceID"))
            return try APIJSON.response(try await relay.devices(userID: userID).first { $0.id == device.id })
        }
        v1.patch("devices/:deviceID") { request, context in
            let userID = try await user(request)
            let body = try await APIJSON.decode(DeviceBody.self, from: request)
            return try APIJSON.response(
                try await relay.renameDevice(userID: userID, id: try context.parameters.require("deviceID"), name: body.name))
        }
        v1.delete("devices/:deviceID") { request, context in
            try await relay.deleteDevice(userID: try await user(request), id: try context.parameters.require("deviceID"))
            return APIJSON.noContent()
        }
        v1.get("devices/:deviceID/events") { request, context in
            let userID = try await user(request)
            let device = try await relay.ownDevice(userID: userID, id: try context.parameters.require("deviceID"))
            let lease = try await relay.acquireStreamLease(userID: userID, device: device)
            let connection = UUID().uuidString
            var hooks = EventStreamResponder.Hooks()
            hooks.opened = { await relay.deviceStreamOpened(device, connection: connection) }
            hooks.closed = {
                await relay.deviceStreamClosed(device, connection: connection)
                await lease.release()
            }
            // Presence is refreshed far more often than the lease needs; one timer does both.
            hooks.periodic = (
                relay.limits.presenceRefresh,
                {
                    await relay.deviceStreamRefresh(device, connection: connection)
                    await lease.renew()
                }
            )
            // A deleted device's stream ends: its instance will never be written to again.
            hooks.keepOpenAfter = { event in event.type != RelayEvent.deviceDeleted }
            return streams.response(RelayStreams.device(device), request: request, context: context, hooks: hooks)
        }
        v1.put("devices/:deviceID/agents/:agentKey") { request, context in
            let userID = try await user(request)
            let body = try await APIJSON.decode(AgentBody.self, from: request)
            let (agent, created) = try await relay.publishAgent(
                userID: userID, deviceID: try context.parameters.require("deviceID"), key: try context.parameters.require("agentKey"),
                name: body.name, description: body.description, capabilities: body.capabilities)
            return try APIJSON.response(agent, status: created ? .created : .ok)
        }
        v1.delete("devices/:deviceID/agents/:agentKey") { request, context in
            try await relay.unpublishAgent(
                userID: try await user(request), deviceID: try context.parameters.require("deviceID"),
                key: try context.parameters.require("agentKey"))
            return APIJSON.noContent()
        }
        v1.get("devices/:deviceID/unanswered") { request, context in
            let messages = try await relay.unansweredMessages(
                userID: try await user(request), deviceID: try context.parameters.require("deviceID"))
            return try APIJSON.response(UnansweredMessageList(messages: messages))
        }
        v1.post("devices/:deviceID/sessions/:sessionID/replies") { request, context in
            let userID = try await user(request)
            let body = try await APIJSON.decode(ReplyBody.self, from: request)
            guard let kind = RelayService.ReplyKind(rawValue: body.kind) else {
                throw RelayError.invalid("kind must be delta, done or error")
            }
            let message = try await relay.postReply(
                userID: userID, deviceID: try context.parameters.require("deviceID"),
                sessionID: try context.parameters.require("sessionID"), kind: kind, replyTo: body.replyTo, text: body.text,
                index: body.index)
            return try APIJSON.response(ReplyAccepted(message: message), status: .accepted)
        }

        // Agents and shares
        v1.get("agents") { request, _ in try APIJSON.response(try await relay.agents(userID: try await user(request))) }
        v1.get("agents/:agentID") { request, context in
            try APIJSON.response(try await relay.agent(userID: try await user(request), id: try context.parameters.require("agentID")))
        }
        v1.post("agents/:agentID/shares") { request, context in
            let userID = try await user(request)
            let body = try await APIJSON.decode(ShareBody.self, from: request)
            let created = try await relay.createShare(
                userID: userID, agentID: try context.parameters.require("agentID"), label: body.label, expiresInSeconds: body.expiresIn,
                maxUses: body.maxUses)
            return try APIJSON.response(created, status: .created)
        }
        v1.get("shares") { request, _ in try APIJSON.response(try await relay.outgoingShares(userID: try await user(request))) }
        v1.get("shares/incoming") { request, _ in try APIJSON.response(try await relay.incomingShares(userID: try await user(request))) }
        v1.delete("shares/:shareID") { request, context in
            try APIJSON.response(
                try await relay.revokeShare(userID: try await user(request), shareID: try context.parameters.require("shareID")))
        }
        v1.delete("shares/:shareID/grant") { request, context in
            try await relay.leaveShare(userID: try await user(request), shareID: try context.parameters.require("shareID"))
            return APIJSON.noContent()
        }
        v1.get("invites/:code") { request, context in
            _ = try await user(request)
            return try APIJSON.response(try await relay.invite(code: try context.parameters.require("code")))
        }
        v1.post("invites/:code/accept") { request, context in
            let accepted = try await relay.acceptInvite(userID: try await user(request), code: try context.parameters.require("code"))
            return try APIJSON.response(accepted, status: accepted.newlyAccepted ? .created : .ok)
        }

        // Sessions and messages
        v1.post("sessions") { request, _ in
            let userID = try await user(request)
            let body = try await APIJSON.decode(SessionBody.self, from: request)
            return try APIJSON.response(try await relay.openSession(userID: userID, agentID: body.agentID), status: .created)
        }
        v1.get("sessions") { request, _ in try APIJSON.response(try await relay.sessions(userID: try await user(request))) }
        v1.get("sessions/:sessionID") { request, context in
            try APIJSON.response(try await relay.session(userID: try await user(request), id: try context.parameters.require("sessionID")))
        }
        v1.delete("sessions/:sessionID") { request, context in
            try await relay.closeSession(userID: try await user(request), id: try context.parameters.require("sessionID"))
            return APIJSON.noContent()
        }
        v1.get("sessions/:sessionID/messages") { request, context in
            try APIJSON.response(
                MessageList(
                    messages: try await relay.messages(
                        userID: try await user(request), sessionID: try context.parameters.require("sessionID"))))
        }
        v1.post("sessions/:sessionID/messages") { request, context in
            let userID = try await user(request)
            let body = try await APIJSON.decode(MessageBody.self, from: request)
            let posted = try await relay.postMessage(
                userID: userID, sessionID: try context.parameters.require("sessionID"), text: body.text,
                idempotencyKey: request.headers[.init("Idempotency-Key")!] ?? body.clientMessageID)
            return try APIJSON.response(posted, status: posted.created ? .created : .ok)
        }
        v1.get("sessions/:sessionID/events") { request, context in
            let userID = try await user(request)
            let (session, _) = try await relay.usableSession(userID: userID, id: try context.parameters.require("sessionID"))
            var hooks = try await leasedHooks(userID: userID)
            // The guest's stream ends right after it learns its access or the session ended.
            hooks.keepOpenAfter = { event in event.type != RelayEvent.shareRevoked && event.type != RelayEvent.sessionClosed }
            return streams.response(RelayStreams.session(session.id), request: request, context: context, hooks: hooks)
        }

        // The caller's notifications
        v1.get("events") { request, context in
            let userID = try await user(request)
            return streams.response(
                RelayStreams.user(userID), request: request, context: context, hooks: try await leasedHooks(userID: userID))
        }
    }

    /// Hooks that hold one of the user's stream leases while the stream is open.
    func leasedHooks(userID: String) async throws -> EventStreamResponder.Hooks {
        let lease = try await relay.acquireStreamLease(userID: userID)
        var hooks = EventStreamResponder.Hooks()
        hooks.closed = { await lease.release() }
        hooks.periodic = (lease.renewal, { await lease.renew() })
        return hooks
    }

    struct ReplyAccepted: Encodable {
        let message: Message?
    }

    struct MessageList: Encodable {
        let messages: [Message]
    }

    struct UnansweredMessageList: Encodable {
        let messages: [UnansweredMessageView]
    }
}
