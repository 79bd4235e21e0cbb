import Foundation
import GatewayProtocol
import GatewayTestSupport
import Testing

@testable import GatewayAgentBackends
@testable import GatewayClient

@Suite struct AgentSpecTests {
    @Test func plainNamesUseTheDefaultBackend() throws {
        #expect(try AgentSpec.parseAll(["helper"], command: nil, model: nil) == [AgentSpec(key: "helper", backend: .echo)])
        #expect(try AgentSpec.parseAll(["a"], command: "cat", model: nil) == [AgentSpec(key: "a", backend: .command("cat"))])
        #expect(try AgentSpec.parseAll(["a"], command: nil, model: "m") == [AgentSpec(key: "a", backend: .openai(model: "m"))])
        #expect(try AgentSpec.parseAll([], command: nil, model: nil) == [AgentSpec(key: "echo", backend: .echo)])
        #expect(try AgentSpec.parseAll([], command: "cat", model: nil) == [AgentSpec(key: "command", backend: .command("cat"))])
    }

    @Test func explicitBackends() throws {
        let specs = try AgentSpec.parseAll(
            ["e=echo", "c=command:tr a-z A-Z | sed 's/=/:/'", "m=openai:llama3.2", "n=openai"], command: "x", model: "fallback")
        #expect(
            specs == [
                AgentSpec(key: "e", backend: .echo), AgentSpec(key: "c", backend: .command("tr a-z A-Z | sed 's/=/:/'")),
                AgentSpec(key: "m", backend: .openai(model: "llama3.2")), AgentSpec(key: "n", backend: .openai(model: "fallback")),
            ])
    }

    @Test(arguments: ["bad name", "x=unknown", "x=command:", "x=openai", "", String(repeating: "a", count: 65)])
    func invalidSpecsAreRefused(_ text: String) {
        #expect(throws: GatewayClientError.self) { try AgentSpec.parseAll([text], command: nil, model: nil) }
    }

    @Test func ambiguousDefaultsAndDuplicatesAreRefused() {
        #expect(throws: GatewayClientError.self) { try AgentSpec.parseAll(["a"], command: "cat", model: "m") }
        #expect(throws: GatewayClientError.self) { try AgentSpec.parseAll(["a", "a=echo"], command: nil, model: nil) }
    }
}

@Suite struct TextParsingTests {
    @Test func inviteCodesFromURLsOrAlone() throws {
        #expect(try InviteCode.parse("https://gw.example.com/invite/AbC_12-x") == "AbC_12-x")
        #expect(try InviteCode.parse(" http://localhost:8080/invite/AbC?x=1 ") == "AbC")
        #expect(try InviteCode.parse("AbC_12") == "AbC_12")
        #expect(throws: GatewayClientError.self) { try InviteCode.parse("https://gw.example.com/other/AbC") }
        #expect(throws: GatewayClientError.self) { try InviteCode.parse("") }
    }

    @Test func durations() throws {
        #expect(try DurationText.seconds("90") == 90)
        #expect(try DurationText.seconds("30m") == 1800)
        #expect(try DurationText.seconds("12h") == 43200)
        #expect(try DurationText.seconds("7d") == 604_800)
        #expect(throws: GatewayClientError.self) { try DurationText.seconds("soon") }
        #expect(throws: GatewayClientError.self) { try DurationText.seconds("-5m") }
    }

    @Test func gatewayURLsAreNormalised() throws {
        #expect(try OAuthClient.normalizedGatewayURL("https://gw.example.com/") == "https://gw.example.com")
        #expect(try OAuthClient.normalizedGatewayURL("gw.example.com") == "https://gw.example.com")
        #expect(try OAuthClient.normalizedGatewayURL("http://127.0.0.1:8080/?x=1") == "http://127.0.0.1:8080")
        #expect(throws: GatewayClientError.self) { try OAuthClient.normalizedGatewayURL("ftp://gw.example.com") }
    }

    @Test func pkceChallengeIsBase64URLOfSHA256() {
        // Computed independently: base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()) without padding.
        #expect(PKCE.challenge(for: "dBjftJeZ4CVP-mJ0kjYjnb1FAsp5UH8gJRVgDl2j0Jk") == "rEikXIw9Ww3jLdw57HywIpmrUJE98ET7ABdG8OQXyDQ")
        #expect(PKCE.makeVerifier().count == 43)
    }

    @Test func errorsHaveOneLineAndTheDocumentedStatus() {
        let revoked = GatewayClientError.problem(
            ProblemDetails(type: "urn:agent-gateway:problem:share-revoked", title: "Access revoked", status: 403, detail: "gone"))
        #expect(revoked.exitCode == ExitStatus.accessGone && revoked.description == "share revoked: gone")
        let expired = GatewayClientError.problem(
            ProblemDetails(
                type: "urn:agent-gateway:problem:invite-expired", title: "Invite expired", status: 410, detail: "this invite has expired"))
        #expect(expired.exitCode == ExitStatus.accessGone && expired.description.hasPrefix("invite expired"))
        #expect(GatewayClientError.signedOut(gateway: "https://gw").description == "not signed in: run gatewayctl login https://gw")
        #expect(GatewayClientError.unreachable(url: "https://gw", reason: "connection refused").exitCode == ExitStatus.unreachable)
    }
}

@Suite struct ConfigDirectoryTests {
    @Test func resolutionOrder() {
        #expect(ConfigDirectory.resolve(explicit: "/a", environment: ["GATEWAYCTL_CONFIG_DIR": "/b"]).path == "/a")
        #expect(ConfigDirectory.resolve(explicit: nil, environment: ["GATEWAYCTL_CONFIG_DIR": "/b", "XDG_CONFIG_HOME": "/x"]).path == "/b")
        #expect(ConfigDirectory.resolve(explicit: nil, environment: ["XDG_CONFIG_HOME": "/x", "HOME": "/h"]).path == "/x/gatewayctl")
        #expect(ConfigDirectory.resolve(explicit: nil, environment: ["HOME": "/h"]).path == "/h/.config/gatewayctl")
    }

    @Test func credentialsAreOwnerOnlyAndReplacedAtomically() throws {
        let root = try temporaryDirectory("store")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = ConfigDirectory(path: root + "/nested/gatewayctl")
        var credentials = StoredCredentials(
            gatewayURL: "https://gw", issuer: "https://gw", tokenEndpoint: "https://gw/oauth/token",
            revocationEndpoint: "https://gw/oauth/revoke", clientID: "gatewayctl", accessToken: "a1", refreshToken: "r1",
            expiresAt: 1)
        try directory.saveCredentials(credentials)
        #expect(try permissions(directory.path) == 0o700)
        #expect(try permissions(directory.path + "/credentials.json") == 0o600)
        credentials.refreshToken = "r2"
        try directory.saveCredentials(credentials)
        #expect(directory.loadCredentials()?.refreshToken == "r2")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["credentials.json"])
        directory.deleteCredentials()
        #expect(directory.loadCredentials() == nil)
    }

    @Test func deviceIDIsMadeOnceAndKept() throws {
        let root = try temporaryDirectory("device")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = ConfigDirectory(path: root)
        let id = try directory.deviceID()
        #expect(DeviceIdentity.isValidKey(id) && id.hasPrefix("gatewayctl-"))
        #expect(try directory.deviceID() == id)
        #expect(try permissions(root + "/device-id") == 0o600)
    }
}

@Suite struct BackendTests {
    private func collect(_ stream: AsyncThrowingStream<String, any Error>) async throws -> [String] {
        var pieces: [String] = []
        for try await piece in stream { pieces.append(piece) }
        return pieces
    }

    private let request = ReplyRequest(sessionID: "s1", messageID: "m1", text: "hello world", userName: "Ada", agentKey: "k")

    @Test func echoStreamsWordsThatJoinToTheText() async throws {
        let pieces = try await collect(EchoBackend().reply(to: request))
        #expect(pieces == ["hello ", "world"])
        #expect(EchoBackend.pieces("  a  b ").joined() == "  a  b ")
    }

    /// The framing: the text plus a newline on stdin, stdout streamed until EOF, context in the
    /// environment.
    @Test func commandGetsTheTextOnStdinAndStreamsStdout() async throws {
        let backend = CommandBackend(
            command: #"read line; printf '%s|' "$GATEWAY_USER_NAME" "$GATEWAY_SESSION_ID"; sleep 0.3; printf '%s' "$line""#)
        let pieces = try await collect(backend.reply(to: request))
        #expect(pieces.joined() == "Ada|s1|hello world")
        #expect(pieces.count >= 2, "stdout should arrive as it is written: \(pieces)")
    }

    @Test func commandFailureCarriesStderr() async throws {
        let backend = CommandBackend(command: "cat >/dev/null; echo 'model not loaded' >&2; exit 3")
        await #expect {
            _ = try await collect(backend.reply(to: request))
        } throws: { error in
            "\(error)".contains("status 3") && "\(error)".contains("model not loaded")
        }
    }

    /// A command gets stdin, stdout and stderr and nothing else of gatewayctl's: SwiftNIO's
    /// sockets are not close-on-exec, and a child holding the device stream's socket kept a killed
    /// host's device online.
    @Test func commandsInheritOnlyTheStandardDescriptors() async throws {
        var pipeEnds: [Int32] = [-1, -1]
        #expect(pipe(&pipeEnds) == 0) // open, and not close-on-exec, while the command starts
        defer { for descriptor in pipeEnds { close(descriptor) } }
        let backend = CommandBackend(command: #"cat >/dev/null; ls /proc/$$/fd | sort -n | tr '\n' ' '"#)
        let descriptors = try await collect(backend.reply(to: request)).joined().split(separator: " ").map(String.init)
        #expect(descriptors == ["0", "1", "2"])
    }

    /// Stopping a command stops what it started too: a `sh -c` child must not outlive it.
    @Test func stoppingACommandStopsItsWholeProcessGroup() async throws {
        let backend = CommandBackend(command: "cat >/dev/null; sleep 30 & echo $!; wait")
        let stream = backend.reply(to: request)
        var iterator = stream.makeAsyncIterator()
        let first = try await iterator.next() ?? ""
        let child = try #require(Int32(first.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(child, 0) == 0, "the sleep runs")
        let consumer = Task { while (try? await iterator.next()) != nil {} }
        consumer.cancel() // the reply is stopped: the command gets SIGTERM
        _ = await consumer.result
        let deadline = ContinuousClock.now + .seconds(3)
        while kill(child, 0) == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(kill(child, 0) == -1, "the command's own child was stopped with it")
    }

    @Test func multiByteCharactersAreNeverSplit() {
        var decoder = UTF8ChunkDecoder()
        let bytes = Array("é😀".utf8)
        var text = ""
        for byte in bytes { text += decoder.decode([byte]) }
        text += decoder.finish()
        #expect(text == "é😀")
        var decoder2 = UTF8ChunkDecoder()
        #expect(decoder2.decode(Array(bytes[0..<3])) == "é")
        #expect(decoder2.decode(Array(bytes[3...])) == "😀")
    }
}

@Suite struct TerminalTextTests {
    @Test func controlCharactersOtherThanNewlineAndTabAreDropped() {
        #expect(TerminalText.sanitized("plain text\nnext\tcolumn") == "plain text\nnext\tcolumn")
        #expect(TerminalText.sanitized("\u{1B}]0;title\u{07}x") == "]0;titlex")
        #expect(TerminalText.sanitized("\u{1B}]52;c;aGk=\u{1B}\\y") == "]52;c;aGk=\\y")
        #expect(TerminalText.sanitized("a\u{9B}2Jb\rc\u{0}d\u{7F}e") == "a2Jbcde")
        #expect(TerminalText.sanitized("héllo wörld 👋") == "héllo wörld 👋")
    }
}
