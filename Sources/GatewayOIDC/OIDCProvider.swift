import AsyncHTTPClient
import Foundation
import GatewayAuth
import GatewayProtocol
import JWTKit
import Logging
import NIOCore
import NIOFoundationCompat
import NIOSSL

/// The OpenID Provider as the gateway knows it: its discovery document (fetched at start-up,
/// then cached; retried with backoff while the issuer is unreachable) and its signing keys
/// (cached for the JWKS's own cache lifetime; an unknown `kid` triggers at most one re-fetch per
/// minute, so a key rotation is picked up without letting tokens with made-up ids cause a fetch
/// storm).
package actor OIDCProvider {
    package enum Status: Sendable, Equatable {
        case discovering
        case available
        case unreachable(String)
    }

    package nonisolated let issuer: String
    let configuration: HTTPClient.Configuration
    /// Made on first use (and shut down by `shutdown()`), so a provider that never talks to
    /// the issuer (a route listing, a unit test) owns nothing that needs closing.
    private var client: HTTPClient?
    let logger: Logger
    private(set) var metadata: ProviderMetadata?
    private(set) var lastError: String?
    private var lastDiscoveryAttempt: ContinuousClock.Instant?
    /// The discovery under way: a sign-in that arrives meanwhile (right after start-up) waits
    /// for it instead of being told the provider is unreachable.
    private var discovery: Task<ProviderMetadata, any Error>?
    private var keys: [String: JWK] = [:]
    private var keysFetchedAt: ContinuousClock.Instant?
    private var keysLifetime: Duration = .seconds(3600)
    private var lastUnknownKeyFetch: ContinuousClock.Instant?

    /// Re-fetches of the JWKS for an unknown `kid`: at most one per this interval.
    package static let unknownKeyRefetchInterval: Duration = .seconds(60)
    static let maximumDocumentBytes = 1 << 20

    /// `caPEM`: extra trusted CA certificates (PEM), for issuers with a self-signed chain.
    package init(issuer: String, caPEM: String?, logger: Logger) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caPEM {
            tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))]
        }
        self.configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(10)))
        self.issuer = issuer
        self.logger = logger
    }

    package var status: Status {
        if metadata != nil { return .available }
        if let lastError { return .unreachable(lastError) }
        return .discovering
    }

    /// Discovers the issuer until it answers (backoff 1 s doubling to 60 s), then returns.
    /// Sign-ins in the meantime try once more themselves (`currentMetadata`).
    package func discoverUntilAvailable() async {
        var delay: Duration = .seconds(1)
        while metadata == nil, !Task.isCancelled {
            if (try? await discover()) != nil { return }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(60))
        }
    }

    package func shutdown() async {
        let client = self.client
        self.client = nil
        try? await client?.shutdown()
    }

    var http: HTTPClient {
        if let client { return client }
        let made = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        client = made
        return made
    }

    /// The discovery document: the known one, the one being fetched, or a fetch now (at most
    /// every 2 s after a failure).
    package func currentMetadata() async throws(SignInError) -> ProviderMetadata {
        if let metadata { return metadata }
        if discovery == nil, let last = lastDiscoveryAttempt, ContinuousClock.now - last < .seconds(2) {
            throw .providerUnavailable("The identity provider \(issuer) cannot be reached right now.")
        }
        do {
            return try await discover()
        } catch {
            throw .providerUnavailable("The identity provider \(issuer) cannot be reached right now.")
        }
    }

    /// Fetches the discovery document, or joins the fetch under way.
    @discardableResult
    func discover() async throws -> ProviderMetadata {
        if let discovery { return try await discovery.value }
        lastDiscoveryAttempt = .now
        let task = Task { try await fetchDiscoveryDocument() }
        discovery = task
        defer { discovery = nil }
        return try await task.value
    }

    private func fetchDiscoveryDocument() async throws -> ProviderMetadata {
        do {
            let (data, _) = try await get(ProviderMetadata.discoveryURL(issuer: issuer))
            let document = try JSONDecoder().decode(ProviderMetadata.self, from: data)
            // OpenID Connect Discovery section 4.3: the issuer must be exactly the configured one.
            guard document.issuer == issuer else {
                throw OIDCProviderError("the discovery document names issuer \(document.issuer), not \(issuer)")
            }
            metadata = document
            lastError = nil
            logger.info("identity provider discovered", metadata: ["event": "oidc.discovered", "issuer": .string(issuer)])
            return document
        } catch {
            let reason = Self.describe(error)
            if lastError != reason {
                logger.warning(
                    "identity provider unreachable; retrying",
                    metadata: ["event": "oidc.unreachable", "issuer": .string(issuer), "error": .string(reason)])
            }
            lastError = reason
            throw error
        }
    }

    /// The signing key named `kid` (or the only key, when the token names none).
    func signingKey(kid: String?, metadata: ProviderMetadata) async throws(SignInError) -> JWK {
        let stale = keysFetchedAt.map { ContinuousClock.now - $0 > keysLifetime } ?? true
        if stale { try await refreshKeys(metadata) }
        if let key = lookUp(kid) { return key }
        // An unknown key id: perhaps the provider rotated its keys. Re-fetch, but not more
        // than once a minute, however many tokens with unknown ids arrive.
        let mayRefetch = lastUnknownKeyFetch.map { ContinuousClock.now - $0 >= Self.unknownKeyRefetchInterval } ?? true
        if !stale, mayRefetch {
            lastUnknownKeyFetch = .now
            try await refreshKeys(metadata)
            if let key = lookUp(kid) { return key }
        }
        throw .refused("The identity provider signed the sign-in with a key it does not publish.")
    }

    /// A token without a `kid` failed against the one cached key: perhaps the provider rotated
    /// it. Re-fetches under the same once-a-minute rule as unknown key ids; true when it did.
    func refetchAfterFailedVerification(_ metadata: ProviderMetadata) async -> Bool {
        guard lastUnknownKeyFetch.map({ ContinuousClock.now - $0 >= Self.unknownKeyRefetchInterval }) ?? true else { return false }
        lastUnknownKeyFetch = .now
        return (try? await refreshKeys(metadata)) != nil
    }

    private func lookUp(_ kid: String?) -> JWK? {
        if let kid { return keys[kid] }
        return keys.count == 1 ? keys.values.first : nil
    }

    private func refreshKeys(_ metadata: ProviderMetadata) async throws(SignInError) {
        do {
            let (data, maxAge) = try await get(metadata.jwksURI)
            keys = Self.signingKeys(in: data)
            keysFetchedAt = .now
            keysLifetime = min(max(maxAge ?? .seconds(3600), .seconds(60)), .seconds(24 * 3600))
            logger.debug("identity provider keys fetched", metadata: ["event": "oidc.jwks", "keys": "\(keys.count)"])
        } catch {
            logger.warning(
                "identity provider keys unavailable", metadata: ["event": "oidc.jwks_failed", "error": .string(Self.describe(error))])
            throw .providerUnavailable("The identity provider's signing keys cannot be fetched right now.")
        }
    }

    /// The set's signature keys with a `kid`, each decoded on its own so one key of a type this
    /// gateway does not know (or an encryption key) does not hide the others.
    static func signingKeys(in data: Data) -> [String: JWK] {
        guard let set = try? JSONDecoder().decode([String: [JSONValue]].self, from: data), let entries = set["keys"] else { return [:] }
        var keys: [String: JWK] = [:]
        for entry in entries {
            guard case .object(let fields) = entry, fields["use"]?.string ?? "sig" == "sig",
                let encoded = try? JSONEncoder().encode(entry), let key = try? JSONDecoder().decode(JWK.self, from: encoded)
            else { continue }
            keys[fields["kid"]?.string ?? ""] = key
        }
        if keys.count > 1 { keys[""] = nil }
        return keys
    }

    // MARK: HTTP

    /// GET returning the body and its `Cache-Control: max-age`.
    func get(_ url: String, bearer: String? = nil) async throws -> (Data, Duration?) {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: Self.maximumDocumentBytes)
        guard response.status == .ok else { throw OIDCProviderError("\(url) answered \(response.status.code)") }
        return (Data(buffer: body), CacheControl.maxAge(response.headers.first(name: "Cache-Control")))
    }

    /// POST a form; returns the status and the body (errors are in the body too).
    func post(_ url: String, form: [(String, String)], basicAuth: (String, String)?) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        if let (user, password) = basicAuth {
            // RFC 6749 section 2.3.1: both parts form-urlencoded before base64.
            let credentials = "\(Self.formEncode(user)):\(Self.formEncode(password))"
            request.headers.add(name: "Authorization", value: "Basic \(Data(credentials.utf8).base64EncodedString())")
        }
        request.body = .bytes(ByteBuffer(string: form.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")))
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: Self.maximumDocumentBytes)
        return (Int(response.status.code), Data(buffer: body))
    }

    static func formEncode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// An error as an operator can read it, without request details that could hold secrets.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as OIDCProviderError: return error.description
        case is DecodingError: return "the answer is not a valid discovery document"
        case let error as HTTPClientError: return "\(error)"
        default: return "\(type(of: error)): \(error)"
        }
    }
}

struct OIDCProviderError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
