import Foundation
import GatewayEphemeral
import GatewayEvents
import GatewayProtocol
import GatewayRelay
import GatewayStore
import Logging

/// A `RelayService` over SQLite in memory and the in-process bus and ephemeral store (the
/// contract suites prove those equal to Postgres and Redis): the sharing and relay rules at
/// unit-test speed, with no HTTP in between.
func withRelay(limits: RelayLimits = RelayLimits(), _ body: @Sendable (RelayWorld) async throws -> Void) async throws {
    let logger = Logger(label: "relay-test")
    let store = try await GatewayStore.open(.sqlite(path: ":memory:"), logger: logger)
    let runner = Task { await store.database.run() }
    do {
        _ = try await Migrator(database: store.database, logger: logger).migrate()
        let relay = RelayService(
            store: store, bus: MemoryEventBus(), ephemeral: MemoryEphemeralStore(), publicBaseURL: "http://localhost:8080",
            limits: limits, logger: logger)
        try await body(RelayWorld(relay: relay))
    } catch {
        runner.cancel()
        await runner.value
        throw error
    }
    runner.cancel()
    await runner.value
}

struct RelayWorld: Sendable {
    let relay: RelayService

    func user(_ name: String) async throws -> String {
        try await relay.store.createUser(displayName: name).id
    }

    /// An owner's agent on a device of theirs.
    func agent(owner: String, key: String = "helper") async throws -> AgentView {
        let (device, _) = try await relay.registerDevice(userID: owner, id: "laptop-\(owner.prefix(8))", name: "Laptop", platform: "linux")
        return try await relay.publishAgent(
            userID: owner, deviceID: device.id, key: key, name: "Helper", description: "Answers", capabilities: nil
        ).0
    }

    /// `guest` accepts a share of `agent` made by `owner`.
    func share(_ agent: AgentView, owner: String, with guest: String) async throws -> CreatedShare {
        let created = try await relay.createShare(userID: owner, agentID: agent.id, label: nil, expiresInSeconds: nil, maxUses: nil)
        _ = try await relay.acceptInvite(userID: guest, code: created.code)
        return created
    }
}

/// The error `body` threw, or nil.
func relayError(_ body: () async throws -> some Any) async -> RelayError? {
    do {
        _ = try await body()
        return nil
    } catch let error as RelayError {
        return error
    } catch {
        return nil
    }
}
