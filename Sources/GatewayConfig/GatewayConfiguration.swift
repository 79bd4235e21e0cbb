import Foundation

package enum AuthMode: String, Sendable, CaseIterable {
    case demo, firebase, oidc
}

package enum LogFormat: String, Sendable, CaseIterable {
    case json, text
}

/// `serve` is what deployments run (strict contract, real Redis and SQL store);
/// `dev` is the embedded default for a first local run.
package enum RunMode: String, Sendable {
    case serve, dev
}

package enum LogLevel: String, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// Key material the token signing key is derived from. Its description never shows the bytes.
package struct SigningKeyMaterial: Sendable, CustomStringConvertible {
    package let bytes: [UInt8]
    /// True when `gateway dev` made up a key for this process (tokens die with it).
    package let isGenerated: Bool

    package init(bytes: [UInt8], isGenerated: Bool) {
        self.bytes = bytes
        self.isGenerated = isGenerated
    }

    package var description: String { "<redacted \(bytes.count) bytes>" }
}

package enum PostgresSSLMode: String, Sendable, CaseIterable {
    /// No TLS.
    case disable
    /// TLS when the server offers it, without verifying the certificate.
    case prefer
    /// TLS required, certificate chain not verified (Railway's Postgres uses a self-signed certificate).
    case require
    /// TLS required, chain verified, host name not checked.
    case verifyCA = "verify-ca"
    /// TLS required, chain and host name verified.
    case verifyFull = "verify-full"
}

package struct PostgresSettings: Sendable, Equatable, CustomStringConvertible {
    package var host: String
    package var port: Int
    package var username: String
    package var password: String?
    package var database: String
    package var sslMode: PostgresSSLMode

    package var description: String {
        "postgres://\(username)@\(host):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }
}

package enum DatabaseSettings: Sendable, Equatable, CustomStringConvertible {
    case postgres(PostgresSettings)
    /// A SQLite file path, or `:memory:`.
    case sqlite(path: String)

    package var kind: String {
        switch self {
        case .postgres: "postgres"
        case .sqlite: "sqlite"
        }
    }

    package var description: String {
        switch self {
        case .postgres(let settings): settings.description
        case .sqlite(let path): "sqlite:\(path)"
        }
    }
}

package struct FirebaseSettings: Sendable, Equatable {
    /// Google's published certificates for Firebase ID tokens.
    package static let googleCertificatesURL =
        "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"

    package var projectID: String
    package var apiKey: String
    package var authDomain: String
    package var signInProviders: [String]
    /// The longest time since the person signed in at Firebase (`auth_time`) the gateway accepts.
    package var authMaxAge: Duration
    package var tenantID: String?
    /// Lowercased; empty allows every domain.
    package var allowedEmailDomains: [String]
    package var requireVerifiedEmail: Bool
    package var certificatesURL: String
    /// Local development: where the page sends email/password sign-ins instead of Google.
    package var authEmulatorHost: String?

    package init(
        projectID: String, apiKey: String, authDomain: String, signInProviders: [String] = ["google", "password"],
        authMaxAge: Duration = .seconds(300), tenantID: String? = nil, allowedEmailDomains: [String] = [],
        requireVerifiedEmail: Bool = true, certificatesURL: String = FirebaseSettings.googleCertificatesURL,
        authEmulatorHost: String? = nil
    ) {
        self.authEmulatorHost = authEmulatorHost
        self.projectID = projectID
        self.apiKey = apiKey
        self.authDomain = authDomain
        self.signInProviders = signInProviders
        self.authMaxAge = authMaxAge
        self.tenantID = tenantID
        self.allowedEmailDomains = allowedEmailDomains
        self.requireVerifiedEmail = requireVerifiedEmail
        self.certificatesURL = certificatesURL
    }
}

package enum OIDCClientAuthMethod: String, Sendable, CaseIterable {
    case clientSecretBasic = "client_secret_basic"
    case clientSecretPost = "client_secret_post"
}

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
}

package struct DemoSettings: Sendable, Equatable {
    package var signInEnabled: Bool
    package var passcode: String?
}

/// Timing and retention of event streams.
package struct StreamSettings: Sendable, Equatable {
    package var heartbeatInterval: Duration
    package var maximumLifetime: Duration
    package var historyLength: Int
    package var historyMaxBytes: Int
    package var historyTTL: Duration
}

/// What one user or device may consume; every limit is shared by all replicas.
package struct UsageLimits: Sendable, Equatable {
    package var messagesPerMinute: Int
    package var sessionsPerMinute: Int
    package var repliesPerMinute: Int
    package var replyBytesPerMinute: Int
    package var streamsPerUser: Int
    package var streamsPerDevice: Int
}

/// Token lifetimes and abuse limits of the authorization server.
package struct AuthSettings: Sendable, Equatable {
    package var accessTokenTTL: Duration
    package var refreshTokenTTL: Duration
    package var signInPerMinute: Int
    package var signInGlobalPerMinute: Int
    package var tokenPerMinute: Int
    package var tokenGlobalPerMinute: Int
    /// Authorization requests (and device authorizations) parked per client IP and overall.
    package var authorizePerMinute: Int
    package var authorizeGlobalPerMinute: Int
    /// Wrong device user codes per client IP before it has to wait.
    package var userCodeFailuresPerMinute: Int
    /// Proxies whose `X-Forwarded-For` entries are trusted when finding the client IP.
    package var trustedProxyHops: Int
    /// Authorization codes are single-use and short-lived (RFC 6749 recommends at most 10 minutes).
    package var authorizationCodeTTL: Duration = .seconds(60)
    /// How long a device code waits for approval (RFC 8628).
    package var deviceCodeTTL: Duration = .seconds(600)
    /// A refresh family (one sign-in) ends this long after it started, however often it refreshes.
    package var refreshTokenMaxLifetime: Duration = .seconds(90 * 24 * 3600)
    /// Per-address limits count an IPv6 client by this many leading bits.
    package var ipv6PrefixLength = 64
    /// Client metadata documents fetched at once by one replica.
    package var clientMetadataMaximumFetches = 16
    /// Live dynamic registrations one address may hold.
    package var clientRegistrationsPerAddress = 20
    /// A registration nobody signed in with is gone after this.
    package var unusedClientRegistrationLifetime: Duration = .seconds(3600)
}

/// The typed configuration built once at start-up.
package struct GatewayConfiguration: Sendable {
    package var mode: RunMode
    package var port: Int
    package var bindAddress: String
    /// Origin without a trailing slash, e.g. `https://gateway.example.com`.
    package var publicBaseURL: String
    package var signingKey: SigningKeyMaterial
    /// Absent under `dev`, which needs no Redis.
    package var redisURL: String?
    package var redisKeyPrefix: String
    package var database: DatabaseSettings
    package var authMode: AuthMode
    package var firebase: FirebaseSettings?
    package var oidc: OIDCSettings?
    package var demo: DemoSettings
    package var auth: AuthSettings
    package var streams: StreamSettings
    package var limits: UsageLimits
    /// Connections without a complete request head for this long are closed.
    package var httpIdleTimeout: Duration
    /// How long an OpenAI-compatible completion waits for an offline host to start answering.
    package var completionHostWait: Duration = .seconds(30)
    /// Client ID Metadata Documents are accepted as client ids.
    package var clientMetadataDocuments = true
    /// Development only: metadata documents may be on loopback addresses (and plain http).
    package var clientMetadataAllowLoopback = false
    /// Extra CA certificates (PEM) trusted when fetching metadata documents.
    package var clientMetadataCAPEM: String?
    package var logLevel: LogLevel
    package var logFormat: LogFormat
    package var corsAllowedOrigins: [String]
    package var oauthRedirectAllowlist: [String]

    package var storeKind: String { database.kind }
    /// The in-process bus arrives with the realtime core; `dev` has no bus yet.
    package var eventBusKind: String { redisURL == nil ? "in-process" : "redis" }
}

/// One thing wrong with the environment, phrased for an operator.
package struct ConfigurationProblem: Sendable, Equatable, CustomStringConvertible {
    package let variable: String
    package let message: String
    package let example: String?

    package init(variable: String, message: String, example: String?) {
        self.variable = variable
        self.message = message
        self.example = example
    }

    package var description: String {
        if let example {
            return "\(variable): \(message) (example: \(example))"
        }
        return "\(variable): \(message)"
    }
}

/// Every problem found, reported together so an operator fixes them in one go.
package struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    package let problems: [ConfigurationProblem]

    package var description: String {
        (["invalid configuration (\(problems.count) problem\(problems.count == 1 ? "" : "s")):"]
            + problems.map { "  - \($0)" }).joined(separator: "\n")
    }
}
