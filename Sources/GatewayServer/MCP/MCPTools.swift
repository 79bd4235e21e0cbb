import Foundation
import GatewayProtocol
import GatewayRelay

/// The MCP tools a caller sees: one per agent they may use (their own and those shared with
/// them). A tool's name is the agent's name made safe (`[a-z0-9_]`, at most 40 characters) and
/// the first 8 characters of the agent's id, so it stays the same across listings, sessions and
/// replicas, and two agents with the same name still differ.
struct MCPTools: Sendable {
    let relay: RelayService

    static func toolName(for agent: AgentView) -> String {
        var slug = ""
        var lastWasSeparator = true
        for scalar in agent.name.lowercased().unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                slug.unicodeScalars.append(scalar)
                lastWasSeparator = false
            } else if !lastWasSeparator {
                slug += "_"
                lastWasSeparator = true
            }
        }
        while slug.hasSuffix("_") { slug.removeLast() }
        if slug.isEmpty { slug = "agent" }
        let suffix = agent.id.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(8)
        return "\(slug.prefix(40))_\(suffix)"
    }

    static func description(for agent: AgentView) -> String {
        let whose =
            agent.access == .owner
            ? "Your agent \"\(agent.name)\", running on your device \(agent.deviceID)."
            : "The agent \"\(agent.name)\" that \(agent.ownerName) shares with you, running on their computer."
        let about = agent.description.isEmpty ? "" : " \(agent.description)"
        return """
            \(whose)\(about) Sends it a message and returns its reply. To continue the same conversation, \
            pass the conversation_id that an earlier call returned.
            """
    }

    static let inputSchema: JSONValue = [
        "type": "object",
        "properties": [
            "message": ["type": "string", "description": "The message to send to the agent."],
            "conversation_id": [
                "type": "string",
                "description": "Continue this conversation (returned by an earlier call); leave out to start a new one.",
            ],
        ],
        "required": ["message"],
    ]

    func list(userID: String) async throws -> [JSONValue] {
        try await relay.agents(userID: userID).map { agent in
            [
                "name": .string(Self.toolName(for: agent)),
                "title": .string(agent.name),
                "description": .string(Self.description(for: agent)),
                "inputSchema": Self.inputSchema,
                "annotations": ["readOnlyHint": false, "openWorldHint": true],
            ]
        }
    }

    /// The agent behind a tool name, if the caller may still use it.
    func agent(named name: String, userID: String) async throws -> AgentView? {
        try await relay.agents(userID: userID).first { Self.toolName(for: $0) == name }
    }
}
