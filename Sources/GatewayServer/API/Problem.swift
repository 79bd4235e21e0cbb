import Foundation
import GatewayProtocol
import Hummingbird

/// RFC 9457 problem details. `type` values are stable URNs clients may switch on.
public struct Problem: Error, Sendable {
    public let type: String
    public let title: String
    public let statusCode: Int
    public let detail: String?
    /// For 429s: the configuration variable of the limit that was reached.
    public var limit: String?
    var headers: HTTPFields = [:]

    public init(_ slug: String, title: String, status: Int, detail: String? = nil) {
        self.type = "urn:agent-gateway:problem:\(slug)"
        self.title = title
        self.statusCode = status
        self.detail = detail
    }

    /// The body: RFC 9457 problem details as the protocol defines them.
    public var details: ProblemDetails {
        ProblemDetails(type: type, title: title, status: statusCode, detail: detail, limit: limit)
    }

    static func invalidToken(_ detail: String) -> Problem {
        var problem = Problem("invalid-token", title: "Missing or invalid access token", status: 401, detail: detail)
        problem.headers[.wwwAuthenticate] = #"Bearer error="invalid_token""#
        return problem
    }
}

extension Problem: HTTPResponseError {
    public var status: HTTPResponse.Status { .init(code: statusCode) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/problem+json"
        fields[.cacheControl] = "no-store"
        return Response(
            status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(data: try WireJSON.sharedEncoder.encode(details))))
    }
}
