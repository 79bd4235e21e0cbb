import Hummingbird
import Logging

/// Logs and counts each request by method, route template, status and duration.
///
/// Deliberately never logs the query string (OAuth codes and `state` travel there), cookies or
/// the `Authorization` header, which Hummingbird's `LogRequestsMiddleware` would include.
struct RequestObservationMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: GatewayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let method = request.method.rawValue
        do {
            var response = try await next(request, context)
            let status = response.status.code
            let isStream = response.headers[.contentType]?.hasPrefix("text/event-stream") ?? false
            let body = response.body
            // Measured once the body is written, so streamed bodies count their full duration.
            response.body = ResponseBody(contentLength: body.contentLength) { writer in
                defer { finish(context: context, method: method, status: status, start: start, isStream: isStream) }
                try await body.write(writer)
            }
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            finish(context: context, method: method, status: status, start: start, isStream: false)
            throw error
        }
    }

    private func finish(context: Context, method: String, status: Int, start: ContinuousClock.Instant, isStream: Bool) {
        let duration = ContinuousClock.now - start
        // Unmatched paths are grouped (Hummingbird names them NotFound) so scanners cannot
        // blow up metric cardinality.
        let route = context.endpointPath ?? "NotFound"
        metrics.recordRequest(route: route, method: method, status: status, duration: duration, isStream: isStream)
        let level: Logger.Level = status >= 500 ? .error : .info
        context.logger.log(
            level: level, "request",
            metadata: [
                "event": "http.request", "method": .string(method), "route": .string(route),
                "status": .stringConvertible(status), "duration_ms": .string(String(format: "%.2f", duration.milliseconds)),
            ])
    }
}
