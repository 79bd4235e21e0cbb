import NIOCore
import ServerSentEvents

/// Deterministic generator so property-style tests are reproducible from their seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

typealias Item = ServerSentEventParser.Item

/// Parses `input` in one chunk.
func parse(_ input: String, parser: inout ServerSentEventParser) throws(ServerSentEventParsingError) -> [Item] {
    try parser.feed(Array(input.utf8))
}

func parse(_ input: String) throws(ServerSentEventParsingError) -> [Item] {
    var parser = ServerSentEventParser()
    return try parse(input, parser: &parser)
}

func events(_ items: [Item]) -> [ServerSentEvent] {
    items.compactMap(\.event)
}

/// Feeds `bytes` in the given chunk sizes (cycled), collecting all items.
func parseChunked(
    _ bytes: [UInt8], sizes: [Int], parser: inout ServerSentEventParser
) throws(ServerSentEventParsingError) -> [Item] {
    var items: [Item] = []
    var offset = 0
    var sizeIndex = 0
    while offset < bytes.count {
        let size = sizes[sizeIndex % sizes.count]
        sizeIndex += 1
        let end = min(bytes.count, offset + size)
        items += try parser.feed(bytes[offset..<end])
        offset = end
    }
    return items
}

/// What parsing does to encoded data: every line break becomes LF.
func normalizingLineBreaks(_ text: String) -> String {
    var scalars = String.UnicodeScalarView()
    var previousWasCR = false
    for scalar in text.unicodeScalars {
        if scalar == "\n", previousWasCR {
            previousWasCR = false
            continue
        }
        previousWasCR = scalar == "\r"
        scalars.append(scalar == "\r" ? "\n" : scalar)
    }
    return String(scalars)
}

/// The parsing error `body` throws, if any.
func parsingError(_ body: () throws -> Void) -> ServerSentEventParsingError? {
    do {
        try body()
        return nil
    } catch {
        return error as? ServerSentEventParsingError
    }
}
