import AsyncHTTPClient
import Foundation
import GatewayAuth
import JWTKit
import Logging
import NIOCore
import NIOFoundationCompat

/// Google's signing certificates for Firebase ID tokens: a JSON object mapping key id to an
/// X.509 certificate in PEM. Cached for the document's `Cache-Control: max-age`; an unknown key
/// id causes at most one re-fetch per minute. Sign-ins that need the document at the same time
/// share one fetch, and a failed fetch is not tried again for `failureBackoff`, so an outage
/// costs each sign-in an immediate 503 instead of its own timed-out fetch. Keys are used until
/// they expire; past that, with no fresh document, verification fails closed (503), and so does
/// a key id that is unknown while the document cannot be fetched (it may be a new key).
package actor FirebaseCertificates {
    package nonisolated let url: String
    let logger: Logger
    private var client: HTTPClient?
    private var keys: [String: Insecure.RSA.PublicKey] = [:]
    private var expiresAt: ContinuousClock.Instant?
    private var lastUnknownKeyFetch: ContinuousClock.Instant?
    /// The fetch under way, which every caller waits for.
    private var fetching: Task<Void, any Error>?
    private var lastFailure: ContinuousClock.Instant?

    package static let unknownKeyRefetchInterval: Duration = .seconds(60)
    /// After a failed fetch, how long callers get the failure without fetching again.
    package static let failureBackoff: Duration = .seconds(10)
    /// Without a usable max-age the keys are kept this long.
    static let defaultLifetime: Duration = .seconds(3600)

    package init(url: String, logger: Logger) {
        self.url = url
        self.logger = logger
    }

    package func shutdown() async {
        let client = self.client
        self.client = nil
        try? await client?.shutdown()
    }

    /// The public key of `kid`.
    func key(_ kid: String) async throws(SignInError) -> Insecure.RSA.PublicKey {
        let unavailable = SignInError.providerUnavailable("Firebase's signing certificates cannot be fetched right now.")
        let expired = expiresAt.map { ContinuousClock.now >= $0 } ?? true
        if expired {
            do {
                try await sharedRefresh()
            } catch {
                // Expired keys are dropped: fail closed.
                if expiresAt.map({ ContinuousClock.now >= $0 }) ?? true { keys = [:] }
                if keys.isEmpty { throw unavailable }
            }
        }
        if let key = keys[kid] { return key }
        let mayRefetch = lastUnknownKeyFetch.map { ContinuousClock.now - $0 >= Self.unknownKeyRefetchInterval } ?? true
        if !expired, mayRefetch {
            lastUnknownKeyFetch = .now
            // Google may have added the key: if the document cannot be fetched, that cannot be
            // told, which is the provider being unavailable, not the token being bad.
            do { try await sharedRefresh() } catch { throw unavailable }
            if let key = keys[kid] { return key }
        }
        throw .refused("The sign-in was signed with a key Firebase does not publish.")
    }

    /// One fetch at a time, shared by every caller; a recent failure is answered without one.
    private func sharedRefresh() async throws {
        if let fetching { return try await fetching.value }
        if let lastFailure, ContinuousClock.now - lastFailure < Self.failureBackoff {
            throw CertificatesUnavailable(reason: "the last fetch failed less than \(Self.failureBackoff) ago")
        }
        let fetch = Task { try await self.refresh() }
        fetching = fetch
        defer { fetching = nil }
        do {
            try await fetch.value
            lastFailure = nil
        } catch {
            lastFailure = .now
            throw error
        }
    }

    private func refresh() async throws {
        let http: HTTPClient
        if let client {
            http = client
        } else {
            http = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(10))))
            client = http
        }
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await http.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else {
                throw CertificatesUnavailable(reason: "the certificate document answered \(response.status.code)")
            }
            let document = try JSONDecoder().decode([String: String].self, from: Data(buffer: body))
            var parsed: [String: Insecure.RSA.PublicKey] = [:]
            for (kid, pem) in document {
                if let key = try? Insecure.RSA.PublicKey(certificatePEM: pem) { parsed[kid] = key }
            }
            guard !parsed.isEmpty else { throw CertificatesUnavailable(reason: "the certificate document holds no RSA certificate") }
            keys = parsed
            let maxAge = CacheControl.maxAge(response.headers.first(name: "Cache-Control")).flatMap { $0 > .zero ? $0 : nil }
            expiresAt = .now + (maxAge ?? Self.defaultLifetime)
            logger.debug("firebase certificates fetched", metadata: ["event": "firebase.certificates", "keys": "\(parsed.count)"])
        } catch {
            logger.warning(
                "firebase certificates unavailable", metadata: ["event": "firebase.certificates_failed", "error": "\(error)"])
            throw error
        }
    }
}

struct CertificatesUnavailable: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}
