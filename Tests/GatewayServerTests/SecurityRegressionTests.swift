import AsyncHTTPClient
import Foundation
import Glibc
import NIOCore
import NIOHTTP1
import Testing

/// Regressions of what an attacker could do before (docs/security.md): read a deleted device's
/// history by registering its id again, and exhaust memory or guess codes through routes that
/// had no bound. Each test fails on the code before the fix.
@Suite("Security regressions", .serialized)
struct SecurityRegressionTests {
    // MARK: Confidentiality: device ids are reused, their streams are not

    @Test(arguments: StreamBackend.runnable)
    func aReRegisteredDeviceIDDoesNotInheritTheDeletedDevicesHistory(backend: StreamBackend) async throws {
        try await withStreamingGateway(backend) { base in
            let alice = try await APITestClient.signIn("Alice", at: base)
            let bob = try await APITestClient.signIn("Bob", at: base)
            let carol = try await APITestClient.signIn("Carol", at: base)
            let deviceID = "laptop-\(UUID().uuidString.prefix(6))"
            #expect(try await alice.call(.PUT, "/v1/devices/\(deviceID)", ["name": "A", "platform": "linux"]).status == 201)
            let aliceStream = try await alice.stream("/v1/devices/\(deviceID)/events")
            let agentID = try #require(
                try await alice.call(.PUT, "/v1/devices/\(deviceID)/agents/echo", ["name": "Echo"]).json["id"] as? String)
            let code = try #require(try await alice.call(.POST, "/v1/agents/\(agentID)/shares", [:]).json["code"] as? String)
            #expect(try await bob.call(.POST, "/v1/invites/\(code)/accept").status == 201)
            // A guest learns the host's device id from the agent.
            #expect(try await bob.call(.GET, "/v1/agents/\(agentID)").json["device_id"] as? String == deviceID)
            let session = try #require(try await bob.call(.POST, "/v1/sessions", ["agent_id": agentID]).json["id"] as? String)
            #expect(try await bob.call(.POST, "/v1/sessions/\(session)/messages", ["text": "my secret plans"]).status == 201)
            #expect(await aliceStream.waitFor { !$0.events(ofType: "message.created").isEmpty })
            let firstID = try #require(aliceStream.events.first { $0.id != nil }?.id)
            let epoch = String(firstID[..<firstID.lastIndex(of: "-")!])

            // Deleting the device ends its open stream.
            #expect(try await alice.call(.DELETE, "/v1/devices/\(deviceID)").status == 204)
            #expect(await aliceStream.waitFor { !$0.events(ofType: "device.deleted").isEmpty && $0.isFinished })

            // Carol takes the id and reads from the very start of the old stream's epoch.
            #expect(try await carol.call(.PUT, "/v1/devices/\(deviceID)", ["name": "C", "platform": "linux"]).status == 201)
            #expect(try await carol.call(.GET, "/v1/devices/\(deviceID)").json["online"] as? Bool == false)
            let carolStream = try await carol.stream("/v1/devices/\(deviceID)/events", lastEventID: "\(epoch)-0")
            #expect(await carolStream.waitFor { !$0.events(ofType: "reset").isEmpty || !$0.events(ofType: "stream.open").isEmpty })
            try await Task.sleep(for: .milliseconds(300))
            for type in ["session.created", "message.created", "device.deleted"] {
                #expect(carolStream.events(ofType: type).isEmpty, "Carol read \(type) of Alice's deleted device")
            }
            #expect(!carolStream.events.contains { $0.data.contains("my secret plans") })
            let unanswered = try await carol.call(.GET, "/v1/devices/\(deviceID)/unanswered").json["messages"] as? [Any]
            #expect(unanswered?.isEmpty == true)
            // Nothing written for Bob's old session reaches the new registration either.
            #expect(try await bob.call(.POST, "/v1/sessions/\(session)/messages", ["text": "still there?"]).status == 404)
            try await Task.sleep(for: .milliseconds(200))
            #expect(carolStream.events(ofType: "message.created").isEmpty)
            await carolStream.close()
            await aliceStream.close()
        }
    }

    // MARK: Anonymous bounds

    @Test func authorizeAndDeviceAuthorizationAreRateLimitedAndStateIsCapped() async throws {
        try await withGateway(environment: ["AUTHORIZE_RATE_LIMIT_PER_MINUTE": "3"]) { client in
            let redirect = "http://127.0.0.1:4321/cb"
            let verifier = OAuthTestClient.makeVerifier()
            // An oversized state is refused on the redirect, without echoing it back.
            let huge = try await client.request(
                .GET, client.authorizeURL(redirectURI: redirect, verifier: verifier, state: String(repeating: "s", count: 5000)))
            #expect(huge.status == 302)
            let query = OAuthTestClient.queryItems(huge.location ?? "")
            #expect(query["error"] == "invalid_request")
            #expect(query["state"] == nil)
            #expect((huge.location ?? "").count < 1000)
            // Two more starts are allowed, then the address has to wait.
            for _ in 0..<2 {
                #expect(try await client.request(.GET, client.authorizeURL(redirectURI: redirect, verifier: verifier)).status == 200)
            }
            let limited = try await client.request(.GET, client.authorizeURL(redirectURI: redirect, verifier: verifier))
            #expect(limited.status == 429)
            #expect(Int(limited.headers.first(name: "Retry-After") ?? "") ?? 0 >= 1)
            // The device authorization endpoint shares the budget and answers RFC 6749 JSON.
            let device = try await client.request(.POST, "/oauth/device_authorization", form: ["client_id": "gatewayctl"])
            #expect(device.status == 429)
            #expect(device.json["error"] as? String == "slow_down")
            #expect(device.headers.first(name: "Retry-After") != nil)
        }
    }

    @Test func wrongDeviceUserCodesAreLimitedPerAddress() async throws {
        try await withGateway(environment: ["DEVICE_CODE_FAILURES_PER_MINUTE": "3"]) { client in
            let start = try await client.request(.POST, "/oauth/device_authorization", form: ["client_id": "gatewayctl"])
            let userCode = try #require(start.json["user_code"] as? String)
            let page = try await client.request(.GET, "/device")
            var form = OAuthTestClient.hiddenInputs(page.body)
            for guess in ["BBBB-BBBB", "CCCC-CCCC", "DDDD-DDDD"] {
                form["user_code"] = guess
                #expect(try await client.request(.POST, "/device", form: form).status == 400)
            }
            form["user_code"] = "FFFF-FFFF"
            let locked = try await client.request(.POST, "/device", form: form)
            #expect(locked.status == 429, "the fourth wrong code in a minute")
            // Even the right code waits: guessing cannot go on by mixing in a known one.
            form["user_code"] = userCode
            #expect(try await client.request(.POST, "/device", form: form).status == 429)
            #expect(try await client.request(.GET, "/device?user_code=GGGG-GGGG").status == 429, "the complete URI counts too")
        }
    }

    /// A client holding a connection without finishing its request head is cut after the idle
    /// timeout; an open event stream is not.
    @Test func slowRequestHeadsAreCutButStreamsStayOpen() async throws {
        try await withStreamingGateway(.memory, environment: ["HTTP_IDLE_TIMEOUT": "1s", "SSE_HEARTBEAT_INTERVAL": "1s"]) { base in
            let port = try #require(URLComponents(string: base)?.port)
            let slow = try RawConnection(port: port)
            slow.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            let started = ContinuousClock.now
            var closed = false
            while ContinuousClock.now - started < .seconds(5) {
                slow.send("X-Slow: 1\r\n")
                if slow.isClosedByPeer() {
                    closed = true
                    break
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(closed, "a request head trickling in was not cut")
            #expect(ContinuousClock.now - started < .seconds(4))

            let user = try await APITestClient.signIn("Streamer", at: base)
            let stream = try await user.stream("/v1/events")
            try await Task.sleep(for: .seconds(3))
            #expect(!stream.isFinished, "the idle timeout cut an open event stream")
            #expect(stream.status == 200)
            await stream.close()
        }
    }

    // MARK: Signed-in bounds

    @Test(arguments: StreamBackend.runnable)
    func repliesSessionsAndStreamsHaveBudgetsThatNameTheLimit(backend: StreamBackend) async throws {
        let limits = [
            "REPLY_RATE_LIMIT_PER_MINUTE": "4", "REPLY_BYTES_PER_MINUTE": "1k", "SESSION_RATE_LIMIT_PER_MINUTE": "2",
            "MAX_STREAMS_PER_USER": "3", "MAX_STREAMS_PER_DEVICE": "1",
        ]
        try await withStreamingGateway(backend, environment: limits) { base in
            let alice = try await APITestClient.signIn("Alice", at: base)
            let bob = try await APITestClient.signIn("Bob", at: base)
            let deviceID = "host-\(UUID().uuidString.prefix(6))"
            try await alice.call(.PUT, "/v1/devices/\(deviceID)", ["name": "A", "platform": "linux"])
            let agentID = try #require(
                try await alice.call(.PUT, "/v1/devices/\(deviceID)/agents/echo", ["name": "Echo"]).json["id"] as? String)
            let code = try #require(try await alice.call(.POST, "/v1/agents/\(agentID)/shares", [:]).json["code"] as? String)
            try await bob.call(.POST, "/v1/invites/\(code)/accept")

            // Sessions per user per minute.
            let opened = try await bob.call(.POST, "/v1/sessions", ["agent_id": agentID]).json
            let session = try #require(opened["id"] as? String)
            let start = try #require(opened["stream_position"] as? String)
            #expect(try await bob.call(.POST, "/v1/sessions", ["agent_id": agentID]).status == 201)
            let third = try await bob.call(.POST, "/v1/sessions", ["agent_id": agentID])
            #expect(third.status == 429)
            #expect(third.json["limit"] as? String == "SESSION_RATE_LIMIT_PER_MINUTE")
            #expect(
                try await alice.call(.POST, "/v1/sessions", ["agent_id": agentID]).status == 201, "another user has a budget of their own")

            // Reply bytes per device: 600 bytes pass, 600 more do not; nothing is appended then.
            let replies = "/v1/devices/\(deviceID)/sessions/\(session)/replies"
            let chunk = String(repeating: "r", count: 600)
            #expect(try await alice.call(.POST, replies, ["kind": "delta", "text": chunk]).status == 202)
            let overBytes = try await alice.call(.POST, replies, ["kind": "delta", "text": chunk])
            #expect(overBytes.status == 429)
            #expect(overBytes.json["limit"] as? String == "REPLY_BYTES_PER_MINUTE")
            #expect(overBytes.headers.first(name: "Retry-After") != nil)
            // A reply over the whole per-minute budget can never pass: 413.
            #expect(try await alice.call(.POST, replies, ["kind": "delta", "text": String(repeating: "r", count: 2000)]).status == 413)
            // Reply events per device: 4 per minute. The two refused posts above took nothing from
            // either budget (both are taken together, all or nothing), so three more pass.
            #expect(try await alice.call(.POST, replies, ["kind": "delta", "text": "a"]).status == 202)
            #expect(try await alice.call(.POST, replies, ["kind": "delta", "text": "b"]).status == 202)
            #expect(try await alice.call(.POST, replies, ["kind": "delta", "text": "c"]).status == 202)
            let overCount = try await alice.call(.POST, replies, ["kind": "delta", "text": "d"])
            #expect(overCount.status == 429)
            #expect(overCount.json["limit"] as? String == "REPLY_RATE_LIMIT_PER_MINUTE")
            let sessionStream = try await bob.stream("/v1/sessions/\(session)/events", lastEventID: start)
            #expect(await sessionStream.waitFor { $0.events(ofType: "reply.delta").count == 4 })
            try await Task.sleep(for: .milliseconds(200))
            #expect(sessionStream.payloads("reply.delta").map { ($0["text"] as? String)?.count } == [600, 1, 1, 1])

            // Open streams per device, then per user (Bob holds the session stream already).
            let device = try await alice.stream("/v1/devices/\(deviceID)/events")
            #expect(device.status == 200)
            let secondDevice = try await alice.stream("/v1/devices/\(deviceID)/events")
            #expect(secondDevice.status == 429)
            #expect(secondDevice.body.contains("MAX_STREAMS_PER_DEVICE"))
            let bobStreams = [try await bob.stream("/v1/events"), try await bob.stream("/v1/events")]
            #expect(bobStreams.allSatisfy { $0.status == 200 })
            let overStreams = try await bob.stream("/v1/events")
            #expect(overStreams.status == 429)
            #expect(overStreams.body.contains("MAX_STREAMS_PER_USER"))
            #expect(try await alice.stream("/v1/events").status == 200, "another user's streams are not counted")
            // Closing a stream gives its place back.
            await bobStreams[0].close()
            var reopened: SSETestConnection?
            #expect(
                await eventually(timeout: .seconds(5)) {
                    guard let attempt = try? await bob.stream("/v1/events") else { return false }
                    if attempt.status == 200 {
                        reopened = attempt
                        return true
                    }
                    await attempt.close()
                    return false
                })
            for connection in [sessionStream, device, secondDevice, bobStreams[1], overStreams] { await connection.close() }
            await reopened?.close()
        }
    }

    // MARK: Integrity

    @Test func aRefreshTokenSentByTheWrongClientStaysValidForItsHolder() async throws {
        try await withGateway { client in
            let tokens = try await client.signInForTokens(displayName: "Holder", clientID: "desktop")
            let refresh = try #require(tokens["refresh_token"] as? String)
            let wrong = try await client.request(
                .POST, "/oauth/token", form: ["grant_type": "refresh_token", "refresh_token": refresh, "client_id": "gatewayctl"])
            #expect(wrong.status == 400)
            #expect(wrong.json["error"] as? String == "invalid_grant")
            let right = try await client.request(
                .POST, "/oauth/token", form: ["grant_type": "refresh_token", "refresh_token": refresh, "client_id": "desktop"])
            #expect(right.status == 200, "the holder's refresh was taken for reuse: \(right.body)")
            let next = try #require(right.json["refresh_token"] as? String)
            // Reuse detection still works: the consumed token coming back revokes the family.
            let reused = try await client.request(
                .POST, "/oauth/token", form: ["grant_type": "refresh_token", "refresh_token": refresh, "client_id": "desktop"])
            #expect(reused.status == 400)
            let afterReuse = try await client.request(
                .POST, "/oauth/token", form: ["grant_type": "refresh_token", "refresh_token": next, "client_id": "desktop"])
            #expect(afterReuse.status == 400, "the family is revoked")
        }
    }

    @Test func aWrongCodeVerifierDoesNotConsumeTheCode() async throws {
        try await withGateway { client in
            let redirect = "http://127.0.0.1:\(Int.random(in: 20000...60000))/cb"
            let verifier = OAuthTestClient.makeVerifier()
            let reply = try await client.signIn(at: client.authorizeURL(redirectURI: redirect, verifier: verifier), displayName: "V")
            let code = try #require(OAuthTestClient.queryItems(reply.location ?? "")["code"])
            var form = ["grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": "desktop"]
            form["code_verifier"] = OAuthTestClient.makeVerifier()
            #expect(try await client.request(.POST, "/oauth/token", form: form).json["error"] as? String == "invalid_grant")
            form["client_id"] = "gatewayctl"
            form["code_verifier"] = verifier
            #expect(try await client.request(.POST, "/oauth/token", form: form).json["error"] as? String == "invalid_grant")
            form["client_id"] = "desktop"
            let redeemed = try await client.request(.POST, "/oauth/token", form: form)
            #expect(redeemed.status == 200, "the rightful redemption failed: \(redeemed.body)")
            #expect(try await client.request(.POST, "/oauth/token", form: form).status == 400, "still single use")
        }
    }

    @Test func controlCharactersAreRefusedInNamesDescriptionsAndLabels() async throws {
        try await withStreamingGateway(.memory) { base in
            let alice = try await APITestClient.signIn("Alice", at: base)
            let deviceID = "dev-\(UUID().uuidString.prefix(6))"
            let title = "evil\u{1B}]0;owned\u{07}"
            #expect(try await alice.call(.PUT, "/v1/devices/\(deviceID)", ["name": title]).status == 400)
            #expect(try await alice.call(.PUT, "/v1/devices/\(deviceID)", ["name": "ok", "platform": "linux\u{9B}2J"]).status == 400)
            #expect(try await alice.call(.PUT, "/v1/devices/\(deviceID)", ["name": "ok"]).status == 201)
            let agents = "/v1/devices/\(deviceID)/agents"
            #expect(try await alice.call(.PUT, "\(agents)/a", ["name": "\u{1B}[2Jclear"]).status == 400)
            #expect(try await alice.call(.PUT, "\(agents)/a", ["name": "A", "description": "x\u{1B}]52;c;aGk=\u{07}"]).status == 400)
            #expect(try await alice.call(.PUT, "\(agents)/a", ["name": "A", "capabilities": ["chat\u{1B}"]]).status == 400)
            let created = try await alice.call(.PUT, "\(agents)/a", ["name": "A", "description": "line one\nline two\tand a tab"])
            #expect(created.status == 201)
            let agentID = try #require(created.json["id"] as? String)
            let label = try await alice.call(.POST, "/v1/agents/\(agentID)/shares", ["label": "for \u{1B}[31mBob"])
            #expect(label.status == 400)
            #expect(label.problemType == "urn:agent-gateway:problem:invalid-request")
            #expect(try await alice.call(.PATCH, "/v1/devices/\(deviceID)", ["name": "x\u{7F}"]).status == 400)
        }
    }

    // MARK: Hygiene

    /// A body is applied only when it says it is JSON.
    @Test func nonJSONBodiesAreRefusedWith415AndChangeNothing() async throws {
        try await withStreamingGateway(.memory) { base in
            let alice = try await APITestClient.signIn("Alice", at: base)
            let deviceID = "dev-\(UUID().uuidString.prefix(6))"
            for contentType in ["text/plain", "application/xml", "application/x-www-form-urlencoded", nil] {
                let reply = try await rawCall(alice, .PUT, "/v1/devices/\(deviceID)", body: #"{"name":"sneaky"}"#, contentType: contentType)
                #expect(reply.status == 415, "\(contentType ?? "no content type")")
                #expect(reply.problemType == "urn:agent-gateway:problem:unsupported-media-type")
            }
            #expect(try await alice.call(.GET, "/v1/devices").array.isEmpty, "no device was created")
            #expect(
                try await rawCall(
                    alice, .PUT, "/v1/devices/\(deviceID)", body: #"{"name":"ok"}"#, contentType: "application/json; charset=utf-8"
                ).status == 201)
            let agentID = try #require(
                try await alice.call(.PUT, "/v1/devices/\(deviceID)/agents/echo", ["name": "Echo"]).json["id"] as? String)
            let session = try #require(try await alice.call(.POST, "/v1/sessions", ["agent_id": agentID]).json["id"] as? String)
            let posted = try await rawCall(
                alice, .POST, "/v1/sessions/\(session)/messages", body: #"{"text":"hi"}"#, contentType: "text/plain")
            #expect(posted.status == 415)
            #expect((try await alice.call(.GET, "/v1/sessions/\(session)/messages").json["messages"] as? [Any])?.isEmpty == true)
        }
    }

    func rawCall(_ client: APITestClient, _ method: HTTPMethod, _ path: String, body: String, contentType: String?) async throws
        -> APITestClient.Reply
    {
        var request = HTTPClientRequest(url: client.base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(client.token)")
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return APITestClient.Reply(
            status: Int(response.status.code), body: String(buffer: try await response.body.collect(upTo: 1 << 20)),
            headers: response.headers)
    }

    /// `form-action` admits exactly the redirect's origin, whatever the case of its scheme.
    @Test func formActionIsTheRedirectOriginWhateverTheSchemeCase() async throws {
        try await withGateway { client in
            let page = try await client.request(
                .GET, client.authorizeURL(redirectURI: "HTTP://127.0.0.1:4321/cb", verifier: OAuthTestClient.makeVerifier()))
            #expect(page.status == 200)
            let csp = page.headers.first(name: "Content-Security-Policy") ?? ""
            #expect(csp.contains("form-action 'self' http://127.0.0.1:4321"), "\(csp)")
            #expect(!csp.contains("HTTP:") && !csp.contains(" http: "), "\(csp)")
        }
    }

    /// The web client may only be sent back to exactly `/app/callback`.
    @Test func theWebClientsRedirectMustBeExactlyTheCallback() async throws {
        try await withGateway { client in
            let verifier = OAuthTestClient.makeVerifier()
            for redirect in [
                "http://localhost:8080/app/callback/extra", "http://localhost:8080/app/other", "http://localhost:8080/app/callback?x=1",
                "http://localhost:8080/invite/x",
            ] {
                let reply = try await client.request(.GET, client.authorizeURL(clientID: "web", redirectURI: redirect, verifier: verifier))
                #expect(reply.status == 400, "\(redirect)")
                #expect(reply.location == nil)
            }
            let good = try await client.request(
                .GET, client.authorizeURL(clientID: "web", redirectURI: "http://localhost:8080/app/callback", verifier: verifier))
            #expect(good.status == 200)
        }
    }

    /// A CSRF token is bound to the browser: an equal made-up pair, or another browser's
    /// token, is refused.
    @Test func formTokensAreBoundToTheBrowser() async throws {
        try await withGateway { client in
            let redirect = "http://127.0.0.1:4321/cb"
            let page = try await client.request(.GET, client.authorizeURL(redirectURI: redirect, verifier: OAuthTestClient.makeVerifier()))
            var form = OAuthTestClient.hiddenInputs(page.body)
            form["display_name"] = "Victim"
            form["action"] = "allow"
            // A pair an attacker made up: the cookie and the field agree, but the server never issued it.
            let madeUp = String(repeating: "A", count: 43)
            client.setCookie("gw_csrf", madeUp)
            form["csrf"] = madeUp
            #expect(try await client.request(.POST, "/oauth/authorize", form: form).status == 403)
            // Another browser's real token.
            let other = client.newBrowser()
            let otherPage = try await other.request(
                .GET, other.authorizeURL(redirectURI: redirect, verifier: OAuthTestClient.makeVerifier()))
            let otherToken = try #require(OAuthTestClient.hiddenInputs(otherPage.body)["csrf"])
            client.setCookie("gw_csrf", otherToken)
            form["csrf"] = otherToken
            #expect(try await client.request(.POST, "/oauth/authorize", form: form).status == 403)
            // This browser's own token still works.
            let own = OAuthTestClient.hiddenInputs(page.body)["csrf"]!
            client.setCookie("gw_csrf", own)
            form["csrf"] = own
            #expect(try await client.request(.POST, "/oauth/authorize", form: form).status == 302)
        }
    }

    /// Before approving, the device page says which client asked and when; a code typed in
    /// by hand first shows that page instead of approving.
    @Test func theDevicePageSaysWhichClientAskedAndWhenBeforeApproving() async throws {
        try await withGateway { client in
            let start = try await client.request(.POST, "/oauth/device_authorization", form: ["client_id": "gatewayctl"])
            let userCode = try #require(start.json["user_code"] as? String)
            let entry = try await client.request(.GET, "/device")
            #expect(entry.status == 200)
            #expect(!entry.body.contains("display_name"), "the first step asks only for the code")
            var form = OAuthTestClient.hiddenInputs(entry.body)
            form["user_code"] = userCode
            form["action"] = "lookup"
            let confirm = try await client.request(.POST, "/device", form: form)
            #expect(confirm.status == 200)
            #expect(confirm.body.contains("<strong>gatewayctl</strong> asked at <time"), "\(confirm.body)")
            #expect(confirm.body.contains("less than a minute ago"))
            #expect(confirm.body.contains(userCode))
            let poll = [
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": start.json["device_code"] as! String,
                "client_id": "gatewayctl",
            ]
            #expect(
                try await client.request(.POST, "/oauth/token", form: poll).json["error"] as? String == "authorization_pending",
                "looking up approved nothing")
            let complete = try await client.request(.GET, "/device?user_code=\(userCode)")
            #expect(complete.body.contains("<strong>gatewayctl</strong> asked at <time"))
        }
    }
}

/// A bare TCP connection for sending partial requests.
final class RawConnection: Sendable {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = try connectLoopback(port: port)
    }

    func send(_ text: String) {
        _ = text.withCString { Glibc.send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// True once the server closed the connection (a read returns end of file or an error).
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let count = recv(descriptor, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    deinit { Glibc.close(descriptor) }
}
