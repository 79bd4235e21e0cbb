import NIOCore
import ServerSentEvents
import Testing

/// Examples from WHATWG HTML §9.2.5 "Event stream format" / §9.2.6 "Interpreting an event stream".
@Suite struct SpecExampleTests {
    @Test func stockTickerDataLinesAreJoined() throws {
        let items = try parse("data: YHOO\ndata: +2\ndata: 10\n\n")
        #expect(items == [.event(ServerSentEvent(data: "YHOO\n+2\n10"))])
    }

    @Test func idsSetAndResetTheLastEventID() throws {
        var parser = ServerSentEventParser()
        #expect(try parse(": test stream\n\n", parser: &parser) == [.comment("test stream")])

        #expect(
            try parse("data: first event\nid: 1\n\n", parser: &parser)
                == [.event(ServerSentEvent(id: "1", data: "first event"))])
        #expect(parser.lastEventID == "1")

        #expect(
            try parse("data:second event\nid\n\n", parser: &parser)
                == [.event(ServerSentEvent(id: "", data: "second event"))])
        #expect(parser.lastEventID == "")

        // Only one leading space is removed.
        #expect(
            try parse("data:  third event\n\n", parser: &parser)
                == [.event(ServerSentEvent(data: " third event"))])
        #expect(parser.lastEventID == "")
    }

    @Test func emptyDataEventsAndUndispatchedTail() throws {
        let items = try parse("data\n\ndata\ndata\n\ndata:")
        #expect(items == [.event(ServerSentEvent(data: "")), .event(ServerSentEvent(data: "\n"))])
    }

    @Test func spaceAfterColonIsOptional() throws {
        let items = try parse("data:test\n\ndata: test\n\n")
        #expect(items == [.event(ServerSentEvent(data: "test")), .event(ServerSentEvent(data: "test"))])
    }

    @Test func namedEvents() throws {
        let items = try parse("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n")
        #expect(
            events(items) == [
                ServerSentEvent(event: "add", data: "73857293"),
                ServerSentEvent(event: "remove", data: "2153"),
                ServerSentEvent(event: "add", data: "113411"),
            ])
    }
}

@Suite struct LineEndingTests {
    @Test func mixedCRLFCRAndLF() throws {
        let items = try parse("data: a\r\ndata: b\rdata: c\n\r\nid: 1\r\rdata: d\n\n")
        #expect(events(items) == [ServerSentEvent(data: "a\nb\nc"), ServerSentEvent(data: "d")])
    }

    @Test func crAtChunkEndThenLFIsOneLineBreak() throws {
        var parser = ServerSentEventParser()
        // If the split CRLF counted twice, "a" would be dispatched on its own.
        var items = try parser.feed(Array("data: a\r".utf8))
        items += try parser.feed(Array("\ndata: b\r".utf8))
        items += try parser.feed([UInt8]()) // An empty chunk must not forget the pending CR.
        items += try parser.feed(Array("\n".utf8))
        #expect(items.isEmpty)
        items += try parser.feed(Array("\r".utf8)) // The blank line.
        #expect(items == [.event(ServerSentEvent(data: "a\nb"))])
        items += try parser.feed(Array("\ndata: c\n\n".utf8))
        #expect(items == [.event(ServerSentEvent(data: "a\nb")), .event(ServerSentEvent(data: "c"))])
    }

    @Test func crAtChunkEndThenOtherByteIsALoneCR() throws {
        var parser = ServerSentEventParser()
        var items = try parser.feed(Array("data: a\r".utf8))
        items += try parser.feed(Array("\r".utf8))
        #expect(items == [.event(ServerSentEvent(data: "a"))])
    }

    @Test func crCRLFIsTwoLineBreaks() throws {
        #expect(try events(parse("data: a\r\r\n")) == [ServerSentEvent(data: "a")])
    }

    @Test func lfCRIsTwoLineBreaks() throws {
        #expect(try events(parse("data: a\n\r")) == [ServerSentEvent(data: "a")])
    }
}

@Suite struct ParserTests {
    @Test func byteOrderMarkAtStreamStartIsSkipped() throws {
        #expect(try events(parse("\u{FEFF}data: x\n\n")) == [ServerSentEvent(data: "x")])
        // Even when split byte by byte.
        var parser = ServerSentEventParser()
        let items = try parseChunked(Array("\u{FEFF}data: x\n\n".utf8), sizes: [1], parser: &parser)
        #expect(events(items) == [ServerSentEvent(data: "x")])
    }

    @Test func onlyOneLeadingBOMIsSkipped() throws {
        // The second BOM belongs to the field name, which is then unknown.
        #expect(try parse("\u{FEFF}\u{FEFF}data: x\n\n").isEmpty)
        // A BOM later in the stream is ordinary content.
        #expect(try events(parse("data: x\n\n\u{FEFF}data: y\n\n")) == [ServerSentEvent(data: "x")])
        #expect(try events(parse("data: \u{FEFF}\n\n")) == [ServerSentEvent(data: "\u{FEFF}")])
    }

    @Test func partialBOMIsLineContent() throws {
        var parser = ServerSentEventParser()
        // EF BB then ':' is not a BOM, so the line is "\u{FFFD}:..." — an unknown field, not a comment.
        var items = try parser.feed([0xEF, 0xBB])
        items += try parser.feed(Array(":c\n:real comment\ndata: z\n\n".utf8))
        #expect(items == [.comment("real comment"), .event(ServerSentEvent(data: "z"))])
    }

    @Test func commentsAreSurfacedAndDoNotBreakEvents() throws {
        let items = try parse(": heartbeat\n\n:no space\n:  two spaces\n:\ndata: a\n: inside\ndata: b\n\n")
        #expect(
            items == [
                .comment("heartbeat"), .comment("no space"), .comment(" two spaces"), .comment(""),
                .comment("inside"), .event(ServerSentEvent(data: "a\nb")),
            ])
    }

    @Test func fieldWithoutColonHasEmptyValue() throws {
        #expect(try events(parse("event\ndata\n\n")) == [ServerSentEvent(data: "")])
        #expect(try events(parse("id\ndata: x\n\n")) == [ServerSentEvent(id: "", data: "x")])
    }

    @Test func valueMayContainColons() throws {
        #expect(try events(parse("data: a: b:c\nid: x:1\n\n")) == [ServerSentEvent(id: "x:1", data: "a: b:c")])
    }

    @Test func unknownAndMiscasedFieldsAreIgnored() throws {
        #expect(try events(parse("foo: bar\nDATA: y\nData: z\ndata: x\n\n")) == [ServerSentEvent(data: "x")])
    }

    @Test func emptyEventTypeMeansMessage() throws {
        #expect(try events(parse("event: custom\nevent:\ndata: x\n\n")) == [ServerSentEvent(data: "x")])
    }

    @Test func eventTypeDoesNotLeakIntoNextEvent() throws {
        let items = try parse("event: a\ndata: 1\n\ndata: 2\n\nevent: b\n\ndata: 3\n\n")
        #expect(
            events(items) == [
                ServerSentEvent(event: "a", data: "1"), ServerSentEvent(data: "2"), ServerSentEvent(data: "3"),
            ])
    }

    @Test func lastEventIDPersistsUntilChanged() throws {
        var parser = ServerSentEventParser()
        let items = try parse("id: 7\ndata: a\n\ndata: b\n\n", parser: &parser)
        #expect(events(items) == [ServerSentEvent(id: "7", data: "a"), ServerSentEvent(data: "b")])
        #expect(parser.lastEventID == "7")
    }

    @Test func idOnlyBlockUpdatesLastEventIDWithoutDispatching() throws {
        var parser = ServerSentEventParser()
        #expect(try parse("id: 9\n\n", parser: &parser).isEmpty)
        #expect(parser.lastEventID == "9")
    }

    @Test func lastEventIDChangesOnlyWhenTheBlockEnds() throws {
        var parser = ServerSentEventParser()
        _ = try parse("id: 1\ndata: a\n\nid: 2\ndata: b\n", parser: &parser)
        #expect(parser.lastEventID == "1")
        _ = try parse("\n", parser: &parser)
        #expect(parser.lastEventID == "2")
    }

    @Test func idContainingNULIsIgnored() throws {
        var parser = ServerSentEventParser()
        let items = try parse("id: 1\n\nid: a\0b\ndata: x\n\n", parser: &parser)
        #expect(events(items) == [ServerSentEvent(data: "x")])
        #expect(parser.lastEventID == "1")
    }

    @Test func nulInDataIsKept() throws {
        #expect(try events(parse("data: a\0b\n\n")) == [ServerSentEvent(data: "a\0b")])
    }

    @Test func retryRequiresOnlyASCIIDigits() throws {
        var parser = ServerSentEventParser()
        #expect(try parse("retry: 1500\n\n", parser: &parser).isEmpty)
        #expect(parser.retry == 1500)
        for bad in ["15a", "-1", "1.5", " 100", "", "+5", "١٢", "99999999999999999999999"] {
            #expect(try parse("retry: \(bad)\n\n", parser: &parser).isEmpty)
            #expect(parser.retry == 1500, "retry: \(bad)")
        }
        #expect(try parse("retry\n\n", parser: &parser).isEmpty)
        #expect(parser.retry == 1500)
        #expect(try events(parse("retry: 0\ndata: x\n\n", parser: &parser)) == [ServerSentEvent(data: "x", retry: 0)])
        #expect(parser.retry == 0)
    }

    @Test func undispatchedTailIsDiscardedOnReconnection() throws {
        var parser = ServerSentEventParser()
        _ = try parse("id: 5\ndata: a\n\nid: 6\ndata: partial\npartial-line", parser: &parser)
        parser.resetForReconnection()
        #expect(parser.lastEventID == "5")
        #expect(try events(parse("\u{FEFF}data: b\n\n", parser: &parser)) == [ServerSentEvent(data: "b")])
        #expect(parser.lastEventID == "5")
    }

    @Test func unicodeSplitMidCharacter() throws {
        let text = "data: é€😀 ünï\n\n"
        var parser = ServerSentEventParser()
        let items = try parseChunked(Array(text.utf8), sizes: [1], parser: &parser)
        #expect(events(items) == [ServerSentEvent(data: "é€😀 ünï")])
    }

    @Test func invalidUTF8BecomesReplacementCharacter() throws {
        var parser = ServerSentEventParser()
        let items = try parser.feed(Array("data: a".utf8) + [0xFF, 0xC3] + Array("\n\n".utf8))
        #expect(events(items) == [ServerSentEvent(data: "a\u{FFFD}\u{FFFD}")])
    }

    @Test func acceptsByteBufferAndNonContiguousSequences() throws {
        var parser = ServerSentEventParser()
        var buffer = ByteBuffer(string: "xxdata: a\n\n")
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(try events(parser.feed(buffer)) == [ServerSentEvent(data: "a")])
        let lazyBytes = "data: b\n\n".utf8.lazy.map { $0 }
        #expect(try events(parser.feed(lazyBytes)) == [ServerSentEvent(data: "b")])
    }
}

@Suite struct LimitTests {
    @Test func lineAtTheLimitIsAccepted() throws {
        var parser = ServerSentEventParser(maximumLineLength: 16)
        let items = try parse("data: 0123456789\n\n", parser: &parser) // 16 bytes
        #expect(events(items) == [ServerSentEvent(data: "0123456789")])
    }

    @Test func overLongLineIsRejected() throws {
        var parser = ServerSentEventParser(maximumLineLength: 16)
        let error = parsingError { _ = try parse("data: 0123456789a\n\n", parser: &parser) }
        #expect(error?.reason == .lineTooLong(limit: 16))
        #expect(error?.itemsBeforeError.isEmpty == true)
    }

    @Test func overLongLineIsRejectedBeforeItsEndArrives() throws {
        var parser = ServerSentEventParser(maximumLineLength: 16)
        var thrown: ServerSentEventParsingError?
        do {
            for _ in 0..<100 { _ = try parser.feed(Array("abcd".utf8)) }
        } catch {
            thrown = error
        }
        #expect(thrown?.reason == .lineTooLong(limit: 16))
    }

    @Test func itemsBeforeTheErrorAreReportedAndTheErrorIsSticky() throws {
        var parser = ServerSentEventParser(maximumLineLength: 16)
        do {
            _ = try parse("id: 1\ndata: a\n\n: hb\ndata: far too long for the limit\n\n", parser: &parser)
            Issue.record("expected an error")
        } catch {
            #expect(error.reason == .lineTooLong(limit: 16))
            #expect(error.itemsBeforeError == [.event(ServerSentEvent(id: "1", data: "a")), .comment("hb")])
        }
        #expect(parser.lastEventID == "1")
        #expect(throws: ServerSentEventParsingError.self) { try parse("data: b\n\n", parser: &parser) }
        parser.resetForReconnection()
        #expect(try events(parse("data: b\n\n", parser: &parser)) == [ServerSentEvent(data: "b")])
    }

    @Test func dataIsBoundedAcrossManyShortLines() throws {
        var parser = ServerSentEventParser(maximumLineLength: 64, maximumDataLength: 100)
        let error = parsingError {
            for _ in 0..<100 { _ = try parse("data: 0123456789\n", parser: &parser) }
        }
        #expect(error?.reason == .dataTooLong(limit: 100))
    }

    @Test func defaultLineLimitIsOneMebibyte() throws {
        var parser = ServerSentEventParser()
        #expect(parser.maximumLineLength == 1 << 20)
        let big = String(repeating: "x", count: (1 << 20) - 6)
        #expect(try events(parse("data: \(big)\n\n", parser: &parser)).first?.data.utf8.count == big.utf8.count)
        #expect(throws: ServerSentEventParsingError.self) { try parse("data: \(big)x\n\n", parser: &parser) }
    }
}
