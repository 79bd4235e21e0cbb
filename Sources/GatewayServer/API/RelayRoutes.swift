import Foundation
import GatewayEvents
import GatewayProtocol
import GatewayRelay
import GatewayStore
import Hummingbird

/// The `/v1` sharing and relay API (docs/openapi.yaml): thin handlers over `RelayService`.
struct RelayRoutes: Sendable {
    let relay: RelayService
    let streams: EventStreamResponder

    /// Registers on the `/v1` group, whose middleware has verified the caller's token.
    func register(on v1: RouterGroup<AuthenticatedContext>) {

        // Devices
        v1.get("devices") { request, context in try APIJSON.response(try await relay.devices(userID: context.caller.userID)) }
        v1.put("devices/:deviceID") { request, context in
            let userID = context.caller.userID
            let body = try await APIJSON.decode(DeviceBody.self, from: request)
            let (device, created) = try await relay.registerDevice(
                userID: userID, id: try context.parameters.require("deviceID"), name: body.name, platform: body.platform)
            return try APIJSON.response(device, status: created ? .created : .ok)
        }
        v1.get("devices/:deviceID") { request, context in
            let userID = context.caller.userID
            let device = try await relay.ownDevice(userID: userID, id: try context.parameters.require("deviceID"))
            return try APIJSON.response(try await relay.devices(userID: userID).first { $0.id == device.id })
        }
        v1.patch("devices/:deviceID") { request, context in
            let userID = context.caller.userID
            let body = try await APIJSON.decode(DeviceBody.self, from: request)
            return try APIJSON.response(
                try await relay.renameDevice(userID: userID, id: try context.parameters.require("deviceID"), name: body.name))
        }
        v1.delete("devices/:deviceID") { request, context in
            try await relay.deleteDevice(userID: context.caller.userID, id: try context.parameters.require("deviceID"))
            return APIJSON.noContent()
        }
        v1.get("devices/:deviceID/events") { request, context in
            let userID = context.caller.userID
            let device = try await relay.ownDevice(userID: userID, id: try context.parameters.require("deviceID"))
            let lease = try await relay.acquireStreamLease(userID: userID, device: device)
            let connection = UUID().uuidString
            var hooks = EventStreamResponder.Hooks()
            hooks.opened = { await relay.deviceStreamOpened(device, connection: connection) }
            hooks.closed = { reason in
                // The server ended it (lifetime, shutdown) and its client reconnects at once: the
                // device stays online meanwhile instead of flickering offline and back.
                let reconnecting = reason == .lifetime || reason == .shutdown
                await relay.deviceStreamClosed(device, connection: connection, reconnecting: reconnecting)
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
            hooks.keepOpenAfter = { event in event.type != EventType.deviceDeleted.rawValue }
            return streams.response(RelayStreams.device(device), request: request, context: context, hooks: hooks)
        }
        v1.put("devices/:deviceID/agents/:agentKey") { request, context in
            let userID = context.caller.userID
            let body = try await APIJSON.decode(AgentBody.self, from: request)
            let (agent, created) = try await relay.publishAgent(
                userID: userID, deviceID: try context.parameters.require("deviceID"), key: try context.parameters.require("agentKey"),
                name: body.name, description: body.description, capabilities: body.capabilities)
            return try APIJSON.response(agent, status: created ? .created : .ok)
        }
        v1.delete("devices/:deviceID/agents/:agentKey") { request, context in
            try await relay.unpublishAgent(
                userID: context.caller.userID, deviceID: try context.parameters.require("deviceID"),
                key: try context.parameters.require("agentKey"))
            return APIJSON.noContent()
        }
        v1.get("devices/:deviceID/unanswered") { request, context in
            let messages = try await relay.unansweredMessages(
                userID: context.caller.userID, deviceID: try context.parameters.require("deviceID"))
            return try APIJSON.response(UnansweredMessageList(messages: messages))
        }
        v1.post("devices/:deviceID/sessions/:sessionID/replies") { request, context in
            let userID = context.caller.userID
            let body = try await APIJSON.decode(ReplyBody.self, from: request)
            let message = try await relay.postReply(
                userID: userID, deviceID: try context.parameters.require("deviceID"),
                sessionID: try context.parameters.require("sessionID"), kind: body.kind, replyTo: body.replyTo, text: body.text,
                index: body.index)
            return try APIJSON.response(ReplyAccepted(message: message), status: .accepted)
        }

        // Agents and shares
        v1.get("agents") { request, context in try APIJSON.response(try await relay.agents(userID: context.caller.userID)) }
        v1.get("agents/:agentID") { request, context in
            try APIJSON.response(try await relay.agent(userID: context.caller.userID, id: try context.parameters.require("agentID")))
        }
        v1.post("agents/:agentID/shares") { request, context in
            let userID = context.caller.userID
            let body = try await APIJSON.decode(ShareBody.self, from: request)
            let created = try await relay.createShare(
                userID: userID, agentID: try context.parameters.require("agentID"), label: body.label, expiresInSeconds: body.expiresIn,
                maxUses: body.maxUses)
            return try APIJSON.response(created, status: .created)
        }
        v1.get("shares") { request, context in try APIJSON.response(try await relay.outgoingShares(userID: context.caller.userID)) }
        v1.get("shares/incoming") { request, context in try APIJSON.response(try await relay.incomingShares(userID: context.caller.userID))
        }
        v1.delete("shares/:shareID") { request, context in
            try APIJSON.response(
                try await relay.revokeShare(userID: context.caller.userID, shareID: try context.parameters.require("shareID")))
        }
        v1.delete("shares/:shareID/grant") { request, context in
            try await relay.leaveShare(userID: context.caller.userID, shareID: try context.parameters.require("shareID"))
            return APIJSON.noContent()
        }
        v1.get("invites/:code") { request, context in
            try APIJSON.response(try await relay.invite(code: try context.parameters.require("code")))
        }
        v1.post("invites/:code/accept") { request, context in
            let accepted = try await relay.acceptInvite(userID: context.caller.userID, code: try context.parameters.require("code"))
            return try APIJSON.response(accepted, status: accepted.newlyAccepted ? .created : .ok)
        }

        // Sessions and messages
        v1.post("sessions") { request, context in
            let userID = context.caller.userID
            let body = try await APIJSON.decode(SessionBody.self, from: request)
            return try APIJSON.response(try await relay.openSession(userID: userID, agentID: body.agentID), status: .created)
        }
        v1.get("sessions") { request, context in try APIJSON.response(try await relay.sessions(userID: context.caller.userID)) }
        v1.get("sessions/:sessionID") { request, context in
            try APIJSON.response(try await relay.session(userID: context.caller.userID, id: try context.parameters.require("sessionID")))
        }
        v1.patch("sessions/:sessionID") { request, context in
            let userID = context.caller.userID
            let body = try await APIJSON.decode(SessionPatch.self, from: request)
            return try APIJSON.response(
                try await relay.renameSession(userID: userID, id: try context.parameters.require("sessionID"), title: body.title))
        }
        v1.delete("sessions/:sessionID") { request, context in
            let userID = context.caller.userID
            let id = try context.parameters.require("sessionID")
            // `?erase=true` deletes the conversation with its messages; without it, it is closed and kept.
            switch request.uri.queryParameters.get("erase") {
            case nil, "false": try await relay.closeSession(userID: userID, id: id)
            case "true": try await relay.deleteSession(userID: userID, id: id)
            default: throw RelayError.invalid("erase is true or false")
            }
            return APIJSON.noContent()
        }
        v1.get("sessions/:sessionID/messages") { request, context in
            try APIJSON.response(
                try await relay.messages(userID: context.caller.userID, sessionID: try context.parameters.require("sessionID")))
        }
        v1.post("sessions/:sessionID/messages") { request, context in
            let userID = context.caller.userID
            let body = try await APIJSON.decode(MessageBody.self, from: request)
            let posted = try await relay.postMessage(
                userID: userID, sessionID: try context.parameters.require("sessionID"), text: body.text,
                idempotencyKey: request.headers[.init("Idempotency-Key")!] ?? body.clientMessageID)
            return try APIJSON.response(posted, status: posted.created ? .created : .ok)
        }
        v1.post("sessions/:sessionID/messages/:messageID/stop") { request, context in
            try await relay.stopReply(
                userID: context.caller.userID, sessionID: try context.parameters.require("sessionID"),
                messageID: try context.parameters.require("messageID"))
            return APIJSON.noContent()
        }
        v1.get("sessions/:sessionID/events") { request, context in
            let userID = context.caller.userID
            let (session, _) = try await relay.usableSession(userID: userID, id: try context.parameters.require("sessionID"))
            var hooks = try await leasedHooks(userID: userID)
            // The guest's stream ends right after it learns its access or the session ended.
            hooks.keepOpenAfter = { event in event.type != EventType.shareRevoked.rawValue && event.type != EventType.sessionClosed.rawValue
            }
            return streams.response(RelayStreams.session(session.id), request: request, context: context, hooks: hooks)
        }

        // The caller's notifications
        v1.get("events") { request, context in
            let userID = context.caller.userID
            return streams.response(
                RelayStreams.user(userID), request: request, context: context, hooks: try await leasedHooks(userID: userID))
        }
    }

    /// Hooks that hold one of the user's stream leases while the stream is open.
    func leasedHooks(userID: String) async throws -> EventStreamResponder.Hooks {
        let lease = try await relay.acquireStreamLease(userID: userID)
        var hooks = EventStreamResponder.Hooks()
        hooks.closed = { _ in await lease.release() }
        hooks.periodic = (lease.renewal, { await lease.renew() })
        return hooks
    }
}
