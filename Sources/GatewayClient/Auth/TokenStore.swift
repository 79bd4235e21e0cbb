import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a sign-in leaves on disk: the gateway, its OAuth endpoints, and the tokens.
public struct StoredCredentials: Codable, Sendable, Equatable {
    public var gatewayURL: String
    public var issuer: String
    public var tokenEndpoint: String
    public var revocationEndpoint: String
    public var clientID: String
    public var accessToken: String
    public var refreshToken: String
    /// Seconds since 1970 when the access token expires.
    public var expiresAt: Double

    public init(
        gatewayURL: String, issuer: String, tokenEndpoint: String, revocationEndpoint: String, clientID: String,
        accessToken: String, refreshToken: String, expiresAt: Double
    ) {
        self.gatewayURL = gatewayURL
        self.issuer = issuer
        self.tokenEndpoint = tokenEndpoint
        self.revocationEndpoint = revocationEndpoint
        self.clientID = clientID
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case gatewayURL = "gateway_url"
        case issuer
        case tokenEndpoint = "token_endpoint"
        case revocationEndpoint = "revocation_endpoint"
        case clientID = "client_id"
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case expiresAt = "expires_at"
    }
}

/// gatewayctl's configuration directory: `credentials.json` (tokens), `device-id`, and the
/// device stream's last position. The directory is 0700 and every file in it 0600; files are
/// replaced atomically (written beside, then renamed), so a crash never leaves half a token.
public struct ConfigDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// `explicit` (the `--config-dir` option), else `GATEWAYCTL_CONFIG_DIR`, else
    /// `$XDG_CONFIG_HOME/gatewayctl`, else `~/.config/gatewayctl`.
    public static func resolve(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> ConfigDirectory
    {
        if let explicit, !explicit.isEmpty { return ConfigDirectory(path: explicit) }
        if let fromEnvironment = environment["GATEWAYCTL_CONFIG_DIR"], !fromEnvironment.isEmpty {
            return ConfigDirectory(path: fromEnvironment)
        }
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            return ConfigDirectory(path: xdg + "/gatewayctl")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return ConfigDirectory(path: home + "/.config/gatewayctl")
    }

    var credentialsPath: String { path + "/credentials.json" }
    var lockPath: String { path + "/credentials.lock" }

    /// Creates the directory if needed and makes it owner-only.
    public func prepare() throws {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw GatewayClientError.usage("cannot create the configuration directory \(path): \(error.localizedDescription)")
        }
        chmod(path, 0o700)
    }

    // MARK: Files

    /// The file's contents, or nil when it does not exist.
    public func read(_ name: String) -> Data? {
        FileManager.default.contents(atPath: path + "/" + name)
    }

    /// Replaces `name` atomically with `data`, readable and writable by the owner only.
    public func write(_ name: String, _ data: Data) throws {
        try prepare()
        let target = path + "/" + name
        let temporary = target + ".tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw GatewayClientError.usage("cannot write \(target): \(String(cString: strerror(errno)))")
        }
        var ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let written = systemWrite(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
        ok = ok && fsync(descriptor) == 0
        close(descriptor)
        guard ok, rename(temporary, target) == 0 else {
            unlink(temporary)
            throw GatewayClientError.usage("cannot write \(target): \(String(cString: strerror(errno)))")
        }
    }

    public func remove(_ name: String) {
        unlink(path + "/" + name)
    }

    // MARK: Credentials

    public func loadCredentials() -> StoredCredentials? {
        guard let data = read("credentials.json") else { return nil }
        return try? JSONDecoder().decode(StoredCredentials.self, from: data)
    }

    public func saveCredentials(_ credentials: StoredCredentials) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try write("credentials.json", try encoder.encode(credentials))
    }

    public func deleteCredentials() {
        remove("credentials.json")
    }

    /// Holds an exclusive lock on the credentials while `body` runs, so that two gatewayctl
    /// processes sharing this directory never refresh with the same (rotating) refresh token:
    /// the gateway would take the second use for a stolen token and revoke the sign-in.
    func withCredentialsLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try prepare()
        let descriptor = open(lockPath, O_RDWR | O_CREAT, 0o600)
        guard descriptor >= 0 else { return try await body() }
        defer { close(descriptor) }
        let deadline = ContinuousClock.now + .seconds(30)
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        defer { flock(descriptor, LOCK_UN) }
        return try await body()
    }

    // MARK: Device identity

    /// This machine's device id: made once (random, so two machines never collide) and kept;
    /// `renew` replaces it.
    public func deviceID(renew: Bool = false) throws -> String {
        if !renew, let data = read("device-id") {
            let stored = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if DeviceIdentity.isValidKey(stored) { return stored }
        }
        let bytes = (0..<6).map { _ in UInt8.random(in: .min ... .max) }
        let id = "gatewayctl-" + bytes.map { String(format: "%02x", $0) }.joined()
        try write("device-id", Data((id + "\n").utf8))
        return id
    }
}

public enum DeviceIdentity {
    /// Device ids and agent keys: 1-64 ASCII letters, digits, `-` or `_`.
    public static func isValidKey(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 64
            && value.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F
            }
    }

    /// This machine's name for the device list.
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "gatewayctl" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "gatewayctl" : name
    }

    public static var platform: String {
        #if os(macOS)
        "macos"
        #elseif os(Linux)
        "linux"
        #else
        "unknown"
        #endif
    }
}
