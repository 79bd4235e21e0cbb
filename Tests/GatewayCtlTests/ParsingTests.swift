import Testing

@testable import GatewayClient

@Suite struct AgentSpecTests {
    @Test func plainNameIsEcho() throws {
        #expect(try AgentSpec.parseAll(["helper"], command: nil, model: nil) == [AgentSpec(key: "helper", backend: .echo)])
    }
}
