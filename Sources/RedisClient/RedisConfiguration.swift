import NIOSSL

/// Which protocol to ask for during the handshake.
public enum RESPProtocolVersion: Int, Sendable, Equatable {
    /// Plain RESP2: no HELLO, AUTH as a command.
    case resp2 = 2
    /// RESP3 via `HELLO 3`, falling back to RESP2 if the server does not know HELLO.
    case resp3 = 3
}

/// Exponential backoff between reconnection attempts: `initial`, doubled per failure, capped at `maximum`.
public struct RedisBackoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(2)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// Delay before retry number `attempt` (1-based).
    public func delay(forAttempt attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let delay = initial * (1 << exponent)
        return min(delay, maximum)
    }
}

/// Where and how to connect. Usually built from a URL:
///
///     redis://[[user]:password@]host[:port][/db][?option=value&...]
///     rediss://...        (TLS with the system trust roots)
///
/// `user:password@` authenticates as an ACL user; `:password@` or `password@` authenticates the
/// `default` user. IPv6 literals go in brackets: `redis://[::1]:6379`.
///
/// Query options: `tls_skip_verify=true` (rediss only, do not verify the server certificate),
/// `protocol=2|3`, `client_name=name`, `connect_timeout=seconds`, `command_timeout=seconds`,
/// `pool_size=n`.
public struct RedisConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    /// TLS settings; nil for a plain TCP connection.
    public var tls: TLSConfiguration?
    public var protocolVersion: RESPProtocolVersion
    /// Sent with HELLO/CLIENT SETNAME so connections are recognisable in `CLIENT LIST`.
    public var clientName: String?
    /// Limit for establishing the TCP (and TLS) connection.
    public var connectTimeout: Duration
    /// Limit for each command (or each pipeline) to be answered, including the handshake commands.
    public var commandTimeout: Duration
    /// Maximum number of connections ``RedisClient`` opens.
    public var maximumConnections: Int
    public var reconnectBackoff: RedisBackoff

    public static let defaultPort = 6379

    public init(
        host: String = "127.0.0.1",
        port: Int = RedisConfiguration.defaultPort,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        tls: TLSConfiguration? = nil,
        protocolVersion: RESPProtocolVersion = .resp3,
        clientName: String? = nil,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(5),
        maximumConnections: Int = 4,
        reconnectBackoff: RedisBackoff = RedisBackoff()
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.protocolVersion = protocolVersion
        self.clientName = clientName
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.maximumConnections = maximumConnections
        self.reconnectBackoff = reconnectBackoff
    }

    /// Parses a `redis://` or `rediss://` URL. Throws ``RedisError/invalidURL(message:)``; the message
    /// never contains the password.
    public init(url: String) throws(RedisError) {
        self.init()
        let parts = url.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw .invalidURL(message: "missing scheme; expected redis:// or rediss://")
        }
        let scheme = parts[0].lowercased()
        switch scheme {
        case "redis": tls = nil
        case "rediss": tls = TLSConfiguration.makeClientConfiguration()
        default: throw .invalidURL(message: "unsupported scheme '\(scheme)'; expected redis or rediss")
        }

        var rest = parts[1]
        var query: Substring = ""
        if let questionMark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: questionMark)...]
            rest = rest[..<questionMark]
        }
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }

        var authority = rest
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }

        if let at = authority.lastIndex(of: "@") {
            try parseUserInfo(authority[..<at])
            authority = authority[authority.index(after: at)...]
        }
        try parseHostAndPort(authority)

        if !path.isEmpty {
            guard let database = Int(path), database >= 0 else {
                throw .invalidURL(message: "database must be a non-negative integer, got '\(path)'")
            }
            self.database = database
        }
        try parseQuery(query)
    }

    private mutating func parseUserInfo(_ userInfo: Substring) throws(RedisError) {
        if let colon = userInfo.firstIndex(of: ":") {
            let user = try Self.percentDecoded(userInfo[..<colon], part: "user name")
            username = user.isEmpty ? nil : user
            let secret = try Self.percentDecoded(userInfo[userInfo.index(after: colon)...], part: "password")
            password = secret.isEmpty ? nil : secret
        } else if !userInfo.isEmpty {
            // A lone user-info component is the password of the `default` user, as redis-cli -u does.
            username = nil
            password = try Self.percentDecoded(userInfo, part: "password")
        }
    }

    private mutating func parseHostAndPort(_ authority: Substring) throws(RedisError) {
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let closing = authority.firstIndex(of: "]") else {
                throw .invalidURL(message: "unterminated IPv6 address")
            }
            host = String(authority[authority.index(after: authority.startIndex)..<closing])
            let afterBracket = authority[authority.index(after: closing)...]
            if !afterBracket.isEmpty {
                guard afterBracket.hasPrefix(":") else { throw .invalidURL(message: "unexpected text after IPv6 address") }
                portText = afterBracket.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw .invalidURL(message: "missing host") }
        if host.contains(":") && !authority.hasPrefix("[") {
            throw .invalidURL(message: "IPv6 addresses must be written in brackets, e.g. redis://[::1]:6379")
        }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw .invalidURL(message: "invalid port '\(portText)'")
            }
            self.port = port
        }
    }

    private mutating func parseQuery(_ query: Substring) throws(RedisError) {
        for item in query.split(separator: "&") where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.percentDecoded(parts[0], part: "query option")
            let value = parts.count > 1 ? try Self.percentDecoded(parts[1], part: "query value") : ""
            switch name {
            case "tls_skip_verify":
                guard tls != nil else { throw .invalidURL(message: "tls_skip_verify requires the rediss scheme") }
                if try Self.bool(value, option: name) { tls?.certificateVerification = .none }
            case "protocol":
                guard let number = Int(value), let version = RESPProtocolVersion(rawValue: number) else {
                    throw .invalidURL(message: "protocol must be 2 or 3")
                }
                protocolVersion = version
            case "client_name":
                clientName = value
            case "connect_timeout":
                connectTimeout = try Self.duration(value, option: name)
            case "command_timeout":
                commandTimeout = try Self.duration(value, option: name)
            case "pool_size":
                guard let size = Int(value), size > 0 else { throw .invalidURL(message: "pool_size must be a positive integer") }
                maximumConnections = size
            default:
                throw .invalidURL(message: "unknown option '\(name)'")
            }
        }
    }

    private static func bool(_ value: String, option: String) throws(RedisError) -> Bool {
        switch value.lowercased() {
        case "", "1", "true", "yes": return true
        case "0", "false", "no": return false
        default: throw .invalidURL(message: "\(option) must be true or false")
        }
    }

    private static func duration(_ value: String, option: String) throws(RedisError) -> Duration {
        guard let seconds = Double(value), seconds > 0, seconds.isFinite else {
            throw .invalidURL(message: "\(option) must be a positive number of seconds")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    private static func percentDecoded(_ text: Substring, part: String) throws(RedisError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw .invalidURL(message: "invalid percent-encoding in \(part)")
            }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension RedisConfiguration {
    /// `host:port`, with IPv6 literals in brackets; for logs and error messages.
    public var endpoint: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

extension RedisConfiguration: CustomStringConvertible {
    /// A URL-like summary that is safe to log: the password is never included.
    public var description: String {
        var text = tls == nil ? "redis://" : "rediss://"
        switch (username, password) {
        case (let user?, _?): text += "\(user):***@"
        case (let user?, nil): text += "\(user)@"
        case (nil, _?): text += ":***@"
        case (nil, nil): break
        }
        text += "\(endpoint)/\(database)"
        return text
    }
}
