import Crypto
import Foundation
import GatewayProtocol

/// PKCE (RFC 7636) with S256.
public enum PKCE {
    public static func makeVerifier() -> String {
        base64URL(randomBytes(32))
    }

    public static func challenge(for verifier: String) -> String {
        base64URL(Array(SHA256.hash(data: Array(verifier.utf8))))
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// The OAuth side of gatewayctl: discovery, authorization code with PKCE through a loopback
/// redirect, the device grant, refresh and revocation. Public client: no secret.
public struct OAuthClient: Sendable {
    public static let clientID = "gatewayctl"
    public let gatewayURL: String
    public let metadata: AuthorizationServerMetadata

    /// Normalises what a person typed as the gateway URL: a scheme is required (https assumed
    /// when missing), no trailing slash, no query.
    public static func normalizedGatewayURL(_ text: String) throws -> String {
        var text = text.trimmingCharacters(in: .whitespaces)
        if !text.contains("://") { text = "https://" + text }
        guard var components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { throw GatewayClientError.usage("not a gateway URL: \(text) (expected http(s)://host[:port])") }
        components.query = nil
        components.fragment = nil
        while components.path.hasSuffix("/") { components.path.removeLast() }
        return components.string ?? text
    }

    /// Reads `/.well-known/oauth-authorization-server` of the gateway.
    public static func discover(gatewayURL: String) async throws -> OAuthClient {
        let url = try normalizedGatewayURL(gatewayURL)
        let response = try await HTTPTransport.send(.GET, url + "/.well-known/oauth-authorization-server", timeout: .seconds(15))
        guard response.status == 200 else {
            throw GatewayClientError.invalidResponse(
                "\(url) has no OAuth metadata (HTTP \(response.status) for /.well-known/oauth-authorization-server); is it a gateway?")
        }
        do {
            let metadata = try WireJSON.sharedDecoder.decode(AuthorizationServerMetadata.self, from: response.body)
            return OAuthClient(gatewayURL: url, metadata: metadata)
        } catch {
            throw GatewayClientError.invalidResponse("the OAuth metadata of \(url) could not be read")
        }
    }

    // MARK: Authorization code + PKCE

    /// What the sign-in page needs: the URL to open and what to check when the browser comes back.
    public struct AuthorizationRequest: Sendable {
        public let url: String
        public let redirectURI: String
        public let state: String
        public let verifier: String
    }

    public func authorizationRequest(redirectURI: String) -> AuthorizationRequest {
        let verifier = PKCE.makeVerifier()
        let state = PKCE.base64URL(PKCE.randomBytes(16))
        let url = HTTPTransport.url(
            metadata.authorizationEndpoint,
            query: [
                ("response_type", "code"), ("client_id", Self.clientID), ("redirect_uri", redirectURI),
                ("code_challenge", PKCE.challenge(for: verifier)), ("code_challenge_method", "S256"), ("state", state),
                ("scope", "gateway"),
            ])
        return AuthorizationRequest(url: url, redirectURI: redirectURI, state: state, verifier: verifier)
    }

    /// Checks what came back to the redirect URI and exchanges the code for tokens.
    public func completeAuthorization(_ request: AuthorizationRequest, callback: [String: String]) async throws
        -> StoredCredentials
    {
        guard callback["state"] == request.state else {
            throw GatewayClientError.oauth(error: "invalid_state", description: "the sign-in answer does not belong to this request")
        }
        if let iss = callback["iss"], iss != metadata.issuer {
            throw GatewayClientError.oauth(error: "invalid_issuer", description: "the sign-in answer came from another server")
        }
        if let error = callback["error"] {
            throw GatewayClientError.oauth(
                error: error, description: callback["error_description"] ?? (error == "access_denied" ? "sign-in was cancelled" : nil))
        }
        guard let code = callback["code"], !code.isEmpty else {
            throw GatewayClientError.oauth(error: "invalid_request", description: "the sign-in answer carried no code")
        }
        return try await tokenRequest([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", request.redirectURI),
            ("client_id", Self.clientID), ("code_verifier", request.verifier),
        ])
    }

    // MARK: Device grant (RFC 8628)

    public typealias DeviceAuthorization = DeviceAuthorizationResponse

    public func startDeviceAuthorization() async throws -> DeviceAuthorization {
        guard let endpoint = metadata.deviceAuthorizationEndpoint else {
            throw GatewayClientError.usage("this gateway does not offer the device grant; sign in without --device-code")
        }
        let response = try await HTTPTransport.send(
            .POST, endpoint, headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: HTTPTransport.form([("client_id", Self.clientID), ("scope", "gateway")]))
        guard response.status == 200 else { throw Self.oauthError(response) }
        do {
            return try WireJSON.sharedDecoder.decode(DeviceAuthorization.self, from: response.body)
        } catch {
            throw GatewayClientError.invalidResponse("the device authorization answer could not be read")
        }
    }

    /// Polls the token endpoint until the person approved (or denied, or the code expired).
    public func pollDeviceAuthorization(_ authorization: DeviceAuthorization) async throws -> StoredCredentials {
        var interval = max(authorization.interval, 1)
        let deadline = ContinuousClock.now + .seconds(authorization.expiresIn)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .seconds(interval))
            do {
                return try await tokenRequest([
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", authorization.deviceCode),
                    ("client_id", Self.clientID),
                ])
            } catch GatewayClientError.oauth(let error, _) where error == "authorization_pending" {
                continue
            } catch GatewayClientError.oauth(let error, _) where error == "slow_down" {
                interval += 5
            }
        }
        throw GatewayClientError.oauth(error: "expired_token", description: "the code expired before it was approved")
    }

    // MARK: Refresh and revocation

    /// Exchanges the refresh token for new tokens (the refresh token rotates).
    func refresh(_ credentials: StoredCredentials) async throws -> StoredCredentials {
        try await tokenRequest([
            ("grant_type", "refresh_token"), ("refresh_token", credentials.refreshToken), ("client_id", credentials.clientID),
        ])
    }

    /// RFC 7009: revokes the refresh token (and with it the whole sign-in).
    public static func revoke(_ credentials: StoredCredentials) async throws {
        let response = try await HTTPTransport.send(
            .POST, credentials.revocationEndpoint, headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: HTTPTransport.form([
                ("token", credentials.refreshToken), ("token_type_hint", "refresh_token"), ("client_id", credentials.clientID),
            ]))
        guard response.status == 200 else { throw oauthError(response) }
    }

    private func tokenRequest(_ fields: [(String, String)]) async throws -> StoredCredentials {
        try await Self.tokenRequest(
            fields, endpoint: metadata.tokenEndpoint, gatewayURL: gatewayURL, issuer: metadata.issuer,
            revocationEndpoint: metadata.revocationEndpoint)
    }

    static func tokenRequest(
        _ fields: [(String, String)], endpoint: String, gatewayURL: String, issuer: String, revocationEndpoint: String
    ) async throws -> StoredCredentials {
        let response = try await HTTPTransport.send(
            .POST, endpoint, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: HTTPTransport.form(fields))
        guard response.status == 200 else { throw oauthError(response) }
        guard let tokens = try? WireJSON.sharedDecoder.decode(TokenResponse.self, from: response.body) else {
            throw GatewayClientError.invalidResponse("the token answer could not be read")
        }
        return StoredCredentials(
            gatewayURL: gatewayURL, issuer: issuer, tokenEndpoint: endpoint, revocationEndpoint: revocationEndpoint,
            clientID: clientID, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken,
            expiresAt: Date().timeIntervalSince1970 + Double(tokens.expiresIn))
    }

    static func oauthError(_ response: HTTPTransport.Response) -> GatewayClientError {
        if let body = try? WireJSON.sharedDecoder.decode(OAuthErrorResponse.self, from: response.body) {
            return .oauth(error: body.error, description: body.errorDescription)
        }
        return .oauth(error: "http_\(response.status)", description: response.problem.detail)
    }
}
