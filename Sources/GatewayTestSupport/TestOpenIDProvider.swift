import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import JWTKit
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A small OpenID Provider that signs whatever a test asks: wrong `iss`, `aud`, `azp` or
/// `nonce`, expired tokens, `alg: none`, HS256 signed with the client secret, unknown key ids,
/// a missing or wrong `iss` response parameter, a userinfo `sub` of someone else. Real providers
/// cannot be made to do these; everything that works is also tested against real ones.
///
/// It approves every authorization request at once (no login page) as `behaviour.subject`, and
/// checks PKCE and the client secret like a real provider.
package final class TestOpenIDProvider: Sendable {
    package enum Algorithm: Sendable, Equatable {
        case rs256
        /// No signature at all.
        case none
        /// HMAC with the client secret as key (a classic confusion attack).
        case hs256(secret: String)
    }

    package enum ResponseIssuer: Sendable, Equatable {
        case correct, absent
        case other(String)
    }

    /// A claim value to set (or remove) in the ID token or userinfo.
    package enum Claim: Sendable, Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case strings([String])
        case absent
    }

    package struct Behaviour: Sendable {
        package var subject = "alice"
        package var clientID = "gateway"
        /// Nil: a public client, no client authentication checked.
        package var clientSecret: String? = "test-secret"
        package var algorithm = Algorithm.rs256
        /// Sent as the header's `kid` instead of the current key's.
        package var kid: String?
        /// Overrides of the ID token's claims (applied last).
        package var idToken: [String: Claim] = [:]
        /// Overrides of userinfo's answer.
        package var userinfo: [String: Claim] = [:]
        package var responseIssuer = ResponseIssuer.correct
        package var advertisesResponseIssuer = true
        /// The discovery document's `issuer`, when it should differ from the real one.
        package var documentIssuer: String?
        package var signingAlgorithms = ["RS256"]
        /// Answer the authorization request with this `error` instead of a code.
        package var authorizationError: String?
        /// How long the discovery document takes to arrive (a slow issuer at start-up).
        package var discoveryDelay: Duration = .zero

        package init() {}
    }

    struct Grant {
        let redirectURI: String
        let nonce: String?
        let challenge: String?
    }

    struct State {
        var behaviour = Behaviour()
        var key: _RSA.Signing.PrivateKey
        var kid: String
        var codes: [String: Grant] = [:]
        var tokenRequests = 0
        var jwksRequests = 0
    }

    private let state: NIOLockedValueBox<State>
    private let task: NIOLockedValueBox<Task<Void, any Error>?> = .init(nil)
    package let port: Int
    package var issuer: String { "http://127.0.0.1:\(port)" }

    /// `port`: where to listen when started (0 picks a free one now, so the issuer URL is known
    /// before the provider runs: a gateway can be started against it while it is still down).
    package init(port: Int = 0) throws {
        self.port = port == 0 ? try freeLoopbackPort() : port
        state = .init(State(key: try _RSA.Signing.PrivateKey(keySize: .bits2048), kid: "key-\(UUID().uuidString.prefix(8))"))
    }

    package var behaviour: Behaviour {
        get { state.withLockedValue { $0.behaviour } }
        set { state.withLockedValue { $0.behaviour = newValue } }
    }

    /// Token and JWKS requests served so far (to see that a refusal happened before or after them).
    package var tokenRequests: Int { state.withLockedValue { $0.tokenRequests } }
    package var jwksRequests: Int { state.withLockedValue { $0.jwksRequests } }
    package var currentKeyID: String { state.withLockedValue { $0.kid } }

    /// A new signing key with a new id; the old one disappears from the JWKS.
    package func rotateKey() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        state.withLockedValue {
            $0.key = key
            $0.kid = "key-\(UUID().uuidString.prefix(8))"
        }
    }

    package func start() async throws {
        let router = Router()
        router.get("/.well-known/openid-configuration") { _, _ in
            try await Task.sleep(for: self.behaviour.discoveryDelay)
            return try self.json(self.discovery())
        }
        router.get("/jwks") { _, _ in try self.json(try self.jwks()) }
        router.get("/authorize") { request, _ in self.authorize(request) }
        router.post("/token") { request, _ in try await self.token(request) }
        router.get("/userinfo") { request, _ in try self.userinfo(request) }
        let running = try await Self.serve(router, port: port)
        task.withLockedValue { $0 = running }
    }

    /// Runs `router` on 127.0.0.1:`port` and returns once this server (not just anyone) listens
    /// there: a server that cannot bind never reports running, and start fails instead of
    /// quietly talking to whatever else holds the port.
    static func serve(_ router: Router<BasicRequestContext>, port: Int) async throws -> Task<Void, any Error> {
        let listening = NIOLockedValueBox(false)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { _ in listening.withLockedValue { $0 = true } })
        let running = Task { try await app.runService(gracefulShutdownSignals: []) }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if listening.withLockedValue({ $0 }) { return running }
            try await Task.sleep(for: .milliseconds(20))
        }
        running.cancel()
        throw ProviderNotStarted()
    }

    package func stop() async {
        let running = task.withLockedValue { task in
            defer { task = nil }
            return task
        }
        running?.cancel()
        _ = await running?.result
    }

    struct ProviderNotStarted: Error {}

    // MARK: Endpoints

    func discovery() -> [String: Any] {
        let behaviour = self.behaviour
        return [
            "issuer": behaviour.documentIssuer ?? issuer,
            "authorization_endpoint": "\(issuer)/authorize",
            "token_endpoint": "\(issuer)/token",
            "jwks_uri": "\(issuer)/jwks",
            "userinfo_endpoint": "\(issuer)/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": behaviour.signingAlgorithms,
            "authorization_response_iss_parameter_supported": behaviour.advertisesResponseIssuer,
        ]
    }

    func jwks() throws -> [String: Any] {
        let (key, kid) = state.withLockedValue {
            $0.jwksRequests += 1
            return ($0.key, $0.kid)
        }
        let primitives = try Insecure.RSA.PrivateKey(backing: key).publicKey.getKeyPrimitives()
        return [
            "keys": [
                [
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": Self.base64URL(primitives.modulus),
                    "e": Self.base64URL(primitives.publicExponent),
                ]
            ]
        ]
    }

    func authorize(_ request: Request) -> Response {
        let query = Self.query(request.uri.query ?? "")
        guard let redirect = query["redirect_uri"], let state = query["state"] else {
            return Response(status: .badRequest)
        }
        let code = UUID().uuidString
        self.state.withLockedValue {
            $0.codes[code] = Grant(redirectURI: redirect, nonce: query["nonce"], challenge: query["code_challenge"])
        }
        var parameters = [("code", code), ("state", state)]
        if let error = behaviour.authorizationError {
            parameters = [("error", error), ("error_description", "the test provider refused"), ("state", state)]
        }
        switch behaviour.responseIssuer {
        case .correct: parameters.append(("iss", issuer))
        case .absent: break
        case .other(let other): parameters.append(("iss", other))
        }
        let location =
            redirect + (redirect.contains("?") ? "&" : "?") + parameters.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
        return Response(status: .found, headers: [.location: location])
    }

    func token(_ request: Request) async throws -> Response {
        let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
        let form = Self.query(body)
        let behaviour = self.behaviour
        let grant = state.withLockedValue { state -> Grant? in
            state.tokenRequests += 1
            guard let code = form["code"] else { return nil }
            return state.codes.removeValue(forKey: code)
        }
        func error(_ code: String, status: HTTPResponse.Status = .badRequest) throws -> Response {
            var response = try json(["error": code])
            response.status = status
            return response
        }
        if let secret = behaviour.clientSecret {
            let basic = request.headers[.authorization].flatMap { header -> String? in
                guard header.hasPrefix("Basic "), let data = Data(base64Encoded: String(header.dropFirst(6))) else { return nil }
                return String(data: data, encoding: .utf8)
            }
            let presented = basic ?? "\(form["client_id"] ?? ""):\(form["client_secret"] ?? "")"
            guard presented == "\(behaviour.clientID):\(secret)" else { return try error("invalid_client", status: .unauthorized) }
        }
        guard let grant, form["redirect_uri"] == grant.redirectURI else { return try error("invalid_grant") }
        if let challenge = grant.challenge {
            let computed = Self.base64URL(Data(SHA256.hash(data: Data((form["code_verifier"] ?? "").utf8))))
            guard computed == challenge else { return try error("invalid_grant") }
        }
        let now = Date().timeIntervalSince1970
        var claims: [String: Any] = [
            "iss": issuer, "sub": behaviour.subject, "aud": behaviour.clientID, "iat": Int(now), "exp": Int(now) + 300,
            "email": "\(behaviour.subject)@example.com", "email_verified": true, "name": behaviour.subject.capitalized,
            "preferred_username": behaviour.subject,
        ]
        if let nonce = grant.nonce { claims["nonce"] = nonce }
        Self.apply(behaviour.idToken, to: &claims)
        return try json([
            "access_token": "at-\(behaviour.subject)", "token_type": "Bearer", "expires_in": 300, "id_token": try sign(claims, behaviour),
        ])
    }

    func userinfo(_ request: Request) throws -> Response {
        let behaviour = self.behaviour
        guard request.headers[.authorization] == "Bearer at-\(behaviour.subject)" else { return Response(status: .unauthorized) }
        var claims: [String: Any] = [
            "sub": behaviour.subject, "email": "\(behaviour.subject)@example.com", "email_verified": true,
            "name": behaviour.subject.capitalized, "preferred_username": behaviour.subject,
        ]
        Self.apply(behaviour.userinfo, to: &claims)
        return try json(claims)
    }

    // MARK: Tokens

    func sign(_ claims: [String: Any], _ behaviour: Behaviour) throws -> String {
        let (key, kid) = state.withLockedValue { ($0.key, $0.kid) }
        let headerKid = behaviour.kid ?? (behaviour.algorithm == .rs256 ? kid : nil)
        return try Self.signedToken(claims, key: key, kid: headerKid, algorithm: behaviour.algorithm)
    }

    /// A compact JWS of `claims`: RS256 with `key`, unsigned (`none`), or HS256 with a secret.
    static func signedToken(_ claims: [String: Any], key: _RSA.Signing.PrivateKey, kid: String?, algorithm: Algorithm) throws -> String {
        let name =
            switch algorithm {
            case .rs256: "RS256"
            case .none: "none"
            case .hs256: "HS256"
            }
        var header: [String: Any] = ["alg": name, "typ": "JWT"]
        if let kid { header["kid"] = kid }
        let signingInput =
            Self.base64URL(try JSONSerialization.data(withJSONObject: header, options: .sortedKeys)) + "."
            + Self.base64URL(try JSONSerialization.data(withJSONObject: claims, options: .sortedKeys))
        let signature: Data =
            switch algorithm {
            case .rs256: try key.signature(for: Data(signingInput.utf8), padding: .insecurePKCS1v1_5).rawRepresentation
            case .none: Data()
            case .hs256(let secret):
                Data(HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: Data(secret.utf8))))
            }
        return signingInput + "." + Self.base64URL(signature)
    }

    static func apply(_ overrides: [String: Claim], to claims: inout [String: Any]) {
        for (name, claim) in overrides {
            switch claim {
            case .string(let value): claims[name] = value
            case .number(let value): claims[name] = value
            case .bool(let value): claims[name] = value
            case .strings(let value): claims[name] = value
            case .absent: claims[name] = nil
            }
        }
    }

    // MARK: Helpers

    func json(_ object: [String: Any]) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(data: try JSONSerialization.data(withJSONObject: object))))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func encode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    static func query(_ encoded: String) -> [String: String] {
        var values: [String: String] = [:]
        for pair in encoded.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ") }
            values[parts[0].removingPercentEncoding ?? parts[0]] = parts.count > 1 ? (parts[1].removingPercentEncoding ?? parts[1]) : ""
        }
        return values
    }
}
