import Hummingbird
import NIOCore

/// The client IP used for rate limits. Behind `hops` reverse proxies that each append to
/// `X-Forwarded-For`, the client is the `hops`-th entry from the right; entries further left
/// are whatever the client sent and cannot be trusted.
enum ClientAddress {
    static func resolve(remote: SocketAddress?, forwardedFor: String?, trustedHops: Int) -> String {
        if trustedHops > 0, let forwardedFor {
            let entries = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if !entries.isEmpty {
                return entries[max(0, entries.count - trustedHops)]
            }
        }
        return remote?.ipAddress ?? "unknown"
    }

    static func of(_ request: Request, context: GatewayRequestContext, trustedHops: Int) -> String {
        resolve(
            remote: context.remoteAddress, forwardedFor: request.headers[.init("X-Forwarded-For")!], trustedHops: trustedHops)
    }
}
