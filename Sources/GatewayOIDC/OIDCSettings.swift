import Foundation
import GatewayConfig

extension AuthMode {
    package static let oidc = AuthMode(rawValue: "oidc")
}

package enum OIDCClientAuthMethod: String, Sendable, CaseIterable {
    case clientSecretBasic = "client_secret_basic"
    case clientSecretPost = "client_secret_post"
}

/// `AUTH_MODE=oidc`'s settings and variables.
package struct OIDCSettings: Sendable, Equatable {
    /// Exactly as configured: the discovery document's `issuer` must equal it.
    package var issuerURL: String
    package var clientID: String
    /// Nil: a public client (PKCE only).
    package var clientSecret: String?
    package var clientAuthMethod: OIDCClientAuthMethod
    /// Always includes `openid`.
    package var scopes: [String]
    package var providerName: String
    package var usernameClaim: String
    package var nameClaim: String
    package var emailClaim: String
    package var groupsClaim: String
    /// Lowercased; empty allows every domain.
    package var allowedEmailDomains: [String]
    package var allowedGroups: [String]
    package var allowUnverifiedEmail: Bool
    package var prompt: String?
    package var clockSkew: Duration
    /// Extra trusted CA certificate(s) as PEM text.
    package var caPEM: String?

    package static let configuration = ConnectorConfiguration(
        mode: .oidc,
        variables: [
            .oidcIssuerURL, .oidcClientID, .oidcClientSecret, .oidcClientAuthMethod, .oidcScopes, .oidcProviderName,
            .oidcUsernameClaim, .oidcNameClaim, .oidcEmailClaim, .oidcGroupsClaim, .oidcAllowedEmailDomains, .oidcAllowedGroups,
            .oidcAllowUnverifiedEmail, .oidcPrompt, .oidcClockSkew, .oidcCAPEM,
        ]
    ) { reader in
        OIDCSettings(reading: &reader)
    }

    init?(reading reader: inout ConfigurationReader) {
        let issuer = reader.required(.oidcIssuerURL)
        let clientID = reader.required(.oidcClientID)
        if let issuer {
            let components = URLComponents(string: issuer)
            let scheme = components?.scheme?.lowercased()
            let loopback = ["127.0.0.1", "::1", "[::1]", "localhost"].contains(components?.host?.lowercased() ?? "")
            if components?.host == nil || !(scheme == "https" || (scheme == "http" && loopback)) {
                reader.problem(
                    .oidcIssuerURL, "\(reader.quoted(.oidcIssuerURL, issuer)) must be an https URL (plain http only for loopback hosts)")
            } else if components?.query != nil || components?.fragment != nil {
                reader.problem(.oidcIssuerURL, "\(reader.quoted(.oidcIssuerURL, issuer)) must not have a query or fragment")
            }
        }
        var scopes = (reader.value(.oidcScopes) ?? ConfigurationVariable.oidcScopes.defaultValue!).split(separator: " ").map(String.init)
        if !scopes.contains("openid") { scopes.insert("openid", at: 0) }
        let authMethod = reader.enumeration(.oidcClientAuthMethod, OIDCClientAuthMethod.self) ?? .clientSecretBasic
        let caPEM = reader.value(.oidcCAPEM)
        if let caPEM, !caPEM.contains("-----BEGIN CERTIFICATE-----") {
            reader.problem(.oidcCAPEM, "is not PEM text (it must contain -----BEGIN CERTIFICATE-----)")
        }
        let allowUnverified = reader.boolean(.oidcAllowUnverifiedEmail) ?? false
        let skew = reader.duration(.oidcClockSkew) ?? .seconds(60)
        guard let issuer, let clientID else { return nil }
        self.init(
            issuerURL: issuer, clientID: clientID, clientSecret: reader.value(.oidcClientSecret), clientAuthMethod: authMethod,
            scopes: scopes, providerName: reader.value(.oidcProviderName) ?? URLComponents(string: issuer)?.host ?? issuer,
            usernameClaim: reader.value(.oidcUsernameClaim) ?? "preferred_username", nameClaim: reader.value(.oidcNameClaim) ?? "name",
            emailClaim: reader.value(.oidcEmailClaim) ?? "email", groupsClaim: reader.value(.oidcGroupsClaim) ?? "groups",
            allowedEmailDomains: reader.list(.oidcAllowedEmailDomains).map { $0.lowercased() },
            allowedGroups: reader.list(.oidcAllowedGroups), allowUnverifiedEmail: allowUnverified, prompt: reader.value(.oidcPrompt),
            clockSkew: skew, caPEM: caPEM)
    }

    package init(
        issuerURL: String, clientID: String, clientSecret: String?, clientAuthMethod: OIDCClientAuthMethod, scopes: [String],
        providerName: String, usernameClaim: String, nameClaim: String, emailClaim: String, groupsClaim: String,
        allowedEmailDomains: [String], allowedGroups: [String], allowUnverifiedEmail: Bool, prompt: String?, clockSkew: Duration,
        caPEM: String?
    ) {
        self.issuerURL = issuerURL
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.clientAuthMethod = clientAuthMethod
        self.scopes = scopes
        self.providerName = providerName
        self.usernameClaim = usernameClaim
        self.nameClaim = nameClaim
        self.emailClaim = emailClaim
        self.groupsClaim = groupsClaim
        self.allowedEmailDomains = allowedEmailDomains
        self.allowedGroups = allowedGroups
        self.allowUnverifiedEmail = allowUnverifiedEmail
        self.prompt = prompt
        self.clockSkew = clockSkew
        self.caPEM = caPEM
    }
}

extension ConfigurationVariable {
    package static let oidcIssuerURL = ConfigurationVariable(
        "OIDC_ISSUER_URL", .requiredWithAuthMode(.oidc), example: "https://accounts.example.com",
        "OpenID Connect issuer; its discovery document and JWKS are fetched from it.")
    package static let oidcClientID = ConfigurationVariable(
        "OIDC_CLIENT_ID", .requiredWithAuthMode(.oidc), example: "gateway",
        "Client id registered at the issuer.")
    package static let oidcClientSecret = ConfigurationVariable(
        "OIDC_CLIENT_SECRET", .optional, example: "secret from the issuer", secret: true,
        "Client secret registered at the issuer; without it the gateway is a public client using PKCE only.")
    package static let oidcClientAuthMethod = ConfigurationVariable(
        "OIDC_CLIENT_AUTH_METHOD", .optional, default: "client_secret_basic", example: "client_secret_post",
        "How the gateway authenticates at the token endpoint: client_secret_basic or client_secret_post.")
    package static let oidcScopes = ConfigurationVariable(
        "OIDC_SCOPES", .optional, default: "openid profile email", example: "openid profile email",
        "Space-separated scopes requested from the issuer (openid is always included).")
    package static let oidcProviderName = ConfigurationVariable(
        "OIDC_PROVIDER_NAME", .optional, example: "Keycloak",
        "The identity provider's name on buttons and pages (default: the issuer's host).")
    package static let oidcUsernameClaim = ConfigurationVariable(
        "OIDC_USERNAME_CLAIM", .optional, default: "preferred_username", example: "preferred_username",
        "Claim holding the person's user name.")
    package static let oidcNameClaim = ConfigurationVariable(
        "OIDC_NAME_CLAIM", .optional, default: "name", example: "name",
        "Claim holding the display name (falls back to the user name, then the email).")
    package static let oidcEmailClaim = ConfigurationVariable(
        "OIDC_EMAIL_CLAIM", .optional, default: "email", example: "email",
        "Claim holding the email address.")
    package static let oidcGroupsClaim = ConfigurationVariable(
        "OIDC_GROUPS_CLAIM", .optional, default: "groups", example: "groups",
        "Claim holding the person's groups (a list, or one string).")
    package static let oidcAllowedEmailDomains = ConfigurationVariable(
        "OIDC_ALLOWED_EMAIL_DOMAINS", .optional, default: "", example: "example.com,example.org",
        "Comma-separated email domains allowed to sign in (verified emails only); empty allows every domain.")
    package static let oidcAllowedGroups = ConfigurationVariable(
        "OIDC_ALLOWED_GROUPS", .optional, default: "", example: "gateway-users",
        "Comma-separated groups of which a person must be in at least one; empty allows everyone.")
    package static let oidcAllowUnverifiedEmail = ConfigurationVariable(
        "OIDC_ALLOW_UNVERIFIED_EMAIL", .optional, default: "false", example: "true",
        "Let email-domain rules accept emails whose email_verified is not true (issuers such as Entra ID omit it).")
    package static let oidcPrompt = ConfigurationVariable(
        "OIDC_PROMPT", .optional, example: "select_account",
        "The prompt parameter sent to the issuer (login, consent, select_account, none); not sent when unset.")
    package static let oidcClockSkew = ConfigurationVariable(
        "OIDC_CLOCK_SKEW", .optional, default: "60s", example: "60s",
        "Clock difference tolerated when checking ID token times.")
    package static let oidcCAPEM = ConfigurationVariable(
        "OIDC_CA_PEM", .optional, example: "-----BEGIN CERTIFICATE-----…",
        "An extra CA certificate (PEM text) to trust for the issuer, for self-signed issuers.")
}
