import Foundation
import GatewayStore
import Logging
import Testing

@Suite("Store contract: identities and refresh tokens")
struct AuthRecordContractTests {
    let logger = Logger(label: "test.store")

    func withMigratedStore(_ backend: Backend, _ body: @Sendable (GatewayStore) async throws -> Void) async throws {
        try await withFreshDatabase(backend) { database, _ in
            try await Migrator(database: database, logger: logger).migrate()
            try await body(GatewayStore(database: database))
        }
    }

    @Test(arguments: Backend.runnable)
    func sameIdentityIsSameUserAndSameNameIsNot(backend: Backend) async throws {
        try await withMigratedStore(backend) { store in
            let first = try await store.user(signingInAs: Identity(provider: "demo", subject: "browser-1"), displayName: "Sam")
            let again = try await store.user(signingInAs: Identity(provider: "demo", subject: "browser-1"), displayName: "Sam B")
            let other = try await store.user(signingInAs: Identity(provider: "demo", subject: "browser-2"), displayName: "Sam")
            #expect(first.id == again.id)
            #expect(again.displayName == "Sam B")
            #expect(other.id != first.id)
            #expect(try await store.user(identity: Identity(provider: "oidc", subject: "browser-1")) == nil)
        }
    }

    @Test(arguments: Backend.runnable)
    func apiKeysWorkUntilRevokedOrExpiredAndOnlyForTheirOwner(backend: Backend) async throws {
        try await withMigratedStore(backend) { store in
            let ada = try await store.createUser(displayName: "Ada")
            let bea = try await store.createUser(displayName: "Bea")
            let now = Date()
            let lasting = try await store.createAPIKey(
                userID: ada.id, name: "client", prefix: "gwk_aaaaaa", keyHash: "h1", expiresAt: nil, now: now)
            let brief = try await store.createAPIKey(
                userID: ada.id, name: "brief", prefix: "gwk_bbbbbb", keyHash: "h2", expiresAt: now.addingTimeInterval(60), now: now)
            #expect(Set(try await store.apiKeys(userID: ada.id, now: now).map(\.id)) == [lasting.id, brief.id])
            #expect(try await store.apiKeys(userID: bea.id, now: now).isEmpty)

            let used = try await store.useAPIKey(keyHash: "h1", now: now.addingTimeInterval(5))
            #expect(used?.id == lasting.id && used?.userID == ada.id)
            #expect(used?.lastUsedAt != nil)
            #expect(try await store.useAPIKey(keyHash: "unknown", now: now) == nil)
            // Expired: neither usable nor listed.
            #expect(try await store.useAPIKey(keyHash: "h2", now: now.addingTimeInterval(61)) == nil)
            #expect(try await store.apiKeys(userID: ada.id, now: now.addingTimeInterval(61)).map(\.id) == [lasting.id])
            // Only the owner revokes, once.
            #expect(try await store.revokeAPIKey(userID: bea.id, id: lasting.id) == false)
            #expect(try await store.useAPIKey(keyHash: "h1", now: now) != nil)
            #expect(try await store.revokeAPIKey(userID: ada.id, id: lasting.id))
            #expect(try await store.revokeAPIKey(userID: ada.id, id: lasting.id) == false)
            #expect(try await store.useAPIKey(keyHash: "h1", now: now) == nil)
        }
    }

    @Test(arguments: Backend.runnable)
    func concurrentFirstSignInsOfOneIdentityYieldOneUser(backend: Backend) async throws {
        try await withMigratedStore(backend) { store in
            let identity = Identity(provider: "demo", subject: "racy")
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<8 { group.addTask { try await store.user(signingInAs: identity, displayName: "R").id } }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
        }
    }

    @Test(arguments: Backend.runnable)
    func refreshRotationAndReuseRevokesTheFamily(backend: Backend) async throws {
        try await withMigratedStore(backend) { store in
            let user = try await store.createUser(displayName: "A")
            let expiry = Date().addingTimeInterval(3600)
            let grant = try await store.createRefreshFamily(
                tokenHash: "h1", userID: user.id, clientID: "desktop", scope: "gateway", expiresAt: expiry)

            let second = try await store.rotateRefreshToken("h1", clientID: "desktop", newTokenHash: "h2", newExpiresAt: expiry)
            #expect(second == .rotated(grant))
            let third = try await store.rotateRefreshToken("h2", clientID: "desktop", newTokenHash: "h3", newExpiresAt: expiry)
            #expect(third == .rotated(grant))

            // h1 presented again: reuse, and the family (including the current h3) stops working.
            let reuse = try await store.rotateRefreshToken("h1", clientID: "desktop", newTokenHash: "h4", newExpiresAt: expiry)
            #expect(reuse == .reuseDetected(familyID: grant.familyID))
            #expect(try await store.rotateRefreshToken("h3", clientID: "desktop", newTokenHash: "h5", newExpiresAt: expiry) == .invalid)
            #expect(try await store.isRefreshFamilyActive(grant.familyID) == false)
        }
    }

    @Test(arguments: Backend.runnable)
    func refreshTokenRefusedForAnotherClientExpiredOrRevoked(backend: Backend) async throws {
        try await withMigratedStore(backend) { store in
            let user = try await store.createUser(displayName: "A")
            let later = Date().addingTimeInterval(3600)
            _ = try await store.createRefreshFamily(tokenHash: "c1", userID: user.id, clientID: "desktop", scope: "s", expiresAt: later)
            #expect(try await store.rotateRefreshToken("c1", clientID: "gatewayctl", newTokenHash: "c2", newExpiresAt: later) == .invalid)

            _ = try await store.createRefreshFamily(
                tokenHash: "e1", userID: user.id, clientID: "desktop", scope: "s", expiresAt: Date().addingTimeInterval(-1))
            #expect(try await store.rotateRefreshToken("e1", clientID: "desktop", newTokenHash: "e2", newExpiresAt: later) == .invalid)

            _ = try await store.createRefreshFamily(tokenHash: "r1", userID: user.id, clientID: "desktop", scope: "s", expiresAt: later)
            #expect(try await store.revokeRefreshToken("r1") != nil)
            #expect(try await store.rotateRefreshToken("r1", clientID: "desktop", newTokenHash: "r2", newExpiresAt: later) == .invalid)
            #expect(try await store.revokeRefreshToken("unknown") == nil)
            #expect(try await store.rotateRefreshToken("unknown", clientID: "desktop", newTokenHash: "x", newExpiresAt: later) == .invalid)
        }
    }

    @Test(arguments: Backend.runnable)
    func concurrentRefreshOfOneTokenRotatesOnce(backend: Backend) async throws {
        try await withMigratedStore(backend) { store in
            let user = try await store.createUser(displayName: "A")
            let later = Date().addingTimeInterval(3600)
            _ = try await store.createRefreshFamily(tokenHash: "p1", userID: user.id, clientID: "desktop", scope: "s", expiresAt: later)
            let outcomes = try await withThrowingTaskGroup(of: RefreshRotation.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        try await store.rotateRefreshToken("p1", clientID: "desktop", newTokenHash: "p1-\(index)", newExpiresAt: later)
                    }
                }
                return try await group.reduce(into: [RefreshRotation]()) { $0.append($1) }
            }
            let rotated = outcomes.filter { if case .rotated = $0 { true } else { false } }
            #expect(rotated.count == 1)
        }
    }

    @Test(arguments: Backend.runnable)
    func aFamilyKeepsTheResourceItsTokensAreFor(backend: Backend) async throws {
        try await withMigratedStore(backend) { store in
            let user = try await store.createUser(displayName: "A")
            let later = Date().addingTimeInterval(3600)
            let mcp = "https://gateway.example/mcp"
            _ = try await store.createRefreshFamily(
                tokenHash: "m1", userID: user.id, clientID: "desktop", scope: "s", resource: mcp, expiresAt: later)
            _ = try await store.createRefreshFamily(tokenHash: "a1", userID: user.id, clientID: "desktop", scope: "s", expiresAt: later)
            #expect(try await store.refreshTokenResource("m1") == .some(mcp))
            #expect(try await store.refreshTokenResource("a1") == .some(nil))
            #expect(try await store.refreshTokenResource("unknown") == nil)
            guard
                case .rotated(let grant) = try await store.rotateRefreshToken(
                    "m1", clientID: "desktop", newTokenHash: "m2", newExpiresAt: later)
            else {
                Issue.record("the token should rotate")
                return
            }
            #expect(grant.resource == mcp)
        }
    }

    @Test(arguments: Backend.runnable)
    func registeredClientsExpireWhenUnused(backend: Backend) async throws {
        try await withMigratedStore(backend) { store in
            let now = Date()
            let expiry = OAuthClientExpiry(unusedSince: now.addingTimeInterval(-86_400), neverUsedSince: now.addingTimeInterval(-3600))
            let fresh = RegisteredOAuthClient(
                id: "mcp-client-fresh", name: "Fresh", redirectURIs: ["http://127.0.0.1:1/cb", "https://a.example/cb"], createdAt: now,
                lastUsedAt: now, registeredFrom: "203.0.113.7")
            let stale = RegisteredOAuthClient(
                id: "mcp-client-stale", name: "Stale", redirectURIs: ["https://b.example/cb"], createdAt: now.addingTimeInterval(-90_000),
                lastUsedAt: now.addingTimeInterval(-90_000), firstUsedAt: now.addingTimeInterval(-90_000))
            // Registered two hours ago and never signed in with: gone after one.
            let neverUsed = RegisteredOAuthClient(
                id: "mcp-client-never", name: "Never", redirectURIs: ["https://c.example/cb"], createdAt: now.addingTimeInterval(-7200),
                lastUsedAt: now.addingTimeInterval(-7200), registeredFrom: "203.0.113.7")
            // Registered two hours ago and used since: stays.
            let used = RegisteredOAuthClient(
                id: "mcp-client-used", name: "Used", redirectURIs: ["https://d.example/cb"], createdAt: now.addingTimeInterval(-7200),
                lastUsedAt: now.addingTimeInterval(-7000), firstUsedAt: now.addingTimeInterval(-7000), registeredFrom: "203.0.113.7")
            for client in [fresh, stale, neverUsed, used] { try await store.registerOAuthClient(client) }
            let found = try await store.registeredOAuthClient(id: fresh.id, expiry: expiry)
            #expect(found?.redirectURIs == fresh.redirectURIs && found?.name == "Fresh" && found?.registeredFrom == "203.0.113.7")
            #expect(found?.firstUsedAt == nil)
            let counts = try await store.liveOAuthClientCounts(from: "203.0.113.7", expiry: expiry)
            #expect(counts.overall == 2 && counts.fromAddress == 2, "the stale and the never-used ones are gone: \(counts)")
            #expect(try await store.registeredOAuthClient(id: stale.id, expiry: expiry) == nil)
            #expect(try await store.registeredOAuthClient(id: neverUsed.id, expiry: expiry) == nil)
            #expect(try await store.registeredOAuthClient(id: used.id, expiry: expiry) != nil)
            #expect(try await store.registeredOAuthClient(id: "mcp-client-unknown", expiry: expiry) == nil)
            // The first use is recorded at once; later ones at most once an hour.
            try await store.touchOAuthClient(id: fresh.id, now: now.addingTimeInterval(60))
            let firstUse = try await store.registeredOAuthClient(id: fresh.id, expiry: expiry)
            #expect(firstUse.map { abs(($0.firstUsedAt ?? .distantPast).timeIntervalSince(now.addingTimeInterval(60))) < 1 } == true)
            try await store.touchOAuthClient(id: fresh.id, now: now.addingTimeInterval(7200))
            let touched = try await store.registeredOAuthClient(id: fresh.id, expiry: expiry)
            #expect(touched.map { abs($0.lastUsedAt.timeIntervalSince(now.addingTimeInterval(7200))) < 1 } == true)
            #expect(touched.map { abs(($0.firstUsedAt ?? .distantPast).timeIntervalSince(now.addingTimeInterval(60))) < 1 } == true)
        }
    }

    @Test(arguments: Backend.runnable)
    func theOldestNeverUsedRegistrationMakesRoomFirst(backend: Backend) async throws {
        try await withMigratedStore(backend) { store in
            let now = Date()
            func client(_ id: String, age: TimeInterval, used: Bool, from address: String) -> RegisteredOAuthClient {
                RegisteredOAuthClient(
                    id: "mcp-client-\(id)", name: id, redirectURIs: ["https://\(id).example/cb"], createdAt: now.addingTimeInterval(-age),
                    lastUsedAt: now.addingTimeInterval(-age), firstUsedAt: used ? now.addingTimeInterval(-age) : nil,
                    registeredFrom: address)
            }
            try await store.registerOAuthClient(client("oldest-used", age: 300, used: true, from: "a"))
            try await store.registerOAuthClient(client("older-unused", age: 200, used: false, from: "b"))
            try await store.registerOAuthClient(client("newer-unused", age: 100, used: false, from: "a"))
            let expiry = OAuthClientExpiry(unusedSince: now.addingTimeInterval(-86_400), neverUsedSince: now.addingTimeInterval(-3600))
            // From one address: only that address's own unused registration goes.
            #expect(try await store.evictOldestUnusedOAuthClient(from: "a"))
            #expect(try await store.registeredOAuthClient(id: "mcp-client-newer-unused", expiry: expiry) == nil)
            #expect(try await store.registeredOAuthClient(id: "mcp-client-older-unused", expiry: expiry) != nil)
            #expect(try await !store.evictOldestUnusedOAuthClient(from: "a"), "a used registration is never evicted")
            // Overall: the oldest unused one anywhere.
            #expect(try await store.evictOldestUnusedOAuthClient())
            #expect(try await store.registeredOAuthClient(id: "mcp-client-older-unused", expiry: expiry) == nil)
            #expect(try await !store.evictOldestUnusedOAuthClient())
            #expect(try await store.registeredOAuthClient(id: "mcp-client-oldest-used", expiry: expiry) != nil)
        }
    }

    @Test(arguments: Backend.runnable)
    func aRefreshFamilyEndsAtItsAbsoluteLifetime(backend: Backend) async throws {
        try await withMigratedStore(backend) { store in
            let user = try await store.user(signingInAs: Identity(provider: "demo", subject: "lifetime"), displayName: "L")
            let started = Date().addingTimeInterval(-100)
            _ = try await store.createRefreshFamily(
                tokenHash: "life-1", userID: user.id, clientID: "desktop", scope: "gateway", expiresAt: Date().addingTimeInterval(3600),
                now: started)
            let later = Date().addingTimeInterval(3600)
            // A family started before the cut-off no longer rotates, however fresh its token.
            let refused = try await store.rotateRefreshToken(
                "life-1", clientID: "desktop", newTokenHash: "life-2", newExpiresAt: later,
                familyStartedAfter: Date().addingTimeInterval(-50))
            #expect(refused == .invalid)
            guard
                case .rotated = try await store.rotateRefreshToken(
                    "life-1", clientID: "desktop", newTokenHash: "life-3", newExpiresAt: later,
                    familyStartedAfter: Date().addingTimeInterval(-200))
            else {
                Issue.record("a family within its lifetime rotates")
                return
            }
        }
    }
}
