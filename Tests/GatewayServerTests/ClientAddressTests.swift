import NIOCore
import Testing

@testable import GatewayServer

@Suite("Client address behind proxies")
struct ClientAddressTests {
    let socket = try! SocketAddress(ipAddress: "10.0.0.5", port: 443)

    @Test func withoutTrustedProxiesTheSocketAddressIsUsedAndForwardedForIgnored() {
        #expect(ClientAddress.resolve(remote: socket, forwardedFor: "1.2.3.4", trustedHops: 0) == "10.0.0.5")
    }

    @Test func oneTrustedHopTakesTheEntryItAppended() {
        // The client forged "6.6.6.6"; the proxy appended the real address last.
        #expect(ClientAddress.resolve(remote: socket, forwardedFor: "6.6.6.6, 203.0.113.9", trustedHops: 1) == "203.0.113.9")
        #expect(ClientAddress.resolve(remote: socket, forwardedFor: "6.6.6.6, 203.0.113.9, 10.1.1.1", trustedHops: 2) == "203.0.113.9")
        #expect(ClientAddress.resolve(remote: socket, forwardedFor: "203.0.113.9", trustedHops: 3) == "203.0.113.9")
        #expect(ClientAddress.resolve(remote: socket, forwardedFor: nil, trustedHops: 1) == "10.0.0.5")
    }

    @Test func anIPv6ClientIsCountedByItsNetwork() {
        // One /64 is usually one customer: any of its addresses shares one budget.
        #expect(ClientAddress.key(for: "2001:db8:1:2:aaaa::1", ipv6Prefix: 64) == "2001:db8:1:2::/64")
        #expect(ClientAddress.key(for: "2001:db8:1:2:ffff:ffff:ffff:ffff", ipv6Prefix: 64) == "2001:db8:1:2::/64")
        #expect(ClientAddress.key(for: "2001:db8:1:3::1", ipv6Prefix: 64) == "2001:db8:1:3::/64")
        #expect(ClientAddress.key(for: "[2001:db8:1:2::9]", ipv6Prefix: 56) == "2001:db8:1::/56")
        #expect(ClientAddress.key(for: "2001:db8::7", ipv6Prefix: 128) == "2001:db8::7")
        #expect(ClientAddress.key(for: "fe80::1%eth0", ipv6Prefix: 64) == "fe80::/64")
        // IPv4, also written IPv4-mapped, is counted by its address; odd entries stay as they are.
        #expect(ClientAddress.key(for: "::ffff:203.0.113.9", ipv6Prefix: 64) == "203.0.113.9")
        #expect(ClientAddress.key(for: "203.0.113.9", ipv6Prefix: 64) == "203.0.113.9")
        #expect(ClientAddress.key(for: "unknown", ipv6Prefix: 64) == "unknown")
        let v6 = try! SocketAddress(ipAddress: "2001:db8:5:6::1", port: 443)
        #expect(ClientAddress.resolve(remote: v6, forwardedFor: nil, trustedHops: 0) == "2001:db8:5:6::/64")
        #expect(ClientAddress.resolve(remote: socket, forwardedFor: "2001:db8:7:8::42", trustedHops: 1) == "2001:db8:7:8::/64")
    }
}
