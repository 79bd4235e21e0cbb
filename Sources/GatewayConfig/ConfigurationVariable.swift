/// The single source of truth for every environment variable the gateway reads.
///
/// Docs, `.env.example` and deploy manifests are checked against this table by tests, so a
/// variable that is added here and forgotten elsewhere (or the reverse) fails CI.
package struct ConfigurationVariable: Sendable, Hashable {
    package enum Requirement: Sendable, Hashable {
        /// Must be set under `gateway serve`.
        case requiredForServe
        /// Required only in a given auth mode.
        case requiredWithAuthMode(AuthMode)
        /// Optional; `defaultValue` applies when unset.
        case optional
    }

    package let name: String
    package let requirement: Requirement
    /// Default applied when the variable is unset (nil: no default).
    package let defaultValue: String?
    package let summary: String
    /// Example of a valid value, used in error messages.
    package let example: String
    /// Secret values are never printed, not even in error messages.
    package let isSecret: Bool

    package init(
        _ name: String, _ requirement: Requirement, default defaultValue: String? = nil,
        example: String, secret: Bool = false, _ summary: String
    ) {
        self.name = name
        self.requirement = requirement
        self.defaultValue = defaultValue
        self.summary = summary
        self.example = example
        self.isSecret = secret
    }
}

extension ConfigurationVariable {
    package static let port = ConfigurationVariable(
        "PORT", .optional, default: "8080", example: "8080",
        "TCP port to listen on (Railway, Render and Fly inject it).")
    package static let bindAddress = ConfigurationVariable(
        "BIND_ADDRESS", .optional, default: "::", example: "::",
        "Address to bind; `::` is dual stack (IPv4 and IPv6), which private networks that are IPv6-only need.")
    package static let publicBaseURL = ConfigurationVariable(
        "PUBLIC_BASE_URL", .requiredForServe, example: "https://gateway.example.com",
        "Public https origin users and OAuth redirects use. Optional when RAILWAY_PUBLIC_DOMAIN is set.")
    package static let railwayPublicDomain = ConfigurationVariable(
        "RAILWAY_PUBLIC_DOMAIN", .optional, example: "my-gateway.up.railway.app",
        "Injected by Railway; used as https://RAILWAY_PUBLIC_DOMAIN when PUBLIC_BASE_URL is unset.")
    package static let jwtSigningKey = ConfigurationVariable(
        "JWT_SIGNING_KEY", .requiredForServe, example: "output of `openssl rand -base64 48`", secret: true,
        "At least 32 random bytes; every replica derives the same token signing key from it.")
    package static let redisURL = ConfigurationVariable(
        "REDIS_URL", .requiredForServe, example: "redis://default:password@redis.railway.internal:6379/0",
        secret: true, "Redis 7+ for event streams, fan-out, presence, one-time codes and rate limits (redis:// or rediss://).")
    package static let redisKeyPrefix = ConfigurationVariable(
        "REDIS_KEY_PREFIX", .optional, default: "gw:", example: "gw:",
        "Prefix of every Redis key the gateway writes, so several gateways can share one Redis.")
    package static let databaseURL = ConfigurationVariable(
        "DATABASE_URL", .requiredForServe, example: "postgres://user:password@postgres.railway.internal:5432/railway?sslmode=require",
        secret: true, "Durable store: postgres://…?sslmode=disable|prefer|require|verify-full, or sqlite:/path/to/file for a single node.")
    package static let authMode = ConfigurationVariable(
        "AUTH_MODE", .requiredForServe, example: "demo",
        "Who users are: demo (quick start, not for production), firebase or oidc.")
    package static let logLevel = ConfigurationVariable(
        "LOG_LEVEL", .optional, default: "info", example: "info",
        "trace, debug, info, notice, warning, error or critical.")
    package static let logFormat = ConfigurationVariable(
        "LOG_FORMAT", .optional, example: "json",
        "json (default under serve) or text (default under dev).")
    package static let corsAllowedOrigins = ConfigurationVariable(
        "CORS_ALLOWED_ORIGINS", .optional, default: "", example: "https://app.example.com,https://admin.example.com",
        "Comma-separated origins allowed to call the API from a browser; empty means same origin only.")
    package static let oauthRedirectAllowlist = ConfigurationVariable(
        "OAUTH_REDIRECT_ALLOWLIST", .optional, default: "", example: "com.example.desktop:/oauth/callback",
        "Comma-separated redirect URIs (custom schemes, web origins) allowed besides loopback and the gateway's own pages.")
    package static let accessTokenTTL = ConfigurationVariable(
        "ACCESS_TOKEN_TTL", .optional, default: "15m", example: "15m",
        "Lifetime of access tokens (s, m, h or d suffix; plain numbers are seconds).")
    package static let refreshTokenTTL = ConfigurationVariable(
        "REFRESH_TOKEN_TTL", .optional, example: "24h",
        "Lifetime of refresh tokens: 24h by default in demo mode, 30d otherwise.")
    package static let signInRateLimit = ConfigurationVariable(
        "SIGNIN_RATE_LIMIT_PER_MINUTE", .optional, default: "10", example: "10",
        "Sign-in attempts allowed per client IP per minute.")
    package static let signInGlobalRateLimit = ConfigurationVariable(
        "SIGNIN_GLOBAL_RATE_LIMIT_PER_MINUTE", .optional, default: "300", example: "300",
        "Sign-in attempts allowed per minute across all clients.")
    package static let tokenRateLimit = ConfigurationVariable(
        "TOKEN_RATE_LIMIT_PER_MINUTE", .optional, default: "60", example: "60",
        "Token endpoint requests allowed per client IP per minute.")
    package static let tokenGlobalRateLimit = ConfigurationVariable(
        "TOKEN_GLOBAL_RATE_LIMIT_PER_MINUTE", .optional, default: "1200", example: "1200",
        "Token endpoint requests allowed per minute across all clients.")
    package static let trustedProxyHops = ConfigurationVariable(
        "TRUSTED_PROXY_HOPS", .optional, default: "0", example: "1",
        "How many reverse proxies in front of the gateway append to X-Forwarded-For (1 on Railway, Render, Fly); 0 uses the socket address."
    )
    package static let sseHeartbeatInterval = ConfigurationVariable(
        "SSE_HEARTBEAT_INTERVAL", .optional, default: "15s", example: "15s",
        "How often an idle event stream sends a heartbeat comment (proxies close idle requests).")
    package static let sseMaxLifetime = ConfigurationVariable(
        "SSE_MAX_LIFETIME", .optional, default: "14m", example: "14m",
        "Event streams end cleanly after this and clients resume (Railway cuts requests at 15 minutes).")
    package static let streamHistoryLength = ConfigurationVariable(
        "STREAM_HISTORY_LENGTH", .optional, default: "1000", example: "1000",
        "Events kept per stream for resuming; older positions get a reset event.")
    package static let streamHistoryTTL = ConfigurationVariable(
        "STREAM_HISTORY_TTL", .optional, default: "24h", example: "24h",
        "A stream without new events for this long is dropped from Redis.")
    package static let streamHistoryMaxBytes = ConfigurationVariable(
        "STREAM_HISTORY_MAX_BYTES", .optional, default: "4m", example: "4m",
        "Bytes of events kept per stream (k, m or g suffix for KiB, MiB, GiB); the oldest are trimmed past it.")
    package static let httpIdleTimeout = ConfigurationVariable(
        "HTTP_IDLE_TIMEOUT", .optional, default: "30s", example: "30s",
        "A connection that has not sent a complete request head (or stalls mid-body) for this long is closed; open event streams are exempt."
    )
    package static let completionHostWait = ConfigurationVariable(
        "COMPLETION_HOST_WAIT", .optional, default: "30s", example: "30s",
        "How long an OpenAI-compatible completion or an MCP tool call waits for an offline agent's host to start answering before it fails (a completion's message is then dropped; a tool call's is answered in its conversation when the host is back)."
    )
    package static let oauthClientMetadataDocuments = ConfigurationVariable(
        "OAUTH_CLIENT_METADATA_DOCUMENTS", .optional, default: "true", example: "false",
        "Let AI clients (MCP) use the https URL of their Client ID Metadata Document as client_id; false leaves them dynamic registration (RFC 7591) only."
    )
    package static let oauthClientMetadataAllowLoopback = ConfigurationVariable(
        "OAUTH_CLIENT_METADATA_ALLOW_LOOPBACK", .optional, default: "false", example: "true",
        "Development only: fetch client metadata documents from loopback addresses too, over http as well as https.")
    package static let oauthClientMetadataCAPEM = ConfigurationVariable(
        "OAUTH_CLIENT_METADATA_CA_PEM", .optional, example: "-----BEGIN CERTIFICATE-----…",
        "Extra CA certificates (PEM text) to trust when fetching client metadata documents (a private CA).")
    package static let oauthClientMetadataMaxFetches = ConfigurationVariable(
        "OAUTH_CLIENT_METADATA_MAX_FETCHES", .optional, default: "16", example: "16",
        "Client metadata documents one replica fetches at once; past it a sign-in with a new metadata-document client is refused until one ends."
    )
    package static let oauthClientRegistrationsPerAddress = ConfigurationVariable(
        "OAUTH_CLIENT_REGISTRATIONS_PER_ADDRESS", .optional, default: "20", example: "20",
        "Live dynamic client registrations (RFC 7591) one client address may hold; its oldest never-used one makes room first.")
    package static let oauthClientUnusedRegistrationTTL = ConfigurationVariable(
        "OAUTH_CLIENT_UNUSED_REGISTRATION_TTL", .optional, default: "1h", example: "1h",
        "A dynamic client registration that nobody has signed in with is deleted after this; used ones last 30 days from their last use."
    )
    package static let refreshTokenMaxLifetime = ConfigurationVariable(
        "REFRESH_TOKEN_MAX_LIFETIME", .optional, default: "90d", example: "90d",
        "Absolute lifetime of a sign-in: however often a client refreshes, its refresh tokens stop working this long after it signed in."
    )
    package static let rateLimitIPv6Prefix = ConfigurationVariable(
        "RATE_LIMIT_IPV6_PREFIX", .optional, default: "64", example: "64",
        "Per-address limits count an IPv6 client by this many leading bits (one /64 is usually one customer); 128 counts each address."
    )
    package static let authorizeRateLimit = ConfigurationVariable(
        "AUTHORIZE_RATE_LIMIT_PER_MINUTE", .optional, default: "30", example: "30",
        "Sign-in requests started (/oauth/authorize, /oauth/device_authorization) per client IP per minute.")
    package static let authorizeGlobalRateLimit = ConfigurationVariable(
        "AUTHORIZE_GLOBAL_RATE_LIMIT_PER_MINUTE", .optional, default: "600", example: "600",
        "Sign-in requests started per minute across all clients; with their 10-minute lifetime this bounds pending requests to ten times it."
    )
    package static let userCodeFailureLimit = ConfigurationVariable(
        "DEVICE_CODE_FAILURES_PER_MINUTE", .optional, default: "5", example: "5",
        "Wrong device user codes a client IP may enter per minute before it must wait (RFC 8628 section 5.1).")
    package static let messageRateLimit = ConfigurationVariable(
        "MESSAGE_RATE_LIMIT_PER_MINUTE", .optional, default: "120", example: "120",
        "Chat messages a user may send per minute.")
    package static let sessionRateLimit = ConfigurationVariable(
        "SESSION_RATE_LIMIT_PER_MINUTE", .optional, default: "30", example: "30",
        "Chat sessions a user may open per minute.")
    package static let replyRateLimit = ConfigurationVariable(
        "REPLY_RATE_LIMIT_PER_MINUTE", .optional, default: "6000", example: "6000",
        "Reply events (deltas, final replies, errors) a hosting device may post per minute.")
    package static let replyByteLimit = ConfigurationVariable(
        "REPLY_BYTES_PER_MINUTE", .optional, default: "4m", example: "4m",
        "Bytes of reply text a hosting device may post per minute (k, m or g suffix).")
    package static let maxStreamsPerUser = ConfigurationVariable(
        "MAX_STREAMS_PER_USER", .optional, default: "100", example: "100",
        "Event streams one user may hold open at once, across replicas.")
    package static let maxStreamsPerDevice = ConfigurationVariable(
        "MAX_STREAMS_PER_DEVICE", .optional, default: "4", example: "4",
        "Device event streams one device may hold open at once, across replicas.")

    /// Every variable of the gateway itself, in the order docs list them; each sign-in connector
    /// declares its own (`ConnectorConfiguration.variables`).
    package static let core: [ConfigurationVariable] = [
        .port, .bindAddress, .publicBaseURL, .railwayPublicDomain, .jwtSigningKey, .redisURL, .redisKeyPrefix, .databaseURL,
        .authMode, .logLevel, .logFormat, .corsAllowedOrigins, .oauthRedirectAllowlist,
        .accessTokenTTL, .refreshTokenTTL, .refreshTokenMaxLifetime, .signInRateLimit, .signInGlobalRateLimit, .tokenRateLimit,
        .tokenGlobalRateLimit, .authorizeRateLimit, .authorizeGlobalRateLimit, .userCodeFailureLimit, .trustedProxyHops,
        .rateLimitIPv6Prefix,
        .messageRateLimit, .sessionRateLimit, .replyRateLimit, .replyByteLimit, .maxStreamsPerUser, .maxStreamsPerDevice,
        .httpIdleTimeout, .completionHostWait, .oauthClientMetadataDocuments, .oauthClientMetadataAllowLoopback,
        .oauthClientMetadataCAPEM, .oauthClientMetadataMaxFetches, .oauthClientRegistrationsPerAddress,
        .oauthClientUnusedRegistrationTTL,
        .sseHeartbeatInterval, .sseMaxLifetime, .streamHistoryLength, .streamHistoryMaxBytes,
        .streamHistoryTTL,
    ]
}
