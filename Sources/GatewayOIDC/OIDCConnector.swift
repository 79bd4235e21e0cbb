import Crypto
import Foundation
import GatewayAuth
import GatewayConfig
import GatewayProtocol
import GatewayStore
import Logging

/// `AUTH_MODE=oidc`: the authorization code flow with PKCE against any OpenID Provider
/// (OpenID Connect Core 3.1, RFC 7636, RFC 9207). The browser goes to the issuer with a
/// `state`, `nonce` and PKCE challenge of this sign-in; the callback's code is exchanged on the
/// back channel and its ID token checked; the person is keyed by issuer and subject.
package struct OIDCConnector: RedirectConnector {
    package let mode = AuthMode.oidc
    package let isNonProduction = false
    package var callbackPath: String { Self.callback }
    /// The path of the callback to register at the issuer (after `PUBLIC_BASE_URL`).
    package static let callback = "/oauth/oidc/callback"

    let settings: OIDCSettings
    package let provider: OIDCProvider
    /// `PUBLIC_BASE_URL` + the callback path; never derived from `Host` or `X-Forwarded-*`.
    package let redirectURI: String
    let logger: Logger

    package init(settings: OIDCSettings, publicBaseURL: String, logger: Logger) throws {
        self.settings = settings
        self.provider = try OIDCProvider(issuer: settings.issuerURL, caPEM: settings.caPEM, logger: logger)
        self.redirectURI = publicBaseURL + Self.callback
        self.logger = logger
    }

    package var providerName: String { settings.providerName }

    /// What `start` keeps for `complete`, in the pending sign-in (never in a cookie).
    struct Kept: Codable {
        let verifier: String
        let nonce: String
    }

    package func start(state: String) async throws(SignInError) -> RedirectSignInStart {
        let metadata = try await provider.currentMetadata()
        let kept = Kept(verifier: OpaqueToken.generate(byteCount: 48), nonce: OpaqueToken.generate())
        let challenge = Data(SHA256.hash(data: Data(kept.verifier.utf8))).base64URLEncodedString()
        var parameters = [
            ("response_type", "code"), ("client_id", settings.clientID), ("redirect_uri", redirectURI),
            ("scope", settings.scopes.joined(separator: " ")), ("state", state), ("nonce", kept.nonce),
            ("code_challenge", challenge), ("code_challenge_method", "S256"),
        ]
        if let prompt = settings.prompt { parameters.append(("prompt", prompt)) }
        let query = parameters.map { "\(OIDCProvider.formEncode($0.0))=\(OIDCProvider.formEncode($0.1))" }.joined(separator: "&")
        let separator = metadata.authorizationEndpoint.contains("?") ? "&" : "?"
        let encoded = (try? JSONEncoder().encode(kept)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return RedirectSignInStart(url: metadata.authorizationEndpoint + separator + query, kept: encoded)
    }

    package func complete(callback: [String: String], kept encoded: String) async throws(SignInError) -> SignedInPerson {
        guard let kept = try? JSONDecoder().decode(Kept.self, from: Data(encoded.utf8)) else {
            throw .refused("This sign-in cannot be completed. Start again.")
        }
        let metadata = try await provider.currentMetadata()
        // RFC 9207: the response names its issuer, so a response from another provider (mix-up)
        // is refused; a provider that promises the parameter must send it.
        if let responseIssuer = callback["iss"] {
            guard responseIssuer == metadata.issuer else { throw .refused("The sign-in response came from another identity provider.") }
        } else if metadata.authorizationResponseIssParameterSupported == true {
            throw .refused("The sign-in response does not name its identity provider.")
        }
        if let error = callback["error"] {
            if error == "access_denied" { throw .declined }
            // The code only: the description is the provider's text and comes through the address bar.
            throw .refused("The identity provider refused the sign-in (\(String(error.prefix(64)))).")
        }
        guard let code = callback["code"], !code.isEmpty else { throw .refused("The identity provider sent no authorization code.") }
        let tokens = try await exchange(code: code, verifier: kept.verifier, metadata: metadata)
        let verifier = IDTokenVerifier(provider: provider, clientID: settings.clientID, leeway: settings.clockSkew)
        var claims = try await verifier.verify(tokens.idToken, metadata: metadata, nonce: kept.nonce)
        try await addUserinfo(to: &claims, accessToken: tokens.accessToken, metadata: metadata)
        return try person(from: claims, issuer: metadata.issuer)
    }

    struct TokenResponse: Decodable {
        let idToken: String?
        let accessToken: String?

        enum CodingKeys: String, CodingKey {
            case idToken = "id_token"
            case accessToken = "access_token"
        }
    }

    /// The token request on the back channel, with the configured client authentication.
    func exchange(code: String, verifier: String, metadata: ProviderMetadata) async throws(SignInError) -> (
        idToken: String, accessToken: String?
    ) {
        var form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", verifier),
        ]
        var basic: (String, String)?
        switch (settings.clientSecret, settings.clientAuthMethod) {
        case (let secret?, .clientSecretBasic): basic = (settings.clientID, secret)
        case (let secret?, .clientSecretPost): form += [("client_id", settings.clientID), ("client_secret", secret)]
        case (nil, _): form.append(("client_id", settings.clientID))
        }
        let status: Int
        let body: Data
        do {
            (status, body) = try await provider.post(metadata.tokenEndpoint, form: form, basicAuth: basic)
        } catch {
            throw .providerUnavailable("The identity provider's token endpoint cannot be reached right now.")
        }
        guard status == 200, let response = try? JSONDecoder().decode(TokenResponse.self, from: body), let idToken = response.idToken
        else {
            let code = (try? JSONDecoder().decode([String: JSONValue].self, from: body))?["error"]?.string ?? "HTTP \(status)"
            logger.warning("identity provider refused the code", metadata: ["event": "oidc.token_refused", "error": .string(code)])
            throw .refused("The identity provider did not accept the sign-in (\(String(code.prefix(64)))). Start again.")
        }
        return (idToken, response.accessToken)
    }

    /// Claims the ID token lacks are read from userinfo, whose `sub` must be the same person.
    func addUserinfo(to claims: inout Claims, accessToken: String?, metadata: ProviderMetadata) async throws(SignInError) {
        let wanted =
            [settings.nameClaim, settings.usernameClaim, settings.emailClaim]
            + (settings.allowedGroups.isEmpty ? [] : [settings.groupsClaim])
        guard wanted.contains(where: { claims[$0] == nil }), let endpoint = metadata.userinfoEndpoint, let accessToken else { return }
        let info: [String: JSONValue]
        do {
            let (data, _) = try await provider.get(endpoint, bearer: accessToken)
            info = try JSONDecoder().decode([String: JSONValue].self, from: data)
        } catch {
            // The ID token alone still identifies the person; policy checks below see what is there.
            logger.notice(
                "userinfo unavailable", metadata: ["event": "oidc.userinfo_failed", "error": .string(OIDCProvider.describe(error))])
            return
        }
        guard info["sub"]?.string == claims["sub"]?.string else {
            throw .refused("The identity provider described another person than the one who signed in.")
        }
        for (name, value) in info where claims[name] == nil { claims.values[name] = value }
    }

    /// Applies the access policy and makes the person; email and name are display data only.
    func person(from claims: Claims, issuer: String) throws(SignInError) -> SignedInPerson {
        let subject = claims["sub"]?.string ?? ""
        let email = claims[settings.emailClaim]?.string
        let verified = claims["email_verified"]?.claimBool == true
        if !settings.allowedEmailDomains.isEmpty {
            guard let email, let domain = email.split(separator: "@").last.map({ $0.lowercased() }), email.contains("@"),
                settings.allowedEmailDomains.contains(domain)
            else { throw .refused("Your account's email address is not in a domain allowed on this gateway.") }
            guard verified || settings.allowUnverifiedEmail else {
                throw .refused("Your email address is not verified by the identity provider, so this gateway cannot check its domain.")
            }
        }
        if !settings.allowedGroups.isEmpty {
            let groups = Set(claims[settings.groupsClaim]?.claimStrings ?? [])
            guard !groups.isDisjoint(with: settings.allowedGroups) else {
                throw .refused("Your account is not in a group allowed on this gateway.")
            }
        }
        let candidates = [claims[settings.nameClaim]?.string, claims[settings.usernameClaim]?.string, email, subject]
        let name = candidates.compactMap { $0.map(SignedInPerson.displayable) }.first { !$0.isEmpty } ?? "Unnamed"
        return SignedInPerson(identity: Identity(provider: "oidc:\(issuer)", subject: subject), displayName: name)
    }
}

extension OIDCConnector {
    /// `AUTH_MODE=oidc`: discovers the provider in the background (the gateway serves existing
    /// users while it is unreachable) and reports it on `/readyz`.
    package static let definition = ConnectorDefinition(configuration: OIDCSettings.configuration, make: plugin)

    static let plugin: ConnectorPlugin.Factory = { configuration, logger in
        let settings = try ConnectorDefinition.settings(OIDCSettings.self, in: configuration)
        let connector = try OIDCConnector(settings: settings, publicBaseURL: configuration.publicBaseURL, logger: logger)
        let provider = connector.provider
        var plugin = ConnectorPlugin(.redirect(connector))
        plugin.callbackURL = connector.redirectURI
        plugin.background = [
            .init(name: "identity provider") {
                await provider.discoverUntilAvailable()
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                await provider.shutdown()
            }
        ]
        plugin.providerState = { [callbackURL = connector.redirectURI] in
            let (status, error): (String, String?) =
                switch await provider.status {
                case .available: ("available", nil)
                case .discovering: ("discovering", nil)
                case .unreachable(let reason): ("unreachable", reason)
                }
            return .init(issuer: provider.issuer, status: status, error: error, callbackURL: callbackURL)
        }
        return plugin
    }
}
