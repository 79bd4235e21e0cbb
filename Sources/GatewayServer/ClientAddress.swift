import Hummingbird
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The client address used for per-address limits. Behind `hops` reverse proxies that each
/// append to `X-Forwarded-For`, the client is the `hops`-th entry from the right; entries further
/// left are whatever the client sent and cannot be trusted.
///
/// An IPv6 client is counted by its network, not its address: one customer usually has a whole
/// /64 and can use any of its 2^64 addresses, so keying on the address would give them as many
/// budgets. `ipv6Prefix` (RATE_LIMIT_IPV6_PREFIX) says how many leading bits count.
enum ClientAddress {
    static func resolve(remote: SocketAddress?, forwardedFor: String?, trustedHops: Int, ipv6Prefix: Int = 64) -> String {
        if trustedHops > 0, let forwardedFor {
            let entries = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if !entries.isEmpty {
                return key(for: entries[max(0, entries.count - trustedHops)], ipv6Prefix: ipv6Prefix)
            }
        }
        return key(for: remote?.ipAddress ?? "unknown", ipv6Prefix: ipv6Prefix)
    }

    static func of(_ request: Request, context: GatewayRequestContext, trustedHops: Int, ipv6Prefix: Int) -> String {
        resolve(
            remote: context.remoteAddress, forwardedFor: request.headers[.init("X-Forwarded-For")!], trustedHops: trustedHops,
            ipv6Prefix: ipv6Prefix)
    }

    /// An IPv4 address as it is (also when written IPv4-mapped, `::ffff:a.b.c.d`); an IPv6
    /// address as its network `prefix/length`; anything else (a proxy's odd entry) as it is.
    static func key(for address: String, ipv6Prefix: Int) -> String {
        let unbracketed = address.hasPrefix("[") && address.hasSuffix("]") ? String(address.dropFirst().dropLast()) : address
        let unscoped = unbracketed.split(separator: "%", maxSplits: 1).first.map(String.init) ?? unbracketed
        var v6 = in6_addr()
        guard unscoped.contains(":"), inet_pton(AF_INET6, unscoped, &v6) == 1 else { return address }
        var bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            return bytes[12...].map(String.init).joined(separator: ".")
        }
        let length = min(128, max(0, ipv6Prefix))
        for index in 0..<16 {
            let bitsKept = min(8, max(0, length - index * 8))
            bytes[index] &= bitsKept == 8 ? 0xff : UInt8(truncatingIfNeeded: 0xff << (8 - bitsKept))
        }
        var masked = in6_addr()
        withUnsafeMutableBytes(of: &masked) { $0.copyBytes(from: bytes) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &masked, &buffer, socklen_t(buffer.count)) != nil else { return address }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return length == 128 ? text : "\(text)/\(length)"
    }
}
