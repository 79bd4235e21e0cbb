import Foundation
import GatewayClient
import GatewayProtocol
import Testing

/// The client library's event stream, against a real gateway.
@Suite("Event stream client")
struct EventStreamClientTests {
    /// Cancelling the task that reads `EventStream.updates()` closes the connection at once: the
    /// gateway sees the device stream end (the device goes offline) well within a heartbeat.
    @Test func cancellingTheConsumerClosesTheConnectionPromptly() async throws {
        let gateway = try await LiveGateway.dev()
        defer { gateway.stop() }
        let root = try temporaryDirectory("cancel-stream")
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try await login(gateway, configDir: root, as: "Olivia")
        let api = try GatewayAPI(directory: ConfigDirectory(path: root))
        _ = try await api.registerDevice(id: "cancel-test", name: "Test", platform: "linux")
        func online() async throws -> Bool { try await api.devices().value.first { $0.id == "cancel-test" }?.online == true }

        let (connected, signal) = AsyncStream.makeStream(of: Void.self)
        let consumer = Task {
            for try await update in EventStream(api: api, path: "/v1/devices/cancel-test/events", startAfter: nil).updates() {
                if case .connected = update { signal.yield() }
            }
        }
        for await _ in connected { break }
        var deadline = ContinuousClock.now + .seconds(5)
        while try await !online(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try await online())

        let cancelled = ContinuousClock.now
        consumer.cancel()
        deadline = cancelled + .seconds(20)
        while try await online(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let closedAfter = ContinuousClock.now - cancelled
        print("event stream: connection closed \(closedAfter) after the consumer was cancelled")
        #expect(closedAfter < .seconds(1), "the connection stayed open \(closedAfter) after the consumer was cancelled")
        _ = await consumer.result
    }
}
