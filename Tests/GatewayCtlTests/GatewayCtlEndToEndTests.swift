import Foundation
import GatewayClient
import GatewayProtocol
import GatewayTestSupport
import RedisClient
import TerminalQRCode
import Testing

/// The real gatewayctl binary against live gateway processes: two people, two config dirs.
@Suite(.serialized) struct GatewayCtlEndToEndTests {
    /// Sign-in through the loopback redirect, hosting an echo and a command agent, sharing,
    /// accepting as a second user, chatting with streamed replies, revoking (the guest's open chat
    /// shows it and further messages are refused), and logging out.
    @Test(.requires(.redis, .postgres)) func loginHostShareAcceptChatRevokeLogout() async throws {
        let gateway = try await LiveGateway.serve()
        defer { gateway.stop() }
        let root = try temporaryDirectory("e2e")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let owner = root + "/owner"
        let guest = root + "/guest"

        let clock = ContinuousClock()
        let loginStarted = clock.now
        let loginOutput = try await login(gateway, configDir: owner, as: "Olivia")
        let loginTime = clock.now - loginStarted
        _ = try await login(gateway, configDir: guest, as: "Gus")

        // Tokens are owner-only and never printed.
        #expect(try permissions(owner) == 0o700)
        #expect(try permissions(owner + "/credentials.json") == 0o600)
        let stored = try #require(ConfigDirectory(path: owner).loadCredentials())
        #expect(!loginOutput.contains(stored.accessToken) && !loginOutput.contains(stored.refreshToken))

        // Host an echo agent and a command agent that answers in two pieces.
        let script = #"read line; printf 'got: '; sleep 0.4; printf '%s' "$line" | tr a-z A-Z"#
        let host = try Ctl(["host", "--agent", "echo", "--agent", "shout=command:\(script)"], configDir: owner)
        defer { host.signal(SIGKILL) }
        #expect(await host.waitFor("connected"), "host: \(host.output)")
        #expect(!host.output.contains(stored.accessToken))
        let deviceID = try String(contentsOfFile: owner + "/device-id", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let devices = try await ctl(["devices", "--json"], configDir: owner)
        #expect(devices.status == 0)
        #expect(devices.output.contains(deviceID) && devices.output.contains(#""online" : true"#), "\(devices.output)")

        // The owner chats with their own echo agent.
        let ownChat = try await ctl(["chat", "echo"], configDir: owner, input: "hi there\n")
        #expect(ownChat.status == 0, "\(ownChat.output)")
        #expect(ownChat.output.contains("echo: hi there"), "\(ownChat.output)")

        // Share the command agent; the guest accepts with the invite URL.
        let shared = try await ctl(["share", "shout", "--json", "--expires-in", "1h"], configDir: owner)
        #expect(shared.status == 0, "\(shared.output)")
        let share = try jsonObject(shared.output)
        let shareID = try #require(share["id"] as? String)
        let inviteURL = try #require(share["invite_url"] as? String)
        #expect(inviteURL.contains("/invite/"))
        let accepted = try await ctl(["accept", inviteURL], configDir: guest)
        #expect(accepted.status == 0 && accepted.output.contains("Accepted: shout from Olivia"), "\(accepted.output)")
        let agents = try await ctl(["agents", "--json"], configDir: guest)
        #expect(agents.output.contains(#""access" : "guest""#) && agents.output.contains(#""key" : "shout""#), "\(agents.output)")

        // The guest chats through a pipe: the reply streams in pieces, in order.
        let chatStarted = clock.now
        let chat = try await ctl(["chat", "shout", "--json"], configDir: guest, input: "hello\n")
        let chatTime = clock.now - chatStarted
        #expect(chat.status == 0, "\(chat.output)")
        let events = jsonLines(chat.output)
        let deltas = events.filter { $0["type"] as? String == "reply.delta" }
        // The host said it started (attempt 1) before its first piece.
        let startedAt = events.firstIndex { $0["type"] as? String == "reply.started" }
        let firstDeltaAt = events.firstIndex { $0["type"] as? String == "reply.delta" }
        #expect(startedAt != nil && firstDeltaAt != nil && startedAt! < firstDeltaAt!, "\(chat.output)")
        #expect(startedAt.map { events[$0]["attempt"] as? Int } == 1)
        #expect(deltas.map { $0["index"] as? Int } == Array(0..<deltas.count).map { Optional($0) })
        #expect(deltas.count >= 2, "the command's output should arrive in pieces: \(chat.output)")
        #expect(deltas.compactMap { $0["text"] as? String }.joined() == "got: HELLO", "\(chat.output)")
        #expect(events.last?["type"] as? String == "reply.done" && events.last?["text"] as? String == "got: HELLO", "\(chat.output)")

        // An open chat sees the revocation at once; later messages are refused.
        let openChat = try Ctl(["chat", "shout"], configDir: guest)
        #expect(await openChat.waitFor("Chatting with shout"), "\(openChat.output)")
        try await openChat.send("before")
        #expect(await openChat.waitFor("shout: got: BEFORE"), "\(openChat.output)")
        let revokeStarted = clock.now
        let revoked = try await ctl(["revoke", shareID], configDir: owner)
        #expect(revoked.status == 0 && revoked.output.contains("Revoked share \(shareID)"), "\(revoked.output)")
        #expect(await openChat.waitFor("share revoked"), "\(openChat.output)")
        let revokeTime = clock.now - revokeStarted
        #expect(await openChat.exitStatus() == ExitStatus.accessGone, "\(openChat.output)")
        let refused = try await ctl(["chat", "shout"], configDir: guest, input: "after\n")
        #expect(refused.status == ExitStatus.accessGone && refused.output.contains("share revoked"), "\(refused.output)")
        let reaccept = try await ctl(["accept", inviteURL], configDir: guest)
        #expect(reaccept.status == ExitStatus.accessGone && reaccept.output.contains("invite revoked"), "\(reaccept.output)")
        #expect(await host.waitFor("share \(shareID) was revoked"), "\(host.output)")

        // Logout revokes the refresh token at the gateway and deletes it locally.
        let guestTokens = try #require(ConfigDirectory(path: guest).loadCredentials())
        let logout = try await ctl(["logout"], configDir: guest)
        #expect(logout.status == 0 && logout.output.contains("Signed out"), "\(logout.output)")
        #expect(!FileManager.default.fileExists(atPath: guest + "/credentials.json"))
        let reuse = try await HTTPTransport.send(
            .POST, guestTokens.tokenEndpoint, headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: HTTPTransport.form([
                ("grant_type", "refresh_token"), ("refresh_token", guestTokens.refreshToken), ("client_id", "gatewayctl"),
            ]))
        #expect(reuse.status == 400 && reuse.text.contains("invalid_grant"), "\(reuse.text)")
        let signedOut = try await ctl(["agents"], configDir: guest)
        #expect(signedOut.status == ExitStatus.signedOut && signedOut.output.contains("run gatewayctl login"), "\(signedOut.output)")

        // SIGTERM ends the host with status 0.
        host.signal(SIGTERM)
        #expect(await host.exitStatus(timeout: .seconds(10)) == 0, "\(host.output)")
        print(
            "gatewayctl timings: login \(loginTime), guest chat with a 0.4 s command \(chatTime), revoke to open chat notified \(revokeTime)"
        )
    }

    /// Resume: a message sent while the host is down waits in the device stream and is answered
    /// when the host comes back; after a gateway restart the host reconnects by itself.
    /// A reply carrying terminal escape sequences (window title, clipboard write, screen clear)
    /// reaches the guest's terminal without them, in text and JSON output alike.
    @Test func repliesCannotSendEscapeSequencesToTheGuestsTerminal() async throws {
        let gateway = try await LiveGateway.dev()
        defer { gateway.stop() }
        let root = try temporaryDirectory("escapes")
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try await login(gateway, configDir: root + "/owner", as: "Olivia")
        _ = try await login(gateway, configDir: root + "/guest", as: "Gus")
        let script = #"cat >/dev/null; printf '\033]0;owned\007\033]52;c;aGk=\007\033[2J\302\23331mplain\rtext\tend'"#
        let host = try Ctl(["host", "--agent", "evil=command:\(script)"], configDir: root + "/owner")
        defer { host.signal(SIGKILL) }
        #expect(await host.waitFor("connected"), "host: \(host.output)")
        let shared = try await ctl(["share", "evil", "--json"], configDir: root + "/owner")
        let inviteURL = try #require(try jsonObject(shared.output)["invite_url"] as? String)
        #expect(try await ctl(["accept", inviteURL], configDir: root + "/guest").status == 0)
        for arguments in [["chat", "evil"], ["chat", "evil", "--json"]] {
            let chat = try await ctl(arguments, configDir: root + "/guest", input: "hi\n")
            #expect(chat.status == 0, "\(chat.output)")
            // Text output drops the controls; JSON output escapes them (\u001b), which a terminal shows as text.
            #expect(
                chat.output.contains(arguments.contains("--json") ? #"\u001b]0;owned"# : "]0;owned]52;c;aGk=[2J31mplaintext\tend"),
                "\(chat.output)")
            #expect(
                !chat.output.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{9B}" || $0 == "\r" }, "\(arguments)")
        }
    }

    /// A reply whose pieces did not all reach the chat (a stream reset loses the ones sent
    /// meanwhile) is completed from its `reply.done`, which carries the whole text. The test is
    /// the device here, so it can leave pieces out.
    @Test func aReplyWithMissingPiecesIsShownWholeFromItsDone() async throws {
        let gateway = try await LiveGateway.dev()
        defer { gateway.stop() }
        let root = try temporaryDirectory("pieces")
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try await login(gateway, configDir: root, as: "Olivia")
        let device = try await TestDevice(configDir: root, agent: "parrot")
        let chat = try Ctl(["chat", "parrot"], configDir: root)
        let cases: [(question: String, pieces: [String], expected: String)] = [
            ("first pieces lost", ["by the store"], "parrot: by the store\nparrot: kept by the store\n"),
            ("last pieces lost", ["kept ", "by"], "parrot: kept by the store\n"),
            ("nothing lost", ["kept ", "by the ", "store"], "parrot: kept by the store\n"),
            ("a last newline the final text leaves out", ["kept by the store\n"], "parrot: kept by the store\n"),
        ]
        for (number, item) in cases.enumerated() {
            try await chat.send(item.question)
            let message = try await device.nextUnanswered()
            // No stream is open for the device, so each message is queued and the chat says so.
            #expect(await chat.waitFor("(host offline", count: number + 1), "\(chat.output)")
            let before = chat.output
            for (index, piece) in item.pieces.enumerated() { try await device.reply(to: message, .delta, piece, index: index) }
            try await device.reply(to: message, .done, "kept by the store")
            #expect(await chat.waitFor("kept by the store\n", count: number + 1), "\(chat.output)")
            #expect(String(chat.output.dropFirst(before.count)) == item.expected, "\(item.question): \(chat.output)")
        }
        chat.closeInput()
        #expect(await chat.exitStatus() == 0, "\(chat.output)")
    }

    /// The guest stops a reply that is still being written: the host stops its command and posts
    /// what was written as the reply; a second stop is a conflict, a stranger's is not found.
    @Test func aGuestStopsAReplyAndKeepsWhatWasWritten() async throws {
        let gateway = try await LiveGateway.dev()
        defer { gateway.stop() }
        let root = try temporaryDirectory("stop")
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try await login(gateway, configDir: root + "/owner", as: "Olivia")
        _ = try await login(gateway, configDir: root + "/guest", as: "Gus")
        _ = try await login(gateway, configDir: root + "/stranger", as: "Sam")
        let script = #"cat >/dev/null; i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo "tick $i"; sleep 0.1; done"#
        let host = try Ctl(["host", "--agent", "slow=command:\(script)"], configDir: root + "/owner")
        defer { host.signal(SIGKILL) }
        #expect(await host.waitFor("connected"), "host: \(host.output)")
        let shared = try await ctl(["share", "slow", "--json"], configDir: root + "/owner")
        let inviteURL = try #require(try jsonObject(shared.output)["invite_url"] as? String)
        #expect(try await ctl(["accept", inviteURL], configDir: root + "/guest").status == 0)

        let guest = try GatewayAPI(directory: ConfigDirectory(path: root + "/guest"))
        let agent = try await guest.findAgent("slow", access: .guest)
        let session = try await guest.openSession(agentID: agent.id).value
        let posted = try await guest.postMessage(sessionID: session.id, text: "count", idempotencyKey: UUID().uuidString).value
        var stopAsked = false
        var sawStopEvent = false
        var final: String?
        let events = EventStream(api: guest, path: "/v1/sessions/\(session.id)/events", startAfter: nil).updates()
        reading: for try await update in events {
            guard case .event(let event) = update else { continue }
            switch event.gatewayEvent {
            case .replyDelta(let delta) where delta.replyTo == posted.message.id && !stopAsked:
                stopAsked = true
                try await guest.stopReply(sessionID: session.id, messageID: posted.message.id)
            case .replyStopRequested(let stop):
                sawStopEvent = stop.replyTo == posted.message.id
            case .replyDone(let done) where done.message.replyTo == posted.message.id:
                final = done.message.text
                break reading
            default:
                continue
            }
        }
        #expect(sawStopEvent)
        let text = try #require(final)
        #expect(text.hasPrefix("tick 1"), "\(text)")
        #expect(!text.contains("tick 200"), "the reply was not stopped: \(text)")
        #expect(await host.waitFor("slow stopped in session"), "host: \(host.output)")

        // Answered now: stopping again is a conflict; a stranger cannot even see the message.
        await #expect(throws: GatewayClientError.self) { try await guest.stopReply(sessionID: session.id, messageID: posted.message.id) }
        let again = try await guest.send(.POST, "/v1/sessions/\(session.id)/messages/\(posted.message.id)/stop")
        #expect(again.status == 409)
        let stranger = try GatewayAPI(directory: ConfigDirectory(path: root + "/stranger"))
        let refused = try await stranger.send(.POST, "/v1/sessions/\(session.id)/messages/\(posted.message.id)/stop")
        #expect(refused.status == 404)
    }

    /// `share` through a pipe prints the URL alone, as scripts expect; `--qr` adds the QR code as
    /// plain half blocks (no escape sequences), drawn for the background COLORFGBG names.
    @Test func shareDrawsTheQRCodeThroughAPipeOnlyWhenAsked() async throws {
        let gateway = try await LiveGateway.dev()
        defer { gateway.stop() }
        let root = try temporaryDirectory("qr")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let owner = root + "/owner"
        _ = try await login(gateway, configDir: owner, as: "Olivia")
        let host = try Ctl(["host", "--agent", "echo"], configDir: owner)
        defer { host.signal(SIGKILL) }
        #expect(await host.waitFor("connected"), "host: \(host.output)")

        for arguments in [["share", "echo"], ["share", "echo", "--no-qr"]] {
            let plain = try await ctl(arguments, configDir: owner)
            #expect(plain.status == 0, "\(plain.output)")
            #expect(plain.output.hasSuffix("\n") && plain.output.dropLast().contains("/invite/"), "\(plain.output)")
            #expect(!plain.output.dropLast().contains("\n"), "only the URL: \(plain.output)")
        }
        for (colorFGBG, invert) in [("15;0", true), ("0;15", false)] {
            let share = try Ctl(["share", "echo", "--qr"], configDir: owner, environment: ["COLORFGBG": colorFGBG])
            share.closeInput()
            #expect(await share.exitStatus() == 0, "\(share.output)")
            let url = String(share.output.prefix { $0 != "\n" })
            #expect(url.contains("/invite/"), "\(share.output)")
            #expect(share.output == url + "\n" + (try QRCode(url)).terminalRendering(invert: invert), "\(share.output)")
        }
    }

    @Test(.requires(.redis, .postgres)) func hostResumesAfterItsOwnRestartAndTheGatewaysRestart() async throws {
        let gateway = try await LiveGateway.serve()
        defer { gateway.stop() }
        let root = try temporaryDirectory("resume")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let owner = root + "/owner"
        _ = try await login(gateway, configDir: owner, as: "Olivia")

        // A host started while the gateway is down waits for it.
        await gateway.kill()
        var host = try Ctl(["host", "--agent", "echo"], configDir: owner)
        #expect(await host.waitFor("reconnecting in"), "\(host.output)")
        try await gateway.start()
        #expect(await host.waitFor("connected", timeout: .seconds(40)), "\(host.output)")
        // Its first connection has no position to resume from until the stream's first event.
        let positionFile = owner + "/device-stream-position"
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: positionFile) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(FileManager.default.fileExists(atPath: positionFile))
        host.signal(SIGINT)
        #expect(await host.exitStatus(timeout: .seconds(10)) == 0, "\(host.output)")

        // The host is offline: the message is queued and answered once it is back.
        let chat = try Ctl(["chat", "echo"], configDir: owner)
        try await chat.send("while you were away")
        #expect(await chat.waitFor("host offline"), "\(chat.output)")
        host = try Ctl(["host", "--agent", "echo"], configDir: owner)
        defer { host.signal(SIGKILL) }
        #expect(await chat.waitFor("echo: while you were away\n"), "chat: \(chat.output)\nhost: \(host.output)")
        #expect(await host.waitFor("echo replied"), "\(host.output)")
        #expect(await chat.waitFor("host is back online"), "\(chat.output)")

        // The gateway restarts: the host and the open chat reconnect and carry on.
        let restartStarted = ContinuousClock.now
        try await gateway.restart()
        #expect(await host.waitFor("connection lost"), "\(host.output)")
        #expect(await host.waitFor("connected:", count: 2, timeout: .seconds(30)), "\(host.output)")
        let reconnectTime = ContinuousClock.now - restartStarted
        try await chat.send("after the restart")
        #expect(await chat.waitFor("echo: after the restart", timeout: .seconds(30)), "chat: \(chat.output)\nhost: \(host.output)")
        #expect(await host.waitFor("echo replied", count: 2), "\(host.output)")
        // The host stops: the open chat shows it going offline.
        host.signal(SIGTERM)
        #expect(await host.exitStatus(timeout: .seconds(10)) == 0, "\(host.output)")
        #expect(
            await chat.waitFor("host went offline", timeout: .seconds(20)),
            "chat: \(chat.output)\nhost: \(host.output)\ngateway: \(gateway.process.output.suffix(8000))")
        chat.closeInput()
        #expect(await chat.exitStatus() == 0, "\(chat.output)")
        print("gatewayctl timings: gateway restart to host reconnected \(reconnectTime)")
    }

    /// A message whose event the device stream lost (Redis emptied while the host was away) is
    /// still answered: the host resumes, gets `reset`, and takes it from the gateway's list of
    /// unanswered messages.
    @Test(.requires(.postgres, .redisServer)) func aMessageLostWithRedisIsStillAnswered() async throws {
        let redis = try RedisServerProcess()
        try await redis.start()
        defer { Task { await redis.cleanUp() } }
        let gateway = try await LiveGateway.serve(extra: ["REDIS_URL": redis.url])
        defer { gateway.stop() }
        let root = try temporaryDirectory("lost")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let owner = root + "/owner"
        _ = try await login(gateway, configDir: owner, as: "Lena")

        var host = try Ctl(["host", "--agent", "echo"], configDir: owner)
        #expect(await host.waitFor("connected"), "\(host.output)")
        let positionFile = owner + "/device-stream-position"
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: positionFile) { try await Task.sleep(for: .milliseconds(10)) }
        host.signal(SIGINT)
        #expect(await host.exitStatus(timeout: .seconds(10)) == 0, "\(host.output)")

        let chat = try Ctl(["chat", "echo"], configDir: owner)
        try await chat.send("kept by the store")
        #expect(await chat.waitFor("host offline"), "\(chat.output)")
        try await RedisClient(url: redis.url).flushall()

        host = try Ctl(["host", "--agent", "echo"], configDir: owner)
        defer { host.signal(SIGKILL) }
        #expect(await host.waitFor("reset"), "\(host.output)")
        #expect(await chat.waitFor("echo: kept by the store\n"), "chat: \(chat.output)\nhost: \(host.output)")
        #expect(await host.waitFor("echo replied", count: 1), "\(host.output)")
        chat.closeInput()
        #expect(await chat.exitStatus() == 0, "\(chat.output)")
        // Answered once: the reply is stored once and the list is empty.
        #expect(!(await host.waitFor("echo replied", count: 2, timeout: .seconds(2))), "\(host.output)")
    }

    /// The host goes away while it writes a reply: the chat breaks the line and says so at once
    /// (it does not hold the notice for a reply that will not finish now), and shows the reply
    /// whole when the host, back, answers again.
    @Test func aHostThatLeavesMidReplyIsShownAtOnceAndTheReplyComesWhole() async throws {
        let gateway = try await LiveGateway.dev()
        defer { gateway.stop() }
        let root = try temporaryDirectory("mid-reply")
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try await login(gateway, configDir: root, as: "Olivia")
        // The first answer stops halfway (the host is stopped meanwhile); the second is whole.
        let marker = root + "/answered-once"
        let script =
            "cat >/dev/null; if [ -e \(marker) ]; then printf 'half a reply'; "
            + "else touch \(marker); printf 'half a '; exec sleep 20; fi"
        var host = try Ctl(["host", "--agent", "parrot=command:\(script)"], configDir: root)
        defer { host.signal(SIGKILL) }
        #expect(await host.waitFor("connected"), "\(host.output)")
        let chat = try Ctl(["chat", "parrot"], configDir: root)
        defer { chat.signal(SIGKILL) }
        try await chat.send("hello")
        #expect(await chat.waitFor("parrot: half a "), "\(chat.output)")
        host.signal(SIGTERM)
        #expect(await host.exitStatus(timeout: .seconds(10)) == 0, "\(host.output)")
        #expect(await chat.waitFor("parrot: half a \n(host went offline"), "\(chat.output)")
        #expect(await chat.waitFor("(the host went offline in the middle of this reply"), "\(chat.output)")
        host = try Ctl(["host", "--agent", "parrot=command:\(script)"], configDir: root)
        // Answered again: a new attempt, shown whole on its own line, once.
        #expect(
            await chat.waitFor("(the host answers again from the start)\nparrot: half a reply\n"),
            "chat: \(chat.output)\nhost: \(host.output)")
        #expect(chat.output.components(separatedBy: "half a reply").count == 2, "\(chat.output)")
        chat.closeInput()
        #expect(await chat.exitStatus() == 0, "\(chat.output)")
    }

    /// A finished reply whose event Redis lost before the chat read it is taken from the stored
    /// messages when the chat's stream is reset, so the chat does not wait for it forever. The
    /// test is the device; the chat is stopped (SIGSTOP) while the gateway restarts, the reply is
    /// stored and Redis loses its data.
    @Test(.requires(.postgres, .redisServer)) func aReplyLostWithRedisBeforeTheChatReadItIsTakenFromTheStore() async throws {
        let redis = try RedisServerProcess()
        try await redis.start()
        defer { Task { await redis.cleanUp() } }
        let gateway = try await LiveGateway.serve(extra: ["REDIS_URL": redis.url])
        defer { gateway.stop() }
        let root = try temporaryDirectory("lost-reply")
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try await login(gateway, configDir: root, as: "Lena")
        let device = try await TestDevice(configDir: root, agent: "parrot")

        let chat = try Ctl(["chat", "parrot"], configDir: root)
        defer { chat.signal(SIGKILL) }
        try await chat.send("are you there")
        #expect(await chat.waitFor("(host offline"), "\(chat.output)")
        let message = try await device.nextUnanswered()
        chat.signal(SIGSTOP)
        try await gateway.restart()
        try await device.reply(to: message, .done, "here I am")
        try await RedisClient(url: redis.url).flushall()
        chat.signal(SIGCONT)
        #expect(await chat.waitFor("parrot: here I am\n", timeout: .seconds(30)), "\(chat.output)")
        chat.closeInput()
        #expect(await chat.exitStatus() == 0, "\(chat.output)")
        #expect(chat.output.components(separatedBy: "here I am").count == 2, "shown once: \(chat.output)")
    }

    /// The access token is refreshed by itself; the rotated refresh token replaces the old one.
    @Test func expiredAccessTokenIsRefreshedAndTheRotatedTokenStored() async throws {
        let gateway = try await LiveGateway.dev()
        defer { gateway.stop() }
        let root = try temporaryDirectory("refresh")
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try await login(gateway, configDir: root, as: "Rita")
        let directory = ConfigDirectory(path: root)
        var credentials = try #require(directory.loadCredentials())
        let before = credentials
        credentials.expiresAt = Date().timeIntervalSince1970 - 10
        try directory.saveCredentials(credentials)

        let whoami = try await ctl(["whoami"], configDir: root)
        #expect(whoami.status == 0 && whoami.output.contains("Rita"), "\(whoami.output)")
        let after = try #require(directory.loadCredentials())
        #expect(after.refreshToken != before.refreshToken)
        #expect(after.accessToken != before.accessToken)
        #expect(after.expiresAt > Date().timeIntervalSince1970 + 60)
        #expect(try permissions(root + "/credentials.json") == 0o600)
        // Leftover temporary files would mean the replacement was not atomic.
        let files = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.contains(".tmp-") }
        #expect(files.isEmpty, "\(files)")

        // Signing in again revokes the sign-in it replaces.
        _ = try await login(gateway, configDir: root, as: "Rita")
        let replaced = try await HTTPTransport.send(
            .POST, after.tokenEndpoint, headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: HTTPTransport.form([("grant_type", "refresh_token"), ("refresh_token", after.refreshToken), ("client_id", "gatewayctl")]))
        #expect(replaced.status == 400 && replaced.text.contains("invalid_grant"), "\(replaced.text)")
    }

    /// `login --device-code`: the person opens the printed verification URL elsewhere, enters the
    /// code and allows; gatewayctl polls until then.
    @Test func deviceCodeLogin() async throws {
        let gateway = try await LiveGateway.dev()
        defer { gateway.stop() }
        let root = try temporaryDirectory("device-code")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let login = try Ctl(["login", gateway.url, "--device-code"], configDir: root)
        #expect(await login.waitFor("Waiting for approval"), "\(login.output)")
        let words = login.output.split(whereSeparator: \.isWhitespace).map(String.init)
        let verification = try #require(words.first { $0.hasSuffix("/device") }, "\(login.output)")
        let userCode = try #require(
            words.first { $0.range(of: "^[A-Z]{4}-[A-Z]{4}$", options: .regularExpression) != nil }, "\(login.output)")
        let approved = try await TestBrowser.submitForm(
            pageURL: verification, postURL: verification,
            fields: [("user_code", userCode), ("display_name", "Dana"), ("action", "allow")])
        #expect(approved.status == 200, "\(approved.body)")
        #expect(await login.exitStatus(timeout: .seconds(30)) == 0, "\(login.output)")
        #expect(login.output.contains("Signed in to \(gateway.url) as Dana"), "\(login.output)")
        #expect(try permissions(root + "/credentials.json") == 0o600)
    }

    /// A device id already registered to another account (another person signed in with this
    /// configuration directory before) is replaced by a new one instead of failing.
    @Test func deviceIDOfAnotherAccountIsRenewed() async throws {
        let gateway = try await LiveGateway.dev()
        defer { gateway.stop() }
        let root = try temporaryDirectory("device-conflict")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = root + "/first"
        let second = root + "/second"
        _ = try await login(gateway, configDir: first, as: "First")
        let host = try Ctl(["host"], configDir: first)
        #expect(await host.waitFor("connected"), "\(host.output)")
        host.signal(SIGTERM)
        #expect(await host.exitStatus() == 0)
        let takenID = try String(contentsOfFile: first + "/device-id", encoding: .utf8)
        _ = try await login(gateway, configDir: second, as: "Second")
        try takenID.write(toFile: second + "/device-id", atomically: true, encoding: .utf8)
        let secondHost = try Ctl(["host"], configDir: second)
        defer { secondHost.signal(SIGKILL) }
        #expect(await secondHost.waitFor("connected"), "\(secondHost.output)")
        let renewedID = try String(contentsOfFile: second + "/device-id", encoding: .utf8)
        #expect(renewedID != takenID && secondHost.output.contains(renewedID.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test func clearErrorsAndExitStatuses() async throws {
        let root = try temporaryDirectory("errors")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let signedOut = try await ctl(["agents"], configDir: root)
        #expect(signedOut.status == ExitStatus.signedOut)
        #expect(signedOut.output.contains("not signed in: run gatewayctl login"), "\(signedOut.output)")

        let port = try freeLoopbackPort()
        let unreachable = try await ctl(["login", "http://127.0.0.1:\(port)"], configDir: root)
        #expect(unreachable.status == ExitStatus.unreachable)
        #expect(unreachable.output.contains("cannot reach the gateway at http://127.0.0.1:\(port)"), "\(unreachable.output)")

        let badAgent = try await ctl(["host", "--agent", "x=nope:1"], configDir: root)
        #expect(badAgent.status == ExitStatus.usage && badAgent.output.contains("unknown backend"), "\(badAgent.output)")
    }
}
