/// `GET /readyz`: whether this replica can serve (200) or not (503), and why.
public struct ReadinessReport: Codable, Sendable, Equatable {
    public struct Check: Codable, Sendable, Equatable {
        /// `up` or `down`.
        public var status: String
        public var latencyMs: Double
        /// A short, secret-free reason when down.
        public var error: String?

        public init(status: String, latencyMs: Double, error: String?) {
            self.status = status
            self.latencyMs = latencyMs
            self.error = error
        }

        enum CodingKeys: String, CodingKey {
            case status, error
            case latencyMs = "latency_ms"
        }
    }

    /// The OpenID Provider in oidc mode: reported, but never a reason to be unready (existing
    /// users keep working while it is unreachable).
    public struct IdentityProvider: Codable, Sendable, Equatable {
        public var issuer: String
        /// `available`, `discovering` or `unreachable`.
        public var status: String
        public var error: String?
        /// What to register at the issuer as the redirect URI.
        public var callbackURL: String

        public init(issuer: String, status: String, error: String?, callbackURL: String) {
            self.issuer = issuer
            self.status = status
            self.error = error
            self.callbackURL = callbackURL
        }

        enum CodingKeys: String, CodingKey {
            case issuer, status, error
            case callbackURL = "callback_url"
        }
    }

    /// `ready` or `unavailable`.
    public var status: String
    public var version: String
    /// By dependency: `redis`, `events`, `store`.
    public var checks: [String: Check]
    public var identityProvider: IdentityProvider?

    public init(status: String, version: String, checks: [String: Check], identityProvider: IdentityProvider?) {
        self.status = status
        self.version = version
        self.checks = checks
        self.identityProvider = identityProvider
    }

    public var isReady: Bool { status == "ready" }

    enum CodingKeys: String, CodingKey {
        case status, version, checks
        case identityProvider = "identity_provider"
    }
}
