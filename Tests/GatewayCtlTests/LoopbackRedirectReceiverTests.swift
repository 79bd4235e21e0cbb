import GatewayClient
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// The loopback listener of `gatewayctl login` (RFC 8252).
@Suite struct LoopbackRedirectReceiverTests {
    /// A browser may close the connection as soon as it has sent the callback (or read the page):
    /// the sign-in must still complete. Repeated, because the close races the page being written.
    @Test func aBrowserThatLeavesAtOnceStillCompletesTheSignIn() async throws {
        for attempt in 0..<25 {
            let redirect = NIOLockedValueBox<String?>(nil)
            async let callback = LoopbackRedirectReceiver.receive(timeout: .seconds(10)) { uri in
                redirect.withLockedValue { $0 = uri }
            }
            var uri: String?
            for _ in 0..<500 where uri == nil {
                uri = redirect.withLockedValue { $0 }
                if uri == nil { try await Task.sleep(for: .milliseconds(5)) }
            }
            let port = try #require(uri.flatMap { $0.split(separator: ":").last?.split(separator: "/").first }.flatMap { Int($0) })
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port)
                .get()
            let request = "GET /callback?code=code-\(attempt)&state=s HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n"
            try await channel.writeAndFlush(ByteBuffer(string: request)).get()
            try? await channel.close().get() // the listener may have closed it first
            let query = try await callback
            #expect(query["code"] == "code-\(attempt)", "attempt \(attempt)")
            #expect(query["state"] == "s")
        }
    }

    /// Requests to other paths get 404 and do not end the wait; the callback does.
    @Test func otherPathsAreNotTheCallback() async throws {
        let redirect = NIOLockedValueBox<String?>(nil)
        async let callback = LoopbackRedirectReceiver.receive(timeout: .seconds(10)) { uri in redirect.withLockedValue { $0 = uri } }
        var uri: String?
        for _ in 0..<500 where uri == nil {
            uri = redirect.withLockedValue { $0 }
            if uri == nil { try await Task.sleep(for: .milliseconds(5)) }
        }
        let base = try #require(uri?.replacingOccurrences(of: LoopbackRedirectReceiver.callbackPath, with: ""))
        let favicon = try await HTTPTransport.send(.GET, base + "/favicon.ico")
        #expect(favicon.status == 404)
        let answer = try await HTTPTransport.send(.GET, base + "/callback?error=access_denied&state=t")
        #expect(answer.status == 200)
        #expect(answer.text.contains("Sign-in did not complete"))
        let query = try await callback
        #expect(query == ["error": "access_denied", "state": "t"])
    }
}
