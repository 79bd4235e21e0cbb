import Foundation
import GatewayProtocol
import Testing

/// MCP tool names and OpenAI model ids (docs/clients.md): readable, safe, stable, distinct.
@Suite("Readable agent ids")
struct AgentNamesTests {
    static func agent(_ name: String, id: String = "2B7C1A3F-0000-4000-8000-000000000000") -> AgentView {
        AgentView(
            id: id, deviceID: "laptop", key: "k", name: name, description: "", capabilities: [], ownerID: "o", ownerName: "Olga",
            access: .owner, shareID: nil, hostOnline: true)
    }

    @Test(arguments: [
        ("Release Notes!", "release_notes_2b7c1a3f", "release-notes-2b7c1a3f"),
        ("  --Echo--  ", "echo_2b7c1a3f", "echo-2b7c1a3f"),
        ("日本語のエージェント", "agent_2b7c1a3f", "agent-2b7c1a3f"),
        ("Café au lait v2", "caf_au_lait_v2_2b7c1a3f", "caf-au-lait-v2-2b7c1a3f"),
        // A cut that ends on a separator does not double it.
        (
            String(repeating: "a", count: 39) + " tail", String(repeating: "a", count: 39) + "_2b7c1a3f",
            String(repeating: "a", count: 39) + "-2b7c1a3f"
        ),
    ])
    func namesAreMadeSafe(name: String, tool: String, model: String) {
        let agent = Self.agent(name)
        #expect(agent.readableID(separator: "_") == tool)
        #expect(agent.modelID == model)
        #expect(!tool.contains("__") && !model.contains("--"))
    }

    @Test func twoAgentsWithOneNameDiffer() {
        let first = Self.agent("Echo", id: "11111111-0000-4000-8000-000000000000")
        let second = Self.agent("Echo", id: "22222222-0000-4000-8000-000000000000")
        #expect(first.modelID != second.modelID)
        #expect(first.modelID == "echo-11111111")
    }
}
