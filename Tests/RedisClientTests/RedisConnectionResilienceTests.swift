import Foundation
import GatewayTestSupport
import NIOConcurrencyHelpers
import NIOCore
import RedisClient
import Testing

/// Failure paths: restarts, timeouts, cancellation, authentication, unreachable servers, IPv6, TLS.
@Suite(.serialized, .requires(.redisServer)) struct RedisConnectionResilienceTests {
    static let protocols: [RESPProtocolVersion] = [.resp3, .resp2]

    // MARK: Restarts

    @Test func poolFailsFastDuringOutageAndRecoversAfterRestart() async throws {
        try await withRedisServer { server throws in
            var configuration = try testConfiguration(server.url)
            // Long timeouts: the failures below must come from the outage being noticed, not from
            // waiting the timeouts out.
            configuration.connectTimeout = .seconds(10)
            configuration.commandTimeout = .seconds(10)
            try await withClient(configuration) { client throws in
                try await client.set("before", to: "1")

                // A command in flight when the server dies fails promptly instead of hanging.
                let inFlight = Task { try await client.send("BLPOP", "never-filled", 5) }
                try await Task.sleep(for: .milliseconds(100))
                await server.kill()
                let inFlightResult = await inFlight.result
                #expect(throws: RedisError.self) { try inFlightResult.get() }

                // While Redis is down every command fails fast with a connection error.
                for _ in 0..<5 {
                    let duration = await elapsed {
                        let error = await expectRedisError { try await client.ping() }
                        #expect(error?.isConnectionError == true, "got \(String(describing: error))")
                    }
                    // Far below the 10 s timeouts; the margin is for parallel tests on two cores.
                    #expect(duration < .seconds(5))
                }

                try await server.start()
                // Same client object: it reconnects by itself once the backoff allows.
                _ = try await eventually { try await client.ping() }
                #expect(try await client.set("after", to: "2"))
                #expect(try await client.get("after") == "2")
            }
        }
    }

    @Test func commandsKeepWorkingAcrossAGracefulRestartUnderLoad() async throws {
        try await withRedisServer { server throws in
            var configuration = try testConfiguration(server.url)
            configuration.commandTimeout = .seconds(1)
            try await withClient(configuration) { client throws in
                let stop = ManagedFlag()
                // Continuous traffic from several tasks while the server restarts.
                let load = Task {
                    try await withThrowingTaskGroup(of: (Int, Int, Duration).self) { group in
                        for worker in 0..<4 {
                            group.addTask {
                                var successes = 0
                                var failures = 0
                                var slowest = Duration.zero
                                var iteration = 0
                                while !stop.isSet {
                                    iteration += 1
                                    let key = "load-\(worker)-\(iteration)"
                                    let start = ContinuousClock.now
                                    do {
                                        try await client.set(key, to: iteration)
                                        let value = try await client.get(key)
                                        // Data is lost on restart, but never mixed up.
                                        if let value, value != String(iteration) {
                                            Issue.record("mismatched reply \(value) for \(key)")
                                        }
                                        successes += 1
                                    } catch let error as RedisError {
                                        #expect(error.isConnectionError, "unexpected \(error)")
                                        failures += 1
                                        try await Task.sleep(for: .milliseconds(20))
                                    }
                                    slowest = max(slowest, ContinuousClock.now - start)
                                }
                                return (successes, failures, slowest)
                            }
                        }
                        var results: [(Int, Int, Duration)] = []
                        for try await result in group { results.append(result) }
                        return results
                    }
                }
                try await Task.sleep(for: .milliseconds(200))
                try await server.restart()
                _ = try await eventually { try await client.ping() }
                try await Task.sleep(for: .milliseconds(300))
                stop.set()
                let results = try await load.value
                for (successes, _, slowest) in results {
                    #expect(successes > 0)
                    // Two commands per iteration, each bounded by the 1 s command timeout.
                    #expect(slowest < .seconds(10))
                }
            }
        }
    }

    // MARK: Timeouts

    @Test func silentServerFailsWithinTheCommandTimeout() async throws {
        let silent = try await SilentServer()
        defer { Task { await silent.close() } }
        for version in Self.protocols {
            var configuration = try testConfiguration("redis://127.0.0.1:\(silent.port)", protocolVersion: version)
            configuration.commandTimeout = .milliseconds(400)
            try await withClient(configuration) { client throws in
                var error: RedisError?
                let duration = await elapsed { error = await expectRedisError { try await client.ping() } }
                // RESP3 hangs in the HELLO handshake, RESP2 (no handshake) in the PING itself.
                let expectedCommand = version == .resp3 ? "HELLO" : "PING"
                #expect(error == .commandTimedOut(command: expectedCommand, timeout: .milliseconds(400)))
                #expect(duration >= .milliseconds(350))
                // Without the timeout this would hang forever; the margin is for loaded CI machines.
                #expect(duration < .seconds(5))
            }
        }
        await silent.close()
    }

    @Test func slowCommandTimesOutAndThePoolReplacesTheConnection() async throws {
        try await withRedisServer { server throws in
            var configuration = try testConfiguration(server.url)
            configuration.commandTimeout = .milliseconds(300)
            try await withClient(configuration) { client throws in
                let error = await expectRedisError { try await client.send("BLPOP", "empty", 2) }
                #expect(error == .commandTimedOut(command: "BLPOP", timeout: .milliseconds(300)))
                // The timed-out connection was closed; the next command gets a fresh one and
                // is not confused by the BLPOP reply that would have come later.
                #expect(try await client.ping() == "PONG")
                try await client.set("k", to: "v")
                #expect(try await client.get("k") == "v")
            }
        }
    }

    @Test func closedPortIsRefusedQuickly() async throws {
        let closedPort = try ClosedLoopbackPort()
        let port = closedPort.port
        defer { closedPort.release() }
        var configuration = try testConfiguration("redis://127.0.0.1:\(port)")
        configuration.connectTimeout = .seconds(10)
        try await withClient(configuration) { client throws in
            var error: RedisError?
            let duration = await elapsed { error = await expectRedisError { try await client.ping() } }
            guard case .connectionFailed(let message) = error else {
                Issue.record("expected connectionFailed, got \(String(describing: error))")
                return
            }
            #expect(message.lowercased().contains("refused"), "message: \(message)")
            #expect(message.contains("127.0.0.1:\(port)"))
            // Refusal does not wait for the 10 s connect timeout (margin for loaded machines).
            #expect(duration < .seconds(5))

            // Within the backoff window the pool does not even try: it fails at once.
            let second = await expectRedisError { try await client.ping() }
            #expect(second?.isConnectionError == true)
        }
    }

    // MARK: Cancellation

    @Test func cancellingACommandDoesNotDesynchronizeTheConnection() async throws {
        try await withRedisServer { server throws in
            var configuration = try testConfiguration(server.url)
            // Longer than the BLPOP below: an abandoned request still times out like any other.
            configuration.commandTimeout = .seconds(5)
            let connection = try await RedisConnection.connect(configuration: configuration, logger: testLogger)
            try await connection.set("k", to: "v")

            // BLPOP answers (null) after 2 s; cancel the caller long before.
            let blocked = Task { try await connection.send("BLPOP", "empty-list", 2) }
            try await Task.sleep(for: .milliseconds(100))
            var result: Result<RESPValue, any Error>?
            let cancelDuration = await elapsed {
                blocked.cancel()
                result = await blocked.result
            }
            #expect(throws: CancellationError.self) { try result?.get() }
            // Returned well before the server's answer.
            #expect(cancelDuration < .milliseconds(1500))

            // These are answered after the abandoned BLPOP null, which must not be handed to them.
            #expect(try await connection.get("k") == "v")
            #expect(try await connection.send("ECHO", "after") == .bulkString("after"))
            #expect(connection.isActive)

            // Many commands with every third one cancelled: every completed one gets its own reply.
            let tasks = (0..<300).map { index in
                Task { try await connection.send("ECHO", "message-\(index)") }
            }
            for (index, task) in tasks.enumerated() where index.isMultiple(of: 3) { task.cancel() }
            for (index, task) in tasks.enumerated() {
                switch await task.result {
                case .success(let reply):
                    #expect(reply == .bulkString("message-\(index)"))
                case .failure(let error):
                    #expect(error is CancellationError)
                }
            }
            #expect(try await connection.ping() == "PONG")
            await connection.close()
        }
    }

    @Test func cancellingPooledCommandsKeepsThePoolConsistent() async throws {
        try await withRedis { client, _ throws in
            try await client.set("stable", to: "value")
            let blocked = Task { try await client.send("BLPOP", "nothing", 1) }
            try await Task.sleep(for: .milliseconds(100))
            blocked.cancel()
            let blockedResult = await blocked.result
            #expect(throws: CancellationError.self) { try blockedResult.get() }
            for index in 0..<50 {
                #expect(try await client.send("ECHO", "e\(index)") == .bulkString("e\(index)"))
            }
            #expect(try await client.get("stable") == "value")
        }
    }

    // MARK: Authentication

    @Test(arguments: protocols)
    func passwordAuthentication(version: RESPProtocolVersion) async throws {
        try await withRedisServer(arguments: ["--requirepass", "s3cret"]) { server throws in
            let wrong = try testConfiguration("redis://:nope@127.0.0.1:\(server.port)", protocolVersion: version)
            try await withClient(wrong) { client throws in
                let error = await expectRedisError { try await client.ping() }
                guard case .authenticationFailed(let message) = error else {
                    Issue.record("expected authenticationFailed, got \(String(describing: error))")
                    return
                }
                #expect(message.hasPrefix("WRONGPASS"))
                #expect(!"\(error!)".contains("nope"))
            }

            let missing = try testConfiguration(server.url, protocolVersion: version)
            try await withClient(missing) { client throws in
                let error = await expectRedisError { try await client.ping() }
                guard case .authenticationFailed(let message) = error else {
                    Issue.record("expected authenticationFailed, got \(String(describing: error))")
                    return
                }
                #expect(message.hasPrefix("NOAUTH"))
            }

            for url in ["redis://:s3cret@127.0.0.1:\(server.port)", "redis://s3cret@127.0.0.1:\(server.port)"] {
                try await withClient(testConfiguration(url, protocolVersion: version)) { client throws in
                    #expect(try await client.ping() == "PONG")
                }
            }
        }
    }

    @Test(arguments: protocols)
    func aclUserAuthentication(version: RESPProtocolVersion) async throws {
        let userArguments = [
            "--user", "alice", "on", ">wonderland", "~*", "&*", "+@all",
            "--user", "bob", "on", ">p@ss:w/rd", "~*", "&*", "+@all",
        ]
        try await withRedisServer(arguments: userArguments) { server throws in
            let alice = try testConfiguration("redis://alice:wonderland@127.0.0.1:\(server.port)", protocolVersion: version)
            try await withClient(alice) { client throws in
                #expect(try await client.send("ACL", "WHOAMI").string == "alice")
            }
            let bob = try testConfiguration("redis://bob:p%40ss%3Aw%2Frd@127.0.0.1:\(server.port)", protocolVersion: version)
            try await withClient(bob) { client throws in
                #expect(try await client.send("ACL", "WHOAMI").string == "bob")
            }
            let wrong = try testConfiguration("redis://alice:rabbit@127.0.0.1:\(server.port)", protocolVersion: version)
            try await withClient(wrong) { client throws in
                let error = await expectRedisError { try await client.ping() }
                guard case .authenticationFailed = error else {
                    Issue.record("expected authenticationFailed, got \(String(describing: error))")
                    return
                }
            }
        }
    }

    // MARK: Addressing and TLS

    @Test func ipv6Loopback() async throws {
        try await withRedisServer(bindAddresses: ["127.0.0.1", "::1"]) { server throws in
            for version in Self.protocols {
                try await withClient(testConfiguration("redis://[::1]:\(server.port)/1", protocolVersion: version)) { client throws in
                    #expect(try await client.ping() == "PONG")
                    let info = try await client.send("CLIENT", "INFO").string ?? ""
                    #expect(info.contains("laddr=[::1]:\(server.port)"), "CLIENT INFO: \(info)")
                    #expect(info.contains("db=1"))
                }
            }
        }
    }

    @Test func tlsWithVerification() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        try await withRedisServer(tls: certificates.serverFiles) { server throws in
            // Trusting our CA: verification succeeds for the host name and for the IP literal.
            for host in ["localhost", "127.0.0.1"] {
                var configuration = try testConfiguration("rediss://\(host):\(server.port)")
                configuration.tls?.trustRoots = .file(certificates.caPath)
                try await withClient(configuration) { client throws in
                    #expect(try await client.ping() == "PONG")
                    try await client.set("secure", to: "yes")
                    #expect(try await client.get("secure") == "yes")
                }
            }

            // System trust roots do not know our CA: a clear connection error, not a hang.
            try await withClient(testConfiguration("rediss://localhost:\(server.port)")) { client throws in
                let error = await expectRedisError { try await client.ping() }
                #expect(error?.isConnectionError == true, "got \(String(describing: error))")
            }

            // Unless verification is explicitly skipped.
            try await withClient(testConfiguration("rediss://localhost:\(server.port)?tls_skip_verify=true")) { client throws in
                #expect(try await client.ping() == "PONG")
            }
        }
    }
}

/// A thread-safe boolean for stopping background loops.
final class ManagedFlag: Sendable {
    private let value = NIOLockedValueBox(false)

    var isSet: Bool { value.withLockedValue { $0 } }
    func set() { value.withLockedValue { $0 = true } }
}

/// A throw-away self-signed certificate for localhost/127.0.0.1, made with the openssl CLI.
struct TestCertificates {
    let directory: URL
    var certificatePath: String { directory.appendingPathComponent("cert.pem").path }
    var keyPath: String { directory.appendingPathComponent("key.pem").path }
    var caPath: String { certificatePath }

    var serverFiles: RedisServerProcess.TLSFiles {
        .init(certificate: certificatePath, privateKey: keyPath, caCertificate: caPath)
    }

    static func make() async throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // An EC key: RSA generation can take seconds on a loaded machine.
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", certificates.keyPath, "-out", certificates.certificatePath,
            "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:TRUE",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Poll rather than waitUntilExit(), which would block a cooperative thread.
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        guard process.terminationStatus == 0 else {
            throw RedisServerProcessError("openssl failed to create a test certificate (is openssl installed?)")
        }
        return certificates
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
