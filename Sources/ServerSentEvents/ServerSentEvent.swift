import NIOCore

/// One event of a `text/event-stream` (WHATWG HTML, "Server-sent events").
///
/// The same value is produced by the encoder's caller and by ``ServerSentEventParser``, so
/// `parse(encode(event)) == event` for every event whose fields survive sanitising (see
/// ``encoded()``).
///
/// When parsed, `id` and `retry` describe the fields carried by *this* event's block (nil when
/// absent). The spec's persistent "last event ID" and reconnection time live on the parser
/// (``ServerSentEventParser/lastEventID``, ``ServerSentEventParser/retry``), because blocks
/// without data update them without dispatching anything.
public struct ServerSentEvent: Sendable, Equatable, Hashable {
    /// Event ID. An empty string is meaningful: it resets the client's last event ID.
    public var id: String?
    /// Event type; nil (or empty) means the default type, "message".
    public var event: String?
    /// Payload; may contain newlines, each of which becomes its own `data:` line.
    public var data: String
    /// Reconnection time hint in milliseconds.
    public var retry: Int?

    public init(id: String? = nil, event: String? = nil, data: String = "", retry: Int? = nil) {
        self.id = id
        self.event = event
        self.data = data
        self.retry = retry
    }
}

// MARK: - Encoding

extension ServerSentEvent {
    /// The wire form of this event, terminated by the blank line that dispatches it.
    ///
    /// Framing rules (chosen so no field value can break the stream):
    /// - `data` is split on CRLF, CR and LF into one `data:` line each; empty data still emits
    ///   `data:` because browsers do not dispatch an event without a data line.
    /// - CR, LF and NUL are removed from `id` and `event`: a line break would end the field early
    ///   and let the value inject fields, and browsers ignore an `id` that contains NUL. Server
    ///   ids and event names never contain these, so stripping beats crashing on hostile input.
    /// - An empty (or fully stripped) `event` is omitted: the spec treats it as "message" anyway.
    /// - `retry` must be non-negative (browsers ignore anything but ASCII digits).
    public func encoded() -> String {
        var buffer = ByteBuffer()
        self.write(into: &buffer)
        return String(buffer: buffer)
    }

    /// Appends the wire form of this event (see ``encoded()``) to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        if let id {
            Self.writeField("id", Self.sanitized(id), into: &buffer)
        }
        if let event {
            let name = Self.sanitized(event)
            if !name.isEmpty {
                Self.writeField("event", name, into: &buffer)
            }
        }
        if let retry {
            precondition(retry >= 0, "retry must be a non-negative number of milliseconds")
            Self.writeField("retry", String(retry).utf8, into: &buffer)
        }
        Self.writeLines(field: "data", data, into: &buffer)
        buffer.writeInteger(ASCII.lf)
    }

    /// A comment block (`: text` plus a blank line), used as a heartbeat: clients ignore it, but
    /// the bytes keep proxies from timing out idle connections. Multi-line text becomes several
    /// comment lines so it cannot break framing.
    public static func comment(_ text: String) -> String {
        var buffer = ByteBuffer()
        self.writeComment(text, into: &buffer)
        return String(buffer: buffer)
    }

    /// Appends ``comment(_:)`` to `buffer`.
    public static func writeComment(_ text: String, into buffer: inout ByteBuffer) {
        self.writeLines(field: "", text, into: &buffer)
        buffer.writeInteger(ASCII.lf)
    }

    /// A block carrying only `retry:`; it sets the client's reconnection delay without
    /// dispatching an event (no data line).
    public static func retryHint(milliseconds: Int) -> String {
        precondition(milliseconds >= 0, "retry must be a non-negative number of milliseconds")
        return "retry: \(milliseconds)\n\n"
    }

    /// `name: value\n`, or `name:\n` for an empty value. Exactly one space follows the colon so
    /// that a value starting with a space survives (parsers strip only one).
    private static func writeField(
        _ name: String, _ value: some Collection<UInt8>, into buffer: inout ByteBuffer
    ) {
        buffer.writeString(name)
        buffer.writeInteger(ASCII.colon)
        if !value.isEmpty {
            buffer.writeInteger(ASCII.space)
            buffer.writeBytes(value)
        }
        buffer.writeInteger(ASCII.lf)
    }

    /// One `name:` line per line of `text`, splitting on CRLF, CR and LF as the parser does.
    /// Works on UTF-8 bytes because `Character` would treat "\r\n" as a single grapheme.
    private static func writeLines(field name: String, _ text: String, into buffer: inout ByteBuffer) {
        let bytes = text.utf8
        var start = bytes.startIndex
        var index = start
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte == ASCII.cr || byte == ASCII.lf {
                self.writeField(name, bytes[start..<index], into: &buffer)
                index = bytes.index(after: index)
                if byte == ASCII.cr, index != bytes.endIndex, bytes[index] == ASCII.lf {
                    index = bytes.index(after: index)
                }
                start = index
            } else {
                index = bytes.index(after: index)
            }
        }
        self.writeField(name, bytes[start..<index], into: &buffer)
    }

    private static func sanitized(_ value: String) -> [UInt8] {
        value.utf8.filter { $0 != ASCII.cr && $0 != ASCII.lf && $0 != ASCII.nul }
    }
}

/// Bytes the wire format is defined in terms of.
enum ASCII {
    static let nul: UInt8 = 0x00
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let colon: UInt8 = 0x3A
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
}
