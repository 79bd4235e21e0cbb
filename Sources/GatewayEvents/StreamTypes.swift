import GatewayProtocol
import NIOCore
import ServerSentEvents

/// The name of an event stream, e.g. `session:7f3c…`, `device:…`, `user:…`.
package struct StreamName: Hashable, Sendable, CustomStringConvertible {
    package let rawValue: String

    /// Letters, digits and `:_-.`, at most 200 characters: safe inside Redis keys and channels.
    package init?(_ rawValue: String) {
        guard !rawValue.isEmpty, rawValue.count <= 200,
            rawValue.unicodeScalars.allSatisfy({
                $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || ":_-.".unicodeScalars.contains($0))
            })
        else { return nil }
        self.rawValue = rawValue
    }

    package var description: String { rawValue }
}

/// A position in a stream: the stream's epoch and the offset of an event in it. Offsets start
/// at 1 and grow by one per event; offset 0 means "before the first event". The epoch changes
/// when the stream's history was lost (Redis restarted empty, flushed, or the stream expired),
/// so an old position is recognised instead of being silently misread.
///
/// Serialised as `epoch-offset`, the SSE `id:` clients send back as `Last-Event-ID`.
package struct StreamPosition: Hashable, Sendable, CustomStringConvertible {
    package let epoch: String
    package let offset: UInt64

    package init(epoch: String, offset: UInt64) {
        self.epoch = epoch
        self.offset = offset
    }

    package init?(_ text: String) {
        guard let dash = text.lastIndex(of: "-") else { return nil }
        let epoch = String(text[..<dash])
        guard let offset = UInt64(text[text.index(after: dash)...]), (4...64).contains(epoch.count),
            epoch.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
        else { return nil }
        self.epoch = epoch
        self.offset = offset
    }

    package var description: String { "\(epoch)-\(offset)" }

    /// A new random epoch (base36, 16 characters).
    package static func makeEpoch() -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}

/// One event: its position, type (the SSE `event:`) and JSON data.
package struct StreamEvent: Sendable, Equatable {
    package let stream: StreamName
    package let position: StreamPosition
    package let type: String
    package let data: String
    /// The event's Server-Sent Events frame (`id:`, `event:`, `data:`), encoded once when the
    /// event is made and shared by every subscriber it is written to: ByteBuffer is
    /// copy-on-write, so a thousand subscribers write the same bytes without copying them.
    package let frame: ByteBuffer

    package init(stream: StreamName, position: StreamPosition, type: String, data: String) {
        self.stream = stream
        self.position = position
        self.type = type
        self.data = data
        var frame = ByteBuffer()
        ServerSentEvent(id: position.description, event: type, data: data).write(into: &frame)
        self.frame = frame
    }

    package static func == (lhs: StreamEvent, rhs: StreamEvent) -> Bool {
        lhs.stream == rhs.stream && lhs.position == rhs.position && lhs.type == rhs.type && lhs.data == rhs.data
    }
}

/// What reading after a position found.
package enum CatchUp: Sendable, Equatable {
    /// The reasons are the wire protocol's: they reach clients as the `reset` event's `reason`.
    package typealias ResetReason = GatewayProtocol.ResetReason

    /// The events after the position (at most the limit asked for) and the stream's head.
    case events([StreamEvent], head: StreamPosition)
    /// The position cannot be honoured: the client must reload its state and continue from `head`.
    case reset(reason: ResetReason, head: StreamPosition)
}

/// A subject (e.g. a device) came online or went offline.
package struct PresenceChange: Sendable, Equatable {
    package let subject: String
    package let isOnline: Bool
    /// Unique per change, so replicas can agree on who handles it.
    package let sequence: UInt64

    package init(subject: String, isOnline: Bool, sequence: UInt64 = 0) {
        self.subject = subject
        self.isOnline = isOnline
        self.sequence = sequence
    }

    /// Equal when subject and direction are (the sequence only identifies one occurrence).
    package static func == (lhs: PresenceChange, rhs: PresenceChange) -> Bool {
        lhs.subject == rhs.subject && lhs.isOnline == rhs.isOnline
    }
}

/// Retention of a stream's history.
package struct StreamRetention: Sendable, Equatable {
    /// Events kept per stream; older ones are trimmed (exactly: one eviction per append).
    package var maximumLength: Int
    /// Bytes of event types and data kept per stream; the oldest events are trimmed past it
    /// (the newest event is always kept, whatever its size).
    package var maximumBytes: Int
    /// A stream without appends for this long is dropped entirely.
    package var timeToLive: Duration

    package init(maximumLength: Int = 1000, maximumBytes: Int = 4 << 20, timeToLive: Duration = .seconds(24 * 3600)) {
        self.maximumLength = maximumLength
        self.maximumBytes = maximumBytes
        self.timeToLive = timeToLive
    }

    /// What an event counts against `maximumBytes`.
    static func size(type: String, data: String) -> Int { type.utf8.count + data.utf8.count }
}
