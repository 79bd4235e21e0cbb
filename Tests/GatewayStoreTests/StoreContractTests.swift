import Foundation
import GatewayConfig
import Logging
import Testing

@testable import GatewayStore

/// The same cases run against every backend.
@Suite("Store contract")
struct StoreContractTests {
    let logger = Logger(label: "test.store")

    @Test(arguments: Backend.runnable)
    func migrationsApplyOnceAndAreRecorded(backend: Backend) async throws {
        try await withFreshDatabase(backend) { database, _ in
            let migrator = Migrator(database: database, logger: logger)
            #expect(try await migrator.migrate() == Schema.migrations.map(\.version))
            #expect(try await migrator.migrate() == [])
            let recorded = try await database.execute("SELECT version FROM schema_migrations ORDER BY version")
            #expect(try recorded.map { try $0.int64("version") } == Schema.migrations.map { Int64($0.version) })
        }
    }

    @Test(arguments: Backend.runnable)
    func pingAnswers(backend: Backend) async throws {
        try await withFreshDatabase(backend) { database, _ in
            try await GatewayStore(database: database).ping()
        }
    }

    @Test(arguments: Backend.runnable)
    func usersRoundTrip(backend: Backend) async throws {
        try await withFreshDatabase(backend) { database, _ in
            try await Migrator(database: database, logger: logger).migrate()
            let store = GatewayStore(database: database)
            let created = Date(timeIntervalSince1970: 1_800_000_000.123)
            let alice = try await store.createUser(displayName: "Alice ☕️ O'Neil", now: created)
            let twin = try await store.createUser(displayName: "Alice ☕️ O'Neil", now: created)
            #expect(alice.id != twin.id)
            #expect(try await store.user(id: alice.id) == alice)
            #expect(try await store.user(id: "no-such-user") == nil)

            let later = created.addingTimeInterval(60)
            #expect(try await store.recordSeen(userID: alice.id, at: later))
            #expect(try await store.user(id: alice.id)?.lastSeenAt == later)
            #expect(try await store.recordSeen(userID: "no-such-user", at: later) == false)
        }
    }

    @Test(arguments: Backend.runnable)
    func transactionRollsBackOnError(backend: Backend) async throws {
        struct Abort: Error {}
        try await withFreshDatabase(backend) { database, _ in
            try await Migrator(database: database, logger: logger).migrate()
            await #expect(throws: Abort.self) {
                try await database.transaction { executor in
                    try await executor.execute(
                        "INSERT INTO users (id, display_name, created_at, last_seen_at) VALUES ('u1', 'x', 1, 1)")
                    throw Abort()
                }
            }
            #expect(try await database.execute("SELECT id FROM users").isEmpty)
            _ = try await database.transaction { executor in
                try await executor.execute(
                    "INSERT INTO users (id, display_name, created_at, last_seen_at) VALUES ($1, $2, $3, $4)",
                    "u2", "y", 2, 2)
            }
            #expect(try await database.execute("SELECT id FROM users").map { try $0.string("id") } == ["u2"])
        }
    }

    @Test(arguments: Backend.runnable)
    func nullsAndLargeIntegersSurvive(backend: Backend) async throws {
        try await withFreshDatabase(backend) { database, _ in
            let rows = try await database.execute(
                "SELECT CAST($1 AS BIGINT) AS big, CAST($2 AS TEXT) AS absent, $3 AS quoted",
                .integer(Int64.max), .null, .text("it's $1 literally"))
            #expect(rows.first?["big"] == .integer(Int64.max))
            #expect(rows.first?["absent"] == .null)
            #expect(rows.first?["quoted"] == .text("it's $1 literally"))
        }
    }

    /// Replicas starting at the same moment: every migration runs exactly once in total.
    @Test(.requires(.postgres)) func concurrentMigratorsOnPostgresApplyEachMigrationOnce() async throws {
        let settings = try await createPostgresDatabase(logger: logger)
        let replicas = (0..<4).map { _ in PostgresBackend(settings: settings, logger: logger) }
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for replica in replicas {
                group.addTask {
                    try await withRunning(replica) { try await Migrator(database: replica, logger: logger).migrate() }
                }
            }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(applied.sorted() == Schema.migrations.map(\.version))
    }

    @Test func sqlitePlaceholdersAreNumbered() {
        #expect(SQLiteBackend.sqliteParameters("SELECT $1, '$2', $10") == "SELECT ?1, '$2', ?10")
    }
}

@Suite("Store contract: unanswered messages")
struct UnansweredMessagesStoreContractTests {
    let logger = Logger(label: "test.store")

    /// A conversation's title round-trips and can be removed; deleting a conversation takes its
    /// messages with it and leaves other conversations alone.
    @Test(arguments: Backend.runnable)
    func sessionsAreRenamedAndDeletedWithTheirMessages(backend: Backend) async throws {
        try await withFreshDatabase(backend) { database, _ in
            try await Migrator(database: database, logger: logger).migrate()
            let store = GatewayStore(database: database)
            let owner = try await store.createUser(displayName: "Owner")
            _ = try await store.registerDevice(id: "laptop", ownerID: owner.id, name: "Laptop", platform: "linux")
            let agent = try await store.publishAgent(
                deviceID: "laptop", ownerID: owner.id, key: "echo", name: "Echo", description: "", capabilities: []
            ).agent
            let kept = try await store.createSession(agentID: agent.id, userID: owner.id, shareID: nil)
            let erased = try await store.createSession(agentID: agent.id, userID: owner.id, shareID: nil)
            for session in [kept, erased] {
                _ = try await store.addMessage(
                    sessionID: session.id, role: .user, authorID: owner.id, replyTo: nil, text: "hi", idempotencyKey: nil)
            }
            try await store.renameSession(id: kept.id, title: "Release plan ✨")
            #expect(try await store.session(id: kept.id)?.title == "Release plan ✨")
            #expect(try await store.sessions(userID: owner.id).first { $0.id == kept.id }?.title == "Release plan ✨")
            try await store.renameSession(id: kept.id, title: nil)
            #expect(try await store.session(id: kept.id)?.title == nil)

            try await store.deleteSession(id: erased.id)
            #expect(try await store.session(id: erased.id) == nil)
            #expect(try await store.messages(sessionID: erased.id).isEmpty)
            #expect(try await store.messages(sessionID: kept.id).count == 1)
            #expect(try await store.sessions(userID: owner.id).map(\.id) == [kept.id])
        }
    }

    @Test(arguments: Backend.runnable)
    func onlyOpenSessionsUserMessagesWithoutAStoredReply(backend: Backend) async throws {
        try await withFreshDatabase(backend) { database, _ in
            try await Migrator(database: database, logger: logger).migrate()
            let store = GatewayStore(database: database)
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            let owner = try await store.createUser(displayName: "Owner", now: start)
            let guest = try await store.createUser(displayName: "Guest", now: start)
            _ = try await store.registerDevice(id: "laptop", ownerID: owner.id, name: "Laptop", platform: "linux", now: start)
            _ = try await store.registerDevice(id: "other", ownerID: owner.id, name: "Other", platform: "linux", now: start)
            let agent = try await store.publishAgent(
                deviceID: "laptop", ownerID: owner.id, key: "echo", name: "Echo", description: "", capabilities: [], now: start
            ).agent
            let otherAgent = try await store.publishAgent(
                deviceID: "other", ownerID: owner.id, key: "echo", name: "Echo", description: "", capabilities: [], now: start
            ).agent
            let share = try await store.createShare(
                agentID: agent.id, ownerID: owner.id, codeHash: "h1", label: nil, expiresAt: nil, maxUses: nil, now: start)
            let revoked = try await store.createShare(
                agentID: agent.id, ownerID: owner.id, codeHash: "h2", label: nil, expiresAt: nil, maxUses: nil, now: start)
            let open = try await store.createSession(agentID: agent.id, userID: guest.id, shareID: share.id, now: start)
            let ofRevoked = try await store.createSession(agentID: agent.id, userID: guest.id, shareID: revoked.id, now: start)
            let closed = try await store.createSession(agentID: agent.id, userID: owner.id, shareID: nil, now: start)
            let elsewhere = try await store.createSession(agentID: otherAgent.id, userID: owner.id, shareID: nil, now: start)

            func post(_ session: String, _ text: String, _ seconds: Double) async throws -> Message {
                try await store.addMessage(
                    sessionID: session, role: .user, authorID: guest.id, replyTo: nil, text: text, idempotencyKey: nil,
                    now: start.addingTimeInterval(seconds)
                ).message
            }
            let answered = try await post(open.id, "answered", 1)
            _ = try await post(open.id, "waiting", 2)
            _ = try await post(ofRevoked.id, "revoked", 3)
            _ = try await post(closed.id, "closed", 4)
            _ = try await post(elsewhere.id, "other device", 5)
            _ = try await store.addMessage(
                sessionID: open.id, role: .agent, authorID: nil, replyTo: answered.id, text: "reply", idempotencyKey: nil,
                now: start.addingTimeInterval(6))
            #expect(try await store.closeSession(id: closed.id, now: start.addingTimeInterval(7)))
            _ = try await store.revokeShare(id: revoked.id, ownerID: owner.id, now: start.addingTimeInterval(8))

            let pending = try await store.unansweredMessages(deviceID: "laptop")
            #expect(pending.map(\.message.text) == ["waiting"])
            #expect(pending.first?.agentKey == "echo")
            #expect(pending.first?.agentID == agent.id)
            #expect(pending.first?.authorDisplayName == "Guest")
            #expect(try await store.unansweredMessages(deviceID: "other").map(\.message.text) == ["other device"])

            // The same world as reply targets: one statement says whether the device may answer.
            let laptop = try #require(try await store.device(id: "laptop"))
            #expect(
                try await store.replyTarget(sessionID: open.id, deviceID: "laptop", ownerID: owner.id)
                    == ReplyTarget(deviceInstanceID: laptop.instanceID, sessionID: open.id, closed: false, shareRevoked: false))
            #expect(try await store.replyTarget(sessionID: ofRevoked.id, deviceID: "laptop", ownerID: owner.id)?.shareRevoked == true)
            #expect(try await store.replyTarget(sessionID: closed.id, deviceID: "laptop", ownerID: owner.id)?.closed == true)
            #expect(
                try await store.replyTarget(sessionID: elsewhere.id, deviceID: "laptop", ownerID: owner.id) == nil,
                "a session with another device's agent")
            #expect(try await store.replyTarget(sessionID: open.id, deviceID: "laptop", ownerID: guest.id) == nil, "not the owner")
            #expect(try await store.replyTarget(sessionID: "nope", deviceID: "laptop", ownerID: owner.id) == nil)
        }
    }
}
