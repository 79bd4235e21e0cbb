import Foundation

extension GatewayConfiguration {
    /// The placeholder shipped in `.env.example`; refused so nobody deploys it by accident.
    package static let exampleSigningKey = "replace-me-with-output-of-openssl-rand-base64-48"

    package static let minimumSigningKeyBytes = 32

    /// Builds the configuration from the environment, collecting every problem before failing.
    /// `connectors` are the sign-in connectors there are (the gateway's connector table): the
    /// one `AUTH_MODE` names reads its own variables.
    package static func load(
        mode: RunMode, environment: [String: String], connectors: [ConnectorConfiguration]
    ) throws(ConfigurationError) -> GatewayConfiguration {
        var reader = ConfigurationReader(environment: environment)
        let port = reader.port()
        let bindAddress = reader.value(.bindAddress) ?? ConfigurationVariable.bindAddress.defaultValue!
        let publicBaseURL = reader.publicBaseURL(mode: mode, port: port ?? 8080)
        let signingKey = reader.signingKey(mode: mode)
        let redisURL = mode == .serve ? reader.redisURL() : nil
        let redisKeyPrefix = reader.value(.redisKeyPrefix) ?? ConfigurationVariable.redisKeyPrefix.defaultValue!
        let database = reader.database(mode: mode)
        let connector = reader.connector(mode: mode, among: connectors)
        var connectorSettings: (any Sendable)?
        if let connector { connectorSettings = connector.read(&reader) }
        var auth = AuthSettings(
            accessTokenTTL: reader.duration(.accessTokenTTL) ?? .seconds(15 * 60),
            refreshTokenTTL: reader.duration(.refreshTokenTTL) ?? connector?.defaultRefreshTokenTTL ?? .seconds(30 * 24 * 3600),
            signInPerMinute: reader.positiveInteger(.signInRateLimit) ?? 10,
            signInGlobalPerMinute: reader.positiveInteger(.signInGlobalRateLimit) ?? 300,
            tokenPerMinute: reader.positiveInteger(.tokenRateLimit) ?? 60,
            tokenGlobalPerMinute: reader.positiveInteger(.tokenGlobalRateLimit) ?? 1200,
            authorizePerMinute: reader.positiveInteger(.authorizeRateLimit) ?? 30,
            authorizeGlobalPerMinute: reader.positiveInteger(.authorizeGlobalRateLimit) ?? 600,
            userCodeFailuresPerMinute: reader.positiveInteger(.userCodeFailureLimit) ?? 5,
            trustedProxyHops: reader.nonNegativeInteger(.trustedProxyHops) ?? 0)
        auth.refreshTokenMaxLifetime = reader.duration(.refreshTokenMaxLifetime) ?? .seconds(90 * 24 * 3600)
        if let prefix = reader.positiveInteger(.rateLimitIPv6Prefix) {
            if (16...128).contains(prefix) {
                auth.ipv6PrefixLength = prefix
            } else {
                reader.problem(.rateLimitIPv6Prefix, "must be a prefix length between 16 and 128")
            }
        }
        auth.clientMetadataMaximumFetches = reader.positiveInteger(.oauthClientMetadataMaxFetches) ?? 16
        auth.clientRegistrationsPerAddress = reader.positiveInteger(.oauthClientRegistrationsPerAddress) ?? 20
        auth.unusedClientRegistrationLifetime = reader.duration(.oauthClientUnusedRegistrationTTL) ?? .seconds(3600)
        let streams = StreamSettings(
            heartbeatInterval: reader.duration(.sseHeartbeatInterval) ?? .seconds(15),
            maximumLifetime: reader.duration(.sseMaxLifetime) ?? .seconds(14 * 60),
            historyLength: reader.positiveInteger(.streamHistoryLength) ?? 1000,
            historyMaxBytes: reader.byteSize(.streamHistoryMaxBytes) ?? 4 << 20,
            historyTTL: reader.duration(.streamHistoryTTL) ?? .seconds(24 * 3600))
        let limits = UsageLimits(
            messagesPerMinute: reader.positiveInteger(.messageRateLimit) ?? 120,
            sessionsPerMinute: reader.positiveInteger(.sessionRateLimit) ?? 30,
            repliesPerMinute: reader.positiveInteger(.replyRateLimit) ?? 6000,
            replyBytesPerMinute: reader.byteSize(.replyByteLimit) ?? 4 << 20,
            streamsPerUser: reader.positiveInteger(.maxStreamsPerUser) ?? 100,
            streamsPerDevice: reader.positiveInteger(.maxStreamsPerDevice) ?? 4)
        let httpIdleTimeout = reader.duration(.httpIdleTimeout) ?? .seconds(30)
        let completionHostWait = reader.duration(.completionHostWait) ?? .seconds(30)
        let clientMetadataDocuments = reader.boolean(.oauthClientMetadataDocuments) ?? true
        let clientMetadataAllowLoopback = reader.boolean(.oauthClientMetadataAllowLoopback) ?? false
        let clientMetadataCAPEM = reader.value(.oauthClientMetadataCAPEM)
        if let pem = clientMetadataCAPEM, !pem.contains("-----BEGIN CERTIFICATE-----") {
            reader.problem(.oauthClientMetadataCAPEM, "is not PEM text (it must contain -----BEGIN CERTIFICATE-----)")
        }
        let logLevel = reader.enumeration(.logLevel, LogLevel.self) ?? .info
        let logFormat = reader.enumeration(.logFormat, LogFormat.self) ?? (mode == .serve ? .json : .text)
        let corsOrigins = reader.origins(.corsAllowedOrigins)
        let redirectAllowlist = reader.redirectAllowlist()

        if !reader.problems.isEmpty {
            throw ConfigurationError(problems: reader.problems)
        }
        var configuration = GatewayConfiguration(
            mode: mode, port: port!, bindAddress: bindAddress, publicBaseURL: publicBaseURL!,
            signingKey: signingKey!, redisURL: redisURL, redisKeyPrefix: redisKeyPrefix, database: database!,
            authMode: connector!.mode, connectorSettings: connectorSettings, auth: auth, streams: streams, limits: limits,
            httpIdleTimeout: httpIdleTimeout, logLevel: logLevel, logFormat: logFormat,
            corsAllowedOrigins: corsOrigins, oauthRedirectAllowlist: redirectAllowlist)
        configuration.completionHostWait = completionHostWait
        configuration.clientMetadataDocuments = clientMetadataDocuments
        configuration.clientMetadataAllowLoopback = clientMetadataAllowLoopback
        configuration.clientMetadataCAPEM = clientMetadataCAPEM
        return configuration
    }
}

extension DatabaseSettings {
    /// A `DATABASE_URL` value on its own (tools and tests that open a store).
    package init(url: String) throws(ConfigurationError) {
        var reader = ConfigurationReader(environment: [ConfigurationVariable.databaseURL.name: url])
        guard let settings = reader.database(mode: .serve) else { throw ConfigurationError(problems: reader.problems) }
        self = settings
    }
}

/// Reads variables and records problems instead of stopping at the first one. Connectors read
/// their own variables with it (`ConnectorConfiguration.read`).
package struct ConfigurationReader {
    let environment: [String: String]
    package private(set) var problems: [ConfigurationProblem] = []

    init(environment: [String: String]) {
        self.environment = environment
    }

    /// The trimmed value, or nil when unset or blank.
    package func value(_ variable: ConfigurationVariable) -> String? {
        guard let raw = environment[variable.name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty
        else { return nil }
        return raw
    }

    package mutating func problem(_ variable: ConfigurationVariable, _ message: String) {
        problems.append(ConfigurationProblem(variable: variable.name, message: message, example: variable.example))
    }

    /// Shows a value in an error message unless the variable is secret.
    package func quoted(_ variable: ConfigurationVariable, _ value: String) -> String {
        variable.isSecret ? "the value" : "\"\(value)\""
    }

    package mutating func required(_ variable: ConfigurationVariable) -> String? {
        guard let value = value(variable) else {
            problem(variable, "is required but not set")
            return nil
        }
        return value
    }

    mutating func port() -> Int? {
        guard let raw = value(.port) else { return 8080 }
        guard let port = Int(raw), (1...65535).contains(port) else {
            problem(.port, "\(quoted(.port, raw)) is not a TCP port number between 1 and 65535")
            return nil
        }
        return port
    }

    package mutating func boolean(_ variable: ConfigurationVariable) -> Bool? {
        guard let raw = value(variable) else { return nil }
        switch raw.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default:
            problem(variable, "\(quoted(variable, raw)) is not a boolean; use true or false")
            return nil
        }
    }

    package mutating func positiveInteger(_ variable: ConfigurationVariable) -> Int? {
        guard let raw = value(variable) else { return nil }
        guard let number = Int(raw), number > 0 else {
            problem(variable, "\(quoted(variable, raw)) is not a positive whole number")
            return nil
        }
        return number
    }

    package mutating func nonNegativeInteger(_ variable: ConfigurationVariable) -> Int? {
        guard let raw = value(variable) else { return nil }
        guard let number = Int(raw), number >= 0 else {
            problem(variable, "\(quoted(variable, raw)) is not a whole number of 0 or more")
            return nil
        }
        return number
    }

    /// `65536`, `512k`, `4m`, `1g` (binary multiples).
    package mutating func byteSize(_ variable: ConfigurationVariable) -> Int? {
        guard let raw = value(variable)?.lowercased() else { return nil }
        let units: [Character: Int] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        var digits = Substring(raw)
        var multiplier = 1
        if let last = raw.last, let unit = units[last] {
            multiplier = unit
            digits = raw.dropLast()
        }
        guard let amount = Int(digits), amount > 0, amount <= (1 << 40) / multiplier else {
            problem(variable, "\(quoted(variable, raw)) is not a size such as 65536, 512k, 4m or 1g")
            return nil
        }
        return amount * multiplier
    }

    /// `90`, `90s`, `15m`, `24h`, `30d`.
    package mutating func duration(_ variable: ConfigurationVariable) -> Duration? {
        guard let raw = value(variable)?.lowercased() else { return nil }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var digits = Substring(raw)
        var multiplier: Int64 = 1
        if let last = raw.last, let unit = units[last] {
            multiplier = unit
            digits = raw.dropLast()
        }
        guard let amount = Int64(digits), amount > 0 else {
            problem(variable, "\(quoted(variable, raw)) is not a duration such as 90s, 15m, 24h or 30d")
            return nil
        }
        return .seconds(amount * multiplier)
    }

    package mutating func enumeration<E: RawRepresentable & CaseIterable>(
        _ variable: ConfigurationVariable, _ type: E.Type
    ) -> E? where E.RawValue == String {
        guard let raw = value(variable) else { return nil }
        guard let parsed = E(rawValue: raw.lowercased()) else {
            let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
            problem(variable, "\(quoted(variable, raw)) is not one of: \(allowed)")
            return nil
        }
        return parsed
    }

    /// The connector `AUTH_MODE` names (under `dev`, demo when unset).
    mutating func connector(mode: RunMode, among connectors: [ConnectorConfiguration]) -> ConnectorConfiguration? {
        let choices = connectors.map(\.mode.rawValue).joined(separator: ", ")
        guard let raw = value(.authMode) else {
            if mode == .dev, let demo = connectors.first(where: { $0.mode == .demo }) { return demo }
            problem(.authMode, "is required but not set; choose \(choices)")
            return nil
        }
        guard let connector = connectors.first(where: { $0.mode.rawValue == raw.lowercased() }) else {
            problem(.authMode, "\(quoted(.authMode, raw)) is not one of: \(choices)")
            return nil
        }
        return connector
    }

    mutating func publicBaseURL(mode: RunMode, port: Int) -> String? {
        if let raw = value(.publicBaseURL) {
            return validatedOrigin(raw, variable: .publicBaseURL, requireHTTPS: mode == .serve)
        }
        if let domain = value(.railwayPublicDomain) {
            return validatedOrigin("https://\(domain)", variable: .railwayPublicDomain, requireHTTPS: true)
        }
        if mode == .dev { return "http://localhost:\(port)" }
        problem(.publicBaseURL, "is required but not set (nor is RAILWAY_PUBLIC_DOMAIN)")
        return nil
    }

    /// Accepts `scheme://host[:port]` with an optional trailing slash; https unless the host is loopback.
    private mutating func validatedOrigin(_ raw: String, variable: ConfigurationVariable, requireHTTPS: Bool) -> String? {
        guard let origin = Origin(raw) else {
            problem(variable, "\(quoted(variable, raw)) is not an http(s) origin without path, query or fragment")
            return nil
        }
        if requireHTTPS && origin.scheme == "http" && !origin.isLoopback {
            problem(variable, "\(quoted(variable, raw)) must use https (http is accepted only for localhost)")
            return nil
        }
        return origin.serialized
    }

    mutating func signingKey(mode: RunMode) -> SigningKeyMaterial? {
        guard let raw = environment[ConfigurationVariable.jwtSigningKey.name], !raw.isEmpty else {
            if mode == .dev {
                var generator = SystemRandomNumberGenerator()
                let bytes = (0..<48).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
                return SigningKeyMaterial(bytes: bytes, isGenerated: true)
            }
            problem(.jwtSigningKey, "is required but not set")
            return nil
        }
        if let reason = SigningKeyPolicy.rejection(for: raw) {
            problem(.jwtSigningKey, reason)
            return nil
        }
        return SigningKeyMaterial(bytes: Array(raw.utf8), isGenerated: false)
    }

    mutating func redisURL() -> String? {
        guard let raw = required(.redisURL) else { return nil }
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased(),
            scheme == "redis" || scheme == "rediss"
        else {
            problem(.redisURL, "must be a redis:// or rediss:// URL")
            return nil
        }
        guard let host = components.host, !host.isEmpty else {
            problem(.redisURL, "has no host")
            return nil
        }
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty, Int(path) == nil {
            problem(.redisURL, "path must be a database index such as /0")
            return nil
        }
        return raw
    }

    mutating func database(mode: RunMode) -> DatabaseSettings? {
        guard let raw = value(.databaseURL) else {
            if mode == .dev { return .sqlite(path: "data/gateway.sqlite") }
            problem(.databaseURL, "is required but not set")
            return nil
        }
        if raw.lowercased().hasPrefix("sqlite:") {
            var path = String(raw.dropFirst("sqlite:".count))
            // sqlite:///abs/path and sqlite://rel/path are accepted alongside sqlite:/abs/path.
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else {
                problem(.databaseURL, "sqlite: URL has no file path")
                return nil
            }
            return .sqlite(path: path)
        }
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else {
            problem(.databaseURL, "must be a postgres:// URL or a sqlite: path")
            return nil
        }
        guard let host = components.host, !host.isEmpty else {
            problem(.databaseURL, "has no host")
            return nil
        }
        let query = components.queryItems ?? []
        var sslMode = PostgresSSLMode.prefer
        if let rawMode = query.first(where: { $0.name == "sslmode" })?.value {
            guard let parsed = PostgresSSLMode(rawValue: rawMode.lowercased()) else {
                let allowed = PostgresSSLMode.allCases.map(\.rawValue).joined(separator: ", ")
                problem(.databaseURL, "sslmode \"\(rawMode)\" is not one of: \(allowed)")
                return nil
            }
            sslMode = parsed
        }
        let database = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let username = components.percentEncodedUser?.removingPercentEncoding ?? "postgres"
        return .postgres(
            PostgresSettings(
                host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")),
                port: components.port ?? 5432,
                username: username.isEmpty ? "postgres" : username,
                password: components.percentEncodedPassword?.removingPercentEncoding,
                database: database.isEmpty ? username : database,
                sslMode: sslMode))
    }

    /// A comma-separated list, blanks dropped.
    package func list(_ variable: ConfigurationVariable) -> [String] {
        (value(variable) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    mutating func origins(_ variable: ConfigurationVariable) -> [String] {
        guard let raw = value(variable) else { return [] }
        var origins: [String] = []
        for item in raw.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let origin = Origin(item) else {
                problem(variable, "\"\(item)\" is not an origin (scheme://host[:port], no path)")
                continue
            }
            origins.append(origin.serialized)
        }
        return origins
    }

    mutating func redirectAllowlist() -> [String] {
        guard let raw = value(.oauthRedirectAllowlist) else { return [] }
        var uris: [String] = []
        for item in raw.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let components = URLComponents(string: item), let scheme = components.scheme, !scheme.isEmpty,
                components.fragment == nil
            else {
                problem(.oauthRedirectAllowlist, "\"\(item)\" is not an absolute URI without a fragment")
                continue
            }
            uris.append(item)
        }
        return uris
    }
}

/// Why a signing key is refused, or nil when it is acceptable.
enum SigningKeyPolicy {
    static let placeholderWords = [
        "changeme", "change", "secret", "password", "placeholder", "example", "replace", "your", "insert", "generate",
        "please", "here", "key", "todo", "xxxx", "0123456789", "123456", "abcdef", "qwerty",
    ]

    /// Placeholder words are removed before judging what is left: a phrase such as
    /// "your-secret-key-here" is refused, while a random key that happens to contain "todo" or
    /// "xxxx" (about one `openssl rand -base64 48` in 8,000) keeps plenty and is accepted.
    static func rejection(for key: String) -> String? {
        var remainder = key.lowercased()
        for word in placeholderWords {
            remainder = remainder.replacingOccurrences(of: word, with: "")
        }
        remainder.removeAll { "-_. ".contains($0) }
        if key == GatewayConfiguration.exampleSigningKey || remainder.count < 24 {
            return "looks like a placeholder; generate one with `openssl rand -base64 48`"
        }
        if key.utf8.count < GatewayConfiguration.minimumSigningKeyBytes {
            return "is \(key.utf8.count) bytes; at least \(GatewayConfiguration.minimumSigningKeyBytes) random bytes are required"
        }
        if Set(key).count < 10 {
            return "has too few distinct characters to be random; generate one with `openssl rand -base64 48`"
        }
        return nil
    }
}

/// A parsed `scheme://host[:port]` web origin.
struct Origin {
    let scheme: String
    let host: String
    let port: Int?

    init?(_ raw: String) {
        var trimmed = raw
        if trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty,
            components.path.isEmpty, components.query == nil, components.fragment == nil,
            components.user == nil
        else { return nil }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = components.port
    }

    var isLoopback: Bool {
        ["localhost", "127.0.0.1", "[::1]", "::1"].contains(host)
    }

    var serialized: String {
        let defaultPort = scheme == "https" ? 443 : 80
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        if let port, port != defaultPort { return "\(scheme)://\(hostPart):\(port)" }
        return "\(scheme)://\(hostPart)"
    }
}
