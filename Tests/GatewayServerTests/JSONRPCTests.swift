import Foundation
import GatewayProtocol
import Testing

@testable import GatewayServer

/// The JSON-RPC envelopes of `/mcp`: what is read, what is refused with which error, and the
/// exact shape written back. (MCP clients speak it in MCPServerTests and tests/python.)
@Suite("JSON-RPC envelopes")
struct JSONRPCTests {
    func encoded(_ value: some Encodable) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: WireJSON.sharedEncoder.encode(value))
    }

    @Test func requestsNotificationsAndAnswersAreTold() throws {
        let request = try JSONRPC.Message(["jsonrpc": "2.0", "id": 7, "method": "ping", "params": [:]])
        #expect(request.id == .int(7) && request.method == "ping" && request.isRequest)
        let named = try JSONRPC.Message(["jsonrpc": "2.0", "id": "a", "method": "tools/list"])
        #expect(named.id == .string("a") && named.params == nil)
        #expect(try !JSONRPC.Message(["jsonrpc": "2.0", "method": "notifications/initialized"]).isRequest)
        #expect(try !JSONRPC.Message(["jsonrpc": "2.0", "id": .null, "method": "x"]).isRequest, "a null id is a notification")
        #expect(try !JSONRPC.Message(["jsonrpc": "2.0", "id": 3, "result": [:]]).isRequest, "an answer to a server request")
    }

    static let notMessages: [(JSONValue, String)] = [
        (.array([["jsonrpc": "2.0", "id": 1, "method": "ping"]]), "batches are not supported"),
        (["jsonrpc": "2.0", "id": .double(1.5), "method": "ping"], "id must be a string or an integer"),
        (["jsonrpc": "2.0", "id": ["x": 1], "method": "ping"], "id must be a string or an integer"),
        (["jsonrpc": "1.0", "id": 1, "method": "ping"], #"jsonrpc must be "2.0""#),
        (["id": 1, "method": "ping"], #"jsonrpc must be "2.0""#),
    ]

    @Test(arguments: notMessages)
    func whatIsNotAMessageIsAnInvalidRequest(message: JSONValue, reason: String) {
        #expect {
            try JSONRPC.Message(message)
        } throws: { error in
            guard let error = error as? JSONRPC.ErrorObject else { return false }
            return error.code == .invalidRequest && error.message.contains(reason)
        }
    }

    @Test func anInvalidRequestAnswersItsIdWhenItCouldBeRead() throws {
        do {
            _ = try JSONRPC.Message(["jsonrpc": "1.0", "id": "q", "method": "ping"])
            Issue.record("accepted")
        } catch {
            #expect(error.id == .string("q"))
        }
    }

    @Test func responsesAndNotificationsHaveTheSpecifiedShape() throws {
        #expect(
            try encoded(JSONRPC.Response(id: .int(1), outcome: .result(["tools": []])))
                == ["jsonrpc": "2.0", "id": 1, "result": ["tools": []]])
        #expect(
            try encoded(JSONRPC.Response(id: nil, outcome: .error(.init(.parseError, "Parse error"))))
                == ["jsonrpc": "2.0", "id": .null, "error": ["code": -32700, "message": "Parse error"]])
        let unsupported = JSONRPC.ErrorObject(.unsupportedProtocolVersion, "Unsupported protocol version", data: ["requested": "1999"])
        #expect(
            try encoded(JSONRPC.Response(id: .string("v"), outcome: .error(unsupported)))
                == [
                    "jsonrpc": "2.0", "id": "v",
                    "error": ["code": -32022, "message": "Unsupported protocol version", "data": ["requested": "1999"]],
                ])
        #expect(
            try encoded(JSONRPC.Notification("notifications/tools/list_changed"))
                == ["jsonrpc": "2.0", "method": "notifications/tools/list_changed"])
        let event = String(buffer: JSONRPC.event(JSONRPC.Notification("notifications/progress", params: ["progress": 3])))
        #expect(event.hasPrefix("event: message\ndata: {") && event.hasSuffix("}\n\n") && !event.contains("\nid:"))
    }
}
