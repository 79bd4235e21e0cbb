import NIOCore

/// Expiry for SET.
public enum RedisExpiration: Sendable, Equatable {
    case seconds(Int)
    case milliseconds(Int)
    /// Keep the key's current TTL (SET ... KEEPTTL).
    case keepTTL
}

/// Condition for SET.
public enum RedisSetCondition: Sendable, Equatable {
    case always
    /// NX: only set if the key does not exist.
    case ifNotExists
    /// XX: only set if the key already exists.
    case ifExists
}

/// A score bound for ZRANGEBYSCORE / ZREMRANGEBYSCORE.
public enum RedisScoreBound: Sendable, Equatable, RESPArgumentConvertible {
    case inclusive(Double)
    case exclusive(Double)
    case negativeInfinity
    case positiveInfinity

    public func encodeRESPBulkString(into buffer: inout ByteBuffer) {
        switch self {
        case .inclusive(let score): score.encodeRESPBulkString(into: &buffer)
        case .exclusive(let score): "(\(score)".encodeRESPBulkString(into: &buffer)
        case .negativeInfinity: "-inf".encodeRESPBulkString(into: &buffer)
        case .positiveInfinity: "+inf".encodeRESPBulkString(into: &buffer)
        }
    }
}

/// How XADD trims the stream.
public enum RedisStreamTrim: Sendable, Equatable {
    /// MAXLEN: keep at most `count` entries. `approximate` (`~`) lets Redis trim lazily, which is
    /// much cheaper; the stream may then hold somewhat more than `count` entries.
    case maxLength(Int, approximate: Bool = true)
    /// MINID: drop entries with IDs lower than `id`.
    case minID(String, approximate: Bool = true)
}

/// One stream entry as returned by XRANGE/XREAD.
public struct RedisStreamEntry: Sendable, Equatable {
    public var id: String
    /// Field/value pairs in the order they were added.
    public var fields: [(name: String, value: ByteBuffer)]

    public init(id: String, fields: [(name: String, value: ByteBuffer)]) {
        self.id = id
        self.fields = fields
    }

    /// The value of the first field called `name`, as text.
    public subscript(field name: String) -> String? {
        fields.first { $0.name == name }.map { String(buffer: $0.value) }
    }

    public static func == (lhs: RedisStreamEntry, rhs: RedisStreamEntry) -> Bool {
        lhs.id == rhs.id && lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    /// Decodes `[id, [field, value, ...]]`; the field list may be a RESP3 map, or null for deleted entries.
    public init?(_ reply: RESPValue) {
        guard let parts = reply.array, parts.count == 2, let id = parts[0].string else { return nil }
        var fields: [(name: String, value: ByteBuffer)] = []
        if !parts[1].isNull {
            guard let pairs = parts[1].pairs else { return nil }
            fields.reserveCapacity(pairs.count)
            for pair in pairs {
                guard let name = pair.key.string, let value = pair.value.buffer else { return nil }
                fields.append((name, value))
            }
        }
        self.init(id: id, fields: fields)
    }

    /// Decodes an XRANGE/XREVRANGE reply, or the entry list of one XREAD stream.
    public static func entries(from reply: RESPValue) -> [RedisStreamEntry]? {
        if reply.isNull { return [] }
        guard let items = reply.array else { return nil }
        var entries: [RedisStreamEntry] = []
        entries.reserveCapacity(items.count)
        for item in items {
            guard let entry = RedisStreamEntry(item) else { return nil }
            entries.append(entry)
        }
        return entries
    }
}

extension RedisError {
    /// A reply that does not have the shape `command` returns; the reply text is shortened.
    static func unexpected(_ command: String, _ reply: RESPValue) -> RedisError {
        let text = reply.description
        return .unexpectedReply(command: command, reply: text.count > 200 ? String(text.prefix(200)) + "..." : text)
    }
}

// MARK: - Typed commands

extension RedisCommandExecutor {
    // MARK: Connection and server

    /// PING; returns the server's answer, normally `PONG`.
    @discardableResult
    public func ping() async throws -> String {
        let reply = try await send(RedisCommand("PING"))
        guard let text = reply.string else { throw RedisError.unexpected("PING", reply) }
        return text
    }

    /// FLUSHALL: deletes every key in every database. Meant for tests.
    public func flushall() async throws {
        _ = try await send(RedisCommand("FLUSHALL"))
    }

    /// PUBLISH; returns the number of subscribers that received the message.
    @discardableResult
    public func publish(_ channel: String, _ message: some RESPArgumentConvertible) async throws -> Int {
        try await integer(RedisCommand("PUBLISH", channel, message))
    }

    // MARK: Strings and keys

    /// GET as text; nil if the key does not exist.
    public func get(_ key: String) async throws -> String? {
        try await optionalString(RedisCommand("GET", key))
    }

    /// GET as raw bytes; nil if the key does not exist.
    public func getBuffer(_ key: String) async throws -> ByteBuffer? {
        let reply = try await send(RedisCommand("GET", key))
        if reply.isNull { return nil }
        guard let buffer = reply.buffer else { throw RedisError.unexpected("GET", reply) }
        return buffer
    }

    /// SET with optional expiry and condition. Returns false when the condition (NX/XX) prevented the write.
    @discardableResult
    public func set(
        _ key: String,
        to value: some RESPArgumentConvertible,
        expiration: RedisExpiration? = nil,
        condition: RedisSetCondition = .always
    ) async throws -> Bool {
        var command = RedisCommand("SET", key, value)
        switch expiration {
        case .seconds(let seconds):
            command.append("EX")
            command.append(seconds)
        case .milliseconds(let milliseconds):
            command.append("PX")
            command.append(milliseconds)
        case .keepTTL:
            command.append("KEEPTTL")
        case nil:
            break
        }
        switch condition {
        case .always: break
        case .ifNotExists: command.append("NX")
        case .ifExists: command.append("XX")
        }
        // SET answers OK, or null when NX/XX prevented the write.
        let reply = try await send(command)
        return !reply.isNull
    }

    /// GETDEL: returns the value and deletes the key in one step.
    public func getdel(_ key: String) async throws -> String? {
        try await optionalString(RedisCommand("GETDEL", key))
    }

    /// DEL; returns how many of the keys existed.
    @discardableResult
    public func del(_ keys: String...) async throws -> Int {
        try await del(keys)
    }

    /// DEL; returns how many of the keys existed.
    @discardableResult
    public func del(_ keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try await integer(RedisCommand("DEL", arguments: keys))
    }

    /// EXISTS; returns how many of the keys exist (a key listed twice counts twice).
    public func exists(_ keys: String...) async throws -> Int {
        try await integer(RedisCommand("EXISTS", arguments: keys))
    }

    /// EXPIRE; false if the key does not exist.
    @discardableResult
    public func expire(_ key: String, seconds: Int) async throws -> Bool {
        try await integer(RedisCommand("EXPIRE", key, seconds)) == 1
    }

    /// PEXPIRE; false if the key does not exist.
    @discardableResult
    public func pexpire(_ key: String, milliseconds: Int) async throws -> Bool {
        try await integer(RedisCommand("PEXPIRE", key, milliseconds)) == 1
    }

    /// TTL in seconds; -1 if the key has no expiry, -2 if it does not exist.
    public func ttl(_ key: String) async throws -> Int {
        try await integer(RedisCommand("TTL", key))
    }

    /// PTTL in milliseconds; -1 if the key has no expiry, -2 if it does not exist.
    public func pttl(_ key: String) async throws -> Int {
        try await integer(RedisCommand("PTTL", key))
    }

    /// INCR; returns the new value.
    @discardableResult
    public func incr(_ key: String) async throws -> Int {
        try await integer(RedisCommand("INCR", key))
    }

    /// INCRBY; returns the new value.
    @discardableResult
    public func incrby(_ key: String, _ increment: Int) async throws -> Int {
        try await integer(RedisCommand("INCRBY", key, increment))
    }

    // MARK: Hashes

    /// HSET of several fields; returns how many fields were new.
    @discardableResult
    public func hset(_ key: String, fields: [String: String]) async throws -> Int {
        var command = RedisCommand("HSET", key)
        for (field, value) in fields {
            command.append(field)
            command.append(value)
        }
        return try await integer(command)
    }

    /// HSET of one field; returns 1 if the field was new.
    @discardableResult
    public func hset(_ key: String, field: String, to value: some RESPArgumentConvertible) async throws -> Int {
        try await integer(RedisCommand("HSET", key, field, value))
    }

    /// HGET; nil if the key or field does not exist.
    public func hget(_ key: String, field: String) async throws -> String? {
        try await optionalString(RedisCommand("HGET", key, field))
    }

    /// HGETALL as a dictionary (works with both the RESP2 flat array and the RESP3 map reply).
    public func hgetall(_ key: String) async throws -> [String: String] {
        let reply = try await send(RedisCommand("HGETALL", key))
        guard let dictionary = reply.stringDictionary else { throw RedisError.unexpected("HGETALL", reply) }
        return dictionary
    }

    /// HDEL; returns how many fields existed.
    @discardableResult
    public func hdel(_ key: String, fields: String...) async throws -> Int {
        var command = RedisCommand("HDEL", key)
        for field in fields { command.append(field) }
        return try await integer(command)
    }

    // MARK: Sorted sets

    /// ZADD; returns how many members were new.
    @discardableResult
    public func zadd(_ key: String, members: [(member: String, score: Double)]) async throws -> Int {
        var command = RedisCommand("ZADD", key)
        for (member, score) in members {
            command.append(score)
            command.append(member)
        }
        return try await integer(command)
    }

    /// ZADD of one member; returns 1 if it was new.
    @discardableResult
    public func zadd(_ key: String, member: String, score: Double) async throws -> Int {
        try await zadd(key, members: [(member, score)])
    }

    /// ZRANGE by rank (inclusive, negative ranks count from the end).
    public func zrange(_ key: String, start: Int, stop: Int) async throws -> [String] {
        try await strings(RedisCommand("ZRANGE", key, start, stop))
    }

    /// ZRANGEBYSCORE, optionally with LIMIT offset count.
    public func zrangebyscore(
        _ key: String,
        min: RedisScoreBound,
        max: RedisScoreBound,
        limit: (offset: Int, count: Int)? = nil
    ) async throws -> [String] {
        var command = RedisCommand("ZRANGEBYSCORE", key, min, max)
        if let limit {
            command.append("LIMIT")
            command.append(limit.offset)
            command.append(limit.count)
        }
        return try await strings(command)
    }

    /// ZSCORE; nil if the member does not exist.
    public func zscore(_ key: String, member: String) async throws -> Double? {
        let reply = try await send(RedisCommand("ZSCORE", key, member))
        if reply.isNull { return nil }
        guard let score = reply.double else { throw RedisError.unexpected("ZSCORE", reply) }
        return score
    }

    /// ZREM; returns how many members existed.
    @discardableResult
    public func zrem(_ key: String, members: String...) async throws -> Int {
        var command = RedisCommand("ZREM", key)
        for member in members { command.append(member) }
        return try await integer(command)
    }

    /// ZREMRANGEBYSCORE; returns how many members were removed.
    @discardableResult
    public func zremrangebyscore(_ key: String, min: RedisScoreBound, max: RedisScoreBound) async throws -> Int {
        try await integer(RedisCommand("ZREMRANGEBYSCORE", key, min, max))
    }

    /// ZCARD.
    public func zcard(_ key: String) async throws -> Int {
        try await integer(RedisCommand("ZCARD", key))
    }

    // MARK: Streams

    /// XADD; returns the ID of the new entry.
    @discardableResult
    public func xadd(
        _ key: String,
        id: String = "*",
        fields: KeyValuePairs<String, String>,
        trim: RedisStreamTrim? = nil
    ) async throws -> String {
        var command = RedisCommand("XADD", key)
        switch trim {
        case .maxLength(let count, let approximate):
            command.append("MAXLEN")
            command.append(approximate ? "~" : "=")
            command.append(count)
        case .minID(let minimum, let approximate):
            command.append("MINID")
            command.append(approximate ? "~" : "=")
            command.append(minimum)
        case nil:
            break
        }
        command.append(id)
        for (field, value) in fields {
            command.append(field)
            command.append(value)
        }
        let reply = try await send(command)
        guard let entryID = reply.string else { throw RedisError.unexpected("XADD", reply) }
        return entryID
    }

    /// XRANGE from `start` to `end` (inclusive; `-`/`+` for the ends, `(id` for exclusive).
    public func xrange(_ key: String, start: String = "-", end: String = "+", count: Int? = nil) async throws
        -> [RedisStreamEntry]
    {
        var command = RedisCommand("XRANGE", key, start, end)
        if let count {
            command.append("COUNT")
            command.append(count)
        }
        return try await streamEntries(command)
    }

    /// XREVRANGE: newest first.
    public func xrevrange(_ key: String, end: String = "+", start: String = "-", count: Int? = nil) async throws
        -> [RedisStreamEntry]
    {
        var command = RedisCommand("XREVRANGE", key, end, start)
        if let count {
            command.append("COUNT")
            command.append(count)
        }
        return try await streamEntries(command)
    }

    /// Non-blocking XREAD of several streams, each from just after the given ID. Streams with no new
    /// entries are absent from the result.
    public func xread(streams: [(key: String, after: String)], count: Int? = nil) async throws
        -> [String: [RedisStreamEntry]]
    {
        guard !streams.isEmpty else { return [:] }
        var command = RedisCommand("XREAD")
        if let count {
            command.append("COUNT")
            command.append(count)
        }
        command.append("STREAMS")
        for stream in streams { command.append(stream.key) }
        for stream in streams { command.append(stream.after) }
        let reply = try await send(command)
        if reply.isNull { return [:] }

        // RESP3 answers with a map of key -> entries; RESP2 with an array of [key, entries] pairs.
        let perStream: [(key: RESPValue, value: RESPValue)]
        switch reply {
        case .map(let pairs):
            perStream = pairs
        case .array(let items):
            var pairs: [(key: RESPValue, value: RESPValue)] = []
            for item in items {
                guard case .array(let pair) = item, pair.count == 2 else { throw RedisError.unexpected("XREAD", reply) }
                pairs.append((pair[0], pair[1]))
            }
            perStream = pairs
        default:
            throw RedisError.unexpected("XREAD", reply)
        }
        var result: [String: [RedisStreamEntry]] = [:]
        for (key, value) in perStream {
            guard let name = key.string, let entries = RedisStreamEntry.entries(from: value) else {
                throw RedisError.unexpected("XREAD", reply)
            }
            result[name] = entries
        }
        return result
    }

    /// Non-blocking XREAD of one stream from just after `id` (`0` for the beginning).
    public func xread(_ key: String, after id: String, count: Int? = nil) async throws -> [RedisStreamEntry] {
        try await xread(streams: [(key, id)], count: count)[key] ?? []
    }

    /// XLEN.
    public func xlen(_ key: String) async throws -> Int {
        try await integer(RedisCommand("XLEN", key))
    }

    // MARK: Reply shapes

    private func integer(_ command: RedisCommand) async throws -> Int {
        let reply = try await send(command)
        guard let value = reply.int else { throw RedisError.unexpected(command.name, reply) }
        return value
    }

    private func optionalString(_ command: RedisCommand) async throws -> String? {
        let reply = try await send(command)
        if reply.isNull { return nil }
        guard let text = reply.string else { throw RedisError.unexpected(command.name, reply) }
        return text
    }

    private func strings(_ command: RedisCommand) async throws -> [String] {
        let reply = try await send(command)
        guard let items = reply.array else { throw RedisError.unexpected(command.name, reply) }
        return try items.map { item in
            guard let text = item.string else { throw RedisError.unexpected(command.name, reply) }
            return text
        }
    }

    private func streamEntries(_ command: RedisCommand) async throws -> [RedisStreamEntry] {
        let reply = try await send(command)
        guard let entries = RedisStreamEntry.entries(from: reply) else { throw RedisError.unexpected(command.name, reply) }
        return entries
    }
}
