import Foundation
import GatewayEphemeral
import GatewayEvents
import GatewayProtocol
import GatewayStore
import Logging

// Agents: what a device publishes, and who sees which agent.
extension RelayService {
    package func publishAgent(
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

    package func unpublishAgent(userID: String, deviceID: String, key: String) async throws {
        let device = try await ownDevice(userID: userID, id: deviceID)
        guard let (agent, open) = try await store.unpublishAgent(deviceID: device.id, key: key) else {
            throw RelayError.notFound("agent not found")
        }
        for session in open { try await announceClosed(session, reason: .agentUnpublished) }
        try await append(RelayStreams.device(device), AgentUnpublishedEvent(agentID: agent.id, key: agent.key))
    }

    /// The caller's own agents and the agents shared with them.
    package func agents(userID: String) async throws -> [AgentView] {
        var views: [AgentView] = []
        for agent in try await store.agents(ownerID: userID) { views.append(try await view(agent, for: userID)) }
        for (agent, shareID) in try await store.sharedAgents(guestID: userID) {
            views.append(try await view(agent, for: userID, shareID: shareID))
        }
        return views
    }

    /// An agent the caller may use; anyone else (including a guest whose share was revoked) gets not found.
    package func agent(userID: String, id: String) async throws -> AgentView {
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
}
