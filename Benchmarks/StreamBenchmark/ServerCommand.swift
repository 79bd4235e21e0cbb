import ArgumentParser
import Foundation
import GatewayConfig
import GatewayEvents
import GatewayServer
import Hummingbird
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The gateway under test, in its own process so its memory can be read alone: the real
/// application (`Gateway.makeApplication`, Redis event bus) plus two bench routes.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "Run the gateway with the benchmark stream routes until SIGTERM.")

    @Option(help: "Port to listen on (127.0.0.1).")
    var port: Int

    @Option(name: .customLong("redis-url"), help: "Redis to use, e.g. redis://127.0.0.1:6390.")
    var redisURL: String

    @Option(name: .customLong("key-prefix"), help: "REDIS_KEY_PREFIX for this run.")
    var keyPrefix = "bench:"

    @Option(name: .customLong("log-level"), help: "LOG_LEVEL of the gateway.")
    var logLevel = "warning"

    @Option(name: .customLong("parent-pid"), help: "Shut down (as on SIGTERM) when this process is no longer the parent.")
    var parentPID: Int32?

    func run() async throws {
        raiseOpenFileLimit()
        if let parentPID {
            // The driver was killed without stopping us: do not linger as an orphan.
            let watcher = Thread {
                while getppid() == parentPID { sleep(1) }
                kill(getpid(), SIGTERM)
            }
            watcher.start()
        }
        var keyBytes = [UInt8](repeating: 0, count: 36)
        for index in keyBytes.indices { keyBytes[index] = UInt8.random(in: 0...255) }
        let environment = [
            "PORT": String(port),
            "BIND_ADDRESS": "127.0.0.1",
            "PUBLIC_BASE_URL": "http://127.0.0.1:\(port)",
            "JWT_SIGNING_KEY": Data(keyBytes).base64EncodedString(), // 48 base64 characters
            "REDIS_URL": redisURL,
            "REDIS_KEY_PREFIX": keyPrefix,
            "DATABASE_URL": "sqlite::memory:",
            "AUTH_MODE": "demo",
            "LOG_LEVEL": logLevel,
        ]
        let configuration = try Gateway.loadConfiguration(mode: .serve, environment: environment)
        LoggingSetup.bootstrap(format: configuration.logFormat, level: configuration.logLevel)
        let logger = Logger(label: "gateway-stream-bench")
        let dependencies = try await GatewayDependencies.make(configuration: configuration, logger: logger, metrics: GatewayMetrics())
        let router = Gateway.buildRouter(dependencies)
        mountBenchRoutes(router, dependencies)
        let app = Gateway.makeApplication(dependencies, router: router)
        // Runs until SIGTERM/SIGINT, then shuts down gracefully (open streams end with `shutdown`).
        try await app.runService()
    }
}

/// GET streams a named stream as SSE (the production responder); POST appends the request
/// body as the data of a `bench.event` and answers with the event's position.
func mountBenchRoutes(_ router: Router<GatewayRequestContext>, _ services: GatewayDependencies) {
    router.get("/bench/streams/:name") { request, context in
        let name = try context.parameters.require("name")
        guard let stream = StreamName(name) else { throw HTTPError(.badRequest) }
        return services.eventStream(stream, request: request, context: context)
    }
    // Diagnostic, for the memory figure: a long-lived text/event-stream response that writes one
    // event and then only waits for the client to go away; no subscription, no stream session.
    // The difference to /bench/streams is what the stream machinery costs per connection.
    router.get("/bench/hold") { _, context in
        let channel = context.channel
        let body = ResponseBody { writer in
            services.metrics.recordStreamOpened()
            try await writer.write(ByteBuffer(string: "event: stream.open\ndata: {}\n\n"))
            try? await channel.closeFuture.get()
            services.metrics.recordStreamEnded(reason: "client_gone")
            try? await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: body)
    }
    // Diagnostic: glibc's malloc_stats() prints the heap bytes in use (live allocations, unlike
    // RSS, which also counts freed memory not yet returned and thread stacks) to stderr, which
    // is the server log the driver reads. (malloc.h is not visible to Swift; dlsym finds it.)
    router.get("/bench/heap") { _, _ in
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_stats") else { throw HTTPError(.notImplemented) }
        unsafeBitCast(symbol, to: (@convention(c) () -> Void).self)()
        return "ok"
    }
    router.post("/bench/streams/:name") { request, context in
        let name = try context.parameters.require("name")
        guard let stream = StreamName(name) else { throw HTTPError(.badRequest) }
        let body = try await request.body.collect(upTo: 64 * 1024)
        let event = try await services.bus.append(to: stream, type: "bench.event", data: String(buffer: body))
        return event.position.description
    }
}
