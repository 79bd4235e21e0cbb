import AsyncHTTPClient
import Hummingbird
import HummingbirdCore
import HummingbirdTesting
import NIOCore
import NIOHTTPTypes
import Testing

@testable import GatewayServer

/// What the event streams assume of Hummingbird's HTTP/1 pipeline (`LiveEventStream` takes a
/// connection over from inside it), pinned here so that a Hummingbird release that changes it
/// fails these tests by name instead of breaking streams in subtle ways.
@Suite("Hummingbird pipeline assumptions")
struct HummingbirdPipelineTests {
    /// A route that reports its connection's pipeline, on the gateway's own request context.
    func withPipelineReport(_ body: @Sendable (String) async throws -> Void) async throws {
        let router = Router(context: GatewayRequestContext.self)
        router.get("/pipeline") { _, context in
            try await context.channel.eventLoop.submit {
                let operations = context.channel.pipeline.syncOperations
                let connection = try operations.context(handlerType: HTTPConnectionStateHandler.self)
                let description = context.channel.pipeline.debugDescription
                let codecFirst =
                    (description.range(of: "HTTP1ToHTTPServerCodec")?.lowerBound ?? description.endIndex)
                    < (description.range(of: "HTTPConnectionStateHandler")?.lowerBound ?? description.startIndex)
                return "connection=\(connection.name) codecFirst=\(codecFirst)\n\(description)"
            }.get()
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)")
        }
    }

    /// `LiveEventStream.install` finds `HTTPConnectionStateHandler` and sits in front of it, where
    /// the parts it reads and writes are HTTPTypes' (`HTTP1ToHTTPServerCodec` comes first).
    @Test func theConnectionHandlerFollowsTheHTTPTypesCodec() async throws {
        try await withPipelineReport { base in
            let response = try await HTTPClient.shared.get(url: base + "/pipeline").get()
            let report = String(buffer: response.body ?? ByteBuffer())
            #expect(response.status == .ok, "\(report)")
            #expect(report.contains("codecFirst=true"), "\(report)")
        }
    }

    /// A stream handed over is served from the pipeline after the request's task ended with
    /// `HandedOver`: Hummingbird's close is swallowed, and the handler's own heartbeat arrives.
    @Test func aHandedOverStreamOutlivesItsRequestTask() async throws {
        try await withStreamingGateway(.memory, environment: ["SSE_HEARTBEAT_INTERVAL": "1s"]) { base in
            let alice = try await APITestClient.signIn("Alice", at: base)
            let stream = try await alice.stream("/v1/events")
            #expect(await stream.waitFor { !$0.events(ofType: "stream.open").isEmpty })
            #expect(await stream.waitFor(timeout: .seconds(5)) { $0.items.contains(.comment("heartbeat")) })
            #expect(!stream.isFinished, "the connection is still open")
            #expect(try await alice.call(.GET, "/v1/me").status == 200)
            await stream.close()
        }
    }
}
