/// A Lua script run with EVALSHA, falling back to EVAL when the server does not have it cached
/// (after a restart or SCRIPT FLUSH). The SHA1 is computed locally once, so the first call already
/// uses EVALSHA and no SCRIPT LOAD round trip is needed.
public struct RedisScript: Sendable, Hashable {
    public let source: String
    /// Lower-case hex SHA1 of `source`, the name Redis caches the script under.
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hexDigest(of: Array(source.utf8))
    }
}

extension RedisCommandExecutor {
    /// Runs `script` via EVALSHA; on `NOSCRIPT` re-sends it with EVAL, which also caches it again.
    @discardableResult
    public func eval(
        _ script: RedisScript,
        keys: [String] = [],
        arguments: [any RESPArgumentConvertible] = []
    ) async throws -> RESPValue {
        do {
            return try await send(Self.scriptCommand("EVALSHA", script.sha1, keys: keys, arguments: arguments))
        } catch let error as RedisError where error.serverErrorCode == "NOSCRIPT" {
            return try await send(Self.scriptCommand("EVAL", script.source, keys: keys, arguments: arguments))
        }
    }

    /// Plain EVAL of a script source.
    @discardableResult
    public func eval(
        source: String,
        keys: [String] = [],
        arguments: [any RESPArgumentConvertible] = []
    ) async throws -> RESPValue {
        try await send(Self.scriptCommand("EVAL", source, keys: keys, arguments: arguments))
    }

    /// Plain EVALSHA; throws `NOSCRIPT` if the server does not know the script.
    @discardableResult
    public func evalsha(
        _ sha1: String,
        keys: [String] = [],
        arguments: [any RESPArgumentConvertible] = []
    ) async throws -> RESPValue {
        try await send(Self.scriptCommand("EVALSHA", sha1, keys: keys, arguments: arguments))
    }

    /// SCRIPT LOAD; returns the SHA1 the server computed.
    @discardableResult
    public func scriptLoad(_ source: String) async throws -> String {
        let reply = try await send(RedisCommand("SCRIPT", "LOAD", source))
        guard let sha1 = reply.string else { throw RedisError.unexpected("SCRIPT LOAD", reply) }
        return sha1
    }

    /// SCRIPT FLUSH: drops every cached script on the server.
    public func scriptFlush() async throws {
        _ = try await send(RedisCommand("SCRIPT", "FLUSH"))
    }

    private static func scriptCommand(
        _ name: String,
        _ scriptOrSHA: String,
        keys: [String],
        arguments: [any RESPArgumentConvertible]
    ) -> RedisCommand {
        var command = RedisCommand(name, scriptOrSHA, keys.count)
        for key in keys { command.append(key) }
        for argument in arguments { command.append(argument) }
        return command
    }
}

/// Minimal SHA1 (RFC 3174), only for naming scripts the way Redis does. Not for security.
enum SHA1 {
    static func hexDigest(of message: [UInt8]) -> String {
        var h0: UInt32 = 0x6745_2301
        var h1: UInt32 = 0xEFCD_AB89
        var h2: UInt32 = 0x98BA_DCFE
        var h3: UInt32 = 0x1032_5476
        var h4: UInt32 = 0xC3D2_E1F0

        var padded = message
        padded.append(0x80)
        while padded.count % 64 != 56 { padded.append(0) }
        let bitLength = UInt64(message.count) * 8
        for shift in stride(from: 56, through: 0, by: -8) {
            padded.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }

        var words = [UInt32](repeating: 0, count: 80)
        for chunkStart in stride(from: 0, to: padded.count, by: 64) {
            for index in 0..<16 {
                let offset = chunkStart + index * 4
                words[index] =
                    UInt32(padded[offset]) << 24 | UInt32(padded[offset + 1]) << 16
                    | UInt32(padded[offset + 2]) << 8 | UInt32(padded[offset + 3])
            }
            for index in 16..<80 {
                words[index] = rotateLeft(words[index - 3] ^ words[index - 8] ^ words[index - 14] ^ words[index - 16], 1)
            }
            var a = h0
            var b = h1
            var c = h2
            var d = h3
            var e = h4
            for index in 0..<80 {
                let f: UInt32
                let k: UInt32
                switch index {
                case 0..<20:
                    f = (b & c) | (~b & d)
                    k = 0x5A82_7999
                case 20..<40:
                    f = b ^ c ^ d
                    k = 0x6ED9_EBA1
                case 40..<60:
                    f = (b & c) | (b & d) | (c & d)
                    k = 0x8F1B_BCDC
                default:
                    f = b ^ c ^ d
                    k = 0xCA62_C1D6
                }
                let temp = rotateLeft(a, 5) &+ f &+ e &+ k &+ words[index]
                e = d
                d = c
                c = rotateLeft(b, 30)
                b = a
                a = temp
            }
            h0 = h0 &+ a
            h1 = h1 &+ b
            h2 = h2 &+ c
            h3 = h3 &+ d
            h4 = h4 &+ e
        }

        return [h0, h1, h2, h3, h4].map { word in
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 8 - hex.count) + hex
        }.joined()
    }

    private static func rotateLeft(_ value: UInt32, _ count: UInt32) -> UInt32 {
        (value << count) | (value >> (32 - count))
    }
}
