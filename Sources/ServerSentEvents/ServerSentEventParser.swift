import NIOCore

/// Incremental `text/event-stream` parser implementing WHATWG HTML "Interpreting an event
/// stream". Feed it chunks as they arrive; chunk boundaries may fall anywhere, including inside a
/// CRLF pair or a multi-byte UTF-8 character.
///
/// Output is a list of ``Item``s: dispatched events and comment lines. Comments are not part of
/// the spec's output; they are surfaced so clients can observe server heartbeats.
///
/// Memory is bounded: a line longer than ``maximumLineLength`` bytes, or an event whose data
/// exceeds ``maximumDataLength`` bytes, raises ``ServerSentEventParsingError``. The error is
/// terminal until ``resetForReconnection()``; the stream should be abandoned.
public struct ServerSentEventParser: Sendable {
    /// One unit of parser output.
    public enum Item: Sendable, Equatable, Hashable {
        /// A dispatched event (a block ended by a blank line with at least one `data` field).
        case event(ServerSentEvent)
        /// A comment line's text after the colon, minus one leading space (e.g. a heartbeat).
        case comment(String)

        public var event: ServerSentEvent? {
            if case .event(let event) = self { return event }
            return nil
        }
    }

    /// 1 MiB: far above any sane event line, small enough that a hostile or broken server
    /// cannot exhaust memory.
    public static let defaultMaximumLineLength = 1 << 20
    /// 16 MiB of joined `data` per event.
    public static let defaultMaximumDataLength = 16 << 20

    /// Longest accepted line in bytes, excluding its terminator and a leading BOM.
    public let maximumLineLength: Int
    /// Largest accepted data buffer of one event in bytes (many short `data:` lines would
    /// otherwise grow it without bound).
    public let maximumDataLength: Int

    /// The spec's "last event ID string": updated when a block ends, even one without data, and
    /// kept until a later `id` field changes it. Send it as `Last-Event-ID` on reconnection;
    /// empty means "none".
    public private(set) var lastEventID = ""
    /// The latest valid `retry` value (the spec's reconnection time), in milliseconds.
    public private(set) var retry: Int?

    // Stream state.
    private var lineBuffer: [UInt8] = []
    /// Bytes of a leading BOM matched so far; nil once the stream start is behind us.
    private var bomBytesMatched: Int? = 0
    /// The previous chunk ended with CR, so an LF starting the next chunk completes a CRLF.
    private var pendingCR = false
    private var failure: ServerSentEventParsingError.Reason?

    // Per-block state.
    private var dataBuffer: [UInt8] = []
    private var eventTypeBuffer: [UInt8] = []
    private var lastEventIDBuffer = ""
    private var blockID: String?
    private var blockRetry: Int?

    public init(
        maximumLineLength: Int = Self.defaultMaximumLineLength,
        maximumDataLength: Int = Self.defaultMaximumDataLength
    ) {
        precondition(maximumLineLength > 0 && maximumDataLength > 0)
        self.maximumLineLength = maximumLineLength
        self.maximumDataLength = maximumDataLength
    }

    /// Parses the next chunk of the stream and returns the items it completed.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(ServerSentEventParsingError) -> [Item] {
        // Typed throws cannot cross the closure of withContiguousStorageIfAvailable, so the
        // result carries the error out.
        let result: Result<[Item], ServerSentEventParsingError>
        if let contiguous = bytes.withContiguousStorageIfAvailable({ self.consume($0) }) {
            result = contiguous
        } else {
            result = Array(bytes).withUnsafeBufferPointer { self.consume($0) }
        }
        return try result.get()
    }

    /// Parses the readable bytes of `buffer` (without moving its reader index).
    public mutating func feed(_ buffer: ByteBuffer) throws(ServerSentEventParsingError) -> [Item] {
        let result = buffer.withUnsafeReadableBytes { raw in
            raw.withMemoryRebound(to: UInt8.self) { self.consume($0) }
        }
        return try result.get()
    }

    /// Starts a new connection: the spec discards a partial line and unfinished event, but keeps
    /// ``lastEventID`` and ``retry`` (they belong to the EventSource, not the connection).
    public mutating func resetForReconnection() {
        self.lineBuffer = []
        self.bomBytesMatched = 0
        self.pendingCR = false
        self.failure = nil
        self.dataBuffer = []
        self.eventTypeBuffer = []
        self.lastEventIDBuffer = self.lastEventID
        self.blockID = nil
        self.blockRetry = nil
    }

    // MARK: - Lines

    private mutating func consume(_ chunk: UnsafeBufferPointer<UInt8>) -> Result<[Item], ServerSentEventParsingError> {
        var items: [Item] = []
        if let failure {
            return .failure(ServerSentEventParsingError(reason: failure, itemsBeforeError: []))
        }
        var index = 0
        let count = chunk.count

        // The decoder strips one UTF-8 BOM at stream start; it may arrive split across chunks.
        if var matched = self.bomBytesMatched {
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            while index < count, matched < 3, chunk[index] == bom[matched] {
                matched += 1
                index += 1
            }
            if matched == 3 {
                self.bomBytesMatched = nil
            } else if index == count {
                self.bomBytesMatched = matched // Undecided until more bytes arrive.
                return .success(items)
            } else {
                // Not a BOM after all: the matched bytes are ordinary line content.
                self.bomBytesMatched = nil
                self.lineBuffer.append(contentsOf: bom[0..<matched])
            }
        }

        if self.pendingCR, index < count {
            self.pendingCR = false
            if chunk[index] == ASCII.lf {
                index += 1 // Second half of a CRLF split across chunks: not another line.
            }
        }

        while index < count {
            var end = index
            while end < count, chunk[end] != ASCII.lf, chunk[end] != ASCII.cr {
                end += 1
            }
            if self.lineBuffer.count + (end - index) > self.maximumLineLength {
                return self.fail(.lineTooLong(limit: self.maximumLineLength), items)
            }
            if end == count {
                // Incomplete line: keep it for the next chunk.
                self.lineBuffer.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[index..<end]))
                break
            }

            let lineFailure: ServerSentEventParsingError.Reason?
            if self.lineBuffer.isEmpty {
                lineFailure = self.processLine(UnsafeBufferPointer(rebasing: chunk[index..<end]), into: &items)
            } else {
                // Move the buffer out so processLine can mutate self while reading it.
                var line: [UInt8] = []
                swap(&line, &self.lineBuffer)
                line.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[index..<end]))
                lineFailure = line.withUnsafeBufferPointer { self.processLine($0, into: &items) }
                // Keep small allocations for reuse, but do not pin a huge line's memory.
                line.removeAll(keepingCapacity: line.capacity <= 4096)
                swap(&line, &self.lineBuffer)
            }
            if let lineFailure {
                return self.fail(lineFailure, items)
            }

            if chunk[end] == ASCII.cr {
                if end + 1 < count {
                    index = chunk[end + 1] == ASCII.lf ? end + 2 : end + 1
                } else {
                    self.pendingCR = true
                    index = end + 1
                }
            } else {
                index = end + 1
            }
        }
        return .success(items)
    }

    private mutating func fail(
        _ reason: ServerSentEventParsingError.Reason, _ items: [Item]
    ) -> Result<[Item], ServerSentEventParsingError> {
        self.failure = reason
        return .failure(ServerSentEventParsingError(reason: reason, itemsBeforeError: items))
    }

    // MARK: - Fields

    /// Returns the limit the line broke, if any.
    private mutating func processLine(
        _ line: UnsafeBufferPointer<UInt8>, into items: inout [Item]
    ) -> ServerSentEventParsingError.Reason? {
        if line.isEmpty {
            self.dispatch(into: &items)
            return nil
        }
        let colon = line.firstIndex(of: ASCII.colon)
        let nameEnd = colon ?? line.endIndex
        var valueStart = colon.map { $0 + 1 } ?? line.endIndex
        if valueStart < line.endIndex, line[valueStart] == ASCII.space {
            valueStart += 1 // Exactly one leading space is syntax, not content.
        }
        let value = UnsafeBufferPointer(rebasing: line[valueStart...])

        if nameEnd == 0 {
            items.append(.comment(String(decoding: value, as: UTF8.self)))
            return nil
        }
        switch String(decoding: UnsafeBufferPointer(rebasing: line[..<nameEnd]), as: UTF8.self) {
        case "event":
            self.eventTypeBuffer = Array(value)
        case "data":
            if self.dataBuffer.count + value.count + 1 > self.maximumDataLength {
                return .dataTooLong(limit: self.maximumDataLength)
            }
            self.dataBuffer.append(contentsOf: value)
            self.dataBuffer.append(ASCII.lf)
        case "id":
            // Browsers ignore ids containing NUL, since they cannot be sent back in a header.
            if !value.contains(ASCII.nul) {
                let id = String(decoding: value, as: UTF8.self)
                self.lastEventIDBuffer = id
                self.blockID = id
            }
        case "retry":
            // Only all-ASCII-digit values count; values too large for Int are ignored as well.
            if !value.isEmpty, value.allSatisfy({ $0 >= ASCII.zero && $0 <= ASCII.nine }),
                let milliseconds = Int(String(decoding: value, as: UTF8.self))
            {
                self.retry = milliseconds
                self.blockRetry = milliseconds
            }
        default:
            break // Unknown fields are ignored, per spec.
        }
        return nil
    }

    /// The spec's "dispatch the event", run on every blank line.
    private mutating func dispatch(into items: inout [Item]) {
        self.lastEventID = self.lastEventIDBuffer
        defer {
            self.dataBuffer.removeAll(keepingCapacity: self.dataBuffer.capacity <= 4096)
            self.eventTypeBuffer.removeAll()
            self.blockID = nil
            self.blockRetry = nil
        }
        // No data field means nothing to dispatch (but the id above still took effect).
        guard !self.dataBuffer.isEmpty else { return }
        let data = String(decoding: self.dataBuffer.dropLast(), as: UTF8.self)
        let type = self.eventTypeBuffer.isEmpty ? nil : String(decoding: self.eventTypeBuffer, as: UTF8.self)
        items.append(.event(ServerSentEvent(id: self.blockID, event: type, data: data, retry: self.blockRetry)))
    }
}

/// The stream exceeded a ``ServerSentEventParser`` memory bound.
public struct ServerSentEventParsingError: Error, Sendable, Equatable {
    public enum Reason: Sendable, Equatable, Hashable {
        /// A single line exceeded ``ServerSentEventParser/maximumLineLength`` bytes.
        case lineTooLong(limit: Int)
        /// One event's data exceeded ``ServerSentEventParser/maximumDataLength`` bytes.
        case dataTooLong(limit: Int)
    }

    public let reason: Reason
    /// Items completed earlier in the same `feed` call. They already advanced
    /// ``ServerSentEventParser/lastEventID``, so deliver them before giving up, or a reconnection
    /// would skip them.
    public let itemsBeforeError: [ServerSentEventParser.Item]
}
