import Foundation
import GatewayProtocol
import Hummingbird
import NIOCore

/// JSON-RPC 2.0 as MCP uses it: the envelopes the `/mcp` endpoint reads and writes. Payloads
/// (params, results) stay `JSONValue`, since each method has its own; the envelope, the id and
/// the error object are typed, so a reply always has the shape the specification gives.
enum JSONRPC {
    static let version = "2.0"

    /// A request id: a string or an integer. `nil` where one is used stands for JSON `null`
    /// (the id of an error about a message whose id could not be read).
    enum ID: Codable, Sendable, Equatable {
        case string(String)
        case int(Int)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int.self) {
                self = .int(number)
            } else {
                self = .string(try container.decode(String.self))
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .int(let value): try container.encode(value)
            }
        }

        var json: JSONValue {
            switch self {
            case .string(let value): .string(value)
            case .int(let value): .int(value)
            }
        }
    }

    /// One message a client sent: a request (a method and an id), a notification (a method, no
    /// id) or its answer to a server request (an id, no method).
    struct Message: Sendable {
        let id: ID?
        let method: String?
        let params: JSONValue?

        /// Reads the envelope of a parsed body; what is not a JSON-RPC 2.0 message is refused
        /// with the error to answer.
        init(_ value: JSONValue) throws(ErrorObject) {
            guard case .object(let object) = value else {
                throw ErrorObject(.invalidRequest, "send one JSON-RPC message per request (batches are not supported)")
            }
            switch object["id"] {
            case nil, .null?: id = nil
            case .string(let value)?: id = .string(value)
            case .int(let value)?: id = .int(value)
            default: throw ErrorObject(.invalidRequest, "Invalid Request: id must be a string or an integer")
            }
            guard object["jsonrpc"] == .string(JSONRPC.version) else {
                throw ErrorObject(.invalidRequest, #"Invalid Request: jsonrpc must be "2.0""#, id: id)
            }
            method = object["method"]?.string
            params = object["params"]
        }

        /// A request, which is answered; notifications and answers are only acknowledged.
        var isRequest: Bool { id != nil && method != nil }
    }

    /// The error codes the gateway answers with: JSON-RPC's own and MCP's.
    enum Code: Int, Sendable {
        case parseError = -32700
        case invalidRequest = -32600
        case methodNotFound = -32601
        /// The request could not be served now (too many open streams).
        case serverError = -32000
        /// MCP 2026-07-28: the protocol version asked for is not one the server speaks.
        case unsupportedProtocolVersion = -32022
    }

    /// A JSON-RPC error object, with the id of the message it answers.
    struct ErrorObject: Error, Sendable {
        let code: Code
        let message: String
        let data: JSONValue?
        let id: ID?

        init(_ code: Code, _ message: String, data: JSONValue? = nil, id: ID? = nil) {
            self.code = code
            self.message = message
            self.data = data
            self.id = id
        }

        func answering(_ id: ID?) -> ErrorObject { ErrorObject(code, message, data: data, id: id) }
    }

    /// A response: a result or an error.
    struct Response: Encodable, Sendable {
        let id: ID?
        let outcome: Outcome

        enum Outcome: Sendable {
            case result([String: JSONValue])
            case error(ErrorObject)
        }

        enum CodingKeys: String, CodingKey { case jsonrpc, id, result, error }
        enum ErrorKeys: String, CodingKey { case code, message, data }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(JSONRPC.version, forKey: .jsonrpc)
            if let id { try container.encode(id, forKey: .id) } else { try container.encodeNil(forKey: .id) }
            switch outcome {
            case .result(let result):
                try container.encode(result, forKey: .result)
            case .error(let error):
                var nested = container.nestedContainer(keyedBy: ErrorKeys.self, forKey: .error)
                try nested.encode(error.code.rawValue, forKey: .code)
                try nested.encode(error.message, forKey: .message)
                try nested.encodeIfPresent(error.data, forKey: .data)
            }
        }
    }

    /// A notification the server sends (progress, list changes, acknowledgements).
    struct Notification: Encodable, Sendable {
        let jsonrpc = JSONRPC.version
        let method: String
        let params: JSONValue?

        init(_ method: String, params: JSONValue? = nil) {
            self.method = method
            self.params = params
        }
    }

    // MARK: On the wire

    /// A response as one JSON body.
    static func reply(_ response: Response, status: HTTPResponse.Status = .ok) -> Hummingbird.Response {
        let data = (try? WireJSON.sharedEncoder.encode(response)) ?? Data()
        return Hummingbird.Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    static func result(id: ID, _ result: [String: JSONValue]) -> Hummingbird.Response {
        reply(Response(id: id, outcome: .result(result)))
    }

    static func error(_ error: ErrorObject, status: HTTPResponse.Status = .ok) -> Hummingbird.Response {
        reply(Response(id: error.id, outcome: .error(error)), status: status)
    }

    /// One SSE event without an `id` (so a client never tries to resume a finished call).
    static func event(_ message: some Encodable) -> ByteBuffer {
        var buffer = ByteBuffer(string: "event: message\ndata: ")
        buffer.writeBytes((try? WireJSON.sharedEncoder.encode(message)) ?? Data())
        buffer.writeString("\n\n")
        return buffer
    }
}
