import Foundation
import GatewayClient
import GatewayProtocol
import Testing

// The examples of docs/gatewayctl.md ("Using the client library in a desktop app"), kept here so
// they compile against the library's public API: if a signature they use changes, this file
// stops building. Only what needs no gateway runs.

/// Carries the authorization request out of the loopback listener's callback.
actor PendingSignIn {
    var request: OAuthClient.AuthorizationRequest?
    func set(_ request: OAuthClient.AuthorizationRequest) { self.request = request }
}

/// Signs in through the browser (authorization code + PKCE) and stores the tokens in `directory`.
func signIn(to gatewayURL: String, in directory: ConfigDirectory, openBrowser: @escaping @Sendable (String) -> Void)
    async throws
{
    let oauth = try await OAuthClient.discover(gatewayURL: gatewayURL)
    let pending = PendingSignIn()
    let callback = try await LoopbackRedirectReceiver.receive { redirectURI in
        let request = oauth.authorizationRequest(redirectURI: redirectURI)
        await pending.set(request)
        openBrowser(request.url)
    }
    guard let request = await pending.request else { throw GatewayClientError.invalidResponse("no sign-in request") }
    try directory.saveCredentials(try await oauth.completeAuthorization(request, callback: callback))
}

func deviceSignIn(to gatewayURL: String, in directory: ConfigDirectory) async throws {
    let oauth = try await OAuthClient.discover(gatewayURL: gatewayURL)
    let authorization = try await oauth.startDeviceAuthorization()
    print(authorization.verificationURIComplete, authorization.userCode)
    try directory.saveCredentials(try await oauth.pollDeviceAuthorization(authorization))
}

func signOut(of directory: ConfigDirectory) async throws {
    if let credentials = directory.loadCredentials() { try await OAuthClient.revoke(credentials) }
    directory.deleteCredentials()
}

func callTheAPI(directory: ConfigDirectory) async throws {
    let api = try GatewayAPI(directory: directory)
    let me = try await api.me().value
    print("\(me.displayName) on \(api.baseURL)")
    for agent in try await api.agents().value {
        print(agent.name, agent.access == .owner ? "yours" : "from \(agent.ownerName)", agent.hostOnline ? "online" : "offline")
    }
    let agent = try await api.findAgent("shout", access: .owner)
    let created = try await api.createShare(agentID: agent.id, body: ShareBody(expiresIn: 7 * 24 * 3600, maxUses: 1)).value
    print(created.inviteURL)
}

func followTheUserStream(api: GatewayAPI) async throws {
    for try await update in EventStream(api: api, path: "/v1/events", startAfter: nil).updates() {
        guard case .event(let event) = update else { continue }
        if case .deviceStatus(let status) = event.gatewayEvent { print(status.deviceID, status.online) }
    }
}

/// Answers every message in capitals, a word at a time.
struct ShoutBackend: AgentBackend {
    var kind: String { "shout" }

    func reply(to request: ReplyRequest) -> AsyncThrowingStream<String, any Error> {
        AsyncThrowingStream { continuation in
            for word in request.text.uppercased().split(separator: " ") {
                continuation.yield(String(word) + " ")
            }
            continuation.finish()
        }
    }
}

func host(api: GatewayAPI, directory: ConfigDirectory) async throws -> Task<Void, any Error> {
    let host = DeviceHost(
        api: api, directory: directory, deviceID: try directory.deviceID(), deviceName: DeviceIdentity.hostName,
        agents: [.init(key: "shout", name: "Shout", description: "Answers in capitals.", backend: ShoutBackend())],
        report: { status in print(status) })
    return Task { try await host.run() }
}

@Suite("docs/gatewayctl.md library examples")
struct LibraryExampleTests {
    @Test func theExampleBackendStreamsItsReplyInPieces() async throws {
        let request = ReplyRequest(sessionID: "s", messageID: "m", text: "hello there", userName: "Bob", agentKey: "shout")
        var pieces: [String] = []
        for try await piece in ShoutBackend().reply(to: request) { pieces.append(piece) }
        #expect(pieces == ["HELLO ", "THERE "])
    }
}
