import Foundation

/// `AUTH_MODE`: which sign-in connector the gateway runs. Each connector module declares its
/// own mode (`ConnectorConfiguration`); the gateway's connector table lists the modes there are.
package struct AuthMode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    package let rawValue: String

    package init(rawValue: String) {
        self.rawValue = rawValue
    }

    package var description: String { rawValue }

    /// The mode `gateway dev` runs in when AUTH_MODE is unset.
    package static let demo = AuthMode(rawValue: "demo")
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
    /// The settings the connector of `authMode` read from its variables (its own type).
    package var connectorSettings: (any Sendable)?
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

    /// The connector's settings as its own type; nil when they are missing or another type.
    package func connectorSettings<Settings>(_ type: Settings.Type) -> Settings? {
        connectorSettings as? Settings
    }

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
