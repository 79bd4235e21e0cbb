import NIOCore
import RedisClient
import Testing

@Suite struct RedisConfigurationTests {
    @Test func minimalURLUsesDefaults() throws {
        let configuration = try RedisConfiguration(url: "redis://cache.internal")
        #expect(configuration.host == "cache.internal")
        #expect(configuration.port == 6379)
        #expect(configuration.database == 0)
        #expect(configuration.username == nil)
        #expect(configuration.password == nil)
        #expect(configuration.tls == nil)
        #expect(configuration.protocolVersion == .resp3)
        #expect(configuration.connectTimeout == .seconds(2))
        #expect(configuration.commandTimeout == .seconds(5))
    }

    @Test func tlsCredentialsPortAndDatabase() throws {
        let configuration = try RedisConfiguration(
            url: "rediss://gateway%2Dapp:p%40ss%3Aw%2Fo%20rd@redis.example.com:6380/3?tls_skip_verify=true"
        )
        #expect(configuration.host == "redis.example.com")
        #expect(configuration.port == 6380)
        #expect(configuration.database == 3)
        #expect(configuration.username == "gateway-app")
        #expect(configuration.password == "p@ss:w/o rd")
        let tls = try #require(configuration.tls)
        guard case .none = tls.certificateVerification else {
            Issue.record("tls_skip_verify should disable verification")
            return
        }
    }

    @Test func rediss() throws {
        let configuration = try RedisConfiguration(url: "rediss://redis.example.com")
        let tls = try #require(configuration.tls)
        guard case .fullVerification = tls.certificateVerification else {
            Issue.record("rediss must verify certificates by default")
            return
        }
    }

    @Test func passwordOnlyForms() throws {
        let colon = try RedisConfiguration(url: "redis://:secret@localhost")
        #expect(colon.username == nil)
        #expect(colon.password == "secret")
        let bare = try RedisConfiguration(url: "redis://secret@localhost")
        #expect(bare.username == nil)
        #expect(bare.password == "secret")
    }

    @Test func ipv6Literals() throws {
        let withPort = try RedisConfiguration(url: "redis://[::1]:7000/1")
        #expect(withPort.host == "::1")
        #expect(withPort.port == 7000)
        #expect(withPort.database == 1)
        let withoutPort = try RedisConfiguration(url: "redis://user:pw@[2001:db8::5]")
        #expect(withoutPort.host == "2001:db8::5")
        #expect(withoutPort.port == 6379)
        #expect(withoutPort.username == "user")
    }

    @Test func queryOptions() throws {
        let configuration = try RedisConfiguration(
            url: "redis://h/?protocol=2&client_name=gw&connect_timeout=0.5&command_timeout=3&pool_size=8"
        )
        #expect(configuration.protocolVersion == .resp2)
        #expect(configuration.clientName == "gw")
        #expect(configuration.connectTimeout == .milliseconds(500))
        #expect(configuration.commandTimeout == .seconds(3))
        #expect(configuration.maximumConnections == 8)
        #expect(configuration.database == 0)
    }

    @Test(arguments: [
        ("http://localhost:6379", "scheme"),
        ("localhost:6379", "scheme"),
        ("redis://", "host"),
        ("redis://localhost:0", "port"),
        ("redis://localhost:99999", "port"),
        ("redis://localhost:abc", "port"),
        ("redis://localhost/abc", "database"),
        ("redis://localhost/-1", "database"),
        ("redis://::1:6379", "IPv6"),
        ("redis://[::1", "IPv6"),
        ("redis://localhost?bogus=1", "bogus"),
        ("redis://localhost?tls_skip_verify=true", "rediss"),
        ("redis://localhost?protocol=4", "protocol"),
        ("redis://us%zzer:pw@localhost", "percent"),
    ])
    func invalidURLsThrowDescriptiveErrors(url: String, expectedWord: String) throws {
        do {
            _ = try RedisConfiguration(url: url)
            Issue.record("\(url) should be rejected")
        } catch {
            guard case .invalidURL(let message) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(message.contains(expectedWord), "message: \(message)")
        }
    }

    @Test func descriptionRedactsThePassword() throws {
        let configuration = try RedisConfiguration(url: "rediss://alice:hunter2@redis.example.com:6380/4")
        #expect(configuration.description == "rediss://alice:***@redis.example.com:6380/4")
        #expect(!"\(configuration)".contains("hunter2"))
        let ipv6 = try RedisConfiguration(url: "redis://:hunter2@[::1]:6379")
        #expect(ipv6.description == "redis://:***@[::1]:6379/0")
    }

    @Test func invalidURLErrorsNeverContainThePassword() {
        do {
            _ = try RedisConfiguration(url: "redis://user:hunter2@host:notaport")
        } catch {
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test func backoffDoublesAndIsCapped() {
        let backoff = RedisBackoff(initial: .milliseconds(100), maximum: .seconds(1))
        #expect(backoff.delay(forAttempt: 1) == .milliseconds(100))
        #expect(backoff.delay(forAttempt: 2) == .milliseconds(200))
        #expect(backoff.delay(forAttempt: 4) == .milliseconds(800))
        #expect(backoff.delay(forAttempt: 5) == .seconds(1))
        #expect(backoff.delay(forAttempt: 500) == .seconds(1))
    }
}

@Suite struct RedisCommandEncodingTests {
    @Test func commandsAreArraysOfBulkStrings() {
        var command = RedisCommand("set", "key", 42, ByteBuffer(bytes: [0, 1]))
        command.append("EX")
        command.append(1.5)
        var buffer = ByteBuffer()
        command.encode(into: &buffer)
        let expected =
            "*6\r\n$3\r\nset\r\n$3\r\nkey\r\n$2\r\n42\r\n$2\r\n\u{0}\u{1}\r\n$2\r\nEX\r\n$3\r\n1.5\r\n"
        #expect(buffer == ByteBuffer(string: expected))
        #expect(command.name == "SET")
        #expect(command.argumentCount == 6)
    }

    @Test func multiByteUTF8LengthsAreInBytes() {
        let command = RedisCommand("ECHO", "héllo ✓")
        var buffer = ByteBuffer()
        command.encode(into: &buffer)
        #expect(String(buffer: buffer) == "*2\r\n$4\r\nECHO\r\n$10\r\nhéllo ✓\r\n")
    }

    @Test func scoreBoundsAndInfinities() {
        var command = RedisCommand("ZRANGEBYSCORE", "z", RedisScoreBound.exclusive(1.5), RedisScoreBound.positiveInfinity)
        command.append(-Double.infinity)
        var buffer = ByteBuffer()
        command.encode(into: &buffer)
        #expect(String(buffer: buffer).contains("$4\r\n(1.5\r\n$4\r\n+inf\r\n$4\r\n-inf\r\n"))
    }

    @Test func scriptSHA1MatchesKnownVectors() {
        #expect(RedisScript("").sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(RedisScript("abc").sha1 == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(
            RedisScript("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").sha1
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        )
        // Longer than one 64-byte block, multi-byte characters.
        #expect(RedisScript(String(repeating: "ü", count: 100)).sha1.count == 40)
    }
}
