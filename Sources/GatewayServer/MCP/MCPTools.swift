import Foundation
import GatewayProtocol
import GatewayRelay

/// The MCP tools a caller sees: one per agent they may use (their own and those shared with
/// them). A tool's name is the agent's name made safe (`[a-z0-9_]`, at most 40 characters) and
/// the first 8 characters of the agent's id, so it stays the same across listings, sessions and
/// replicas, and two agents with the same name still differ.
struct MCPTools: Sendable {
    let relay: RelayService

    static func toolName(for agent: AgentView) -> String { agent.readableID(separator: "_") }

    /// The gateway's own sentence first; then the owner's description, marked as the owner's
    /// words and quoted, so an AI client can tell what the gateway says from what a person wrote
    /// (a description that reads "Ignore earlier instructions…" is visibly someone's text).
    /// Names and descriptions are shown without hidden characters (`PersonText`), also when they
    /// were stored before the gateway refused them.
    static func description(for agent: AgentView) -> String {
        let name = quoted(agent.name)
        let whose =
            agent.access == .owner
            ? "Sends a message to your agent \(name), running on your device \(quoted(agent.deviceID)), and returns its reply."
            : "Sends a message to the agent \(name) that \(quoted(agent.ownerName)) shares with you (it runs on their computer) and returns its reply."
        var text = "\(whose) To continue the same conversation, pass the conversation_id that an earlier call returned."
        if !agent.description.isEmpty {
            let author = agent.access == .owner ? "you" : quoted(agent.ownerName)
            text += "\nThe agent's description, written by \(author), not by this gateway: \(quoted(agent.description, limit: 1000))"
        }
        return text
    }

    /// A person's text as one quoted, bounded line: hidden characters and line breaks removed,
    /// and the quote marks it is shown in taken out of it, so it cannot close its own quotes.
    static func quoted(_ text: String, limit: Int = 200) -> String {
        let oneLine = text.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
            .replacingOccurrences(of: "\t", with: " ")
        let visible = PersonText.displayable(oneLine)
        return "“" + String(visible.filter { $0 != "“" && $0 != "”" }.prefix(limit)) + "”"
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
                "title": .string(PersonText.displayable(agent.name)),
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
