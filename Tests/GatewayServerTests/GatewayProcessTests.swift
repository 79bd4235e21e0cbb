import Foundation
import GatewayStore
import GatewayTestSupport
import Testing

/// Drives the real `gateway` binary: configuration failures, start-up line, signals,
/// replicas racing to migrate, and readiness following dependencies down and up.
@Suite("gateway process", .serialized)
struct GatewayProcessTests {
    @Test func emptyEnvironmentExitsFastNamingEveryMissingVariable() async throws {
        // PORT is the only variable given (it is optional): had the gateway bound, that port would be taken.
        let port = try freeLoopbackPort()
        let gateway = try GatewayProcess(environment: [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin", "PORT": String(port),
        ])
        let status = await gateway.waitForExit(timeout: .seconds(5))
        #expect(status == 78)
        let runningTime = try #require(gateway.runningTime)
        #expect(runningTime < .seconds(1), "ran for \(runningTime)")
        for variable in ["PUBLIC_BASE_URL", "JWT_SIGNING_KEY", "REDIS_URL", "DATABASE_URL", "AUTH_MODE"] {
            #expect(gateway.output.contains(variable), "output should name \(variable): \(gateway.output)")
        }
        #expect(!gateway.output.contains("gateway.started"))
        #expect((try? await httpGet("http://127.0.0.1:\(port)/healthz", timeout: .seconds(1))) == nil)
    }

    @Test(arguments: [
        ("JWT_SIGNING_KEY", "changeme"),
        ("JWT_SIGNING_KEY", "0123456789abcdef"),
        ("AUTH_MODE", "bogus"),
        ("REDIS_URL", "http://x"),
        ("DATABASE_URL", "mysql://x"),
        ("PORT", "abc"),
    ])
    func invalidValueIsRefusedNamingTheVariable(variable: String, value: String) async throws {
        var environment = serveEnvironment(port: 8080, databaseURL: "postgres://u@localhost/db", redisURL: "redis://localhost")
        environment[variable] = value
        let gateway = try GatewayProcess(arguments: ["serve", "--check-config"], environment: environment)
        let status = await gateway.waitForExit(timeout: .seconds(5))
        #expect(status == 78)
        #expect(gateway.output.contains("\(variable):"), "\(gateway.output)")
        if variable == "JWT_SIGNING_KEY" {
            #expect(!gateway.output.contains(value))
        }
    }

    /// Firebase mode starts; certificates that are not Google's and an emulator host are warned about.
    @Test(.requires(.redis, .postgres)) func aFirebaseGatewayStartsAndWarnsAboutTestOverrides() async throws {
        let port = try freeLoopbackPort()
        var environment = serveEnvironment(
            port: port, databaseURL: try await TestEnvironment.createDatabase(), redisURL: try TestEnvironment.redisURL())
        environment.merge([
            "AUTH_MODE": "firebase", "FIREBASE_PROJECT_ID": "p", "FIREBASE_API_KEY": "k", "FIREBASE_AUTH_DOMAIN": "p.firebaseapp.com",
            "FIREBASE_CERTIFICATES_URL": "http://127.0.0.1:9/certificates", "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
        ]) { $1 }
        let gateway = try GatewayProcess(environment: environment)
        defer { gateway.kill() }
        #expect(await eventually(timeout: .seconds(30)) { await readyStatus(port: port) == 200 }, "\(gateway.output)")
        #expect(gateway.output.contains("gateway.firebase_certificates_override"), "\(gateway.output)")
        #expect(gateway.output.contains("gateway.firebase_emulator"), "\(gateway.output)")
        gateway.signal(SIGTERM)
        #expect(await gateway.waitForExit(timeout: .seconds(10)) == 0, "\(gateway.output)")
    }

    /// In oidc mode with the issuer down, the gateway still starts and becomes ready (existing
    /// users keep working); its start-up line names the callback to register.
    @Test(.requires(.redis, .postgres)) func anOIDCGatewayStartsWhileItsIssuerIsDown() async throws {
        let port = try freeLoopbackPort()
        var environment = serveEnvironment(
            port: port, databaseURL: try await TestEnvironment.createDatabase(), redisURL: try TestEnvironment.redisURL())
        environment.merge([
            "AUTH_MODE": "oidc", "OIDC_ISSUER_URL": "http://127.0.0.1:\(try freeLoopbackPort())", "OIDC_CLIENT_ID": "gw",
        ]) { $1 }
        let started = ContinuousClock.now
        let gateway = try GatewayProcess(environment: environment)
        defer { gateway.kill() }
        #expect(
            await eventually(timeout: .seconds(30), every: .milliseconds(10)) { await readyStatus(port: port) == 200 }, "\(gateway.output)")
        let startup = ContinuousClock.now - started
        #expect(gateway.output.contains(#""oidc_callback_url":"http://localhost:\#(port)/oauth/oidc/callback""#), "\(gateway.output)")
        #expect(await gateway.waitForOutput(containing: "oidc.unreachable", timeout: .seconds(10)), "\(gateway.output)")
        let ready = try await httpGet("http://127.0.0.1:\(port)/readyz")
        #expect(ready.body.contains(#""status":"unreachable""#), "\(ready.body)")
        print("oidc gateway with its issuer down: exec to /readyz 200 in \(startup)")
        gateway.signal(SIGTERM)
        #expect(await gateway.waitForExit(timeout: .seconds(10)) == 0, "\(gateway.output)")
    }

    @Test(.requires(.redis, .postgres)) func startupLineAndGracefulShutdown() async throws {
        let port = try freeLoopbackPort()
        let databaseURL = try await TestEnvironment.createDatabase()
            .replacingOccurrences(of: "postgres@", with: "postgres:db-password-SECRET@")
        let gateway = try GatewayProcess(
            environment: serveEnvironment(port: port, databaseURL: databaseURL, redisURL: try TestEnvironment.redisURL()))
        defer { gateway.kill() }
        #expect(await gateway.waitForOutput(containing: "gateway.started", timeout: .seconds(30)), "\(gateway.output)")
        #expect(await readyStatus(port: port) == 200)

        let line = try #require(gateway.output.split(separator: "\n").first { $0.contains(#""event":"gateway.started""#) })
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(fields["public_base_url"] as? String == "http://localhost:\(port)")
        #expect(fields["auth_mode"] as? String == "demo")
        #expect(fields["store"] as? String == "postgres")
        #expect(fields["event_bus"] as? String == "redis")
        #expect((fields["listen"] as? String)?.contains(String(port)) == true)
        #expect(fields["version"] as? String != nil)
        #expect(gateway.output.contains("gateway.non_production"))
        #expect(!gateway.output.contains(testSigningKey))
        #expect(!gateway.output.contains("db-password-SECRET"))

        let stopping = ContinuousClock.now
        gateway.signal(SIGTERM)
        let status = await gateway.waitForExit(timeout: .seconds(10))
        #expect(status == 0, "\(gateway.output)")
        #expect(ContinuousClock.now - stopping < .seconds(10))
    }

    @Test(.requires(.redis, .postgres)) func twoReplicasStartingTogetherOnAnEmptyDatabaseMigrateOnce() async throws {
        let databaseURL = try await TestEnvironment.createDatabase()
        let redisURL = try TestEnvironment.redisURL()
        let ports = [try freeLoopbackPort(), try freeLoopbackPort()]
        let replicas = try ports.map {
            try GatewayProcess(environment: serveEnvironment(port: $0, databaseURL: databaseURL, redisURL: redisURL))
        }
        defer { replicas.forEach { $0.kill() } }
        for port in ports {
            #expect(await eventually(timeout: .seconds(30)) { await readyStatus(port: port) == 200 })
        }
        // Every migration is applied by exactly one of the replicas.
        let applied = replicas.flatMap { replica in
            replica.output.split(separator: "\n").filter { $0.contains(#""event":"store.migration_applied""#) }.compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["version"] as? String
            }
        }
        #expect(applied.sorted() == Schema.migrations.map { String($0.version) }, "applied: \(applied)")
    }

    /// Two users, two gateway processes on one Redis and one Postgres: A's device on process 1,
    /// B on process 2; then process 1 is killed with SIGKILL in the middle of a reply, the device
    /// moves to process 2, and B, resuming with its last event id, gets the rest exactly once.
    @Test(.requires(.redis, .postgres)) func sharedChatAcrossTwoProcessesSurvivesAKillDuringAReply() async throws {
        let ports = [try freeLoopbackPort(), try freeLoopbackPort()]
        var environment = serveEnvironment(
            port: 0, databaseURL: try await TestEnvironment.createDatabase(), redisURL: try TestEnvironment.redisURL())
        environment["PUBLIC_BASE_URL"] = "http://localhost:\(ports[0])"
        environment["REDIS_KEY_PREFIX"] = "test:\(UUID().uuidString):"
        let processes = try ports.map { port in
            try GatewayProcess(environment: environment.merging(["PORT": String(port)]) { $1 })
        }
        defer { processes.forEach { $0.kill() } }
        for port in ports {
            #expect(await eventually(timeout: .seconds(30)) { await readyStatus(port: port) == 200 })
        }
        let (one, two) = ("http://127.0.0.1:\(ports[0])", "http://127.0.0.1:\(ports[1])")
        let outcome = try await SharedChatScenario(hostBase: one, guestBase: two).runUntilRevocation()
        let (alice, bob) = (outcome.alice, outcome.bob)

        // The device is on process 1; so is B's session stream for this part.
        let deviceOnOne = try await alice.stream("/v1/devices/\(outcome.deviceID)/events")
        let bobOnOne = try await bob.on(one).stream("/v1/sessions/\(outcome.sessionID)/events")
        #expect(await bobOnOne.waitFor { !$0.events(ofType: "stream.open").isEmpty })
        let posted = try await bob.call(.POST, "/v1/sessions/\(outcome.sessionID)/messages", ["text": "count to five"])
        let messageID = try #require((posted.json["message"] as? [String: Any])?["id"] as? String)
        #expect(
            await deviceOnOne.waitFor {
                $0.payloads("message.created").contains { ($0["message"] as? [String: Any])?["id"] as? String == messageID }
            })
        func reply(_ device: APITestClient, _ body: [String: Any]) async throws -> Int {
            try await device.call(.POST, "/v1/devices/\(outcome.deviceID)/sessions/\(outcome.sessionID)/replies", body).status
        }
        for index in 0..<3 {
            #expect(try await reply(alice, ["kind": "delta", "reply_to": messageID, "index": index, "text": "\(index + 1) "]) == 202)
        }
        #expect(await bobOnOne.waitFor { $0.events(ofType: "reply.delta").count == 3 })

        // Process 1 dies mid-reply.
        processes[0].signal(SIGKILL)
        #expect(await processes[0].waitForExit(timeout: .seconds(5)) != nil)
        #expect(await bobOnOne.waitFor(timeout: .seconds(5)) { $0.isFinished })

        // The device reconnects to process 2 with its last id and finishes the reply there.
        let deviceOnTwo = try await alice.on(two).stream("/v1/devices/\(outcome.deviceID)/events", lastEventID: deviceOnOne.lastEventID)
        #expect(deviceOnTwo.status == 200)
        #expect(deviceOnTwo.events.filter { $0.event == "message.created" }.isEmpty, "nothing is redelivered to the device")
        for index in 3..<5 {
            #expect(
                try await reply(alice.on(two), ["kind": "delta", "reply_to": messageID, "index": index, "text": "\(index + 1) "]) == 202)
        }
        #expect(try await reply(alice.on(two), ["kind": "done", "reply_to": messageID, "text": "1 2 3 4 5"]) == 202)

        // B resumes on process 2 with its last event id: the rest, nothing lost or repeated.
        let bobOnTwo = try await bob.stream("/v1/sessions/\(outcome.sessionID)/events", lastEventID: bobOnOne.lastEventID)
        #expect(await bobOnTwo.waitFor { !$0.events(ofType: "reply.done").isEmpty })
        let deltas = (bobOnOne.payloads("reply.delta") + bobOnTwo.payloads("reply.delta")).compactMap { $0["index"] as? Int }
        #expect(deltas == [0, 1, 2, 3, 4])
        #expect(bobOnTwo.events(ofType: "reset").isEmpty)
        #expect(bobOnTwo.payloads("reply.done").count == 1)
        let allIDs = (bobOnOne.events + bobOnTwo.events).filter { $0.event != "stream.open" }.compactMap(\.id)
        #expect(Set(allIDs).count == allIDs.count, "no event delivered twice")
        await deviceOnOne.close()
        await bobOnTwo.close()

        // Revocation on the surviving process.
        try await SharedChatScenario(hostBase: two, guestBase: two, revocationDeadline: .seconds(1)).revoke(
            SharedChatScenario.Outcome(
                alice: alice.on(two), bob: bob, deviceID: outcome.deviceID, agentID: outcome.agentID, shareID: outcome.shareID,
                sessionID: outcome.sessionID))
        await deviceOnTwo.close()
    }

    @Test(.requires(.postgres, .redisServer)) func readinessFollowsRedisDownAndUpWithoutRestart() async throws {
        let redis = try RedisServerProcess()
        try await redis.start()
        defer { Task { await redis.cleanUp() } }
        try await expectReadinessFollows(
            "redis", databaseURL: try await TestEnvironment.createDatabase(), redisURL: redis.url,
            stop: { await redis.stop() }, start: { try await redis.start() })
    }

    @Test(.requires(.redis, .postgres)) func readinessFollowsPostgresDownAndUpWithoutRestart() async throws {
        let postgres = try await PostgresServerProcess()
        try await postgres.start()
        defer { Task { await postgres.destroy() } }
        try await expectReadinessFollows(
            "store", databaseURL: postgres.url, redisURL: try TestEnvironment.redisURL(),
            stop: { try await postgres.stop() }, start: { try await postgres.start() })
    }

    /// Starts a gateway, stops `dependency`: /readyz must turn 503 naming it within 2 s; starts
    /// it again: /readyz must return to 200 without restarting the gateway.
    func expectReadinessFollows(
        _ dependency: String, databaseURL: String, redisURL: String,
        stop: () async throws -> Void, start: () async throws -> Void
    ) async throws {
        let port = try freeLoopbackPort()
        let gateway = try GatewayProcess(environment: serveEnvironment(port: port, databaseURL: databaseURL, redisURL: redisURL))
        defer { gateway.kill() }
        #expect(await eventually(timeout: .seconds(30)) { await readyStatus(port: port) == 200 }, "\(gateway.output)")

        try await stop()
        let stopped = ContinuousClock.now
        var body = ""
        #expect(
            await eventually(timeout: .seconds(2)) {
                guard let result = try? await httpGet("http://127.0.0.1:\(port)/readyz") else { return false }
                body = result.body
                return result.status == 503
            })
        #expect(ContinuousClock.now - stopped < .seconds(2.5))
        #expect(body.contains(#""\#(dependency)":{"#) && body.contains("down"), "\(body)")

        try await start()
        #expect(await eventually(timeout: .seconds(15)) { await readyStatus(port: port) == 200 }, "\(gateway.output)")
    }
}
