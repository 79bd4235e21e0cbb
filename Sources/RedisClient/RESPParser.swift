import NIOCore

/// A malformed or out-of-bounds RESP frame. The connection that produced it cannot be trusted
/// any more (we no longer know where the next frame starts), so it is closed.
public struct RESPParsingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "RESP protocol error: \(message)" }
}

/// Incremental RESP2/RESP3 parser.
///
/// `next(from:)` consumes one complete top-level frame or returns nil without consuming anything
/// that is still incomplete, so it can be fed arbitrarily split input. Partially received
/// aggregates are kept on an explicit stack, which means bytes already parsed are never parsed
/// again, and nesting depth is bounded without recursion.
public struct RESPParser: Sendable {
    public static let defaultMaximumDepth = 32
    /// Redis' own `proto-max-bulk-len` default.
    public static let defaultMaximumBulkLength = 512 * 1024 * 1024
    /// Simple strings, errors and numbers are single lines; a line this long without CRLF is garbage.
    public static let maximumLineLength = 64 * 1024

    public let maximumDepth: Int
    public let maximumBulkLength: Int

    private enum AggregateKind: Sendable {
        case array, set, push, map, attribute
    }

    private struct PendingAggregate: Sendable {
        var kind: AggregateKind
        /// Number of child values still to read (maps and attributes count keys and values).
        var remaining: Int
        var elements: [RESPValue]
    }

    /// Aggregates whose headers have been read but whose children are still arriving.
    private var pending: [PendingAggregate] = []

    public init(maximumDepth: Int = defaultMaximumDepth, maximumBulkLength: Int = defaultMaximumBulkLength) {
        self.maximumDepth = maximumDepth
        self.maximumBulkLength = maximumBulkLength
    }

    /// Returns the next complete top-level value, or nil if `buffer` does not yet hold one.
    public mutating func next(from buffer: inout ByteBuffer) throws(RESPParsingError) -> RESPValue? {
        while true {
            guard let token = try readToken(from: &buffer) else { return nil }
            var completed: RESPValue
            switch token {
            case .value(let value):
                completed = value
            case .aggregateHeader(let kind, let count):
                if count > 0 {
                    guard pending.count < maximumDepth else {
                        throw RESPParsingError("nesting deeper than \(maximumDepth) levels")
                    }
                    let childCount = (kind == .map || kind == .attribute) ? count * 2 : count
                    // The count comes from the peer: do not let it pre-allocate unbounded memory.
                    var elements: [RESPValue] = []
                    elements.reserveCapacity(min(childCount, 1024))
                    pending.append(PendingAggregate(kind: kind, remaining: childCount, elements: elements))
                    continue
                }
                if kind == .attribute { continue }
                completed = Self.makeAggregate(kind, elements: [])
            }

            // Fold the completed value into its parents, closing every aggregate it completes.
            while true {
                guard var parent = pending.popLast() else { return completed }
                parent.elements.append(completed)
                parent.remaining -= 1
                if parent.remaining > 0 {
                    pending.append(parent)
                    break
                }
                if parent.kind == .attribute {
                    // Attributes annotate the value that follows them; we have no use for them.
                    break
                }
                completed = Self.makeAggregate(parent.kind, elements: parent.elements)
            }
        }
    }

    private static func makeAggregate(_ kind: AggregateKind, elements: [RESPValue]) -> RESPValue {
        switch kind {
        case .array: return .array(elements)
        case .set: return .set(elements)
        case .push: return .push(elements)
        case .map, .attribute:
            var pairs: [(key: RESPValue, value: RESPValue)] = []
            pairs.reserveCapacity(elements.count / 2)
            for index in stride(from: 0, to: elements.count, by: 2) {
                pairs.append((key: elements[index], value: elements[index + 1]))
            }
            return .map(pairs)
        }
    }

    private enum Token {
        case value(RESPValue)
        case aggregateHeader(AggregateKind, count: Int)
    }

    /// Reads one scalar or one aggregate header. Consumes nothing and returns nil if incomplete.
    private func readToken(from buffer: inout ByteBuffer) throws(RESPParsingError) -> Token? {
        let start = buffer.readerIndex
        guard let typeByte = buffer.getInteger(at: start, as: UInt8.self) else { return nil }
        guard let line = try Self.line(in: buffer, at: start + 1) else { return nil }
        let afterLine = start + 1 + line.length + 2

        func consumeLine() -> ByteBuffer {
            let text = buffer.getSlice(at: start + 1, length: line.length)!
            buffer.moveReaderIndex(to: afterLine)
            return text
        }

        switch typeByte {
        case UInt8(ascii: "+"):
            return .value(.simpleString(String(buffer: consumeLine())))
        case UInt8(ascii: "-"):
            return .value(.error(String(buffer: consumeLine())))
        case UInt8(ascii: ":"):
            let text = consumeLine()
            guard let value = Int(String(buffer: text)) else { throw RESPParsingError("invalid integer") }
            return .value(.integer(value))
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let length = try Self.length(of: line, in: buffer, allowNull: typeByte == UInt8(ascii: "$"))
            guard length >= 0 else {
                buffer.moveReaderIndex(to: afterLine)
                return .value(.null)
            }
            guard length <= maximumBulkLength else {
                throw RESPParsingError("bulk length \(length) exceeds limit of \(maximumBulkLength)")
            }
            guard buffer.writerIndex - afterLine >= length + 2 else { return nil }
            guard buffer.getInteger(at: afterLine + length, as: UInt16.self) == Self.crlf else {
                throw RESPParsingError("bulk payload not terminated by CRLF")
            }
            let payload = buffer.getSlice(at: afterLine, length: length)!
            buffer.moveReaderIndex(to: afterLine + length + 2)
            switch typeByte {
            case UInt8(ascii: "$"):
                return .value(.bulkString(payload))
            case UInt8(ascii: "!"):
                return .value(.error(String(buffer: payload)))
            default:
                // Verbatim strings start with a three-byte format and a colon, e.g. "txt:".
                guard length >= 4, payload.getInteger(at: payload.readerIndex + 3, as: UInt8.self) == UInt8(ascii: ":")
                else { throw RESPParsingError("invalid verbatim string") }
                let format = String(buffer: payload.getSlice(at: payload.readerIndex, length: 3)!)
                let text = payload.getSlice(at: payload.readerIndex + 4, length: length - 4)!
                return .value(.verbatimString(format: format, text: text))
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            let count = try Self.length(of: line, in: buffer, allowNull: typeByte == UInt8(ascii: "*"))
            buffer.moveReaderIndex(to: afterLine)
            guard count >= 0 else { return .value(.null) }
            let kind: AggregateKind =
                switch typeByte {
                case UInt8(ascii: "*"): .array
                case UInt8(ascii: "~"): .set
                case UInt8(ascii: ">"): .push
                case UInt8(ascii: "%"): .map
                default: .attribute
                }
            return .aggregateHeader(kind, count: count)
        case UInt8(ascii: "_"):
            guard line.length == 0 else { throw RESPParsingError("invalid null") }
            buffer.moveReaderIndex(to: afterLine)
            return .value(.null)
        case UInt8(ascii: "#"):
            let text = String(buffer: consumeLine())
            switch text {
            case "t": return .value(.boolean(true))
            case "f": return .value(.boolean(false))
            default: throw RESPParsingError("invalid boolean")
            }
        case UInt8(ascii: ","):
            let text = String(buffer: consumeLine())
            // Swift's Double parser accepts "inf", "-inf" and "nan" exactly as RESP3 spells them.
            guard let value = Double(text) else { throw RESPParsingError("invalid double") }
            return .value(.double(value))
        case UInt8(ascii: "("):
            let text = String(buffer: consumeLine())
            guard !text.isEmpty, text.drop(while: { $0 == "-" || $0 == "+" }).allSatisfy(\.isASCIIDigit) else {
                throw RESPParsingError("invalid big number")
            }
            return .value(.bigNumber(text))
        default:
            throw RESPParsingError("unknown type byte 0x\(String(typeByte, radix: 16))")
        }
    }

    private static let crlf = UInt16(UInt8(ascii: "\r")) << 8 | UInt16(UInt8(ascii: "\n"))

    private struct Line {
        var length: Int
    }

    /// Finds the CRLF-terminated line starting at `index`. Nil if the CRLF has not arrived yet.
    private static func line(in buffer: ByteBuffer, at index: Int) throws(RESPParsingError) -> Line? {
        let available = buffer.writerIndex - index
        guard available > 0 else { return nil }
        let view = buffer.readableBytesView
        let searchStart = view.startIndex + (index - buffer.readerIndex)
        let searchEnd = min(view.endIndex, searchStart + maximumLineLength + 2)
        guard let newline = view[searchStart..<searchEnd].firstIndex(of: UInt8(ascii: "\n")) else {
            if available > maximumLineLength + 2 { throw RESPParsingError("line longer than \(maximumLineLength) bytes") }
            return nil
        }
        guard newline > searchStart, view[newline - 1] == UInt8(ascii: "\r") else {
            throw RESPParsingError("line not terminated by CRLF")
        }
        return Line(length: newline - 1 - searchStart)
    }

    /// Parses a length/count line; -1 is allowed only where RESP2 uses it as null.
    private static func length(of line: Line, in buffer: ByteBuffer, allowNull: Bool) throws(RESPParsingError) -> Int {
        let start = buffer.readerIndex + 1
        guard line.length > 0, line.length <= 20,
            let text = buffer.getString(at: start, length: line.length),
            let value = Int(text)
        else { throw RESPParsingError("invalid length") }
        if value == -1 && allowNull { return -1 }
        guard value >= 0 else { throw RESPParsingError("negative length \(value)") }
        return value
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// Channel decoder that turns the inbound byte stream into ``RESPValue`` frames.
public struct RESPFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = RESPValue

    private var parser: RESPParser

    public init(parser: RESPParser = RESPParser()) {
        self.parser = parser
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try parser.next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        // A trailing partial frame at EOF is dropped: the pending commands fail as the channel closes.
        try decode(context: context, buffer: &buffer)
    }
}
