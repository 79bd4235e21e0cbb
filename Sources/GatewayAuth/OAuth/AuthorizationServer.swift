import Foundation
import GatewayConfig
import GatewayEphemeral
import GatewayProtocol
import GatewayStore
import Logging

/// What an authorization request asked for, kept while the person signs in.
package struct AuthorizationRequest: Sendable, Codable, Equatable {
    package let clientID: String
    package let redirectURI: String
    package let state: String?
    package let codeChallenge: String
    package let scope: String
    /// The RFC 8707 resource the tokens are for; nil is the gateway's API.
    package let resource: String?
}

/// A redeemable authorization code's grant (stored under the code's hash, about 60 s, single use).
struct CodeGrant: Codable {
    let clientID: String
    let redirectURI: String
    let codeChallenge: String
    let userID: String
    let scope: String
    let resource: String?
}

/// RFC 8628 device authorization state.
struct DeviceGrant: Codable {
    enum Status: String, Codable { case pending, approved, denied }
    let clientID: String
    let scope: String
    let userCode: String
    var status: Status
    var userID: String?
    var lastPolledAt: Double?
    /// When the client asked (Unix seconds), shown on the approval page.
    var requestedAt: Double?
}

/// A device authorization waiting for a person, as the approval page shows it.
package struct PendingDeviceAuthorization: Sendable {
    package let client: OAuthClient
    /// The code as the terminal shows it (XXXX-XXXX).
    package let userCode: String
    package let requestedAt: Date?
}

/// The OAuth 2.1 authorization server's logic, independent of HTTP: handlers parse requests
/// and render results; every rule lives here.
package struct AuthorizationServer: Sendable {
    package static let supportedScopes = ["gateway"]
    package static let defaultScope = "gateway"
    static let authorizationRequestLifetime: Duration = .seconds(600)
    /// Parameters that are kept with a pending request are bounded, so parking one costs little.
    package static let maximumStateBytes = 1024
    package static let maximumRedirectURIBytes = 2048
    static let devicePollInterval = 5
    /// Where a code that was redeemed is remembered, so a replay can revoke what it produced.
    static let redeemedCodeMemory: Duration = .seconds(600)

    package let clients: OAuthClientRegistry
    package let thirdParty: ThirdPartyClients
    package let tokens: AccessTokenService
    let store: GatewayStore
    let ephemeral: any EphemeralStore
    let settings: AuthSettings
    let issuer: String
    let logger: Logger
    /// Told the id of every refresh token family revoked here (RFC 7009, reuse, code replay), so
    /// the responses its tokens hold open can end on every replica.
    let familyRevoked: @Sendable (_ familyID: String) async -> Void

    package init(
        issuer: String, clients: OAuthClientRegistry, thirdParty: ThirdPartyClients, tokens: AccessTokenService, store: GatewayStore,
        ephemeral: any EphemeralStore, settings: AuthSettings, logger: Logger,
        familyRevoked: @escaping @Sendable (_ familyID: String) async -> Void = { _ in }
    ) {
        self.familyRevoked = familyRevoked
        self.issuer = issuer
        self.clients = clients
        self.thirdParty = thirdParty
        self.tokens = tokens
        self.store = store
        self.ephemeral = ephemeral
        self.settings = settings
        self.logger = logger
    }

    // MARK: Authorization endpoint

    /// Validates `/oauth/authorize` parameters and parks the request while the person signs in.
    package func beginAuthorization(_ parameters: [String: String]) async throws -> (
        requestID: String, request: AuthorizationRequest, client: OAuthClient
    ) {
        let found: OAuthClient?
        do {
            found = try await client(parameters["client_id"])
        } catch let error as OAuthError {
            throw AuthorizeFailure.errorPage("The application that sent you here cannot be used: \(error.message).")
        }
        guard let client = found else {
            throw AuthorizeFailure.errorPage("Unknown client. The application that sent you here is not registered with this gateway.")
        }
        guard let redirectURI = parameters["redirect_uri"], redirectURI.utf8.count <= Self.maximumRedirectURIBytes,
            clients.isRedirectAllowed(redirectURI, for: client)
        else {
            throw AuthorizeFailure.errorPage(
                "The redirect address of this sign-in request is not allowed for \(client.name), so the gateway will not send you there.")
        }
        let state = parameters["state"]
        func fail(_ code: String, _ message: String) -> AuthorizeFailure {
            .redirect(to: Self.redirect(redirectURI, adding: ["error": code, "error_description": message, "state": state, "iss": issuer]))
        }
        guard (state?.utf8.count ?? 0) <= Self.maximumStateBytes else {
            // Not echoed back: the refusal would carry the oversized value.
            throw AuthorizeFailure.redirect(
                to: Self.redirect(
                    redirectURI,
                    adding: [
                        "error": "invalid_request", "error_description": "state is limited to \(Self.maximumStateBytes) bytes",
                        "iss": issuer,
                    ]))
        }
        guard parameters["response_type"] == "code" else {
            throw fail("unsupported_response_type", "response_type must be code")
        }
        guard let challenge = parameters["code_challenge"] else {
            throw fail("invalid_request", "code_challenge is required (PKCE)")
        }
        guard parameters["code_challenge_method"] == "S256" else {
            throw fail("invalid_request", "code_challenge_method must be S256")
        }
        guard PKCE.isWellFormedChallenge(challenge) else {
            throw fail("invalid_request", "code_challenge must be a base64url SHA-256 digest (43 characters)")
        }
        guard let scope = Self.normalizedScope(parameters["scope"]) else {
            throw fail("invalid_scope", "supported scopes: \(Self.supportedScopes.joined(separator: " "))")
        }
        let resource: String?
        do {
            resource = try tokenResource(parameters["resource"], for: client)
        } catch {
            throw fail(error.code, error.message)
        }
        let request = AuthorizationRequest(
            clientID: client.id, redirectURI: redirectURI, state: state, codeChallenge: challenge, scope: scope, resource: resource)
        let requestID = OpaqueToken.generate()
        try await ephemeral.set("authz:\(OpaqueToken.hash(requestID))", try Self.encode(request), ttl: Self.authorizationRequestLifetime)
        return (requestID, request, client)
    }

    /// The parked request, or nil when it expired or was used.
    package func pendingAuthorization(_ requestID: String) async throws -> AuthorizationRequest? {
        try await ephemeral.get("authz:\(OpaqueToken.hash(requestID))").map { try Self.decode(AuthorizationRequest.self, $0) }
    }

    /// Issues a one-time code for the signed-in user and returns the redirect that carries it.
    package func completeAuthorization(_ requestID: String, user: User) async throws -> String? {
        guard let raw = try await ephemeral.take("authz:\(OpaqueToken.hash(requestID))") else { return nil }
        let request = try Self.decode(AuthorizationRequest.self, raw)
        if let client = try await client(request.clientID) { try await thirdParty.touch(client) }
        let code = OpaqueToken.generate()
        let grant = CodeGrant(
            clientID: request.clientID, redirectURI: request.redirectURI, codeChallenge: request.codeChallenge,
            userID: user.id, scope: request.scope, resource: request.resource)
        try await ephemeral.set("code:\(OpaqueToken.hash(code))", try Self.encode(grant), ttl: settings.authorizationCodeTTL)
        return Self.redirect(request.redirectURI, adding: ["code": code, "state": request.state, "iss": issuer])
    }

    /// The person declined: the request is dropped and the client told `access_denied`.
    package func denyAuthorization(_ requestID: String) async throws -> String? {
        guard let raw = try await ephemeral.take("authz:\(OpaqueToken.hash(requestID))") else { return nil }
        let request = try Self.decode(AuthorizationRequest.self, raw)
        return Self.redirect(
            request.redirectURI,
            adding: ["error": "access_denied", "error_description": "the user declined", "state": request.state, "iss": issuer])
    }

    // MARK: Token endpoint

    package func token(_ form: [String: String]) async throws(OAuthError) -> TokenResponse {
        do {
            switch form["grant_type"] {
            case "authorization_code": return try await redeemCode(form)
            case "refresh_token": return try await refresh(form)
            case "urn:ietf:params:oauth:grant-type:device_code": return try await redeemDeviceCode(form)
            case nil: throw OAuthError.invalidRequest("grant_type is required")
            case let other?: throw OAuthError.unsupportedGrantType("grant_type \(other) is not supported")
            }
        } catch let error as OAuthError {
            throw error
        } catch {
            logger.error("token endpoint failed", metadata: ["event": "oauth.token_failed", "error": "\(type(of: error))"])
            throw OAuthError("server_error", "the gateway could not complete the request", status: 500)
        }
    }

    func requireClient(_ form: [String: String]) async throws -> OAuthClient {
        guard let id = form["client_id"] else { throw OAuthError.invalidRequest("client_id is required") }
        guard let client = try await client(id) else { throw OAuthError.invalidClient("unknown client \(id.prefix(200))") }
        return client
    }

    /// A first-party client, a registered one or one known by its metadata document.
    package func client(_ id: String?) async throws -> OAuthClient? {
        guard let id else { return nil }
        if let firstParty = clients.client(id) { return firstParty }
        return try await thirdParty.client(id)
    }

    /// The resources tokens can be for (RFC 8707): the gateway's API (the issuer URL, also the
    /// default) and the MCP endpoint.
    package var resources: Set<String> { [issuer, mcpResource] }
    package var mcpResource: String { issuer + "/mcp" }

    /// The resource tokens are for, from a `resource` parameter: nil for the API (also when none
    /// was asked for), the MCP endpoint's URL for it, `invalid_target` for anything else. A
    /// trailing slash is ignored.
    ///
    /// A third-party client (registered or known by its metadata document) only ever gets the
    /// MCP endpoint: nobody vetted it, so it must not hold the API that makes shares, API keys
    /// and devices. Without a `resource` it gets the MCP endpoint; asking for the API is refused.
    func tokenResource(_ requested: String?, for client: OAuthClient) throws(OAuthError) -> String? {
        guard var normalized = requested else { return client.isThirdParty ? mcpResource : nil }
        while normalized.hasSuffix("/") { normalized.removeLast() }
        guard resources.contains(normalized) else {
            throw OAuthError("invalid_target", "resource must be one of \(resources.sorted().joined(separator: ", "))")
        }
        if client.isThirdParty, normalized != mcpResource {
            throw OAuthError(
                "invalid_target", "a third-party client may only get tokens for \(mcpResource)")
        }
        return normalized == issuer ? nil : normalized
    }

    /// A token request's `resource`, when sent, must be the one the grant was for.
    func checkResource(_ form: [String: String], granted: String?, client: OAuthClient) throws {
        guard form["resource"] != nil else { return }
        guard try tokenResource(form["resource"], for: client) == granted else {
            throw OAuthError("invalid_target", "resource does not match the one this grant was authorized for")
        }
    }

    func redeemCode(_ form: [String: String]) async throws -> TokenResponse {
        let client = try await requireClient(form)
        guard let code = form["code"] else { throw OAuthError.invalidRequest("code is required") }
        guard let redirectURI = form["redirect_uri"] else { throw OAuthError.invalidRequest("redirect_uri is required") }
        guard let verifier = form["code_verifier"] else { throw OAuthError.invalidRequest("code_verifier is required (PKCE)") }
        let codeHash = OpaqueToken.hash(code)
        guard let raw = try await ephemeral.get("code:\(codeHash)") else {
            // A replayed code: revoke what its first redemption produced (RFC 6749 section 4.1.2).
            if let familyID = try await ephemeral.take("code-redeemed:\(codeHash)") {
                try await store.revokeRefreshFamily(familyID, reason: "authorization code replay")
                await familyRevoked(familyID)
                logger.warning("authorization code replayed; its tokens were revoked", metadata: ["event": "oauth.code_replay"])
            }
            throw OAuthError.invalidGrant("the authorization code is invalid, expired or already used")
        }
        let grant = try Self.decode(CodeGrant.self, raw)
        guard grant.clientID == client.id else {
            throw OAuthError.invalidGrant("the authorization code was issued to another client")
        }
        guard grant.redirectURI == redirectURI else {
            throw OAuthError.invalidGrant("redirect_uri does not match the authorization request")
        }
        guard PKCE.verify(verifier: verifier, challenge: grant.codeChallenge) else {
            throw OAuthError.invalidGrant("code_verifier does not match the code_challenge")
        }
        try checkResource(form, granted: grant.resource, client: client)
        // Only a redemption that passed every check consumes the code; take() makes it
        // single-use when two correct redemptions race.
        guard try await ephemeral.take("code:\(codeHash)") != nil else {
            throw OAuthError.invalidGrant("the authorization code is invalid, expired or already used")
        }
        let response = try await issueTokens(userID: grant.userID, clientID: client.id, scope: grant.scope, resource: grant.resource)
        try await ephemeral.set("code-redeemed:\(codeHash)", response.familyID, ttl: Self.redeemedCodeMemory)
        return response.tokens
    }

    func refresh(_ form: [String: String]) async throws -> TokenResponse {
        let client = try await requireClient(form)
        guard let presented = form["refresh_token"] else { throw OAuthError.invalidRequest("refresh_token is required") }
        // Checked before the token is used up, so a wrong `resource` costs the client nothing.
        if form["resource"] != nil || client.isThirdParty, let granted = try await store.refreshTokenResource(OpaqueToken.hash(presented)) {
            if client.isThirdParty, granted != mcpResource {
                // A sign-in from before third-party clients were confined to /mcp: it opens nothing now.
                throw OAuthError.invalidGrant("this sign-in was for the gateway's API, which third-party clients cannot use; sign in again")
            }
            try checkResource(form, granted: granted, client: client)
        }
        let next = OpaqueToken.generate()
        let now = Date()
        // However often it refreshes, a sign-in ends after REFRESH_TOKEN_MAX_LIFETIME.
        let rotation = try await store.rotateRefreshToken(
            OpaqueToken.hash(presented), clientID: client.id, newTokenHash: OpaqueToken.hash(next),
            newExpiresAt: now.addingTimeInterval(settings.refreshTokenTTL.seconds),
            familyStartedAfter: now.addingTimeInterval(-settings.refreshTokenMaxLifetime.seconds), now: now)
        switch rotation {
        case .rotated(let grant):
            try await thirdParty.touch(client)
            let access = try await tokens.issue(
                subject: grant.userID, clientID: client.id, scope: grant.scope.split(separator: " ").map(String.init),
                audience: grant.resource, familyID: grant.familyID)
            return TokenResponse(
                accessToken: access.token, tokenType: "Bearer", expiresIn: access.expiresIn, refreshToken: next, scope: grant.scope)
        case .reuseDetected(let familyID):
            await familyRevoked(familyID)
            logger.warning(
                "refresh token reused; its whole family was revoked",
                metadata: ["event": "oauth.refresh_reuse", "client_id": .string(client.id)])
            throw OAuthError.invalidGrant("the refresh token was already used; every token of this sign-in is revoked")
        case .invalid:
            throw OAuthError.invalidGrant("the refresh token is invalid, expired or revoked")
        }
    }

    func issueTokens(userID: String, clientID: String, scope: String, resource: String? = nil) async throws -> (
        tokens: TokenResponse, familyID: String
    ) {
        let refreshToken = OpaqueToken.generate()
        let grant = try await store.createRefreshFamily(
            tokenHash: OpaqueToken.hash(refreshToken), userID: userID, clientID: clientID, scope: scope, resource: resource,
            expiresAt: Date().addingTimeInterval(settings.refreshTokenTTL.seconds))
        let access = try await tokens.issue(
            subject: userID, clientID: clientID, scope: scope.split(separator: " ").map(String.init), audience: resource,
            familyID: grant.familyID)
        logger.info(
            "tokens issued", metadata: ["event": "oauth.tokens_issued", "client_id": .string(clientID), "user_id": .string(userID)])
        return (
            TokenResponse(
                accessToken: access.token, tokenType: "Bearer", expiresIn: access.expiresIn, refreshToken: refreshToken, scope: scope),
            grant.familyID
        )
    }

    // MARK: Revocation (RFC 7009)

    /// Revokes a refresh token's family. Unknown tokens and access tokens (stateless, short-lived)
    /// are accepted silently, as RFC 7009 requires.
    package func revoke(_ form: [String: String]) async throws(OAuthError) {
        guard let token = form["token"] else { throw OAuthError.invalidRequest("token is required") }
        do {
            if let familyID = try await store.revokeRefreshToken(OpaqueToken.hash(token)) {
                await familyRevoked(familyID)
                logger.info("refresh token revoked", metadata: ["event": "oauth.revoked"])
            }
        } catch {
            throw OAuthError("server_error", "the gateway could not complete the request", status: 500)
        }
    }

    // MARK: Device authorization grant (RFC 8628)

    package func startDeviceAuthorization(_ form: [String: String], verificationURI: String) async throws(OAuthError)
        -> DeviceAuthorizationResponse
    {
        let client: OAuthClient
        do {
            client = try await requireClient(form)
        } catch let error as OAuthError {
            throw error
        } catch {
            throw OAuthError("server_error", "the gateway could not complete the request", status: 500)
        }
        guard client.allowsDeviceGrant else { throw OAuthError.unauthorizedClient("\(client.id) may not use the device grant") }
        guard let scope = Self.normalizedScope(form["scope"]) else {
            throw OAuthError.invalidScope("supported scopes: \(Self.supportedScopes.joined(separator: " "))")
        }
        let deviceCode = OpaqueToken.generate()
        let userCode = Self.makeUserCode()
        let grant = DeviceGrant(
            clientID: client.id, scope: scope, userCode: userCode, status: .pending, requestedAt: Date().timeIntervalSince1970)
        do {
            let deviceKey = "device:\(OpaqueToken.hash(deviceCode))"
            try await ephemeral.set(deviceKey, try Self.encode(grant), ttl: settings.deviceCodeTTL)
            try await ephemeral.set("usercode:\(Self.normalizeUserCode(userCode))", deviceKey, ttl: settings.deviceCodeTTL)
        } catch {
            throw OAuthError("server_error", "the gateway could not complete the request", status: 500)
        }
        return DeviceAuthorizationResponse(
            deviceCode: deviceCode, userCode: userCode, verificationURI: verificationURI,
            verificationURIComplete: "\(verificationURI)?user_code=\(userCode)",
            expiresIn: Int(settings.deviceCodeTTL.components.seconds), interval: Self.devicePollInterval)
    }

    /// What a pending user code belongs to (for the approval page), or nil.
    package func pendingDevice(userCode: String) async throws -> PendingDeviceAuthorization? {
        let normalized = Self.normalizeUserCode(userCode)
        guard (1...32).contains(normalized.count), let deviceKey = try await ephemeral.get("usercode:\(normalized)"),
            let raw = try await ephemeral.get(deviceKey)
        else { return nil }
        let grant = try Self.decode(DeviceGrant.self, raw)
        guard grant.status == .pending, let client = clients.client(grant.clientID) else { return nil }
        return PendingDeviceAuthorization(
            client: client, userCode: grant.userCode, requestedAt: grant.requestedAt.map(Date.init(timeIntervalSince1970:)))
    }

    /// Records the signed-in person's approval or denial; false when the code is unknown or used.
    package func decideDevice(userCode: String, user: User, approve: Bool) async throws -> Bool {
        try await decide(userCode: userCode, status: approve ? .approved : .denied, userID: user.id)
    }

    /// The person at the verification page refuses the code; nobody needs to sign in for that.
    package func denyDevice(userCode: String) async throws -> Bool {
        try await decide(userCode: userCode, status: .denied, userID: nil)
    }

    func decide(userCode: String, status: DeviceGrant.Status, userID: String?) async throws -> Bool {
        guard let deviceKey = try await ephemeral.take("usercode:\(Self.normalizeUserCode(userCode))"),
            let raw = try await ephemeral.get(deviceKey)
        else { return false }
        var grant = try Self.decode(DeviceGrant.self, raw)
        guard grant.status == .pending else { return false }
        grant.status = status
        grant.userID = userID
        return try await ephemeral.replace(deviceKey, try Self.encode(grant))
    }

    func redeemDeviceCode(_ form: [String: String]) async throws -> TokenResponse {
        let client = try await requireClient(form)
        guard let deviceCode = form["device_code"] else { throw OAuthError.invalidRequest("device_code is required") }
        let deviceKey = "device:\(OpaqueToken.hash(deviceCode))"
        guard let raw = try await ephemeral.get(deviceKey) else {
            throw OAuthError("expired_token", "the device code is unknown or expired")
        }
        var grant = try Self.decode(DeviceGrant.self, raw)
        guard grant.clientID == client.id else { throw OAuthError.invalidGrant("the device code was issued to another client") }
        switch grant.status {
        case .pending:
            let now = Date().timeIntervalSince1970
            let tooSoon = grant.lastPolledAt.map { now - $0 < Double(Self.devicePollInterval) - 0.5 } ?? false
            grant.lastPolledAt = now
            _ = try await ephemeral.replace(deviceKey, try Self.encode(grant))
            if tooSoon { throw OAuthError("slow_down", "poll no more often than every \(Self.devicePollInterval) seconds") }
            throw OAuthError("authorization_pending", "the user has not yet approved this device")
        case .denied:
            try await ephemeral.delete(deviceKey)
            throw OAuthError("access_denied", "the user denied this device")
        case .approved:
            // take() makes the approval single-use even if two polls race.
            guard try await ephemeral.take(deviceKey) != nil, let userID = grant.userID else {
                throw OAuthError("expired_token", "the device code was already used")
            }
            return try await issueTokens(userID: userID, clientID: client.id, scope: grant.scope).tokens
        }
    }

    // MARK: Helpers

    static func normalizedScope(_ requested: String?) -> String? {
        let scopes = (requested ?? "").split(separator: " ").map(String.init)
        if scopes.isEmpty { return defaultScope }
        guard scopes.allSatisfy(supportedScopes.contains) else { return nil }
        return Array(Set(scopes)).sorted().joined(separator: " ")
    }

    /// Eight letters from an alphabet without vowels or look-alikes (RFC 8628 section 6.1), shown as XXXX-XXXX.
    static func makeUserCode() -> String {
        let alphabet = Array("BCDFGHJKLMNPQRSTVWXZ")
        var generator = SystemRandomNumberGenerator()
        let letters = (0..<8).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
        return String(letters[0..<4]) + "-" + String(letters[4..<8])
    }

    static func normalizeUserCode(_ code: String) -> String {
        code.uppercased().filter { $0.isLetter }
    }

    static func redirect(_ base: String, adding parameters: [String: String?]) -> String {
        var components = URLComponents(string: base)!
        var items = components.queryItems ?? []
        for key in parameters.keys.sorted() {
            if let value = parameters[key] ?? nil { items.append(URLQueryItem(name: key, value: value)) }
        }
        components.queryItems = items
        // URLComponents leaves "+" alone, which form decoders read as a space.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.string!
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ raw: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(raw.utf8))
    }
}

extension Duration {
    var seconds: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
