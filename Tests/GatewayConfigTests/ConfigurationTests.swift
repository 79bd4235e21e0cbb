import Foundation
import Testing

@testable import GatewayConfig

@Suite("Configuration contract")
struct ConfigurationTests {
    static let validKey = "k3J9vQ2mX8pL4zR7tY1wB6nC5dF0gH-aS_eUiOoPqZxVb"

    static let validServe: [String: String] = [
        "PUBLIC_BASE_URL": "https://gateway.example.com",
        "JWT_SIGNING_KEY": validKey,
        "REDIS_URL": "redis://default:pw@redis.internal:6379/0",
        "DATABASE_URL": "postgres://app:pw@db.internal:5432/gateway?sslmode=require",
        "AUTH_MODE": "demo",
    ]

    /// Two connectors of this suite's own, to check the contract with connectors: demo (the
    /// default under dev, with its shorter refresh tokens) and one that requires a variable.
    static let sampleVariable = ConfigurationVariable(
        "SAMPLE_ISSUER", .requiredWithAuthMode(AuthMode(rawValue: "sample")), example: "https://issuer.example", "A sample.")
    static let connectors = [
        ConnectorConfiguration(mode: .demo, variables: [], defaultRefreshTokenTTL: .seconds(24 * 3600)) { _ in "demo settings" },
        ConnectorConfiguration(mode: AuthMode(rawValue: "sample"), variables: [sampleVariable]) { reader in
            reader.required(sampleVariable)
        },
    ]

    static func load(mode: RunMode, environment: [String: String]) throws(ConfigurationError) -> GatewayConfiguration {
        try GatewayConfiguration.load(mode: mode, environment: environment, connectors: connectors)
    }

    func problems(_ environment: [String: String], mode: RunMode = .serve) -> [ConfigurationProblem] {
        do {
            _ = try Self.load(mode: mode, environment: environment)
            return []
        } catch {
            return error.problems
        }
    }

    func serve(overriding overrides: [String: String]) -> [ConfigurationProblem] {
        problems(Self.validServe.merging(overrides) { $1 })
    }

    @Test func validServeConfiguration() throws {
        let config = try Self.load(mode: .serve, environment: Self.validServe)
        #expect(config.port == 8080)
        #expect(config.bindAddress == "::")
        #expect(config.publicBaseURL == "https://gateway.example.com")
        #expect(config.authMode == .demo)
        #expect(config.logFormat == .json)
        #expect(config.storeKind == "postgres")
        #expect(config.eventBusKind == "redis")
        guard case .postgres(let pg) = config.database else {
            Issue.record("expected postgres")
            return
        }
        #expect(pg.host == "db.internal")
        #expect(pg.username == "app")
        #expect(pg.password == "pw")
        #expect(pg.database == "gateway")
        #expect(pg.sslMode == .require)
    }

    @Test func emptyEnvironmentNamesEveryMissingVariable() {
        let names = Set(problems([:]).map(\.variable))
        #expect(names == ["PUBLIC_BASE_URL", "JWT_SIGNING_KEY", "REDIS_URL", "DATABASE_URL", "AUTH_MODE"])
    }

    @Test(arguments: [
        ("JWT_SIGNING_KEY", "changeme"),
        ("JWT_SIGNING_KEY", "0123456789abcdef"),
        ("JWT_SIGNING_KEY", "aB3dE5gH7jK9mN1pQ"),
        ("JWT_SIGNING_KEY", GatewayConfiguration.exampleSigningKey),
        ("JWT_SIGNING_KEY", "secretsecretsecretsecretsecretsecretsecret"),
        ("JWT_SIGNING_KEY", String(repeating: "a", count: 40)),
        ("AUTH_MODE", "bogus"),
        ("REDIS_URL", "http://x"),
        ("REDIS_URL", "redis://host/notanumber"),
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_URL", "postgres://u@h/db?sslmode=sometimes"),
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("PUBLIC_BASE_URL", "gateway.example.com"),
        ("PUBLIC_BASE_URL", "http://gateway.example.com"),
        ("PUBLIC_BASE_URL", "https://gateway.example.com/sub?x=1"),
        ("LOG_LEVEL", "loud"),
        ("LOG_FORMAT", "xml"),
        ("CORS_ALLOWED_ORIGINS", "https://ok.example.com,not an origin"),
        ("ACCESS_TOKEN_TTL", "soon"),
        ("ACCESS_TOKEN_TTL", "0"),
        ("REFRESH_TOKEN_TTL", "12w"),
        ("SIGNIN_RATE_LIMIT_PER_MINUTE", "-1"),
        ("TOKEN_GLOBAL_RATE_LIMIT_PER_MINUTE", "lots"),
        ("TRUSTED_PROXY_HOPS", "-2"),
    ])
    func invalidValueIsRefusedNamingTheVariable(variable: String, value: String) {
        let found = serve(overriding: [variable: value])
        #expect(found.map(\.variable) == [variable], "\(found)")
    }

    @Test func secretsNeverAppearInMessages() {
        let secretPassword = "hunter2-very-secret-password"
        let found = serve(overriding: [
            "REDIS_URL": "http://user:\(secretPassword)@x",
            "DATABASE_URL": "mysql://root:\(secretPassword)@db",
            "JWT_SIGNING_KEY": "short-\(secretPassword)",
        ])
        #expect(found.count == 3)
        let text = ConfigurationError(problems: found).description
        #expect(!text.contains(secretPassword))
        #expect(!text.contains("hunter2"))
    }

    @Test func everyProblemHasAnExample() {
        for problem in problems([:]) {
            #expect(problem.example != nil)
            #expect(problem.description.contains("example:"))
        }
    }

    @Test func railwayDomainSuppliesThePublicURL() throws {
        var environment = Self.validServe
        environment["PUBLIC_BASE_URL"] = nil
        environment["RAILWAY_PUBLIC_DOMAIN"] = "my-gateway.up.railway.app"
        let config = try Self.load(mode: .serve, environment: environment)
        #expect(config.publicBaseURL == "https://my-gateway.up.railway.app")
    }

    @Test func publicURLIsNormalised() throws {
        let config = try Self.load(
            mode: .serve, environment: Self.validServe.merging(["PUBLIC_BASE_URL": "HTTPS://Gateway.Example.com:443/"]) { $1 })
        #expect(config.publicBaseURL == "https://gateway.example.com")
    }

    /// The connector AUTH_MODE names reads its own variables, and its problems come with the
    /// others; an unknown mode is refused naming the modes there are.
    @Test func theChosenConnectorReadsItsOwnVariables() throws {
        #expect(serve(overriding: ["AUTH_MODE": "sample"]).map(\.variable) == ["SAMPLE_ISSUER"])
        #expect(
            Set(serve(overriding: ["AUTH_MODE": "sample", "PORT": "x"]).map(\.variable)) == ["SAMPLE_ISSUER", "PORT"])
        let sample = try Self.load(
            mode: .serve, environment: Self.validServe.merging(["AUTH_MODE": "Sample", "SAMPLE_ISSUER": "https://a"]) { $1 })
        #expect(sample.authMode.rawValue == "sample")
        #expect(sample.connectorSettings(String.self) == "https://a")
        #expect(sample.connectorSettings(Int.self) == nil)
        let demo = try Self.load(mode: .serve, environment: Self.validServe)
        #expect(demo.connectorSettings(String.self) == "demo settings")
        let unknown = serve(overriding: ["AUTH_MODE": "ldap"])
        #expect(unknown.map(\.variable) == ["AUTH_MODE"])
        #expect(unknown.first?.message.contains("demo, sample") == true, "\(unknown)")
    }

    @Test func devModeNeedsNothing() throws {
        let config = try Self.load(mode: .dev, environment: [:])
        #expect(config.authMode == .demo)
        #expect(config.signingKey.isGenerated)
        #expect(config.signingKey.bytes.count >= 32)
        #expect(config.redisURL == nil)
        #expect(config.database == .sqlite(path: "data/gateway.sqlite"))
        #expect(config.publicBaseURL == "http://localhost:8080")
        #expect(config.logFormat == .text)
        #expect("\(config.signingKey)".hasPrefix("<redacted"))
    }

    @Test func sqliteURLs() throws {
        for (raw, path) in [
            ("sqlite:/var/data/g.db", "/var/data/g.db"), ("sqlite:///var/g.db", "/var/g.db"),
            ("sqlite:rel.db", "rel.db"), ("sqlite::memory:", ":memory:"),
        ] {
            let config = try Self.load(
                mode: .serve, environment: Self.validServe.merging(["DATABASE_URL": raw]) { $1 })
            #expect(config.database == .sqlite(path: path))
        }
    }

    @Test func postgresIPv6HostAndDefaults() throws {
        let config = try Self.load(
            mode: .serve,
            environment: Self.validServe.merging(["DATABASE_URL": "postgresql://u%40x:p%2Fw@[fd12::1]/"]) { $1 })
        guard case .postgres(let pg) = config.database else {
            Issue.record("expected postgres")
            return
        }
        #expect(pg.host == "fd12::1")
        #expect(pg.port == 5432)
        #expect(pg.username == "u@x")
        #expect(pg.password == "p/w")
        #expect(pg.database == "u@x")
        #expect(pg.sslMode == .prefer)
    }

    @Test func dotEnvParsing() {
        let parsed = DotEnv.parse(
            """
            # comment
            export A=1
            B = "two words"
            C='x=y'
            D=plain # trailing comment

            E=
            """)
        #expect(parsed == ["A": "1", "B": "two words", "C": "x=y", "D": "plain", "E": ""])
    }

    @Test func authSettingsDefaultsAndOverrides() throws {
        let demo = try Self.load(mode: .serve, environment: Self.validServe)
        #expect(demo.auth.accessTokenTTL == .seconds(900))
        #expect(demo.auth.refreshTokenTTL == .seconds(24 * 3600))
        #expect(demo.auth.trustedProxyHops == 0)
        #expect(demo.redisKeyPrefix == "gw:")
        let tuned = try Self.load(
            mode: .serve,
            environment: Self.validServe.merging([
                "ACCESS_TOKEN_TTL": "90s", "REFRESH_TOKEN_TTL": "30d", "SIGNIN_RATE_LIMIT_PER_MINUTE": "5",
                "TRUSTED_PROXY_HOPS": "1", "REDIS_KEY_PREFIX": "team-a:",
            ]) { $1 })
        #expect(tuned.auth.accessTokenTTL == .seconds(90))
        #expect(tuned.auth.refreshTokenTTL == .seconds(30 * 86400))
        #expect(tuned.auth.signInPerMinute == 5)
        #expect(tuned.auth.trustedProxyHops == 1)
        #expect(tuned.redisKeyPrefix == "team-a:")
        let production = try Self.load(
            mode: .serve, environment: Self.validServe.merging(["AUTH_MODE": "sample", "SAMPLE_ISSUER": "https://a"]) { $1 })
        #expect(production.auth.refreshTokenTTL == .seconds(30 * 86400), "a connector without its own default")
    }

    @Test func randomKeysAreAcceptedEvenWhenTheyContainAPlaceholderWord() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<48).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let key = Data(bytes).base64EncodedString()
            #expect(SigningKeyPolicy.rejection(for: key) == nil, "random key refused")
        }
        let hex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
        #expect(SigningKeyPolicy.rejection(for: hex) == nil)
        for unlucky in [
            "ab12TODOcd34ef56gh78ij90kl12mn34op56qr78st90uv12wx34yz56AB78",
            "Qm9xxxxZ2F0ZXdheS1rZXktcmFuZG9tLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA",
        ] {
            #expect(SigningKeyPolicy.rejection(for: unlucky) == nil, "\(unlucky)")
        }
        for phrase in [
            "your-secret-key-here-please-change-it", "change-me-to-a-long-random-secret-key", "secretsecretsecretsecretsecretsecret",
        ] {
            #expect(SigningKeyPolicy.rejection(for: phrase) != nil, "\(phrase)")
        }
    }

    @Test func variableTableIsUnique() {
        #expect(Set(ConfigurationVariable.core.map(\.name)).count == ConfigurationVariable.core.count)
    }
}
