import AsyncHTTPClient
import Foundation
import GatewayConfig
import GatewayEvents
import GatewayServer
import GatewayTestSupport
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServerSentEvents
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Test-only routes over the real stream engine: GET streams a named stream, POST appends.
func mountStreamTestRoutes(_ router: Router<GatewayRequestContext>, _ services: GatewayDependencies) {
    router.get("/test/streams/:name") { request, context in
        let name = try context.parameters.require("name")
        guard let stream = StreamName(name) else { throw HTTPError(.badRequest) }
        return services.eventStream(stream, request: request, context: context)
    }
    router.post("/test/streams/:name") { request, context in
        let name = try context.parameters.require("name")
        guard let stream = StreamName(name) else { throw HTTPError(.badRequest) }
        let body = try await request.body.collect(upTo: 1 << 20)
        let event = try await services.bus.append(to: stream, type: "test.event", data: String(buffer: body))
        return event.position.description
    }
}

enum StreamBackend: String, CaseIterable, CustomTestStringConvertible {
    case redis, memory
    var testDescription: String { rawValue }

    /// The in-memory gateway always; Redis and Postgres where the test services are (always
    /// under `scripts/test.sh` and CI).
    static var runnable: [StreamBackend] { allCases.filter { $0 != .redis || TestEnvironment.runs([.redis, .postgres]) } }
}

/// A live gateway with the test stream routes; `dev` uses SQLite and the in-process bus.
func withStreamingGateway(
    _ backend: StreamBackend, environment overrides: [String: String] = [:], redisURL: String? = nil,
    metrics: GatewayMetrics = GatewayMetrics(), _ body: @Sendable (String) async throws -> Void
) async throws {
    var environment: [String: String]
    switch backend {
    case .redis:
        environment = serveEnvironment(
            port: 8080, databaseURL: try await TestEnvironment.createDatabase(), redisURL: try redisURL ?? TestEnvironment.redisURL())
        environment["REDIS_KEY_PREFIX"] = "test:\(UUID().uuidString):"
    case .memory:
        environment = ["DATABASE_URL": "sqlite::memory:"]
    }
    environment.merge(overrides) { $1 }
    let configuration = try Gateway.loadConfiguration(mode: backend == .redis ? .serve : .dev, environment: environment)
    let dependencies = try await GatewayDependencies.make(configuration: configuration, logger: Logger(label: "test"), metrics: metrics)
    let router = Gateway.buildRouter(dependencies)
    mountStreamTestRoutes(router, dependencies)
    let app = Gateway.makeApplication(dependencies, router: router)
    try await app.test(.live) { client in
        let base = "http://127.0.0.1:\(client.port!)"
        // Live delivery needs the Redis receiver connected: wait for readiness.
        _ = await eventually(timeout: .seconds(10)) {
            (try? await httpGet("\(base)/readyz").status) == 200
        }
        try await body(base)
    }
}

func append(_ base: String, _ stream: String, _ data: String) async throws -> String {
    var request = HTTPClientRequest(url: "\(base)/test/streams/\(stream)")
    request.method = .POST
    request.body = .bytes(ByteBuffer(string: data))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    return String(buffer: try await response.body.collect(upTo: 1024))
}

@Suite("Server-Sent Event streams over HTTP", .serialized)
struct EventStreamTests {
    @Test(arguments: StreamBackend.runnable)
    func freshConnectAnnouncesThePositionThenDeliversLiveEvents(backend: StreamBackend) async throws {
        try await withStreamingGateway(backend) { base in
            let connection = try await SSETestConnection.open("\(base)/test/streams/session:one")
            #expect(connection.status == 200)
            #expect(await connection.waitFor { !$0.events(ofType: "stream.open").isEmpty })
            let open = try #require(connection.events(ofType: "stream.open").first)
            #expect(open.id?.hasSuffix("-0") == true)
            var ids: [String] = []
            for index in 1...3 { ids.append(try await append(base, "session:one", #"{"n":\#(index)}"#)) }
            #expect(await connection.waitFor { $0.events(ofType: "test.event").count == 3 })
            #expect(connection.events(ofType: "test.event").map(\.id) == ids)
            #expect(connection.events(ofType: "test.event").map(\.data) == [#"{"n":1}"#, #"{"n":2}"#, #"{"n":3}"#])
            #expect(
                connection.items.first == .event(ServerSentEvent(retry: 2000))
                    || connection.items.contains { $0.event?.event == "stream.open" })
            await connection.close()
        }
    }

    @Test(arguments: StreamBackend.runnable)
    func resumeByHeaderOrQueryDeliversExactlyTheEventsAfterThePosition(backend: StreamBackend) async throws {
        try await withStreamingGateway(backend) { base in
            var ids: [String] = []
            for index in 1...6 { ids.append(try await append(base, "session:resume", "\(index)")) }
            for viaQuery in [false, true] {
                let connection = try await SSETestConnection.open(
                    "\(base)/test/streams/session:resume", lastEventID: ids[2], viaQuery: viaQuery)
                #expect(await connection.waitFor { $0.events(ofType: "test.event").count >= 3 })
                try await Task.sleep(for: .milliseconds(100))
                #expect(connection.events(ofType: "test.event").map(\.data) == ["4", "5", "6"])
                #expect(connection.events(ofType: "test.event").map(\.id) == Array(ids[3...]).map(Optional.some))
                await connection.close()
            }
        }
    }

    @Test(arguments: StreamBackend.runnable)
    func unknownOrTrimmedPositionsGetAResetNeverSilence(backend: StreamBackend) async throws {
        try await withStreamingGateway(backend, environment: ["STREAM_HISTORY_LENGTH": "3"]) { base in
            var ids: [String] = []
            for index in 1...6 { ids.append(try await append(base, "session:trim", "\(index)")) }
            var head = ids.last!
            for stale in ["garbage", "zzzzzzzzzzzzzzzz-2", ids[0]] {
                let connection = try await SSETestConnection.open("\(base)/test/streams/session:trim", lastEventID: stale)
                #expect(await connection.waitFor { !$0.events(ofType: "reset").isEmpty }, "\(stale)")
                let reset = try #require(connection.events(ofType: "reset").first)
                #expect(reset.id == head)
                #expect(connection.events(ofType: "test.event").isEmpty)
                // The stream goes on from the reset position.
                head = try await append(base, "session:trim", "more")
                #expect(await connection.waitFor { $0.events(ofType: "test.event").map(\.id) == [head] })
                await connection.close()
            }
        }
    }

    @Test func heartbeatsAndMaximumLifetime() async throws {
        try await withStreamingGateway(.memory, environment: ["SSE_HEARTBEAT_INTERVAL": "1", "SSE_MAX_LIFETIME": "3"]) { base in
            let connection = try await SSETestConnection.open("\(base)/test/streams/session:hb")
            #expect(await connection.waitFor(timeout: .seconds(3)) { $0.items.contains(.comment("heartbeat")) })
            #expect(await connection.waitFor(timeout: .seconds(6)) { $0.isFinished }, "the stream ends by itself")
        }
    }

    @Test func streamHeadersStopProxyBuffering() async throws {
        try await withStreamingGateway(.memory) { base in
            var request = HTTPClientRequest(url: "\(base)/test/streams/session:headers")
            request.headers.add(name: "Accept-Encoding", value: "gzip")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            #expect(response.headers.first(name: "Content-Type")?.hasPrefix("text/event-stream") == true)
            #expect(response.headers.first(name: "Cache-Control")?.contains("no-cache") == true)
            #expect(response.headers.first(name: "X-Accel-Buffering") == "no")
            #expect(response.headers.first(name: "Content-Encoding") == nil)
        }
    }

    /// Property: a client that drops its connection at random points and resumes with its last
    /// id receives every event exactly once, in order, including events appended while it was
    /// away and while it was catching up.
    @Test(arguments: StreamBackend.runnable)
    func randomDisconnectsAndResumesLoseAndRepeatNothing(backend: StreamBackend) async throws {
        try await withStreamingGateway(backend) { base in
            var generator = SeededGenerator(seed: backend == .redis ? 42 : 7)
            for run in 0..<12 {
                let stream = "session:prop-\(run)"
                let total = 60
                // Learn the starting position first (the stream is empty), then start writing.
                let first = try await SSETestConnection.open("\(base)/test/streams/\(stream)")
                #expect(await first.waitFor { !$0.events(ofType: "stream.open").isEmpty })
                await first.close()
                var lastID = first.events(ofType: "stream.open").first?.id
                let writer = Task {
                    for index in 1...total {
                        _ = try await append(base, stream, "\(index)")
                        if index % 7 == 0 { try await Task.sleep(for: .milliseconds(3)) }
                    }
                }
                var received: [String] = []
                var attempts = 0
                while received.count < total && attempts < 500 {
                    attempts += 1
                    let connection = try await SSETestConnection.open(
                        "\(base)/test/streams/\(stream)", lastEventID: lastID, viaQuery: Bool.random(using: &generator))
                    let stayFor = Int.random(in: 0...25, using: &generator)
                    _ = await connection.waitFor(timeout: .milliseconds(Int64(stayFor * 2 + 5))) {
                        $0.events(ofType: "test.event").count >= stayFor
                    }
                    await connection.close()
                    for event in connection.events {
                        #expect(event.event == "test.event", "unexpected \(event.event ?? "message")")
                        if event.event == "test.event" { received.append(event.data) }
                        if let id = event.id { lastID = id }
                    }
                }
                try await writer.value
                #expect(received == (1...total).map(String.init), "run \(run)")
            }
        }
    }

    @Test(arguments: StreamBackend.runnable)
    func aClientThatGoesAwayFreesItsSubscriptionAtOnce(backend: StreamBackend) async throws {
        let metrics = GatewayMetrics()
        try await withStreamingGateway(backend, metrics: metrics) { base in
            let port = Int(base.split(separator: ":").last!)!
            let sockets = try (0..<5).map { _ in try RawStreamSocket(port: port, path: "/test/streams/session:gone") }
            #expect(await eventually(timeout: .seconds(5), every: .milliseconds(20)) { Self.openStreams(metrics) == 5 })
            for socket in sockets { socket.close() }
            #expect(await eventually(timeout: .seconds(2), every: .milliseconds(20)) { Self.openStreams(metrics) == 0 })
            #expect(
                String(decoding: metrics.render(), as: UTF8.self).contains(#"gateway_event_streams_ended_total{reason="client_gone"} 5"#))
        }
    }

    @Test func aSlowClientIsDisconnectedInsteadOfBufferedWithoutBound() async throws {
        let metrics = GatewayMetrics()
        try await withStreamingGateway(.memory, metrics: metrics) { base in
            // Open a stream and never read it: TCP buffers fill, then the subscription's buffer.
            let port = Int(base.split(separator: ":").last!)!
            let socket = try RawStreamSocket(port: port, path: "/test/streams/session:slow")
            defer { socket.close() }
            #expect(await eventually(timeout: .seconds(5), every: .milliseconds(20)) { Self.openStreams(metrics) == 1 })
            // How many events the kernel's socket buffers absorb before the stream's own backlog
            // starts depends on the machine (its TCP buffer limits), so events keep coming until
            // the stream is cut, up to far more than any such buffer holds (160 MB).
            let payload = String(repeating: "x", count: 16 * 1024)
            for index in 0..<10_000 {
                _ = try await append(base, "session:slow", payload)
                if index % 50 == 49, Self.endedCount(metrics, "slow_client") == 1 { break }
            }
            #expect(await eventually(timeout: .seconds(10), every: .milliseconds(20)) { Self.endedCount(metrics, "slow_client") == 1 })
        }
    }

    @Test func gracefulShutdownEndsOpenStreamsPromptly() async throws {
        let metrics = GatewayMetrics()
        let closedAt = TimeBox()
        var sockets: [RawStreamSocket] = []
        defer { sockets.forEach { $0.close() } }
        let socketsBox = SocketsBox()
        try await withStreamingGateway(.memory, metrics: metrics) { base in
            let port = Int(base.split(separator: ":").last!)!
            for _ in 0..<3 { socketsBox.append(try RawStreamSocket(port: port, path: "/test/streams/session:shutdown")) }
            #expect(await eventually(timeout: .seconds(5), every: .milliseconds(20)) { Self.openStreams(metrics) == 3 })
            closedAt.mark()
        }
        sockets = socketsBox.sockets
        let shutdownTook = ContinuousClock.now - closedAt.instant!
        #expect(shutdownTook < .seconds(5), "graceful shutdown took \(shutdownTook) with open streams")
        #expect(String(decoding: metrics.render(), as: UTF8.self).contains(#"gateway_event_streams_ended_total{reason="shutdown"} 3"#))
    }

    static func endedCount(_ metrics: GatewayMetrics, _ reason: String) -> Int {
        let text = String(decoding: metrics.render(), as: UTF8.self)
        let prefix = "gateway_event_streams_ended_total{reason=\"\(reason)\"} "
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        return Int(line.dropFirst(prefix.count)) ?? -1
    }

    static func openStreams(_ metrics: GatewayMetrics) -> Int {
        let text = String(decoding: metrics.render(), as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("gateway_event_streams_open ") }) else { return -1 }
        return Int(Double(line.split(separator: " ").last ?? "") ?? -1)
    }
}

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

/// A bare TCP client that sends one streaming GET and can be closed abruptly, as a browser
/// tab that goes away would.
final class RawStreamSocket: Sendable {
    let descriptor: Int32

    init(port: Int, path: String) throws {
        descriptor = try connectLoopback(port: port)
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        _ = request.withCString { send(descriptor, $0, strlen($0), 0) }
    }

    func close() {
        _ = Glibc.close(descriptor)
    }
}

final class TimeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: ContinuousClock.Instant?
    func mark() { lock.withLock { value = .now } }
    var instant: ContinuousClock.Instant? { lock.withLock { value } }
}

final class SocketsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [RawStreamSocket] = []
    func append(_ socket: RawStreamSocket) { lock.withLock { stored.append(socket) } }
    var sockets: [RawStreamSocket] { lock.withLock { stored } }
}
