import Foundation
import GatewayProtocol
import Hummingbird

/// RFC 9457 problem details. `type` values are stable URNs clients may switch on.
package struct Problem: Error, Sendable {
    package let type: String
    package let title: String
    package let statusCode: Int
    package let detail: String?
    /// For 429s: the configuration variable of the limit that was reached.
    package var limit: String?
    var headers: HTTPFields = [:]

    package init(_ kind: ProblemType, title: String, status: Int, detail: String? = nil) {
        self.init(type: kind.uri, title: title, status: status, detail: detail)
    }

    /// An HTTP error that is none of the API's kinds (Hummingbird's own 405s, say): `http-<status>`.
    package init(httpStatus status: Int, title: String, detail: String?) {
        self.init(type: ProblemDetails.typePrefix + "http-\(status)", title: title, status: status, detail: detail)
    }

    private init(type: String, title: String, status: Int, detail: String?) {
        self.type = type
        self.title = title
        self.statusCode = status
        self.detail = detail
    }

    /// The body: RFC 9457 problem details as the protocol defines them.
    package var details: ProblemDetails {
        ProblemDetails(type: type, title: title, status: statusCode, detail: detail, limit: limit)
    }

    static func invalidToken(_ detail: String) -> Problem {
        var problem = Problem(.invalidToken, title: "Missing or invalid access token", status: 401, detail: detail)
        problem.headers[.wwwAuthenticate] = #"Bearer error="invalid_token""#
        return problem
    }
}

extension Problem: HTTPResponseError {
    package var status: HTTPResponse.Status { .init(code: statusCode) }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/problem+json"
        fields[.cacheControl] = "no-store"
        return Response(
            status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(data: try WireJSON.sharedEncoder.encode(details))))
    }
}
