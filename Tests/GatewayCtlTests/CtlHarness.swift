import AsyncHTTPClient
import Foundation
import GatewayAgentBackends
import GatewayClient
import GatewayProtocol
import GatewayTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing

/// The `gatewayctl` binary under test: `GATEWAYCTL_BINARY`, else the one `swift build` put next
/// to the tests.
func gatewayctlBinary() throws -> String {
    try TestEnvironment.builtProduct("gatewayctl", variable: "GATEWAYCTL_BINARY")
}

let ctlSigningKey = "c3Vw3rR4nd0m+Kq9xT2bLw8ZpQe5Yh1NvUa7MjGdFs6Ck0Ho"

/// A throw-away directory for a test's config dirs and scripts.
func temporaryDirectory(_ label: String) throws -> String {
    let path = NSTemporaryDirectory() + "gatewayctl-\(label)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A live gateway for a test: `serve` on Redis and a fresh Postgres database, or `dev`.
final class LiveGateway: Sendable {
    let port: Int
    let environment: [String: String]
    let arguments: [String]
    /// Replaced when the test restarts the gateway.
    private let current: NIOLockedValueBox<GatewayProcess>
    var process: GatewayProcess { current.withLockedValue { $0 } }

    var url: String { "http://127.0.0.1:\(port)" }

    /// `serve` with TEST_REDIS_URL and a new database on TEST_DATABASE_URL.
    static func serve(extra: [String: String] = [:]) async throws -> LiveGateway {
        let port = try freeLoopbackPort()
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "PORT": String(port),
            "PUBLIC_BASE_URL": "http://localhost:\(port)", "JWT_SIGNING_KEY": ctlSigningKey,
            "REDIS_URL": try TestEnvironment.redisURL(), "DATABASE_URL": try await TestEnvironment.createDatabase(),
            "AUTH_MODE": "demo", "SIGNIN_RATE_LIMIT_PER_MINUTE": "1000", "TOKEN_RATE_LIMIT_PER_MINUTE": "1000",
            "AUTHORIZE_RATE_LIMIT_PER_MINUTE": "1000",
        ]
        environment.merge(extra) { $1 }
        return try await LiveGateway(port: port, arguments: ["serve"], environment: environment)
    }

    /// `gateway dev`: SQLite in its own empty directory, in-process event bus.
    static func dev() async throws -> LiveGateway {
        let port = try freeLoopbackPort()
        return try await LiveGateway(
            port: port, arguments: ["dev"],
            environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "PORT": String(port)])
    }

    private init(port: Int, arguments: [String], environment: [String: String]) async throws {
        self.port = port
        self.arguments = arguments
        self.environment = environment
        current = NIOLockedValueBox(try GatewayProcess(arguments: arguments, environment: environment))
        try await waitUntilServing()
    }

    private func waitUntilServing() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let response = try? await HTTPTransport.send(.GET, url + "/healthz", timeout: .seconds(1)), response.status == 200 {
                return
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw MissingTestServiceError(description: "the gateway did not start: \(process.output)")
    }

    /// Kills the process and starts it again on the same port with the same environment.
    func restart() async throws {
        await kill()
        try await start()
    }

    func kill() async {
        process.kill()
        _ = await process.waitForExit(timeout: .seconds(10))
    }

    /// Starts it again (after ``kill()``) on the same port with the same environment.
    func start() async throws {
        let started = try GatewayProcess(arguments: arguments, environment: environment)
        current.withLockedValue { $0 = started }
        try await waitUntilServing()
    }

    func stop() {
        process.kill()
    }
}

/// A running gatewayctl: stdin is a pipe the test writes to; stdout and stderr are collected.
final class Ctl: Sendable {
    let arguments: [String]
    private let process: Subprocess
    private let collected = OutputBuffer()
    private let readers: [Task<Void, Never>]

    init(_ arguments: [String], configDir: String?, environment extra: [String: String] = [:]) throws {
        self.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "GATEWAYCTL_CONFIG_DIR")
        environment.merge(extra) { $1 }
        let all = arguments + (configDir.map { ["--config-dir", $0] } ?? [])
        process = try Subprocess(executable: try gatewayctlBinary(), arguments: all, environment: environment)
        let collected = self.collected
        readers = [process.standardOutput, process.standardError].map { stream in
            Task {
                for await chunk in stream { collected.append(String(decoding: chunk, as: UTF8.self)) }
            }
        }
    }

    var output: String { collected.text }
    var pid: Int32 { process.pid }

    func send(_ line: String) async throws {
        try await process.write(Array((line + "\n").utf8))
    }

    func closeInput() {
        process.closeStandardInput()
    }

    func signal(_ signal: Int32) {
        process.send(signal)
    }

    /// Waits until `text` shows up `count` times; false on timeout.
    func waitFor(_ text: String, count: Int = 1, timeout: Duration = .seconds(20)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if output.components(separatedBy: text).count - 1 >= count { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// The exit status, or nil when still running after `timeout`; output is complete after it.
    func exitStatus(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.terminationStatus == nil && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard let status = process.terminationStatus else { return nil }
        for reader in readers { await reader.value }
        return status
    }

    deinit {
        process.send(SIGKILL)
    }
}

final class OutputBuffer: Sendable {
    private let value = NIOLockedValueBox("")

    var text: String { value.withLockedValue { $0 } }

    func append(_ text: String) {
        value.withLockedValue { $0 += text }
    }
}

/// Runs gatewayctl to completion with `input` on stdin.
func ctl(_ arguments: [String], configDir: String?, input: String? = nil, timeout: Duration = .seconds(60)) async throws
    -> (status: Int32?, output: String)
{
    let process = try Ctl(arguments, configDir: configDir)
    if let input { try await process.send(input) }
    process.closeInput()
    let status = await process.exitStatus(timeout: timeout)
    if status == nil { process.signal(SIGKILL) }
    return (status, "\(process.output)")
}

/// The browser side of a sign-in: opens the printed authorization URL, submits the demo
/// sign-in form, and follows the redirect to gatewayctl's loopback listener.
enum TestBrowser {
    static let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))

    /// Opens the page at `pageURL` (keeping its cookies), then posts its hidden inputs plus
    /// `fields` to `postURL`, as a person submitting the form would.
    static func submitForm(pageURL: String, postURL: String, fields: [(String, String)]) async throws
        -> (status: Int, location: String?, body: String)
    {
        var cookies: [String: String] = [:]
        func request(_ method: HTTPMethod, _ url: String, form: [(String, String)]? = nil) async throws
            -> (status: Int, location: String?, body: String)
        {
            var request = HTTPClientRequest(url: url)
            request.method = method
            if !cookies.isEmpty {
                request.headers.add(name: "Cookie", value: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))
            }
            if let form {
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(ByteBuffer(bytes: HTTPTransport.form(form)))
            }
            let response = try await http.execute(request, timeout: .seconds(10))
            for header in response.headers["Set-Cookie"] {
                let parts = (header.split(separator: ";").first ?? "").split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { cookies[parts[0]] = parts[1] }
            }
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            return (Int(response.status.code), response.headers.first(name: "Location"), body)
        }
        let page = try await request(.GET, pageURL)
        #expect(page.status == 200, "the page \(pageURL): \(page.body)")
        let regex = try NSRegularExpression(pattern: #"<input type="hidden" name="([^"]+)" value="([^"]*)">"#)
        var form: [(String, String)] = []
        for match in regex.matches(in: page.body, range: NSRange(page.body.startIndex..., in: page.body)) {
            form.append(
                (String(page.body[Range(match.range(at: 1), in: page.body)!]), String(page.body[Range(match.range(at: 2), in: page.body)!]))
            )
        }
        return try await request(.POST, postURL, form: form.filter { hidden in !fields.contains { $0.0 == hidden.0 } } + fields)
    }

    static func signIn(authorizationURL: String, displayName: String) async throws {
        let origin = authorizationURL.components(separatedBy: "/oauth/authorize").first ?? ""
        let submitted = try await submitForm(
            pageURL: authorizationURL, postURL: origin + "/oauth/authorize", fields: [("display_name", displayName), ("action", "allow")])
        let location = try #require(submitted.location, "no redirect after sign-in: \(submitted.status) \(submitted.body)")
        #expect(location.hasPrefix("http://127.0.0.1:"), "redirect \(location)")
        let landing = try await http.execute(HTTPClientRequest(url: location), timeout: .seconds(10))
        let body = String(buffer: try await landing.body.collect(upTo: 1 << 20))
        #expect(landing.status == .ok && body.contains("Signed in"), "loopback page: \(body)")
    }
}

/// `gatewayctl login` through the loopback flow, the test acting as the browser.
func login(_ gateway: LiveGateway, configDir: String, as name: String) async throws -> String {
    let process = try Ctl(["login", gateway.url, "--no-browser"], configDir: configDir)
    #expect(await process.waitFor("/oauth/authorize?"), "no authorization URL printed: \(process.output)")
    let url = try #require(
        process.output.split(whereSeparator: \.isWhitespace).first { $0.contains("/oauth/authorize?") }.map(String.init))
    try await TestBrowser.signIn(authorizationURL: url, displayName: name)
    let status = await process.exitStatus()
    #expect(status == 0, "login: \(process.output)")
    #expect(process.output.contains("Signed in to \(gateway.url) as \(name)"), "\(process.output)")
    return process.output
}

/// The JSON lines of `chat --json` output, in order.
func jsonLines(_ output: String) -> [[String: Any]] {
    output.split(separator: "\n").compactMap { line in
        guard line.hasPrefix("{") else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }
}

func jsonObject(_ output: String) throws -> [String: Any] {
    let start = try #require(output.firstIndex(of: "{"), "no JSON in: \(output)")
    return try #require(try JSONSerialization.jsonObject(with: Data(output[start...].utf8)) as? [String: Any])
}

func permissions(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

/// The test as the hosting device, through the API with a signed-in config dir: it publishes an
/// agent, finds the messages waiting for it and answers them however the test needs (pieces
/// left out, replies while the chat is away), which a real host would not do on purpose.
struct TestDevice {
    let api: GatewayAPI
    let id = "test-device-\(UUID().uuidString.prefix(8))"

    init(configDir: String, agent: String) async throws {
        api = try GatewayAPI(directory: ConfigDirectory(path: configDir))
        _ = try await api.registerDevice(id: id, name: "Test device", platform: "linux")
        _ = try await api.publishAgent(deviceID: id, key: agent, name: agent, description: "", capabilities: [])
    }

    /// The oldest message waiting for an answer (waits up to 10 s for one).
    func nextUnanswered() async throws -> MessageView {
        for _ in 0..<200 {
            let waiting = try await api.call(UnansweredMessageList.self, .GET, "/v1/devices/\(id)/unanswered").value.messages
            if let first = waiting.first { return first.message }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw MissingTestServiceError(description: "no message reached the device within 10 s")
    }

    func reply(to message: MessageView, _ kind: ReplyKind, _ text: String, index: Int? = nil) async throws {
        try await api.postReply(deviceID: id, sessionID: message.sessionID, kind: kind, replyTo: message.id, text: text, index: index)
    }
}
