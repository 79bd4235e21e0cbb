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
}
