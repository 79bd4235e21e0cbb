import NIOCore
import Testing

@testable import GatewayEvents

/// The pub/sub payload the append script publishes, parsed without Foundation on every replica.
@Suite struct RedisEventPayloadTests {
    @Test func theLinePayloadCarriesDataWithNewlinesAndOldJSONPayloadsStillDecode() throws {
        let data = "{\"text\":\"line one\\nline two\"}\nraw second line\n"
        let payload = ByteBuffer(string: "e1\nepoch123\n42\nsession:abc\nmessage.delta\n" + data)
        let event = try #require(RedisEventDispatcher.decodeEvent(payload))
        #expect(event.stream.rawValue == "session:abc")
        #expect(event.position == StreamPosition(epoch: "epoch123", offset: 42))
        #expect(event.type == "message.delta")
        #expect(event.data == data)

        let empty = try #require(RedisEventDispatcher.decodeEvent(ByteBuffer(string: "e1\nepoch123\n1\ns\nt\n")))
        #expect(empty.data == "")

        let json = ByteBuffer(string: #"{"s":"session:abc","e":"epoch123","o":7,"t":"message.delta","d":"x"}"#)
        #expect(RedisEventDispatcher.decodeEvent(json) == nil)
        #expect(RedisEventDispatcher.decodeJSONEvent(json)?.position == StreamPosition(epoch: "epoch123", offset: 7))

        for broken in ["", "e1\nepoch123\n42\n", "e2\nepoch123\n42\ns\nt\nd", "e1\nepoch123\nforty\ns\nt\nd", "e1\nepoch123\n1\n \nt\nd"] {
            #expect(RedisEventDispatcher.decodeEvent(ByteBuffer(string: broken)) == nil, "\(broken.debugDescription)")
        }
    }
}
