import NIOCore
import ServerSentEvents
import Testing

/// Property-style tests: random streams built by the encoder parse back to what was encoded,
/// however the bytes are chunked and whichever line terminators are used.
@Suite struct RoundTripTests {
    /// One block of a generated stream, plus what the parser must produce for it.
    enum Block {
        case event(ServerSentEvent)
        case comment(String)
        case idOnly(String)
        case retryHint(Int)
    }

    static let fragments: [String] = [
        "a", "b", "Z", "0", "42", " ", "  ", ":", ": ", "data:", "id: 1", "event", "é", "€", "😀", "👩‍👩‍👧",
        "日本", "\u{FEFF}", "\t", "\0",
    ]
    static let lineBreaks: [String] = ["\n", "\r\n", "\r"]

    static func randomText(
        _ rng: inout SplitMix64, maxPieces: Int, lineBreaks allowBreaks: Bool, allowNUL: Bool = true
    ) -> String {
        var text = ""
        for _ in 0..<Int.random(in: 0...maxPieces, using: &rng) {
            if allowBreaks, Int.random(in: 0..<5, using: &rng) == 0 {
                text += Self.lineBreaks.randomElement(using: &rng)!
            } else {
                let fragment = Self.fragments.randomElement(using: &rng)!
                if allowNUL || fragment != "\0" { text += fragment }
            }
        }
        return text
    }

    static func randomBlock(_ rng: inout SplitMix64) -> Block {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0:
            return .comment(Self.randomText(&rng, maxPieces: 4, lineBreaks: false))
        case 1:
            return .idOnly(Self.randomText(&rng, maxPieces: 3, lineBreaks: false, allowNUL: false))
        case 2:
            return .retryHint(Int.random(in: 0...100_000, using: &rng))
        default:
            let id =
                Bool.random(using: &rng)
                ? Self.randomText(&rng, maxPieces: 3, lineBreaks: false, allowNUL: false) : nil
            var event: String? = nil
            if Bool.random(using: &rng) {
                // Empty names are omitted by the encoder, so only generate non-empty ones.
                event = "e" + Self.randomText(&rng, maxPieces: 2, lineBreaks: false, allowNUL: false)
            }
            let retry = Int.random(in: 0..<4, using: &rng) == 0 ? Int.random(in: 0...60_000, using: &rng) : nil
            let data = Self.randomText(&rng, maxPieces: 8, lineBreaks: true)
            return .event(ServerSentEvent(id: id, event: event, data: data, retry: retry))
        }
    }

    /// Encodes `blocks` and returns the bytes plus the expected items, last event ID and retry.
    static func encode(_ blocks: [Block]) -> (String, [Item], lastEventID: String, retry: Int?) {
        var wire = ""
        var items: [Item] = []
        var lastEventID = ""
        var retry: Int?
        for block in blocks {
            switch block {
            case .event(let event):
                wire += event.encoded()
                var expected = event
                expected.data = normalizingLineBreaks(event.data)
                items.append(.event(expected))
                if let id = event.id { lastEventID = id }
                if let value = event.retry { retry = value }
            case .comment(let text):
                wire += ServerSentEvent.comment(text)
                items.append(.comment(text))
            case .idOnly(let id):
                wire += "id: \(id)\n\n"
                lastEventID = id
            case .retryHint(let value):
                wire += ServerSentEvent.retryHint(milliseconds: value)
                retry = value
            }
        }
        return (wire, items, lastEventID, retry)
    }

    /// Rewrites every LF terminator of encoder output as LF, CR or CRLF. The encoder emits no
    /// other CR or LF, so the stream means the same. An LF after a CR-terminated line would
    /// merge into a CRLF, so an empty line after a CR never uses a bare LF.
    static func withRandomTerminators(_ wire: String, _ rng: inout SplitMix64) -> [UInt8] {
        var bytes: [UInt8] = []
        var previousWasCR = false
        var lineIsEmpty = true
        for byte in wire.utf8 {
            guard byte == 0x0A else {
                bytes.append(byte)
                lineIsEmpty = false
                continue
            }
            var choices: [[UInt8]] = [[0x0A], [0x0D], [0x0D, 0x0A]]
            if previousWasCR && lineIsEmpty { choices.removeFirst() }
            let terminator = choices.randomElement(using: &rng)!
            bytes += terminator
            previousWasCR = terminator == [0x0D]
            lineIsEmpty = true
        }
        return bytes
    }

    @Test func randomStreamsRoundTripUnderAnyChunking() throws {
        var rng = SplitMix64(seed: 0x5EED_CAFE)
        for iteration in 0..<200 {
            let blocks = (0..<Int.random(in: 0...12, using: &rng)).map { _ in Self.randomBlock(&rng) }
            let (wire, expected, expectedLastEventID, expectedRetry) = Self.encode(blocks)
            var bytes = Array(wire.utf8)
            if iteration % 2 == 1 { bytes = Self.withRandomTerminators(wire, &rng) }
            if iteration % 3 == 0 { bytes = [0xEF, 0xBB, 0xBF] + bytes }

            var whole = ServerSentEventParser()
            let wholeItems = try whole.feed(bytes)
            #expect(wholeItems == expected, "iteration \(iteration): \(wire.debugDescription)")
            #expect(whole.lastEventID == expectedLastEventID)
            #expect(whole.retry == expectedRetry)

            var byteByByte = ServerSentEventParser()
            #expect(try parseChunked(bytes, sizes: [1], parser: &byteByByte) == wholeItems, "iteration \(iteration)")
            #expect(byteByByte.lastEventID == expectedLastEventID)

            let sizes = (0..<16).map { _ in Int.random(in: 1...9, using: &rng) }
            var chunked = ServerSentEventParser()
            #expect(try parseChunked(bytes, sizes: sizes, parser: &chunked) == wholeItems, "iteration \(iteration) sizes \(sizes)")
            #expect(chunked.lastEventID == expectedLastEventID)
            #expect(chunked.retry == expectedRetry)
        }
    }

    @Test func representativeEventsRoundTripExactly() throws {
        let events = [
            ServerSentEvent(data: "plain"),
            ServerSentEvent(data: ""),
            ServerSentEvent(data: "\n"),
            ServerSentEvent(data: "line 1\nline 2\n\nline 4"),
            ServerSentEvent(id: "run-1:42", event: "message.delta", data: #"{"text":"héllo 👋"}"#, retry: 2500),
            ServerSentEvent(id: "", data: "reset"),
            ServerSentEvent(event: "ping", data: " leading and trailing spaces "),
            ServerSentEvent(data: "日本語\n中文"),
        ]
        let wire = events.map { $0.encoded() }.joined()
        #expect(try parse(wire) == events.map { Item.event($0) })
    }
}
