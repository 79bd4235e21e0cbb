import Foundation

public enum AuthMode: String, Sendable, CaseIterable {
    case demo, firebase, oidc
}

public enum LogFormat: String, Sendable, CaseIterable {
    case json, text
}

/// `serve` is what deployments run (strict contract, real Redis and SQL store);
/// `dev` is the embedded default for a first local run.
public enum RunMode: String, Sendable {
    case serve, dev
}

public enum LogLevel: String, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// Key material the token signing key is derived from. Its description never shows the bytes.
public struct SigningKeyMaterial: Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    /// True when `gateway dev` made up a key for this process (tokens die with it).
    public let isGenerated: Bool

    public init(bytes: [UInt8], isGenerated: Bool) {
        self.bytes = bytes
        self.isGenerated = isGenerated
    }

    public var description: String { "<redacted \(bytes.count) bytes>" }
}

public enum PostgresSSLMode: String, Sendable, CaseIterable {
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

public struct PostgresSettings: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var sslMode: PostgresSSLMode

    public var description: String {
        "postgres://\(username)@\(host):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }
}

public enum DatabaseSettings: Sendable, Equatable, CustomStringConvertible {
    case postgres(PostgresSettings)
    /// A SQLite file path, or `:memory:`.
    case sqlite(path: String)

    public var kind: String {
        switch self {
        case .postgres: "postgres"
        case .sqlite: "sqlite"
        }
    }

    public var description: String {
        switch self {
        case .postgres(let settings): settings.description
        case .sqlite(let path): "sqlite:\(path)"
        }
    }
}

public struct FirebaseSettings: Sendable, Equatable {
    /// Google's published certificates for Firebase ID tokens.
    public static let googleCertificatesURL =
        "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"

    public var projectID: String
    public var apiKey: String
    public var authDomain: String
    public var signInProviders: [String]
    /// The longest time since the person signed in at Firebase (`auth_time`) the gateway accepts.
    public var authMaxAge: Duration
    public var tenantID: String?
    /// Lowercased; empty allows every domain.
    public var allowedEmailDomains: [String]
    public var requireVerifiedEmail: Bool
    public var certificatesURL: String
    /// Local development: where the page sends email/password sign-ins instead of Google.
    public var authEmulatorHost: String?

    public init(
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

public enum OIDCClientAuthMethod: String, Sendable, CaseIterable {
    case clientSecretBasic = "client_secret_basic"
    case clientSecretPost = "client_secret_post"
}

public struct OIDCSettings: Sendable, Equatable {
    /// Exactly as configured: the discovery document's `issuer` must equal it.
    public var issuerURL: String
    public var clientID: String
    /// Nil: a public client (PKCE only).
    public var clientSecret: String?
    public var clientAuthMethod: OIDCClientAuthMethod
    /// Always includes `openid`.
    public var scopes: [String]
    public var providerName: String
    public var usernameClaim: String
    public var nameClaim: String
    public var emailClaim: String
    public var groupsClaim: String
    /// Lowercased; empty allows every domain.
    public var allowedEmailDomains: [String]
    public var allowedGroups: [String]
    public var allowUnverifiedEmail: Bool
    public var prompt: String?
    public var clockSkew: Duration
    /// Extra trusted CA certificate(s) as PEM text.
    public var caPEM: String?
}

public struct DemoSettings: Sendable, Equatable {
    public var signInEnabled: Bool
    public var passcode: String?
}

/// Timing and retention of event streams.
public struct StreamSettings: Sendable, Equatable {
    public var heartbeatInterval: Duration
    public var maximumLifetime: Duration
    public var historyLength: Int
    public var historyMaxBytes: Int
    public var historyTTL: Duration
}

/// What one user or device may consume; every limit is shared by all replicas.
public struct UsageLimits: Sendable, Equatable {
    public var messagesPerMinute: Int
    public var sessionsPerMinute: Int
    public var repliesPerMinute: Int
    public var replyBytesPerMinute: Int
    public var streamsPerUser: Int
    public var streamsPerDevice: Int
}

/// Token lifetimes and abuse limits of the authorization server.
public struct AuthSettings: Sendable, Equatable {
    public var accessTokenTTL: Duration
    public var refreshTokenTTL: Duration
    public var signInPerMinute: Int
    public var signInGlobalPerMinute: Int
    public var tokenPerMinute: Int
    public var tokenGlobalPerMinute: Int
    /// Authorization requests (and device authorizations) parked per client IP and overall.
    public var authorizePerMinute: Int
    public var authorizeGlobalPerMinute: Int
    /// Wrong device user codes per client IP before it has to wait.
    public var userCodeFailuresPerMinute: Int
    /// Proxies whose `X-Forwarded-For` entries are trusted when finding the client IP.
    public var trustedProxyHops: Int
    /// Authorization codes are single-use and short-lived (RFC 6749 recommends at most 10 minutes).
    public var authorizationCodeTTL: Duration = .seconds(60)
    /// How long a device code waits for approval (RFC 8628).
    public var deviceCodeTTL: Duration = .seconds(600)
    /// A refresh family (one sign-in) ends this long after it started, however often it refreshes.
    public var refreshTokenMaxLifetime: Duration = .seconds(90 * 24 * 3600)
    /// Per-address limits count an IPv6 client by this many leading bits.
    public var ipv6PrefixLength = 64
    /// Client metadata documents fetched at once by one replica.
    public var clientMetadataMaximumFetches = 16
    /// Live dynamic registrations one address may hold.
    public var clientRegistrationsPerAddress = 20
    /// A registration nobody signed in with is gone after this.
    public var unusedClientRegistrationLifetime: Duration = .seconds(3600)
}

/// The typed configuration built once at start-up.
public struct GatewayConfiguration: Sendable {
    public var mode: RunMode
    public var port: Int
    public var bindAddress: String
    /// Origin without a trailing slash, e.g. `https://gateway.example.com`.
    public var publicBaseURL: String
    public var signingKey: SigningKeyMaterial
    /// Absent under `dev`, which needs no Redis.
    public var redisURL: String?
    public var redisKeyPrefix: String
    public var database: DatabaseSettings
    public var authMode: AuthMode
    public var firebase: FirebaseSettings?
    public var oidc: OIDCSettings?
    public var demo: DemoSettings
    public var auth: AuthSettings
    public var streams: StreamSettings
    public var limits: UsageLimits
    /// Connections without a complete request head for this long are closed.
    public var httpIdleTimeout: Duration
    /// How long an OpenAI-compatible completion waits for an offline host to start answering.
    public var completionHostWait: Duration = .seconds(30)
    /// Client ID Metadata Documents are accepted as client ids.
    public var clientMetadataDocuments = true
    /// Development only: metadata documents may be on loopback addresses (and plain http).
    public var clientMetadataAllowLoopback = false
    /// Extra CA certificates (PEM) trusted when fetching metadata documents.
    public var clientMetadataCAPEM: String?
    public var logLevel: LogLevel
    public var logFormat: LogFormat
    public var corsAllowedOrigins: [String]
    public var oauthRedirectAllowlist: [String]

    public var storeKind: String { database.kind }
    /// The in-process bus arrives with the realtime core; `dev` has no bus yet.
    public var eventBusKind: String { redisURL == nil ? "in-process" : "redis" }
}

/// One thing wrong with the environment, phrased for an operator.
public struct ConfigurationProblem: Sendable, Equatable, CustomStringConvertible {
    public let variable: String
    public let message: String
    public let example: String?

    public init(variable: String, message: String, example: String?) {
        self.variable = variable
        self.message = message
        self.example = example
    }

    public var description: String {
        if let example {
            return "\(variable): \(message) (example: \(example))"
        }
        return "\(variable): \(message)"
    }
}

/// Every problem found, reported together so an operator fixes them in one go.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let problems: [ConfigurationProblem]

    public var description: String {
        (["invalid configuration (\(problems.count) problem\(problems.count == 1 ? "" : "s")):"]
            + problems.map { "  - \($0)" }).joined(separator: "\n")
    }
}
