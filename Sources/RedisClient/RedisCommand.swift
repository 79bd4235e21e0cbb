import NIOCore

/// Something that can be sent as one argument (a RESP bulk string) of a command.
public protocol RESPArgumentConvertible: Sendable {
    /// Writes this value as one RESP bulk string: `$<byte count>\r\n<bytes>\r\n`.
    func encodeRESPBulkString(into buffer: inout ByteBuffer)
}

extension ByteBuffer {
    fileprivate mutating func writeBulkStringHeader(length: Int) {
        writeInteger(UInt8(ascii: "$"))
        writeString(String(length))
        writeStaticString("\r\n")
    }
}

extension String: RESPArgumentConvertible {
    public func encodeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeBulkStringHeader(length: utf8.count)
        buffer.writeString(self)
        buffer.writeStaticString("\r\n")
    }
}

extension Substring: RESPArgumentConvertible {
    public func encodeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeBulkStringHeader(length: utf8.count)
        buffer.writeSubstring(self)
        buffer.writeStaticString("\r\n")
    }
}

extension Int: RESPArgumentConvertible {
    public func encodeRESPBulkString(into buffer: inout ByteBuffer) {
        String(self).encodeRESPBulkString(into: &buffer)
    }
}

extension Double: RESPArgumentConvertible {
    public func encodeRESPBulkString(into buffer: inout ByteBuffer) {
        // Redis spells infinities "+inf"/"-inf"; Swift's description would say "inf".
        let text =
            if self == .infinity { "+inf" } else if self == -.infinity { "-inf" } else { String(self) }
        text.encodeRESPBulkString(into: &buffer)
    }
}

extension ByteBuffer: RESPArgumentConvertible {
    public func encodeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeBulkStringHeader(length: readableBytes)
        buffer.writeImmutableBuffer(self)
        buffer.writeStaticString("\r\n")
    }
}

extension Array: RESPArgumentConvertible where Element == UInt8 {
    public func encodeRESPBulkString(into buffer: inout ByteBuffer) {
        buffer.writeBulkStringHeader(length: count)
        buffer.writeBytes(self)
        buffer.writeStaticString("\r\n")
    }
}

/// A command ready to be written: its arguments are encoded as RESP bulk strings up front, so
/// sending never copies or re-encodes them. The command name is kept for logs and errors (never
/// the arguments, which may hold passwords or user data).
public struct RedisCommand: Sendable {
    /// Upper-cased command name, e.g. `GET` or `XADD`.
    public let name: String
    /// Number of arguments including the name.
    public private(set) var argumentCount: Int
    /// The concatenated `$<len>\r\n<bytes>\r\n` frames of all arguments, name included.
    private var encodedArguments: ByteBuffer

    public init(_ name: String, _ arguments: any RESPArgumentConvertible...) {
        self.init(name, arguments: arguments)
    }

    public init(_ name: String, arguments: [any RESPArgumentConvertible]) {
        self.name = name.uppercased()
        self.argumentCount = 0
        self.encodedArguments = ByteBuffer()
        self.encodedArguments.reserveCapacity(16 + name.utf8.count + arguments.count * 16)
        append(name)
        for argument in arguments { append(argument) }
    }

    /// Adds one more argument.
    public mutating func append(_ argument: some RESPArgumentConvertible) {
        argument.encodeRESPBulkString(into: &encodedArguments)
        argumentCount += 1
    }

    /// Writes the command as a RESP array of bulk strings.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeString("*\(argumentCount)\r\n")
        buffer.writeImmutableBuffer(encodedArguments)
    }

    /// Upper bound of the bytes ``encode(into:)`` writes, for reserving capacity.
    var encodedByteCount: Int { encodedArguments.readableBytes + 24 }
}
