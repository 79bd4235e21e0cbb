import NIOCore
import RedisClient
import Testing

@Suite struct RESPParserTests {
    /// Parses everything in `input`, feeding it in chunks of `chunkSize` bytes.
    private func parseAll(_ input: String, chunkSize: Int? = nil, parser: RESPParser = RESPParser()) throws
        -> [RESPValue]
    {
        try parseAll(Array(input.utf8), chunkSize: chunkSize, parser: parser)
    }

    private func parseAll(_ input: [UInt8], chunkSize: Int? = nil, parser: RESPParser = RESPParser()) throws
        -> [RESPValue]
    {
        var parser = parser
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        let size = chunkSize ?? max(input.count, 1)
        for start in stride(from: 0, to: input.count, by: size) {
            buffer.writeBytes(input[start..<min(start + size, input.count)])
            while let value = try parser.next(from: &buffer) {
                values.append(value)
            }
        }
        #expect(buffer.readableBytes == 0, "unconsumed bytes left")
        return values
    }

    private static let mixedFrames = [
        "+OK\r\n",
        "-ERR something bad\r\n",
        ":-42\r\n",
        "$5\r\nhello\r\n",
        "$0\r\n\r\n",
        "$-1\r\n",
        "*-1\r\n",
        "*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n*0\r\n",
        "%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n#t\r\n",
        "~2\r\n:1\r\n:2\r\n",
        ",3.25\r\n",
        ",-inf\r\n",
        "_\r\n",
        "#f\r\n",
        "(3492890328409238509324850943850943825024385\r\n",
        "=15\r\ntxt:Some string\r\n",
        "!21\r\nSYNTAX invalid syntax\r\n",
        ">3\r\n$7\r\nmessage\r\n$4\r\nchat\r\n$2\r\nhi\r\n",
        "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n:7\r\n",
        "*2\r\n|1\r\n+ttl\r\n:3600\r\n$3\r\nval\r\n:8\r\n",
    ]

    private static let expectedMixed: [RESPValue] = [
        .simpleString("OK"),
        .error("ERR something bad"),
        .integer(-42),
        .bulkString("hello"),
        .bulkString(""),
        .null,
        .null,
        .array([.integer(1), .array([.simpleString("a"), .bulkString("b")]), .array([])]),
        .map([(.simpleString("first"), .integer(1)), (.bulkString("second"), .boolean(true))]),
        .set([.integer(1), .integer(2)]),
        .double(3.25),
        .double(-.infinity),
        .null,
        .boolean(false),
        .bigNumber("3492890328409238509324850943850943825024385"),
        .verbatimString(format: "txt", text: ByteBuffer(string: "Some string")),
        .error("SYNTAX invalid syntax"),
        .push([.bulkString("message"), .bulkString("chat"), .bulkString("hi")]),
        // The attribute is skipped; the value it annotates is returned.
        .integer(7),
        .array([.bulkString("val"), .integer(8)]),
    ]

    @Test func parsesEveryTypeInOneChunk() throws {
        let values = try parseAll(Self.mixedFrames.joined())
        #expect(values == Self.expectedMixed)
    }

    @Test(arguments: [1, 2, 3, 7, 64])
    func parsesSplitFrames(chunkSize: Int) throws {
        let values = try parseAll(Self.mixedFrames.joined(), chunkSize: chunkSize)
        #expect(values == Self.expectedMixed)
    }

    @Test func partialFrameConsumesNothingUntilComplete() throws {
        var parser = RESPParser()
        var buffer = ByteBuffer(string: "$10\r\nhello")
        #expect(try parser.next(from: &buffer) == nil)
        #expect(buffer.readableBytes == 10)
        buffer.writeString("world\r\n")
        #expect(try parser.next(from: &buffer) == .bulkString("helloworld"))
        #expect(buffer.readableBytes == 0)
    }

    @Test func bulkStringsAreBinarySafe() throws {
        let payload: [UInt8] = [0, 13, 10, 255, 36, 42, 13, 10]
        let values = try parseAll(Array("$8\r\n".utf8) + payload + Array("\r\n".utf8), chunkSize: 1)
        #expect(values == [.bulkString(ByteBuffer(bytes: payload))])
    }

    @Test func specialDoubles() throws {
        let values = try parseAll(",inf\r\n,nan\r\n,1e3\r\n,-0.5\r\n")
        #expect(values[0] == .double(.infinity))
        #expect(values[1].double?.isNaN == true)
        #expect(values[2] == .double(1000))
        #expect(values[3] == .double(-0.5))
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let depth = RESPParser.defaultMaximumDepth
        let input = String(repeating: "*1\r\n", count: depth) + ":1\r\n"
        var expected = RESPValue.integer(1)
        for _ in 0..<depth { expected = .array([expected]) }
        #expect(try parseAll(input, chunkSize: 3) == [expected])
    }

    @Test func overDeepNestingIsRejected() throws {
        let input = String(repeating: "*1\r\n", count: RESPParser.defaultMaximumDepth + 1) + ":1\r\n"
        #expect(throws: RESPParsingError.self) { try parseAll(input) }
        // Maps count too, and so does a deep structure arriving byte by byte.
        let maps = String(repeating: "%1\r\n+k\r\n", count: 40) + ":1\r\n"
        #expect(throws: RESPParsingError.self) { try parseAll(maps, chunkSize: 1) }
    }

    @Test func oversizedBulkIsRejectedBeforeItArrives() throws {
        var parser = RESPParser()
        var buffer = ByteBuffer(string: "$\(RESPParser.defaultMaximumBulkLength + 1)\r\n")
        #expect(throws: RESPParsingError.self) { try parser.next(from: &buffer) }

        var small = RESPParser(maximumBulkLength: 4)
        var five = ByteBuffer(string: "$5\r\nhello\r\n")
        #expect(throws: RESPParsingError.self) { try small.next(from: &five) }
    }

    @Test(arguments: [
        "?what\r\n", // unknown type byte
        ":12a\r\n", // bad integer
        "$3\r\nabcd\r\n", // payload longer than declared
        "*-2\r\n", // negative count
        "$-1x\r\n", // bad length
        "#x\r\n", // bad boolean
        ",abc\r\n", // bad double
        "+OK\n", // LF without CR
        "_x\r\n", // bad null
        "=2\r\nab\r\n", // verbatim without format
    ])
    func malformedInputIsRejected(input: String) throws {
        #expect(throws: RESPParsingError.self) { try parseAll(input) }
    }

    @Test func unterminatedHugeLineIsRejected() throws {
        var parser = RESPParser()
        var buffer = ByteBuffer(string: "+" + String(repeating: "a", count: RESPParser.maximumLineLength + 10))
        #expect(throws: RESPParsingError.self) { try parser.next(from: &buffer) }
    }

    @Test func largeArrayArrivingInChunksIsParsedOnce() throws {
        let count = 20_000
        var input = "*\(count)\r\n"
        for index in 0..<count { input += ":\(index)\r\n" }
        let values = try parseAll(input, chunkSize: 1000)
        #expect(values.count == 1)
        #expect(values[0].array?.count == count)
        #expect(values[0].array?.last == .integer(count - 1))
    }

    @Test func replyDecodingHelpers() {
        let resp2Hash = RESPValue.array([.bulkString("a"), .bulkString("1"), .bulkString("b"), .bulkString("2")])
        let resp3Hash = RESPValue.map([(.bulkString("a"), .bulkString("1")), (.bulkString("b"), .bulkString("2"))])
        #expect(resp2Hash.stringDictionary == ["a": "1", "b": "2"])
        #expect(resp3Hash.stringDictionary == ["a": "1", "b": "2"])
        #expect(resp3Hash.array == resp2Hash.array)
        #expect(RESPValue.bulkString("12").int == 12)
        #expect(RESPValue.bulkString("1.5").double == 1.5)
        #expect(RESPValue.integer(1).bool == true)
        #expect(RESPValue.null.string == nil)
        #expect(RESPValue.simpleString("OK").string == "OK")
        #expect(RESPValue.error("ERR x").errorMessage == "ERR x")
    }
}
