import GatewayTestSupport
import NIOCore
import RedisClient
import Testing

/// Commands against a real redis-server, in both protocol versions (reply shapes differ).
@Suite(.requires(.redisServer)) struct RedisCommandIntegrationTests {
    static let protocols: [RESPProtocolVersion] = [.resp3, .resp2]

    @Test(arguments: protocols)
    func negotiatesTheRequestedProtocol(version: RESPProtocolVersion) async throws {
        try await withRedisServer { server throws in
            let connection = try await RedisConnection.connect(
                configuration: testConfiguration(server.url, protocolVersion: version),
                logger: testLogger
            )
            #expect(connection.protocolVersion == version)
            #expect(try await connection.ping() == "PONG")
            await connection.close()
        }
    }

    @Test(arguments: protocols)
    func stringsKeysAndNulls(version: RESPProtocolVersion) async throws {
        try await withRedis(protocolVersion: version) { client, _ throws in
            #expect(try await client.get("missing") == nil)
            #expect(try await client.send("GET", "missing") == .null)
            #expect(try await client.set("greeting", to: "héllo"))
            #expect(try await client.get("greeting") == "héllo")
            #expect(try await client.set("greeting", to: "other", condition: .ifNotExists) == false)
            #expect(try await client.set("fresh", to: "x", condition: .ifExists) == false)
            #expect(try await client.get("greeting") == "héllo")

            #expect(try await client.set("temp", to: 1, expiration: .seconds(100)))
            let ttl = try await client.ttl("temp")
            #expect((1...100).contains(ttl))
            #expect(try await client.set("temp-ms", to: 1, expiration: .milliseconds(50_000)))
            let ttlFromMilliseconds = try await client.ttl("temp-ms")
            #expect((1...50).contains(ttlFromMilliseconds))
            #expect(try await client.ttl("greeting") == -1)
            #expect(try await client.ttl("missing") == -2)
            #expect(try await client.expire("greeting", seconds: 60))
            #expect(try await client.pexpire("greeting", milliseconds: 30_000))
            let pttl = try await client.pttl("greeting")
            #expect((1...30_000).contains(pttl))
            #expect(try await client.expire("missing", seconds: 60) == false)

            #expect(try await client.getdel("greeting") == "héllo")
            #expect(try await client.getdel("greeting") == nil)
            #expect(try await client.exists("greeting", "temp", "temp") == 2)

            #expect(try await client.incr("counter") == 1)
            #expect(try await client.incrby("counter", 41) == 42)
            #expect(try await client.del("counter", "temp", "missing") == 2)
        }
    }

    @Test func oneMebibyteBulkStringRoundTrip() async throws {
        try await withRedis { client, _ throws in
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<(1024 * 1024)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let payload = ByteBuffer(bytes: bytes)
            #expect(try await client.set("blob", to: payload))
            let roundTripped = try await client.getBuffer("blob")
            #expect(roundTripped == payload)
            #expect(try await client.send("STRLEN", "blob").int == 1024 * 1024)
        }
    }

    @Test(arguments: protocols)
    func tenThousandPipelinedCommandsKeepTheirOrder(version: RESPProtocolVersion) async throws {
        try await withRedis(protocolVersion: version) { client, _ throws in
            let commands = (1...10_000).map { index in
                index.isMultiple(of: 2)
                    ? RedisCommand("INCR", "pipeline-counter")
                    : RedisCommand("SET", "key-\(index)", "value-\(index)")
            }
            let replies = try await client.pipeline(commands)
            #expect(replies.count == 10_000)
            var mismatches = 0
            for (offset, reply) in replies.enumerated() {
                let index = offset + 1
                let expected: RESPValue = index.isMultiple(of: 2) ? .integer(index / 2) : .simpleString("OK")
                if reply != expected { mismatches += 1 }
            }
            #expect(mismatches == 0)

            let reads = try await client.pipeline((1...999).filter { !$0.isMultiple(of: 2) }.map { RedisCommand("GET", "key-\($0)") })
            #expect(reads.map(\.string) == (1...999).filter { !$0.isMultiple(of: 2) }.map { "value-\($0)" })
        }
    }

    @Test func manyConcurrentCommandsGetTheirOwnReplies() async throws {
        try await withRedis { client, _ throws in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<500 {
                    group.addTask {
                        try await client.set("concurrent-\(index)", to: index)
                        let value = try await client.get("concurrent-\(index)")
                        #expect(value == String(index))
                    }
                }
                try await group.waitForAll()
            }
            let open = await client.openConnectionCount
            #expect((1...client.configuration.maximumConnections).contains(open))
        }
    }

    @Test(arguments: protocols)
    func errorRepliesSurfaceAsRedisErrors(version: RESPProtocolVersion) async throws {
        try await withRedis(protocolVersion: version) { client, _ throws in
            try await client.set("text", to: "abc")
            let notInteger = await expectRedisError { try await client.incr("text") }
            #expect(notInteger == .server(message: "ERR value is not an integer or out of range"))

            let wrongType = await expectRedisError { _ = try await client.hgetall("text") }
            #expect(wrongType?.serverErrorCode == "WRONGTYPE")

            let unknown = await expectRedisError { try await client.send("NOSUCHCOMMAND", "x") }
            #expect(unknown?.serverErrorCode == "ERR")

            // In a pipeline the error is one reply among others, and the rest are unaffected.
            let replies = try await client.pipeline([
                RedisCommand("SET", "a", "1"),
                RedisCommand("INCR", "text"),
                RedisCommand("GET", "a"),
            ])
            #expect(replies[0] == .simpleString("OK"))
            #expect(replies[1].errorMessage?.hasPrefix("ERR") == true)
            #expect(replies[2] == .bulkString("1"))
            // And the connection is still in sync.
            #expect(try await client.get("a") == "1")
        }
    }

    @Test(arguments: protocols)
    func streams(version: RESPProtocolVersion) async throws {
        try await withRedis(protocolVersion: version) { client, _ throws in
            var ids: [String] = []
            for index in 1...20 {
                let id = try await client.xadd(
                    "events",
                    fields: ["type": "delta", "seq": "\(index)"],
                    trim: .maxLength(10, approximate: false)
                )
                ids.append(id)
            }
            #expect(try await client.xlen("events") == 10)

            let firstThree = try await client.xrange("events", count: 3)
            #expect(firstThree.map(\.id) == Array(ids[10..<13]))
            #expect(firstThree[0][field: "seq"] == "11")
            #expect(firstThree[0].fields.map(\.name) == ["type", "seq"])

            let all = try await client.xrange("events")
            #expect(all.count == 10)
            let newest = try await client.xrevrange("events", count: 1)
            #expect(newest.first?.id == ids.last)

            let afterSecondLast = try await client.xread("events", after: ids[18])
            #expect(afterSecondLast.map(\.id) == [ids[19]])
            #expect(try await client.xread("events", after: ids[19]).isEmpty)
            #expect(try await client.xread("no-such-stream", after: "0").isEmpty)

            _ = try await client.xadd("other", fields: ["k": "v"])
            let multi = try await client.xread(streams: [("events", ids[17]), ("other", "0")], count: 1)
            #expect(multi["events"]?.map(\.id) == [ids[18]])
            #expect(multi["other"]?.first?[field: "k"] == "v")

            // Approximate trimming keeps at least the requested length.
            for _ in 0..<300 {
                try await client.xadd("approx", fields: ["x": "1"], trim: .maxLength(100))
            }
            #expect(try await client.xlen("approx") >= 100)
            #expect(try await client.xlen("approx") < 300)
        }
    }

    @Test(arguments: protocols)
    func hashes(version: RESPProtocolVersion) async throws {
        try await withRedis(protocolVersion: version) { client, _ throws in
            #expect(try await client.hset("session", fields: ["user": "u1", "state": "open"]) == 2)
            #expect(try await client.hset("session", field: "state", to: "closed") == 0)
            #expect(try await client.hget("session", field: "state") == "closed")
            #expect(try await client.hget("session", field: "missing") == nil)
            #expect(try await client.hgetall("session") == ["user": "u1", "state": "closed"])
            #expect(try await client.hdel("session", fields: "user", "missing") == 1)
            #expect(try await client.hgetall("session") == ["state": "closed"])
            #expect(try await client.hgetall("no-such-hash") == [:])
        }
    }

    @Test(arguments: protocols)
    func sortedSets(version: RESPProtocolVersion) async throws {
        try await withRedis(protocolVersion: version) { client, _ throws in
            let added = try await client.zadd("leases", members: [("a", 1), ("b", 2), ("c", 3), ("d", 4.5)])
            #expect(added == 4)
            #expect(try await client.zadd("leases", member: "a", score: 1.5) == 0)
            #expect(try await client.zscore("leases", member: "d") == 4.5)
            #expect(try await client.zscore("leases", member: "zz") == nil)
            #expect(try await client.zrange("leases", start: 0, stop: -1) == ["a", "b", "c", "d"])
            #expect(try await client.zrangebyscore("leases", min: .exclusive(1.5), max: .inclusive(3)) == ["b", "c"])
            #expect(
                try await client.zrangebyscore("leases", min: .negativeInfinity, max: .positiveInfinity, limit: (1, 2))
                    == ["b", "c"]
            )
            #expect(try await client.zrem("leases", members: "b", "nope") == 1)
            #expect(try await client.zremrangebyscore("leases", min: .negativeInfinity, max: .inclusive(3)) == 2)
            #expect(try await client.zrange("leases", start: 0, stop: -1) == ["d"])
            #expect(try await client.zcard("leases") == 1)
        }
    }

    @Test(arguments: protocols)
    func scriptsFallBackToEvalAfterScriptFlush(version: RESPProtocolVersion) async throws {
        try await withRedis(protocolVersion: version) { client, _ throws in
            let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
            // Never loaded: EVALSHA fails with NOSCRIPT and EVAL takes over.
            #expect(try await client.eval(script, keys: ["n"], arguments: [5]) == .integer(5))
            // Now cached by the EVAL above: EVALSHA works directly.
            #expect(try await client.evalsha(script.sha1, keys: ["n"], arguments: [1]) == .integer(6))
            #expect(try await client.scriptLoad(script.source) == script.sha1)

            try await client.scriptFlush()
            let noscript = await expectRedisError { try await client.evalsha(script.sha1, keys: ["n"], arguments: [1]) }
            #expect(noscript?.serverErrorCode == "NOSCRIPT")
            #expect(try await client.eval(script, keys: ["n"], arguments: [10]) == .integer(16))

            // Script errors are server errors, not NOSCRIPT retries.
            let failing = RedisScript("return redis.call('INCR', KEYS[1])")
            try await client.set("s", to: "text")
            let scriptError = await expectRedisError { try await client.eval(failing, keys: ["s"]) }
            #expect(scriptError?.serverErrorCode != "NOSCRIPT")
            #expect(scriptError?.serverErrorCode != nil)
        }
    }

    @Test func resp3NativeTypes() async throws {
        try await withRedis(protocolVersion: .resp3) { client, _ throws in
            try await client.zadd("z", member: "m", score: 2.5)
            #expect(try await client.send("ZSCORE", "z", "m") == .double(2.5))
            try await client.hset("h", field: "f", to: "v")
            let map = try await client.send("HGETALL", "h")
            #expect(map == .map([(.bulkString("f"), .bulkString("v"))]))
            #expect(try await client.send("SISMEMBER", "nope", "x") == .integer(0))
            let hello = try await client.send("HELLO", "3")
            #expect(hello.dictionary?["proto"] == .integer(3))
        }
    }

    @Test func publishReturnsReceiverCount() async throws {
        try await withRedis { client, _ throws in
            #expect(try await client.publish("nobody-listens", "hi") == 0)
        }
    }

    @Test func databaseIndexFromURL() async throws {
        try await withRedisServer { server throws in
            try await withClient(testConfiguration(server.url + "/2")) { db2 throws in
                try await withClient(testConfiguration(server.url)) { db0 throws in
                    try await db2.set("only-in-2", to: "yes")
                    #expect(try await db2.get("only-in-2") == "yes")
                    #expect(try await db0.get("only-in-2") == nil)
                    #expect(try await db2.send("CLIENT", "INFO").string?.contains("db=2") == true)
                    try await db0.flushall()
                    #expect(try await db2.get("only-in-2") == nil)
                }
            }
        }
    }

    @Test func clientNameIsSet() async throws {
        try await withRedisServer { server throws in
            for version in Self.protocols {
                var configuration = try testConfiguration(server.url, protocolVersion: version)
                configuration.clientName = "gateway-test"
                try await withClient(configuration) { client throws in
                    #expect(try await client.send("CLIENT", "GETNAME").string == "gateway-test")
                }
            }
        }
    }
}
