import AsyncHTTPClient
import Foundation
import GatewayProtocol
import NIOCore
import NIOHTTP1

/// The signed-in `/v1` API: typed calls, bearer tokens refreshed by themselves.
///
/// The access token is refreshed shortly before it expires and once more when the gateway says
/// 401. Refresh tokens rotate, so the new pair is written to disk (atomically) before it is
/// used, under a lock shared with every gatewayctl process using the same directory.
public actor GatewayAPI {
    public nonisolated let baseURL: String
    private let directory: ConfigDirectory
    private var credentials: StoredCredentials
    private var refreshing: Task<StoredCredentials, any Error>?

    /// The API of the sign-in stored in `directory`; throws ``GatewayClientError/signedOut(gateway:)``
    /// when there is none.
    public init(directory: ConfigDirectory) throws {
        guard let credentials = directory.loadCredentials() else { throw GatewayClientError.signedOut(gateway: nil) }
        self.directory = directory
        self.credentials = credentials
        self.baseURL = credentials.gatewayURL
    }

    // MARK: Tokens

    /// A valid access token, refreshed first when it expires within a minute (or was `rejected`).
    func accessToken(rejected: String? = nil) async throws -> String {
        if let refreshing { return try await refreshing.value.accessToken }
        let expiresSoon = credentials.expiresAt - Date().timeIntervalSince1970 < 60
        if !expiresSoon && credentials.accessToken != rejected { return credentials.accessToken }
        let task = Task { [directory, credentials] in try await Self.refresh(credentials, in: directory) }
        refreshing = task
        defer { refreshing = nil }
        let fresh = try await task.value
        credentials = fresh
        return fresh.accessToken
    }

    private static func refresh(_ held: StoredCredentials, in directory: ConfigDirectory) async throws -> StoredCredentials {
        try await directory.withCredentialsLock {
            // Another process may have rotated the tokens already: adopt its pair.
            guard let current = directory.loadCredentials(), current.gatewayURL == held.gatewayURL else {
                throw GatewayClientError.signedOut(gateway: held.gatewayURL)
            }
            if current.refreshToken != held.refreshToken, current.expiresAt - Date().timeIntervalSince1970 >= 60 {
                return current
            }
            let fresh: StoredCredentials
            do {
                fresh = try await OAuthClient.tokenRequest(
                    [("grant_type", "refresh_token"), ("refresh_token", current.refreshToken), ("client_id", current.clientID)],
                    endpoint: current.tokenEndpoint, gatewayURL: current.gatewayURL, issuer: current.issuer,
                    revocationEndpoint: current.revocationEndpoint)
            } catch GatewayClientError.oauth(let error, _) where error == "invalid_grant" || error == "invalid_client" {
                throw GatewayClientError.signedOut(gateway: current.gatewayURL)
            }
            try directory.saveCredentials(fresh)
            return fresh
        }
    }

    // MARK: Requests

    /// Sends an authorized request; retries once with a refreshed token after a 401.
    public func send(
        _ method: HTTPMethod, _ path: String, body: (any Encodable & Sendable)? = nil, headers: [(String, String)] = []
    ) async throws -> HTTPTransport.Response {
        let data = try body.map { try WireJSON.sharedEncoder.encode($0) }
        var token = try await accessToken()
        for attempt in 0..<2 {
            var allHeaders = headers + [("Authorization", "Bearer \(token)"), ("Accept", "application/json")]
            if data != nil { allHeaders.append(("Content-Type", "application/json")) }
            let response = try await HTTPTransport.send(method, baseURL + path, headers: allHeaders, body: data)
            if response.status == 401 && attempt == 0 {
                token = try await accessToken(rejected: token)
                continue
            }
            if response.status == 401 { throw GatewayClientError.signedOut(gateway: baseURL) }
            return response
        }
        throw GatewayClientError.signedOut(gateway: baseURL)
    }

    /// Sends and decodes a 2xx answer; anything else becomes a ``GatewayClientError``.
    public func call<T: Decodable & Sendable>(
        _ type: T.Type, _ method: HTTPMethod, _ path: String, body: (any Encodable & Sendable)? = nil,
        headers: [(String, String)] = []
    ) async throws -> Answer<T> {
        let response = try await send(method, path, body: body, headers: headers)
        guard (200..<300).contains(response.status) else { throw GatewayClientError.problem(response.problem) }
        do {
            return Answer(
                value: try WireJSON.sharedDecoder.decode(T.self, from: response.body), raw: response.body, status: response.status)
        } catch {
            throw GatewayClientError.invalidResponse("\(method) \(path) answered with an unexpected body")
        }
    }

    /// A decoded answer and the JSON it was decoded from (for `--json` output).
    public struct Answer<T: Sendable>: Sendable {
        public var value: T
        public var raw: Data
        public var status: Int
    }

    /// Opens an event stream (`text/event-stream`) at `path`, resuming after `lastEventID`.
    func openStream(_ path: String, lastEventID: String?) async throws -> HTTPClientResponse {
        var token = try await accessToken()
        for attempt in 0..<2 {
            var request = HTTPClientRequest(url: baseURL + path)
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Accept", value: "text/event-stream")
            if let lastEventID, !lastEventID.isEmpty { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
            let response = try await HTTPTransport.open(request, url: baseURL + path)
            if response.status == .unauthorized && attempt == 0 {
                token = try await accessToken(rejected: token)
                continue
            }
            return response
        }
        throw GatewayClientError.signedOut(gateway: baseURL)
    }

    // MARK: Typed calls

    public func me() async throws -> Answer<Me> { try await call(Me.self, .GET, "/v1/me") }
    public func devices() async throws -> Answer<[DeviceView]> { try await call([DeviceView].self, .GET, "/v1/devices") }
    public func agents() async throws -> Answer<[AgentView]> { try await call([AgentView].self, .GET, "/v1/agents") }
    public func shares() async throws -> Answer<[ShareView]> { try await call([ShareView].self, .GET, "/v1/shares") }
    public func incomingShares() async throws -> Answer<[ShareView]> { try await call([ShareView].self, .GET, "/v1/shares/incoming") }

    public func registerDevice(id: String, name: String, platform: String) async throws -> Answer<DeviceView> {
        try await call(DeviceView.self, .PUT, "/v1/devices/\(id)", body: DeviceBody(name: name, platform: platform))
    }

    public func publishAgent(deviceID: String, key: String, name: String, description: String, capabilities: [String])
        async throws -> Answer<AgentView>
    {
        try await call(
            AgentView.self, .PUT, "/v1/devices/\(deviceID)/agents/\(key)",
            body: AgentBody(name: name, description: description, capabilities: capabilities))
    }

    public func createShare(agentID: String, body: ShareBody) async throws -> Answer<CreatedShare> {
        try await call(CreatedShare.self, .POST, "/v1/agents/\(Self.escape(agentID))/shares", body: body)
    }

    public func revokeShare(id: String) async throws -> Answer<ShareView> {
        try await call(ShareView.self, .DELETE, "/v1/shares/\(Self.escape(id))")
    }

    public func acceptInvite(code: String) async throws -> Answer<AcceptedInvite> {
        try await call(AcceptedInvite.self, .POST, "/v1/invites/\(Self.escape(code))/accept")
    }

    public func openSession(agentID: String) async throws -> Answer<SessionView> {
        try await call(SessionView.self, .POST, "/v1/sessions", body: SessionBody(agentID: agentID))
    }

    public func postMessage(sessionID: String, text: String, idempotencyKey: String) async throws -> Answer<PostedMessage> {
        try await call(
            PostedMessage.self, .POST, "/v1/sessions/\(Self.escape(sessionID))/messages",
            body: MessageBody(text: text), headers: [("Idempotency-Key", idempotencyKey)])
    }

    /// Asks the host to stop answering `messageID`; it posts what it had written as the reply.
    public func stopReply(sessionID: String, messageID: String) async throws {
        let response = try await send(.POST, "/v1/sessions/\(Self.escape(sessionID))/messages/\(Self.escape(messageID))/stop")
        guard (200..<300).contains(response.status) else { throw GatewayClientError.problem(response.problem) }
    }

    /// User messages in this device's open sessions that have no stored reply, oldest first.
    func unansweredMessages(deviceID: String) async throws -> [MessageCreatedEvent] {
        try await call(UnansweredMessageList.self, .GET, "/v1/devices/\(Self.escape(deviceID))/unanswered").value.messages
    }

    public func postReply(deviceID: String, sessionID: String, kind: ReplyKind, replyTo: String, text: String, index: Int? = nil)
        async throws
    {
        let response = try await send(
            .POST, "/v1/devices/\(deviceID)/sessions/\(Self.escape(sessionID))/replies",
            body: ReplyBody(kind: kind, replyTo: replyTo, text: text, index: index))
        guard (200..<300).contains(response.status) else { throw GatewayClientError.problem(response.problem) }
    }

    static func escape(_ segment: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }

    // MARK: Finding things by name

    /// The agent called `reference` (its id, key or name), among those of `access` (nil for both).
    public func findAgent(_ reference: String, access: AgentAccess? = nil) async throws -> AgentView {
        let agents = try await agents().value.filter { access == nil || $0.access == access }
        for matches in [
            agents.filter { $0.id == reference }, agents.filter { $0.key == reference },
            agents.filter { $0.name == reference }, agents.filter { $0.name.lowercased() == reference.lowercased() },
        ] where !matches.isEmpty {
            if matches.count == 1 { return matches[0] }
            let choices = matches.map { "\($0.id) (\($0.name), \($0.access == .owner ? "yours" : "from \($0.ownerName)"))" }
            throw GatewayClientError.usage("\"\(reference)\" names several agents; use an id: \(choices.joined(separator: ", "))")
        }
        let known = agents.map(\.key).joined(separator: ", ")
        throw GatewayClientError.notFound(
            "no agent \"\(reference)\"\(known.isEmpty ? "" : " (agents: \(known))"); see gatewayctl agents")
    }
}
