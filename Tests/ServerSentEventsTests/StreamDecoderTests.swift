import NIOCore
import ServerSentEvents
import Testing

@Suite struct StreamDecoderTests {
    struct Disconnected: Error, Equatable {}

    static func chunks(_ parts: [String]) -> AsyncStream<ByteBuffer> {
        AsyncStream { continuation in
            for part in parts { continuation.yield(ByteBuffer(string: part)) }
            continuation.finish()
        }
    }

    @Test func decodesItemsAcrossChunkBoundaries() async throws {
        let body = Self.chunks([": hb\n", "\nid: 1\r", "\nevent: up", "date\ndata: a\n", "data: b\n\n", "data: tail"])
        var items: [Item] = []
        for try await item in body.serverSentEvents() {
            items.append(item)
        }
        #expect(items == [.comment("hb"), .event(ServerSentEvent(id: "1", event: "update", data: "a\nb"))])
    }

    @Test func iteratorExposesParserStateForReconnection() async throws {
        let decoder = ServerSentEventStreamDecoder(Self.chunks(["id: 3\ndata: x\n\n", "retry: 10\nid: 4\n\n"]))
        var iterator = decoder.makeAsyncIterator()
        #expect(try await iterator.next() == .event(ServerSentEvent(id: "3", data: "x")))
        #expect(try await iterator.next() == nil)
        #expect(iterator.parser.lastEventID == "4")
        #expect(iterator.parser.retry == 10)
        #expect(try await iterator.next() == nil)
    }

    @Test func baseErrorsPropagateAfterEarlierItems() async throws {
        let body = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
            continuation.yield(ByteBuffer(string: "data: a\n\n"))
            continuation.finish(throwing: Disconnected())
        }
        var iterator = body.serverSentEvents().makeAsyncIterator()
        #expect(try await iterator.next() == .event(ServerSentEvent(data: "a")))
        await #expect(throws: Disconnected()) { try await iterator.next() }
        #expect(try await iterator.next() == nil)
    }

    @Test func parsingErrorsFollowTheItemsBeforeThem() async throws {
        let parser = ServerSentEventParser(maximumLineLength: 8)
        let body = Self.chunks(["data: a\n\ndata: too long\n\n", "data: b\n\n"])
        var iterator = body.serverSentEvents(parser: parser).makeAsyncIterator()
        #expect(try await iterator.next() == .event(ServerSentEvent(data: "a")))
        await #expect(throws: ServerSentEventParsingError.self) { try await iterator.next() }
        #expect(try await iterator.next() == nil)
    }

    @Test func isSendableOverSendableBase() async throws {
        let decoder = Self.chunks(["data: x\n\n"]).serverSentEvents()
        let events = try await Task.detached {
            var events: [ServerSentEvent] = []
            for try await item in decoder {
                if case .event(let event) = item { events.append(event) }
            }
            return events
        }.value
        #expect(events == [ServerSentEvent(data: "x")])
    }
}
