import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RedisClient
import Testing

/// Behaviour that a real Redis 7 will not show on demand (no HELLO, malformed or unsolicited
/// replies), exercised against a tiny scripted server on loopback.
@Suite struct RedisProtocolEdgeCaseTests {
    @Test func fallsBackToRESP2WhenHelloIsUnknown() async throws {
        let server = try await ScriptedServer { command in
            switch command.first {
            case "HELLO": "-ERR unknown command 'HELLO', with args beginning with: '3'\r\n"
            case "PING": "+PONG\r\n"
            default: "+OK\r\n"
            }
        }
        var configuration = try testConfiguration("redis://app:pa%3Ass@127.0.0.1:\(server.port)/3")
        configuration.clientName = "gw"
        let connection = try await RedisConnection.connect(configuration: configuration, logger: testLogger)
        #expect(connection.protocolVersion == .resp2)
        #expect(try await connection.ping() == "PONG")
        await connection.close()

        let received = server.receivedCommands
        #expect(received.map { $0.first ?? "" } == ["HELLO", "AUTH", "CLIENT", "SELECT", "PING"])
        #expect(received[1] == ["AUTH", "app", "pa:ss"])
        #expect(received[2] == ["CLIENT", "SETNAME", "gw"])
        #expect(received[3] == ["SELECT", "3"])
        await server.close()
    }

    @Test func overDeepReplyIsAProtocolErrorThatClosesTheConnection() async throws {
        let server = try await ScriptedServer { _ in
            String(repeating: "*1\r\n", count: 40) + ":1\r\n"
        }
        let configuration = try testConfiguration("redis://127.0.0.1:\(server.port)", protocolVersion: .resp2)
        let connection = try await RedisConnection.connect(configuration: configuration, logger: testLogger)
        let error = await expectRedisError { try await connection.ping() }
        guard case .protocolError(let message) = error else {
            Issue.record("expected protocolError, got \(String(describing: error))")
            return
        }
        #expect(message.contains("nesting"))
        try await eventually(timeout: .seconds(2)) { if connection.isActive { throw RedisError.connectionClosed } }
        await server.close()
    }

    @Test func unsolicitedReplyClosesTheConnection() async throws {
        let server = try await ScriptedServer { _ in "+PONG\r\n+SURPRISE\r\n" }
        let configuration = try testConfiguration("redis://127.0.0.1:\(server.port)", protocolVersion: .resp2)
        let connection = try await RedisConnection.connect(configuration: configuration, logger: testLogger)
        #expect(try await connection.ping() == "PONG")
        // The extra reply could be mistaken for the next command's: the connection is dropped instead.
        try await eventually(timeout: .seconds(2)) { if connection.isActive { throw RedisError.connectionClosed } }
        let error = await expectRedisError { try await connection.ping() }
        #expect(error == .connectionClosed)
        await server.close()
    }

    @Test func replyArrivingInTinyPiecesIsReassembled() async throws {
        let payload = String(repeating: "x", count: 5000)
        let server = try await ScriptedServer(chunkSize: 7) { _ in "$5000\r\n\(payload)\r\n" }
        let configuration = try testConfiguration("redis://127.0.0.1:\(server.port)", protocolVersion: .resp2)
        let connection = try await RedisConnection.connect(configuration: configuration, logger: testLogger)
        #expect(try await connection.send("GET", "k") == .bulkString(payload))
        await connection.close()
        await server.close()
    }
}

/// A loopback TCP server that decodes each incoming command and answers with `respond(command)`,
/// optionally in separate writes of `chunkSize` bytes.
final class ScriptedServer: Sendable {
    private let channel: any Channel
    private let recorder = CommandLog()
    var port: Int { channel.localAddress!.port! }
    var receivedCommands: [[String]] { recorder.commands }

    init(chunkSize: Int? = nil, respond: @escaping @Sendable ([String]) -> String) async throws {
        let recorder = self.recorder
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                do {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(
                        ScriptedHandler(recorder: recorder, chunkSize: chunkSize, respond: respond)
                    )
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async {
        try? await channel.close()
    }

    private final class ScriptedHandler: ChannelInboundHandler {
        typealias InboundIn = RESPValue
        typealias OutboundOut = ByteBuffer

        let recorder: CommandLog
        let chunkSize: Int?
        let respond: @Sendable ([String]) -> String

        init(recorder: CommandLog, chunkSize: Int?, respond: @escaping @Sendable ([String]) -> String) {
            self.recorder = recorder
            self.chunkSize = chunkSize
            self.respond = respond
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let command = (unwrapInboundIn(data).array ?? []).map { $0.string ?? "" }
            recorder.append(command)
            let reply = Array(respond(command).utf8)
            let size = chunkSize ?? max(reply.count, 1)
            for start in stride(from: 0, to: reply.count, by: size) {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: reply[start..<min(start + size, reply.count)])), promise: nil)
            }
        }
    }
}

/// Commands a ScriptedServer received, shared between its event loop and the test.
final class CommandLog: Sendable {
    private let storage = NIOLockedValueBox([[String]]())

    var commands: [[String]] { storage.withLockedValue { $0 } }
    func append(_ command: [String]) { storage.withLockedValue { $0.append(command) } }
}
