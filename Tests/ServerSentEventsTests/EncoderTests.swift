import NIOCore
import ServerSentEvents
import Testing

@Suite struct EncoderTests {
    @Test func allFieldsInOrder() {
        let event = ServerSentEvent(id: "42", event: "update", data: "hello", retry: 3000)
        #expect(event.encoded() == "id: 42\nevent: update\nretry: 3000\ndata: hello\n\n")
    }

    @Test func dataOnly() {
        #expect(ServerSentEvent(data: "x").encoded() == "data: x\n\n")
    }

    @Test func emptyDataStillEmitsDataLine() {
        // Without a data line browsers would not dispatch the event at all.
        #expect(ServerSentEvent(data: "").encoded() == "data:\n\n")
        #expect(ServerSentEvent(id: "1").encoded() == "id: 1\ndata:\n\n")
    }

    @Test func multiLineDataSplitsOnEveryLineBreakKind() {
        let event = ServerSentEvent(data: "a\nb\r\nc\rd\n")
        #expect(event.encoded() == "data: a\ndata: b\ndata: c\ndata: d\ndata:\n\n")
    }

    @Test func leadingSpaceInValueSurvives() throws {
        let event = ServerSentEvent(id: " x", event: " t", data: "  two")
        #expect(event.encoded() == "id:  x\nevent:  t\ndata:   two\n\n")
        #expect(try events(parse(event.encoded())) == [event])
    }

    @Test func idAndEventAreSanitized() throws {
        let event = ServerSentEvent(id: "a\r\nb\0c", event: "ev\nil\r", data: "d")
        #expect(event.encoded() == "id: abc\nevent: evil\ndata: d\n\n")
        #expect(try events(parse(event.encoded())) == [ServerSentEvent(id: "abc", event: "evil", data: "d")])
    }

    @Test func emptyEventNameIsOmitted() {
        #expect(ServerSentEvent(event: "", data: "d").encoded() == "data: d\n\n")
        #expect(ServerSentEvent(event: "\n", data: "d").encoded() == "data: d\n\n")
    }

    @Test func emptyIDIsKeptBecauseItResetsTheLastEventID() {
        #expect(ServerSentEvent(id: "", data: "d").encoded() == "id:\ndata: d\n\n")
    }

    @Test func dataCannotInjectFieldsOrEvents() throws {
        let hostile = ServerSentEvent(data: "x\n\nevent: evil\ndata: y\r\n\r\nid: 9")
        let parsed = try events(parse(hostile.encoded()))
        #expect(parsed == [ServerSentEvent(data: "x\n\nevent: evil\ndata: y\n\nid: 9")])
    }

    @Test func writeIntoAppendsTheSameBytes() {
        let event = ServerSentEvent(id: "7", event: "e", data: "é\n😀", retry: 1)
        var buffer = ByteBuffer(string: "prefix")
        event.write(into: &buffer)
        #expect(String(buffer: buffer) == "prefix" + event.encoded())
    }

    @Test func comments() {
        #expect(ServerSentEvent.comment("keep-alive") == ": keep-alive\n\n")
        #expect(ServerSentEvent.comment("") == ":\n\n")
        #expect(ServerSentEvent.comment("a\r\nb") == ": a\n: b\n\n")
        var buffer = ByteBuffer()
        ServerSentEvent.writeComment("hb", into: &buffer)
        #expect(String(buffer: buffer) == ": hb\n\n")
    }

    @Test func retryHint() throws {
        #expect(ServerSentEvent.retryHint(milliseconds: 5000) == "retry: 5000\n\n")
        var parser = ServerSentEventParser()
        #expect(try parse(ServerSentEvent.retryHint(milliseconds: 5000), parser: &parser).isEmpty)
        #expect(parser.retry == 5000)
    }
}
