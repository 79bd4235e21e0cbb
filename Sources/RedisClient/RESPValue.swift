import NIOCore

/// One decoded RESP2 or RESP3 frame.
///
/// RESP2 nulls (`$-1`, `*-1`) and the RESP3 null (`_`) all decode to ``null``. Simple and blob
/// errors both decode to ``error(_:)``. RESP3 attributes (`|`) are skipped by the parser and never
/// surface here.
public enum RESPValue: Sendable {
    case simpleString(String)
    case error(String)
    case integer(Int)
    case bulkString(ByteBuffer)
    case null
    case array([RESPValue])
    /// RESP3 map; kept as ordered pairs because keys need not be strings or unique.
    case map([(key: RESPValue, value: RESPValue)])
    case set([RESPValue])
    case double(Double)
    case boolean(Bool)
    /// RESP3 big number, kept as its decimal text.
    case bigNumber(String)
    /// RESP3 verbatim string; `format` is the three-letter type such as `txt` or `mkd`.
    case verbatimString(format: String, text: ByteBuffer)
    /// RESP3 out-of-band push (pub/sub messages, client-side caching invalidations).
    case push([RESPValue])
}

extension RESPValue: Equatable {
    public static func == (lhs: RESPValue, rhs: RESPValue) -> Bool {
        switch (lhs, rhs) {
        case (.simpleString(let l), .simpleString(let r)): l == r
        case (.error(let l), .error(let r)): l == r
        case (.integer(let l), .integer(let r)): l == r
        case (.bulkString(let l), .bulkString(let r)): l == r
        case (.null, .null): true
        case (.array(let l), .array(let r)): l == r
        case (.map(let l), .map(let r)): l.elementsEqual(r) { $0.key == $1.key && $0.value == $1.value }
        case (.set(let l), .set(let r)): l == r
        case (.double(let l), .double(let r)): l == r || (l.isNaN && r.isNaN)
        case (.boolean(let l), .boolean(let r)): l == r
        case (.bigNumber(let l), .bigNumber(let r)): l == r
        case (.verbatimString(let lf, let lt), .verbatimString(let rf, let rt)): lf == rf && lt == rt
        case (.push(let l), .push(let r)): l == r
        default: false
        }
    }
}

extension RESPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .simpleString(let string): return "+\(string)"
        case .error(let message): return "-\(message)"
        case .integer(let value): return ":\(value)"
        case .bulkString(let buffer): return "$\"\(String(buffer: buffer))\""
        case .null: return "null"
        case .array(let values): return "[\(values.map(\.description).joined(separator: ", "))]"
        case .map(let pairs): return "{\(pairs.map { "\($0.key): \($0.value)" }.joined(separator: ", "))}"
        case .set(let values): return "~[\(values.map(\.description).joined(separator: ", "))]"
        case .double(let value): return ",\(value)"
        case .boolean(let value): return "#\(value)"
        case .bigNumber(let text): return "(\(text)"
        case .verbatimString(let format, let text): return "=\(format):\(String(buffer: text))"
        case .push(let values): return ">[\(values.map(\.description).joined(separator: ", "))]"
        }
    }
}

// MARK: - Convenience constructors (mostly for tests)

extension RESPValue {
    /// A bulk string holding the UTF-8 bytes of `string`.
    public static func bulkString(_ string: String) -> RESPValue {
        .bulkString(ByteBuffer(string: string))
    }
}

// MARK: - Decoding helpers

extension RESPValue {
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The error message if this is an error reply.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }

    /// Text of any string-like reply (simple, bulk, verbatim, big number); nil otherwise.
    public var string: String? {
        switch self {
        case .simpleString(let string): string
        case .bulkString(let buffer): String(buffer: buffer)
        case .verbatimString(_, let text): String(buffer: text)
        case .bigNumber(let text): text
        default: nil
        }
    }

    /// Raw bytes of a bulk or verbatim string, or the UTF-8 of a simple string.
    public var buffer: ByteBuffer? {
        switch self {
        case .bulkString(let buffer): buffer
        case .verbatimString(_, let text): text
        case .simpleString(let string): ByteBuffer(string: string)
        default: nil
        }
    }

    /// The bytes of ``buffer`` as an array.
    public var bytes: [UInt8]? {
        buffer.map { Array($0.readableBytesView) }
    }

    /// An integer reply, or a string reply that holds a decimal integer (RESP2 sends many numbers as strings).
    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .boolean(let value): value ? 1 : 0
        case .simpleString, .bulkString, .bigNumber: string.flatMap { Int($0) }
        default: nil
        }
    }

    /// A RESP3 double, an integer, or a string holding a number (RESP2 sends scores as strings).
    public var double: Double? {
        switch self {
        case .double(let value): value
        case .integer(let value): Double(value)
        case .simpleString, .bulkString: string.flatMap { Double($0) }
        default: nil
        }
    }

    /// A RESP3 boolean, or an integer 0/1 as RESP2 encodes booleans.
    public var bool: Bool? {
        switch self {
        case .boolean(let value): value
        case .integer(let value): value != 0
        default: nil
        }
    }

    /// Elements of an array, set or push. A map is flattened to `[k1, v1, k2, v2, ...]`, which is the
    /// shape RESP2 uses for the same reply, so callers can handle both protocols with one code path.
    public var array: [RESPValue]? {
        switch self {
        case .array(let values), .set(let values), .push(let values): values
        case .map(let pairs): pairs.flatMap { [$0.key, $0.value] }
        default: nil
        }
    }

    /// Key/value pairs of a RESP3 map or of a RESP2 flat `[k1, v1, ...]` array.
    public var pairs: [(key: RESPValue, value: RESPValue)]? {
        switch self {
        case .map(let pairs):
            return pairs
        case .array(let values):
            guard values.count.isMultiple(of: 2) else { return nil }
            return stride(from: 0, to: values.count, by: 2).map { (key: values[$0], value: values[$0 + 1]) }
        default:
            return nil
        }
    }

    /// A map (RESP3) or flat array (RESP2) with string keys, as a dictionary. Later duplicates win.
    public var dictionary: [String: RESPValue]? {
        guard let pairs else { return nil }
        var result: [String: RESPValue] = [:]
        result.reserveCapacity(pairs.count)
        for pair in pairs {
            guard let key = pair.key.string else { return nil }
            result[key] = pair.value
        }
        return result
    }

    /// Like ``dictionary`` but with string values, as returned by HGETALL or CONFIG GET.
    public var stringDictionary: [String: String]? {
        guard let dictionary else { return nil }
        var result: [String: String] = [:]
        result.reserveCapacity(dictionary.count)
        for (key, value) in dictionary {
            guard let string = value.string else { return nil }
            result[key] = string
        }
        return result
    }
}
