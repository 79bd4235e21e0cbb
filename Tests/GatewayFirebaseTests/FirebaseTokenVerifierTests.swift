import Foundation
import GatewayAuth
import GatewayConfig
import GatewayTestSupport
import Logging
import Testing

@testable import GatewayFirebase

/// Firebase ID tokens against the local stand-in for Google's certificate document: what
/// Google's rules accept passes, and every token they (or the gateway's stricter rules) refuse
/// is refused with a reason.
@Suite("Firebase ID token verification")
struct FirebaseTokenVerifierTests {
    func withVerifier(
        _ adjust: (inout FirebaseSettings) -> Void = { _ in },
        _ body: (TestFirebase, FirebaseTokenVerifier, FirebaseCertificates) async throws -> Void
    ) async throws {
        let google = try TestFirebase()
        try await google.start()
        var settings = FirebaseSettings(
            projectID: google.projectID, apiKey: "test-api-key", authDomain: "\(google.projectID).firebaseapp.com",
            certificatesURL: google.certificatesURL)
        adjust(&settings)
        let certificates = FirebaseCertificates(url: settings.certificatesURL, logger: Logger(label: "test"))
        do {
            try await body(google, FirebaseTokenVerifier(settings: settings, certificates: certificates), certificates)
        } catch {
            await certificates.shutdown()
            await google.stop()
            throw error
        }
        await certificates.shutdown()
        await google.stop()
    }

    func refused(_ verifier: FirebaseTokenVerifier, _ token: String, because reason: String) async {
        do {
            _ = try await verifier.person(from: token)
            Issue.record("accepted a token that should be refused (\(reason))")
        } catch {
            guard case .refused(let message) = error else {
                Issue.record("expected a refusal (\(reason)), got \(error)")
                return
            }
            #expect(message.localizedCaseInsensitiveContains(reason), "\(message)")
        }
    }

    @Test func aValidTokenIsThePersonKeyedByProjectAndUID() async throws {
        try await withVerifier { google, verifier, _ in
            let person = try await verifier.person(from: try google.token(google.claims(uid: "uid-42")))
            #expect(person.identity.provider == "firebase:\(google.projectID)")
            #expect(person.identity.subject == "uid-42")
            #expect(person.displayName == "Fire Base")
            // Without a name or email the uid stands in, made displayable like any name.
            let uid = "\u{202E}" + String(repeating: "u", count: 100)
            var nameless = google.claims(uid: uid)
            nameless["name"] = nil
            nameless["email"] = nil
            nameless["email_verified"] = nil
            let bare = try await verifier.person(from: try google.token(nameless, signInProvider: "phone"))
            #expect(bare.identity.subject == uid)
            #expect(bare.displayName == String(repeating: "u", count: 64))
            // Google sign-ins carry no verification requirement for the gateway's own policy.
            _ = try await verifier.person(from: try google.token(google.claims(), signInProvider: "google.com"))
        }
    }

    @Test func tokensGooglesRulesRefuseAreRefused() async throws {
        try await withVerifier { google, verifier, _ in
            let now = Date().timeIntervalSince1970
            var claims = google.claims()
            claims["aud"] = .string("another-project")
            await refused(verifier, try google.token(claims), because: "another Firebase project")
            claims = google.claims()
            claims["iss"] = .string("https://securetoken.google.com/another-project")
            await refused(verifier, try google.token(claims), because: "another Firebase project")
            claims = google.claims()
            claims["exp"] = .number(now - 120)
            await refused(verifier, try google.token(claims), because: "expired")
            claims = google.claims()
            claims["iat"] = .number(now + 600)
            await refused(verifier, try google.token(claims), because: "future")
            claims = google.claims()
            claims["sub"] = .string("")
            await refused(verifier, try google.token(claims), because: "valid user")
            claims["sub"] = .string(String(repeating: "u", count: 129))
            await refused(verifier, try google.token(claims), because: "valid user")
            await refused(verifier, try google.token(google.claims(), algorithm: .none), because: "RS256")
            await refused(verifier, try google.token(google.claims(), algorithm: .hs256(secret: "test-api-key")), because: "RS256")
            await refused(verifier, try google.token(google.claims(), kid: "not-published"), because: "does not publish")
        }
    }

    @Test func theGatewayIsStricterThanTheAdminSDKsOnAuthTime() async throws {
        try await withVerifier { google, verifier, _ in
            let now = Date().timeIntervalSince1970
            var claims = google.claims()
            claims["auth_time"] = .number(now - 3600)
            await refused(verifier, try google.token(claims), because: "too old")
            claims["auth_time"] = .absent
            await refused(verifier, try google.token(claims), because: "when the person signed in")
            claims["auth_time"] = .number(now + 600)
            await refused(verifier, try google.token(claims), because: "future")
        }
    }

    @Test func policyTenantsAnonymousAndEmails() async throws {
        try await withVerifier { google, verifier, _ in
            await refused(verifier, try google.token(google.claims(), tenant: "tenant-1"), because: "another tenant")
            await refused(verifier, try google.token(google.claims(), signInProvider: "anonymous"), because: "Anonymous")
            var unverified = google.claims()
            unverified["email_verified"] = .bool(false)
            await refused(verifier, try google.token(unverified), because: "Verify your email")
        }
        try await withVerifier({
            $0.tenantID = "tenant-1"
            $0.allowedEmailDomains = ["example.com"]
        }) { google, verifier, _ in
            _ = try await verifier.person(from: try google.token(google.claims(), tenant: "tenant-1"))
            await refused(verifier, try google.token(google.claims()), because: "tenant")
            var elsewhere = google.claims()
            elsewhere["email"] = .string("someone@elsewhere.org")
            await refused(verifier, try google.token(elsewhere, tenant: "tenant-1"), because: "not in a domain")
        }
    }

    /// Keys are cached for max-age; an unknown kid re-fetches at most once a minute; a failing
    /// certificate endpoint leaves the last good keys in use until they expire, then fails closed.
    @Test func certificatesAreCachedRotatedAndFailClosed() async throws {
        try await withVerifier { google, verifier, _ in
            _ = try await verifier.person(from: try google.token(google.claims()))
            #expect(google.fetches == 1)
            _ = try await verifier.person(from: try google.token(google.claims()))
            #expect(google.fetches == 1, "cached for max-age")

            // Rotation: the new kid is unknown, one fetch picks it up.
            try google.rotate()
            _ = try await verifier.person(from: try google.token(google.claims()))
            #expect(google.fetches == 2)
            for _ in 0..<5 {
                await refused(verifier, try google.token(google.claims(), kid: "random-\(UUID())"), because: "does not publish")
            }
            #expect(google.fetches == 2, "made-up key ids within a minute fetch nothing")

            // The endpoint fails: cached keys still work while they are valid.
            google.answer(.serverError)
            _ = try await verifier.person(from: try google.token(google.claims()))
        }
        try await withVerifier { google, verifier, _ in
            google.answer(.certificates, maxAge: 1)
            _ = try await verifier.person(from: try google.token(google.claims()))
            google.answer(.serverError)
            try await Task.sleep(for: .milliseconds(1200))
            do {
                _ = try await verifier.person(from: try google.token(google.claims()))
                Issue.record("expired keys with a failing endpoint must fail closed")
            } catch {
                guard let failure = error as? SignInError, case .providerUnavailable = failure else {
                    Issue.record("expected providerUnavailable, got \(error)")
                    return
                }
            }
        }
    }

    func isUnavailable(_ error: any Error) -> Bool {
        if let failure = error as? SignInError, case .providerUnavailable = failure { return true }
        return false
    }

    /// Sign-ins that need the document at once share one fetch; after a failure, the next ones
    /// get the failure at once for `failureBackoff` instead of each waiting for a fetch of its own.
    @Test func fetchesAreSharedAndAFailureIsNotRetriedAtOnce() async throws {
        try await withVerifier { google, verifier, _ in
            let token = try google.token(google.claims())
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 { group.addTask { _ = try await verifier.person(from: token) } }
                try await group.waitForAll()
            }
            #expect(google.fetches == 1, "eight sign-ins, one fetch")
        }
        try await withVerifier { google, verifier, _ in
            google.answer(.serverError)
            let token = try google.token(google.claims())
            for attempt in 0..<3 {
                do {
                    _ = try await verifier.person(from: token)
                    Issue.record("no keys: the sign-in must fail")
                } catch {
                    #expect(isUnavailable(error), "attempt \(attempt): \(error)")
                }
            }
            #expect(google.fetches == 1, "one failed fetch, then the failure is answered without fetching")
        }
    }

    /// A key id Firebase does not publish yet, while the document cannot be fetched, is the
    /// provider being unavailable (503), not a bad token (400): it may be a new key.
    @Test func anUnknownKeyWhileTheDocumentCannotBeFetchedIsUnavailable() async throws {
        try await withVerifier { google, verifier, _ in
            _ = try await verifier.person(from: try google.token(google.claims()))
            try google.rotate()
            google.answer(.serverError)
            do {
                _ = try await verifier.person(from: try google.token(google.claims()))
                Issue.record("a key that cannot be checked must not let a token through")
            } catch {
                #expect(isUnavailable(error), "\(error)")
            }
        }
    }

    @Test func aCertificateEndpointThatHangsFailsWithinTheTimeout() async throws {
        try await withVerifier { google, verifier, _ in
            google.answer(.hang)
            let started = ContinuousClock.now
            do {
                _ = try await verifier.person(from: try google.token(google.claims()))
                Issue.record("a hanging certificate endpoint must not let a token through")
            } catch {
                guard let failure = error as? SignInError, case .providerUnavailable = failure else {
                    Issue.record("expected providerUnavailable, got \(error)")
                    return
                }
            }
            #expect(ContinuousClock.now - started < .seconds(15))
        }
    }
}
