import NIOCore

/// Decodes an asynchronous sequence of byte chunks (for example an AsyncHTTPClient response
/// body) into ``ServerSentEventParser/Item``s.
///
/// Errors from the base sequence are rethrown; a ``ServerSentEventParsingError`` is thrown
/// after the items that preceded it in the same chunk have been delivered. Per the spec, an
/// event left unfinished when the base sequence ends is discarded. The persistent last event ID
/// and retry are available on the iterator for clients that drive it by hand to reconnect.
public struct ServerSentEventStreamDecoder<Base: AsyncSequence>: AsyncSequence where Base.Element == ByteBuffer {
    public typealias Element = ServerSentEventParser.Item

    private let base: Base
    private let parser: ServerSentEventParser

    /// - Parameter parser: starting parser state; pass one carrying limits of your choice, or
    ///   the parser of a previous connection after ``ServerSentEventParser/resetForReconnection()``.
    public init(_ base: Base, parser: ServerSentEventParser = ServerSentEventParser()) {
        self.base = base
        self.parser = parser
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.base.makeAsyncIterator(), parser: self.parser)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        /// Parser state, including ``ServerSentEventParser/lastEventID`` and
        /// ``ServerSentEventParser/retry`` for reconnecting.
        public private(set) var parser: ServerSentEventParser
        private var pending: [Element] = []
        private var pendingIndex = 0
        private var pendingError: ServerSentEventParsingError?
        private var finished = false

        init(base: Base.AsyncIterator, parser: ServerSentEventParser) {
            self.base = base
            self.parser = parser
        }

        public mutating func next() async throws -> Element? {
            while true {
                if self.pendingIndex < self.pending.count {
                    defer { self.pendingIndex += 1 }
                    return self.pending[self.pendingIndex]
                }
                if let error = self.pendingError {
                    self.pendingError = nil
                    self.finished = true
                    throw error
                }
                guard !self.finished else { return nil }
                guard let chunk = try await self.nextChunk() else {
                    self.finished = true
                    return nil
                }
                self.pendingIndex = 0
                do {
                    self.pending = try self.parser.feed(chunk)
                } catch {
                    self.pending = error.itemsBeforeError
                    self.pendingError = error
                }
            }
        }

        private mutating func nextChunk() async throws -> ByteBuffer? {
            do {
                return try await self.base.next()
            } catch {
                self.finished = true // A failed base iterator is not resumed.
                throw error
            }
        }
    }
}

extension ServerSentEventStreamDecoder: Sendable where Base: Sendable {}

extension AsyncSequence where Element == ByteBuffer {
    /// This byte stream decoded as `text/event-stream`.
    public func serverSentEvents(
        parser: ServerSentEventParser = ServerSentEventParser()
    ) -> ServerSentEventStreamDecoder<Self> {
        ServerSentEventStreamDecoder(self, parser: parser)
    }
}
